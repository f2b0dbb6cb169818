package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/maestro-conductor/maestro/gitrepo"
	"github.com/maestro-conductor/maestro/workflow"
)

// SourceOptions say where workflows come from: files, a git ref, or the working tree.
type SourceOptions struct {
	Repo          string
	Dir           string
	MaxFileSize   int64
	MaxAliasNodes int
}

func (o *SourceOptions) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Repo, "repo", ".", "path inside the git repository that holds the workflows")
	cmd.Flags().StringVar(&o.Dir, "workflows-dir", workflow.DefaultDir, "directory of workflow files, relative to the repository root")
	cmd.Flags().Int64Var(&o.MaxFileSize, "max-file-size", workflow.DefaultLimits.MaxFileSize, "largest workflow file accepted, in bytes")
	cmd.Flags().IntVar(&o.MaxAliasNodes, "max-alias-nodes", workflow.DefaultLimits.MaxAliasNodes, "most YAML nodes that aliases may expand to in one file")
}

func (o *SourceOptions) Limits() workflow.Limits {
	return workflow.Limits{MaxFileSize: o.MaxFileSize, MaxAliasNodes: o.MaxAliasNodes}
}

// workTree returns the working tree to read workflows from: the root of the enclosing git repository, or the
// --repo directory itself when it is not in one.
func (o *SourceOptions) workTree() (fs.FS, string, error) {
	r, err := gitrepo.Open(o.Repo)
	if err == nil {
		return r.WorkTreeFS(), r.Root(), nil
	}
	if !errors.Is(err, gitrepo.ErrNotRepository) {
		return nil, "", err
	}
	st, serr := os.Stat(o.Repo)
	if serr != nil {
		return nil, "", fmt.Errorf("--repo %s: %w", o.Repo, serr)
	}
	if !st.IsDir() {
		return nil, "", fmt.Errorf("--repo %s is not a directory", o.Repo)
	}
	return os.DirFS(o.Repo), o.Repo, nil
}

// loadRef loads the workflows of a git ref, or of the working tree (uncommitted edits included) when ref is "".
func (o *SourceOptions) loadRef(ctx context.Context, ref string) (*workflow.Set, error) {
	if ref == "" {
		fsys, _, err := o.workTree()
		if err != nil {
			return nil, err
		}
		return workflow.Load(fsys, o.Dir, o.Limits())
	}
	r, err := gitrepo.Open(o.Repo)
	if err != nil {
		return nil, err
	}
	fsys, err := r.FS(ctx, ref)
	if err != nil {
		return nil, err
	}
	set, err := workflow.Load(fsys, o.Dir, o.Limits())
	if err != nil {
		return nil, fmt.Errorf("at %s: %w", ref, err)
	}
	return set, nil
}

// loadPaths loads workflows from files and directories named on the command line.
func (o *SourceOptions) loadPaths(paths []string) (*workflow.Set, error) {
	var all []*workflow.Workflow
	var errs workflow.ErrorList
	add := func(err error, file string) {
		var list workflow.ErrorList
		var one *workflow.Error
		switch {
		case errors.As(err, &list):
			errs = append(errs, list...)
		case errors.As(err, &one):
			errs = append(errs, one)
		default:
			errs = append(errs, &workflow.Error{Pos: workflow.Position{File: file}, Msg: err.Error(), Kind: err})
		}
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			add(fmt.Errorf("cannot read: %w", errors.Unwrap(err)), p)
			continue
		}
		if st.IsDir() {
			set, err := workflow.Load(os.DirFS(p), ".", o.Limits())
			if err != nil {
				add(prefixFiles(err, p), p)
				continue
			}
			for _, n := range set.Names() {
				all = append(all, set.Workflows[n])
			}
			continue
		}
		// A file named on the command line is read wherever its links lead: the person chose it.
		data, err := workflow.ReadFile(openOnlyFS{os.DirFS(filepath.Dir(p))}, filepath.Base(p), o.Limits().MaxFileSize)
		if err != nil {
			add(prefixFiles(err, filepath.Dir(p)), p)
			continue
		}
		ws, err := workflow.ParseOwned(p, data, o.Limits())
		if err != nil {
			add(err, p)
			continue
		}
		if len(ws) == 0 {
			add(&workflow.Error{Pos: workflow.Position{File: p}, Kind: workflow.ErrNoWorkflow,
				Msg: "no workflow in this file; a workflow document has apiVersion: " + workflow.APIVersion + " and kind: " + workflow.Kind}, p)
		}
		all = append(all, ws...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return workflow.NewSet(all)
}

// prefixFiles makes the file names in errors from a directory load relative to the current directory.
func prefixFiles(err error, dir string) error {
	var list workflow.ErrorList
	var one *workflow.Error
	switch {
	case errors.As(err, &list):
		for _, e := range list {
			e.Pos.File = filepath.Join(dir, e.Pos.File)
		}
	case errors.As(err, &one):
		one.Pos.File = filepath.Join(dir, one.Pos.File)
	}
	return err
}

// openOnlyFS hides every method but Open, so that reads follow symbolic links without checking where they lead.
type openOnlyFS struct{ fsys fs.FS }

func (f openOnlyFS) Open(name string) (fs.File, error) { return f.fsys.Open(name) }
