package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/mod/semver"

	"github.com/maestro-conductor/maestro/workflow"
)

// validWorkflowName is the workflow name contract (DESIGN §2, metadata.name): a tag whose prefix breaks it cannot
// promote a workflow. (A variable, because ParseTagName's result named workflow shadows the package.)
var validWorkflowName = workflow.ValidName

// maxTagDepth bounds how many tag objects a tag may chain through before it reaches a commit.
const maxTagDepth = 16

// PromotionTag is a git tag named <workflow>/v<semver>, which promotes a version of one workflow.
type PromotionTag struct {
	// Name is the tag name, e.g. "nightly-etl/v1.2.0".
	Name string
	// Workflow is the workflow name, e.g. "nightly-etl".
	Workflow string
	// Version is the semantic version with its leading "v", e.g. "v1.2.0".
	Version string
	// Hash is what refs/tags/<Name> points at: the tag object of an annotated tag, the commit of a lightweight one.
	Hash plumbing.Hash
	// Annotated reports whether the tag is a tag object (which can carry a message and a signature).
	Annotated bool
	// Commit is the commit the tag leads to, through any tag objects.
	Commit plumbing.Hash
}

// TagName returns the promotion tag name for a workflow version: TagName("etl", "1.2.0") and TagName("etl",
// "v1.2.0") are both "etl/v1.2.0". It does not validate; ParseTagName(TagName(w, v)) does.
func TagName(workflow, version string) string {
	if !strings.HasPrefix(version, "v") {
		version = "v" + version
	}
	return workflow + "/" + version
}

// ParseTagName splits a promotion tag name into its workflow name and version (with its leading "v"). ok is false
// unless the workflow part is a valid workflow name and the version is a full semantic version, MAJOR.MINOR.PATCH
// with optional pre-release and build parts (the shorthands "v1" and "v1.2" are not accepted).
func ParseTagName(tag string) (workflow, version string, ok bool) {
	workflow, version, found := strings.Cut(tag, "/")
	if !found || !validWorkflowName(workflow) || !IsVersion(version) {
		return "", "", false
	}
	return workflow, version, true
}

// IsVersion reports whether v is a full semantic version with a leading "v", as a promotion tag needs it.
func IsVersion(v string) bool {
	if !semver.IsValid(v) {
		return false
	}
	// semver.Canonical fills in the shorthand forms and drops build metadata: a full version survives it whole.
	return semver.Canonical(v) == strings.SplitN(v, "+", 2)[0]
}

// PromotionTags returns the promotion tags of one workflow, or of every workflow when workflow is "", sorted by
// workflow name and then by ascending semantic version (v1.10.0 after v1.9.0; versions equal but for build metadata
// by tag name). Tags whose names are not <workflow>/v<semver>, and tags that do not lead to a commit, are left out.
func (r *Repo) PromotionTags(ctx context.Context, workflow string) ([]PromotionTag, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	iter, err := r.repo.Tags()
	if err != nil {
		return nil, fmt.Errorf("list tags: %w", err)
	}
	defer iter.Close()
	var out []PromotionTag
	err = iter.ForEach(func(ref *plumbing.Reference) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := ref.Name().Short()
		w, v, ok := ParseTagName(name)
		if !ok || (workflow != "" && w != workflow) {
			return nil
		}
		t := PromotionTag{Name: name, Workflow: w, Version: v, Hash: ref.Hash()}
		t.Annotated, t.Commit, err = r.peel(ref.Hash())
		if errors.Is(err, errNotCommit) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tag %s: %w", name, err)
		}
		out = append(out, t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b PromotionTag) int {
		if c := strings.Compare(a.Workflow, b.Workflow); c != 0 {
			return c
		}
		if c := semver.Compare(a.Version, b.Version); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

var errNotCommit = errors.New("tag does not lead to a commit")

// peel follows h through tag objects to a commit. annotated reports whether h itself is a tag object.
func (r *Repo) peel(h plumbing.Hash) (annotated bool, commit plumbing.Hash, err error) {
	s := r.repo.Storer
	for depth := 0; depth < maxTagDepth; depth++ {
		obj, err := s.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return false, plumbing.ZeroHash, err
		}
		switch obj.Type() {
		case plumbing.CommitObject:
			return annotated, h, nil
		case plumbing.TagObject:
			tag, err := object.DecodeTag(s, obj)
			if err != nil {
				return false, plumbing.ZeroHash, err
			}
			annotated = true
			h = tag.Target
		default:
			return false, plumbing.ZeroHash, errNotCommit
		}
	}
	return false, plumbing.ZeroHash, errNotCommit
}
