package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/maestro-conductor/maestro/diff"
	"github.com/maestro-conductor/maestro/ghcomment"
	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/graph"
	"github.com/maestro-conductor/maestro/workflow"
)

func newCICmd(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ci",
		Short: "Report diffs in continuous integration (GitHub Actions)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return errors.New("ci needs a subcommand: github-comment (see maestro ci --help)")
		},
	}
	cmd.AddCommand(newGitHubCommentCmd(g))
	return cmd
}

// Step outputs of `maestro ci github-comment`, in the order written. action/action_test.go checks action.yml
// against GitHubCommentOutputs.
const (
	outChanged    = "changed"
	outBreaking   = "breaking"
	outReport     = "report"
	outCommentURL = "comment-url"
)

// GitHubCommentOutputs lists the step outputs `maestro ci github-comment` writes to $GITHUB_OUTPUT.
func GitHubCommentOutputs() []string {
	return []string{outChanged, outBreaking, outReport, outCommentURL}
}

// summaryMaxBytes bounds the job summary: GitHub takes up to 1 MiB per step.
const summaryMaxBytes = 1<<20 - 4096

type ghCommentOptions struct {
	source      SourceOptions
	Base        string
	Head        string
	FailOn      string
	Comment     bool
	TokenEnv    string
	Repository  string
	PR          int
	Report      string
	SummaryFile string
	OutputFile  string
	Marker      string
	MaxComment  int
	MaxTasks    int
}

func newGitHubCommentCmd(g *Globals) *cobra.Command {
	o := &ghCommentOptions{}
	cmd := &cobra.Command{
		Use:   "github-comment [--base REF] [--head REF]",
		Short: "Diff a pull request's workflows and report in its comment, the job summary and step outputs",
		Long: `github-comment is the GitHub Action's reporting step. It diffs every workflow between the pull request's base
and head commits and then:

  - writes the JSON report (as maestro diff --output json) to --report;
  - appends the full markdown report, with a Mermaid picture of each changed workflow, to the job summary;
  - writes the step outputs changed, breaking, report and comment-url to $GITHUB_OUTPUT;
  - keeps one pull-request comment up to date: the comment an earlier run left (found by its hidden marker) is
    edited in place, else one is created. A report over GitHub's 65,536-character limit is cut between workflows
    and says that the full diff is in the job summary. When nothing changes any more, an earlier comment says so;
    no new comment is made;
  - when the token may not write (a pull request from a fork), logs why and carries on: the job summary has it all.

It reads the Actions environment: GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_EVENT_PATH (the pull request's number
and base commit), GITHUB_STEP_SUMMARY, GITHUB_OUTPUT, GITHUB_SERVER_URL and GITHUB_RUN_ID. The token is read from
the environment variable --token-env names, never from a flag.

The diff is computed here, not read from a JSON report, because the pictures need both versions of each workflow,
which the report does not hold.

Exit status follows --fail-on, as for maestro diff: 1 when a change counts, else 0; 2 on trouble (bad input,
unknown ref, an API error other than a refused write).`,
		Example: `  maestro ci github-comment --base "$BASE_SHA" --head HEAD --fail-on breaking
  maestro ci github-comment --base origin/main --comment=false`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runGitHubComment(cmd, g, o) },
	}
	o.source.AddFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Base, "base", "", "git ref of the pull request's base (default: the event's pull_request.base.sha)")
	f.StringVar(&o.Head, "head", "HEAD", "git ref of the pull request's head; empty for the working tree")
	f.StringVar(&o.FailOn, "fail-on", "breaking", "which differences make the exit status 1: any, breaking or never")
	f.BoolVar(&o.Comment, "comment", true, "keep a pull-request comment up to date")
	f.StringVar(&o.TokenEnv, "token-env", "GITHUB_TOKEN", "name of the environment variable that holds the GitHub token")
	f.StringVar(&o.Repository, "repository", "", "owner/name of the pull request's repository (default: $GITHUB_REPOSITORY)")
	f.IntVar(&o.PR, "pr", 0, "pull request number (default: from the event payload at $GITHUB_EVENT_PATH)")
	f.StringVar(&o.Report, "report", "", "where to write the JSON report (default: $RUNNER_TEMP/maestro-diff.json, else ./maestro-diff.json)")
	f.StringVar(&o.SummaryFile, "summary-file", "", "file to append the markdown report to (default: $GITHUB_STEP_SUMMARY)")
	f.StringVar(&o.OutputFile, "output-file", "", "file to append step outputs to (default: $GITHUB_OUTPUT)")
	f.StringVar(&o.Marker, "marker", ghcomment.DefaultMarker, "hidden HTML comment that marks maestro's comment")
	f.IntVar(&o.MaxComment, "max-comment-size", diff.MaxCommentBytes, "largest comment body, in bytes")
	f.IntVar(&o.MaxTasks, "max-graph-tasks", graph.DefaultMaxTasks, "largest workflow drawn as a picture; larger ones get a summary")
	return cmd
}

// actionsEnv is what github-comment reads from the GitHub Actions environment.
type actionsEnv struct {
	apiURL, repository, eventPath, eventName, summary, output, serverURL, runID, runnerTemp, token string
	inActions                                                                                      bool
}

func readActionsEnv(tokenEnv string) actionsEnv {
	return actionsEnv{
		apiURL:     os.Getenv("GITHUB_API_URL"),
		repository: os.Getenv("GITHUB_REPOSITORY"),
		eventPath:  os.Getenv("GITHUB_EVENT_PATH"),
		eventName:  os.Getenv("GITHUB_EVENT_NAME"),
		summary:    os.Getenv("GITHUB_STEP_SUMMARY"),
		output:     os.Getenv("GITHUB_OUTPUT"),
		serverURL:  os.Getenv("GITHUB_SERVER_URL"),
		runID:      os.Getenv("GITHUB_RUN_ID"),
		runnerTemp: os.Getenv("RUNNER_TEMP"),
		token:      os.Getenv(tokenEnv),
		inActions:  os.Getenv("GITHUB_ACTIONS") == "true",
	}
}

func runGitHubComment(cmd *cobra.Command, g *Globals, o *ghCommentOptions) error {
	if err := checkFailOn(o.FailOn); err != nil {
		return err
	}
	if o.TokenEnv == "" || strings.ContainsAny(o.TokenEnv, "= ") {
		return fmt.Errorf("--token-env %q: give the name of an environment variable, not a token", o.TokenEnv)
	}
	if o.MaxComment < 1024 {
		return fmt.Errorf("--max-comment-size %d: at least 1024", o.MaxComment)
	}
	env := readActionsEnv(o.TokenEnv)
	ctx := cmd.Context()

	var pr ghcomment.PullRequest
	if env.eventPath != "" {
		f, err := os.Open(env.eventPath)
		if err != nil {
			return fmt.Errorf("GITHUB_EVENT_PATH: %w", err)
		}
		pr, err = ghcomment.ParseEvent(f)
		f.Close()
		if err != nil && !errors.Is(err, ghcomment.ErrNotPullRequest) {
			return fmt.Errorf("GITHUB_EVENT_PATH %s: %w", env.eventPath, err)
		}
	}
	base := o.Base
	if base == "" {
		base = pr.BaseSHA
	}
	if base == "" {
		return errors.New("no base to compare with: give --base REF (or run on a pull_request event)")
	}
	if o.PR == 0 {
		o.PR = pr.Number
	}
	if o.Repository == "" {
		o.Repository = env.repository
	}

	a, b, err := loadBoth(prepared(func() (*workflow.Set, error) { return o.source.loadRef(ctx, base) }),
		prepared(func() (*workflow.Set, error) { return o.source.loadRef(ctx, o.Head) }))
	if err != nil {
		return err
	}
	res, err := diff.BetweenVersions(a, b)
	if err != nil {
		return err
	}

	// The log gets the text form; everything after this point reports, and a reporting failure is trouble only
	// once everything else has been written.
	if err := diff.WriteText(g.Stdout, res, diff.TextOptions{}); err != nil {
		return err
	}
	report, err := writeReport(o.Report, env, res)
	if err != nil {
		return err
	}
	baseName, headName := o.shortRefs(base)
	hint := fmt.Sprintf("Draw it locally: `maestro graph -w NAME --diff-from %s --ref %s --format dot`.", baseName, headName)
	extra := func(w diff.Workflow) string {
		return graph.Markdown(w, graph.MarkdownOptions{MaxTasks: o.MaxTasks, Hint: strings.Replace(hint, "NAME", w.Name, 1)})
	}
	title := fmt.Sprintf("### maestro diff\n\nComparing `%s` (base) with `%s` (head).\n", baseName, headName)

	var troubles []error
	summaryPath := firstNonEmpty(o.SummaryFile, env.summary)
	if summaryPath != "" {
		md := diff.Markdown(res, diff.MarkdownOptions{MaxBytes: summaryMaxBytes, Header: title, Extra: extra,
			TruncatedNote: "The JSON report has every change: it is the `report` output of this step."})
		if err := appendFile(summaryPath, md); err != nil {
			troubles = append(troubles, fmt.Errorf("job summary: %w", err))
		}
	} else {
		g.Logger.Info("no job summary: GITHUB_STEP_SUMMARY is not set and --summary-file is not given")
	}

	var commentURL string
	if o.Comment {
		url, err := o.comment(ctx, g, env, pr, res, title, extra)
		commentURL = url
		if err != nil {
			troubles = append(troubles, err)
		}
	}

	if outPath := firstNonEmpty(o.OutputFile, env.output); outPath != "" {
		var buf bytes.Buffer
		err := ghcomment.WriteOutputs(&buf, []ghcomment.Output{
			{Name: outChanged, Value: strconv.FormatBool(res.Changed())},
			{Name: outBreaking, Value: strconv.FormatBool(res.Has(diff.Breaking))},
			{Name: outReport, Value: report},
			{Name: outCommentURL, Value: commentURL},
		})
		if err == nil {
			err = appendFile(outPath, buf.String())
		}
		if err != nil {
			troubles = append(troubles, fmt.Errorf("step outputs: %w", err))
		}
	}

	if len(troubles) > 0 {
		return &ExitError{Code: ExitTrouble, Err: errors.Join(troubles...)}
	}
	return failOnExit(o.FailOn, res)
}

// comment keeps the pull request's comment up to date and returns its address. A refused write is not an error:
// it is logged, and the job summary carries the report.
func (o *ghCommentOptions) comment(ctx context.Context, g *Globals, env actionsEnv, pr ghcomment.PullRequest,
	res diff.Result, title string, extra func(diff.Workflow) string) (string, error) {
	warn := func(msg string) {
		if env.inActions {
			// A workflow command's message escapes %, CR and LF (GitHub's toolkit does the same).
			fmt.Fprintf(g.Stdout, "::warning title=maestro::%s\n", strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(msg))
		}
		g.Logger.Warn(msg)
	}
	switch {
	case o.Repository == "" || o.PR == 0:
		warn("not commenting: no pull request (give --repository and --pr, or run on a pull_request event); the report is in the job summary")
		return "", nil
	case env.token == "":
		warn(fmt.Sprintf("not commenting: $%s is empty, so there is no token to write with; the report is in the job summary", o.TokenEnv))
		return "", nil
	case pr.FromFork() && env.eventName == "pull_request":
		warn(fmt.Sprintf("not commenting: the pull request comes from the fork %s, and a pull_request run from a fork gets a read-only token; the report is in the job summary", pr.HeadRepo))
		return "", nil
	}
	client, err := ghcomment.New(ghcomment.Options{BaseURL: env.apiURL, Token: env.token, Logger: g.Logger, UserAgent: "maestro/" + version()})
	if err != nil {
		return "", err
	}
	body := ""
	if anythingToShow(res) {
		note := "The full diff is in the job summary of this run."
		if env.serverURL != "" && env.runID != "" && env.repository != "" {
			note = fmt.Sprintf("The full diff is in the [job summary](%s/%s/actions/runs/%s) of this run.", env.serverURL, env.repository, env.runID)
		}
		body = diff.Markdown(res, diff.MarkdownOptions{MaxBytes: o.MaxComment, Header: o.Marker + "\n" + title, Extra: extra, TruncatedNote: note})
	}
	quiet := o.Marker + "\n" + title + "\nNo workflow changes any more: the pull request no longer changes any workflow's graph, params or labels.\n"
	action, cm, err := client.Sync(ctx, ghcomment.Target{Repo: o.Repository, Number: o.PR, Marker: o.Marker}, body, quiet)
	switch {
	case errors.Is(err, ghcomment.ErrForbidden):
		warn(fmt.Sprintf("not commenting: GitHub refused the write (%v); a pull request from a fork gets a read-only token, and the workflow needs permissions: pull-requests: write; the report is in the job summary", err))
		return "", nil
	case err != nil:
		return "", err
	}
	g.Logger.Info("pull-request comment "+string(action), ghcomment.LogKeyComment, commentID(cm), ghcomment.LogKeyURL, commentURL(cm))
	return commentURL(cm), nil
}

func anythingToShow(res diff.Result) bool {
	for _, w := range res.Workflows {
		if w.Status != diff.Unchanged {
			return true
		}
	}
	return false
}

func commentID(c *ghcomment.Comment) int64 {
	if c == nil {
		return 0
	}
	return c.ID
}

func commentURL(c *ghcomment.Comment) string {
	if c == nil {
		return ""
	}
	return c.HTMLURL
}

// shortRefs names the base and head for people: a commit id as its first 12 digits, a branch or tag as given.
func (o *ghCommentOptions) shortRefs(base string) (string, string) {
	head := o.Head
	if head == "" {
		head = "working tree"
	}
	short := func(ref string) string {
		if len(ref) == 40 && strings.Trim(ref, "0123456789abcdef") == "" {
			return ref[:12]
		}
		return ref
	}
	if r, err := gitrepo.Open(o.source.Repo); err == nil && o.Head != "" {
		if h, err := r.Resolve(o.Head); err == nil {
			head = h.String()
		}
	}
	return short(base), short(head)
}

func writeReport(path string, env actionsEnv, res diff.Result) (string, error) {
	if path == "" {
		dir := env.runnerTemp
		if dir == "" {
			dir = "."
		}
		path = filepath.Join(dir, "maestro-diff.json")
	}
	var buf bytes.Buffer
	if err := diff.WriteJSON(&buf, res); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("write the JSON report: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return path, nil
	}
	return abs, nil
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
