// Package schema holds the region store's migrations: numbered SQL files embedded in the binary, written once for
// PostgreSQL and SQLite. The few types the two spell differently are placeholders ({{timestamp}}, {{bytes}},
// {{uuid}}) that Migrations replaces for a Dialect; everything else is SQL both accept.
//
// Each backend applies the migrations it has not applied yet, in order, each in one transaction that also records it
// in schema_migrations, while holding a lock that keeps two processes opening the same database from migrating at
// once (PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE).
package schema

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var files embed.FS

// Dialect is a database's spelling of the types the migrations leave open.
type Dialect struct {
	Name string
	// Types maps each placeholder (without braces) to the type.
	Types map[string]string
}

var (
	// Postgres stores times as timestamptz (microseconds) and bytes as bytea.
	Postgres = Dialect{Name: "postgres", Types: map[string]string{
		"timestamp": "TIMESTAMPTZ",
		"bytes":     "BYTEA",
		"uuid":      "UUID",
	}}
	// SQLite stores times as text in TimeFormat (UTC, fixed width, so text order is time order) and UUIDs as text.
	SQLite = Dialect{Name: "sqlite", Types: map[string]string{
		"timestamp": "TEXT",
		"bytes":     "BLOB",
		"uuid":      "TEXT",
	}}
)

// TimeFormat is how SQLite stores a time: UTC, microseconds, fixed width.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// MigrationsTable returns the statement that makes the table recording applied migrations, if it is missing.
func MigrationsTable(d Dialect) string {
	return `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL,
    applied_at ` + d.Types["timestamp"] + ` NOT NULL
)`
}

// Migration is one numbered step of the schema.
type Migration struct {
	Version int64
	Name    string // the file name without its number and extension, e.g. "init"
	SQL     string
}

var (
	fileName    = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)
	placeholder = regexp.MustCompile(`\{\{\s*([a-z]+)\s*\}\}`)
)

// Migrations returns every migration rendered for d, in order.
func Migrations(d Dialect) ([]Migration, error) {
	return render(files, d)
}

func render(fsys fs.FS, d Dialect) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var ms []Migration
	seen := map[int64]string{}
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migrations/%s: want NNNN_name.sql", e.Name())
		}
		v, _ := strconv.ParseInt(m[1], 10, 64)
		if other, ok := seen[v]; ok {
			return nil, fmt.Errorf("migrations/%s: number %d is taken by %s", e.Name(), v, other)
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(fsys, path.Join("migrations", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("migrations/%s: %w", e.Name(), err)
		}
		var missing []string
		sql := placeholder.ReplaceAllStringFunc(string(b), func(p string) string {
			key := placeholder.FindStringSubmatch(p)[1]
			t, ok := d.Types[key]
			if !ok {
				missing = append(missing, key)
				return p
			}
			return t
		})
		if len(missing) > 0 {
			return nil, fmt.Errorf("migrations/%s: dialect %s has no type for {{%s}}", e.Name(), d.Name, strings.Join(missing, "}}, {{"))
		}
		ms = append(ms, Migration{Version: v, Name: m[2], SQL: sql})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != int64(i+1) {
			return nil, fmt.Errorf("migrations: %04d_%s.sql: numbers must run 0001, 0002, ... without gaps", m.Version, m.Name)
		}
	}
	return ms, nil
}
