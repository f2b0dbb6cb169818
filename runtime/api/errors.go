package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Code is an error's stable, machine-readable code. Messages may change; codes do not.
type Code string

// Error codes, by status.
const (
	CodeBadRequest        Code = "bad_request"        // 400: malformed query, body or path parameter
	CodeUnauthorized      Code = "unauthorized"       // 401: webhook signature missing or wrong
	CodePromotionDisabled Code = "promotion_disabled" // 403: this server holds no promotion key
	CodePushDenied        Code = "push_denied"        // 403: the remote refused this server's push
	CodeWebhookDisabled   Code = "webhook_disabled"   // 403: no webhook secret configured
	CodeNotFound          Code = "not_found"          // 404: no such route
	CodeWorkflowNotFound  Code = "workflow_not_found" // 404: no such workflow applied (or, to promote, at the ref)
	CodeVersionNotFound   Code = "version_not_found"  // 404: no such version applied
	CodeMethodNotAllowed  Code = "method_not_allowed" // 405
	CodePromotionRefused  Code = "promotion_refused"  // 409: maestro will not make this promotion
	CodePushRejected      Code = "push_rejected"      // 409: the remote rejected the tag
	CodeBodyTooLarge      Code = "body_too_large"     // 413
	CodeUnknownRef        Code = "unknown_ref"        // 422: the ref to promote does not exist
	CodeInvalidWorkflow   Code = "invalid_workflow"   // 422: the workflow at the ref does not parse or validate
	CodeInternal          Code = "internal"           // 500
	CodePromotionFailed   Code = "promotion_failed"   // 502: git or the transparency log failed during a promotion
	CodeStoreUnavailable  Code = "store_unavailable"  // 503: the region store failed
	CodeNotReady          Code = "not_ready"          // 503: /readyz
)

// ErrorBody is the JSON of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong.
type ErrorDetail struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// httpError is an error with its status and code, returned by helpers to handlers.
type httpError struct {
	status int
	code   Code
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, code Code, format string, args ...any) *httpError {
	return &httpError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away: nothing to do
}

func writeError(w http.ResponseWriter, status int, code Code, msg string) {
	if status == http.StatusMethodNotAllowed && w.Header().Get("Allow") == "" {
		w.Header().Set("Allow", "GET, HEAD")
	}
	writeJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: msg}})
}

// fail writes err: its own status when it is an *httpError, a 503 for the store, else a logged 500.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	if errors.As(err, &he) {
		writeError(w, he.status, he.code, he.msg)
		return
	}
	s.log.ErrorContext(r.Context(), "request failed", LogKeyMethod, r.Method, LogKeyPath, r.URL.Path, LogKeyError, err)
	writeError(w, http.StatusInternalServerError, CodeInternal, "internal error; the server logged it")
}

// storeError is the answer to a store failure other than ErrNotFound: the region store is unavailable.
func (s *server) storeError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "store failed", LogKeyMethod, r.Method, LogKeyPath, r.URL.Path, LogKeyError, err)
	w.Header().Set("Retry-After", "5")
	writeError(w, http.StatusServiceUnavailable, CodeStoreUnavailable, "the region store is unavailable; retry later")
}
