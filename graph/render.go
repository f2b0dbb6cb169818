package graph

import (
	"fmt"
	"strings"

	"github.com/maestro-conductor/maestro/diff"
)

// style is how one state looks, in both renderers.
type style struct {
	fill, stroke, text string
	dashed             bool
	legend             string
}

var styles = map[State]style{
	Added:     {fill: "#dafbe1", stroke: "#1a7f37", text: "#116329", legend: "added"},
	Removed:   {fill: "#ffebe9", stroke: "#cf222e", text: "#a40e26", dashed: true, legend: "removed"},
	Changed:   {fill: "#fff8c5", stroke: "#9a6700", text: "#7d4e00", legend: "changed"},
	Renamed:   {fill: "#ddf4ff", stroke: "#0969da", text: "#0550ae", legend: "renamed"},
	Unchanged: {fill: "#f6f8fa", stroke: "#8c959f", text: "#424a53", legend: "unchanged"},
}

// Mermaid renders the graph as a Mermaid flowchart (without the ```mermaid fence), left to right, with a legend of
// the states that occur. Task ids become node ids that Mermaid cannot misread ("end", "o", dashes, quotes).
func (g Graph) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, s := range States {
		st := styles[s]
		fmt.Fprintf(&b, "  classDef %s fill:%s,stroke:%s,color:%s", s, st.fill, st.stroke, st.text)
		if st.dashed {
			b.WriteString(",stroke-dasharray:5 3")
		}
		b.WriteByte('\n')
	}
	for _, n := range g.Nodes {
		fmt.Fprintf(&b, "  %s[\"%s\"]:::%s\n", mermaidID(n.ID), mermaidText(n.Label()), n.State)
	}
	var linkStyles []string
	for i, e := range g.Edges {
		arrow := "-->"
		switch e.State {
		case Added:
			arrow = "==>"
			linkStyles = append(linkStyles, fmt.Sprintf("  linkStyle %d stroke:%s,stroke-width:3px\n", i, styles[Added].stroke))
		case Removed:
			arrow = "-.->"
			linkStyles = append(linkStyles, fmt.Sprintf("  linkStyle %d stroke:%s\n", i, styles[Removed].stroke))
		}
		fmt.Fprintf(&b, "  %s %s %s\n", mermaidID(e.From), arrow, mermaidID(e.To))
	}
	for _, l := range linkStyles {
		b.WriteString(l)
	}
	if legend := g.legend(); len(legend) > 0 {
		b.WriteString("  subgraph legend[\"Legend\"]\n")
		for _, s := range legend {
			fmt.Fprintf(&b, "    legend_%s[\"%s\"]:::%s\n", s, styles[s].legend, s)
		}
		if text := g.edgeLegend(); text != "" {
			fmt.Fprintf(&b, "    legend_edges[\"%s\"]\n", mermaidText(text))
		}
		b.WriteString("  end\n")
	}
	if g.Hidden > 0 {
		fmt.Fprintf(&b, "  %%%% %d more tasks not shown\n", g.Hidden)
	}
	return b.String()
}

// legend lists the node states that occur, in legend order; none for a picture with nothing but unchanged tasks.
func (g Graph) legend() []State {
	n := g.Count()
	var out []State
	for _, s := range States {
		if n[s] > 0 {
			out = append(out, s)
		}
	}
	if len(out) == 1 && out[0] == Unchanged && g.edgeLegend() == "" {
		return nil
	}
	return out
}

func (g Graph) edgeLegend() string {
	var added, removed bool
	for _, e := range g.Edges {
		added = added || e.State == Added
		removed = removed || e.State == Removed
	}
	var parts []string
	if added {
		parts = append(parts, "thick arrow: dependency added")
	}
	if removed {
		parts = append(parts, "dotted arrow: dependency removed")
	}
	return strings.Join(parts, "\n")
}

// mermaidID makes a task id into a Mermaid node id: "t_" and the id with letters and digits kept, "_" doubled and
// every other byte as "_" and two hex digits. The prefix keeps ids clear of keywords (end, subgraph) and of the
// letters o and x that would turn an arrow into another kind of link; the encoding is one to one.
func mermaidID(id string) string {
	var b strings.Builder
	b.WriteString("t_")
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == '_':
			b.WriteString("__")
		default:
			fmt.Fprintf(&b, "_%02x", c)
		}
	}
	return b.String()
}

// mermaidText escapes text for a quoted Mermaid label with Mermaid's entity codes; newlines become line breaks.
var mermaidText = strings.NewReplacer(
	"#", "#35;", `"`, "#quot;", "<", "#lt;", ">", "#gt;", "&", "#amp;", "\n", "<br/>", "\r", "",
).Replace

// DOT renders the graph in Graphviz's DOT language, left to right, with a legend cluster.
func (g Graph) DOT() string {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n", dotQuote(g.Workflow))
	b.WriteString("  rankdir=LR;\n")
	b.WriteString("  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n")
	b.WriteString("  edge [color=\"#57606a\"];\n")
	for _, n := range g.Nodes {
		fmt.Fprintf(&b, "  %s [label=%s, %s];\n", dotQuote("t:"+n.ID), dotQuote(n.Label()), dotStyle(n.State))
	}
	for _, e := range g.Edges {
		fmt.Fprintf(&b, "  %s -> %s", dotQuote("t:"+e.From), dotQuote("t:"+e.To))
		switch e.State {
		case Added:
			fmt.Fprintf(&b, " [color=%s, penwidth=2.5]", dotQuote(styles[Added].stroke))
		case Removed:
			fmt.Fprintf(&b, " [color=%s, style=dashed]", dotQuote(styles[Removed].stroke))
		}
		b.WriteString(";\n")
	}
	if legend := g.legend(); len(legend) > 0 {
		b.WriteString("  subgraph cluster_legend {\n    label=\"Legend\";\n")
		for _, s := range legend {
			fmt.Fprintf(&b, "    %s [label=%s, %s];\n", dotQuote("legend:"+string(s)), dotQuote(styles[s].legend), dotStyle(s))
		}
		if text := g.edgeLegend(); text != "" {
			fmt.Fprintf(&b, "    %s [label=%s, shape=plaintext, style=\"\"];\n", dotQuote("legend:edges"), dotQuote(text))
		}
		b.WriteString("  }\n")
	}
	if g.Hidden > 0 {
		fmt.Fprintf(&b, "  // %d more tasks not shown\n", g.Hidden)
	}
	b.WriteString("}\n")
	return b.String()
}

func dotStyle(s State) string {
	st := styles[s]
	out := fmt.Sprintf("fillcolor=%s, color=%s, fontcolor=%s", dotQuote(st.fill), dotQuote(st.stroke), dotQuote(st.text))
	if st.dashed {
		out += `, style="rounded,filled,dashed"`
	}
	return out
}

// dotQuote makes s a quoted DOT id: backslashes and quotes escaped, newlines as \n.
func dotQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", "").Replace(s) + `"`
}

// Limits of the Mermaid that GitHub renders (its defaults for maxTextSize and maxEdges), and of this package's
// pictures in comments.
const (
	DefaultMaxTasks   = 200
	mermaidMaxText    = 50000
	mermaidMaxEdges   = 500
	summaryMaxTaskIDs = 20
)

// MarkdownOptions control Markdown.
type MarkdownOptions struct {
	// MaxTasks is the largest workflow drawn; a larger one gets a compact summary. 0 means DefaultMaxTasks.
	MaxTasks int
	// Hint, when set, ends the compact summary: how to draw the picture locally, say.
	Hint string
}

// Markdown returns a fenced Mermaid picture of the tasks a diff touched, for a pull-request comment, or "" when no
// task changed. A workflow of more than MaxTasks tasks, or a picture too big for GitHub's Mermaid renderer, gets a
// compact summary instead: how many tasks were added, removed, changed and renamed, and the first of their ids.
func Markdown(d diff.Workflow, opts MarkdownOptions) string {
	g := Affected(d)
	if len(g.Nodes) == 0 {
		return ""
	}
	limit := opts.MaxTasks
	if limit <= 0 {
		limit = DefaultMaxTasks
	}
	if g.Tasks <= limit && len(g.Edges) <= mermaidMaxEdges {
		if m := g.Mermaid(); len(m) <= mermaidMaxText {
			return "```mermaid\n" + m + "```\n"
		}
	}
	return g.summary(limit, opts.Hint)
}

func (g Graph) summary(limit int, hint string) string {
	n := g.Count()
	var b strings.Builder
	fmt.Fprintf(&b, "**Graph:** %d tasks, too many to draw here (the limit is %d). Affected: %d added, %d removed, %d changed, %d renamed",
		g.Tasks, limit, n[Added], n[Removed], n[Changed], n[Renamed])
	var ids []string
	for _, s := range []State{Added, Removed, Changed, Renamed} {
		for _, nd := range g.Nodes {
			if nd.State == s {
				ids = append(ids, "`"+strings.ReplaceAll(nd.Label(), "`", "'")+"` ("+string(s)+")")
			}
		}
	}
	if len(ids) > 0 {
		b.WriteString(": ")
		if len(ids) > summaryMaxTaskIDs {
			b.WriteString(strings.Join(ids[:summaryMaxTaskIDs], ", "))
			fmt.Fprintf(&b, " and %d more", len(ids)-summaryMaxTaskIDs)
		} else {
			b.WriteString(strings.Join(ids, ", "))
		}
	}
	b.WriteString(".\n")
	if hint != "" {
		b.WriteString("\n")
		b.WriteString(hint)
		b.WriteString("\n")
	}
	return b.String()
}
