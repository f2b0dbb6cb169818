// Package ghcomment keeps one pull-request comment up to date through the GitHub REST API: it finds the comment an
// earlier run left (by a hidden marker), edits it in place or creates it, and knows when the token may not write
// (a pull request from a fork). It also reads the Actions event payload and writes the Actions step-output format.
//
// The package never reads environment variables: the caller passes the API URL, the token and file contents in.
package ghcomment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultBaseURL is the REST API of github.com; GitHub Enterprise Server has its own (GITHUB_API_URL in Actions).
const DefaultBaseURL = "https://api.github.com"

// DefaultMarker is the hidden HTML comment that marks maestro's pull-request comment.
const DefaultMarker = "<!-- maestro-diff -->"

// Log keys.
const (
	LogKeyComment = "comment"
	LogKeyURL     = "url"
)

var (
	// ErrForbidden means the token may not do what was asked (HTTP 401 or 403): typically the read-only token of a
	// pull request from a fork, or a workflow without the pull-requests: write permission.
	ErrForbidden = errors.New("the token may not write to this pull request")
	// ErrRateLimited means GitHub refused the request for the rate limit; a later run may succeed.
	ErrRateLimited = errors.New("rate limited by GitHub")
	// ErrNotPullRequest means the event payload is not about a pull request.
	ErrNotPullRequest = errors.New("the event is not a pull request")
)

// APIError is an unsuccessful answer from the API. errors.Is matches ErrForbidden for 401 and 403 (unless the 403
// is a rate limit, which matches ErrRateLimited).
type APIError struct {
	Method, URL string
	Status      int
	Message     string
	rateLimited bool
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Status, msg)
}

// Is reports whether the error is ErrForbidden or ErrRateLimited.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrRateLimited:
		return e.rateLimited
	case ErrForbidden:
		return !e.rateLimited && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden)
	}
	return false
}

// Options configure a Client.
type Options struct {
	// BaseURL is the REST API's root; empty means DefaultBaseURL.
	BaseURL string
	// Token authenticates every request; empty sends none (reads of public repositories still work).
	Token string
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// UserAgent defaults to "maestro".
	UserAgent string
	// PerPage is the page size when listing comments; 0 means 100, the API's largest.
	PerPage int
}

// Client is a small GitHub REST client for issue comments. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	token   string
	http    *http.Client
	log     *slog.Logger
	agent   string
	perPage int
}

// New returns a client for the API at opts.BaseURL.
func New(opts Options) (*Client, error) {
	raw := opts.BaseURL
	if raw == "" {
		raw = DefaultBaseURL
	}
	base, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("GitHub API URL %q: want http(s)://host[/path]", raw)
	}
	c := &Client{base: base, token: opts.Token, http: opts.HTTPClient, log: opts.Logger, agent: opts.UserAgent, perPage: opts.PerPage}
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.agent == "" {
		c.agent = "maestro"
	}
	if c.perPage <= 0 || c.perPage > 100 {
		c.perPage = 100
	}
	return c, nil
}

// Comment is an issue or pull-request comment.
type Comment struct {
	ID      int64  `json:"id"`
	Body    string `json:"body"`
	HTMLURL string `json:"html_url"`
	User    struct {
		Login string `json:"login"`
	} `json:"user"`
}

// FindComment returns the oldest comment on issue or pull request number of repo ("owner/name") whose body starts
// with marker, reading every page of comments; nil (and no error) when there is none.
func (c *Client) FindComment(ctx context.Context, repo string, number int, marker string) (*Comment, error) {
	next := c.endpoint(fmt.Sprintf("repos/%s/issues/%d/comments", repo, number))
	q := next.Query()
	q.Set("per_page", strconv.Itoa(c.perPage))
	next.RawQuery = q.Encode()
	for page := 1; next != nil; page++ {
		var list []Comment
		hdr, err := c.do(ctx, http.MethodGet, next, nil, &list)
		if err != nil {
			return nil, err
		}
		for i := range list {
			if strings.HasPrefix(strings.TrimSpace(list[i].Body), marker) {
				return &list[i], nil
			}
		}
		if next, err = c.nextPage(hdr.Get("Link")); err != nil {
			return nil, err
		}
		if page > 1000 { // 100,000 comments: something is wrong with the Link headers
			return nil, fmt.Errorf("list comments of %s#%d: more than %d pages", repo, number, page)
		}
	}
	return nil, nil
}

// CreateComment adds a comment to issue or pull request number of repo.
func (c *Client) CreateComment(ctx context.Context, repo string, number int, body string) (*Comment, error) {
	var out Comment
	_, err := c.do(ctx, http.MethodPost, c.endpoint(fmt.Sprintf("repos/%s/issues/%d/comments", repo, number)), map[string]string{"body": body}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateComment replaces the body of comment id in repo.
func (c *Client) UpdateComment(ctx context.Context, repo string, id int64, body string) (*Comment, error) {
	var out Comment
	_, err := c.do(ctx, http.MethodPatch, c.endpoint(fmt.Sprintf("repos/%s/issues/comments/%d", repo, id)), map[string]string{"body": body}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *Client) endpoint(p string) *url.URL {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + p
	return &u
}

// nextPage returns the rel="next" URL of a Link header, or nil. It must point at the same API as the client, so that
// the token never goes anywhere else.
func (c *Client) nextPage(link string) (*url.URL, error) {
	for _, part := range strings.Split(link, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok || !strings.Contains(strings.ReplaceAll(params, " ", ""), `rel="next"`) {
			continue
		}
		u, err := url.Parse(strings.Trim(strings.TrimSpace(target), "<>"))
		if err != nil {
			return nil, fmt.Errorf("link header %q: %w", link, err)
		}
		if u.Scheme != c.base.Scheme || u.Host != c.base.Host {
			return nil, fmt.Errorf("link header points at %s://%s, not at the API %s://%s", u.Scheme, u.Host, c.base.Scheme, c.base.Host)
		}
		return u, nil
	}
	return nil, nil
}

const maxAttempts = 3

// do sends one request, retrying idempotent ones (GET, PATCH) after a server error or a broken connection.
func (c *Client) do(ctx context.Context, method string, u *url.URL, in, out any) (http.Header, error) {
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return nil, err
		}
	}
	for attempt := 1; ; attempt++ {
		hdr, err, retry := c.once(ctx, method, u, payload, out)
		if err == nil || !retry || method == http.MethodPost || attempt == maxAttempts {
			return hdr, err
		}
		c.log.Warn("GitHub API request failed; retrying", "method", method, LogKeyURL, u.Redacted(), "attempt", attempt, "error", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
		}
	}
}

func (c *Client) once(ctx context.Context, method string, u *url.URL, payload []byte, out any) (hdr http.Header, err error, retry bool) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err, false
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("User-Agent", c.agent)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u.Redacted(), err), ctx.Err() == nil
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, u.Redacted(), err), true
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var msg struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(data, &msg)
		e := &APIError{Method: method, URL: u.Redacted(), Status: resp.StatusCode, Message: msg.Message}
		e.rateLimited = resp.StatusCode == http.StatusTooManyRequests ||
			(resp.StatusCode == http.StatusForbidden && (resp.Header.Get("X-RateLimit-Remaining") == "0" || strings.Contains(strings.ToLower(msg.Message), "rate limit")))
		return resp.Header, e, resp.StatusCode >= 500
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("%s %s: decode answer: %w", method, u.Redacted(), err), false
		}
	}
	return resp.Header, nil, false
}
