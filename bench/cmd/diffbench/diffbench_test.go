package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/maestro-conductor/maestro/internal/synth"
)

func ms(v ...float64) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x * float64(time.Millisecond))
	}
	return out
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want time.Duration
	}{
		{"empty", nil, 0},
		{"one", ms(7), 7 * time.Millisecond},
		{"odd, unsorted", ms(30, 10, 20), 20 * time.Millisecond},
		{"even: mean of the middle two", ms(40, 10, 30, 20), 25 * time.Millisecond},
		{"outlier does not move it", ms(10, 11, 12, 13, 5000), 12 * time.Millisecond},
		{"duplicates", ms(5, 5, 9, 5, 9), 5 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tc.in...)
			if got := median(tc.in); got != tc.want {
				t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
			}
			if d := cmp.Diff(in, tc.in); d != "" {
				t.Errorf("median changed its input (-before +after):\n%s", d)
			}
		})
	}
}

func TestMeasurement(t *testing.T) {
	m := measurement{Wall: ms(30, 10, 20, 50, 40), CPU: ms(60, 20, 40, 100, 80), MaxRSS: []int64{100, 300, 200, 250, 150}}
	if got, want := m.median(), 30*time.Millisecond; got != want {
		t.Errorf("median() = %v, want %v", got, want)
	}
	if got, want := m.medianCPU(), 60*time.Millisecond; got != want {
		t.Errorf("medianCPU() = %v, want %v", got, want)
	}
	if got, want := m.min(), 10*time.Millisecond; got != want {
		t.Errorf("min() = %v, want %v", got, want)
	}
	if got, want := m.peakKiB(), int64(300); got != want {
		t.Errorf("peakKiB() = %v, want %v", got, want)
	}
	var empty measurement
	if empty.median() != 0 || empty.min() != 0 || empty.peakKiB() != 0 {
		t.Errorf("empty measurement: median %v, min %v, peak %v; want zeros", empty.median(), empty.min(), empty.peakKiB())
	}
}

func TestRatios(t *testing.T) {
	for _, tc := range []struct {
		name             string
		maestro, dyff    measurement
		wantTime, wantMe float64
	}{
		{
			name:     "maestro faster and smaller",
			maestro:  measurement{Wall: ms(100, 100, 100), MaxRSS: []int64{50, 60, 55}},
			dyff:     measurement{Wall: ms(4000, 4100, 3900), MaxRSS: []int64{240, 200, 220}},
			wantTime: 40, wantMe: 0.25,
		},
		{
			name:     "dyff faster and smaller",
			maestro:  measurement{Wall: ms(200), MaxRSS: []int64{300}},
			dyff:     measurement{Wall: ms(100), MaxRSS: []int64{200}},
			wantTime: 0.5, wantMe: 1.5,
		},
		{
			name:     "nothing measured gives 0, never Inf or NaN",
			wantTime: 0, wantMe: 0,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := result{Tools: map[string]measurement{toolMaestro: tc.maestro, toolDyff: tc.dyff}}
			if got := r.timeRatio(); got != tc.wantTime {
				t.Errorf("timeRatio() = %v, want %v", got, tc.wantTime)
			}
			if got := r.memoryRatio(); got != tc.wantMe {
				t.Errorf("memoryRatio() = %v, want %v", got, tc.wantMe)
			}
		})
	}
}

// res builds a result with the given medians (one run each) and peaks.
func res(tasks int, pair string, maestroMS, dyffMS float64, maestroKiB, dyffKiB int64) result {
	return result{Tasks: tasks, Pair: pair, Want: map[string]int{pairChanged: 10}[pair],
		MaestroChanges: map[string]int{pairChanged: 10}[pair],
		Tools: map[string]measurement{
			toolMaestro: {Wall: ms(maestroMS), CPU: ms(maestroMS * 1.25), MaxRSS: []int64{maestroKiB}},
			toolDyff:    {Wall: ms(dyffMS), CPU: ms(dyffMS * 1.5), MaxRSS: []int64{dyffKiB}},
		}}
}

func statuses(ts []target) map[string]status {
	out := map[string]status{}
	for _, t := range ts {
		out[t.ID] = t.Status
	}
	return out
}

func TestEvaluate(t *testing.T) {
	// Every target met: 20k in 400 ms and 48× dyff, 5k in 90 ms (4.4× less than 20k) and 10× dyff.
	good := []result{
		res(1000, pairChanged, 20, 60, 20000, 25000),
		res(1000, pairReformatted, 20, 250, 20000, 30000),
		res(5000, pairChanged, 90, 900, 50000, 70000),
		res(5000, pairReformatted, 90, 1500, 50000, 90000),
		res(20000, pairChanged, 400, 19200, 150000, 260000),
		res(20000, pairReformatted, 400, 20000, 150000, 330000),
	}
	allPass := map[string]status{
		"time/20000/changed": statusPass, "time/20000/reformatted": statusPass,
		"speedup/20000/changed": statusPass, "speedup/20000/reformatted": statusPass,
		"speedup/5000/changed": statusPass, "speedup/5000/reformatted": statusPass,
		"linearity/changed": statusPass, "linearity/reformatted": statusPass,
		"memory/1000/changed": statusPass, "memory/1000/reformatted": statusPass,
		"memory/5000/changed": statusPass, "memory/5000/reformatted": statusPass,
		"memory/20000/changed": statusPass, "memory/20000/reformatted": statusPass,
		"correct/1000/changed": statusPass, "correct/1000/reformatted": statusPass,
		"correct/5000/changed": statusPass, "correct/5000/reformatted": statusPass,
		"correct/20000/changed": statusPass, "correct/20000/reformatted": statusPass,
	}
	with := func(base map[string]status, changes map[string]status) map[string]status {
		out := map[string]status{}
		for k, v := range base {
			out[k] = v
		}
		for k, v := range changes {
			out[k] = v
		}
		return out
	}
	// edit returns a copy of rs with f applied to its i'th result; the copy shares no map with rs.
	edit := func(rs []result, i int, f func(*result)) []result {
		out := make([]result, len(rs))
		for j, r := range rs {
			r.Tools = map[string]measurement{toolMaestro: r.Tools[toolMaestro], toolDyff: r.Tools[toolDyff]}
			out[j] = r
		}
		f(&out[i])
		return out
	}

	for _, tc := range []struct {
		name    string
		in      []result
		want    map[string]status
		correct bool
	}{
		{"every target met", good, allPass, true},
		{
			// 1.5 s at 20k: too slow, only 12.8× dyff, and 16.7× the 5k time.
			name: "slow and superlinear at 20k",
			in: edit(good, 4, func(r *result) {
				r.Tools[toolMaestro] = measurement{Wall: ms(1500), MaxRSS: []int64{150000}}
			}),
			want: with(allPass, map[string]status{
				"time/20000/changed": statusFail, "speedup/20000/changed": statusFail, "linearity/changed": statusFail,
			}),
			correct: true,
		},
		{
			// Times in binary fractions of a second, so that the ratios are exact.
			name: "exactly at the limits",
			in: []result{
				res(5000, pairChanged, 62.5, 312.5, 100, 101),    // 5× passes (≥)
				res(5000, pairReformatted, 62.5, 312, 100, 100),  // just under 5×; equal memory fails (<)
				res(20000, pairChanged, 281.25, 11250, 100, 200), // 4.5× the 5k time passes (≤), 40× passes (≥)
				res(20000, pairReformatted, 500, 20000, 10, 20),  // 0.5 s fails (<), 8× the 5k time fails
			},
			want: map[string]status{
				"time/20000/changed": statusPass, "time/20000/reformatted": statusFail,
				"speedup/20000/changed": statusPass, "speedup/20000/reformatted": statusPass,
				"speedup/5000/changed": statusPass, "speedup/5000/reformatted": statusFail,
				"linearity/changed": statusPass, "linearity/reformatted": statusFail,
				"memory/5000/changed": statusPass, "memory/5000/reformatted": statusFail,
				"memory/20000/changed": statusPass, "memory/20000/reformatted": statusPass,
				"correct/5000/changed": statusPass, "correct/5000/reformatted": statusPass,
				"correct/20000/changed": statusPass, "correct/20000/reformatted": statusPass,
			},
			correct: true,
		},
		{
			name:    "a wrong answer fails its correctness target",
			in:      edit(good, 1, func(r *result) { r.Problem = "run 2: exit 1, changed=true, 3 changes" }),
			want:    with(allPass, map[string]status{"correct/1000/reformatted": statusFail}),
			correct: false,
		},
		{
			name: "only small sizes: the size targets are skipped",
			in:   good[:2],
			want: map[string]status{
				"time/20000/changed": statusSkip, "time/20000/reformatted": statusSkip,
				"speedup/20000/changed": statusSkip, "speedup/20000/reformatted": statusSkip,
				"speedup/5000/changed": statusSkip, "speedup/5000/reformatted": statusSkip,
				"linearity/changed": statusSkip, "linearity/reformatted": statusSkip,
				"memory/1000/changed": statusPass, "memory/1000/reformatted": statusPass,
				"correct/1000/changed": statusPass, "correct/1000/reformatted": statusPass,
			},
			correct: true,
		},
		{
			name: "memory not measured fails rather than passes",
			in: edit(good[:2], 0, func(r *result) {
				r.Tools[toolMaestro] = measurement{Wall: ms(20)}
				r.Tools[toolDyff] = measurement{Wall: ms(60)}
			}),
			want: map[string]status{
				"time/20000/changed": statusSkip, "time/20000/reformatted": statusSkip,
				"speedup/20000/changed": statusSkip, "speedup/20000/reformatted": statusSkip,
				"speedup/5000/changed": statusSkip, "speedup/5000/reformatted": statusSkip,
				"linearity/changed": statusSkip, "linearity/reformatted": statusSkip,
				"memory/1000/changed": statusFail, "memory/1000/reformatted": statusPass,
				"correct/1000/changed": statusPass, "correct/1000/reformatted": statusPass,
			},
			correct: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := newReport(time.Time{}, config{}, environment{}, tc.in)
			if d := cmp.Diff(tc.want, statuses(rep.Targets)); d != "" {
				t.Errorf("target statuses mismatch (-want +got):\n%s", d)
			}
			if got := rep.correct(); got != tc.correct {
				t.Errorf("correct() = %t, want %t", got, tc.correct)
			}
		})
	}
}

func TestLinearities(t *testing.T) {
	rs := []result{
		res(5000, pairChanged, 100, 0, 0, 0),
		res(20000, pairChanged, 420, 0, 0, 0),
		res(20000, pairReformatted, 500, 0, 0, 0), // no 5k reformatted pair: no linearity for it
	}
	want := []linearity{{Pair: pairChanged, From: 5000, To: 20000, Ratio: 4.2}}
	if d := cmp.Diff(want, linearities(rs), cmpopts.EquateApprox(0, 1e-9)); d != "" {
		t.Errorf("linearities() mismatch (-want +got):\n%s", d)
	}
}

func TestParseSizes(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []int
		wantErr bool
	}{
		{"1000,5000,20000", []int{1000, 5000, 20000}, false},
		{"20000, 1000,1000", []int{1000, 20000}, false},
		{"500", []int{500}, false},
		{"1000,x", nil, true},
		{"0", nil, true},
		{"", nil, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseSizes(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseSizes(%q) error = %v, want error %t", tc.in, err, tc.wantErr)
			}
			if d := cmp.Diff(tc.want, got); !tc.wantErr && d != "" {
				t.Errorf("parseSizes(%q) mismatch (-want +got):\n%s", tc.in, d)
			}
		})
	}
}

// maestroJSON writes a report in the shape of docs/diff-json.md with the given kind/task changes.
func maestroJSON(changed bool, kindTasks ...string) []byte {
	var cs []string
	for i := 0; i+1 < len(kindTasks); i += 2 {
		cs = append(cs, `{"kind":"`+kindTasks[i]+`","class":"behavioral","path":"spec.tasks.`+kindTasks[i+1]+
			`","task":"`+kindTasks[i+1]+`"}`)
	}
	c := "false"
	if changed {
		c = "true"
	}
	return []byte(`{"schemaVersion":1,"changed":` + c + `,"workflows":[{"name":"w","status":"modified","changes":[` +
		strings.Join(cs, ",") + `]}]}`)
}

func TestCheckMaestro(t *testing.T) {
	planted := []synth.Change{
		{Kind: synth.KindPackage, Task: "a"},
		{Kind: synth.KindParam, Task: "b"},
		{Kind: synth.KindEdgeAdded, Task: "c"},
	}
	for _, tc := range []struct {
		name        string
		pair        string
		exit        int
		out         []byte
		wantChanges int
		wantErr     string // a substring; empty: no error
	}{
		{"changed: exactly the planted", pairChanged, 1,
			maestroJSON(true, "edge.added", "c", "task.package", "a", "task.param", "b"), 3, ""},
		{"changed: one missing", pairChanged, 1,
			maestroJSON(true, "task.package", "a", "task.param", "b"), 2, "missing [edge.added c]"},
		{"changed: one extra", pairChanged, 1,
			maestroJSON(true, "task.package", "a", "task.param", "b", "edge.added", "c", "task.added", "z"), 4,
			"unexpected [task.added z]"},
		{"changed: right count, wrong kind", pairChanged, 1,
			maestroJSON(true, "task.package", "a", "task.param", "b", "edge.removed", "c"), 3,
			"missing [edge.added c], unexpected [edge.removed c]"},
		{"changed: exit 0", pairChanged, 0,
			maestroJSON(true, "edge.added", "c", "task.package", "a", "task.param", "b"), 3, "want exit 1"},
		{"reformatted: nothing", pairReformatted, 0, maestroJSON(false), 0, ""},
		{"reformatted: spurious change", pairReformatted, 1, maestroJSON(true, "task.timeout", "q"), 1,
			"1 changes; want exit 0 and no changes"},
		{"not JSON", pairReformatted, 0, []byte("no differences\n"), 0, "not a JSON report"},
		{"another schema", pairReformatted, 0, []byte(`{"schemaVersion":2}`), 0, "schemaVersion 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := checkMaestro(tc.pair, tc.exit, tc.out, planted)
			if n != tc.wantChanges {
				t.Errorf("checkMaestro() changes = %d, want %d", n, tc.wantChanges)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("checkMaestro() error = %v, want none", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("checkMaestro() error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// goldenReport is a fixed report for the rendering tests.
func goldenReport() *report {
	rs := []result{
		res(5000, pairChanged, 310, 290, 83268, 66132),
		res(5000, pairReformatted, 320, 1430, 76280, 95536),
		res(20000, pairChanged, 1560, 5850, 278008, 263752),
		res(20000, pairReformatted, 1690, 8360, 299960, 333300),
	}
	rs[0].BytesA, rs[0].BytesB, rs[0].DyffLines = 1432411, 1432528, 49
	rs[1].BytesA, rs[1].BytesB, rs[1].DyffLines = 1432411, 1466582, 25676
	rs[2].BytesA, rs[2].BytesB, rs[2].DyffLines = 5782662, 5782749, 49
	rs[3].BytesA, rs[3].BytesB, rs[3].DyffLines = 5782662, 5925139, 104005
	rs[3].Problem = "run 1: exit 1, changed=true, 2 changes; want exit 0 and no changes"
	rs[3].MaestroChanges = 2
	rs[2].Tools[toolMaestro] = measurement{Wall: ms(1600, 1560, 1500), CPU: ms(1900, 1950, 2000),
		MaxRSS: []int64{278008, 270000, 271000}}
	env := environment{CPU: "AMD EPYC", CPUs: 2, OS: "linux/amd64", Harness: "go1.26.8",
		MaestroVersion: "maestro v0.0.0 linux/amd64 go1.26.8", DyffVersion: "github.com/homeport/dyff v1.12.0",
		HarnessPeakKiB: 4756, LoadStart: 0.12, LoadEnd: 1.5}
	cfg := config{Sizes: []int{5000, 20000}, Seed: 1, Changes: 10, Runs: 3}
	return newReport(time.Date(2026, 11, 26, 5, 43, 0, 0, time.UTC), cfg, env, rs)
}

// golden compares got with testdata/name, or rewrites the file when MAESTRO_UPDATE is set.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("MAESTRO_UPDATE") != "" {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (MAESTRO_UPDATE=1 go test ./bench/... writes it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, d)
	}
}

func TestWriteMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := goldenReport().writeMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.md", b.Bytes())
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := goldenReport().writeJSON(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.json", b.Bytes())

	// The fields scripts read.
	var got struct {
		Correct bool `json:"correct"`
		Failed  int  `json:"failed"`
		Results []struct {
			Tasks int    `json:"tasks"`
			Pair  string `json:"pair"`
			Tools map[string]struct {
				MedianSeconds float64 `json:"medianSeconds"`
				PeakKiB       int64   `json:"peakKiB"`
			} `json:"tools"`
			TimeRatio float64 `json:"dyffOverMaestroTime"`
		} `json:"results"`
		Targets []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"targets"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("the JSON report does not parse: %v", err)
	}
	if got.Correct {
		t.Error("correct = true, want false: the 20k reformatted pair was answered wrongly")
	}
	if len(got.Results) != 4 || got.Results[2].Tools[toolMaestro].MedianSeconds != 1.56 ||
		got.Results[2].Tools[toolMaestro].PeakKiB != 278008 {
		t.Errorf("results[2] = %+v, want the 20k changed pair with median 1.56 s and peak 278008 KiB", got.Results)
	}
	if r := got.Results[2].TimeRatio; r < 3.74 || r > 3.76 {
		t.Errorf("results[2].dyffOverMaestroTime = %v, want 5.85/1.56 = 3.75", r)
	}
}

func TestCountLines(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		data string
		want int
	}{
		{"empty", "", 0},
		{"no final newline", "a\nb", 1},
		{"three", "a\nb\nc\n", 3},
		{"longer than the buffer", strings.Repeat("x\n", 100000), 100000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "out")
			if err := os.WriteFile(p, []byte(tc.data), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := countLines(p)
			if err != nil || got != tc.want {
				t.Errorf("countLines() = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}
