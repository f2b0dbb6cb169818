// Package gittest gives tests the real git CLI: an environment isolated from the machine's git configuration, a
// command runner, and git daemon serving bare repositories on loopback. It is imported by tests only.
package gittest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Identity of the commits and tags made with Env.
const (
	Name  = "t"
	Email = "t@example.com"
)

// Env is the environment of a git command: the process's own without any GIT_ variable, with no global or system
// configuration and a fixed author and committer.
func Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	return append(env, "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME="+Name, "GIT_AUTHOR_EMAIL="+Email, "GIT_COMMITTER_NAME="+Name, "GIT_COMMITTER_EMAIL="+Email)
}

// Require fails tb unless the git CLI is on PATH.
func Require(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Fatalf("git is required by this test (package git): %v", err)
	}
}

// Run runs git with args in dir under Env and returns its output, trimmed; it fails tb when git fails.
func Run(tb testing.TB, dir string, args ...string) string {
	tb.Helper()
	out, err := Try(dir, args...)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// Try is Run for a git command that may fail: the error carries git's output.
func Try(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = Env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// DaemonOptions configure Daemon.
type DaemonOptions struct {
	// ReceivePack lets clients push (git daemon --enable=receive-pack); without it the daemon only serves fetches.
	ReceivePack bool
}

// Daemon serves every repository under base with git daemon on a free loopback port until the test ends, and
// returns the git:// URL of base (a repository base/remote.git is URL + "/remote.git") and a function that stops
// the daemon early. Stopping kills the daemon's whole process group, connections included.
func Daemon(tb testing.TB, base string, opts DaemonOptions) (url string, stop func()) {
	tb.Helper()
	Require(tb)
	// A port free when chosen can be taken before the daemon binds it: try another.
	var err error
	for range 3 {
		if url, stop, err = startDaemon(tb, base, opts); err == nil {
			return url, stop
		}
	}
	tb.Fatal(err)
	return "", nil
}

func startDaemon(tb testing.TB, base string, opts DaemonOptions) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	execPath, err := Try(base, "--exec-path")
	if err != nil {
		return "", nil, err
	}
	// git-daemon itself rather than "git daemon", whose child would outlive a kill.
	args := []string{"--reuseaddr", "--base-path=" + base, "--export-all", "--listen=127.0.0.1", fmt.Sprintf("--port=%d", port)}
	if opts.ReceivePack {
		args = append(args, "--enable=receive-pack")
	}
	cmd := exec.Command(filepath.Join(execPath, "git-daemon"), append(args, base)...)
	cmd.Env = Env()
	// git-daemon forks a process per connection: a group, so that none survives.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			// The daemon first, so that it reaps its connections; then anything left in its group.
			cmd.Process.Signal(syscall.SIGTERM)
			<-done
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		})
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-done:
			once.Do(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
			return "", nil, fmt.Errorf("git daemon on %s exited: %v\n%s", addr, err, stderr.String())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			tb.Cleanup(stop)
			return "git://" + addr, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, errors.Join(fmt.Errorf("git daemon did not listen on %s within 10s", addr), err,
				errors.New(stderr.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
