package opscli

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/maestro-conductor/maestro/attest"
	"github.com/maestro-conductor/maestro/internal/cli"
	"github.com/maestro-conductor/maestro/promote"
)

func newLogCmd(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "log",
		Short: "Show the transparency log promotions are recorded in",
	}
	cmd.AddCommand(newLogInfoCmd(g), newLogTrustedRootCmd(g))
	return cmd
}

func newLogInfoCmd(g *cli.Globals) *cobra.Command {
	o := &logOptions{}
	var output string
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Print the log's origin, location, key and current size",
		Example: `  maestro log info
  maestro log info --rekor-url http://127.0.0.1:3000 --rekor-pub rekor.pub --rekor-origin rekor.example --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := o.open(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer l.close()
			size, err := l.reader.Size(cmd.Context())
			if err != nil {
				return err
			}
			pubPEM, err := publicKeyPEM(l.key)
			if err != nil {
				return err
			}
			id, err := l.key.LogID()
			if err != nil {
				return err
			}
			info := map[string]any{"origin": l.key.Origin, "baseURL": l.key.BaseURL, "logID": fmt.Sprintf("%x", id), "size": size, "publicKey": string(pubPEM)}
			if output == "json" {
				enc := json.NewEncoder(g.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			fmt.Fprintf(g.Stdout, "origin   %s\nlocation %s\nlog id   %x\nsize     %d entries\n%s", l.key.Origin, l.key.BaseURL, id, size, pubPEM)
			return nil
		},
	}
	o.AddFlags(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func newLogTrustedRootCmd(g *cli.Globals) *cobra.Command {
	o := &logOptions{}
	cmd := &cobra.Command{
		Use:   "trusted-root",
		Short: "Print a Sigstore trusted_root.json that lists the log, for cosign and sigstore-go",
		Long: `trusted-root prints a trusted root (Sigstore's trusted_root.json) naming the configured transparency log and
its checkpoint key, so that other tools verify maestro's promotion bundles offline, log entry included:

  maestro log trusted-root > trusted_root.json
  git notes --ref=maestro show "$(git rev-parse nightly-etl/v1.2.0)" > bundle.json
  cosign verify-blob-attestation --offline --new-bundle-format --key cosign.pub \
    --trusted-root trusted_root.json --bundle bundle.json \
    --type ` + promote.PredicateType + ` --digest <graph digest hex> --digestAlg sha256`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := o.open(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer l.close()
			js, err := attest.TrustedRootJSON([]attest.LogKey{l.key})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(g.Stdout, "%s\n", js)
			return err
		},
	}
	o.AddFlags(cmd)
	return cmd
}

// publicKeyPEM writes a log's checkpoint key (Ed25519, ECDSA or RSA) as a PEM public key.
func publicKeyPEM(k attest.LogKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
