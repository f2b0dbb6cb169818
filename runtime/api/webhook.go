package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// GitHub's webhook headers.
const (
	HeaderSignature = "X-Hub-Signature-256"
	HeaderEvent     = "X-GitHub-Event"
	HeaderDelivery  = "X-GitHub-Delivery"
)

// WebhookResponse is the answer to a webhook delivery that was accepted.
type WebhookResponse struct {
	// Status is "triggered" (a reconcile was asked for), "pong" (a ping) or "ignored" (another event).
	Status string `json:"status"`
	Event  string `json:"event"`
	// Ref is the pushed ref, for a push.
	Ref string `json:"ref,omitempty"`
}

// pushEvent is the part of GitHub's push event the server reads.
type pushEvent struct {
	Ref   string `json:"ref"`
	After string `json:"after"`
}

// Sign returns the X-Hub-Signature-256 value of body under secret, as the git host computes it.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// validSignature checks header against body in constant time.
func validSignature(secret, body []byte, header string) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// webhook answers POST /api/webhooks/git: a GitHub push event, signed with the shared secret, triggers a
// reconcile (202); a ping is answered 200; other events are acknowledged and ignored (200).
func (s *server) webhook(w http.ResponseWriter, r *http.Request) {
	delivery := r.Header.Get(HeaderDelivery)
	if len(s.opts.WebhookSecret) == 0 {
		s.metrics.webhooks.WithLabelValues("disabled").Inc()
		writeError(w, http.StatusForbidden, CodeWebhookDisabled,
			"this server has no webhook secret configured, so it accepts no webhook; set webhook.secretFile or webhook.secretEnv in its config")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.metrics.webhooks.WithLabelValues("bad_request").Inc()
			writeError(w, http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "the payload is larger than 25 MiB")
			return
		}
		s.metrics.webhooks.WithLabelValues("bad_request").Inc()
		writeError(w, http.StatusBadRequest, CodeBadRequest, "reading the payload: "+err.Error())
		return
	}
	sig := r.Header.Get(HeaderSignature)
	if sig == "" || !validSignature(s.opts.WebhookSecret, body, sig) {
		s.metrics.webhooks.WithLabelValues("bad_signature").Inc()
		msg := HeaderSignature + " is missing; configure the webhook with the shared secret"
		if sig != "" {
			msg = HeaderSignature + " does not match the payload; check the webhook's secret"
		}
		s.log.WarnContext(r.Context(), "webhook signature refused", LogKeyDelivery, delivery, "present", sig != "")
		writeError(w, http.StatusUnauthorized, CodeUnauthorized, msg)
		return
	}
	event := r.Header.Get(HeaderEvent)
	switch event {
	case "ping":
		s.metrics.webhooks.WithLabelValues("ping").Inc()
		writeJSON(w, http.StatusOK, WebhookResponse{Status: "pong", Event: event})
		return
	case "push":
	case "":
		s.metrics.webhooks.WithLabelValues("bad_request").Inc()
		writeError(w, http.StatusBadRequest, CodeBadRequest, HeaderEvent+" is missing; send a push event")
		return
	default:
		s.metrics.webhooks.WithLabelValues("ignored").Inc()
		writeJSON(w, http.StatusOK, WebhookResponse{Status: "ignored", Event: event})
		return
	}
	var push pushEvent
	payload := body
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		form, err := url.ParseQuery(string(body))
		if err == nil {
			payload = []byte(form.Get("payload"))
		}
	}
	if err := json.Unmarshal(payload, &push); err != nil {
		s.metrics.webhooks.WithLabelValues("bad_request").Inc()
		writeError(w, http.StatusBadRequest, CodeBadRequest, "the push payload is not JSON: "+err.Error())
		return
	}
	s.opts.Reconciler.Trigger()
	s.metrics.webhooks.WithLabelValues("triggered").Inc()
	s.log.InfoContext(r.Context(), "webhook triggered a reconcile", LogKeyDelivery, delivery, "ref", push.Ref, "after", push.After)
	writeJSON(w, http.StatusAccepted, WebhookResponse{Status: "triggered", Event: event, Ref: push.Ref})
}
