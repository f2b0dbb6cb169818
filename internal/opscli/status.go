package opscli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/maestro-conductor/maestro/internal/cli"
	"github.com/maestro-conductor/maestro/runtime/api"
)

type statusOptions struct {
	Servers []string
	WaitFor string
	Timeout time.Duration
	Output  string
}

func newStatusCmd(g *cli.Globals) *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status --server URL [--server URL...] [--wait-for NAME@VERSION]",
		Short: "Show what each region runs: per workflow the desired and the applied version, and the last error",
		Long: `status asks one or more running regions (maestro serve) for GET /api/status and prints, per region, whether
it is ready and leading, and for each workflow the version the repository wants and the version the region
applied. With --wait-for NAME@VERSION it polls until every server has applied that version (exit 0) or
--timeout passes (exit 1).`,
		Example: `  maestro status --server http://127.0.0.1:8081 --server http://127.0.0.1:8082
  maestro status --server http://us-east.internal:8080 --wait-for nightly-etl@1.2.0 --timeout 30s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runStatus(cmd.Context(), g, o) },
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.Servers, "server", nil, "base URL of a region's API; repeat for several")
	f.StringVar(&o.WaitFor, "wait-for", "", "wait until every server has applied NAME@VERSION")
	f.DurationVar(&o.Timeout, "timeout", 60*time.Second, "how long --wait-for waits")
	f.StringVarP(&o.Output, "output", "o", "text", "output format: text or json")
	return cmd
}

func runStatus(ctx context.Context, g *cli.Globals, o *statusOptions) error {
	if len(o.Servers) == 0 {
		return errors.New("--server URL is required (the address maestro serve listens on)")
	}
	if o.Output != "text" && o.Output != "json" {
		return fmt.Errorf("--output %q: use text or json", o.Output)
	}
	var name, version string
	if o.WaitFor != "" {
		var ok bool
		if name, version, ok = strings.Cut(o.WaitFor, "@"); !ok || name == "" || version == "" {
			return fmt.Errorf("--wait-for %q: write NAME@VERSION, e.g. nightly-etl@1.2.0", o.WaitFor)
		}
		version = strings.TrimPrefix(version, "v")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(o.Timeout)
	for {
		statuses := make([]api.Status, len(o.Servers))
		var fetchErr error
		for i, s := range o.Servers {
			if statuses[i], fetchErr = fetchStatus(ctx, client, s); fetchErr != nil {
				break
			}
		}
		done := fetchErr == nil && (o.WaitFor == "" || allApplied(statuses, name, version))
		if done || o.WaitFor == "" || time.Now().After(deadline) {
			if fetchErr != nil {
				return fetchErr
			}
			if err := printStatuses(g.Stdout, o.Servers, statuses, o.Output); err != nil {
				return err
			}
			if !done {
				return &cli.ExitError{Code: cli.ExitChanges, Err: fmt.Errorf("%s@%s is not applied everywhere after %s", name, version, o.Timeout)}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func fetchStatus(ctx context.Context, client *http.Client, base string) (api.Status, error) {
	var st api.Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/api/status", nil)
	if err != nil {
		return st, fmt.Errorf("--server %q: %w", base, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return st, fmt.Errorf("ask %s for its status: %w (is maestro serve running there?)", base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return st, fmt.Errorf("read %s/api/status: %w", base, err)
	}
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("%s/api/status: %s: %s", base, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("%s/api/status is not a maestro status: %w", base, err)
	}
	return st, nil
}

func allApplied(statuses []api.Status, name, version string) bool {
	for _, st := range statuses {
		found := false
		for _, w := range st.Workflows {
			if w.Workflow == name && w.AppliedVersion == version {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func printStatuses(w io.Writer, servers []string, statuses []api.Status, output string) error {
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(statuses)
	}
	for i, st := range statuses {
		role := "follower"
		if st.Reconciler.Leader {
			role = "leader"
		}
		fmt.Fprintf(w, "region %s (%s): ready=%t %s, last success %s\n", st.Region, servers[i], st.Ready, role, ago(st.Reconciler.LastSuccess))
		for _, wf := range st.Workflows {
			state := "synced"
			if !wf.Synced {
				state = "OUT OF SYNC"
			}
			fmt.Fprintf(w, "  %-24s desired %-10s applied %-10s %s", wf.Workflow, orDash(wf.DesiredVersion), orDash(wf.AppliedVersion), state)
			if wf.LastError != "" {
				fmt.Fprintf(w, "  last error: %s", wf.LastError)
			}
			fmt.Fprintln(w)
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}
