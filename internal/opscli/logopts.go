package opscli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/spf13/cobra"

	"github.com/maestro-conductor/maestro/attest"
	"github.com/maestro-conductor/maestro/attest/tlog"
	"github.com/maestro-conductor/maestro/internal/cli"
	"github.com/maestro-conductor/maestro/promote"
)

// homeEnv names the directory maestro keeps shared state in (the embedded log); default ~/.local/share/maestro.
const homeEnv = "MAESTRO_HOME"

// maestroHome returns $MAESTRO_HOME, or ~/.local/share/maestro.
func maestroHome() (string, error) {
	if h := os.Getenv(homeEnv); h != "" {
		return h, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home directory to keep the transparency log in; set %s: %w", homeEnv, err)
	}
	return filepath.Join(home, ".local", "share", "maestro"), nil
}

// logOptions say which transparency log promotions go to and how its checkpoints are trusted.
type logOptions struct {
	Dir      string
	LogPub   string
	RekorURL string
	TilesURL string
	RekorPub string
	Origin   string
	IndexDir string
}

func (o *logOptions) AddFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.Dir, "log-dir", "", "directory of the embedded transparency log (default $MAESTRO_HOME/log)")
	f.StringVar(&o.LogPub, "log-pub", "", "trusted checkpoint key of the embedded log (default: the log directory's log.pub)")
	f.StringVar(&o.RekorURL, "rekor-url", "", "a Rekor v2 (rekor-tiles) server to use instead of the embedded log")
	f.StringVar(&o.TilesURL, "rekor-tiles-url", "", "where the Rekor v2 server's checkpoint and tiles are read (default: --rekor-url)")
	f.StringVar(&o.RekorPub, "rekor-pub", "", "the Rekor v2 server's checkpoint public key (PEM); required with --rekor-url")
	f.StringVar(&o.Origin, "rekor-origin", "", "the Rekor v2 server's checkpoint origin (its --hostname); required with --rekor-url")
	f.StringVar(&o.IndexDir, "index-dir", "", "first-seen index of promotions (default: the embedded log's index, or $MAESTRO_HOME/index/<origin> for a Rekor server)")
}

// openedLog is a transparency log opened for promotion or verification.
type openedLog struct {
	log    promote.Log
	key    attest.LogKey
	index  promote.Index
	reader *tlog.Reader
	close  func() error
}

// embeddedLog gives the lazily opened embedded log the shape promote wants, with the trusted key from config. A
// tlog.Remote has that shape itself.
type embeddedLog struct {
	e   *tlog.Lazy
	key attest.LogKey
}

func (l embeddedLog) Transparency() sign.Transparency { return l.e.Transparency() }
func (l embeddedLog) LogKey() attest.LogKey           { return l.key }

func (o *logOptions) open(ctx context.Context, g *cli.Globals) (*openedLog, error) {
	home, err := maestroHome()
	if err != nil && (o.Dir == "" || o.IndexDir == "") {
		return nil, err
	}
	if o.RekorURL != "" {
		if o.RekorPub == "" || o.Origin == "" {
			return nil, errors.New("--rekor-url needs --rekor-pub (the server's checkpoint key) and --rekor-origin")
		}
		pemBytes, err := os.ReadFile(o.RekorPub)
		if err != nil {
			return nil, fmt.Errorf("--rekor-pub: %w", err)
		}
		pub, err := tlog.ParsePublicKeyPEM(pemBytes)
		if err != nil {
			return nil, fmt.Errorf("--rekor-pub %s: %w", o.RekorPub, err)
		}
		tiles := o.TilesURL
		if tiles == "" {
			tiles = o.RekorURL
		}
		key := tlog.LogKey{Origin: o.Origin, BaseURL: tiles, PublicKey: pub}
		r, err := tlog.NewRemote(o.RekorURL, key)
		if err != nil {
			return nil, err
		}
		dir := o.IndexDir
		if dir == "" {
			dir = filepath.Join(home, "index", o.Origin)
		}
		idx, err := tlog.NewFileIndex(dir)
		if err != nil {
			return nil, err
		}
		return &openedLog{log: r, key: key, index: idx, reader: r.Reader(), close: r.Close}, nil
	}
	dir := o.Dir
	if dir == "" {
		dir = filepath.Join(home, "log")
	}
	// Lazy: reading takes no lock, and an append holds the log only while it runs, so the CLI, the regions
	// and their promoters on one machine take turns appending.
	e, err := tlog.OpenEmbeddedLazy(ctx, dir, tlog.EmbeddedOptions{Logger: g.Logger})
	if err != nil {
		return nil, err
	}
	key := e.LogKey()
	if o.LogPub != "" {
		pemBytes, err := os.ReadFile(o.LogPub)
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("--log-pub: %w", err)
		}
		pub, err := tlog.ParsePublicKeyPEM(pemBytes)
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("--log-pub %s: %w", o.LogPub, err)
		}
		key.PublicKey = pub
	}
	var idx promote.Index = e.Index()
	if o.IndexDir != "" {
		if idx, err = tlog.NewFileIndex(o.IndexDir); err != nil {
			e.Close()
			return nil, err
		}
	}
	return &openedLog{log: embeddedLog{e, key}, key: key, index: idx, reader: e.Reader(), close: e.Close}, nil
}
