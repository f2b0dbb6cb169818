package promote

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"golang.org/x/mod/semver"

	"github.com/maestro-conductor/maestro/attest"
	"github.com/maestro-conductor/maestro/digest"
	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/sshsig"
	"github.com/maestro-conductor/maestro/workflow"
)

// Log is the transparency log promotions are recorded in.
type Log interface {
	// Transparency adds bundle entries to the log (sigstore-go's interface).
	Transparency() sign.Transparency
	// LogKey says how to verify the log's checkpoints.
	LogKey() attest.LogKey
}

// Index remembers the first promotion of each version (Rekor v2 has no search). Claim stores record under key
// unless one is there already, and returns the first record either way; created says whether it was this one.
type Index interface {
	Claim(ctx context.Context, key string, record []byte) (first []byte, created bool, err error)
	Lookup(ctx context.Context, key string) (record []byte, ok bool, err error)
}

// Refusal is a promotion maestro will not make, and why; the person must change something.
type Refusal struct {
	Workflow, Version string
	Reason            string
}

func (e *Refusal) Error() string {
	return fmt.Sprintf("cannot promote %s v%s: %s", e.Workflow, strings.TrimPrefix(e.Version, "v"), e.Reason)
}

// Options are the inputs of one promotion.
type Options struct {
	Workflow string
	// Version is the semantic version, with or without its leading "v".
	Version string
	// Ref is the commit, branch or tag to promote; "" means HEAD.
	Ref        string
	Freeze     bool
	AllowOlder bool
	Key        *ecdsa.PrivateKey
	// Promoter is the principal recorded as having promoted.
	Promoter string
	// Dir is the workflows directory in the repository; "" means workflow.DefaultDir.
	Dir    string
	Limits workflow.Limits
	Log    Log
	Index  Index
	// Push names a remote (or URL) to push the tag and its note to; "" pushes nothing.
	Push     string
	PushAuth transport.AuthMethod
	// Now returns the promotion time; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Result describes a promotion made.
type Result struct {
	Tag       string
	TagObject string
	Record    Record
	Bundle    []byte
	LogIndex  int64
	Pushed    bool
}

// claim is what the first-seen index keeps for a version.
type claim struct {
	TagObject string        `json:"tagObject"`
	Digest    digest.Digest `json:"digest"`
	Commit    string        `json:"commit"`
	Frozen    bool          `json:"frozen"`
	LogIndex  int64         `json:"logIndex"`
	Bundle    []byte        `json:"bundle"`
}

// Promote makes the signed tag NAME/vVERSION on the workflow's commit, attests it in the transparency log, attaches
// the bundle as a git note and pushes both when asked. A promotion maestro refuses is a *Refusal; nothing is left
// behind when a step fails after the tag was made, except the log entry, which the first-seen index outranks.
func Promote(ctx context.Context, repo *gitrepo.Repo, opts Options) (*Result, error) {
	if opts.Key == nil || opts.Log == nil || opts.Index == nil {
		return nil, errors.New("promote: a key, a log and an index are required")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	version := "v" + strings.TrimPrefix(opts.Version, "v")
	refuse := func(format string, args ...any) error {
		return &Refusal{Workflow: opts.Workflow, Version: version, Reason: fmt.Sprintf(format, args...)}
	}
	if !gitrepo.IsVersion(version) {
		return nil, refuse("%q is not a semantic version MAJOR.MINOR.PATCH (e.g. 1.2.0)", opts.Version)
	}
	if !workflow.ValidName(opts.Workflow) {
		return nil, refuse("%q is not a workflow name", opts.Workflow)
	}
	ref := opts.Ref
	if ref == "" {
		ref = "HEAD"
	}
	commit, err := repo.Resolve(ref)
	if err != nil {
		return nil, err
	}
	w, d, err := loadWorkflow(ctx, repo, commit, opts.Workflow, opts.Dir, opts.Limits, nil)
	if err != nil {
		return nil, err
	}
	for _, id := range w.TaskIDs() {
		if p := w.Tasks[id].Package; !p.Pinned() {
			return nil, refuse("task %q runs %s, which is not pinned by digest; pin it as %s@sha256:<digest> (%s)", id, p, p.Repository(), w.Tasks[id].Pos)
		}
	}
	tagName := gitrepo.TagName(opts.Workflow, version)
	existing, err := repo.PromotionTags(ctx, opts.Workflow)
	if err != nil {
		return nil, err
	}
	for _, t := range existing {
		if t.Name == tagName || semver.Compare(t.Version, version) == 0 {
			return nil, refuse("%s already exists; a promoted version is never promoted again (promote a new version)", t.Name)
		}
		if !opts.AllowOlder && semver.Compare(t.Version, version) > 0 {
			return nil, refuse("%s is newer; promote a version above %s, or pass --allow-older", t.Name, strings.TrimPrefix(t.Version, "v"))
		}
		if !t.Annotated {
			continue
		}
		if tag, err := repo.ReadTag(ctx, t.Name); err == nil {
			if rec, err := ParseMessage(tag.Message); err == nil && rec.Digest == d {
				return nil, refuse("the same graph (%s) is already promoted as %s", d, t.Name)
			}
		}
	}
	identity, err := repo.IdentityOf(ctx, commit)
	if err != nil {
		return nil, err
	}
	pub := &opts.Key.PublicKey
	rec := Record{Workflow: opts.Workflow, Version: strings.TrimPrefix(version, "v"), Digest: d, Commit: commit.String(),
		Frozen: opts.Freeze, Promoter: opts.Promoter, KeyID: attest.KeyID(pub), Time: now().UTC().Truncate(time.Second),
		Repository: identity}
	if first, ok, err := opts.Index.Lookup(ctx, rec.Key()); err != nil {
		return nil, fmt.Errorf("first-seen index: %w", err)
	} else if ok {
		var c claim
		_ = json.Unmarshal(first, &c)
		return nil, refuse("v%s was promoted before (tag object %s, log index %d); a promoted version is never promoted again", rec.Version, short(c.TagObject), c.LogIndex)
	}

	msg, err := rec.Message()
	if err != nil {
		return nil, err
	}
	tagger := object.Signature{Name: opts.Promoter, Email: opts.Promoter, When: rec.Time}
	if name, email, ok := strings.Cut(opts.Promoter, " <"); ok {
		tagger.Name, tagger.Email = name, strings.TrimSuffix(email, ">")
	}
	tagObj, err := repo.CreateSignedTag(ctx, tagName, commit, tagger, msg, func(payload []byte) ([]byte, error) {
		return sshsig.Sign(opts.Key, payload, SignatureNamespace)
	})
	if err != nil {
		return nil, err
	}
	logger.Info("tag created", "tag", tagName, "object", tagObj.String())
	undo := func(cause error) error {
		if derr := repo.DeleteTag(ctx, tagName); derr != nil {
			return fmt.Errorf("%w (and removing the tag again failed: %v; delete it with git tag -d %s)", cause, derr, tagName)
		}
		return cause
	}

	stmt, err := attest.NewStatement([]attest.Subject{{Name: tagName, Digest: map[string]string{"sha256": d.Hex()}}},
		PredicateType, Predicate{Record: rec, Tag: tagName, TagObject: tagObj.String()})
	if err != nil {
		return nil, undo(err)
	}
	bundle, err := attest.SignBundle(ctx, opts.Key, stmt, opts.Log.Transparency())
	if err != nil {
		return nil, undo(fmt.Errorf("attest: %w", err))
	}
	v, err := attest.VerifyBundle(ctx, bundle, pub, []attest.LogKey{opts.Log.LogKey()})
	if err != nil {
		return nil, undo(fmt.Errorf("the new attestation does not verify: %w", err))
	}
	c := claim{TagObject: tagObj.String(), Digest: d, Commit: rec.Commit, Frozen: rec.Frozen, LogIndex: v.LogIndex, Bundle: bundle}
	cjs, err := json.Marshal(c)
	if err != nil {
		return nil, undo(err)
	}
	if _, created, err := opts.Index.Claim(ctx, rec.Key(), cjs); err != nil {
		return nil, undo(fmt.Errorf("first-seen index: %w", err))
	} else if !created {
		return nil, undo(refuse("another promotion of v%s was recorded first", rec.Version))
	}
	if err := repo.AddNote(ctx, NotesRef, tagObj, bundle, tagger); err != nil {
		return nil, fmt.Errorf("attach the bundle to %s as a note in %s: %w (the promotion is recorded; retry with maestro verify, then push)", tagName, NotesRef, err)
	}
	res := &Result{Tag: tagName, TagObject: tagObj.String(), Record: rec, Bundle: bundle, LogIndex: v.LogIndex}
	if opts.Push != "" {
		specs := []string{"refs/tags/" + tagName + ":refs/tags/" + tagName, NotesRef + ":" + NotesRef}
		if err := repo.Push(ctx, opts.Push, specs, opts.PushAuth); err != nil {
			return res, fmt.Errorf("push %s and %s to %s: %w", tagName, NotesRef, opts.Push, err)
		}
		res.Pushed = true
	}
	return res, nil
}

// loadWorkflow reads one workflow at a commit and computes its digest; cache (may be nil) keeps the parsed
// workflows of recent commits.
func loadWorkflow(ctx context.Context, repo *gitrepo.Repo, commit plumbing.Hash, name, dir string, lim workflow.Limits, cache *Cache) (*workflow.Workflow, digest.Digest, error) {
	if dir == "" {
		dir = workflow.DefaultDir
	}
	set, err := cache.load(commit.String(), dir, func() (*workflow.Set, error) {
		fsys, err := repo.FS(ctx, commit.String())
		if err != nil {
			return nil, err
		}
		set, err := workflow.Load(fsys, dir, lim)
		if err != nil {
			return nil, fmt.Errorf("at %s: %w", short(commit.String()), err)
		}
		return set, nil
	})
	if err != nil {
		return nil, "", err
	}
	w := set.Get(name)
	if w == nil {
		return nil, "", fmt.Errorf("no workflow named %q at %s (found: %s)", name, short(commit.String()), strings.Join(set.Names(), ", "))
	}
	d, err := digest.Of(w)
	return w, d, err
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
