package ghcomment_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/maestro-conductor/maestro/ghcomment"
)

// server is a loopback stand-in for the issue-comments API: a fake, because the real API is out of reach.
type server struct {
	mu       sync.Mutex
	comments []ghcomment.Comment
	requests []string
	status   int // when set, every write answers this
	header   http.Header
	nextLink string // when set, the first page links here instead of to page 2
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r.Method+" "+r.URL.RequestURI())
	if r.Method != http.MethodGet && s.status != 0 {
		for k, v := range s.header {
			w.Header()[k] = v
		}
		w.WriteHeader(s.status)
		fmt.Fprint(w, `{"message":"no"}`)
		return
	}
	switch r.Method {
	case http.MethodGet:
		page := r.URL.Query().Get("page")
		per := 2
		lo := 0
		if page == "2" {
			lo = per
		}
		hi := min(lo+per, len(s.comments))
		if page == "" && hi < len(s.comments) {
			next := "http://" + r.Host + r.URL.Path + "?per_page=2&page=2"
			if s.nextLink != "" {
				next = s.nextLink
			}
			w.Header().Set("Link", `<`+next+`>; rel="next"`)
		}
		json.NewEncoder(w).Encode(s.comments[min(lo, len(s.comments)):hi])
	case http.MethodPost, http.MethodPatch:
		var in struct{ Body string }
		json.NewDecoder(r.Body).Decode(&in)
		c := ghcomment.Comment{ID: int64(len(s.comments) + 1), Body: in.Body}
		if r.Method == http.MethodPatch {
			for i := range s.comments {
				if strings.HasSuffix(r.URL.Path, fmt.Sprintf("/%d", s.comments[i].ID)) {
					s.comments[i].Body = in.Body
					c = s.comments[i]
				}
			}
		} else {
			s.comments = append(s.comments, c)
		}
		json.NewEncoder(w).Encode(c)
	}
}

func newClient(t *testing.T, s *server) *ghcomment.Client {
	t.Helper()
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	c, err := ghcomment.New(ghcomment.Options{BaseURL: ts.URL + "/api/v3/", Token: "t", PerPage: 2})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSync(t *testing.T) {
	ctx := context.Background()
	s := &server{comments: []ghcomment.Comment{{ID: 1, Body: "hello"}, {ID: 2, Body: "> <!-- maestro-diff --> quoted"}, {ID: 3, Body: "lgtm"}}}
	c := newClient(t, s)
	target := ghcomment.Target{Repo: "acme/flows", Number: 7}

	// nothing to say and nothing said before: no write
	act, _, err := c.Sync(ctx, target, "", "gone")
	if err != nil || act != ghcomment.Skipped {
		t.Fatalf("Sync(empty) = %v, %v; want skipped", act, err)
	}
	act, cm, err := c.Sync(ctx, target, "### report", "gone")
	if err != nil || act != ghcomment.Created || cm.ID != 4 || cm.Body != ghcomment.DefaultMarker+"\n### report" {
		t.Fatalf("Sync(first) = %v, %+v, %v", act, cm, err)
	}
	act, cm, err = c.Sync(ctx, target, "### report 2", "gone")
	if err != nil || act != ghcomment.Updated || cm.ID != 4 {
		t.Fatalf("Sync(second) = %v, %+v, %v", act, cm, err)
	}
	act, cm, err = c.Sync(ctx, target, "", "gone")
	if err != nil || act != ghcomment.Updated || cm.Body != ghcomment.DefaultMarker+"\ngone" {
		t.Fatalf("Sync(vanished) = %v, %+v, %v", act, cm, err)
	}
	want := []string{
		"GET /api/v3/repos/acme/flows/issues/7/comments?per_page=2",
		"GET /api/v3/repos/acme/flows/issues/7/comments?per_page=2&page=2",
		"GET /api/v3/repos/acme/flows/issues/7/comments?per_page=2",
		"GET /api/v3/repos/acme/flows/issues/7/comments?per_page=2&page=2",
		"POST /api/v3/repos/acme/flows/issues/7/comments",
		"GET /api/v3/repos/acme/flows/issues/7/comments?per_page=2",
		"GET /api/v3/repos/acme/flows/issues/7/comments?per_page=2&page=2",
		"PATCH /api/v3/repos/acme/flows/issues/comments/4",
		"GET /api/v3/repos/acme/flows/issues/7/comments?per_page=2",
		"GET /api/v3/repos/acme/flows/issues/7/comments?per_page=2&page=2",
		"PATCH /api/v3/repos/acme/flows/issues/comments/4",
	}
	if d := cmp.Diff(want, s.requests); d != "" {
		t.Errorf("requests mismatch (-want +got):\n%s", d)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    http.Header
		forbidden bool
		limited   bool
	}{
		{"403", 403, nil, true, false},
		{"401", 401, nil, true, false},
		{"rate limit", 403, http.Header{"X-Ratelimit-Remaining": {"0"}}, false, true},
		{"429", 429, nil, false, true},
		{"422", 422, nil, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, &server{status: tc.status, header: tc.header})
			_, err := c.CreateComment(context.Background(), "acme/flows", 7, "x")
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, ghcomment.ErrForbidden); got != tc.forbidden {
				t.Errorf("errors.Is(%v, ErrForbidden) = %v", err, got)
			}
			if got := errors.Is(err, ghcomment.ErrRateLimited); got != tc.limited {
				t.Errorf("errors.Is(%v, ErrRateLimited) = %v", err, got)
			}
		})
	}
}

// TestLinkElsewhere: a next-page link to another host is refused, so the token never leaves the API.
func TestLinkElsewhere(t *testing.T) {
	s := &server{comments: make([]ghcomment.Comment, 5), nextLink: "http://evil.example/steal"}
	c := newClient(t, s)
	_, err := c.FindComment(context.Background(), "acme/flows", 7, ghcomment.DefaultMarker)
	if err == nil || !strings.Contains(err.Error(), "evil.example") {
		t.Fatalf("FindComment() error = %v, want a refused link", err)
	}
	if len(s.requests) != 1 {
		t.Errorf("%d requests, want 1", len(s.requests))
	}
}

func TestParseEvent(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want ghcomment.PullRequest
		fork bool
		err  error
	}{
		{"same repo", `{"number":3,"pull_request":{"number":3,"base":{"sha":"b","repo":{"full_name":"a/r"}},"head":{"sha":"h","repo":{"full_name":"a/r"}}}}`,
			ghcomment.PullRequest{Number: 3, BaseSHA: "b", HeadSHA: "h", BaseRepo: "a/r", HeadRepo: "a/r"}, false, nil},
		{"fork", `{"pull_request":{"number":4,"base":{"repo":{"full_name":"a/r"}},"head":{"repo":{"full_name":"x/r"}}}}`,
			ghcomment.PullRequest{Number: 4, BaseRepo: "a/r", HeadRepo: "x/r"}, true, nil},
		{"deleted fork", `{"pull_request":{"number":5,"base":{"repo":{"full_name":"a/r"}},"head":{"repo":null}}}`,
			ghcomment.PullRequest{Number: 5, BaseRepo: "a/r", HeadRepo: "(deleted)"}, true, nil},
		{"push", `{"ref":"refs/heads/main"}`, ghcomment.PullRequest{}, false, ghcomment.ErrNotPullRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ghcomment.ParseEvent(strings.NewReader(tc.in))
			if !errors.Is(err, tc.err) {
				t.Fatalf("ParseEvent() error = %v, want %v", err, tc.err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("ParseEvent() mismatch (-want +got):\n%s", d)
			}
			if got.FromFork() != tc.fork {
				t.Errorf("FromFork() = %v, want %v", got.FromFork(), tc.fork)
			}
		})
	}
}

func TestWriteOutputs(t *testing.T) {
	var b strings.Builder
	err := ghcomment.WriteOutputs(&b, []ghcomment.Output{{Name: "changed", Value: "true"}, {Name: "multi", Value: "a\nb"}, {Name: "empty"}})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if lines[0] != "changed=true" || !strings.HasPrefix(lines[1], "multi<<ghadelimiter_") || lines[2] != "a" || lines[3] != "b" ||
		lines[4] != strings.TrimPrefix(lines[1], "multi<<") || lines[5] != "empty=" {
		t.Errorf("WriteOutputs() wrote:\n%s", b.String())
	}
	if err := ghcomment.WriteOutputs(&b, []ghcomment.Output{{Name: "a=b"}}); err == nil {
		t.Error("WriteOutputs accepted a name with '='")
	}
}
