// Package synth generates synthetic workflows for benchmarks and property tests.
//
// Everything is a pure function of Options: the same options give the same bytes on every run and platform. A
// generated workflow is a random DAG of digest-pinned tasks with realistic params, retries and timeouts. Two variants
// of the same base exist for testing the digest and the diff: one with a known number of planted semantic changes
// (Changes), and one with the same meaning written differently (Reformat).
package synth

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Options select a synthetic workflow.
type Options struct {
	// Tasks is the number of tasks; values below 1 mean 1.
	Tasks int
	// Seed selects the graph, the packages, the params and every other random choice.
	Seed uint64
	// Changes plants that many semantic changes in the base workflow, each in a different task, cycling through
	// ChangeKinds. It is capped at Tasks. Apart from the planted edits the plain rendering stays byte-identical to
	// the base.
	Changes int
	// Reformat writes the same workflow (with the same planted changes, if any) in a different form: tasks, keys and
	// dependencies shuffled, mixed block and flow style, mixed quoting, comments, a duplicate dependency, YAML
	// anchors, aliases and merge keys. It parses to the same model as the plain rendering.
	Reformat bool
}

// Kinds of planted change, named as the semantic diff names them.
const (
	KindPackage   = "task.package"
	KindParam     = "task.param"
	KindEdgeAdded = "edge.added"
	KindRetries   = "task.retries"
	KindTimeout   = "task.timeout"
)

// ChangeKinds is the order in which planted changes cycle through the kinds: change i is of kind
// ChangeKinds[i%len(ChangeKinds)], unless no task is left that can take it (then it is a package change).
var ChangeKinds = []string{KindPackage, KindParam, KindEdgeAdded, KindRetries, KindTimeout}

// Change is one planted semantic change.
type Change struct {
	Kind string // one of the Kind constants
	Task string // the id of the task changed
	// Field is the changed field of the task: "package", "params.NAME", "dependsOn", "retries" or "timeout".
	Field string
	// Old and New are the values before and after, as written; for an added edge Old is empty and New is the task
	// depended on. Retries and timeouts are effective values: a workflow default when the task set none.
	Old, New string
}

func (c Change) String() string {
	return fmt.Sprintf("%s %s %s: %q -> %q", c.Kind, c.Task, c.Field, c.Old, c.New)
}

// Workflow-wide constants of every generated workflow.
const (
	registry       = "registry.example.com"
	defaultRetries = 1
	defaultTimeout = "30m"
)

// Generate returns a YAML document holding one workflow selected by opts.
func Generate(opts Options) []byte {
	m, _ := build(opts)
	if opts.Reformat {
		return renderReformatted(m, opts.Seed)
	}
	return renderPlain(m)
}

// Planted returns the changes that Generate(opts) plants in the base workflow, in the order they were planted.
func Planted(opts Options) []Change {
	_, changes := build(opts)
	return changes
}

// Name returns the name of the workflow Generate writes; it depends on Tasks and Seed only.
func Name(opts Options) string {
	return fmt.Sprintf("synthetic-n%d-s%d", max(opts.Tasks, 1), opts.Seed)
}

type kv struct{ key, value string }

type task struct {
	id      string
	pkg     string
	params  []kv
	retries int    // -1: not set, the default applies
	timeout string // "": not set, the default applies
	deps    []int  // indexes of earlier tasks
}

type model struct {
	name  string
	tasks []*task
}

// Independent random streams, so that adding changes or reformatting never alters the base.
const (
	streamBase     = 0x6d61657374726f31
	streamChanges  = 0x6d61657374726f32
	streamReformat = 0x6d61657374726f33
)

type pkg struct{ team, name string }

// packages is the pool task packages are drawn from.
var packages = []pkg{
	{"data", "extract-postgres"}, {"data", "extract-mysql"}, {"data", "extract-s3"}, {"data", "extract-kafka"},
	{"data", "extract-salesforce"}, {"data", "extract-api"}, {"data", "validate-schema"}, {"data", "validate-rows"},
	{"data", "dedupe"}, {"data", "transform-dbt"}, {"data", "transform-spark"}, {"data", "join"},
	{"data", "enrich-geo"}, {"data", "load-warehouse"}, {"data", "load-lake"}, {"data", "publish-dataset"},
	{"data", "compact-partitions"}, {"data", "snapshot-table"},
	{"ml", "fetch-dataset"}, {"ml", "features-user"}, {"ml", "features-item"}, {"ml", "features-context"},
	{"ml", "split-dataset"}, {"ml", "train-xgboost"}, {"ml", "train-torch"}, {"ml", "evaluate-model"},
	{"ml", "register-model"}, {"ml", "batch-score"}, {"ml", "drift-check"},
	{"analytics", "query-warehouse"}, {"analytics", "aggregate"}, {"analytics", "pivot"},
	{"analytics", "render-report"}, {"analytics", "export-csv"}, {"analytics", "send-email"},
	{"billing", "meter"}, {"billing", "rate-usage"}, {"billing", "invoice"}, {"billing", "ledger-post"},
	{"ops", "notify-slack"}, {"ops", "page-oncall"}, {"ops", "archive-logs"}, {"ops", "vacuum"},
	{"ops", "backup-db"}, {"ops", "rotate-keys"}, {"ops", "sync-dns"}, {"ops", "warm-cache"},
	{"security", "scan-images"}, {"security", "audit-access"}, {"security", "export-findings"},
}

// ref returns the digest-pinned ref of a pool package; the digest is the sha256 of its repository name.
func (p pkg) ref() string {
	repo := registry + "/" + p.team + "/" + p.name
	sum := sha256.Sum256([]byte(repo))
	return repo + "@sha256:" + hex.EncodeToString(sum[:])
}

// paramValues lists, for each task param name, the values it takes.
var paramValues = []struct {
	key    string
	values []string
}{
	{"date", []string{"{{ params.date }}", "{{ params.date }}", "{{ params.date }}T00:00:00Z"}},
	{"shard", []string{"{{ params.shard }}"}},
	{"partition", []string{"dt={{ params.date }}", "dt={{ params.date }}/shard={{ params.shard }}"}},
	{"table", []string{"orders", "events", "accounts", "invoices", "sessions", "users", "items", "payments"}},
	{"format", []string{"parquet", "avro", "csv", "json", "orc"}},
	{"region", []string{"us-east-1", "us-west-2", "eu-west-1"}},
	{"mode", []string{"append", "merge", "overwrite"}},
	{"batch_size", []string{"500", "1000", "5000", "20000"}},
	{"bucket", []string{"acme-raw", "acme-curated", "acme-archive", "acme-ml"}},
	{"compression", []string{"zstd", "snappy", "gzip"}},
	{"limit", []string{"100000", "1000000"}},
	{"dataset", []string{"acme.orders", "acme.events", "acme.features", "acme.billing"}},
	{"window", []string{"7d", "30d", "90d"}},
	{"owner", []string{"data-platform", "recsys", "bi", "revenue-eng"}},
}

var timeouts = []string{"5m", "10m", "15m", "20m", "30m", "45m", "1h", "1h30m", "2h", "4h"}

func build(opts Options) (*model, []Change) {
	n := max(opts.Tasks, 1)
	rng := rand.New(rand.NewPCG(opts.Seed, streamBase))
	m := &model{name: Name(opts), tasks: make([]*task, n)}
	width := len(strconv.Itoa(n - 1))
	for i := range n {
		p := packages[rng.IntN(len(packages))]
		t := &task{id: fmt.Sprintf("%s-%0*d", p.name, width, i), pkg: p.ref(), retries: -1}
		for _, j := range rng.Perm(len(paramValues))[:1+rng.IntN(4)] {
			pv := paramValues[j]
			t.params = append(t.params, kv{pv.key, pv.values[rng.IntN(len(pv.values))]})
		}
		if rng.IntN(10) < 3 {
			t.retries = rng.IntN(6)
		}
		if rng.IntN(4) == 0 {
			t.timeout = timeouts[rng.IntN(len(timeouts))]
		}
		// Mostly chains and small fan-ins, leaning on recent tasks as real pipelines do.
		var ndeps int
		switch r := rng.IntN(20); {
		case r < 2:
			ndeps = 0
		case r < 12:
			ndeps = 1
		case r < 17:
			ndeps = 2
		default:
			ndeps = 3
		}
		for range min(ndeps, i) {
			var d int
			if rng.IntN(4) == 0 {
				d = rng.IntN(i)
			} else {
				d = i - 1 - rng.IntN(min(i, 20))
			}
			if !slices.Contains(t.deps, d) {
				t.deps = append(t.deps, d)
			}
		}
		m.tasks[i] = t
	}
	return m, plant(m, opts)
}

// plant makes opts.Changes semantic changes to m, each in a different task, and returns them.
func plant(m *model, opts Options) []Change {
	k := min(max(opts.Changes, 0), len(m.tasks))
	if k == 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(opts.Seed, streamChanges))
	order := rng.Perm(len(m.tasks))
	used := make([]bool, len(m.tasks))
	first := 0 // order[:first] are all used
	changes := make([]Change, 0, k)
	for i := range k {
		kind := ChangeKinds[i%len(ChangeKinds)]
		idx := -1
		for _, j := range order[first:] {
			if !used[j] && (kind != KindEdgeAdded || len(m.tasks[j].deps) < j) {
				idx = j
				break
			}
		}
		if idx < 0 { // no task left can take a new edge; every task can take a new package
			kind = KindPackage
			for _, j := range order[first:] {
				if !used[j] {
					idx = j
					break
				}
			}
		}
		used[idx] = true
		for first < len(order) && used[order[first]] {
			first++
		}
		changes = append(changes, change(m, m.tasks[idx], kind, rng))
	}
	return changes
}

func change(m *model, t *task, kind string, rng *rand.Rand) Change {
	c := Change{Kind: kind, Task: t.id}
	switch kind {
	case KindPackage:
		repo, _, _ := strings.Cut(t.pkg, "@")
		sum := sha256.Sum256([]byte(t.pkg))
		c.Field, c.Old = "package", t.pkg
		t.pkg = repo + "@sha256:" + hex.EncodeToString(sum[:])
		c.New = t.pkg
	case KindParam:
		p := &t.params[rng.IntN(len(t.params))]
		c.Field, c.Old = "params."+p.key, p.value
		p.value += "-v2"
		c.New = p.value
	case KindEdgeAdded:
		idx := slices.Index(m.tasks, t)
		var d int
		for {
			d = rng.IntN(idx)
			if !slices.Contains(t.deps, d) {
				break
			}
		}
		t.deps = append(t.deps, d)
		c.Field, c.New = "dependsOn", m.tasks[d].id
	case KindRetries:
		old := t.retries
		if old < 0 {
			old = defaultRetries
		}
		t.retries = (old + 1 + rng.IntN(5)) % 6
		c.Field, c.Old, c.New = "retries", strconv.Itoa(old), strconv.Itoa(t.retries)
	case KindTimeout:
		old := t.timeout
		if old == "" {
			old = defaultTimeout
		}
		for t.timeout = old; t.timeout == old; {
			t.timeout = timeouts[rng.IntN(len(timeouts))]
		}
		c.Field, c.Old, c.New = "timeout", old, t.timeout
	}
	return c
}

// seconds returns a duration string's length in whole seconds.
func seconds(d string) int64 {
	v, err := time.ParseDuration(d)
	if err != nil {
		panic("synth: bad duration " + d) // the generator only writes durations from its own table
	}
	return int64(v / time.Second)
}
