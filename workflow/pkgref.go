package workflow

import (
	"fmt"
	"strings"
)

// PackageRef names a task package: a repository, then a tag (":1.4"), a digest ("@sha256:<64 hex>"), or both.
// Only digest-pinned refs can be promoted; a tag alone may move and so names no fixed package.
type PackageRef string

// Pinned reports whether the ref names its package by sha256 digest.
func (r PackageRef) Pinned() bool {
	_, d, ok := strings.Cut(string(r), "@")
	return ok && strings.HasPrefix(d, "sha256:")
}

// Repository returns the ref without its tag and digest.
func (r PackageRef) Repository() string {
	name, _, _ := strings.Cut(string(r), "@")
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name = name[:i]
	}
	return name
}

// Digest returns the ref's "sha256:<hex>" digest, or "" when it has none.
func (r PackageRef) Digest() string {
	_, d, _ := strings.Cut(string(r), "@")
	return d
}

// Validate checks the ref's syntax. It does not require a digest: see Pinned.
func (r PackageRef) Validate() error {
	s := string(r)
	if s == "" {
		return fmt.Errorf("package ref is empty")
	}
	if len(s) > 512 {
		return fmt.Errorf("package ref is longer than 512 characters")
	}
	name, dgst, hasDigest := strings.Cut(s, "@")
	tag := ""
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name, tag = name[:i], name[i+1:]
		if !validTag(tag) {
			return fmt.Errorf("package ref %q: tag %q must be 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'", s, tag)
		}
	}
	if !validRepository(name) {
		return fmt.Errorf("package ref %q: repository %q must be lowercase path components of [a-z0-9._-], optionally after a registry host[:port]", s, name)
	}
	if hasDigest {
		hex, ok := strings.CutPrefix(dgst, "sha256:")
		if !ok || len(hex) != 64 || !isLowerHex(hex) {
			return fmt.Errorf("package ref %q: digest must be sha256: followed by 64 lowercase hex digits", s)
		}
	} else if tag == "" {
		return fmt.Errorf("package ref %q names neither a tag nor a digest; pin it as %s@sha256:<digest>", s, name)
	}
	return nil
}

func validTag(t string) bool {
	if t == "" || len(t) > 128 || t[0] == '.' || t[0] == '-' {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func validRepository(name string) bool {
	if name == "" {
		return false
	}
	first := true
	for name != "" {
		c, rest, more := strings.Cut(name, "/")
		name = rest
		if first && more {
			// A registry host may carry a port.
			host, port, hasPort := strings.Cut(c, ":")
			if hasPort && (port == "" || strings.Trim(port, "0123456789") != "") {
				return false
			}
			c = host
		}
		first = false
		if c == "" || !isAlnum(c[0]) || !isAlnum(c[len(c)-1]) {
			return false
		}
		for j := 0; j < len(c); j++ {
			ch := c[j]
			if !(isAlnum(ch) || ch == '.' || ch == '_' || ch == '-') {
				return false
			}
		}
		if more && name == "" {
			return false // a trailing slash
		}
	}
	return true
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
