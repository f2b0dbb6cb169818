package api

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/promote"
	"github.com/maestro-conductor/maestro/workflow"
)

// PromoteRequest is the body of POST /api/workflows/{name}/promote.
type PromoteRequest struct {
	// Version is the version to promote, MAJOR.MINOR.PATCH.
	Version string `json:"version"`
	// Ref is the commit, branch or tag to promote; "" means the remote's default branch.
	Ref string `json:"ref,omitempty"`
	// Freeze makes the version immutable everywhere.
	Freeze bool `json:"freeze"`
}

// PromoteResponse is the answer to a promotion made.
type PromoteResponse struct {
	Workflow  string `json:"workflow"`
	Version   string `json:"version"`
	Tag       string `json:"tag"`
	TagObject string `json:"tagObject"`
	Digest    string `json:"digest"`
	Commit    string `json:"commit"`
	Frozen    bool   `json:"frozen"`
	Promoter  string `json:"promoter"`
	LogIndex  int64  `json:"logIndex"`
	Pushed    bool   `json:"pushed"`
}

// maxRefLen bounds the ref of a promotion request.
const maxRefLen = 1024

func (s *server) promote(w http.ResponseWriter, r *http.Request) {
	name, err := pathName(r)
	if err != nil {
		s.handle(w, r, err)
		return
	}
	if s.opts.Promoter == nil {
		s.metrics.promotions.WithLabelValues("disabled").Inc()
		writeError(w, http.StatusForbidden, CodePromotionDisabled,
			"this server holds no promotion key, so it cannot promote; promote with `maestro promote`, or give the server a promotion: section (key file and push remote) in its config")
		return
	}
	if !validBearer(s.opts.PromoteToken, r.Header.Get("Authorization")) {
		s.metrics.promotions.WithLabelValues("unauthorized").Inc()
		s.log.WarnContext(r.Context(), "promotion request refused: no valid bearer token", "workflow", name)
		w.Header().Set("WWW-Authenticate", `Bearer realm="maestro promote"`)
		writeError(w, http.StatusUnauthorized, CodeUnauthorized,
			"promotion needs the server's promotion token: send Authorization: Bearer TOKEN")
		return
	}
	req, err := decodePromoteRequest(w, r)
	if err != nil {
		s.handle(w, r, err)
		return
	}
	res, err := s.opts.Promoter.Promote(r.Context(), name, req.Version, req.Ref, req.Freeze)
	if err != nil {
		s.promoteError(w, r, name, req, err)
		return
	}
	s.metrics.promotions.WithLabelValues("promoted").Inc()
	s.log.InfoContext(r.Context(), "promoted through the API", "tag", res.Tag, "digest", res.Record.Digest, "pushed", res.Pushed)
	// The region applies its own promotion as soon as it can, like any other.
	s.opts.Reconciler.Trigger()
	w.Header().Set("Location", "/api/workflows/"+name+"/versions/"+res.Record.Version)
	writeJSON(w, http.StatusCreated, PromoteResponse{Workflow: res.Record.Workflow, Version: res.Record.Version, Tag: res.Tag,
		TagObject: res.TagObject, Digest: string(res.Record.Digest), Commit: res.Record.Commit, Frozen: res.Record.Frozen,
		Promoter: res.Record.Promoter, LogIndex: res.LogIndex, Pushed: res.Pushed})
}

func decodePromoteRequest(w http.ResponseWriter, r *http.Request) (PromoteRequest, error) {
	var req PromoteRequest
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return req, errorf(http.StatusBadRequest, CodeBadRequest, "the body must be JSON (Content-Type: application/json), not %s", ct)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxPromoteBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, bodyError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return req, bodyError(err)
		}
		return req, errorf(http.StatusBadRequest, CodeBadRequest, "the body holds more than one JSON value")
	}
	if req.Version == "" {
		return req, errorf(http.StatusBadRequest, CodeBadRequest, `"version" is required, e.g. {"version": "1.2.0", "freeze": true}`)
	}
	v, err := checkVersion("version", req.Version)
	if err != nil {
		return req, err
	}
	req.Version = v
	if len(req.Ref) > maxRefLen || strings.ContainsAny(req.Ref, " \t\n\x00") {
		return req, errorf(http.StatusBadRequest, CodeBadRequest, "%q is not a git ref", req.Ref)
	}
	return req, nil
}

// validBearer checks an Authorization header against the token in constant time; an empty token matches nothing.
func validBearer(token []byte, header string) bool {
	got, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || len(token) == 0 {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), token) == 1
}

// bodyError turns a JSON decoding error into the answer for it.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return errorf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "the body is larger than %d bytes", mbe.Limit)
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, CodeBadRequest, `the body is empty; send {"version": "1.2.0"}`)
	case errors.As(err, &se):
		return errorf(http.StatusBadRequest, CodeBadRequest, "the body is not JSON: %v (at byte %d)", se, se.Offset)
	case errors.As(err, &te):
		return errorf(http.StatusBadRequest, CodeBadRequest, "field %q must be a %s", te.Field, te.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return errorf(http.StatusBadRequest, CodeBadRequest, "%s; the fields are version, ref and freeze", strings.TrimPrefix(err.Error(), "json: "))
	}
	return errorf(http.StatusBadRequest, CodeBadRequest, "the body is not valid JSON: %v", err)
}

// promoteError maps a promoter's error to the answer.
func (s *server) promoteError(w http.ResponseWriter, r *http.Request, name string, req PromoteRequest, err error) {
	var refusal *promote.Refusal
	result := "failed"
	defer func() { s.metrics.promotions.WithLabelValues(result).Inc() }()
	switch {
	case errors.As(err, &refusal):
		result = "refused"
		writeError(w, http.StatusConflict, CodePromotionRefused, refusal.Error())
	case errors.Is(err, ErrWorkflowNotFound):
		result = "refused"
		writeError(w, http.StatusNotFound, CodeWorkflowNotFound, err.Error())
	case errors.Is(err, gitrepo.ErrUnknownRef):
		result = "refused"
		writeError(w, http.StatusUnprocessableEntity, CodeUnknownRef, err.Error())
	case isWorkflowError(err):
		result = "refused"
		writeError(w, http.StatusUnprocessableEntity, CodeInvalidWorkflow, err.Error())
	case errors.Is(err, ErrPushDenied), errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		result = "denied"
		s.log.WarnContext(r.Context(), "promotion push denied", "workflow", name, "version", req.Version, LogKeyError, err)
		writeError(w, http.StatusForbidden, CodePushDenied,
			fmt.Sprintf("this server has no push rights on the remote: %v", err))
	case errors.Is(err, gitrepo.ErrRejected):
		writeError(w, http.StatusConflict, CodePushRejected, err.Error())
	default:
		s.log.ErrorContext(r.Context(), "promotion failed", "workflow", name, "version", req.Version, LogKeyError, err)
		writeError(w, http.StatusBadGateway, CodePromotionFailed, "the promotion failed: "+err.Error())
	}
}

func isWorkflowError(err error) bool {
	for _, e := range []error{workflow.ErrInvalid, workflow.ErrSyntax, workflow.ErrTooLarge, workflow.ErrAliasExpansion,
		workflow.ErrNotUTF8, workflow.ErrDuplicate, workflow.ErrOutsideRoot} {
		if errors.Is(err, e) {
			return true
		}
	}
	var list workflow.ErrorList
	return errors.As(err, &list)
}
