package opscli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/maestro-conductor/maestro/attest"
	"github.com/maestro-conductor/maestro/internal/cli"
)

// passwordEnv names the variable that holds the password of cosign.key, as for the cosign CLI.
const passwordEnv = "COSIGN_PASSWORD"

func newKeysCmd(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Make and show promotion keys (cosign's key format)",
	}
	cmd.AddCommand(newKeysGenerateCmd(g), newKeysAllowedSignersCmd(g))
	return cmd
}

func newKeysGenerateCmd(g *cli.Globals) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "generate --out DIR",
		Short: "Make an ECDSA P-256 key pair: DIR/cosign.key (encrypted with $COSIGN_PASSWORD) and DIR/cosign.pub",
		Long: `generate makes a promotion key pair in cosign's format, usable by the cosign CLI too. The private key is
encrypted with the password in $COSIGN_PASSWORD (an empty password is allowed, and then the key is protected by
file permissions alone). Existing files are never overwritten.`,
		Example: `  COSIGN_PASSWORD=… maestro keys generate --out ~/.config/maestro
  maestro keys allowed-signers --pub ~/.config/maestro/cosign.pub --principal release@example.com >> allowed_signers`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("--out DIR is required")
			}
			if err := os.MkdirAll(out, 0o700); err != nil {
				return err
			}
			priv, pub, err := attest.GenerateKeyPair(out, []byte(os.Getenv(passwordEnv)))
			if err != nil {
				return err
			}
			fmt.Fprintf(g.Stdout, "private key: %s\npublic key:  %s\n", priv, pub)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory to write cosign.key and cosign.pub to")
	return cmd
}

func newKeysAllowedSignersCmd(g *cli.Globals) *cobra.Command {
	var pub, principal string
	cmd := &cobra.Command{
		Use:   "allowed-signers --pub cosign.pub --principal NAME",
		Short: "Print the line for git's allowed-signers file (gpg.ssh.allowedSignersFile) for a public key",
		Example: `  maestro keys allowed-signers --pub cosign.pub --principal release@example.com > allowed_signers
  git -c gpg.ssh.allowedSignersFile=allowed_signers verify-tag nightly-etl/v1.2.0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if pub == "" || principal == "" {
				return errors.New("--pub and --principal are required")
			}
			k, err := attest.LoadPublicKey(pub)
			if err != nil {
				return err
			}
			line, err := attest.AllowedSignersLine(k, principal)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(g.Stdout, line)
			return err
		},
	}
	cmd.Flags().StringVar(&pub, "pub", "", "public key file (cosign.pub)")
	cmd.Flags().StringVar(&principal, "principal", "", "who the key belongs to, e.g. an email address")
	return cmd
}
