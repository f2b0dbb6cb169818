package integration_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/maestro-conductor/maestro/attest"
	"github.com/maestro-conductor/maestro/attest/tlog"
	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/internal/gittest"
	"github.com/maestro-conductor/maestro/internal/wftest"
	"github.com/maestro-conductor/maestro/promote"
	"github.com/maestro-conductor/maestro/runtime/api"
	"github.com/maestro-conductor/maestro/runtime/store"
	"github.com/maestro-conductor/maestro/runtime/store/pgtest"
	"github.com/maestro-conductor/maestro/runtime/store/postgres"
)

// promoter is who the trusted promotions are recorded as made by.
const promoter = "release@example.com"

// world is what the regions share: one git remote served by git daemon (push enabled), the promoter's working
// clone, the embedded transparency log under $MAESTRO_HOME/log, the promoter's key, and the trust and secret
// files every region is configured with.
type world struct {
	t    *testing.T
	dir  string
	home string // MAESTRO_HOME of the promoter and every region: the log is home/log
	url  string // git://127.0.0.1:PORT/remote.git
	work string // the promoter's working clone, whose origin is url
	repo *gitrepo.Repo
	log  *tlog.Embedded
	key  *ecdsa.PrivateKey
	// trustPub is the promoter's public key (cosign.pub), config the region config file: the log's checkpoint
	// key and the webhook secret.
	trustPub, config string
	secret           []byte

	mu       sync.Mutex
	replicas int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	gittest.Require(t)
	dir := t.TempDir()
	w := &world{t: t, dir: dir, home: filepath.Join(dir, "home"), work: filepath.Join(dir, "work"), key: newKey(t)}
	srv := filepath.Join(dir, "srv")
	gittest.Run(t, dir, "init", "-q", "--bare", "-b", "main", filepath.Join(srv, "remote.git"))
	base, _ := gittest.Daemon(t, srv, gittest.DaemonOptions{ReceivePack: true})
	w.url = base + "/remote.git"
	gittest.Run(t, dir, "clone", "-q", w.url, w.work)

	l, err := tlog.OpenEmbedded(context.Background(), filepath.Join(w.home, "log"), tlog.EmbeddedOptions{Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	w.log = l
	if w.repo, err = gitrepo.Open(w.work); err != nil {
		t.Fatal(err)
	}

	// Trust comes from files the regions are given, never from the repository.
	trust := filepath.Join(dir, "trust")
	pub, err := attest.PublicKeyPEM(&w.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	logPub, err := os.ReadFile(filepath.Join(w.home, "log", "log.pub"))
	if err != nil {
		t.Fatal(err)
	}
	w.secret = []byte(randomHex(16))
	w.trustPub = filepath.Join(trust, "cosign.pub")
	w.config = filepath.Join(trust, "region.yaml")
	writeFile(t, w.trustPub, pub)
	writeFile(t, filepath.Join(trust, "log.pub"), logPub)
	writeFile(t, filepath.Join(trust, "hook.secret"), w.secret)
	writeFile(t, w.config, []byte(`# What the flags do not say: the log's trusted checkpoint key and the webhook secret, relative to this file.
trust:
  log:
    embedded:
      pub: log.pub
webhook:
  secretFile: hook.secret
`))
	return w
}

// commit writes workflows/<name>.yaml as variant n, commits it in the promoter's clone and pushes main.
func (w *world) commit(t *testing.T, name string, n int) string {
	t.Helper()
	writeFile(t, filepath.Join(w.work, "workflows", name+".yaml"), []byte(wftest.SmallYAML(name, n)))
	gittest.Run(t, w.work, "add", "-A")
	gittest.Run(t, w.work, "commit", "-q", "-m", fmt.Sprintf("%s: variant %d", name, n))
	gittest.Run(t, w.work, "push", "-q", "origin", "main")
	return gittest.Run(t, w.work, "rev-parse", "HEAD")
}

// promote promotes name at HEAD as version, frozen and signed by the trusted key, and pushes the tag and its
// note to origin: `maestro promote -w NAME -t VERSION --freeze --push origin`, as a library call. It returns when
// the push has finished.
func (w *world) promote(t *testing.T, name, version string) *promote.Result {
	t.Helper()
	res, err := promote.Promote(context.Background(), w.repo, promote.Options{Workflow: name, Version: version, Freeze: true,
		Key: w.key, Promoter: promoter, Log: w.log, Index: w.log.Index(), Push: "origin", Logger: discard})
	if err != nil {
		t.Fatalf("promote %s %s: %v", name, version, err)
	}
	if !res.Pushed {
		t.Fatalf("promote %s %s: not pushed", name, version)
	}
	return res
}

// replicaSpec says how to run one region replica.
type replicaSpec struct {
	region   string
	dsn      string // the region's PostgreSQL database; replicas of one region share it
	dataDir  string // the replica's own: its mirror
	interval time.Duration
}

// replica is one `maestro serve` process.
type replica struct {
	replicaSpec
	name    string // tells replicas apart: us-east, us-east-2, webhook-us-east
	addr    string // host:port of its HTTP API
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	exitErr error         // how it exited, once done is closed
}

// start runs `maestro serve` for spec until the test that made the world ends (or stop or kill), and waits until
// its /readyz answers 200. name tells replicas apart in failure messages and log files.
func (w *world) start(t *testing.T, name string, spec replicaSpec) *replica {
	t.Helper()
	// A port free when chosen can be taken before the replica binds it: try another.
	for attempt := 1; ; attempt++ {
		r := w.launch(t, name, spec)
		err := waitReady(t, r)
		if err == nil {
			return r
		}
		if attempt == 3 || !strings.Contains(r.logTail(5), "address already in use") {
			t.Fatalf("%s: %v\n%s", name, err, r.logTail(40))
		}
	}
}

// launch starts the process.
func (w *world) launch(t *testing.T, name string, spec replicaSpec) *replica {
	t.Helper()
	w.mu.Lock()
	w.replicas++
	seq := w.replicas
	w.mu.Unlock()
	r := &replica{replicaSpec: spec, name: name, addr: freeAddr(t), done: make(chan struct{}),
		logPath: filepath.Join(w.dir, "logs", fmt.Sprintf("%02d-%s.log", seq, name))}
	if err := os.MkdirAll(filepath.Dir(r.logPath), 0o755); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(r.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	r.cmd = exec.Command(maestroBin, "serve", "--config", w.config, "--region", spec.region, "--repo", w.url,
		"--store", spec.dsn, "--data-dir", spec.dataDir, "--trust-pub", w.trustPub, "--listen", r.addr,
		"--interval", spec.interval.String())
	r.cmd.Env = append(gittest.Env(), "MAESTRO_HOME="+w.home)
	r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r.exitErr = r.cmd.Wait()
		close(r.done)
	}()
	// On the world's test, so that a replica started in one subtest outlives it.
	w.t.Cleanup(func() {
		r.signal(syscall.SIGKILL)
		<-r.done
		if w.t.Failed() {
			w.t.Logf("%s: the end of its log (%s):\n%s", r.name, r.logPath, r.logTail(40))
		}
	})
	return r
}

// waitReady waits until r's /readyz answers 200, for up to 30s.
func waitReady(t *testing.T, r *replica) error {
	t.Helper()
	start := time.Now()
	for {
		select {
		case <-r.done:
			return fmt.Errorf("exited before it was ready: %v", r.exitErr)
		default:
		}
		var ready api.Readiness
		code, err := r.get("/readyz", &ready)
		if err == nil && code == http.StatusOK {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("status %d: %+v", code, ready)
		}
		if time.Since(start) > 30*time.Second {
			return fmt.Errorf("not ready within 30s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *replica) signal(sig syscall.Signal) {
	select {
	case <-r.done:
	default:
		r.cmd.Process.Signal(sig)
	}
}

// stop sends SIGTERM, as an orchestrator does, and waits for a clean exit.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	r.signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not stop within 30s of SIGTERM", r.name)
	}
	if r.exitErr != nil {
		t.Fatalf("%s exited with %v after SIGTERM\n%s", r.name, r.exitErr, r.logTail(20))
	}
	if log := r.logTail(5); !strings.Contains(log, "msg=stopped") {
		t.Errorf("%s: no msg=stopped at the end of its log:\n%s", r.name, log)
	}
}

// kill sends SIGKILL: the replica dies without a word, its database connections with it.
func (r *replica) kill(t *testing.T) {
	t.Helper()
	r.signal(syscall.SIGKILL)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not die within 10s of SIGKILL", r.name)
	}
}

func (r *replica) logTail(n int) string {
	b, _ := os.ReadFile(r.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

var client = &http.Client{Timeout: 5 * time.Second}

// get sends GET path to the replica's API and decodes a JSON answer of any status into out.
func (r *replica) get(path string, out any) (int, error) {
	resp, err := client.Get("http://" + r.addr + path)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("GET %s: status %d, body %q: %v", path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode, nil
}

// mustGet is get for an answer that must be 200.
func (r *replica) mustGet(t *testing.T, path string, out any) {
	t.Helper()
	code, err := r.get(path, out)
	if err != nil {
		t.Fatalf("%s: GET %s: %v", r.name, path, err)
	}
	if code != http.StatusOK {
		t.Fatalf("%s: GET %s: status %d, want 200", r.name, path, code)
	}
}

// version returns GET /api/workflows/{name}/versions/{version}; ok is false on 404.
func (r *replica) version(name, version string) (v api.VersionInfo, ok bool, err error) {
	var e api.ErrorBody
	path := "/api/workflows/" + name + "/versions/" + version
	resp, err := client.Get("http://" + r.addr + path)
	if err != nil {
		return v, false, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return v, false, err
	case resp.StatusCode == http.StatusOK:
		return v, true, json.Unmarshal(b, &v)
	case resp.StatusCode == http.StatusNotFound && json.Unmarshal(b, &e) == nil && e.Error.Code == api.CodeVersionNotFound:
		return v, false, nil
	}
	return v, false, fmt.Errorf("GET %s: status %d: %s", path, resp.StatusCode, b)
}

// serving says whether the replica serves name at version, as an error for waitUntil.
func (r *replica) serving(name, version string) error {
	_, ok, err := r.version(name, version)
	if err == nil && !ok {
		err = fmt.Errorf("%s does not serve %s %s yet", r.name, name, version)
	}
	return err
}

func (r *replica) status(t *testing.T) api.Status {
	t.Helper()
	var s api.Status
	r.mustGet(t, "/api/status", &s)
	return s
}

// workflowStatus is the sync status of one workflow in s; ok is false when s has none.
func workflowStatus(s api.Status, name string) (store.SyncStatus, bool) {
	for _, ws := range s.Workflows {
		if ws.Workflow == name {
			return ws, true
		}
	}
	return store.SyncStatus{}, false
}

// webhook delivers a signed GitHub push event for ref to the replica, as the git host does after a push.
func (r *replica) webhook(secret []byte, ref, after string) error {
	body, err := json.Marshal(map[string]any{"ref": ref, "before": strings.Repeat("0", 40), "after": after,
		"repository": map[string]string{"full_name": "acme/workflows"}})
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+r.addr+"/api/webhooks/git", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(api.HeaderEvent, "push")
	req.Header.Set(api.HeaderDelivery, randomHex(8))
	req.Header.Set(api.HeaderSignature, api.Sign(secret, body))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("%s: webhook: status %d: %s", r.name, resp.StatusCode, b)
	}
	return nil
}

// openStore opens a region's database as the regions do, to check what they wrote.
func openStore(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), dsn, postgres.Options{Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// history returns a region's reconcile history for one tag and action, oldest first.
func history(t *testing.T, st store.Store, tag, action string) []store.Event {
	t.Helper()
	evs, err := st.History(context.Background(), store.HistoryFilter{Action: action, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Event
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Tag == tag {
			out = append(out, evs[i])
		}
	}
	return out
}

// newDatabase is pgtest.New, failing rather than skipping when there is no PostgreSQL: these tests exist to run.
func newDatabase(t *testing.T) string {
	t.Helper()
	return pgtest.New(noSkip{t}).URL
}

// noSkip turns a skip into a failure.
type noSkip struct{ testing.TB }

func (n noSkip) Skipf(format string, args ...any) {
	n.Helper()
	n.Fatalf("the integration tests need PostgreSQL: "+format, args...)
}

func (n noSkip) Skip(args ...any) {
	n.Helper()
	n.Fatal(append([]any{"the integration tests need PostgreSQL:"}, args...)...)
}

func (n noSkip) SkipNow() {
	n.Helper()
	n.Fatal("the integration tests need PostgreSQL")
}

// waitUntil calls cond every 20ms until it returns nil, and returns how long that took; it fails t with cond's
// last error after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := cond()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails
	return hex.EncodeToString(b)
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

var discard = slog.New(slog.DiscardHandler)
