package promote

import (
	"crypto/ecdsa"

	"golang.org/x/crypto/ssh"
)

func sshPublicKey(k *ecdsa.PublicKey) (ssh.PublicKey, error) { return ssh.NewPublicKey(k) }

func sshFingerprint(k ssh.PublicKey) string { return ssh.FingerprintSHA256(k) }
