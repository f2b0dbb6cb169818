package testtools

import (
	"bytes"
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

	"github.com/maestro-conductor/maestro/attest"
)

// RekorOrigin is the checkpoint origin (the --hostname) of every rekor-tiles server started here.
const RekorOrigin = "rekor.maestro.test"

// Rekor is a running rekor-tiles POSIX server with a fresh Ed25519 checkpoint key, and the static file server that
// publishes its storage directory (nginx in rekor-tiles' own posix-compose.yml): the server writes tiles and
// checkpoints but does not serve them.
type Rekor struct {
	URL          string // the write API (POST /api/v2/log/entries), http://127.0.0.1:PORT
	TilesURL     string // the storage directory over HTTP: checkpoint, tiles, entry bundles
	StorageDir   string // the storage directory, to tamper with
	Origin       string // the checkpoint origin
	PublicKey    ed25519.PublicKey
	PublicKeyPEM []byte // PublicKey as a PKIX "PUBLIC KEY" PEM block, the format of --rekor-pub

	proc  *process
	tiles *httptest.Server
	out   *SyncBuffer
	stop  sync.Once
	err   error
}

// LogKey is what a verifier trusts to accept the server's entries: its origin, tiles URL and checkpoint key.
func (r *Rekor) LogKey() attest.LogKey {
	return attest.LogKey{Origin: r.Origin, BaseURL: r.TilesURL, PublicKey: r.PublicKey}
}

// Output returns what the server has written to stdout and stderr so far.
func (r *Rekor) Output() string { return r.out.String() }

// StartRekor starts a server in a temporary directory of the test and stops it when the test ends, reporting its
// output if the test failed.
func StartRekor(t testing.TB) *Rekor {
	t.Helper()
	RekorServer.Binary(t)
	r, err := NewRekor(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("stop rekor-server: %v", err)
		}
		if t.Failed() {
			t.Logf("rekor-server output:\n%s", r.Output())
		}
	})
	return r
}

// NewRekor builds the server if this process has not yet, starts it on free loopback ports with its key and
// storage in dir, and waits until it serves. The caller stops it with Stop.
func NewRekor(dir string) (*Rekor, error) {
	bin, err := RekorServer.Path()
	if err != nil {
		return nil, err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	keyFile := filepath.Join(dir, "checkpoint-key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	storage := filepath.Join(dir, "log")
	if err := os.Mkdir(storage, 0o755); err != nil {
		return nil, err
	}
	tiles := httptest.NewServer(http.FileServer(http.Dir(storage)))

	// The server cannot listen on port 0, so pick free ports and retry if another process takes one first.
	var lastErr error
	for range 3 {
		ports, err := freePorts(3)
		if err != nil {
			tiles.Close()
			return nil, err
		}
		out := &SyncBuffer{}
		cmd := exec.Command(bin, "serve",
			"--hostname="+RekorOrigin,
			"--storage-dir="+storage,
			"--signer-filepath="+keyFile,
			"--http-address=127.0.0.1", "--http-port="+strconv.Itoa(ports[0]),
			"--grpc-address=127.0.0.1", "--grpc-port="+strconv.Itoa(ports[1]),
			"--http-metrics-port="+strconv.Itoa(ports[2]),
			"--checkpoint-interval=100ms",
			"--batch-max-age=10ms",
			"--log-level=warn",
		)
		cmd.Stdout, cmd.Stderr = out, out
		p, err := startProcess(cmd)
		if err != nil {
			tiles.Close()
			return nil, err
		}
		url := "http://127.0.0.1:" + strconv.Itoa(ports[0])
		if err := waitHealthy(url, p, 60*time.Second); err != nil {
			p.stop()
			lastErr = fmt.Errorf("%v\nserver output:\n%s", err, out.String())
			continue
		}
		return &Rekor{
			URL: url, TilesURL: tiles.URL, StorageDir: storage, Origin: RekorOrigin,
			PublicKey: pub, PublicKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}),
			proc: p, tiles: tiles, out: out,
		}, nil
	}
	tiles.Close()
	return nil, fmt.Errorf("start rekor-server: %w", lastErr)
}

// Stop stops the server (SIGTERM, so that it drains its queue; killed if it does not stop within 20 seconds) and
// the file server. It returns an error if the server had to be killed; calling it again returns the same.
func (r *Rekor) Stop() error {
	r.stop.Do(func() {
		r.err = r.proc.stop()
		r.tiles.Close()
	})
	return r.err
}

// SyncBuffer is a bytes.Buffer safe for a child process's output and a reader at once.
type SyncBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.String()
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// process is a started command whose end can be awaited by several.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // what Wait returned; read once done is closed
}

func startProcess(cmd *exec.Cmd) (*process, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func waitHealthy(url string, p *process, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("rekor-server exited: %v", p.err)
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

// stop asks the process to stop (SIGTERM: the server drains tessera) and kills it if it does not within 20
// seconds. A process that already exited is stopped.
func (p *process) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return errors.New("did not stop on SIGTERM; killed")
	}
}
