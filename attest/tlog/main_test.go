package tlog_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/maestro-conductor/maestro/attest/tlog"
)

// TestMain doubles as the entry point of the child processes the
// multi-process tests start by re-executing the test binary.
func TestMain(m *testing.M) {
	if role := os.Getenv(childRoleEnv); role != "" {
		os.Exit(childMain(role))
	}
	code := m.Run()
	rekorBin.cleanup()
	os.Exit(code)
}

// The real rekor-tiles POSIX server, built once per test binary from the
// version pinned in tools/rekor/go.mod.
var rekorBin builtBinary

type builtBinary struct {
	once     sync.Once
	dir      string
	path     string
	err      error
	duration time.Duration
}

func (b *builtBinary) cleanup() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

const rekorPackage = "github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix"

func rekorServerBinary(t testing.TB) string {
	t.Helper()
	rekorBin.once.Do(func() {
		toolsDir, err := filepath.Abs(filepath.Join("..", "..", "tools", "rekor"))
		if err != nil {
			rekorBin.err = err
			return
		}
		rekorBin.dir, rekorBin.err = os.MkdirTemp("", "maestro-rekor-bin-")
		if rekorBin.err != nil {
			return
		}
		rekorBin.path = filepath.Join(rekorBin.dir, "rekor-server")
		start := time.Now()
		cmd := exec.Command("go", "build", "-modfile="+filepath.Join(toolsDir, "go.mod"), "-o", rekorBin.path, rekorPackage)
		cmd.Dir = toolsDir
		out, err := cmd.CombinedOutput()
		rekorBin.duration = time.Since(start)
		if err != nil {
			rekorBin.err = fmt.Errorf("go build %s: %v\n%s", rekorPackage, err, out)
		}
	})
	if rekorBin.err != nil {
		t.Fatal(rekorBin.err)
	}
	t.Logf("rekor-server built in %v (once per test binary)", rekorBin.duration.Round(time.Millisecond))
	return rekorBin.path
}

// rekorServer is a running rekor-tiles POSIX server and the static file
// server that publishes its storage directory (nginx in rekor-tiles' own
// posix-compose.yml).
type rekorServer struct {
	URL        string // the API
	TilesURL   string // the storage directory over HTTP
	StorageDir string
	Origin     string
	PublicKey  ed25519.PublicKey
	log        *bytes.Buffer
}

func (s *rekorServer) Key() tlog.LogKey {
	return tlog.LogKey{Origin: s.Origin, BaseURL: s.TilesURL, PublicKey: s.PublicKey}
}

const rekorOrigin = "rekor.maestro.test"

// startRekor starts a fresh rekor-tiles server on free loopback ports with a
// new Ed25519 checkpoint key, waits until it serves, and stops it when the
// test ends.
func startRekor(t *testing.T) *rekorServer {
	t.Helper()
	bin := rekorServerBinary(t)
	dir := t.TempDir()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "checkpoint-key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	storage := filepath.Join(dir, "log")
	if err := os.Mkdir(storage, 0o755); err != nil {
		t.Fatal(err)
	}
	tiles := httptest.NewServer(http.FileServer(http.Dir(storage)))
	t.Cleanup(tiles.Close)

	// The server cannot listen on port 0, so pick free ports and retry if
	// another process takes one first.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ports := freePorts(t, 3)
		logBuf := &syncBuffer{}
		cmd := exec.Command(bin, "serve",
			"--hostname="+rekorOrigin,
			"--storage-dir="+storage,
			"--signer-filepath="+keyFile,
			"--http-address=127.0.0.1", "--http-port="+strconv.Itoa(ports[0]),
			"--grpc-address=127.0.0.1", "--grpc-port="+strconv.Itoa(ports[1]),
			"--http-metrics-port="+strconv.Itoa(ports[2]),
			"--checkpoint-interval=100ms",
			"--batch-max-age=10ms",
			"--log-level=warn",
		)
		cmd.Stdout, cmd.Stderr = logBuf, logBuf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		url := "http://127.0.0.1:" + strconv.Itoa(ports[0])
		if err := waitHealthy(url, exited, 60*time.Second); err != nil {
			stopProcess(cmd, exited)
			lastErr = fmt.Errorf("%v\nserver output:\n%s", err, logBuf.String())
			continue
		}
		t.Cleanup(func() {
			if err := stopProcess(cmd, exited); err != nil {
				t.Errorf("stop rekor-server: %v", err)
			}
			if t.Failed() {
				t.Logf("rekor-server output:\n%s", logBuf.String())
			}
		})
		return &rekorServer{URL: url, TilesURL: tiles.URL, StorageDir: storage, Origin: rekorOrigin, PublicKey: pub, log: &logBuf.Buffer}
	}
	t.Fatalf("start rekor-server: %v", lastErr)
	return nil
}

type syncBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.String()
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

func waitHealthy(url string, exited <-chan error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("rekor-server exited: %v", err)
		default:
		}
		resp, err := client.Get(url + "/healthz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), "SERVING") {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("rekor-server not healthy in time")
}

// stopProcess asks the process to stop (SIGTERM: the server drains tessera)
// and kills it if it does not within 20 seconds.
func stopProcess(cmd *exec.Cmd, exited <-chan error) error {
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-exited:
		return nil
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-exited
		return errors.New("did not stop on SIGTERM; killed")
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
