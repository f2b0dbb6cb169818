// Command diffbench compares `maestro diff` with `dyff between` on synthetic workflows, as the "Speed"
// section asks: for each size it writes a base workflow, the base with planted changes and the base reformatted
// (internal/synth), runs each tool on base→changed and base→reformatted several times as a child process, and reports
// wall time and peak memory, their ratios and the targets. maestro's answers are checked on every run: the
// planted changes exactly on the changed pair, nothing on the reformatted pair.
//
//	diffbench -maestro bin/maestro -dyff bin/dyff [-sizes 1000,5000,20000] [-runs 5] [-out FILE] [-json FILE] [-strict]
//
// The markdown report goes to stdout or -out; -json writes the same in JSON. Progress lines go to stderr when it is
// a terminal. Exit status: 0 when maestro was right every time (missed speed targets included, unless -strict), 1
// when maestro gave a wrong answer (or, with -strict, a target was missed), 2 on trouble (bad flags, a binary that
// does not run, dyff failing).
package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/maestro-conductor/maestro/internal/synth"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailed  = 1 // maestro was wrong, or a target was missed under -strict
	exitTrouble = 2
)

// options are diffbench's flags.
type options struct {
	Maestro  string
	Dyff     string
	Sizes    []int
	Runs     int
	Seed     uint64
	Changes  int
	Out      string
	JSON     string
	Strict   bool
	Keep     bool
	Generate string // internal: only write the inputs to this directory
}

func (o *options) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Maestro, "maestro", "bin/maestro", "maestro binary to measure")
	fs.StringVar(&o.Dyff, "dyff", "bin/dyff", "dyff binary to compare with")
	fs.Func("sizes", "comma-separated workflow sizes in tasks (default 1000,5000,20000)", func(s string) error {
		sizes, err := parseSizes(s)
		o.Sizes = sizes
		return err
	})
	fs.IntVar(&o.Runs, "runs", 5, "runs of each tool on each pair")
	fs.Uint64Var(&o.Seed, "seed", 1, "synth seed")
	fs.IntVar(&o.Changes, "changes", 10, "semantic changes planted in the changed file")
	fs.StringVar(&o.Out, "out", "", "write the markdown report to this file instead of stdout")
	fs.StringVar(&o.JSON, "json", "", "also write the report as JSON to this file")
	fs.BoolVar(&o.Strict, "strict", false, "exit 1 when a speed or memory target is missed")
	fs.BoolVar(&o.Keep, "keep", false, "keep the generated files and tool outputs (the directory is printed on stderr)")
	fs.StringVar(&o.Generate, "generate", "", "only write the input files for -sizes to this directory and exit")
}

func parseSizes(s string) ([]int, error) {
	var sizes []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("size %q: want a positive number of tasks", f)
		}
		sizes = append(sizes, n)
	}
	slices.Sort(sizes)
	return slices.Compact(sizes), nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("diffbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := options{Sizes: []int{1000, 5000, 20000}}
	o.addFlags(fs)
	if err := fs.Parse(args); err != nil {
		return exitTrouble
	}
	if fs.NArg() > 0 || o.Runs < 1 || o.Changes < 1 {
		fmt.Fprintln(stderr, "diffbench: takes no arguments, and needs -runs >= 1 and -changes >= 1")
		return exitTrouble
	}
	if o.Generate != "" {
		if err := generate(o.Generate, o); err != nil {
			fmt.Fprintln(stderr, "diffbench:", err)
			return exitTrouble
		}
		return exitOK
	}
	rep, err := bench(ctx, o, progressWriter(stderr))
	if err != nil {
		fmt.Fprintln(stderr, "diffbench:", err)
		return exitTrouble
	}
	if err := write(rep, o, stdout); err != nil {
		fmt.Fprintln(stderr, "diffbench:", err)
		return exitTrouble
	}
	code := exitOK
	for _, t := range rep.Targets {
		if t.Incorrect {
			fmt.Fprintf(stderr, "diffbench: WRONG ANSWER %s: %s\n", t.ID, t.Got)
			code = exitFailed
		}
	}
	if failed := rep.failed(); len(failed) > 0 {
		fmt.Fprintf(stderr, "diffbench: %d of %d targets missed:", len(failed), len(rep.Targets))
		for _, t := range failed {
			fmt.Fprintf(stderr, " %s", t.ID)
		}
		fmt.Fprintln(stderr)
		if o.Strict {
			code = exitFailed
		}
	}
	return code
}

// progressWriter returns stderr when it is a terminal and nil otherwise, so that runs in CI stay quiet.
func progressWriter(stderr io.Writer) io.Writer {
	f, ok := stderr.(*os.File)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return f
}

func write(rep *report, o options, stdout io.Writer) error {
	if o.Out == "" {
		if err := rep.writeMarkdown(stdout); err != nil {
			return err
		}
	} else if err := writeFile(o.Out, rep.writeMarkdown); err != nil {
		return err
	}
	if o.JSON != "" {
		return writeFile(o.JSON, rep.writeJSON)
	}
	return nil
}

func writeFile(path string, render func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := render(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// Names of the generated files in each size's directory.
const (
	fileBase        = "base.yaml"
	fileChanged     = "changed.yaml"
	fileReformatted = "reformatted.yaml"
	filePlanted     = "planted.json"
)

func sizeDir(dir string, n int) string { return filepath.Join(dir, fmt.Sprintf("tasks-%d", n)) }

// generate writes, for each size, the three workflows and the list of planted changes. It runs in a child process
// of its own (see inputs) because generating a 20,000-task workflow takes a few hundred MB.
func generate(dir string, o options) error {
	for _, n := range o.Sizes {
		d := sizeDir(dir, n)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		base := synth.Options{Tasks: n, Seed: o.Seed}
		changed := synth.Options{Tasks: n, Seed: o.Seed, Changes: o.Changes}
		reformatted := synth.Options{Tasks: n, Seed: o.Seed, Reformat: true}
		for name, opts := range map[string]synth.Options{fileBase: base, fileChanged: changed, fileReformatted: reformatted} {
			if err := os.WriteFile(filepath.Join(d, name), synth.Generate(opts), 0o644); err != nil {
				return err
			}
		}
		planted, err := json.Marshal(synth.Planted(changed))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(d, filePlanted), planted, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// inputs has a child diffbench write the input files, and reads back the planted changes. On Linux, Go starts a
// child with vfork, and at exec the kernel carries the parent's high-water resident set into the child's ru_maxrss:
// a tool's measured peak is the larger of its own and diffbench's. Generating the 20,000-task files (a few hundred
// MB) in this process would have raised the floor above maestro's real peak.
func inputs(ctx context.Context, dir string, o options) (map[int][]synth.Change, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	sizes := make([]string, len(o.Sizes))
	for i, n := range o.Sizes {
		sizes[i] = strconv.Itoa(n)
	}
	cmd := exec.CommandContext(ctx, self, "-generate", dir, "-sizes", strings.Join(sizes, ","),
		"-seed", strconv.FormatUint(o.Seed, 10), "-changes", strconv.Itoa(o.Changes))
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("generate inputs: %v: %s", err, out)
	}
	planted := map[int][]synth.Change{}
	for _, n := range o.Sizes {
		data, err := os.ReadFile(filepath.Join(sizeDir(dir, n), filePlanted))
		if err != nil {
			return nil, err
		}
		var cs []synth.Change
		if err := json.Unmarshal(data, &cs); err != nil {
			return nil, fmt.Errorf("read planted changes: %w", err)
		}
		if len(cs) != o.Changes {
			return nil, fmt.Errorf("synth planted %d changes in %d tasks, want %d", len(cs), n, o.Changes)
		}
		planted[n] = cs
	}
	return planted, nil
}

// runner runs the tools as child processes, one at a time, with stdout and stderr going to files so that no pipe
// or copying goroutine sits between a tool and the clock.
type runner struct {
	bins     map[string]string
	outDir   string
	progress io.Writer // nil: quiet
}

// outcome is one child process's run.
type outcome struct {
	wall   time.Duration
	cpu    time.Duration // user+system
	rssKiB int64
	exit   int
	stdout string // path of the file holding its stdout
	stderr string
}

func toolArgs(tool, a, b string) []string {
	if tool == toolMaestro {
		return []string{"diff", a, b, "--output", "json"}
	}
	return []string{"between", "--omit-header", a, b}
}

// runOnce runs tool on the pair (a, b). A non-zero exit status is not an error; not being able to run is.
func (r *runner) runOnce(ctx context.Context, tool, a, b string) (outcome, error) {
	o := outcome{stdout: filepath.Join(r.outDir, tool+".out"), stderr: filepath.Join(r.outDir, tool+".err")}
	so, err := os.Create(o.stdout)
	if err != nil {
		return o, err
	}
	defer so.Close()
	se, err := os.Create(o.stderr)
	if err != nil {
		return o, err
	}
	defer se.Close()
	cmd := exec.CommandContext(ctx, r.bins[tool], toolArgs(tool, a, b)...)
	cmd.Stdout, cmd.Stderr = so, se
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return o, fmt.Errorf("run %s: %w", tool, err)
	}
	err = cmd.Wait()
	o.wall = time.Since(start)
	if cmd.ProcessState != nil {
		o.rssKiB = maxRSSKiB(cmd.ProcessState)
		o.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		o.exit = cmd.ProcessState.ExitCode()
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return o, fmt.Errorf("run %s: %w", tool, err)
	}
	if ctx.Err() != nil {
		return o, ctx.Err()
	}
	if o.exit < 0 {
		return o, fmt.Errorf("run %s: %s", tool, cmd.ProcessState)
	}
	return o, nil
}

// bench generates the inputs, measures every pair and returns the report.
func bench(ctx context.Context, o options, progress io.Writer) (*report, error) {
	bins := map[string]string{}
	for tool, path := range map[string]string{toolMaestro: o.Maestro, toolDyff: o.Dyff} {
		p, err := exec.LookPath(path)
		if err != nil {
			return nil, fmt.Errorf("%s binary: %w (make build builds bin/maestro; bench/run.sh builds bin/dyff)", tool, err)
		}
		if p, err = filepath.Abs(p); err != nil {
			return nil, err
		}
		bins[tool] = p
	}
	dir, err := os.MkdirTemp("", "diffbench-")
	if err != nil {
		return nil, err
	}
	if o.Keep {
		fmt.Fprintln(os.Stderr, "diffbench: inputs and outputs kept in", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	planted, err := inputs(ctx, dir, o)
	if err != nil {
		return nil, err
	}
	r := &runner{bins: bins, outDir: dir, progress: progress}
	env := describe(ctx, bins)
	env.LoadStart = loadAverage()

	// One untimed run of each tool, so that neither pays for loading its binary from disk in the first timed run.
	first := sizeDir(dir, o.Sizes[0])
	for _, tool := range []string{toolMaestro, toolDyff} {
		if _, err := r.runOnce(ctx, tool, filepath.Join(first, fileBase), filepath.Join(first, fileChanged)); err != nil {
			return nil, err
		}
	}

	var results []result
	for _, n := range o.Sizes {
		for _, pair := range pairs {
			res, err := r.measurePair(ctx, sizeDir(dir, n), n, pair, o.Runs, planted[n])
			if err != nil {
				return nil, err
			}
			results = append(results, res)
		}
	}
	env.HarnessPeakKiB = selfMaxRSSKiB()
	env.LoadEnd = loadAverage()
	cfg := config{Sizes: o.Sizes, Seed: o.Seed, Changes: o.Changes, Runs: o.Runs}
	return newReport(time.Now(), cfg, env, results), nil
}

// measurePair runs both tools runs times on one pair, alternating which goes first, and checks each maestro run.
func (r *runner) measurePair(ctx context.Context, dir string, n int, pair string, runs int, planted []synth.Change) (result, error) {
	a := filepath.Join(dir, fileBase)
	b := filepath.Join(dir, fileChanged)
	res := result{Tasks: n, Pair: pair, Tools: map[string]measurement{}, Want: len(planted)}
	if pair == pairReformatted {
		b = filepath.Join(dir, fileReformatted)
		res.Want = 0
	}
	for i, p := range []string{a, b} {
		fi, err := os.Stat(p)
		if err != nil {
			return res, err
		}
		if i == 0 {
			res.BytesA = fi.Size()
		} else {
			res.BytesB = fi.Size()
		}
	}
	for i := range runs {
		order := []string{toolMaestro, toolDyff}
		if i%2 == 1 {
			order = []string{toolDyff, toolMaestro}
		}
		for _, tool := range order {
			out, err := r.runOnce(ctx, tool, a, b)
			if err != nil {
				return res, err
			}
			m := res.Tools[tool]
			m.Wall = append(m.Wall, out.wall)
			m.CPU = append(m.CPU, out.cpu)
			m.MaxRSS = append(m.MaxRSS, out.rssKiB)
			res.Tools[tool] = m
			if r.progress != nil {
				fmt.Fprintf(r.progress, "diffbench: %d tasks, %s pair, %s run %d/%d: %s (CPU %s), %s\n",
					n, pair, tool, i+1, runs, formatDuration(out.wall), formatDuration(out.cpu), formatKiB(out.rssKiB))
			}
			switch tool {
			case toolMaestro:
				changes, problem := checkRun(pair, out, planted)
				res.MaestroChanges = changes
				if problem != "" && res.Problem == "" {
					res.Problem = fmt.Sprintf("run %d: %s", i+1, problem)
				}
			case toolDyff:
				if out.exit != 0 {
					return res, fmt.Errorf("dyff between on %d tasks, %s pair: exit %d: %s", n, pair, out.exit, head(out.stderr))
				}
				if res.DyffLines, err = countLines(out.stdout); err != nil {
					return res, err
				}
			}
		}
	}
	return res, nil
}

// checkRun checks a maestro run and returns the number of changes it reported and what was wrong, if anything.
func checkRun(pair string, out outcome, planted []synth.Change) (int, string) {
	if out.exit != 0 && out.exit != 1 {
		return 0, fmt.Sprintf("exit %d: %s", out.exit, head(out.stderr))
	}
	data, err := os.ReadFile(out.stdout)
	if err != nil {
		return 0, err.Error()
	}
	n, err := checkMaestro(pair, out.exit, data, planted)
	if err != nil {
		return n, err.Error()
	}
	return n, ""
}

// head returns the first line of a file, for error messages.
func head(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	if s.Scan() {
		return s.Text()
	}
	return "(no output)"
}

// countLines counts the lines of a file without holding it: dyff's output on a large reformatted pair is big, and
// this process's memory must stay small (see inputs).
func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int
	buf := make([]byte, 64<<10)
	for {
		k, err := f.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// describe records the machine and the binaries.
func describe(ctx context.Context, bins map[string]string) environment {
	env := environment{CPU: cpuModel(), CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		Harness: runtime.Version()}
	if rel, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		env.OS += ", kernel " + strings.TrimSpace(string(rel))
	}
	env.MaestroVersion = "unknown"
	if out, err := exec.CommandContext(ctx, bins[toolMaestro], "version").Output(); err == nil {
		env.MaestroVersion = strings.TrimSpace(string(out))
	}
	env.DyffVersion = "unknown"
	if bi, err := buildinfo.ReadFile(bins[toolDyff]); err == nil {
		const dyffModule = "github.com/homeport/dyff"
		if bi.Main.Path == dyffModule {
			env.DyffVersion = dyffModule + " " + bi.Main.Version
		}
		for _, d := range bi.Deps {
			if d.Path == dyffModule {
				env.DyffVersion = dyffModule + " " + d.Version
			}
		}
	}
	return env
}

// cpuModel returns the "model name" of /proc/cpuinfo, or GOARCH where there is none.
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

// loadAverage returns the 1-minute load average from /proc/loadavg, or 0 where there is none.
func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(data), " ")
	v, err := strconv.ParseFloat(first, 64)
	if err != nil {
		return 0
	}
	return v
}
