//go:build unix

package cli

import (
	"os"
	"syscall"
)

const exeSuffix = ""

// execOps replaces this process with maestro-ops when maestro's output goes to its own standard streams, and runs
// it as a child otherwise (Main called in-process, with other writers).
func execOps(g *Globals, path string, args []string) error {
	if g.Stdout != os.Stdout || g.Stderr != os.Stderr {
		return runOpsChild(g, path, args)
	}
	argv := append([]string{path}, args...)
	if err := syscall.Exec(path, argv, opsEnv()); err != nil {
		return &os.PathError{Op: "exec", Path: path, Err: err}
	}
	return nil // not reached
}
