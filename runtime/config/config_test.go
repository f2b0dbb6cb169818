package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// minimal is the smallest valid file.
const minimal = `region: us-east
repo: https://github.com/acme/workflows.git
dataDir: data
trust:
  promoters: [keys/release.pub]
`

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "region.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExampleIsValid(t *testing.T) {
	c, err := Load("../../examples/region.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("examples/region.yaml: %v", err)
	}
	if c.Region != "us-east" || c.Interval.D() != 30*time.Second || *c.Jitter != 0.05 || c.History.Retention.D() != 720*time.Hour {
		t.Errorf("example decoded as %+v", c)
	}
	abs, _ := filepath.Abs("../../examples/keys/release.pub")
	if d := cmp.Diff([]string{abs}, c.Trust.Promoters); d != "" {
		t.Errorf("promoters relative to the file (-want +got):\n%s", d)
	}
}

func TestDefaults(t *testing.T) {
	p := writeConfig(t, minimal)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(p)
	if c.Listen != DefaultListen || c.Interval.D() != DefaultInterval || *c.Jitter != DefaultJitter ||
		c.StaleAfter.D() != MinStaleAfter || c.WorkflowsDir != "workflows" || c.DataDir != filepath.Join(dir, "data") {
		t.Errorf("defaults: %+v", c)
	}
	if c.Trust.Log.Embedded == nil || c.Trust.Log.Embedded.Dir != "" {
		t.Errorf("log default: %+v", c.Trust.Log)
	}
	kind, loc := c.StoreKind()
	if kind != "sqlite" || loc != filepath.Join(dir, "data", "region.db") {
		t.Errorf("StoreKind() = %q, %q", kind, loc)
	}
	if c.Promotion != nil {
		t.Errorf("promotion is on by default")
	}
	if r := c.History.Retention.D(); r != 30*24*time.Hour {
		t.Errorf("history.retention = %s, want 30 days", r)
	}
}

func TestHistoryRetention(t *testing.T) {
	for text, want := range map[string]time.Duration{
		"history:\n  retention: 2160h\n": 90 * 24 * time.Hour,
		"history:\n  retention: 0\n":     0, // keep forever, not the default
		"history:\n  retention: 0s\n":    0,
		"history: {}\n":                  DefaultHistoryRetention,
	} {
		c, err := Load(writeConfig(t, minimal+text))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		if got := c.History.Retention.D(); got != want {
			t.Errorf("%q: history.retention = %s, want %s", text, got, want)
		}
	}
}

func TestStaleAfterDefaultScalesWithInterval(t *testing.T) {
	c, err := Load(writeConfig(t, minimal+"interval: 2m\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.StaleAfter.D() != 20*time.Minute {
		t.Errorf("staleAfter = %s, want 20m", c.StaleAfter.D())
	}
}

func TestFlagsOverride(t *testing.T) {
	c, err := Load(writeConfig(t, minimal+"interval: 1m\nlisten: 127.0.0.1:1\n"))
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	c.ApplyFlags(Flags{Region: "us-west", Repo: "file:///srv/repo.git", Listen: "127.0.0.1:9", DataDir: "d",
		TrustPub: []string{"a.pub", "/b.pub"}, Store: "postgres://maestro@db/maestro", Interval: 10 * time.Second})
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(wd, "a.pub"), "/b.pub"}
	if c.Region != "us-west" || c.Repo != "file:///srv/repo.git" || c.Listen != "127.0.0.1:9" ||
		c.DataDir != filepath.Join(wd, "d") || c.Interval.D() != 10*time.Second || c.Store.DSN != "postgres://maestro@db/maestro" {
		t.Errorf("after flags: %+v", c)
	}
	if d := cmp.Diff(want, c.Trust.Promoters); d != "" {
		t.Errorf("promoters (-want +got):\n%s", d)
	}
	if kind, _ := c.StoreKind(); kind != "postgres" {
		t.Errorf("store kind %q", kind)
	}
}

func TestFlagsAlone(t *testing.T) {
	c := &Config{}
	c.ApplyFlags(Flags{Region: "r1", Repo: "/srv/repo", DataDir: "/tmp/d", TrustPub: []string{"/k.pub"}})
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c = &Config{}
	c.ApplyFlags(Flags{Region: "R!"})
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "--region: region:") || !strings.Contains(err.Error(), "repo: required") {
		t.Errorf("Validate() = %v", err)
	}
}

// TestErrors checks that every kind of bad input is an error that names where it is and what to do.
func TestErrors(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string // substrings of the error, in any order
	}{
		{"unknown field", minimal + "intervall: 30s\n", []string{":6: unknown field \"intervall\" in the top level"}},
		{"unknown nested field", minimal + "store:\n  dsn: \"\"\n  pasword: x\n", []string{":8: unknown field \"pasword\" in store"}},
		{"duplicate key", minimal + "region: us-west\n", []string{":6:", `"region" already defined at line 1`}},
		{"bad duration", minimal + "interval: 30\n", []string{":6:", `"30" is not a duration`}},
		{"duration as mapping", minimal + "staleAfter: {a: 1}\n", []string{":6: want a duration"}},
		{"fraction as mapping", minimal + "jitter: [1]\n", []string{":6:", "is not a fraction"}},
		{"promoters not a list", strings.Replace(minimal, "[keys/release.pub]", "{a: b}", 1), []string{":5:", "list of strings"}},
		{"syntax", "region: [\n", []string{"region.yaml:"}},
		{"not a mapping", "- a\n", []string{":1: want a mapping"}},
		{"second document", minimal + "---\nregion: x\n", []string{":6: a second YAML document"}},
		{"empty", "", []string{"the file is empty"}},
		{"missing required", "listen: localhost:1\n", []string{
			"region: required", "repo: required", "dataDir: required", "trust.promoters: required"}},
		{"bad region", strings.Replace(minimal, "us-east", "US_East", 1), []string{":1: region: \"US_East\""}},
		{"bad repo scheme", strings.Replace(minimal, "https://", "ftp://", 1), []string{":2: repo:", `scheme "ftp"`}},
		{"password in repo", strings.Replace(minimal, "https://", "https://u:hunter2@", 1), []string{":2: repo:", "holds a password", "xxxxx"}},
		{"bad listen", minimal + "listen: 8080\n", []string{":6: listen: \"8080\" is not HOST:PORT"}},
		{"short interval", minimal + "interval: 10ms\n", []string{":6: interval: 10ms"}},
		{"jitter too large", minimal + "jitter: 100%\n", []string{":6: jitter: 1: want a fraction"}},
		{"jitter negative", minimal + "jitter: -0.1\n", []string{":6: jitter: -0.1"}},
		{"jitter as duration", minimal + "jitter: 3s\n", []string{":6:", `"3s" is not a fraction`}},
		{"negative retention", minimal + "history:\n  retention: -24h\n", []string{":7: history.retention: -24h0m0s", "or 0 to keep it forever"}},
		{"bad retention", minimal + "history:\n  retention: 30d\n", []string{":7:", `"30d" is not a duration`}},
		{"unknown history field", minimal + "history:\n  keep: 1h\n", []string{":7: unknown field \"keep\" in history"}},
		{"stale under interval", minimal + "interval: 10m\nstaleAfter: 5m\n", []string{":7: staleAfter: 5m0s"}},
		{"dsn with password", minimal + "store:\n  dsn: postgres://u:secret@db/x\n", []string{":7: store.dsn: the DSN holds a password"}},
		{"dsn password param", minimal + "store:\n  dsn: postgres://u@db/x?password=secret\n", []string{"store.dsn: the DSN holds a password"}},
		{"dsn unknown", minimal + "store:\n  dsn: mysql://db\n", []string{"store.dsn: mysql://db: use postgres://"}},
		{"sqlite password", minimal + "store:\n  dsn: sqlite:x.db\n  passwordEnv: PW\n", []string{"store: a password is for PostgreSQL"}},
		{"secret env is a value", minimal + "webhook:\n  secretEnv: \"s3cr3t value!\"\n", []string{":7: webhook.secretEnv:", "not an environment variable name"}},
		{"secret twice", minimal + "webhook:\n  secretEnv: A\n  secretFile: f\n", []string{"webhook.secretFile: give webhook.secretFile or webhook.secretEnv, not both"}},
		{"both logs", minimal + "  log:\n    embedded: {}\n    rekor: {url: https://r}\n", []string{"trust.log: give either embedded or rekor"}},
		{"rekor incomplete", minimal + "  log:\n    rekor: {url: nope}\n", []string{
			"trust.log.rekor.url: \"nope\" is not an http(s) URL", "trust.log.rekor.pub: required", "trust.log.rekor.origin: required"}},
		{"promotion without key", minimal + "promotion:\n  push: origin\n", []string{"promotion.keyFile: required", "promotion.push:", "promotion.tokenFile: required (or promotion.tokenEnv)"}},
		{"ssh key on https", minimal + "git:\n  sshKeyFile: k\n", []string{"git.sshKeyFile: the repository"}},
		{"https creds on ssh", strings.Replace(minimal, "https://github.com/", "git@github.com:", 1) + "git:\n  credentialsEnv: TOKEN\n", []string{"git: the repository", "ssh remote"}},
		{"workflows dir outside", minimal + "workflowsDir: ../x\n", []string{"workflowsDir: \"../x\""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeConfig(t, tt.text)
			c, err := Load(p)
			if err == nil {
				err = c.Validate()
			}
			if err == nil {
				t.Fatalf("no error for\n%s", tt.text)
			}
			msg := err.Error()
			if !strings.Contains(msg, p) && !strings.HasPrefix(msg, "--") && !strings.Contains(msg, "region.yaml") {
				t.Errorf("error does not name the file: %s", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q\ndoes not contain %q", msg, w)
				}
			}
			if strings.Contains(msg, "hunter2") || strings.Contains(msg, "secret@") {
				t.Errorf("error shows a secret: %s", msg)
			}
		})
	}
}

func TestSecrets(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("token", "x-access-token:ghp_abc\n")
	write("hook", "hook-secret\n")
	write("db", "pw\n")
	write("promote-token", "0123456789abcdef0123\n")
	text := minimal + `git:
  credentialsFile: token
webhook:
  secretFile: hook
store:
  dsn: postgres://maestro@db:5432/maestro?sslmode=disable
  passwordFile: db
promotion:
  keyFile: cosign.key
  tokenFile: promote-token
`
	p := filepath.Join(dir, "region.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"COSIGN_PASSWORD": ""}
	s, err := c.Secrets(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	want := &Secrets{GitUsername: "x-access-token", GitPassword: "ghp_abc", WebhookSecret: []byte("hook-secret"),
		StorePassword: "pw", PromotionKeyPassword: []byte{}, PromotionToken: []byte("0123456789abcdef0123")}
	if d := cmp.Diff(want, s); d != "" {
		t.Errorf("Secrets() (-want +got):\n%s", d)
	}
	dsn, err := c.PostgresDSN(s.StorePassword)
	if err != nil || dsn != "postgres://maestro:pw@db:5432/maestro?sslmode=disable" {
		t.Errorf("PostgresDSN() = %q, %v", dsn, err)
	}
	if c.Promotion.Push != c.Repo || c.Promotion.Promoter != "maestro@us-east" {
		t.Errorf("promotion defaults: %+v", c.Promotion)
	}

	// A bare token is the password of user "git"; a named variable that is unset is an error.
	c2, _ := Load(writeConfig(t, minimal+"git:\n  credentialsEnv: GIT_TOKEN\nwebhook:\n  secretEnv: HOOK\n"))
	if err := c2.Validate(); err != nil {
		t.Fatal(err)
	}
	env = map[string]string{"GIT_TOKEN": "tok"}
	_, err = c2.Secrets(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err == nil || !strings.Contains(err.Error(), ":9: webhook.secretEnv: $HOOK is not set") {
		t.Errorf("unset variable: %v", err)
	}
	env["HOOK"] = "h"
	s, err = c2.Secrets(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil || s.GitUsername != "git" || s.GitPassword != "tok" || string(s.WebhookSecret) != "h" {
		t.Errorf("Secrets() = %+v, %v", s, err)
	}

	// A short promotion token is refused.
	c4, _ := Load(writeConfig(t, minimal+"promotion:\n  keyFile: k\n  tokenEnv: TOK\n"))
	if err := c4.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := c4.Secrets(func(string) (string, bool) { return "short", true }); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("short token: %v", err)
	}

	// An empty secret file is an error, not an empty secret.
	write("empty", "\n")
	c3, _ := Load(writeConfig(t, minimal+"webhook:\n  secretFile: "+filepath.Join(dir, "empty")+"\n"))
	if _, err := c3.Secrets(nil); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty secret file: %v", err)
	}
}

func TestTooLarge(t *testing.T) {
	p := writeConfig(t, minimal+"#"+strings.Repeat("x", MaxFileSize)+"\n")
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Load() = %v", err)
	}
}

// FuzzParse: whatever the file holds, Parse and Validate return (no panic), and every error names the file.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(minimal + "interval: 1m\njitter: 10%\nstaleAfter: 20m\nstore: {dsn: \"postgres://u@h/d\", passwordEnv: PW}\n"))
	f.Add([]byte("region: [\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("promotion: {keyFile: k, push: \"git@host:x\"}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err == nil {
			err = c.Validate()
		}
		if err != nil && !strings.Contains(err.Error(), "fuzz.yaml") {
			t.Errorf("error does not name the file: %v", err)
		}
	})
}
