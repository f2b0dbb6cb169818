package opscli

import (
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/maestro-conductor/maestro/attest"
	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/internal/cli"
	"github.com/maestro-conductor/maestro/promote"
)

type verifyOptions struct {
	source   cli.SourceOptions
	log      logOptions
	Workflow string
	Version  string
	All      bool
	Pubs     []string
	Output   string
}

func newVerifyCmd(g *cli.Globals) *cobra.Command {
	o := &verifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify (-w NAME -t VERSION | --all) --pub cosign.pub",
		Short: "Verify promotion tags: signature, digest, attestation, log inclusion and freeze",
		Long: `verify checks a promotion tag and says which check failed:
  tag        the tag exists, is annotated and signed
  signature  the tag's SSH signature is by a trusted key (--pub, repeatable)
  record     the tag message's promotion record matches the tag and its commit
  digest     the record's graph digest equals the digest recomputed from the tagged commit
  bundle     the attestation (git note in refs/notes/maestro) verifies offline: DSSE signature, the
             transparency log's inclusion proof and signed checkpoint
  statement  the attestation is about this digest, this record and this tag object
  freeze     the first promotion of this version in the log names this digest and this tag object, so a tag
             that was moved, re-signed, or deleted and recreated is refused

Trust (keys and the log's checkpoint key) comes from the flags, never from the repository. Exit status: 0 every
tag verified, 1 a verification failed, 2 trouble.`,
		Example: `  maestro verify -w nightly-etl -t 1.2.0 --pub cosign.pub
  maestro verify --all --pub cosign.pub --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runVerify(cmd, g, o) },
	}
	o.source.AddFlags(cmd)
	o.log.AddFlags(cmd)
	f := cmd.Flags()
	f.StringVarP(&o.Workflow, "workflow", "w", "", "workflow of the tag to verify")
	f.StringVarP(&o.Version, "tag", "t", "", "version of the tag to verify")
	f.BoolVar(&o.All, "all", false, "verify every promotion tag in the repository")
	f.StringArrayVar(&o.Pubs, "pub", nil, "trusted promoter public key (cosign.pub); repeat for several")
	f.StringVarP(&o.Output, "output", "o", "text", "output format: text or json")
	return cmd
}

type verifyResult struct {
	Tag       string `json:"tag"`
	Verified  bool   `json:"verified"`
	Check     string `json:"check,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Digest    string `json:"digest,omitempty"`
	Commit    string `json:"commit,omitempty"`
	TagObject string `json:"tagObject,omitempty"`
	LogIndex  *int64 `json:"logIndex,omitempty"`
	FirstSeen bool   `json:"firstSeen,omitempty"`
}

func runVerify(cmd *cobra.Command, g *cli.Globals, o *verifyOptions) error {
	ctx := cmd.Context()
	if o.Output != "text" && o.Output != "json" {
		return fmt.Errorf("--output %q: use text or json", o.Output)
	}
	if o.All == (o.Workflow != "" || o.Version != "") {
		return errors.New("give either -w NAME -t VERSION or --all")
	}
	if !o.All && (o.Workflow == "" || o.Version == "") {
		return errors.New("-w NAME and -t VERSION go together")
	}
	if len(o.Pubs) == 0 {
		return errors.New("--pub is required: the public key(s) of the promoters you trust")
	}
	var keys []*ecdsa.PublicKey
	for _, p := range o.Pubs {
		k, err := attest.LoadPublicKey(p)
		if err != nil {
			return err
		}
		keys = append(keys, k)
	}
	repo, err := gitrepo.Open(o.source.Repo)
	if err != nil {
		return err
	}
	l, err := o.log.open(ctx, g)
	if err != nil {
		return err
	}
	defer l.close()
	policy := promote.Policy{Trusted: keys, Logs: []attest.LogKey{l.key}, Index: l.index, Dir: o.source.Dir, Limits: o.source.Limits()}

	var tags []string
	if o.All {
		pts, err := repo.PromotionTags(ctx, "")
		if err != nil {
			return err
		}
		for _, t := range pts {
			tags = append(tags, t.Name)
		}
	} else {
		tags = []string{gitrepo.TagName(o.Workflow, o.Version)}
	}
	progress := io.Discard
	if o.All && o.Output == "text" && cli.IsTerminal(g.Stderr) {
		progress = g.Stderr
	}
	var results []verifyResult
	failed := 0
	for i, tag := range tags {
		fmt.Fprintf(progress, "\r[%d/%d] %s\x1b[K", i+1, len(tags), tag)
		v, err := promote.Verify(ctx, repo, tag, policy)
		var verr *promote.VerificationError
		switch {
		case err == nil:
			idx := v.LogIndex
			results = append(results, verifyResult{Tag: tag, Verified: true, Digest: string(v.Record.Digest), Commit: v.Record.Commit,
				TagObject: v.TagObject, LogIndex: &idx, FirstSeen: v.FirstSeen})
		case errors.As(err, &verr):
			failed++
			results = append(results, verifyResult{Tag: tag, Check: verr.Check, Reason: verr.Reason})
		default:
			if !o.All {
				return err
			}
			failed++
			results = append(results, verifyResult{Tag: tag, Check: "trouble", Reason: err.Error()})
		}
	}
	if len(tags) > 0 {
		fmt.Fprint(progress, "\r\x1b[K")
	}
	if o.Output == "json" {
		enc := json.NewEncoder(g.Stdout)
		enc.SetIndent("", "  ")
		if results == nil {
			results = []verifyResult{}
		}
		if err := enc.Encode(results); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			if r.Verified {
				fmt.Fprintf(g.Stdout, "verified  %s  %s  log index %d\n", r.Tag, r.Digest, *r.LogIndex)
			} else {
				fmt.Fprintf(g.Stdout, "FAILED    %s  %s: %s\n", r.Tag, r.Check, r.Reason)
			}
		}
		if o.All {
			fmt.Fprintf(g.Stdout, "%d of %d promotion tags verified\n", len(results)-failed, len(results))
		}
	}
	if failed > 0 {
		return &cli.ExitError{Code: cli.ExitChanges}
	}
	return nil
}
