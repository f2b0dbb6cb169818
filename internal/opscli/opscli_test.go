package opscli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/maestro-conductor/maestro/internal/cli"
)

// TestCommandsMatchStubs keeps maestro's stubs and maestro-ops's commands in step: the same names, in the same
// order, with the same one-line help, so that `maestro --help` tells the truth about what maestro-ops runs.
func TestCommandsMatchStubs(t *testing.T) {
	cmds := commands(&cli.Globals{})
	if len(cmds) != len(cli.OpsCommands) {
		t.Fatalf("maestro-ops has %d commands, cli.OpsCommands lists %d", len(cmds), len(cli.OpsCommands))
	}
	for i, c := range cmds {
		want := cli.OpsCommands[i]
		if c.Name() != want.Name || c.Short != want.Short {
			t.Errorf("command %d: maestro-ops has %q (%q); cli.OpsCommands has %q (%q)", i, c.Name(), c.Short, want.Name, want.Short)
		}
	}
}

// TestHelpListsBothGroups checks maestro-ops's help: the workflow commands and its own, under their headings.
func TestHelpListsBothGroups(t *testing.T) {
	var out, errb bytes.Buffer
	if code := cli.Main(context.Background(), []string{"--help"}, &out, &errb, Ops()); code != 0 {
		t.Fatalf("--help: exit %d, stderr %s", code, errb.String())
	}
	for _, want := range []string{"Workflow commands:", "diff ", "Promotion and region commands (maestro-ops):", "promote ", "serve "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help does not contain %q:\n%s", want, out.String())
		}
	}
}
