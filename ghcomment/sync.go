package ghcomment

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Action is what Sync did.
type Action string

// Actions of Sync.
const (
	Created Action = "created"
	Updated Action = "updated"
	// Skipped: nothing to say, and no earlier comment to correct.
	Skipped Action = "skipped"
)

// Target is the comment to keep up to date.
type Target struct {
	// Repo is "owner/name"; Number the pull request's number.
	Repo   string
	Number int
	// Marker starts the body of the comment and finds it again; empty means DefaultMarker.
	Marker string
}

// Sync makes the pull request's marked comment say body: it edits the comment an earlier run left, or creates one.
// When body is empty there is nothing to report: an earlier comment is replaced by quiet (so that it no longer
// shows changes that are gone), and none is created. The marker is prepended to body and quiet when missing.
//
// An error matches ErrForbidden when the token may not write (a fork's pull request, say); nothing was changed then.
func (c *Client) Sync(ctx context.Context, t Target, body, quiet string) (Action, *Comment, error) {
	marker := t.Marker
	if marker == "" {
		marker = DefaultMarker
	}
	old, err := c.FindComment(ctx, t.Repo, t.Number, marker)
	if err != nil {
		return "", nil, fmt.Errorf("find the earlier comment on %s#%d: %w", t.Repo, t.Number, err)
	}
	if body == "" {
		if old == nil {
			return Skipped, nil, nil
		}
		body = quiet
	}
	if !strings.HasPrefix(body, marker) {
		body = marker + "\n" + body
	}
	if old != nil {
		if old.Body == body {
			return Updated, old, nil
		}
		cm, err := c.UpdateComment(ctx, t.Repo, old.ID, body)
		if err != nil {
			return "", nil, fmt.Errorf("update comment %d on %s#%d: %w", old.ID, t.Repo, t.Number, err)
		}
		return Updated, cm, nil
	}
	cm, err := c.CreateComment(ctx, t.Repo, t.Number, body)
	if err != nil {
		return "", nil, fmt.Errorf("comment on %s#%d: %w", t.Repo, t.Number, err)
	}
	return Created, cm, nil
}

// PullRequest is what an Actions event payload says about its pull request.
type PullRequest struct {
	Number   int
	BaseSHA  string
	HeadSHA  string
	BaseRepo string // owner/name the pull request targets
	HeadRepo string // owner/name the changes come from
}

// FromFork reports whether the changes come from another repository: on a pull_request event such a run gets a
// read-only token and may not comment.
func (p PullRequest) FromFork() bool { return p.HeadRepo != "" && p.HeadRepo != p.BaseRepo }

// ParseEvent reads the pull request from an Actions event payload (the file GITHUB_EVENT_PATH names). It returns
// ErrNotPullRequest for a payload without one (a push, say).
func ParseEvent(r io.Reader) (PullRequest, error) {
	type repo struct {
		FullName string `json:"full_name"`
	}
	type ref struct {
		SHA  string `json:"sha"`
		Repo *repo  `json:"repo"`
	}
	var ev struct {
		Number      int `json:"number"`
		PullRequest *struct {
			Number int `json:"number"`
			Base   ref `json:"base"`
			Head   ref `json:"head"`
		} `json:"pull_request"`
	}
	if err := json.NewDecoder(io.LimitReader(r, 64<<20)).Decode(&ev); err != nil {
		return PullRequest{}, fmt.Errorf("event payload: %w", err)
	}
	if ev.PullRequest == nil {
		return PullRequest{}, ErrNotPullRequest
	}
	pr := PullRequest{Number: ev.PullRequest.Number, BaseSHA: ev.PullRequest.Base.SHA, HeadSHA: ev.PullRequest.Head.SHA}
	if pr.Number == 0 {
		pr.Number = ev.Number
	}
	if ev.PullRequest.Base.Repo != nil {
		pr.BaseRepo = ev.PullRequest.Base.Repo.FullName
	}
	if ev.PullRequest.Head.Repo != nil {
		pr.HeadRepo = ev.PullRequest.Head.Repo.FullName
	} else {
		pr.HeadRepo = "(deleted)" // the fork was deleted: certainly not the base repository
	}
	return pr, nil
}

// Output is one step output.
type Output struct{ Name, Value string }

// WriteOutputs writes step outputs in the format of the file GITHUB_OUTPUT names: name=value, or a heredoc with a
// random delimiter for a value that spans lines.
func WriteOutputs(w io.Writer, outs []Output) error {
	var b strings.Builder
	for _, o := range outs {
		if strings.ContainsAny(o.Name, "=\n<") || o.Name == "" {
			return fmt.Errorf("step output name %q", o.Name)
		}
		if !strings.ContainsAny(o.Value, "\r\n") {
			fmt.Fprintf(&b, "%s=%s\n", o.Name, o.Value)
			continue
		}
		var r [12]byte
		if _, err := rand.Read(r[:]); err != nil {
			return err
		}
		delim := "ghadelimiter_" + hex.EncodeToString(r[:])
		fmt.Fprintf(&b, "%s<<%s\n%s\n%s\n", o.Name, delim, o.Value, delim)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
