package gitrepo_test

import (
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-cmp/cmp"

	"github.com/maestro-conductor/maestro/gitrepo"
)

func TestTagName(t *testing.T) {
	tests := []struct {
		workflow, version, want string
	}{
		{"nightly-etl", "1.2.0", "nightly-etl/v1.2.0"},
		{"nightly-etl", "v1.2.0", "nightly-etl/v1.2.0"},
		{"billing", "2.0.0-rc.1+build.5", "billing/v2.0.0-rc.1+build.5"},
	}
	for _, tt := range tests {
		if got := gitrepo.TagName(tt.workflow, tt.version); got != tt.want {
			t.Errorf("TagName(%q, %q) = %q, want %q", tt.workflow, tt.version, got, tt.want)
		}
	}
}

func TestParseTagName(t *testing.T) {
	type result struct {
		Workflow, Version string
		OK                bool
	}
	tests := []struct {
		tag  string
		want result
	}{
		{"nightly-etl/v1.2.0", result{"nightly-etl", "v1.2.0", true}},
		{"a/v0.0.0", result{"a", "v0.0.0", true}},
		{"etl/v2.0.0-rc.1", result{"etl", "v2.0.0-rc.1", true}},
		{"etl/v2.0.0-rc.1+build.7", result{"etl", "v2.0.0-rc.1+build.7", true}},
		{"etl/v10.20.30", result{"etl", "v10.20.30", true}},
		{"foo/vnot-semver", result{}},
		{"etl/1.2.0", result{}},        // no leading v
		{"etl/v1.2", result{}},         // shorthand
		{"etl/v1", result{}},           // shorthand
		{"etl/v01.2.3", result{}},      // leading zero
		{"etl/v1.2.3-", result{}},      // empty pre-release
		{"Etl/v1.2.3", result{}},       // not a workflow name
		{"-etl/v1.2.3", result{}},      // not a workflow name
		{"a/b/v1.2.3", result{}},       // a slash in the workflow name
		{"v1.2.3", result{}},           // no workflow
		{"/v1.2.3", result{}},          // empty workflow
		{"etl/", result{}},             // no version
		{"etl/v1.2.3/extra", result{}}, // trailing path
	}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			w, v, ok := gitrepo.ParseTagName(tt.tag)
			if d := cmp.Diff(tt.want, result{w, v, ok}); d != "" {
				t.Errorf("ParseTagName(%q) mismatch (-want +got):\n%s", tt.tag, d)
			}
			if ok {
				if round := gitrepo.TagName(w, v); round != tt.tag {
					t.Errorf("TagName(ParseTagName(%q)) = %q", tt.tag, round)
				}
			}
		})
	}
}

func TestIsVersion(t *testing.T) {
	for v, want := range map[string]bool{
		"v1.2.3": true, "v0.0.0-alpha.1+b": true, "v1.10.0": true,
		"1.2.3": false, "v1.2": false, "v1": false, "v1.2.3.4": false, "": false,
	} {
		if got := gitrepo.IsVersion(v); got != want {
			t.Errorf("IsVersion(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestPromotionTags(t *testing.T) {
	r := newRepo(t)
	r.write("a.txt", "one\n")
	c1 := r.commit("first")
	r.write("a.txt", "two\n")
	c2 := r.commit("second")

	// name → (target, annotated)
	tags := []struct {
		name, target string
		annotated    bool
	}{
		{"nightly-etl/v1.9.0", c1.String(), true},
		{"nightly-etl/v1.10.0", c2.String(), false},
		{"nightly-etl/v1.2.0", c1.String(), false},
		{"nightly-etl/v2.0.0-rc.1", c2.String(), true},
		{"nightly-etl/v2.0.0", c2.String(), true},
		{"billing/v0.1.0", c1.String(), false},
		// Not promotion tags: ignored.
		{"foo/vnot-semver", c1.String(), false},
		{"foo/v1.2", c1.String(), true},
		{"Bad/v1.0.0", c1.String(), false},
		{"v1.0.0", c1.String(), false},
		{"a/b/v1.0.0", c1.String(), false},
		{"nightly-etl/1.0.0", c1.String(), false},
		// A tag of a tree does not lead to a commit: ignored.
		{"treetag/v1.0.0", c1.String() + "^{tree}", false},
	}
	for _, tg := range tags {
		if tg.annotated {
			r.git("tag", "-a", "-m", "promote "+tg.name, tg.name, tg.target)
		} else {
			r.git("tag", tg.name, tg.target)
		}
	}
	// A tag of a tag: annotated, peeled through both tag objects.
	r.git("tag", "-a", "-m", "nested", "nested/v1.0.0", "nightly-etl/v1.9.0")

	want := func(name, workflow, version string, annotated bool, commit plumbing.Hash) gitrepo.PromotionTag {
		return gitrepo.PromotionTag{
			Name: name, Workflow: workflow, Version: version,
			Hash: r.hash("refs/tags/" + name), Annotated: annotated, Commit: commit,
		}
	}
	etl := []gitrepo.PromotionTag{
		want("nightly-etl/v1.2.0", "nightly-etl", "v1.2.0", false, c1),
		want("nightly-etl/v1.9.0", "nightly-etl", "v1.9.0", true, c1),
		want("nightly-etl/v1.10.0", "nightly-etl", "v1.10.0", false, c2),
		want("nightly-etl/v2.0.0-rc.1", "nightly-etl", "v2.0.0-rc.1", true, c2),
		want("nightly-etl/v2.0.0", "nightly-etl", "v2.0.0", true, c2),
	}
	all := append([]gitrepo.PromotionTag{
		want("billing/v0.1.0", "billing", "v0.1.0", false, c1),
		want("nested/v1.0.0", "nested", "v1.0.0", true, c1),
	}, etl...)
	// The fixture must be what the test believes: annotated tags point at tag objects, lightweight ones at commits.
	for _, tg := range all {
		if isCommit := tg.Hash == tg.Commit; isCommit == tg.Annotated {
			t.Fatalf("fixture: tag %s annotated = %v, but refs/tags points at %s (commit %s)", tg.Name, tg.Annotated, tg.Hash, tg.Commit)
		}
	}

	repo, err := gitrepo.Open(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		workflow string
		want     []gitrepo.PromotionTag
	}{
		{"", all},
		{"nightly-etl", etl},
		{"billing", all[:1]},
		{"foo", nil},
		{"missing", nil},
	}
	for _, refs := range []string{"loose refs", "packed refs"} {
		if refs == "packed refs" {
			r.git("pack-refs", "--all")
			repo, err = gitrepo.Open(r.dir)
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, tt := range tests {
			t.Run(refs+"/"+tt.workflow, func(t *testing.T) {
				got, err := repo.PromotionTags(t.Context(), tt.workflow)
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(tt.want, got); d != "" {
					t.Errorf("PromotionTags(%q) mismatch (-want +got):\n%s", tt.workflow, d)
				}
			})
		}
	}
}
