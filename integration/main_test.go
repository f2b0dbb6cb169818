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

// maestroBin is the maestro binary TestMain builds from ./cmd/maestro (with maestro-ops beside it), so that the
// tests cover the shipped commands.
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

// buildMaestro builds ./cmd/maestro and ./cmd/maestro-ops into dir: maestro runs maestro-ops, found beside it, for
// serve and promote. The go command puts its own GOROOT/bin first on a test's PATH.
func buildMaestro(dir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("build maestro: %w", err)
	}
	cmd := exec.Command(goBin, "build", "-o", dir+string(filepath.Separator),
		"github.com/maestro-conductor/maestro/cmd/maestro", "github.com/maestro-conductor/maestro/cmd/maestro-ops")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/maestro ./cmd/maestro-ops: %v\n%s", err, b)
	}
	return filepath.Join(dir, "maestro"), nil
}
