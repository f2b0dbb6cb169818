package opscli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"

	"github.com/spf13/cobra"

	"github.com/maestro-conductor/maestro/attest"
	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/internal/cli"
	"github.com/maestro-conductor/maestro/promote"
)

type promoteOptions struct {
	source     cli.SourceOptions
	log        logOptions
	Workflow   string
	Version    string
	Ref        string
	Freeze     bool
	AllowOlder bool
	Key        string
	Promoter   string
	Push       string
	Output     string
}

func newPromoteCmd(g *cli.Globals) *cobra.Command {
	o := &promoteOptions{}
	cmd := &cobra.Command{
		Use:   "promote -w NAME -t VERSION --key cosign.key [--freeze] [--push REMOTE]",
		Short: "Promote a workflow version: a signed annotated tag NAME/vVERSION plus an attestation in the transparency log",
		Long: `promote makes the annotated tag NAME/vVERSION on the commit of --ref (default HEAD). Its message holds the
promotion record (workflow, version, graph digest, commit, frozen, promoter, time, repository) and it carries an SSH
signature made with the key, so that git -c gpg.ssh.allowedSignersFile=F verify-tag NAME/vVERSION passes. It then
signs an in-toto statement about the graph digest as a DSSE envelope in a Sigstore bundle, records it in the
transparency log (the embedded log under $MAESTRO_HOME/log, or --rekor-url), and attaches the bundle to the tag as
a git note in refs/notes/maestro. --push pushes the tag and the note.

It refuses (exit status 1) when the workflow is invalid or runs a package not pinned by digest, when VERSION is
not a semantic version, was promoted before or is not above the latest promoted version (unless --allow-older),
and when the same graph is already promoted under another version. The key's password comes from
$COSIGN_PASSWORD.`,
		Example: `  maestro promote -w nightly-etl -t 1.2.0 --freeze --key cosign.key
  maestro promote -w nightly-etl -t 1.2.1 --ref main --freeze --key cosign.key --push origin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runPromote(cmd, g, o) },
	}
	o.source.AddFlags(cmd)
	o.log.AddFlags(cmd)
	f := cmd.Flags()
	f.StringVarP(&o.Workflow, "workflow", "w", "", "workflow to promote")
	f.StringVarP(&o.Version, "tag", "t", "", "version to promote, MAJOR.MINOR.PATCH")
	f.StringVar(&o.Ref, "ref", "HEAD", "commit, branch or tag to promote")
	f.BoolVar(&o.Freeze, "freeze", false, "freeze the version: the tag may never move or be re-made, anywhere")
	f.BoolVar(&o.AllowOlder, "allow-older", false, "allow a version below the latest promoted one (a patch of an older line)")
	f.StringVar(&o.Key, "key", "", "promotion key (cosign.key); its password comes from $COSIGN_PASSWORD")
	f.StringVar(&o.Promoter, "promoter", "", "who promotes (default: git's user.email, else the login name)")
	f.StringVar(&o.Push, "push", "", "remote name or URL to push the tag and its note to")
	f.StringVarP(&o.Output, "output", "o", "text", "output format: text or json")
	return cmd
}

func runPromote(cmd *cobra.Command, g *cli.Globals, o *promoteOptions) error {
	ctx := cmd.Context()
	if o.Workflow == "" || o.Version == "" || o.Key == "" {
		return errors.New("promote needs -w NAME, -t VERSION and --key cosign.key")
	}
	if o.Output != "text" && o.Output != "json" {
		return fmt.Errorf("--output %q: use text or json", o.Output)
	}
	key, err := attest.LoadPrivateKey(o.Key, []byte(os.Getenv(passwordEnv)))
	if err != nil {
		if errors.Is(err, attest.ErrBadPassword) {
			return fmt.Errorf("%w; set %s to the key's password", err, passwordEnv)
		}
		return err
	}
	repo, err := gitrepo.Open(o.source.Repo)
	if err != nil {
		return err
	}
	promoter := o.Promoter
	if promoter == "" {
		promoter = defaultPromoter(repo)
	}
	l, err := o.log.open(ctx, g)
	if err != nil {
		return err
	}
	defer l.close()
	res, err := promote.Promote(ctx, repo, promote.Options{
		Workflow: o.Workflow, Version: o.Version, Ref: o.Ref, Freeze: o.Freeze, AllowOlder: o.AllowOlder,
		Key: key, Promoter: promoter, Dir: o.source.Dir, Limits: o.source.Limits(),
		Log: l.log, Index: l.index, Push: o.Push, Logger: g.Logger,
	})
	if err != nil {
		return err
	}
	if o.Output == "json" {
		enc := json.NewEncoder(g.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"tag": res.Tag, "tagObject": res.TagObject, "record": res.Record, "logIndex": res.LogIndex, "pushed": res.Pushed})
	}
	fmt.Fprintf(g.Stdout, "promoted %s → %s\n  digest     %s\n  commit     %s\n  tag object %s\n  log index  %d\n  frozen     %t\n",
		res.Record.Workflow, res.Tag, res.Record.Digest, res.Record.Commit, res.TagObject, res.LogIndex, res.Record.Frozen)
	if res.Pushed {
		fmt.Fprintf(g.Stdout, "  pushed to  %s (tag and %s)\n", o.Push, promote.NotesRef)
	}
	return nil
}

// defaultPromoter is git's user.email when the repository or the user has one, else the login name.
func defaultPromoter(repo *gitrepo.Repo) string {
	if e := repo.UserEmail(); e != "" {
		return e
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}
