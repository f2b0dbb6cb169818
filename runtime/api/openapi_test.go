package api

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

// The OpenAPI document and the implementation are held together three ways:
//   - TestOpenAPIRoutes: every route the mux serves is documented, and every documented operation is a route;
//   - TestOpenAPIExamples: every example in the document validates against its schema;
//   - observe and TestMain: every answer the handler tests get validates against the schema documented for its
//     operation and status, and once all tests ran, each operation's documented statuses are exactly the
//     statuses the tests saw.

const openAPIPath = "../../docs/openapi.yaml"

type openAPIDoc struct {
	OpenAPI    string                 `yaml:"openapi"`
	Paths      map[string]*pathItem   `yaml:"paths"`
	Fallback   map[string]*oaResponse `yaml:"x-fallback-responses"`
	Components struct {
		Schemas    map[string]*oaSchema   `yaml:"schemas"`
		Responses  map[string]*oaResponse `yaml:"responses"`
		Parameters map[string]*oaParam    `yaml:"parameters"`
	} `yaml:"components"`
}

type pathItem struct {
	Parameters []*oaParam   `yaml:"parameters"`
	Get        *oaOperation `yaml:"get"`
	Post       *oaOperation `yaml:"post"`
	Put        *oaOperation `yaml:"put"`
	Delete     *oaOperation `yaml:"delete"`
	Patch      *oaOperation `yaml:"patch"`
}

func (p *pathItem) operations() map[string]*oaOperation {
	out := map[string]*oaOperation{}
	for m, op := range map[string]*oaOperation{"GET": p.Get, "POST": p.Post, "PUT": p.Put, "DELETE": p.Delete, "PATCH": p.Patch} {
		if op != nil {
			out[m] = op
		}
	}
	return out
}

type oaOperation struct {
	OperationID string     `yaml:"operationId"`
	Parameters  []*oaParam `yaml:"parameters"`
	RequestBody *struct {
		Content map[string]*oaMedia `yaml:"content"`
	} `yaml:"requestBody"`
	Responses map[string]*oaResponse `yaml:"responses"`
}

type oaParam struct {
	Ref      string    `yaml:"$ref"`
	Name     string    `yaml:"name"`
	In       string    `yaml:"in"`
	Required bool      `yaml:"required"`
	Schema   *oaSchema `yaml:"schema"`
}

type oaResponse struct {
	Ref         string              `yaml:"$ref"`
	Description string              `yaml:"description"`
	Content     map[string]*oaMedia `yaml:"content"`
}

type oaMedia struct {
	Schema  *oaSchema `yaml:"schema"`
	Example yaml.Node `yaml:"example"`
}

type oaSchema struct {
	Ref                  string               `yaml:"$ref"`
	Type                 yaml.Node            `yaml:"type"`
	Required             []string             `yaml:"required"`
	Properties           map[string]*oaSchema `yaml:"properties"`
	Items                *oaSchema            `yaml:"items"`
	AdditionalProperties yaml.Node            `yaml:"additionalProperties"`
	AllOf                []*oaSchema          `yaml:"allOf"`
	Enum                 []any                `yaml:"enum"`
	Pattern              string               `yaml:"pattern"`
}

var (
	docOnce sync.Once
	doc     *openAPIDoc
	docErr  error
)

func loadDoc() (*openAPIDoc, error) {
	docOnce.Do(func() {
		data, err := os.ReadFile(openAPIPath)
		if err != nil {
			docErr = err
			return
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(false)
		var d openAPIDoc
		if err := dec.Decode(&d); err != nil {
			docErr = fmt.Errorf("%s: %w", openAPIPath, err)
			return
		}
		doc = &d
	})
	return doc, docErr
}

func (d *openAPIDoc) response(r *oaResponse) (*oaResponse, error) {
	if r.Ref == "" {
		return r, nil
	}
	name, ok := strings.CutPrefix(r.Ref, "#/components/responses/")
	if !ok || d.Components.Responses[name] == nil {
		return nil, fmt.Errorf("unresolved response $ref %q", r.Ref)
	}
	return d.Components.Responses[name], nil
}

func (d *openAPIDoc) param(p *oaParam) (*oaParam, error) {
	if p.Ref == "" {
		return p, nil
	}
	name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/")
	if !ok || d.Components.Parameters[name] == nil {
		return nil, fmt.Errorf("unresolved parameter $ref %q", p.Ref)
	}
	return d.Components.Parameters[name], nil
}

// resolve follows $ref and merges allOf into one schema.
func (d *openAPIDoc) resolve(s *oaSchema) (*oaSchema, error) {
	for depth := 0; s.Ref != ""; depth++ {
		name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/")
		if !ok || d.Components.Schemas[name] == nil || depth > 16 {
			return nil, fmt.Errorf("unresolved schema $ref %q", s.Ref)
		}
		s = d.Components.Schemas[name]
	}
	if len(s.AllOf) == 0 {
		return s, nil
	}
	merged := &oaSchema{Properties: map[string]*oaSchema{}}
	merged.Type.Kind, merged.Type.Value = yaml.ScalarNode, "object"
	for _, part := range s.AllOf {
		p, err := d.resolve(part)
		if err != nil {
			return nil, err
		}
		merged.Required = append(merged.Required, p.Required...)
		for k, v := range p.Properties {
			merged.Properties[k] = v
		}
	}
	return merged, nil
}

func (s *oaSchema) types() []string {
	switch s.Type.Kind {
	case yaml.ScalarNode:
		return []string{s.Type.Value}
	case yaml.SequenceNode:
		var out []string
		for _, n := range s.Type.Content {
			out = append(out, n.Value)
		}
		return out
	}
	return nil
}

// validate checks v (decoded with UseNumber) against s. Objects whose schema lists properties are closed unless
// additionalProperties says otherwise, so an undocumented field in an answer is an error.
func (d *openAPIDoc) validate(v any, s *oaSchema, path string) []string {
	s, err := d.resolve(s)
	if err != nil {
		return []string{path + ": " + err.Error()}
	}
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
	if ts := s.types(); len(ts) > 0 {
		if !slices.ContainsFunc(ts, func(t string) bool { return hasType(v, t) }) {
			bad("%s is not of type %v", short(v), ts)
			return errs
		}
	}
	if len(s.Enum) > 0 && !slices.ContainsFunc(s.Enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		bad("%s is not one of %v", short(v), s.Enum)
	}
	if s.Pattern != "" {
		if str, ok := v.(string); ok && !regexp.MustCompile(s.Pattern).MatchString(str) {
			bad("%q does not match %s", str, s.Pattern)
		}
	}
	switch x := v.(type) {
	case map[string]any:
		for _, r := range s.Required {
			if _, ok := x[r]; !ok {
				bad("required field %q is missing", r)
			}
		}
		for k, val := range x {
			if ps, ok := s.Properties[k]; ok {
				errs = append(errs, d.validate(val, ps, path+"."+k)...)
				continue
			}
			switch ap := s.AdditionalProperties; {
			case ap.Kind == yaml.MappingNode:
				var as oaSchema
				if err := ap.Decode(&as); err != nil {
					bad("additionalProperties: %v", err)
					continue
				}
				errs = append(errs, d.validate(val, &as, path+"."+k)...)
			case ap.Value == "true", len(s.Properties) == 0 && ap.Kind == 0:
			default:
				bad("field %q is not documented", k)
			}
		}
	case []any:
		if s.Items != nil {
			for i, item := range x {
				errs = append(errs, d.validate(item, s.Items, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return errs
}

func hasType(v any, t string) bool {
	switch t {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "null":
		return v == nil
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := strconv.ParseInt(string(n), 10, 64)
		return err == nil
	}
	return false
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}

// decodeJSON decodes JSON keeping numbers as json.Number.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// documented returns the documented response for an operation key ("GET /path") and status, "" for the fallback
// answers of no operation.
func (d *openAPIDoc) documented(key string, status int) (*oaResponse, error) {
	code := strconv.Itoa(status)
	if key != "" {
		method, path, _ := strings.Cut(key, " ")
		item := d.Paths[path]
		if item == nil {
			return nil, fmt.Errorf("%s is not documented", path)
		}
		op := item.operations()[method]
		if op == nil {
			return nil, fmt.Errorf("%s is not documented", key)
		}
		if r := op.Responses[code]; r != nil {
			return d.response(r)
		}
	}
	if r := d.Fallback[code]; r != nil {
		return d.response(r)
	}
	return nil, fmt.Errorf("%s: status %d is not documented", orFallback(key), status)
}

func orFallback(key string) string {
	if key == "" {
		return "(no route)"
	}
	return key
}

var (
	observedMu sync.Mutex
	// observed holds, per operation key ("" for no route), the statuses the tests saw.
	observed = map[string]map[int]bool{}
)

// observe records an answer and checks it against the document.
func observe(t *testing.T, pattern string, r response) {
	t.Helper()
	observedMu.Lock()
	if observed[pattern] == nil {
		observed[pattern] = map[int]bool{}
	}
	observed[pattern][r.status] = true
	observedMu.Unlock()

	d, err := loadDoc()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := d.documented(pattern, r.status)
	if err != nil {
		t.Errorf("%v (body %s)", err, r.body)
		return
	}
	ct, _, _ := strings.Cut(r.header.Get("Content-Type"), ";")
	media := resp.Content[ct]
	if media == nil {
		t.Errorf("%s %d: content type %q is not documented", orFallback(pattern), r.status, ct)
		return
	}
	if ct != "application/json" {
		return
	}
	v, err := decodeJSON(r.body)
	if err != nil {
		t.Errorf("%s %d: body is not JSON: %v", orFallback(pattern), r.status, err)
		return
	}
	for _, e := range d.validate(v, media.Schema, "body") {
		t.Errorf("%s %d: %s", orFallback(pattern), r.status, e)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && flag.Lookup("test.skip").Value.String() == "" {
		if msgs := checkObservedStatuses(); len(msgs) > 0 {
			fmt.Fprintln(os.Stderr, "--- FAIL: docs/openapi.yaml and the statuses the handler tests saw differ:")
			for _, m := range msgs {
				fmt.Fprintln(os.Stderr, "    "+m)
			}
			code = 1
		}
	}
	os.Exit(code)
}

// checkObservedStatuses compares, for each operation, the documented statuses with those the tests saw.
func checkObservedStatuses() []string {
	d, err := loadDoc()
	if err != nil {
		return []string{err.Error()}
	}
	var msgs []string
	fallback := map[int]bool{}
	for code := range d.Fallback {
		n, _ := strconv.Atoi(code)
		fallback[n] = true
	}
	seenFallback := map[int]bool{}
	for path, item := range d.Paths {
		for method, op := range item.operations() {
			key := method + " " + path
			seen := observed[key]
			for code := range op.Responses {
				n, _ := strconv.Atoi(code)
				if !seen[n] {
					msgs = append(msgs, fmt.Sprintf("%s documents %d, which no test got", key, n))
				}
			}
			for n := range seen {
				if _, ok := op.Responses[strconv.Itoa(n)]; !ok {
					if fallback[n] {
						seenFallback[n] = true
						continue
					}
					msgs = append(msgs, fmt.Sprintf("%s answered %d in the tests, which is not documented", key, n))
				}
			}
		}
	}
	for n := range observed[""] {
		seenFallback[n] = true
	}
	for n := range fallback {
		if !seenFallback[n] {
			msgs = append(msgs, fmt.Sprintf("x-fallback-responses documents %d, which no test got", n))
		}
	}
	sort.Strings(msgs)
	return msgs
}

func TestOpenAPIRoutes(t *testing.T) {
	d, err := loadDoc()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d.OpenAPI, "3.1.") {
		t.Errorf("openapi: %q, want 3.1.x", d.OpenAPI)
	}
	f := newFixture(t, fixtureOptions{empty: true})
	var served, documented []string
	for _, rt := range f.srv.routes() {
		served = append(served, rt.pattern())
	}
	for path, item := range d.Paths {
		for method, op := range item.operations() {
			documented = append(documented, method+" "+path)
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId", method, path)
			}
			// Every path parameter is documented, on the path or the operation.
			params := map[string]bool{}
			for _, p := range append(slices.Clone(item.Parameters), op.Parameters...) {
				p, err := d.param(p)
				if err != nil {
					t.Error(err)
					continue
				}
				if p.In == "path" {
					params[p.Name] = true
					if !p.Required {
						t.Errorf("%s %s: path parameter %s is not required", method, path, p.Name)
					}
				}
			}
			for _, m := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(path, -1) {
				if !params[m[1]] {
					t.Errorf("%s %s: path parameter %s is not documented", method, path, m[1])
				}
			}
			// Every error answer has the error shape.
			for code, r := range op.Responses {
				r, err := d.response(r)
				if err != nil {
					t.Error(err)
					continue
				}
				if n, _ := strconv.Atoi(code); n >= 400 {
					m := r.Content["application/json"]
					if m == nil || m.Schema == nil {
						t.Errorf("%s %s %s: no application/json schema", method, path, code)
						continue
					}
					s, err := d.resolve(m.Schema)
					if err != nil {
						t.Error(err)
					} else if !slices.Contains(s.Required, "error") {
						t.Errorf("%s %s %s: the schema is not the error shape", method, path, code)
					}
				}
			}
		}
	}
	sort.Strings(served)
	sort.Strings(documented)
	if !slices.Equal(served, documented) {
		t.Errorf("routes served:\n  %s\ndocumented in %s:\n  %s", strings.Join(served, "\n  "), openAPIPath, strings.Join(documented, "\n  "))
	}
	// The error code enum is the Code constants.
	errSchema := d.Components.Schemas["Error"].Properties["error"].Properties["code"]
	var enum []string
	for _, e := range errSchema.Enum {
		enum = append(enum, fmt.Sprint(e))
	}
	codes := []string{string(CodeBadRequest), string(CodeUnauthorized), string(CodePromotionDisabled), string(CodePushDenied),
		string(CodeWebhookDisabled), string(CodeNotFound), string(CodeWorkflowNotFound), string(CodeVersionNotFound),
		string(CodeMethodNotAllowed), string(CodePromotionRefused), string(CodePushRejected), string(CodeBodyTooLarge),
		string(CodeUnknownRef), string(CodeInvalidWorkflow), string(CodeInternal), string(CodePromotionFailed),
		string(CodeStoreUnavailable), string(CodeNotReady)}
	sort.Strings(enum)
	sort.Strings(codes)
	if !slices.Equal(enum, codes) {
		t.Errorf("Error.code enum %v, the Code constants %v", enum, codes)
	}
}

func TestOpenAPIExamples(t *testing.T) {
	d, err := loadDoc()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	check := func(where string, m *oaMedia) {
		if m == nil || m.Example.Kind == 0 || m.Schema == nil {
			return
		}
		var raw any
		if err := m.Example.Decode(&raw); err != nil {
			t.Errorf("%s: example: %v", where, err)
			return
		}
		b, err := json.Marshal(raw)
		if err != nil {
			t.Errorf("%s: example is not JSON-able: %v", where, err)
			return
		}
		v, _ := decodeJSON(b)
		n++
		for _, e := range d.validate(v, m.Schema, "example") {
			t.Errorf("%s: %s", where, e)
		}
	}
	for path, item := range d.Paths {
		for method, op := range item.operations() {
			if op.RequestBody != nil {
				check(method+" "+path+" request", op.RequestBody.Content["application/json"])
			}
			for code, r := range op.Responses {
				r, err := d.response(r)
				if err != nil {
					t.Error(err)
					continue
				}
				check(method+" "+path+" "+code, r.Content["application/json"])
			}
		}
	}
	for name, r := range d.Components.Responses {
		check("components.responses."+name, r.Content["application/json"])
	}
	if n < 15 {
		t.Errorf("only %d examples checked; the document lost its examples?", n)
	}
}
