package tlog_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/maestro-conductor/maestro/attest/tlog"
	"github.com/maestro-conductor/maestro/internal/testtools"
)

// Child processes: the test binary re-executed with these variables set.
const (
	childRoleEnv  = "MAESTRO_TLOG_TEST_CHILD" // "append" or "claim"
	childDirEnv   = "MAESTRO_TLOG_TEST_DIR"
	childNEnv     = "MAESTRO_TLOG_TEST_N"
	childStartEnv = "MAESTRO_TLOG_TEST_START" // a file to wait for, so children start together
	childOutEnv   = "MAESTRO_TLOG_TEST_OUT"
	childNameEnv  = "MAESTRO_TLOG_TEST_NAME"
)

func childMain(role string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	switch role {
	case "append":
		err = childAppend(ctx)
	case "claim":
		err = childClaim(ctx)
	default:
		err = fmt.Errorf("unknown child role %q", role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "child %s %s: %v\n", role, os.Getenv(childNameEnv), err)
		return 1
	}
	return 0
}

// waitForStart tells the parent this child is ready, then waits until the
// parent releases all children at once.
func waitForStart(ctx context.Context) error {
	start := os.Getenv(childStartEnv)
	if err := os.WriteFile(start+".ready."+os.Getenv(childNameEnv), nil, 0o644); err != nil {
		return err
	}
	for {
		if _, err := os.Stat(start); err == nil {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// childAppend opens the embedded log in $DIR and appends $N entries from 4
// goroutines, writing each TransparencyLogEntry as a JSON line to $OUT.
func childAppend(ctx context.Context) error {
	n, err := strconv.Atoi(os.Getenv(childNEnv))
	if err != nil {
		return err
	}
	if err := waitForStart(ctx); err != nil {
		return err
	}
	log, err := tlog.OpenEmbedded(ctx, os.Getenv(childDirEnv), tlog.EmbeddedOptions{})
	if err != nil {
		return err
	}
	out, err := os.Create(os.Getenv(childOutEnv))
	if err != nil {
		return err
	}
	defer out.Close()
	w := bufio.NewWriter(out)
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, n)
	key := newECDSAKey(nopTB{})
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 4 {
				tle, err := log.Add(ctx, hashedRekord(nopTB{}, key))
				if err != nil {
					errs <- err
					return
				}
				line, err := protojson.Marshal(tle)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				w.Write(line)
				w.WriteByte('\n')
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	if err := log.Close(); err != nil {
		return err
	}
	return w.Flush()
}

// childClaim claims keys 0..$N-1 in the index in $DIR with record $NAME and
// writes {"key": created} to $OUT.
func childClaim(ctx context.Context) error {
	n, err := strconv.Atoi(os.Getenv(childNEnv))
	if err != nil {
		return err
	}
	x, err := tlog.NewFileIndex(os.Getenv(childDirEnv))
	if err != nil {
		return err
	}
	if err := waitForStart(ctx); err != nil {
		return err
	}
	name := os.Getenv(childNameEnv)
	created := map[string]bool{}
	for i := range n {
		key := "repo/flow@v1." + strconv.Itoa(i)
		first, ok, err := x.Claim(ctx, key, []byte(name))
		if err != nil {
			return err
		}
		if ok != (string(first) == name) {
			return fmt.Errorf("claim %s: created=%v but first=%q", key, ok, first)
		}
		created[key] = ok
	}
	data, err := json.Marshal(created)
	if err != nil {
		return err
	}
	return os.WriteFile(os.Getenv(childOutEnv), data, 0o644)
}

// nopTB lets the test helpers run in a child process, where there is no
// *testing.T; a helper that fails panics.
type nopTB struct{ testing.TB }

func (nopTB) Helper()                   {}
func (nopTB) Fatal(args ...any)         { panic(fmt.Sprint(args...)) }
func (nopTB) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

// runChildren starts one child per name with the given role and
// environment, releases them together, and waits for all of them.
func runChildren(t *testing.T, role string, names []string, env func(name string) []string) {
	t.Helper()
	start := filepath.Join(t.TempDir(), "start")
	type child struct {
		name string
		cmd  *exec.Cmd
		out  *testtools.SyncBuffer
	}
	var children []child
	for _, name := range names {
		out := &testtools.SyncBuffer{}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childRoleEnv+"="+role, childStartEnv+"="+start, childNameEnv+"="+name)
		cmd.Env = append(cmd.Env, env(name)...)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children = append(children, child{name, cmd, out})
	}
	// Release the children together, once each of them is ready.
	deadline := time.Now().Add(time.Minute)
	for _, c := range children {
		for {
			if _, err := os.Stat(start + ".ready." + c.name); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("child %s never got ready\n%s", c.name, c.out.String())
			}
			time.Sleep(time.Millisecond)
		}
	}
	if err := os.WriteFile(start, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range children {
		if err := c.cmd.Wait(); err != nil {
			t.Errorf("child %s: %v\n%s", c.name, err, c.out.String())
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// TestEmbeddedTwoProcesses has two OS processes open one fresh log directory
// at the same moment (racing to create its key) and append 50 entries each
// from 4 goroutines, while this process appends too; the writers take turns. Every entry must get its
// own index and verify against the log as it is at the end, and every
// checkpoint a process returned must be consistent with the final one.
func TestEmbeddedTwoProcesses(t *testing.T) {
	ctx := testContext(t)
	dir := filepath.Join(t.TempDir(), "log")
	outDir := t.TempDir()
	const perChild = 50
	names := []string{"a", "b"}

	var inProc []*protorekor.TransparencyLogEntry
	done := make(chan error, 1)
	go func() {
		// Join in once the children have created the log.
		for {
			if _, err := os.Stat(filepath.Join(dir, tlog.TilesDir, "checkpoint")); err == nil {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		log, err := tlog.OpenEmbedded(ctx, dir, tlog.EmbeddedOptions{})
		if err != nil {
			done <- err
			return
		}
		defer log.Close()
		key := newECDSAKey(t)
		for range 10 {
			tle, err := log.Add(ctx, hashedRekord(t, key))
			if err != nil {
				done <- err
				return
			}
			inProc = append(inProc, tle)
		}
		done <- nil
	}()
	runChildren(t, "append", names, func(name string) []string {
		return []string{childDirEnv + "=" + dir, childNEnv + "=" + strconv.Itoa(perChild), childOutEnv + "=" + filepath.Join(outDir, name)}
	})
	if err := <-done; err != nil {
		t.Fatalf("appending in this process: %v", err)
	}

	tles := inProc
	ranges := map[string][2]int64{} // the lowest and highest index each child got
	for _, name := range names {
		f, err := os.Open(filepath.Join(outDir, name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		n := 0
		for sc.Scan() {
			var tle protorekor.TransparencyLogEntry
			if err := protojson.Unmarshal(sc.Bytes(), &tle); err != nil {
				t.Fatal(err)
			}
			tles = append(tles, &tle)
			r, ok := ranges[name]
			if !ok {
				r = [2]int64{tle.GetLogIndex(), tle.GetLogIndex()}
			}
			ranges[name] = [2]int64{min(r[0], tle.GetLogIndex()), max(r[1], tle.GetLogIndex())}
			n++
		}
		f.Close()
		if n != perChild {
			t.Errorf("child %s returned %d entries, want %d", name, n, perChild)
		}
	}

	// Writers take turns on the log (one appender at a time, across processes): each child's entries form one
	// contiguous run of indices, and the runs do not overlap.
	if a, b := ranges["a"], ranges["b"]; !(a[1] < b[0] || b[1] < a[0]) {
		t.Errorf("children's indices overlap, so two processes appended at once: a %v, b %v", a, b)
	}
	for name, r := range ranges {
		if r[1]-r[0]+1 != perChild {
			t.Errorf("child %s's indices %v are not one run of %d: another process appended in between", name, r, perChild)
		}
	}
	t.Logf("indices: a %v, b %v, this process %d entries", ranges["a"], ranges["b"], len(inProc))

	log, err := tlog.OpenEmbedded(ctx, dir, tlog.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	r := log.Reader()
	size, err := r.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(len(tles)); size != want {
		t.Errorf("log size = %d, want %d", size, want)
	}
	seen := map[int64]bool{}
	for _, tle := range tles {
		if seen[tle.GetLogIndex()] {
			t.Errorf("index %d returned twice", tle.GetLogIndex())
		}
		seen[tle.GetLogIndex()] = true
		checkTLE(ctx, t, r, tle)
	}
	// A fresh reader, which has seen nothing, checks the other way round:
	// each entry's checkpoint against the final one.
	fresh, err := tlog.NewReader(log.LogKey())
	if err != nil {
		t.Fatal(err)
	}
	for _, tle := range tles {
		if err := fresh.VerifyInclusion(ctx, tle); err != nil {
			t.Errorf("fresh reader: entry %d: %v", tle.GetLogIndex(), err)
		}
	}
}

// TestFileIndexClaimRaceProcesses has two processes claim the same 200 keys
// at the same moment: each key is created by exactly one of them, and both
// saw that one's record.
func TestFileIndexClaimRaceProcesses(t *testing.T) {
	dir := t.TempDir()
	outDir := t.TempDir()
	const keys = 200
	names := []string{"p1", "p2"}
	runChildren(t, "claim", names, func(name string) []string {
		return []string{childDirEnv + "=" + dir, childNEnv + "=" + strconv.Itoa(keys), childOutEnv + "=" + filepath.Join(outDir, name)}
	})
	results := map[string]map[string]bool{}
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(outDir, name))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]bool
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		results[name] = m
	}
	x, err := tlog.NewFileIndex(dir)
	if err != nil {
		t.Fatal(err)
	}
	wins := map[string]int{}
	for i := range keys {
		key := "repo/flow@v1." + strconv.Itoa(i)
		var winners []string
		for _, name := range names {
			if results[name][key] {
				winners = append(winners, name)
			}
		}
		if len(winners) != 1 {
			t.Errorf("%s created by %v, want exactly one process", key, winners)
			continue
		}
		wins[winners[0]]++
		rec, ok, err := x.Lookup(t.Context(), key)
		if err != nil || !ok || string(rec) != winners[0] {
			t.Errorf("Lookup(%s) = %q, %v, %v; want %q", key, rec, ok, err, winners[0])
		}
	}
	t.Logf("claims won: %v", wins)
}

var _ = errors.New
