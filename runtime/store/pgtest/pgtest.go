// Package pgtest gives a test a PostgreSQL database of its own, wherever the test runs.
//
// URL finds a server, first that works:
//
//  1. MAESTRO_TEST_POSTGRES_URL, a server whose user may create databases (the database the URL names is only
//     used to connect);
//  2. a server on 127.0.0.1:5432 that lets user postgres into database postgres without a password (trust auth),
//     as on the project's machines and in CI;
//  3. a throwaway cluster: initdb and postgres from the PostgreSQL binaries on PATH or under
//     /usr/lib/postgresql/*/bin, in a temporary directory, listening on a free loopback port, run as the
//     postgres OS user when the test runs as root. One cluster serves the whole test binary while any test uses
//     it; it is stopped and its directory removed when the last such test ends, and it dies with the test
//     binary if that is killed.
//
// MAESTRO_TEST_PG_INITDB=1 skips 1 and 2, to test 3 on a machine that has a server. On the server found, URL
// creates a database maestro_test_<random> and drops it when the test ends. When no server can be had, the test
// is skipped, or fails when CI=true: CI never passes without PostgreSQL.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Environment variables URL reads.
const (
	EnvURL    = "MAESTRO_TEST_POSTGRES_URL"
	EnvInitdb = "MAESTRO_TEST_PG_INITDB"
	EnvCI     = "CI"
)

// LocalURL is the server URL tries second: the machine's own PostgreSQL with trust auth.
const LocalURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable&connect_timeout=3"

// Source says where a database came from.
type Source string

// Sources of servers, in the order URL tries them.
const (
	FromEnv    Source = "env"    // MAESTRO_TEST_POSTGRES_URL
	FromLocal  Source = "local"  // 127.0.0.1:5432 with trust auth
	FromInitdb Source = "initdb" // a throwaway cluster
)

// DB is a database made for one test.
type DB struct {
	URL    string // the DSN of the database
	Name   string
	Source Source
}

// URL returns the DSN of a new, empty database that is dropped when t ends.
func URL(t testing.TB) string {
	t.Helper()
	return New(t).URL
}

// New makes a new, empty database, dropped when t ends, and says where it is.
func New(t testing.TB) DB {
	t.Helper()
	admin, src := server(t)
	db := create(t, admin, src)
	t.Logf("pgtest: database %s on the %s server", db.Name, db.Source)
	return db
}

// Hold keeps the server URL uses for t running until t ends. A test whose subtests each call URL holds it, so a
// throwaway cluster is started once for all of them rather than once for each.
func Hold(t testing.TB) {
	t.Helper()
	server(t)
}

var local struct {
	once sync.Once
	err  error
}

// server returns the admin DSN of a server for t.
func server(t testing.TB) (string, Source) {
	t.Helper()
	if !truthy(os.Getenv(EnvInitdb)) {
		if u := os.Getenv(EnvURL); u != "" {
			return u, FromEnv
		}
		local.once.Do(func() { local.err = ping(LocalURL) })
		if local.err == nil {
			return LocalURL, FromLocal
		}
	}
	c, err := sharedCluster(t)
	if err != nil {
		why := "no PostgreSQL server"
		if local.err != nil {
			why = fmt.Sprintf("%s (%s: %v; no %s)", why, "127.0.0.1:5432", local.err, EnvURL)
		}
		Unavailable(t, fmt.Sprintf("%s, and a throwaway cluster did not start: %v", why, err))
		return "", ""
	}
	return c.admin, FromInitdb
}

// Unavailable ends a test that cannot have PostgreSQL: skipped, but failed when CI=true.
func Unavailable(t testing.TB, reason string) {
	t.Helper()
	if truthy(os.Getenv(EnvCI)) {
		t.Fatalf("PostgreSQL is required in CI: %s", reason)
		return
	}
	t.Skipf("PostgreSQL unavailable: %s", reason)
}

func truthy(s string) bool {
	switch strings.ToLower(s) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

func ping(dsn string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

// create makes a database on the server admin names. A user who may not create databases gets a schema of its own
// in the admin database instead, made the search_path of the DSN returned.
func create(t testing.TB, admin string, src Source) DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: connect to the %s server: %v", src, err)
	}
	defer conn.Close(ctx)
	name := "maestro_test_" + randomHex(6)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" { // insufficient_privilege
		if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
			t.Fatalf("pgtest: may not create a database (%v), nor a schema: %v", pgErr.Message, err)
		}
		t.Cleanup(func() { drop(t, admin, "DROP SCHEMA IF EXISTS "+name+" CASCADE") })
		return DB{URL: withParam(admin, "search_path", name), Name: name, Source: src}
	}
	if err != nil {
		t.Fatalf("pgtest: create database on the %s server: %v", src, err)
	}
	t.Cleanup(func() { drop(t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	dsn, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return DB{URL: dsn, Name: name, Source: src}
}

func drop(t testing.TB, admin, stmt string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Errorf("pgtest: %s: %v", stmt, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Errorf("pgtest: %s: %v", stmt, err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// withDatabase returns dsn naming database db instead, for both forms of connection string.
func withDatabase(dsn, db string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("server URL: %w", err)
		}
		u.Path = "/" + db
		u.RawPath = ""
		return u.String(), nil
	}
	// key=value: the last setting of a key wins.
	return dsn + " dbname=" + db, nil
}

func withParam(dsn, key, value string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			q := u.Query()
			q.Set(key, value)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " " + key + "=" + value
}
