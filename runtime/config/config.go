// Package config is the configuration of one region replica of `maestro serve`: a YAML file (gopkg.in/yaml.v3,
// strict) that flags may override field by field. examples/region.yaml documents every field.
//
// Secrets never appear in the file: the git credentials, the webhook secret, a database password and the
// promotion key's password are named as files or environment variables, and read by Config.Secrets with a lookup
// function the caller passes in (libraries do not read the environment).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults for fields the file and the flags leave empty.
const (
	DefaultListen       = "127.0.0.1:8080"
	DefaultInterval     = 30 * time.Second
	DefaultWorkflowsDir = "workflows"
	DefaultJitter       = 0.1
	// DefaultHistoryRetention is how long the reconcile history is kept: 30 days.
	DefaultHistoryRetention = 720 * time.Hour
	// DefaultPasswordEnv holds the promotion key's password when the file names neither a file nor a variable,
	// as it does for `maestro promote`.
	DefaultPasswordEnv = "COSIGN_PASSWORD"
	// MinStaleAfter is the least default staleness bound: ten intervals, but never under five minutes, so that a
	// short git outage retried with backoff does not take a region out of rotation.
	MinStaleAfter = 5 * time.Minute
	// MaxFileSize bounds the config file.
	MaxFileSize = 1 << 20
)

// Config is one region replica's configuration. Paths are absolute once loaded: relative paths in the file are
// relative to the file's directory, relative paths in flags to the working directory.
type Config struct {
	// Region names the region ([a-z0-9-]); it is the leader-election scope and appears in status and history.
	Region string `yaml:"region"`
	// Repo is the git remote the reconciler pulls: https://, ssh://, user@host:path, file:// or a local path.
	Repo string `yaml:"repo"`
	// WorkflowsDir is the workflows directory inside the repository.
	WorkflowsDir string `yaml:"workflowsDir"`
	// Listen is the HTTP API's address.
	Listen string `yaml:"listen"`
	// DataDir holds the SQLite store, the git mirror and the promotion clone.
	DataDir string `yaml:"dataDir"`
	Git     Git    `yaml:"git"`
	Trust   Trust  `yaml:"trust"`
	Store   Store  `yaml:"store"`
	// Interval is the time between reconciles; Jitter spreads each interval at random by up to ± that fraction
	// of it (0.1 or "10%"), so that replicas of several regions do not fetch in step. nil means DefaultJitter.
	Interval Duration  `yaml:"interval"`
	Jitter   *Fraction `yaml:"jitter"`
	// StaleAfter is how old the last successful reconcile may be before readiness fails.
	StaleAfter Duration   `yaml:"staleAfter"`
	History    History    `yaml:"history"`
	Webhook    Webhook    `yaml:"webhook"`
	Promotion  *Promotion `yaml:"promotion"`

	file  string     // the file loaded, "" when none
	root  *yaml.Node // its document, for positions
	flags map[string]string
}

// Git holds the credentials for the remote. For https, the credentials are "USER:TOKEN" or a bare token (user
// "git"); for ssh, a private key file. All optional: a public or file:// remote needs none.
type Git struct {
	CredentialsFile string `yaml:"credentialsFile"`
	CredentialsEnv  string `yaml:"credentialsEnv"`
	SSHKeyFile      string `yaml:"sshKeyFile"`
	// KnownHostsFile checks ssh host keys; empty means the user's known_hosts.
	KnownHostsFile string `yaml:"knownHostsFile"`
}

// Trust is what the reconciler trusts: the promoters' keys and the transparency log. It never comes from the
// repository.
type Trust struct {
	// Promoters are cosign.pub files of the keys allowed to promote.
	Promoters []string `yaml:"promoters"`
	Log       Log      `yaml:"log"`
}

// Log is the transparency log promotions are checked against: the embedded one (the default), or a Rekor v2
// server.
type Log struct {
	Embedded *EmbeddedLog `yaml:"embedded"`
	Rekor    *RekorLog    `yaml:"rekor"`
}

// EmbeddedLog is the in-process log `maestro promote` writes to.
type EmbeddedLog struct {
	// Dir is the log directory; empty means $MAESTRO_HOME/log (decided by the command line).
	Dir string `yaml:"dir"`
	// Pub is the trusted checkpoint key (PEM); empty means the directory's own log.pub.
	Pub string `yaml:"pub"`
}

// RekorLog is a Rekor v2 (rekor-tiles) server.
type RekorLog struct {
	URL string `yaml:"url"`
	// TilesURL is where the checkpoint and tiles are read; empty means URL.
	TilesURL string `yaml:"tilesURL"`
	// Pub is the server's checkpoint public key (PEM), Origin its checkpoint origin (its --hostname).
	Pub    string `yaml:"pub"`
	Origin string `yaml:"origin"`
}

// Store says where the region store is. An empty DSN is SQLite under DataDir.
type Store struct {
	// DSN is postgres://… (or postgresql://…), or sqlite:PATH. It may not carry a password.
	DSN          string `yaml:"dsn"`
	PasswordFile string `yaml:"passwordFile"`
	PasswordEnv  string `yaml:"passwordEnv"`
}

// History is the retention of the reconcile history. The replica leading the region prunes it: shortly after it
// takes the lead, then every hour.
type History struct {
	// Retention is how long an entry is kept; nil means DefaultHistoryRetention, 0 keeps every entry forever.
	Retention *Duration `yaml:"retention"`
}

// Webhook holds the shared secret of the git host's push webhook. Without one, the webhook endpoint refuses
// every request.
type Webhook struct {
	SecretFile string `yaml:"secretFile"`
	SecretEnv  string `yaml:"secretEnv"`
}

// Promotion, when present, lets this replica promote through the API: it holds a promotion key and pushes the
// signed tag to Push.
type Promotion struct {
	// KeyFile is the promotion key (cosign.key); its password comes from KeyPasswordFile or KeyPasswordEnv
	// (default $COSIGN_PASSWORD).
	KeyFile         string `yaml:"keyFile"`
	KeyPasswordFile string `yaml:"keyPasswordFile"`
	KeyPasswordEnv  string `yaml:"keyPasswordEnv"`
	// Push is the remote URL the tag and its attestation note are pushed to; empty means Repo. The git
	// credentials are used for it.
	Push string `yaml:"push"`
	// Promoter is recorded as who promoted; empty means "maestro@<region>".
	Promoter string `yaml:"promoter"`
	// TokenFile or TokenEnv hold the bearer token a promotion request must carry; one is required, since the
	// endpoint signs with this server's key.
	TokenFile string `yaml:"tokenFile"`
	TokenEnv  string `yaml:"tokenEnv"`
}

// Duration is a time.Duration written as Go writes one ("30s", "5m", "1h30m").
type Duration time.Duration

// UnmarshalYAML reads a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a duration such as 30s or 5m", n.Line)}}
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a duration: write it like 30s, 5m or 1h30m", n.Line, n.Value)}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Fraction is a share of something, written as a number (0.1) or a percentage ("10%").
type Fraction float64

// UnmarshalYAML reads a fraction or a percentage.
func (f *Fraction) UnmarshalYAML(n *yaml.Node) error {
	bad := &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a fraction: write it like 0.1 or 10%%", n.Line, n.Value)}}
	if n.Kind != yaml.ScalarNode {
		return bad
	}
	s, pct := strings.CutSuffix(strings.TrimSpace(n.Value), "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return bad
	}
	if pct {
		v /= 100
	}
	*f = Fraction(v)
	return nil
}

// Error is one problem with the configuration, at a place: "region.yaml:12" or "--interval".
type Error struct {
	Pos   string
	Field string
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Pos != "" {
		b.WriteString(e.Pos)
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found; Validate returns all of them, not just the first.
type ErrorList []*Error

func (l ErrorList) Error() string {
	if len(l) == 1 {
		return l[0].Error()
	}
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = "  " + e.Error()
	}
	return fmt.Sprintf("%d problems in the configuration:\n%s", len(l), strings.Join(msgs, "\n"))
}

// Load reads and strictly decodes a config file: unknown fields, duplicate keys and malformed values are errors
// naming file:line. It does not validate; call Validate after applying flags.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("config %s: larger than %d bytes", path, MaxFileSize)
	}
	return Parse(path, data)
}

// Parse decodes config data read from path (used in messages, and to resolve relative paths).
func Parse(path string, data []byte) (*Config, error) {
	c := &Config{file: path}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(path, err)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: the file is empty; see examples/region.yaml", path)
	}
	if doc := root.Content[0]; doc.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want a mapping of fields (region:, repo:, …)", path, doc.Line)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return nil, yamlError(path, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, fmt.Errorf("%s:%d: a second YAML document; a config file holds one", path, extra.Line)
	}
	c.root = root.Content[0]
	dir := filepath.Dir(absOr(path))
	c.resolvePaths(func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	})
	return c, nil
}

func absOr(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

var (
	lineRE       = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)
	unknownRE    = regexp.MustCompile(`field (\S+) not found in type config\.(\w+)`)
	yamlTypeName = regexp.MustCompile(`into config\.(\w+)|into \[\]string|into string|into \*config\.(\w+)`)
)

// yamlError turns yaml.v3's errors into file:line messages.
func yamlError(path string, err error) error {
	var te *yaml.TypeError
	var msgs []string
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var list ErrorList
	for _, m := range msgs {
		pos := path
		if sub := lineRE.FindStringSubmatch(m); sub != nil {
			pos = path + ":" + sub[1]
			m = m[len(sub[0]):]
		}
		m = strings.TrimPrefix(m, "yaml: ")
		if sub := unknownRE.FindStringSubmatch(m); sub != nil {
			m = fmt.Sprintf("unknown field %q in %s (examples/region.yaml lists every field)", sub[1], section(sub[2]))
		}
		m = yamlTypeName.ReplaceAllStringFunc(m, func(s string) string {
			switch {
			case strings.Contains(s, "[]string"):
				return "into a list of strings"
			case strings.HasSuffix(s, "string"):
				return "into a string"
			}
			return "into a mapping of fields"
		})
		list = append(list, &Error{Pos: pos, Msg: m})
	}
	return list
}

// section names the part of the file a Go type decodes.
func section(typ string) string {
	switch typ {
	case "Config":
		return "the top level"
	case "Git":
		return "git"
	case "Trust":
		return "trust"
	case "Log":
		return "trust.log"
	case "EmbeddedLog":
		return "trust.log.embedded"
	case "RekorLog":
		return "trust.log.rekor"
	case "Store":
		return "store"
	case "History":
		return "history"
	case "Webhook":
		return "webhook"
	case "Promotion":
		return "promotion"
	}
	return typ
}

// resolvePaths rewrites every path field with fn.
func (c *Config) resolvePaths(fn func(string) string) {
	c.DataDir = fn(c.DataDir)
	c.Git.CredentialsFile = fn(c.Git.CredentialsFile)
	c.Git.SSHKeyFile = fn(c.Git.SSHKeyFile)
	c.Git.KnownHostsFile = fn(c.Git.KnownHostsFile)
	for i, p := range c.Trust.Promoters {
		c.Trust.Promoters[i] = fn(p)
	}
	if e := c.Trust.Log.Embedded; e != nil {
		e.Dir, e.Pub = fn(e.Dir), fn(e.Pub)
	}
	if r := c.Trust.Log.Rekor; r != nil {
		r.Pub = fn(r.Pub)
	}
	c.Store.PasswordFile = fn(c.Store.PasswordFile)
	if p, ok := strings.CutPrefix(c.Store.DSN, "sqlite:"); ok && p != "" && !filepath.IsAbs(p) {
		c.Store.DSN = "sqlite:" + fn(p)
	}
	c.Webhook.SecretFile = fn(c.Webhook.SecretFile)
	if p := c.Promotion; p != nil {
		p.KeyFile, p.KeyPasswordFile, p.TokenFile = fn(p.KeyFile), fn(p.KeyPasswordFile), fn(p.TokenFile)
	}
	// A local path as the repository is relative to the file too; URLs and scp-like addresses are not paths.
	if c.Repo != "" && !looksLikeURL(c.Repo) {
		c.Repo = fn(c.Repo)
	}
}

// Flags are the fields the command line may override; a zero field leaves the file's value.
type Flags struct {
	Region   string
	Repo     string
	Listen   string
	DataDir  string
	TrustPub []string
	Store    string
	Interval time.Duration
}

// ApplyFlags overrides the file's fields with the flags given. Relative paths are resolved against the working
// directory.
func (c *Config) ApplyFlags(f Flags) {
	if c.flags == nil {
		c.flags = map[string]string{}
	}
	set := func(field, flag string) { c.flags[field] = flag }
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return absOr(p)
	}
	if f.Region != "" {
		c.Region = f.Region
		set("region", "--region")
	}
	if f.Repo != "" {
		c.Repo = f.Repo
		if !looksLikeURL(c.Repo) {
			c.Repo = abs(c.Repo)
		}
		set("repo", "--repo")
	}
	if f.Listen != "" {
		c.Listen = f.Listen
		set("listen", "--listen")
	}
	if f.DataDir != "" {
		c.DataDir = abs(f.DataDir)
		set("dataDir", "--data-dir")
	}
	if len(f.TrustPub) > 0 {
		c.Trust.Promoters = nil
		for _, p := range f.TrustPub {
			c.Trust.Promoters = append(c.Trust.Promoters, abs(p))
		}
		set("trust.promoters", "--trust-pub")
	}
	if f.Store != "" {
		c.Store.DSN = f.Store
		if p, ok := strings.CutPrefix(f.Store, "sqlite:"); ok && p != "" {
			c.Store.DSN = "sqlite:" + abs(p)
		}
		set("store.dsn", "--store")
	}
	if f.Interval != 0 {
		c.Interval = Duration(f.Interval)
		set("interval", "--interval")
	}
}

// File returns the path of the file the config was loaded from, or "".
func (c *Config) File() string { return c.file }

// pos says where a field was set: "--flag", "file:line", or the file (or "") when it was not set at all.
func (c *Config) pos(field string) string {
	if f, ok := c.flags[field]; ok {
		return f
	}
	if c.root == nil {
		return c.file
	}
	n := c.root
	for depth, key := range strings.Split(field, ".") {
		var next *yaml.Node
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					next = n.Content[i+1]
					break
				}
			}
		}
		if next == nil {
			if depth == 0 {
				return c.file // not in the file at all
			}
			return fmt.Sprintf("%s:%d", c.file, n.Line)
		}
		n = next
	}
	return fmt.Sprintf("%s:%d", c.file, n.Line)
}

// ApplyDefaults fills in the defaults of fields left empty. Validate calls it.
func (c *Config) ApplyDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.WorkflowsDir == "" {
		c.WorkflowsDir = DefaultWorkflowsDir
	}
	if c.Interval == 0 {
		c.Interval = Duration(DefaultInterval)
	}
	if c.Jitter == nil {
		j := Fraction(DefaultJitter)
		c.Jitter = &j
	}
	if c.StaleAfter == 0 {
		c.StaleAfter = Duration(max(10*c.Interval.D(), MinStaleAfter))
	}
	if c.History.Retention == nil {
		r := Duration(DefaultHistoryRetention)
		c.History.Retention = &r
	}
	if p := c.Promotion; p != nil {
		if p.KeyPasswordFile == "" && p.KeyPasswordEnv == "" {
			p.KeyPasswordEnv = DefaultPasswordEnv
		}
		if p.Push == "" {
			p.Push = c.Repo
		}
		if p.Promoter == "" && c.Region != "" {
			p.Promoter = "maestro@" + c.Region
		}
	}
	if c.Trust.Log.Embedded == nil && c.Trust.Log.Rekor == nil {
		c.Trust.Log.Embedded = &EmbeddedLog{}
	}
}

var (
	regionRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	envRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Validate applies the defaults and checks every field, returning an ErrorList with every problem found. It
// checks form, not the files named: those are read when the server opens them.
func (c *Config) Validate() error {
	c.ApplyDefaults()
	var list ErrorList
	bad := func(field, format string, args ...any) {
		list = append(list, &Error{Pos: c.pos(field), Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	switch {
	case c.Region == "":
		bad("region", "required: the region's name, e.g. us-east (--region)")
	case !regionRE.MatchString(c.Region):
		bad("region", "%q: use 1-63 of [a-z0-9-], starting and ending with a letter or digit", c.Region)
	}
	if c.Repo == "" {
		bad("repo", "required: the git remote to pull, e.g. https://github.com/acme/workflows.git (--repo)")
	} else if err := checkRepo(c.Repo); err != nil {
		bad("repo", "%v", err)
	}
	if c.WorkflowsDir != "" && (filepath.IsAbs(c.WorkflowsDir) || strings.HasPrefix(filepath.Clean(c.WorkflowsDir), "..")) {
		bad("workflowsDir", "%q: give a directory inside the repository", c.WorkflowsDir)
	}
	if host, port, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%q is not HOST:PORT (e.g. 127.0.0.1:8080 or :8080)", c.Listen)
	} else if _, perr := net.LookupPort("tcp", port); perr != nil || (host != "" && strings.ContainsAny(host, "/ ")) {
		bad("listen", "%q is not HOST:PORT (e.g. 127.0.0.1:8080 or :8080)", c.Listen)
	}
	if c.DataDir == "" {
		bad("dataDir", "required: a directory for the store, the git mirror and the promotion clone (--data-dir)")
	}

	c.validateGit(bad)
	if len(c.Trust.Promoters) == 0 {
		bad("trust.promoters", "required: at least one promoter public key (cosign.pub) to trust (--trust-pub)")
	}
	for i, p := range c.Trust.Promoters {
		if p == "" {
			bad("trust.promoters", "entry %d is empty", i+1)
		}
	}
	switch l := c.Trust.Log; {
	case l.Embedded != nil && l.Rekor != nil:
		bad("trust.log", "give either embedded or rekor, not both")
	case l.Rekor != nil:
		r := l.Rekor
		if r.URL == "" {
			bad("trust.log.rekor.url", "required: the Rekor v2 server's URL")
		} else if err := checkHTTPURL(r.URL); err != nil {
			bad("trust.log.rekor.url", "%v", err)
		}
		if r.TilesURL != "" {
			if err := checkHTTPURL(r.TilesURL); err != nil {
				bad("trust.log.rekor.tilesURL", "%v", err)
			}
		}
		if r.Pub == "" {
			bad("trust.log.rekor.pub", "required: the server's checkpoint public key (PEM file)")
		}
		if r.Origin == "" {
			bad("trust.log.rekor.origin", "required: the server's checkpoint origin (its --hostname)")
		}
	}

	c.validateStore(bad)
	if c.Interval.D() < time.Second {
		bad("interval", "%s: reconcile at most once a second", c.Interval.D())
	}
	if j := float64(*c.Jitter); j < 0 || j >= 1 {
		bad("jitter", "%g: want a fraction of the interval from 0 up to (not including) 1, e.g. 0.1 or 10%%", j)
	}
	if c.StaleAfter.D() <= c.Interval.D() {
		bad("staleAfter", "%s: want more than the interval (%s), or every slow fetch makes the region unready", c.StaleAfter.D(), c.Interval.D())
	}
	if r := c.History.Retention.D(); r < 0 {
		bad("history.retention", "%s: want how long to keep the reconcile history, e.g. 720h (30 days), or 0 to keep it forever", r)
	}
	secretPair(bad, "webhook.secretFile", c.Webhook.SecretFile, "webhook.secretEnv", c.Webhook.SecretEnv, false)

	if p := c.Promotion; p != nil {
		if p.KeyFile == "" {
			bad("promotion.keyFile", "required with promotion: the promotion key (cosign.key); leave promotion out to disable the promote endpoint")
		}
		secretPair(bad, "promotion.keyPasswordFile", p.KeyPasswordFile, "promotion.keyPasswordEnv", p.KeyPasswordEnv, false)
		secretPair(bad, "promotion.tokenFile", p.TokenFile, "promotion.tokenEnv", p.TokenEnv, true)
		if p.Push != "" {
			if err := checkRepo(p.Push); err != nil {
				bad("promotion.push", "%v", err)
			}
		}
	}
	if len(list) == 0 {
		return nil
	}
	return list
}

func (c *Config) validateGit(bad func(field, format string, args ...any)) {
	g := c.Git
	secretPair(bad, "git.credentialsFile", g.CredentialsFile, "git.credentialsEnv", g.CredentialsEnv, false)
	if (g.CredentialsFile != "" || g.CredentialsEnv != "") && g.SSHKeyFile != "" {
		bad("git", "give https credentials (credentialsFile or credentialsEnv) or an ssh key (sshKeyFile), not both")
	}
	if c.Repo == "" {
		return
	}
	ssh := isSSH(c.Repo)
	if g.SSHKeyFile != "" && !ssh {
		bad("git.sshKeyFile", "the repository %s is not an ssh remote", redact(c.Repo))
	}
	if (g.CredentialsFile != "" || g.CredentialsEnv != "") && ssh {
		bad("git", "the repository %s is an ssh remote: give sshKeyFile, not https credentials", redact(c.Repo))
	}
}

func (c *Config) validateStore(bad func(field, format string, args ...any)) {
	s := c.Store
	secretPair(bad, "store.passwordFile", s.PasswordFile, "store.passwordEnv", s.PasswordEnv, false)
	switch kind, _ := c.StoreKind(); kind {
	case "postgres":
		if hasInlinePassword(s.DSN) {
			bad("store.dsn", "the DSN holds a password; move it to store.passwordFile or store.passwordEnv (a DSN shows in ps and logs)")
		}
		if _, err := url.Parse(s.DSN); err != nil {
			bad("store.dsn", "not a URL: %v", errors.Unwrap(err))
		}
	case "sqlite":
		if s.PasswordFile != "" || s.PasswordEnv != "" {
			bad("store", "a password is for PostgreSQL; the SQLite store has none")
		}
		if s.DSN != "" && strings.TrimPrefix(s.DSN, "sqlite:") == "" {
			bad("store.dsn", "sqlite: needs a path, e.g. sqlite:/var/lib/maestro/region.db (or leave dsn empty)")
		}
	default:
		bad("store.dsn", "%s: use postgres://USER@HOST/DB, sqlite:PATH, or leave it empty for SQLite under dataDir", redact(s.DSN))
	}
}

// StoreKind says which store the DSN names, "postgres" or "sqlite", and its location: the DSN for PostgreSQL, the
// database file for SQLite. The kind is "" for a DSN of neither kind.
func (c *Config) StoreKind() (kind, location string) {
	d := c.Store.DSN
	switch {
	case d == "":
		if c.DataDir == "" {
			return "sqlite", ""
		}
		return "sqlite", filepath.Join(c.DataDir, "region.db")
	case strings.HasPrefix(d, "postgres://"), strings.HasPrefix(d, "postgresql://"):
		return "postgres", d
	case strings.HasPrefix(d, "sqlite:"):
		return "sqlite", strings.TrimPrefix(d, "sqlite:")
	}
	return "", d
}

// MirrorDir is the reconciler's git mirror; PromoteDir the promotion clone.
func (c *Config) MirrorDir() string  { return filepath.Join(c.DataDir, "mirror") }
func (c *Config) PromoteDir() string { return filepath.Join(c.DataDir, "promote") }

func secretPair(bad func(field, format string, args ...any), fileField, file, envField, env string, required bool) {
	switch {
	case file != "" && env != "":
		bad(fileField, "give %s or %s, not both", fileField, envField)
	case required && file == "" && env == "":
		bad(fileField, "required (or %s): the secret's file (or the name of the variable that holds it)", envField)
	}
	if env != "" && !envRE.MatchString(env) {
		bad(envField, "%q is not an environment variable name; give the variable's name, never the secret itself", env)
	}
}

// hasInlinePassword reports whether a postgres DSN carries a password: in the URL's user info or as a password
// query parameter.
func hasInlinePassword(dsn string) bool {
	u, err := url.Parse(dsn)
	if err != nil {
		return strings.Contains(dsn, "password")
	}
	if _, ok := u.User.Password(); ok {
		return true
	}
	return u.Query().Has("password")
}

// redact hides a URL's password, for messages.
func redact(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
	}
	return s
}

var scpRE = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:`)

// looksLikeURL reports whether s is a URL or scp-like address rather than a local path.
func looksLikeURL(s string) bool {
	return strings.Contains(s, "://") || scpRE.MatchString(s)
}

func isSSH(s string) bool {
	return strings.HasPrefix(s, "ssh://") || strings.HasPrefix(s, "git+ssh://") || scpRE.MatchString(s)
}

func checkRepo(s string) error {
	if !looksLikeURL(s) {
		if !filepath.IsAbs(s) {
			return fmt.Errorf("%q is neither a URL nor an absolute path", s)
		}
		return nil
	}
	if scpRE.MatchString(s) && !strings.Contains(s, "://") {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%s is not a URL: %v", redact(s), errors.Unwrap(err))
	}
	switch u.Scheme {
	case "https", "http", "ssh", "git", "git+ssh", "file":
	default:
		return fmt.Errorf("%s: scheme %q; use https, ssh, git or file", redact(s), u.Scheme)
	}
	if _, ok := u.User.Password(); ok {
		return fmt.Errorf("%s holds a password; give it in git.credentialsFile or git.credentialsEnv", redact(s))
	}
	if u.Scheme != "file" && u.Host == "" {
		return fmt.Errorf("%s has no host", s)
	}
	return nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}
