package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// The tools compared and the pairs they compare.
const (
	toolMaestro = "maestro"
	toolDyff    = "dyff"

	pairChanged     = "changed"     // base → base with the planted changes
	pairReformatted = "reformatted" // base → the same workflow written differently
)

var pairs = []string{pairChanged, pairReformatted}

// Targets of the issue ("Speed"), on the 2-core reference machine.
const (
	targetMaxSeconds20k   = 0.5 // a 20,000-task pair under half a second
	targetSpeedup20k      = 40  // at least 40× faster than dyff at 20,000 tasks
	targetSpeedup5k       = 5   // at least 5× faster than dyff at 5,000 tasks
	targetMaxLinearity    = 4.5 // 20,000 tasks take at most 4.5× the 5,000-task time
	targetMaxMemoryRatio  = 1   // peak memory below dyff's
	linearityFrom         = 5000
	linearityTo           = 20000
	targetTimeTasks       = 20000
	targetSpeedupLowTasks = 5000
)

// measurement holds one tool's runs on one pair.
type measurement struct {
	Wall   []time.Duration // wall time of each run, in run order
	CPU    []time.Duration // user+system CPU time of each run: less disturbed than wall time on a busy machine
	MaxRSS []int64         // peak resident set of each run's process, KiB
}

func (m measurement) median() time.Duration { return median(m.Wall) }

func (m measurement) medianCPU() time.Duration { return median(m.CPU) }

func (m measurement) min() time.Duration {
	if len(m.Wall) == 0 {
		return 0
	}
	return slices.Min(m.Wall)
}

// peakKiB is the highest peak resident set over all runs.
func (m measurement) peakKiB() int64 {
	if len(m.MaxRSS) == 0 {
		return 0
	}
	return slices.Max(m.MaxRSS)
}

// median returns the middle value of ds, or the mean of the two middle values when there is an even number.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ratio returns a/b, or 0 when b is not positive, so that a missing measurement never turns into Inf or NaN (which
// JSON cannot hold) and never passes a "≥" target.
func ratio(a, b float64) float64 {
	if b <= 0 || math.IsNaN(a) || math.IsNaN(b) {
		return 0
	}
	return a / b
}

// result is what one pair at one size gave.
type result struct {
	Tasks  int
	Pair   string
	BytesA int64 // size of the base file
	BytesB int64 // size of the other file
	Tools  map[string]measurement
	// MaestroChanges is the number of changes maestro reported (in its last run).
	MaestroChanges int
	// Want is the number of changes maestro must report: the planted ones, or zero for a reformatted pair.
	Want int
	// Problem says how maestro's answer was wrong; empty when it was right in every run.
	Problem string
	// DyffLines is the number of lines dyff wrote (in its last run); on a reformatted pair anything but 0 means
	// dyff reported differences that are only formatting.
	DyffLines int
}

// timeRatio is how many times longer dyff took than maestro (medians).
func (r result) timeRatio() float64 {
	return ratio(r.Tools[toolDyff].median().Seconds(), r.Tools[toolMaestro].median().Seconds())
}

// memoryRatio is maestro's peak memory as a fraction of dyff's.
func (r result) memoryRatio() float64 {
	return ratio(float64(r.Tools[toolMaestro].peakKiB()), float64(r.Tools[toolDyff].peakKiB()))
}

func find(rs []result, tasks int, pair string) (result, bool) {
	for _, r := range rs {
		if r.Tasks == tasks && r.Pair == pair {
			return r, true
		}
	}
	return result{}, false
}

// linearity is maestro's median time at 20,000 tasks divided by its median at 5,000, for one pair.
type linearity struct {
	Pair  string
	From  int
	To    int
	Ratio float64
}

func linearities(rs []result) []linearity {
	var out []linearity
	for _, p := range pairs {
		lo, ok1 := find(rs, linearityFrom, p)
		hi, ok2 := find(rs, linearityTo, p)
		if !ok1 || !ok2 {
			continue
		}
		out = append(out, linearity{Pair: p, From: linearityFrom, To: linearityTo,
			Ratio: ratio(hi.Tools[toolMaestro].median().Seconds(), lo.Tools[toolMaestro].median().Seconds())})
	}
	return out
}

// status is the outcome of one target.
type status string

const (
	statusPass status = "PASS"
	statusFail status = "FAIL"
	statusSkip status = "SKIP" // the sizes it needs were not measured
)

// target is one of the targets, checked against this run.
type target struct {
	ID        string  // stable name for scripts, such as "speedup/20000/changed"
	What      string  // the target in words
	Want      string  // the limit, such as "≥ 40×"
	Got       string  // what was measured, such as "12.3×"
	Measured  float64 // the number compared with Limit; 0 for correctness targets
	Limit     float64
	Status    status
	Incorrect bool // a correctness target: failing it fails the benchmark whatever -strict says
}

func passIf(ok bool) status {
	if ok {
		return statusPass
	}
	return statusFail
}

// evaluate checks every target of the issue against rs, in a fixed order. Targets that need a size that was not
// measured are SKIP.
func evaluate(rs []result) []target {
	var ts []target
	skip := func(id, what, want string, limit float64) target {
		return target{ID: id, What: what, Want: want, Got: "not measured", Limit: limit, Status: statusSkip}
	}
	for _, p := range pairs {
		id := fmt.Sprintf("time/%d/%s", targetTimeTasks, p)
		what := fmt.Sprintf("maestro on the %s %s pair", tasksLabel(targetTimeTasks), p)
		want := fmt.Sprintf("< %g s", targetMaxSeconds20k)
		r, ok := find(rs, targetTimeTasks, p)
		if !ok {
			ts = append(ts, skip(id, what, want, targetMaxSeconds20k))
			continue
		}
		s := r.Tools[toolMaestro].median().Seconds()
		ts = append(ts, target{ID: id, What: what, Want: want, Got: formatSeconds(s), Measured: s,
			Limit: targetMaxSeconds20k, Status: passIf(s > 0 && s < targetMaxSeconds20k)})
	}
	for _, sp := range []struct {
		tasks int
		min   float64
	}{{targetTimeTasks, targetSpeedup20k}, {targetSpeedupLowTasks, targetSpeedup5k}} {
		for _, p := range pairs {
			id := fmt.Sprintf("speedup/%d/%s", sp.tasks, p)
			what := fmt.Sprintf("dyff time / maestro time, %s %s pair", tasksLabel(sp.tasks), p)
			want := fmt.Sprintf("≥ %g×", sp.min)
			r, ok := find(rs, sp.tasks, p)
			if !ok {
				ts = append(ts, skip(id, what, want, sp.min))
				continue
			}
			x := r.timeRatio()
			ts = append(ts, target{ID: id, What: what, Want: want, Got: formatRatio(x), Measured: x, Limit: sp.min,
				Status: passIf(x >= sp.min)})
		}
	}
	lins := linearities(rs)
	for _, p := range pairs {
		id := fmt.Sprintf("linearity/%s", p)
		what := fmt.Sprintf("maestro %s time / %s time, %s pair", tasksLabel(linearityTo), tasksLabel(linearityFrom), p)
		want := fmt.Sprintf("≤ %g×", targetMaxLinearity)
		i := slices.IndexFunc(lins, func(l linearity) bool { return l.Pair == p })
		if i < 0 {
			ts = append(ts, skip(id, what, want, targetMaxLinearity))
			continue
		}
		x := lins[i].Ratio
		ts = append(ts, target{ID: id, What: what, Want: want, Got: formatRatio(x), Measured: x,
			Limit: targetMaxLinearity, Status: passIf(x > 0 && x <= targetMaxLinearity)})
	}
	for _, r := range rs {
		x := r.memoryRatio()
		ts = append(ts, target{
			ID:       fmt.Sprintf("memory/%d/%s", r.Tasks, r.Pair),
			What:     fmt.Sprintf("maestro peak memory / dyff's, %s %s pair", tasksLabel(r.Tasks), r.Pair),
			Want:     fmt.Sprintf("< %g×", float64(targetMaxMemoryRatio)),
			Got:      formatRatio(x),
			Measured: x, Limit: targetMaxMemoryRatio,
			Status: passIf(x > 0 && x < targetMaxMemoryRatio),
		})
	}
	for _, r := range rs {
		t := target{ID: fmt.Sprintf("correct/%d/%s", r.Tasks, r.Pair), Incorrect: r.Problem != "",
			Status: passIf(r.Problem == "")}
		t.Got = fmt.Sprintf("%d changes", r.MaestroChanges)
		if r.Problem != "" {
			t.Got = r.Problem
		}
		if r.Pair == pairReformatted {
			t.What = fmt.Sprintf("maestro on the %s reformatted pair: no changes, exit 0", tasksLabel(r.Tasks))
			t.Want = "0 changes"
		} else {
			t.What = fmt.Sprintf("maestro on the %s changed pair: exactly the planted changes, exit 1", tasksLabel(r.Tasks))
			t.Want = fmt.Sprintf("%d changes", r.Want)
		}
		ts = append(ts, t)
	}
	return ts
}

// config records how the run was made.
type config struct {
	Sizes   []int
	Seed    uint64
	Changes int
	Runs    int
}

// environment describes the machine and the binaries measured.
type environment struct {
	CPU            string
	CPUs           int
	OS             string // GOOS/GOARCH and kernel release
	Harness        string // the Go version diffbench was built with
	MaestroVersion string // `maestro version`, plus the VCS revision recorded in the binary
	DyffVersion    string // the dyff module version recorded in the binary
	// HarnessPeakKiB is diffbench's own peak resident set. On Linux a child started with vfork inherits its
	// parent's high-water mark in ru_maxrss, so a measured peak is never below this; it must stay well below the
	// tools' own peaks for the memory column to mean anything.
	HarnessPeakKiB int64
	// LoadStart and LoadEnd are the 1-minute load averages before and after the runs (0 where unknown). A load
	// near or above the number of CPUs means other work shared the machine and the times are inflated.
	LoadStart, LoadEnd float64
}

// report is everything one diffbench run found.
type report struct {
	Date        time.Time
	Config      config
	Env         environment
	Results     []result
	Linearities []linearity
	Targets     []target
}

func newReport(date time.Time, cfg config, env environment, rs []result) *report {
	return &report{Date: date, Config: cfg, Env: env, Results: rs, Linearities: linearities(rs), Targets: evaluate(rs)}
}

// correct reports whether maestro's answers were right in every run.
func (r *report) correct() bool {
	return !slices.ContainsFunc(r.Targets, func(t target) bool { return t.Incorrect })
}

// failed lists the targets that were missed.
func (r *report) failed() []target {
	var out []target
	for _, t := range r.Targets {
		if t.Status == statusFail {
			out = append(out, t)
		}
	}
	return out
}

func tasksLabel(n int) string {
	if n >= 1000 && n%1000 == 0 {
		return fmt.Sprintf("%dk-task", n/1000)
	}
	return fmt.Sprintf("%d-task", n)
}

func formatSeconds(s float64) string {
	if s < 1 {
		return fmt.Sprintf("%.0f ms", s*1000)
	}
	return fmt.Sprintf("%.2f s", s)
}

func formatDuration(d time.Duration) string { return formatSeconds(d.Seconds()) }

func formatRatio(x float64) string {
	switch {
	case x == 0:
		return "—"
	case x < 10:
		return fmt.Sprintf("%.2f×", x)
	}
	return fmt.Sprintf("%.1f×", x)
}

func formatKiB(k int64) string { return fmt.Sprintf("%.1f MiB", float64(k)/1024) }

// writeMarkdown writes the report as markdown: how it was made, one table row per size and pair, and the targets.
func (r *report) writeMarkdown(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "## maestro diff vs dyff between\n\n")
	fmt.Fprintf(&b, "- date: %s\n", r.Date.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- machine: %s, %d CPUs, %s\n", r.Env.CPU, r.Env.CPUs, r.Env.OS)
	fmt.Fprintf(&b, "- maestro: `%s`\n", r.Env.MaestroVersion)
	fmt.Fprintf(&b, "- dyff: %s, as `dyff between --omit-header A B`\n", r.Env.DyffVersion)
	fmt.Fprintf(&b, "- inputs: internal/synth, seed %d, %d planted changes; %d runs of each tool on each pair, "+
		"alternating which goes first\n", r.Config.Seed, r.Config.Changes, r.Config.Runs)
	fmt.Fprintf(&b, "- harness: diffbench built with %s, own peak memory %s\n", r.Env.Harness,
		formatKiB(r.Env.HarnessPeakKiB))
	fmt.Fprintf(&b, "- load average (1 min): %.2f before, %.2f after\n\n", r.Env.LoadStart, r.Env.LoadEnd)
	b.WriteString("Time is the wall time of the whole process (start, parse both files, digest, diff, write the " +
		"report), median of the runs with the fastest in parentheses; the targets use it. CPU is the process's " +
		"user+system time, median: on a machine shared with other work it moves less than wall time. Memory is " +
		"the process's peak resident set (`ru_maxrss`), the highest of the runs. The file column is the size of " +
		"the second file.\n\n")
	b.WriteString("| tasks | pair | file | maestro time | dyff time | dyff/maestro time | maestro CPU | dyff CPU | " +
		"maestro memory | dyff memory | maestro/dyff memory | maestro changes | dyff lines |\n")
	b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, res := range r.Results {
		m, d := res.Tools[toolMaestro], res.Tools[toolDyff]
		changes := fmt.Sprintf("%d", res.MaestroChanges)
		if res.Problem != "" {
			changes += " **wrong**"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s (%s) | %s (%s) | %s | %s | %s | %s | %s | %s | %s | %d |\n",
			res.Tasks, res.Pair, formatBytes(res.BytesB),
			formatDuration(m.median()), formatDuration(m.min()),
			formatDuration(d.median()), formatDuration(d.min()),
			formatRatio(res.timeRatio()),
			formatDuration(m.medianCPU()), formatDuration(d.medianCPU()),
			formatKiB(m.peakKiB()), formatKiB(d.peakKiB()), formatRatio(res.memoryRatio()),
			changes, res.DyffLines)
	}
	if len(r.Linearities) > 0 {
		b.WriteString("\nLinearity (maestro median time): ")
		for i, l := range r.Linearities {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s/%s %s pair %s", tasksShort(l.To), tasksShort(l.From), l.Pair, formatRatio(l.Ratio))
		}
		b.WriteString(" (linear would be 4×).\n")
	}

	b.WriteString("\n### Targets\n\n| target | want | measured | result |\n|---|---|---|---|\n")
	for _, t := range r.Targets {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", escapeCell(t.What), t.Want, escapeCell(t.Got), t.Status)
	}
	var pass, fail, skip int
	for _, t := range r.Targets {
		switch t.Status {
		case statusPass:
			pass++
		case statusFail:
			fail++
		default:
			skip++
		}
	}
	fmt.Fprintf(&b, "\n%d passed, %d failed, %d skipped.\n", pass, fail, skip)
	_, err := w.Write(b.Bytes())
	return err
}

func tasksShort(n int) string {
	if n >= 1000 && n%1000 == 0 {
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

func formatBytes(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", (n+512)/1024)
}

// escapeCell keeps a problem message from breaking the table.
func escapeCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// The JSON form of the report. Times are in seconds and memory in KiB; field names are stable for scripts.
type (
	jsonReport struct {
		SchemaVersion int             `json:"schemaVersion"`
		Date          string          `json:"date"`
		Config        jsonConfig      `json:"config"`
		Environment   jsonEnvironment `json:"environment"`
		Results       []jsonResult    `json:"results"`
		Linearity     []jsonLinearity `json:"linearity"`
		Targets       []jsonTarget    `json:"targets"`
		Correct       bool            `json:"correct"`
		Failed        int             `json:"failed"`
	}
	jsonConfig struct {
		Sizes   []int  `json:"sizes"`
		Seed    uint64 `json:"seed"`
		Changes int    `json:"changes"`
		Runs    int    `json:"runs"`
	}
	jsonEnvironment struct {
		CPU            string  `json:"cpu"`
		CPUs           int     `json:"cpus"`
		OS             string  `json:"os"`
		Harness        string  `json:"harness"`
		MaestroVersion string  `json:"maestroVersion"`
		DyffVersion    string  `json:"dyffVersion"`
		HarnessPeakKiB int64   `json:"harnessPeakKiB"`
		LoadStart      float64 `json:"loadAverageBefore"`
		LoadEnd        float64 `json:"loadAverageAfter"`
	}
	jsonTool struct {
		RunsSeconds   []float64 `json:"runsSeconds"`
		MedianSeconds float64   `json:"medianSeconds"`
		MinSeconds    float64   `json:"minSeconds"`
		CPUSeconds    []float64 `json:"runsCPUSeconds"`
		MedianCPU     float64   `json:"medianCPUSeconds"`
		RunsPeakKiB   []int64   `json:"runsPeakKiB"`
		PeakKiB       int64     `json:"peakKiB"`
	}
	jsonResult struct {
		Tasks          int                 `json:"tasks"`
		Pair           string              `json:"pair"`
		BytesA         int64               `json:"bytesA"`
		BytesB         int64               `json:"bytesB"`
		Tools          map[string]jsonTool `json:"tools"`
		TimeRatio      float64             `json:"dyffOverMaestroTime"`
		MemoryRatio    float64             `json:"maestroOverDyffMemory"`
		MaestroChanges int                 `json:"maestroChanges"`
		WantChanges    int                 `json:"wantChanges"`
		Problem        string              `json:"problem,omitempty"`
		DyffLines      int                 `json:"dyffLines"`
	}
	jsonLinearity struct {
		Pair  string  `json:"pair"`
		From  int     `json:"fromTasks"`
		To    int     `json:"toTasks"`
		Ratio float64 `json:"ratio"`
	}
	jsonTarget struct {
		ID       string  `json:"id"`
		What     string  `json:"what"`
		Want     string  `json:"want"`
		Got      string  `json:"got"`
		Measured float64 `json:"measured"`
		Limit    float64 `json:"limit"`
		Status   status  `json:"status"`
	}
)

func seconds(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = d.Seconds()
	}
	return out
}

// writeJSON writes the report as indented JSON.
func (r *report) writeJSON(w io.Writer) error {
	j := jsonReport{
		SchemaVersion: 1,
		Date:          r.Date.UTC().Format(time.RFC3339),
		Config:        jsonConfig{Sizes: r.Config.Sizes, Seed: r.Config.Seed, Changes: r.Config.Changes, Runs: r.Config.Runs},
		Environment: jsonEnvironment{CPU: r.Env.CPU, CPUs: r.Env.CPUs, OS: r.Env.OS, Harness: r.Env.Harness,
			MaestroVersion: r.Env.MaestroVersion, DyffVersion: r.Env.DyffVersion, HarnessPeakKiB: r.Env.HarnessPeakKiB,
			LoadStart: r.Env.LoadStart, LoadEnd: r.Env.LoadEnd},
		Results:   []jsonResult{},
		Linearity: []jsonLinearity{},
		Targets:   []jsonTarget{},
		Correct:   r.correct(),
		Failed:    len(r.failed()),
	}
	for _, res := range r.Results {
		jr := jsonResult{Tasks: res.Tasks, Pair: res.Pair, BytesA: res.BytesA, BytesB: res.BytesB,
			Tools: map[string]jsonTool{}, TimeRatio: res.timeRatio(), MemoryRatio: res.memoryRatio(),
			MaestroChanges: res.MaestroChanges, WantChanges: res.Want, Problem: res.Problem, DyffLines: res.DyffLines}
		for name, m := range res.Tools {
			jr.Tools[name] = jsonTool{RunsSeconds: seconds(m.Wall), MedianSeconds: m.median().Seconds(),
				MinSeconds: m.min().Seconds(), CPUSeconds: seconds(m.CPU), MedianCPU: m.medianCPU().Seconds(),
				RunsPeakKiB: append([]int64{}, m.MaxRSS...), PeakKiB: m.peakKiB()}
		}
		j.Results = append(j.Results, jr)
	}
	for _, l := range r.Linearities {
		j.Linearity = append(j.Linearity, jsonLinearity(l))
	}
	for _, t := range r.Targets {
		j.Targets = append(j.Targets, jsonTarget{ID: t.ID, What: t.What, Want: t.Want, Got: t.Got,
			Measured: t.Measured, Limit: t.Limit, Status: t.Status})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(j)
}
