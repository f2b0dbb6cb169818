// Package testtools gives tests the real third-party programs maestro is checked against: the cosign CLI and the
// rekor-tiles POSIX server, each built from the version pinned in the repository's tools modules, once per test
// process, and run on loopback only.
//
// A test binary that uses it calls Cleanup after m.Run, from TestMain, to remove the built programs:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		testtools.Cleanup()
//		os.Exit(code)
//	}
package testtools

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// modulePath is the main module, whose root holds the tools modules.
const modulePath = "github.com/maestro-conductor/maestro"

// Tool is a program built with `go build` from a module under the repository's tools directory.
type Tool struct {
	name   string // the binary's file name
	modDir string // the tools module, relative to the repository root
	pkg    string // the main package to build

	once   sync.Once
	path   string
	took   time.Duration
	err    error
	logged atomic.Bool
}

var (
	// Cosign is the cosign CLI pinned in tools/go.mod.
	Cosign = &Tool{name: "cosign", modDir: "tools", pkg: "github.com/sigstore/cosign/v2/cmd/cosign"}
	// RekorServer is the rekor-tiles POSIX server pinned in tools/rekor/go.mod.
	RekorServer = &Tool{name: "rekor-server", modDir: filepath.Join("tools", "rekor"),
		pkg: "github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix"}

	binDir struct {
		sync.Mutex
		path string
	}
)

// Binary returns the path of the built program, building it on first use; it fails the test if the build fails.
func (b *Tool) Binary(t testing.TB) string {
	t.Helper()
	path, err := b.Path()
	if err != nil {
		t.Fatal(err)
	}
	if !b.logged.Swap(true) {
		t.Logf("%s built in %v (once per test binary)", b.name, b.took.Round(time.Millisecond))
	}
	return path
}

// Path is Binary for callers without a testing.TB (testscript commands): it returns the build's error.
func (b *Tool) Path() (string, error) {
	b.once.Do(func() {
		start := time.Now()
		b.path, b.err = b.build()
		b.took = time.Since(start)
	})
	return b.path, b.err
}

func (b *Tool) build() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := binaries()
	if err != nil {
		return "", err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("build %s: %w", b.name, err)
	}
	modDir := filepath.Join(root, b.modDir)
	// Test binaries of several packages run at once, and a first build on a machine compiles the tool's whole
	// dependency tree (minutes). Builds of one tool take turns, so the second finds Go's build cache warm and only
	// links.
	unlock, err := lockFile(filepath.Join(os.TempDir(), fmt.Sprintf("maestro-testtools-%d-%s.lock", os.Getuid(), b.name)))
	if err != nil {
		return "", fmt.Errorf("build %s: %w", b.name, err)
	}
	defer unlock()
	path := filepath.Join(dir, b.name)
	cmd := exec.Command(goBin, "build", "-modfile="+filepath.Join(modDir, "go.mod"), "-o", path, b.pkg)
	cmd.Dir = modDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s (%s): %v\n%s", b.pkg, filepath.Join(b.modDir, "go.mod"), err, out)
	}
	return path, nil
}

// binaries returns the directory the programs are built into, made on first use.
func binaries() (string, error) {
	binDir.Lock()
	defer binDir.Unlock()
	if binDir.path == "" {
		dir, err := os.MkdirTemp("", "maestro-testtools-")
		if err != nil {
			return "", err
		}
		binDir.path = dir
	}
	return binDir.path, nil
}

// Cleanup removes the programs this process built. Call it from TestMain once m.Run has returned.
func Cleanup() {
	binDir.Lock()
	defer binDir.Unlock()
	if binDir.path != "" {
		os.RemoveAll(binDir.path)
		binDir.path = ""
	}
}

// moduleRoot finds the main module's root above the working directory, where go test runs a package's tests.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isMainModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of " + modulePath + " above the working directory")
		}
		dir = parent
	}
}

func isMainModule(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if line := strings.TrimSpace(s.Text()); strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module ")) == modulePath
		}
	}
	return false
}

// lockFile takes an exclusive lock on path, shared by every process on the machine, and returns its release.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
