//go:build !unix

package cli

const exeSuffix = ".exe"

// execOps runs maestro-ops as a child: this system cannot replace a running process.
func execOps(g *Globals, path string, args []string) error {
	return runOpsChild(g, path, args)
}
