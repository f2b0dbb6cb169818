package api

import (
	"bytes"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
)

// routeUnmatched labels the metrics of requests no route matched.
const routeUnmatched = "unmatched"

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// middleware wraps the mux: request metrics, panics recovered into a logged 500, and the mux's own 404 and 405
// answers rewritten as JSON errors.
func (s *server) middleware(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		_, pattern := mux.Handler(r)
		route := routeUnmatched
		if _, path, ok := strings.Cut(pattern, " "); ok {
			route = path
		} else if pattern != "" {
			route = pattern
		}
		sw := &statusWriter{ResponseWriter: w}
		s.metrics.inFlight.Inc()
		defer func() {
			s.metrics.inFlight.Dec()
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "handler panicked", LogKeyMethod, r.Method, LogKeyPath, r.URL.Path,
					LogKeyError, fmt.Sprint(v), "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeError(sw, http.StatusInternalServerError, CodeInternal, "internal error; the server logged it")
				} else {
					// The answer had begun: the client sees a truncated body, the metrics a 500.
					sw.status = http.StatusInternalServerError
				}
			}
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			s.metrics.observe(route, r.Method, sw.status, time.Since(start))
		}()
		if pattern == "" {
			s.unmatched(sw, r, mux)
			return
		}
		mux.ServeHTTP(sw, r)
	})
}

// captureWriter records what the mux's fallback handlers write.
type captureWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (c *captureWriter) Header() http.Header { return c.header }
func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}
func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if c.body.Len() < 4096 {
		c.body.Write(b)
	}
	return len(b), nil
}

// unmatched answers a request no pattern matched. The mux decides between 404, 405 (with its Allow header) and a
// redirect to the canonical path; 404 and 405 become JSON errors.
func (s *server) unmatched(w http.ResponseWriter, r *http.Request, mux *http.ServeMux) {
	c := &captureWriter{header: http.Header{}}
	mux.ServeHTTP(c, r)
	switch c.status {
	case http.StatusNotFound:
		writeError(w, http.StatusNotFound, CodeNotFound, fmt.Sprintf("no such endpoint: %s; docs/openapi.yaml lists them", r.URL.Path))
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", c.header.Get("Allow"))
		writeError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed,
			fmt.Sprintf("%s does not take %s; it takes %s", r.URL.Path, r.Method, c.header.Get("Allow")))
	default:
		for k, v := range c.header {
			w.Header()[k] = v
		}
		w.WriteHeader(c.status)
		_, _ = w.Write(c.body.Bytes())
	}
}
