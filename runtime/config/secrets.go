package config

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
)

// minTokenLen is the shortest promotion token accepted: it guards a signing key.
const minTokenLen = 16

// MaxSecretSize bounds a secret file: a token, a password, a webhook secret.
const MaxSecretSize = 64 << 10

// Secrets are the secrets the configuration names, read from their files or environment variables.
type Secrets struct {
	// GitUsername and GitPassword authenticate to an https remote; both empty when none is configured.
	GitUsername, GitPassword string
	// WebhookSecret is empty when no webhook secret is configured: the webhook endpoint then refuses everything.
	WebhookSecret []byte
	// StorePassword is the PostgreSQL password, "" when none is configured.
	StorePassword string
	// PromotionKeyPassword is the promotion key's password; nil without a promotion section.
	PromotionKeyPassword []byte
	// PromotionToken is the bearer token of promotion requests; nil without a promotion section.
	PromotionToken []byte
}

// LookupEnv is os.LookupEnv's shape; the command line passes os.LookupEnv.
type LookupEnv func(key string) (string, bool)

// Secrets reads every secret the configuration names. lookup reads environment variables; a variable that is
// named but unset, and an empty secret file, are errors.
func (c *Config) Secrets(lookup LookupEnv) (*Secrets, error) {
	var s Secrets
	var list ErrorList
	read := func(fileField, file, envField, env string, allowEmptyEnv bool) []byte {
		switch {
		case file != "":
			b, err := readSecretFile(file)
			if err != nil {
				list = append(list, &Error{Pos: c.pos(fileField), Field: fileField, Msg: err.Error()})
			}
			return b
		case env != "":
			v, ok := lookup(env)
			if !ok || (v == "" && !allowEmptyEnv) {
				list = append(list, &Error{Pos: c.pos(envField), Field: envField, Msg: fmt.Sprintf("$%s is not set", env)})
			}
			return []byte(v)
		}
		return nil
	}
	if cred := read("git.credentialsFile", c.Git.CredentialsFile, "git.credentialsEnv", c.Git.CredentialsEnv, false); len(cred) > 0 {
		user, pass, ok := strings.Cut(string(cred), ":")
		if !ok {
			user, pass = "git", string(cred)
		}
		s.GitUsername, s.GitPassword = user, pass
	}
	s.WebhookSecret = read("webhook.secretFile", c.Webhook.SecretFile, "webhook.secretEnv", c.Webhook.SecretEnv, false)
	s.StorePassword = string(read("store.passwordFile", c.Store.PasswordFile, "store.passwordEnv", c.Store.PasswordEnv, false))
	if p := c.Promotion; p != nil {
		// An unencrypted key has an empty password, so an empty variable is allowed here.
		s.PromotionKeyPassword = read("promotion.keyPasswordFile", p.KeyPasswordFile, "promotion.keyPasswordEnv", p.KeyPasswordEnv, true)
		if s.PromotionKeyPassword == nil {
			s.PromotionKeyPassword = []byte{}
		}
		s.PromotionToken = read("promotion.tokenFile", p.TokenFile, "promotion.tokenEnv", p.TokenEnv, false)
		if len(s.PromotionToken) > 0 && len(s.PromotionToken) < minTokenLen {
			list = append(list, &Error{Pos: c.pos("promotion"), Field: "promotion.token",
				Msg: fmt.Sprintf("the promotion token is %d bytes; use at least %d random bytes (e.g. openssl rand -hex 32)", len(s.PromotionToken), minTokenLen)})
		}
	}
	if len(list) > 0 {
		return nil, list
	}
	return &s, nil
}

// readSecretFile reads a secret, without its trailing newline. The file must not be empty.
func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf, err := io.ReadAll(io.LimitReader(f, MaxSecretSize+1))
	if err != nil {
		return nil, err
	}
	n := len(buf)
	if n > MaxSecretSize {
		return nil, fmt.Errorf("%s: larger than %d bytes; is it the right file?", path, MaxSecretSize)
	}
	b := bytes.TrimRight(buf[:n], "\r\n")
	if len(b) == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	return b, nil
}

// PostgresDSN returns the PostgreSQL DSN with password set in it; the result is a secret.
func (c *Config) PostgresDSN(password string) (string, error) {
	kind, dsn := c.StoreKind()
	if kind != "postgres" {
		return "", fmt.Errorf("store %q is not PostgreSQL", dsn)
	}
	if password == "" {
		return dsn, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("store.dsn: %w", err)
	}
	user := ""
	if u.User != nil {
		user = u.User.Username()
	}
	u.User = url.UserPassword(user, password)
	return u.String(), nil
}
