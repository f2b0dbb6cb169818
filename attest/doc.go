// Package attest is maestro's signing and attestation layer, compatible with
// cosign and Sigstore so that standard tools check what maestro writes.
//
// Keys are cosign key pairs: cosign.key, an ECDSA P-256 private key encrypted
// with a password (scrypt + secretbox, cosign's own code writes it), and
// cosign.pub, its PKIX public key in PEM. A key made by `cosign
// generate-key-pair` works with maestro and a key made by GenerateKeyPair
// works with cosign. The same key signs git tags in SSH format; KeyID and
// AllowedSignersLine name it the way ssh-keygen and git do.
//
// Attestations are in-toto v1 statements (NewStatement) in DSSE envelopes,
// inside Sigstore bundles (v0.3 JSON) with one Rekor v2 transparency-log
// entry: a hashedrekord whose digest covers the envelope's PAE, with an
// inclusion proof and a signed checkpoint. SignBundle makes them with
// sigstore-go; VerifyBundle checks them offline with sigstore-go against the
// public key and the trusted logs (LogKey), and says which check failed.
//
// cosign verifies the same bundles offline, log entry included, given a
// trusted root that lists maestro's log (TrustedRootJSON):
//
//	cosign verify-blob-attestation --offline --new-bundle-format \
//	  --key cosign.pub --trusted-root trusted_root.json --bundle promotion.bundle \
//	  --type https://maestro.dev/... --digest <subject sha256 hex> --digestAlg sha256
//
// sigstore-go, and so cosign, verifies a Rekor v2 checkpoint against the host
// name of the log's base URL in the trusted root. A maestro log's origin is
// therefore a host name ("log-1a2b3c.maestro.local"), and the trusted root
// gives the log the base URL https://<origin> unless its BaseURL is an http(s)
// URL on that host; nothing is fetched from it.
package attest
