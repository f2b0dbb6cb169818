// Package examples holds maestro's example workflow repository (repo/) and the demo's second commit (edits/).
// It has no code; its test checks that the examples parse and that the edits change what the README says they do.
package examples
