package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/maestro-conductor/maestro/runtime/api"
)

// cmdFreePort VAR sets VAR to a loopback address with a port free right now, for `maestro serve --listen`.
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	addr := ln.Addr().String()
	ts.Check(ln.Close())
	ts.Setenv(args[0], addr)
}

// httpWait bounds how long http -status and -until retry.
const httpWait = 30 * time.Second

// cmdHTTP [-status N] [-until REGEXP] [-sign SECRETFILE] [-bearer TOKENFILE] [-H NAME:VALUE]... METHOD URL [BODYFILE]
// sends a request,
// writes the response body to stdout and "status N" to stderr. -status N retries (for up to 30s) until the status
// is N, -until until the body matches REGEXP; either fails the script when it never happens. -sign adds the
// X-Hub-Signature-256 of the body under the secret in SECRETFILE, as a git host signs its webhooks; -bearer an
// Authorization header with the token in TOKENFILE.
func cmdHTTP(ts *testscript.TestScript, neg bool, args []string) {
	usage := "usage: http [-status N] [-until REGEXP] [-sign SECRETFILE] [-bearer TOKENFILE] [-H NAME:VALUE]... METHOD URL [BODYFILE]"
	if neg {
		ts.Fatalf("http does not fail: check its status with -status or stderr")
	}
	var (
		wantStatus int
		until      *regexp.Regexp
		secret     []byte
		headers    [][2]string
	)
	for len(args) > 1 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-status":
			n, err := strconv.Atoi(args[1])
			ts.Check(err)
			wantStatus = n
		case "-until":
			re, err := regexp.Compile(args[1])
			ts.Check(err)
			until = re
		case "-sign":
			secret = bytes.TrimRight([]byte(ts.ReadFile(args[1])), "\n")
		case "-bearer":
			headers = append(headers, [2]string{"Authorization", "Bearer " + strings.TrimSpace(ts.ReadFile(args[1]))})
		case "-H":
			k, v, ok := strings.Cut(args[1], ":")
			if !ok {
				ts.Fatalf("%s", usage)
			}
			headers = append(headers, [2]string{k, strings.TrimSpace(v)})
		default:
			ts.Fatalf("%s", usage)
		}
		args = args[2:]
	}
	if len(args) != 2 && len(args) != 3 {
		ts.Fatalf("%s", usage)
	}
	var body []byte
	if len(args) == 3 {
		body = []byte(ts.ReadFile(args[2]))
	}
	deadline := time.Now().Add(httpWait)
	client := &http.Client{Timeout: 10 * time.Second}
	for {
		req, err := http.NewRequest(args[0], args[1], bytes.NewReader(body))
		ts.Check(err)
		for _, h := range headers {
			req.Header.Set(h[0], h[1])
		}
		if secret != nil {
			req.Header.Set(api.HeaderSignature, api.Sign(secret, body))
		}
		status, got, err := roundTrip(client, req)
		done := err == nil && (wantStatus == 0 || status == wantStatus) && (until == nil || until.Match(got))
		if done || time.Now().After(deadline) {
			if err != nil {
				ts.Fatalf("%s %s: %v", args[0], args[1], err)
			}
			fmt.Fprintf(ts.Stdout(), "%s", got)
			fmt.Fprintf(ts.Stderr(), "status %d\n", status)
			if !done {
				ts.Fatalf("%s %s: status %d, body %s: gave up after %s", args[0], args[1], status, got, httpWait)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func roundTrip(client *http.Client, req *http.Request) (int, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}
