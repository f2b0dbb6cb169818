package diff

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strconv"
	"strings"
	"unicode"
)

// Report is the JSON document `maestro diff --output json` writes; docs/diff-json.md describes it.
type Report struct {
	// SchemaVersion changes only when a field's meaning changes; fields may be added in the same version.
	SchemaVersion int            `json:"schemaVersion"`
	Changed       bool           `json:"changed"`
	Breaking      bool           `json:"breaking"`
	Summary       map[Class]int  `json:"summary"`
	Statuses      map[Status]int `json:"statuses"`
	Workflows     []Workflow     `json:"workflows"`
}

// NewReport builds the JSON report of a result.
func NewReport(r Result) Report {
	rep := Report{SchemaVersion: 1, Changed: r.Changed(), Breaking: r.Has(Breaking),
		Summary: map[Class]int{}, Statuses: map[Status]int{}, Workflows: r.Workflows}
	for _, c := range Classes {
		rep.Summary[c] = 0
	}
	for c, n := range r.Count() {
		rep.Summary[c] = n
	}
	for _, w := range r.Workflows {
		rep.Statuses[w.Status]++
	}
	if rep.Workflows == nil {
		rep.Workflows = []Workflow{}
	}
	return rep
}

// WriteJSON writes the result as an indented JSON report with a stable order: workflows by name, changes by path.
func WriteJSON(w io.Writer, r Result) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(NewReport(r))
}

// TextOptions control the human rendering.
type TextOptions struct {
	// Color adds ANSI colours.
	Color bool
	// ShowUnchanged lists workflows that did not change.
	ShowUnchanged bool
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
	ansiDim    = "\x1b[2m"
)

// WriteText writes the result for a person at a terminal.
func WriteText(w io.Writer, r Result, opts TextOptions) error {
	paint := func(code, s string) string {
		if !opts.Color {
			return s
		}
		return code + s + ansiReset
	}
	classColor := map[Class]string{Breaking: ansiRed, Behavioral: ansiYellow, Metadata: ansiCyan}
	statusColor := map[Status]string{Added: ansiGreen, Removed: ansiRed, Modified: ansiYellow, Relabeled: ansiCyan, Unchanged: ansiDim}
	var b strings.Builder
	unchanged := 0
	for _, wd := range r.Workflows {
		if wd.Status == Unchanged {
			unchanged++
			if !opts.ShowUnchanged {
				continue
			}
		}
		fmt.Fprintf(&b, "%s  %s  %s\n", paint(ansiBold, wd.Name), paint(statusColor[wd.Status], string(wd.Status)), digestArrow(wd))
		for _, c := range wd.Changes {
			fmt.Fprintf(&b, "  %s  %-15s %s", paint(classColor[c.Class], fmt.Sprintf("%-10s", c.Class)), c.Kind, textSafe(c.Path))
			if v := changeValues(c); v != "" {
				b.WriteString("  ")
				b.WriteString(v)
			}
			b.WriteByte('\n')
		}
	}
	b.WriteString(summaryLine(r, unchanged))
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

func digestArrow(wd Workflow) string {
	switch {
	case wd.OldDigest == "":
		return string(wd.NewDigest)
	case wd.NewDigest == "":
		return string(wd.OldDigest)
	case wd.OldDigest == wd.NewDigest:
		return string(wd.NewDigest)
	}
	return wd.OldDigest.Short() + " → " + wd.NewDigest.Short()
}

func changeValues(c Change) string {
	switch {
	case c.Old == nil && c.New == nil:
		return ""
	case c.Old == nil:
		return "+ " + textValue(c.New)
	case c.New == nil:
		return "- " + textValue(c.Old)
	}
	return textValue(c.Old) + " → " + textValue(c.New)
}

// textValue renders a change value for a terminal: an empty string shows as "" rather than nothing.
func textValue(v any) string {
	if s, ok := v.(string); ok && s == "" {
		return `""`
	}
	return textSafe(valueString(v))
}

// textSafe quotes text that holds control characters: values come from the files being compared, and a newline
// or an escape sequence written raw would forge output lines or drive the reader's terminal.
func textSafe(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

func summaryLine(r Result, unchanged int) string {
	st := map[Status]int{}
	for _, w := range r.Workflows {
		st[w.Status]++
	}
	n := r.Count()
	changed := st[Added] + st[Removed] + st[Modified]
	if changed == 0 && st[Relabeled] == 0 {
		return fmt.Sprintf("no workflow changes (%d compared)", len(r.Workflows))
	}
	return fmt.Sprintf("%d of %d workflows changed (%d added, %d removed, %d modified, %d metadata only); changes: %d breaking, %d behavioral, %d metadata",
		changed, len(r.Workflows), st[Added], st[Removed], st[Modified], st[Relabeled], n[Breaking], n[Behavioral], n[Metadata])
}

// MarkdownOptions control the pull-request rendering.
type MarkdownOptions struct {
	// MaxBytes bounds the output; 0 means GitHub's comment limit, MaxCommentBytes.
	MaxBytes int
	// Header is written first (a hidden marker, a title); empty means the default title.
	Header string
	// TruncatedNote replaces the default note written when workflows had to be left out.
	TruncatedNote string
	// Extra returns more markdown for a workflow's <details> block (a graph, say), or "".
	Extra func(Workflow) string
}

// MaxCommentBytes is GitHub's limit on the body of an issue or pull-request comment, in characters.
const MaxCommentBytes = 65536

// Markdown renders the result for a pull-request comment: a summary table first, then one collapsed <details>
// block per changed workflow. When the whole would exceed the size limit, whole <details> blocks are left out from
// the end and a note says how many.
func Markdown(r Result, opts MarkdownOptions) string {
	max := opts.MaxBytes
	if max <= 0 {
		max = MaxCommentBytes
	}
	var head strings.Builder
	if opts.Header != "" {
		head.WriteString(opts.Header)
		if !strings.HasSuffix(opts.Header, "\n") {
			head.WriteByte('\n')
		}
	} else {
		head.WriteString("### maestro diff\n")
	}
	var shown []Workflow
	unchanged := 0
	for _, w := range r.Workflows {
		if w.Status == Unchanged {
			unchanged++
			continue
		}
		shown = append(shown, w)
	}
	head.WriteString("\n")
	head.WriteString(markdownSummary(r, unchanged))
	head.WriteString("\n")
	if len(shown) == 0 {
		return head.String()
	}
	var rows strings.Builder
	rows.WriteString("\n| Workflow | Status | Old digest | New digest | Breaking | Behavioral | Metadata |\n|---|---|---|---|---:|---:|---:|\n")
	for _, w := range shown {
		n := w.Count()
		fmt.Fprintf(&rows, "| `%s` | %s | %s | %s | %d | %d | %d |\n", w.Name, statusBadge(w.Status),
			mdDigest(string(w.OldDigest)), mdDigest(string(w.NewDigest)), n[Breaking], n[Behavioral], n[Metadata])
	}
	blocks := make([]string, len(shown))
	for i, w := range shown {
		blocks[i] = markdownDetails(w, opts.Extra)
	}
	out := head.String()
	note := func(left int) string {
		if opts.TruncatedNote != "" {
			return fmt.Sprintf("\n> [!NOTE]\n> %d of %d changed workflows are not shown here to stay within %d characters. %s\n", left, len(shown), max, opts.TruncatedNote)
		}
		return fmt.Sprintf("\n> [!NOTE]\n> %d of %d changed workflows are not shown here to stay within %d characters. Run `maestro diff --output markdown` for the full report.\n", left, len(shown), max)
	}
	reserve := len(note(len(shown)))
	if len(out)+rows.Len()+reserve <= max {
		out += rows.String()
	}
	for i, blk := range blocks {
		if len(out)+len(blk)+reserve > max {
			return out + note(len(blocks)-i)
		}
		out += blk
	}
	return out
}

func statusBadge(s Status) string {
	switch s {
	case Added:
		return "🟢 added"
	case Removed:
		return "🔴 removed"
	case Modified:
		return "🟡 modified"
	case Relabeled:
		return "🔵 metadata"
	}
	return string(s)
}

func mdDigest(d string) string {
	if d == "" {
		return "—"
	}
	return "`" + strings.TrimPrefix(d, "sha256:")[:12] + "`"
}

func markdownSummary(r Result, unchanged int) string {
	n := r.Count()
	changed := len(r.Workflows) - unchanged
	if changed == 0 {
		return fmt.Sprintf("No workflow changes (%d compared).\n", len(r.Workflows))
	}
	verdict := "No breaking changes."
	if n[Breaking] > 0 {
		verdict = fmt.Sprintf("**%d breaking change(s).**", n[Breaking])
	}
	return fmt.Sprintf("%s %d of %d workflows changed: %d breaking, %d behavioral, %d metadata change(s).\n",
		verdict, changed, len(r.Workflows), n[Breaking], n[Behavioral], n[Metadata])
}

func markdownDetails(w Workflow, extra func(Workflow) string) string {
	var b strings.Builder
	n := w.Count()
	fmt.Fprintf(&b, "\n<details><summary><b>%s</b> — %s: %d breaking, %d behavioral, %d metadata</summary>\n\n",
		html.EscapeString(w.Name), w.Status, n[Breaking], n[Behavioral], n[Metadata])
	fmt.Fprintf(&b, "Digest: %s → %s\n\n", mdCode(string(w.OldDigest)), mdCode(string(w.NewDigest)))
	if extra != nil {
		if x := extra(w); x != "" {
			b.WriteString(x)
			if !strings.HasSuffix(x, "\n") {
				b.WriteByte('\n')
			}
			b.WriteByte('\n')
		}
	}
	b.WriteString("| Class | Kind | Path | Old | New |\n|---|---|---|---|---|\n")
	for _, c := range w.Changes {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", c.Class, c.Kind, mdCode(c.Path), mdCode(valueString(c.Old)), mdCode(valueString(c.New)))
	}
	b.WriteString("\n</details>\n")
	return b.String()
}

// mdCode renders a value as inline code that survives a markdown table: HTML-escaped, pipes and newlines encoded.
func mdCode(s string) string {
	if s == "" {
		return "—"
	}
	s = html.EscapeString(s)
	s = strings.NewReplacer("|", "&#124;", "\n", "↵", "\r", "", "`", "&#96;").Replace(s)
	return "<code>" + s + "</code>"
}
