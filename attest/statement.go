package attest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// StatementType is the _type of an in-toto v1 Statement.
const StatementType = "https://in-toto.io/Statement/v1"

// PayloadType is the DSSE payload type of an in-toto statement.
const PayloadType = "application/vnd.in-toto+json"

// Subject is one subject of a statement: what it is about, named and given by
// digest, e.g. {Name: "nightly-etl", Digest: {"sha256": "<hex>"}}.
type Subject struct {
	Name   string            `json:"name,omitempty"`
	Digest map[string]string `json:"digest"`
}

// NewStatement returns an in-toto v1 Statement about subjects, with the given
// predicate type and predicate (anything encoding/json marshals to a JSON
// object), as canonical JSON (RFC 8785): the same arguments always give the
// same bytes. Subjects keep their order. It fails unless the result is a
// valid in-toto v1 statement (at least one subject, each with a digest whose
// known algorithms have hex values of the right length, a predicate type, an
// object predicate).
func NewStatement(subjects []Subject, predicateType string, predicate any) ([]byte, error) {
	pred, err := json.Marshal(predicate)
	if err != nil {
		return nil, fmt.Errorf("statement predicate: %w", err)
	}
	if len(pred) == 0 || pred[0] != '{' {
		return nil, fmt.Errorf("statement predicate must be a JSON object, not %s", firstBytes(pred))
	}
	if subjects == nil {
		subjects = []Subject{}
	}
	raw, err := json.Marshal(struct {
		Type          string          `json:"_type"`
		Subject       []Subject       `json:"subject"`
		PredicateType string          `json:"predicateType"`
		Predicate     json.RawMessage `json:"predicate"`
	}{StatementType, subjects, predicateType, pred})
	if err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	canon, err := jsoncanonicalizer.Transform(raw)
	if err != nil {
		return nil, fmt.Errorf("statement: canonicalize: %w", err)
	}
	if _, err := parseStatement(canon); err != nil {
		return nil, err
	}
	return canon, nil
}

// statement is a parsed, validated in-toto v1 statement.
type statement struct {
	Subjects      []Subject
	PredicateType string
	Predicate     json.RawMessage
}

// parseStatement parses and validates an in-toto v1 statement: with the
// in-toto types for validity, and with encoding/json to keep the predicate's
// bytes as they were signed.
func parseStatement(b []byte) (*statement, error) {
	var st intoto.Statement
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("not an in-toto statement: %w", err)
	}
	if st.GetType() != StatementType {
		return nil, fmt.Errorf("statement _type is %q, want %q", st.GetType(), StatementType)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("invalid in-toto v1 statement: %w", err)
	}
	var raw struct {
		Predicate json.RawMessage `json:"predicate"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("not an in-toto statement: %w", err)
	}
	out := &statement{PredicateType: st.GetPredicateType(), Predicate: raw.Predicate}
	for _, s := range st.GetSubject() {
		d := make(map[string]string, len(s.GetDigest()))
		for k, v := range s.GetDigest() {
			d[k] = v
		}
		if len(d) == 0 {
			return nil, errors.New("invalid in-toto v1 statement: subject without digest")
		}
		out.Subjects = append(out.Subjects, Subject{Name: s.GetName(), Digest: d})
	}
	return out, nil
}

func firstBytes(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 20 {
		return string(b[:20]) + "..."
	}
	return string(b)
}
