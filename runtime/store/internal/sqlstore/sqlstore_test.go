package sqlstore

import (
	"errors"
	"testing"
	"time"

	"github.com/maestro-conductor/maestro/runtime/store"
)

func TestIsVersion(t *testing.T) {
	for s, want := range map[string]bool{
		"1.2.3":              true,
		"0.0.0":              true,
		"1.0.0-rc.1":         true,
		"1.0.0+build.7":      true,
		"1.0.0-alpha+exp.sh": true,
		"v1.2.3":             false,
		"1.2":                false,
		"1":                  false,
		"01.2.3":             false,
		"1.2.3-":             false,
		"":                   false,
		"latest":             false,
	} {
		if got := IsVersion(s); got != want {
			t.Errorf("IsVersion(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestConflict(t *testing.T) {
	v := store.Version{Name: "a", Version: "1.0.0", Digest: "sha256:1", TagObject: "t1"}
	for _, tt := range []struct {
		name     string
		stored   store.Version
		conflict bool
	}{
		{"same", v, false},
		{"other digest", store.Version{Name: "a", Version: "1.0.0", Digest: "sha256:2", TagObject: "t1"}, true},
		{"other tag object", store.Version{Name: "a", Version: "1.0.0", Digest: "sha256:1", TagObject: "t2"}, true},
		{"digest under another version", store.Version{Name: "a", Version: "0.9.0", Digest: "sha256:1", TagObject: "t0"}, true},
	} {
		err := Conflict(v, tt.stored)
		if got := errors.Is(err, store.ErrConflict); got != tt.conflict || (err != nil) != tt.conflict {
			t.Errorf("%s: Conflict() = %v, want conflict %v", tt.name, err, tt.conflict)
		}
	}
}

func TestUTC(t *testing.T) {
	in := time.Date(2025, 10, 27, 10, 0, 0, 123456789, time.FixedZone("MDT", -6*3600))
	got := UTC(in)
	if got.Location() != time.UTC || got.Nanosecond() != 123456000 || !got.Equal(in.Truncate(time.Microsecond)) {
		t.Errorf("UTC(%v) = %v", in, got)
	}
	if !UTC(time.Time{}).IsZero() {
		t.Error("UTC(zero) is not zero")
	}
}

// TestLockKey pins the advisory lock keys: replicas of different maestro versions must agree on them.
func TestLockKey(t *testing.T) {
	if LockKey("us-east") == LockKey("us-west") || LockKey("us-east") == MigrationLockKey {
		t.Error("lock keys collide")
	}
	if got, want := LockKey("us-east"), int64(6171391692354139787); got != want {
		t.Errorf("LockKey(us-east) = %d, want %d", got, want)
	}
	if got, want := MigrationLockKey, int64(-2532566304438038592); got != want {
		t.Errorf("MigrationLockKey = %d, want %d", got, want)
	}
}
