package schema

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestMigrations(t *testing.T) {
	for _, d := range []Dialect{Postgres, SQLite} {
		ms, err := Migrations(d)
		if err != nil {
			t.Fatalf("%s: %v", d.Name, err)
		}
		if len(ms) == 0 || ms[0].Version != 1 || ms[0].Name != "init" {
			t.Fatalf("%s: migrations %+v, want 0001_init first", d.Name, ms)
		}
		for _, m := range ms {
			if strings.Contains(m.SQL, "{{") {
				t.Errorf("%s: %04d_%s keeps a placeholder", d.Name, m.Version, m.Name)
			}
		}
	}
	pg, _ := Migrations(Postgres)
	if !strings.Contains(pg[0].SQL, "applied_at  TIMESTAMPTZ NOT NULL") {
		t.Errorf("postgres: applied_at is not a timestamptz:\n%s", pg[0].SQL)
	}
}

func TestRenderRefuses(t *testing.T) {
	sql := &fstest.MapFile{Data: []byte("CREATE TABLE t (x {{bytes}});")}
	tests := []struct {
		name  string
		files fstest.MapFS
		want  string
	}{
		{"bad name", fstest.MapFS{"migrations/1_init.sql": sql}, "want NNNN_name.sql"},
		{"gap", fstest.MapFS{"migrations/0001_a.sql": sql, "migrations/0003_c.sql": sql}, "without gaps"},
		{"duplicate number", fstest.MapFS{"migrations/0001_a.sql": sql, "migrations/0001_b.sql": sql}, "is taken"},
		{"unknown placeholder", fstest.MapFS{"migrations/0001_a.sql": {Data: []byte("x {{json}}")}}, "no type for {{json}}"},
	}
	for _, tt := range tests {
		_, err := render(tt.files, SQLite)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: render() = %v, want an error with %q", tt.name, err, tt.want)
		}
	}
}
