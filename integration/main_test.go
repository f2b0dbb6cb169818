// Package integration_test runs maestro end to end across processes: the real `maestro serve` binary for each
// region replica, each region on a PostgreSQL database of its own, one git remote served by git daemon on loopback,
// and promotions made with the promote library against an embedded transparency log shared by promoter and
// regions, as on one machine. These tests run with every `go test ./...`; they need git and PostgreSQL (see
// runtime/store/pgtest) and fail, never skip, without them.
package integration_test

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"k8s.io/klog/v2"
)

// maestroBin is the maestro binary TestMain builds from ./cmd/maestro, so that the tests cover the shipped command.
var maestroBin string

func TestMain(m *testing.M) {
	// The promoter opens the embedded log in this process: keep its klog chatter out of the test output.
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	fs.Set("logtostderr", "false")
	fs.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)

	dir, err := os.MkdirTemp("", "maestro-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	code := 1
	if maestroBin, err = buildMaestro(dir); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildMaestro builds ./cmd/maestro into dir. The go command puts its own GOROOT/bin first on a test's PATH.
func buildMaestro(dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("build maestro: %w", err)
	}
	out := filepath.Join(dir, "maestro")
	cmd := exec.Command(goBin, "build", "-o", out, "github.com/maestro-conductor/maestro/cmd/maestro")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/maestro: %v\n%s", err, b)
	}
	return out, nil
}
