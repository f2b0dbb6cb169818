package workflow

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors, wrapped by the errors that carry a position. Test with errors.Is.
var (
	// ErrTooLarge is returned for a file larger than Limits.MaxFileSize.
	ErrTooLarge = errors.New("file too large")
	// ErrAliasExpansion is returned when YAML aliases would expand past Limits.MaxAliasNodes.
	ErrAliasExpansion = errors.New("too much YAML alias expansion")
	// ErrNotUTF8 is returned for a file that is not valid UTF-8.
	ErrNotUTF8 = errors.New("not valid UTF-8")
	// ErrSyntax is returned for text that is not YAML.
	ErrSyntax = errors.New("YAML syntax error")
	// ErrInvalid is returned for YAML that is not a valid workflow.
	ErrInvalid = errors.New("invalid workflow")
	// ErrOutsideRoot is returned for a symbolic link that leads outside the directory being loaded.
	ErrOutsideRoot = errors.New("symbolic link leads outside the repository")
	// ErrDuplicate is returned when two workflows share a name.
	ErrDuplicate = errors.New("duplicate workflow name")
	// ErrNoWorkflow is returned when a file named explicitly holds no workflow document.
	ErrNoWorkflow = errors.New("no workflow found")
)

// Error is a problem at one place in a workflow file, for a person to fix.
type Error struct {
	Pos Position
	// Field is the dotted path of the offending field, e.g. "spec.tasks.load.dependsOn", when known.
	Field string
	Msg   string
	// Kind is the sentinel this error wraps (ErrInvalid when nil).
	Kind error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.String())
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the sentinel the error belongs to.
func (e *Error) Unwrap() error {
	if e.Kind == nil {
		return ErrInvalid
	}
	return e.Kind
}

// String renders a position as file:line:column, leaving out the parts that are unknown.
func (p Position) String() string {
	s := p.File
	if s == "" {
		s = "<input>"
	}
	if p.Line > 0 {
		s += fmt.Sprintf(":%d", p.Line)
		if p.Column > 0 {
			s += fmt.Sprintf(":%d", p.Column)
		}
	}
	return s
}

// ErrorList is every problem found in one load, in file and line order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(l))
	for _, e := range l {
		b.WriteString("\n  ")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap gives errors.Is and errors.As access to every error in the list.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// maxErrors bounds how many problems one file reports, so a hostile file cannot make the report itself huge.
const maxErrors = 50
