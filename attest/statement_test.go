package attest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/maestro-conductor/maestro/attest"
)

const (
	testPredicateType = "https://maestro.dev/promotion/v1"
	digestA           = "3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7"
	digestB           = "aa2d4d1e9b0a1c4c3f8f8e1c6b1d3c4f5e6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c"
)

type promotionForTest struct {
	Workflow string `json:"workflow"`
	Version  string `json:"version"`
	Frozen   bool   `json:"frozen"`
	Note     string `json:"note,omitempty"`
}

func TestNewStatementGolden(t *testing.T) {
	got, err := attest.NewStatement(
		[]attest.Subject{{Name: "nightly-etl", Digest: map[string]string{"sha256": digestA}}},
		testPredicateType,
		promotionForTest{Workflow: "nightly-etl", Version: "1.2.0", Frozen: true, Note: "a<b & c>d"},
	)
	if err != nil {
		t.Fatal(err)
	}
	// RFC 8785: keys sorted, no whitespace, no HTML escaping.
	want := `{"_type":"https://in-toto.io/Statement/v1",` +
		`"predicate":{"frozen":true,"note":"a<b & c>d","version":"1.2.0","workflow":"nightly-etl"},` +
		`"predicateType":"https://maestro.dev/promotion/v1",` +
		`"subject":[{"digest":{"sha256":"` + digestA + `"},"name":"nightly-etl"}]}`
	if d := cmp.Diff(want, string(got)); d != "" {
		t.Errorf("NewStatement() mismatch (-want +got):\n%s", d)
	}
	// It is an in-toto v1 statement for in-toto's own types.
	var st intoto.Statement
	if err := protojson.Unmarshal(got, &st); err != nil {
		t.Fatalf("in-toto Statement does not parse it: %v", err)
	}
	if err := st.Validate(); err != nil {
		t.Errorf("in-toto Statement.Validate() = %v", err)
	}
	if st.GetType() != attest.StatementType || st.GetPredicateType() != testPredicateType ||
		st.GetSubject()[0].GetDigest()["sha256"] != digestA || st.GetPredicate().GetFields()["workflow"].GetStringValue() != "nightly-etl" {
		t.Errorf("in-toto Statement reads %v", &st)
	}
}

func TestNewStatementDeterministic(t *testing.T) {
	subjects := func() []attest.Subject {
		// A map's iteration order changes from run to run; the output must not.
		d := map[string]string{}
		for _, k := range []string{"sha512", "sha256", "gitCommit"} {
			d[k] = map[string]string{
				"sha256":    digestA,
				"sha512":    strings.Repeat("ab", 64),
				"gitCommit": strings.Repeat("0f", 20),
			}[k]
		}
		return []attest.Subject{{Name: "wf", Digest: d}, {Name: "other", Digest: map[string]string{"sha256": digestB}}}
	}
	asStruct := promotionForTest{Workflow: "wf", Version: "2.0.0", Frozen: false}
	asMap := map[string]any{"version": "2.0.0", "frozen": false, "workflow": "wf"}
	asRaw := json.RawMessage(`{ "workflow" : "wf", "frozen": false,
		"version": "2.0.0" }`)
	first, err := attest.NewStatement(subjects(), testPredicateType, asStruct)
	if err != nil {
		t.Fatal(err)
	}
	for i, pred := range []any{asStruct, asMap, asRaw, asStruct, asMap} {
		got, err := attest.NewStatement(subjects(), testPredicateType, pred)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(string(first), string(got)); d != "" {
			t.Errorf("NewStatement() #%d differs (-first +got):\n%s", i, d)
		}
	}
	// Subject order is kept: it is the caller's.
	swapped := subjects()
	swapped[0], swapped[1] = swapped[1], swapped[0]
	other, err := attest.NewStatement(swapped, testPredicateType, asStruct)
	if err != nil {
		t.Fatal(err)
	}
	if string(other) == string(first) {
		t.Error("NewStatement() ignores subject order")
	}
}

func TestNewStatementErrors(t *testing.T) {
	good := []attest.Subject{{Name: "wf", Digest: map[string]string{"sha256": digestA}}}
	tests := []struct {
		name          string
		subjects      []attest.Subject
		predicateType string
		predicate     any
		want          string
	}{
		{"no subjects", nil, testPredicateType, map[string]any{}, "subject"},
		{"subject without digest", []attest.Subject{{Name: "wf"}}, testPredicateType, map[string]any{}, "digest"},
		{"short sha256", []attest.Subject{{Name: "wf", Digest: map[string]string{"sha256": "abcd"}}}, testPredicateType, map[string]any{}, "length"},
		{"non-hex sha256", []attest.Subject{{Name: "wf", Digest: map[string]string{"sha256": strings.Repeat("zz", 32)}}}, testPredicateType, map[string]any{}, "hex"},
		{"no predicate type", good, "", map[string]any{}, "predicate type"},
		{"nil predicate", good, testPredicateType, nil, "JSON object"},
		{"string predicate", good, testPredicateType, "text", "JSON object"},
		{"array predicate", good, testPredicateType, []int{1}, "JSON object"},
		{"unmarshalable predicate", good, testPredicateType, map[string]any{"f": func() {}}, "predicate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := attest.NewStatement(tt.subjects, tt.predicateType, tt.predicate)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewStatement() = %s, %v; want an error containing %q", got, err, tt.want)
			}
		})
	}
}
