package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"
)

// fakeGitHub stands in for the GitHub REST API's issue comments, on loopback. It is a fake because the real one is
// not reachable from tests; it records every request in $WORK/github-requests.log as "METHOD PATH[?QUERY] auth=yes|no".
type fakeGitHub struct {
	mu       sync.Mutex
	url      string
	log      *os.File
	forbid   bool                      // answer 403 to every write, like a fork's read-only token
	comments map[string][]*fakeComment // by "owner/name#number"
	byID     map[int64]*fakeComment
	nextID   int64
}

type fakeComment struct {
	ID      int64  `json:"id"`
	Body    string `json:"body"`
	HTMLURL string `json:"html_url"`
	User    struct {
		Login string `json:"login"`
	} `json:"user"`
	issue string
}

var (
	listRE  = regexp.MustCompile(`^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$`)
	patchRE = regexp.MustCompile(`^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$`)
)

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	auth := "no"
	if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		auth = "yes"
	}
	line := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		line += "?" + r.URL.RawQuery
	}
	fmt.Fprintf(f.log, "%s auth=%s\n", line, auth)
	answer := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	write := r.Method == http.MethodPost || r.Method == http.MethodPatch
	if write && auth == "no" {
		answer(http.StatusUnauthorized, map[string]string{"message": "Requires authentication"})
		return
	}
	if write && f.forbid {
		answer(http.StatusForbidden, map[string]string{"message": "Resource not accessible by integration"})
		return
	}
	var in struct {
		Body string `json:"body"`
	}
	if write {
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Body == "" {
			answer(http.StatusUnprocessableEntity, map[string]string{"message": "body is missing"})
			return
		}
		if len([]rune(in.Body)) > 65536 {
			answer(http.StatusUnprocessableEntity, map[string]string{"message": "Body is too long (maximum is 65536 characters)"})
			return
		}
	}
	if m := listRE.FindStringSubmatch(r.URL.Path); m != nil {
		issue := m[1] + "#" + m[2]
		switch r.Method {
		case http.MethodGet:
			per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
			if per <= 0 {
				per = 30
			}
			page, _ := strconv.Atoi(r.URL.Query().Get("page"))
			if page <= 0 {
				page = 1
			}
			all := f.comments[issue]
			lo, hi := min((page-1)*per, len(all)), min(page*per, len(all))
			if hi < len(all) {
				w.Header().Set("Link", fmt.Sprintf(`<%s%s?per_page=%d&page=%d>; rel="next", <%s%s?per_page=%d&page=%d>; rel="last"`,
					f.url, r.URL.Path, per, page+1, f.url, r.URL.Path, per, (len(all)+per-1)/per))
			}
			answer(http.StatusOK, append([]*fakeComment{}, all[lo:hi]...))
		case http.MethodPost:
			answer(http.StatusCreated, f.add(issue, "github-actions[bot]", in.Body))
		default:
			answer(http.StatusMethodNotAllowed, map[string]string{"message": "method"})
		}
		return
	}
	if m := patchRE.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodPatch {
		id, _ := strconv.ParseInt(m[2], 10, 64)
		c := f.byID[id]
		if c == nil {
			answer(http.StatusNotFound, map[string]string{"message": "Not Found"})
			return
		}
		c.Body = in.Body
		answer(http.StatusOK, c)
		return
	}
	answer(http.StatusNotFound, map[string]string{"message": "Not Found"})
}

func (f *fakeGitHub) add(issue, user, body string) *fakeComment {
	f.nextID++
	c := &fakeComment{ID: f.nextID, Body: body, issue: issue}
	c.User.Login = user
	c.HTMLURL = fmt.Sprintf("https://github.example/%s/pull/%s#issuecomment-%d", strings.Split(issue, "#")[0], strings.Split(issue, "#")[1], c.ID)
	f.comments[issue] = append(f.comments[issue], c)
	f.byID[c.ID] = c
	return c
}

// cmdGitHub drives the fake GitHub API:
//
//	github start                  start it; sets GITHUB_API_URL
//	github seed REPO N COUNT      add COUNT comments by someone else to pull request N (to make the list paginate)
//	github forbid | allow         answer 403 to writes (a fork's token), or stop
//	github comments REPO N        print "ID USER BYTES FIRST-LINE" for each comment
//	github body ID FILE           write comment ID's body to FILE
func cmdGitHub(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! github")
	}
	if len(args) == 0 {
		ts.Fatalf("usage: github start|seed|forbid|allow|comments|body")
	}
	if args[0] == "start" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		logf, err := os.Create(ts.MkAbs("github-requests.log"))
		ts.Check(err)
		f := &fakeGitHub{log: logf, comments: map[string][]*fakeComment{}, byID: map[int64]*fakeComment{}, url: "http://" + ln.Addr().String()}
		srv := &http.Server{Handler: f}
		go srv.Serve(ln)
		ts.Defer(func() {
			fakes.Delete(ts)
			srv.Close()
			logf.Close()
		})
		fakes.Store(ts, f)
		ts.Setenv("GITHUB_API_URL", f.url)
		return
	}
	v, ok := fakes.Load(ts)
	if !ok {
		ts.Fatalf("github start first")
	}
	f := v.(*fakeGitHub)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case args[0] == "seed" && len(args) == 4:
		n, err := strconv.Atoi(args[3])
		ts.Check(err)
		for i := 0; i < n; i++ {
			f.add(args[1]+"#"+args[2], "someone", fmt.Sprintf("comment %d, nothing to do with maestro", i+1))
		}
	case args[0] == "forbid" && len(args) == 1:
		f.forbid = true
	case args[0] == "allow" && len(args) == 1:
		f.forbid = false
	case args[0] == "comments" && len(args) == 3:
		cs := append([]*fakeComment{}, f.comments[args[1]+"#"+args[2]]...)
		sort.Slice(cs, func(i, j int) bool { return cs[i].ID < cs[j].ID })
		out := ts.Stdout() // even with no comments: an empty stdout replaces the last command's
		for _, c := range cs {
			first, _, _ := strings.Cut(c.Body, "\n")
			fmt.Fprintf(out, "%d %s %d %s\n", c.ID, c.User.Login, len(c.Body), first)
		}
	case args[0] == "body" && len(args) == 3:
		id, err := strconv.ParseInt(args[1], 10, 64)
		ts.Check(err)
		c := f.byID[id]
		if c == nil {
			ts.Fatalf("no comment %d", id)
		}
		ts.Check(os.WriteFile(ts.MkAbs(args[2]), []byte(c.Body), 0o644))
	default:
		ts.Fatalf("usage: github start | seed REPO N COUNT | forbid | allow | comments REPO N | body ID FILE")
	}
}

// fakes maps a running script to its fake GitHub.
var fakes sync.Map

// cmdMDCheck FILE MAX checks a comment body: shorter than MAX characters, every <details> closed, and no block cut
// in the middle.
func cmdMDCheck(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mdcheck FILE MAX")
	}
	max, err := strconv.Atoi(args[1])
	ts.Check(err)
	body := ts.ReadFile(args[0])
	if n := len([]rune(body)); n >= max {
		ts.Fatalf("%s has %d characters, want fewer than %d", args[0], n, max)
	}
	open, closed := strings.Count(body, "<details>"), strings.Count(body, "</details>")
	if open != closed {
		ts.Fatalf("%s has %d <details> and %d </details>", args[0], open, closed)
	}
	depth := 0
	for _, tok := range regexp.MustCompile(`</?details>`).FindAllString(body, -1) {
		if tok == "<details>" {
			depth++
		} else {
			depth--
		}
		if depth < 0 || depth > 1 {
			ts.Fatalf("%s nests or misorders <details> blocks", args[0])
		}
	}
	if strings.Count(body, "```")%2 != 0 {
		ts.Fatalf("%s has an unclosed code fence", args[0])
	}
}

// cmdGenWorkflows DIR COUNT TASKS X writes COUNT workflows of TASKS tasks each (a chain of fan-outs) into DIR,
// every package digest made of the hex digit X: two runs with different X differ in every task's package.
func cmdGenWorkflows(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 || len(args[3]) != 1 {
		ts.Fatalf("usage: genworkflows DIR COUNT TASKS X")
	}
	count, err := strconv.Atoi(args[1])
	ts.Check(err)
	tasks, err := strconv.Atoi(args[2])
	ts.Check(err)
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o755))
	for i := 0; i < count; i++ {
		var b strings.Builder
		fmt.Fprintf(&b, "apiVersion: maestro.dev/v1\nkind: Workflow\nmetadata: {name: gen-%02d}\nspec:\n  tasks:\n", i)
		for j := 0; j < tasks; j++ {
			fmt.Fprintf(&b, "    step-%03d:\n      package: registry.example.com/generated/step-%03d@sha256:%s\n", j, j, strings.Repeat(args[3], 64))
			if j > 0 {
				fmt.Fprintf(&b, "      dependsOn: [step-%03d]\n", (j-1)/2)
			}
		}
		ts.Check(os.WriteFile(filepath.Join(dir, fmt.Sprintf("gen-%02d.yaml", i)), []byte(b.String()), 0o644))
	}
}
