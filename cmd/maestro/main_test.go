package main

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/maestro-conductor/maestro/internal/cli"
	"github.com/maestro-conductor/maestro/internal/opscli"
	"github.com/maestro-conductor/maestro/internal/testtools"
)

func TestMain(m *testing.M) {
	testscript.Main(cleanupAfter{m}, map[string]func(){
		"maestro": func() { runMain(nil) },
		// maestro runs maestro-ops for promote, verify, keys, log, serve and status: found on PATH in the scripts.
		"maestro-ops": func() { runMain(opscli.Ops()) },
	})
}

// runMain is main of maestro (ops nil) or maestro-ops. As in main, SIGINT and SIGTERM cancel the context, so that
// `kill -INT` tests a graceful stop.
func runMain(ops *cli.Ops) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, ops)
	stop()
	os.Exit(code)
}

// cleanupAfter removes the programs testtools built (cosign, rekor-server) once the tests have run: testscript.Main
// exits the process itself.
type cleanupAfter struct{ m *testing.M }

func (c cleanupAfter) Run() int {
	code := c.m.Run()
	testtools.Cleanup()
	return code
}

// scriptT is the key of the script's testscript.T in Env.Values, for failing a test from a ts.Defer function,
// where ts.Fatalf cannot be used.
type scriptT struct{}

// TestScript runs the end-to-end CLI scripts in testdata/script against real git repositories built by the scripts.
func TestScript(t *testing.T) {
	examples, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Values[scriptT{}] = env.T()
			env.Setenv("EXAMPLES", examples)
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("GIT_CONFIG_NOSYSTEM", "1")
			env.Setenv("GIT_AUTHOR_NAME", "maestro test")
			env.Setenv("GIT_AUTHOR_EMAIL", "test@maestro.invalid")
			env.Setenv("GIT_COMMITTER_NAME", "maestro test")
			env.Setenv("GIT_COMMITTER_EMAIL", "test@maestro.invalid")
			env.Setenv("NO_COLOR", "")
			return nil
		},
		UpdateScripts: os.Getenv("MAESTRO_UPDATE") != "",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// bigfile NAME BYTES makes a sparse file of that size: big on paper, cheap on disk.
			"bigfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: bigfile NAME BYTES")
				}
				n, err := strconv.ParseInt(args[1], 10, 64)
				ts.Check(err)
				f, err := os.Create(ts.MkAbs(args[0]))
				ts.Check(err)
				ts.Check(f.Truncate(n))
				ts.Check(f.Close())
			},
			// github, mdcheck and genworkflows: the fake GitHub API and helpers of the ci_*.txtar scripts
			// (fakegithub_test.go).
			"github":       cmdGitHub,
			"mdcheck":      cmdMDCheck,
			"genworkflows": cmdGenWorkflows,
			"rekor-server": cmdRekorServer,
			"cosign":       cmdCosign,
			"capture":      cmdCapture,
			// lonely DIR copies maestro alone into DIR, for running it where maestro-ops is not installed.
			"lonely": cmdLonely,
			// freeport and http: serve.txtar's listen address and HTTP requests (serve_test.go).
			"freeport": cmdFreePort,
			"http":     cmdHTTP,
			// hexfile NAME HEX writes raw bytes, for input that is not text.
			"hexfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: hexfile NAME HEX")
				}
				b, err := hex.DecodeString(args[1])
				ts.Check(err)
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
			},
		},
	})
}

// cmdRekorServer KEYFILE starts a real rekor-tiles POSIX server (tools/rekor/go.mod, built once per test binary) on
// loopback for the rest of the script, writes its checkpoint public key (PEM) to KEYFILE and sets REKOR_URL (the
// write API), REKOR_TILES_URL (its storage directory over HTTP) and REKOR_ORIGIN.
func cmdRekorServer(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! rekor-server")
	}
	if len(args) != 1 {
		ts.Fatalf("usage: rekor-server KEYFILE")
	}
	dir, err := os.MkdirTemp("", "maestro-rekor-")
	ts.Check(err)
	r, err := testtools.NewRekor(dir)
	if err != nil {
		os.RemoveAll(dir)
		ts.Fatalf("%v", err)
	}
	ts.Defer(func() {
		err := r.Stop()
		if out := r.Output(); out != "" {
			ts.Logf("[rekor-server output]\n%s", out)
		}
		os.RemoveAll(dir)
		if err != nil {
			ts.Value(scriptT{}).(testscript.T).Fatal("stop rekor-server: ", err)
		}
	})
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), r.PublicKeyPEM, 0o644))
	ts.Setenv("REKOR_URL", r.URL)
	ts.Setenv("REKOR_TILES_URL", r.TilesURL)
	ts.Setenv("REKOR_ORIGIN", r.Origin)
}

// cmdCosign ARGS... runs the cosign CLI (tools/go.mod, built once per test binary) like exec, in the script's
// environment with the additions that keep it offline (testtools.CosignEnv, home $WORK).
func cmdCosign(ts *testscript.TestScript, neg bool, args []string) {
	bin, err := testtools.Cosign.Path()
	ts.Check(err)
	var saved []string
	for _, kv := range testtools.CosignEnv(ts.Getenv("WORK")) {
		k, v, _ := strings.Cut(kv, "=")
		saved = append(saved, k+"="+ts.Getenv(k))
		ts.Setenv(k, v)
	}
	err = ts.Exec(bin, args...)
	for _, kv := range saved {
		k, v, _ := strings.Cut(kv, "=")
		ts.Setenv(k, v)
	}
	var exit *exec.ExitError
	switch {
	case err != nil && !errors.As(err, &exit):
		ts.Fatalf("cosign did not run: %v", err)
	case err != nil && !neg:
		ts.Fatalf("unexpected cosign failure: %v", err)
	case err == nil && neg:
		ts.Fatalf("unexpected cosign success")
	}
}

// cmdCapture VAR REGEXP FILE sets VAR to the first submatch of REGEXP (multi-line mode) in FILE, which may be stdout
// or stderr of the last command.
func cmdCapture(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! capture")
	}
	if len(args) != 3 {
		ts.Fatalf("usage: capture VAR REGEXP FILE")
	}
	re, err := regexp.Compile("(?m)" + args[1])
	ts.Check(err)
	if re.NumSubexp() < 1 {
		ts.Fatalf("capture: %q has no group to capture", args[1])
	}
	m := re.FindStringSubmatch(ts.ReadFile(args[2]))
	if m == nil {
		ts.Fatalf("capture: no match for %q in %s", args[1], args[2])
	}
	ts.Setenv(args[0], m[1])
}

// cmdLonely DIR copies the maestro on the script's PATH into DIR, with no maestro-ops beside it. It is a copy, not
// a link: maestro looks for maestro-ops beside its own file, links resolved.
func cmdLonely(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: lonely DIR")
	}
	var src string
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		if p := filepath.Join(dir, "maestro"); fileExists(p) {
			src = p
			break
		}
	}
	if src == "" {
		ts.Fatalf("no maestro on PATH")
	}
	data, err := os.ReadFile(src)
	ts.Check(err)
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o755))
	ts.Check(os.WriteFile(filepath.Join(dir, "maestro"), data, 0o755))
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
