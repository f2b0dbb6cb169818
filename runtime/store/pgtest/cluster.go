//go:build unix

package pgtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cluster is a throwaway PostgreSQL server: a data directory made by initdb and a postgres process on loopback.
type cluster struct {
	dir    string // temporary; holds data/, the socket and the log
	admin  string // DSN of the postgres database as user postgres
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // how the process ended, once exited is closed
}

var shared struct {
	mu   sync.Mutex
	c    *cluster
	refs int
}

// sharedCluster returns the test binary's throwaway cluster, starting it if none runs, and holds it until t ends.
func sharedCluster(t testing.TB) (*cluster, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.c == nil {
		c, err := startCluster()
		if err != nil {
			return nil, err
		}
		t.Logf("pgtest: started a throwaway PostgreSQL cluster in %s", c.dir)
		shared.c = c
	}
	c := shared.c
	shared.refs++
	t.Cleanup(func() {
		shared.mu.Lock()
		shared.refs--
		last := shared.refs == 0 && shared.c == c
		if last {
			shared.c = nil
		}
		shared.mu.Unlock()
		if last {
			if err := c.stop(); err != nil {
				t.Errorf("pgtest: stop cluster: %v", err)
			}
		}
	})
	return c, nil
}

// binary finds a PostgreSQL server program: on PATH, else in the newest /usr/lib/postgresql/*/bin.
func binary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s is not on PATH nor under /usr/lib/postgresql/*/bin (install PostgreSQL's server package)", name)
}

func versionOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func startCluster() (*cluster, error) {
	initdb, err := binary("initdb")
	if err != nil {
		return nil, err
	}
	postgres, err := binary("postgres")
	if err != nil {
		return nil, err
	}
	// PostgreSQL refuses to run as root: as root, run it as the postgres user, who must be able to reach the dir.
	var cred *syscall.Credential
	base := os.TempDir()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, and no postgres user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if fi, err := os.Stat(base); err != nil || fi.Mode().Perm()&0o001 == 0 {
			base = "/tmp"
		}
	}
	sweep(base)
	dir, err := os.MkdirTemp(base, "maestro-pgtest-")
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir, exited: make(chan struct{})}
	fail := func(err error) (*cluster, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(err)
		}
	}
	data := filepath.Join(dir, "data")
	cmd := exec.Command(initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")
	cmd.Dir = dir
	cmd.SysProcAttr = procAttr(cred)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v\n%s", err, out))
	}
	var lastErr error
	for range 3 { // a free port can be taken between choosing it and binding it
		port, err := freePort()
		if err != nil {
			return fail(err)
		}
		if err := c.start(postgres, data, port, cred); err != nil {
			lastErr = err
			continue
		}
		return c, nil
	}
	return fail(lastErr)
}

// sweep removes the directories of clusters whose test binary was killed: the server died with it (procAttr), the
// directory stayed. A directory is left alone while its server runs, and for a while after it was made, in case
// another test binary is still running initdb in it.
func sweep(base string) {
	dirs, _ := filepath.Glob(filepath.Join(base, "maestro-pgtest-*"))
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil || time.Since(fi.ModTime()) < 10*time.Minute {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(d, "data", "postmaster.pid")); err == nil {
			first, _, _ := bytes.Cut(b, []byte("\n"))
			if pid, err := strconv.Atoi(string(bytes.TrimSpace(first))); err == nil && alive(pid) {
				continue
			}
		}
		os.RemoveAll(d)
	}
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs postgres on port and waits until it takes connections.
func (c *cluster) start(postgres, data string, port int, cred *syscall.Credential) error {
	logPath := filepath.Join(c.dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(postgres, "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+c.dir,
		// A test server: durability buys nothing, speed does.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200")
	cmd.Dir = c.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The server is a child of the test binary, not a daemon, so it dies with it (procAttr on Linux).
	cmd.SysProcAttr = procAttr(cred)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	c.cmd = cmd
	c.exited = make(chan struct{})
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	c.admin = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-c.exited:
			return fmt.Errorf("postgres exited (%v):\n%s", c.err, tail(logPath))
		default:
		}
		if err := ping(c.admin); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			c.kill()
			return fmt.Errorf("postgres did not take connections within a minute: %v\n%s", err, tail(logPath))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop shuts the server down (fast: disconnect clients, checkpoint) and removes its directory.
func (c *cluster) stop() error {
	var err error
	if c.cmd != nil && c.cmd.Process != nil {
		c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.exited:
		case <-time.After(30 * time.Second):
			c.kill()
			err = errors.New("postgres did not stop within 30 s; killed")
		}
	}
	if rmErr := os.RemoveAll(c.dir); rmErr != nil && err == nil {
		err = rmErr
	}
	return err
}

func (c *cluster) kill() {
	c.cmd.Process.Kill()
	<-c.exited
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(bytes.TrimSpace(b))
}
