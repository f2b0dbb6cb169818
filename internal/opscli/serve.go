package opscli

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/maestro-conductor/maestro/attest"
	"github.com/maestro-conductor/maestro/internal/cli"
	"github.com/maestro-conductor/maestro/promote"
	"github.com/maestro-conductor/maestro/reconciler"
	"github.com/maestro-conductor/maestro/runtime/api"
	"github.com/maestro-conductor/maestro/runtime/config"
	"github.com/maestro-conductor/maestro/runtime/store"
	"github.com/maestro-conductor/maestro/runtime/store/postgres"
	"github.com/maestro-conductor/maestro/runtime/store/sqlite"
)

// HTTP server limits. WriteTimeout leaves room for a promotion (fetch, sign, log, push) and ReadTimeout for a
// large webhook payload.
const (
	serveReadHeaderTimeout = 10 * time.Second
	serveReadTimeout       = time.Minute
	serveWriteTimeout      = 2 * time.Minute
	serveIdleTimeout       = 2 * time.Minute
	serveMaxHeaderBytes    = 64 << 10
	serveShutdownTimeout   = 20 * time.Second
)

type serveOptions struct {
	Config string
	Flags  config.Flags
}

func newServeCmd(g *cli.Globals) *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve --config region.yaml [flags]",
		Short: "Run one region replica: the reconciler that applies promoted versions, and the region's HTTP API",
		Long: `serve runs one replica of a region. Its reconciler pulls the git remote (every --interval, and at once on a
signed push webhook), verifies every promotion tag against the trusted promoter keys and transparency log of the
configuration, and applies the verified versions to the region store. Its HTTP API serves the applied versions,
their diffs, the sync status, promotion (with a promotion key, to holders of its token), health, readiness and
Prometheus metrics (docs/openapi.yaml).

The configuration is a YAML file (examples/region.yaml documents every field); the flags override its common
fields, and without --config they are the whole configuration. Secrets — git credentials, the webhook secret, a
database password, the promotion key's password — are named in the file as files or environment variables,
never given as flags. The store is SQLite under --data-dir unless --store names PostgreSQL
(postgres://USER@HOST/DB, password from the config's store.passwordFile or store.passwordEnv).

Several replicas of one region may share a PostgreSQL store: one leads and applies, the others serve the API
and take over when it stops. The leader also deletes reconcile history older than the config's
history.retention (default 720h, 30 days; 0 keeps it forever), shortly after it takes the lead and then every
hour. serve runs until SIGINT or SIGTERM, then stops the reconciler and drains
requests. Diagnostics go to stderr at --log-level info unless set otherwise.`,
		Example: `  maestro serve --config region.yaml
  maestro serve --config region.yaml --listen :8080 --interval 1m
  maestro serve --region us-east --repo https://github.com/acme/workflows.git \
      --data-dir /var/lib/maestro --trust-pub keys/release.pub
  maestro serve --config region.yaml --store postgres://maestro@db.internal/maestro?sslmode=verify-full`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runServe(cmd, g, o) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.Config, "config", "c", "", "region config file (YAML; see examples/region.yaml)")
	f.StringVar(&o.Flags.Region, "region", "", "region name, [a-z0-9-] (config: region)")
	f.StringVar(&o.Flags.Repo, "repo", "", "git remote to pull: https://, ssh://, file:// or a path (config: repo)")
	f.StringVar(&o.Flags.Listen, "listen", "", "HTTP listen address (config: listen; default "+config.DefaultListen+")")
	f.StringVar(&o.Flags.DataDir, "data-dir", "", "directory for the SQLite store, the git mirror and the promotion clone (config: dataDir)")
	f.StringArrayVar(&o.Flags.TrustPub, "trust-pub", nil, "trusted promoter public key, cosign.pub; repeat for several (config: trust.promoters)")
	f.StringVar(&o.Flags.Store, "store", "", "store DSN: postgres://USER@HOST/DB or sqlite:PATH, never with a password (config: store.dsn)")
	f.DurationVar(&o.Flags.Interval, "interval", 0, "time between reconciles (config: interval; default 30s)")
	return cmd
}

func runServe(cmd *cobra.Command, g *cli.Globals, o *serveOptions) error {
	// A daemon says what it does: info unless --log-level says otherwise.
	if !cmd.Flags().Changed("log-level") {
		g.LogLevel = "info"
		if err := g.Setup(); err != nil {
			return err
		}
		setup(g)
	}
	ctx := cmd.Context()
	cfg := &config.Config{}
	if o.Config != "" {
		var err error
		if cfg, err = config.Load(o.Config); err != nil {
			return err
		}
	}
	cfg.ApplyFlags(o.Flags)
	if err := cfg.Validate(); err != nil {
		return err
	}
	secrets, err := cfg.Secrets(os.LookupEnv)
	if err != nil {
		return err
	}
	log := g.Logger.With(api.LogKeyRegion, cfg.Region)

	st, err := openStore(ctx, cfg, secrets, log)
	if err != nil {
		return err
	}
	defer st.Close()
	tlog, err := openServeLog(ctx, g, cfg)
	if err != nil {
		return err
	}
	defer tlog.close()
	var keys []*ecdsa.PublicKey
	for _, p := range cfg.Trust.Promoters {
		k, err := attest.LoadPublicKey(p)
		if err != nil {
			return fmt.Errorf("trust.promoters: %w", err)
		}
		keys = append(keys, k)
	}
	auth, err := gitAuth(cfg, secrets)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	jitter := float64(*cfg.Jitter)
	if jitter == 0 {
		jitter = -1 // none, as configured; the reconciler reads 0 as its default
	}
	rec, err := reconciler.New(reconciler.Options{
		Region: cfg.Region, Remote: cfg.Repo, Auth: auth, MirrorDir: cfg.MirrorDir(), Store: st,
		// The store is the first-seen index (a nil Index), shared by every replica of the region.
		Policy:   promote.Policy{Trusted: keys, Logs: []attest.LogKey{tlog.key}, Dir: cfg.WorkflowsDir},
		Interval: cfg.Interval.D(), Jitter: jitter, Metrics: reconciler.NewMetrics(reg), Logger: g.Logger, // it adds the region itself
	})
	if err != nil {
		return err
	}
	var promoter api.Promoter
	if p := cfg.Promotion; p != nil {
		key, err := attest.LoadPrivateKey(p.KeyFile, secrets.PromotionKeyPassword)
		if err != nil {
			return fmt.Errorf("promotion.keyFile: %w", err)
		}
		gp, err := api.NewGitPromoter(api.GitPromoterOptions{Dir: cfg.PromoteDir(), Remote: cfg.Repo, Push: p.Push, Auth: auth,
			Key: key, Promoter: p.Promoter, Log: tlog.log, Index: st, WorkflowsDir: cfg.WorkflowsDir, Logger: log})
		if err != nil {
			return err
		}
		promoter = gp
	}
	handler := api.New(api.Options{Region: cfg.Region, Store: st, Reconciler: reconcilerState{rec}, Promoter: promoter,
		PromoteToken: secrets.PromotionToken, WebhookSecret: secrets.WebhookSecret, StaleAfter: cfg.StaleAfter.D(), Metrics: reg, Logger: log})

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: serveReadHeaderTimeout, ReadTimeout: serveReadTimeout,
		WriteTimeout: serveWriteTimeout, IdleTimeout: serveIdleTimeout, MaxHeaderBytes: serveMaxHeaderBytes,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	log.Info("serving", "addr", ln.Addr().String(), "repo", redactURL(cfg.Repo), "store", storeName(cfg),
		"promotion", promoter != nil, "webhook", len(secrets.WebhookSecret) > 0)

	// The reconciler runs until the signal, or until the HTTP server fails on its own.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	recDone := make(chan error, 1)
	go func() { recDone <- rec.Run(runCtx) }()
	// Only the leader prunes the history, so it follows the reconciler's leadership.
	pruner := &historyPruner{Store: st, Retention: cfg.History.Retention.D(), Leading: func() bool { return rec.State().Leader },
		Logger: log}
	pruneDone := make(chan error, 1)
	go func() { pruneDone <- pruner.Run(runCtx) }()
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Serve(ln) }()

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "reason", "signal")
	case serveErr = <-srvDone:
		log.Error("the HTTP server stopped", "error", serveErr)
	}
	stop()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), serveShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("requests still running at shutdown were cut off", "error", err)
	}
	select {
	case err := <-recDone:
		if err != nil {
			log.Error("the reconciler stopped", "error", err)
		}
	case <-shutdownCtx.Done():
		log.Warn("the reconciler did not stop in time")
	}
	select {
	case <-pruneDone:
	case <-shutdownCtx.Done():
		log.Warn("the history pruner did not stop in time")
	}
	log.Info("stopped")
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	return nil
}

// reconcilerState gives the API the reconciler's state in the API's terms.
type reconcilerState struct{ r *reconciler.Reconciler }

func (s reconcilerState) Trigger() { s.r.Trigger() }

func (s reconcilerState) State() api.ReconcilerState {
	st := s.r.State()
	return api.ReconcilerState{Leader: st.Leader, LastAttempt: st.LastAttempt, LastSuccess: st.LastSuccess,
		LastError: st.LastError, LastFetchedCommit: st.LastFetchedCommit, Failures: st.Failures}
}

// openStore opens the region store the config names: SQLite under the data directory by default.
func openStore(ctx context.Context, cfg *config.Config, secrets *config.Secrets, log *slog.Logger) (store.Store, error) {
	kind, loc := cfg.StoreKind()
	if kind == "postgres" {
		dsn, err := cfg.PostgresDSN(secrets.StorePassword)
		if err != nil {
			return nil, err
		}
		return postgres.Open(ctx, dsn, postgres.Options{Logger: log})
	}
	return sqlite.Open(ctx, loc, sqlite.Options{Logger: log})
}

func storeName(cfg *config.Config) string {
	kind, loc := cfg.StoreKind()
	if kind == "postgres" {
		return redactURL(loc)
	}
	return "sqlite:" + loc
}

// openServeLog opens the transparency log of the config's trust section, as promote and verify open theirs.
func openServeLog(ctx context.Context, g *cli.Globals, cfg *config.Config) (*openedLog, error) {
	var lo logOptions
	switch l := cfg.Trust.Log; {
	case l.Rekor != nil:
		lo = logOptions{RekorURL: l.Rekor.URL, TilesURL: l.Rekor.TilesURL, RekorPub: l.Rekor.Pub, Origin: l.Rekor.Origin}
	case l.Embedded != nil:
		lo = logOptions{Dir: l.Embedded.Dir, LogPub: l.Embedded.Pub}
	}
	ol, err := lo.open(ctx, g)
	if err != nil {
		return nil, fmt.Errorf("trust.log: %w", err)
	}
	return ol, nil
}

// gitAuth builds the remote's credentials: https user and token, or an ssh key.
func gitAuth(cfg *config.Config, s *config.Secrets) (transport.AuthMethod, error) {
	if cfg.Git.SSHKeyFile != "" {
		keys, err := gitssh.NewPublicKeysFromFile(sshUser(cfg.Repo), cfg.Git.SSHKeyFile, "")
		if err != nil {
			return nil, fmt.Errorf("git.sshKeyFile: %w", err)
		}
		if cfg.Git.KnownHostsFile != "" {
			cb, err := gitssh.NewKnownHostsCallback(cfg.Git.KnownHostsFile)
			if err != nil {
				return nil, fmt.Errorf("git.knownHostsFile: %w", err)
			}
			keys.HostKeyCallback = cb
		}
		return keys, nil
	}
	if s.GitPassword != "" {
		return &githttp.BasicAuth{Username: s.GitUsername, Password: s.GitPassword}, nil
	}
	return nil, nil
}

// sshUser is the user of an ssh remote, "git" when it names none.
func sshUser(remote string) string {
	if u, err := url.Parse(remote); err == nil && u.User != nil && u.User.Username() != "" {
		return u.User.Username()
	}
	if user, _, ok := strings.Cut(remote, "@"); ok && !strings.Contains(user, "/") && !strings.Contains(user, ":") {
		return user
	}
	return "git"
}

// redactURL hides a URL's password, for logs.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}
