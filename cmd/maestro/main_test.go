package main

import (
	"context"
	"encoding/hex"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/maestro-conductor/maestro/internal/cli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		// As in main: SIGINT and SIGTERM cancel the context, so that `kill -INT` tests a graceful stop.
		"maestro": func() {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
			stop()
			os.Exit(code)
		},
	})
}

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
