package promote_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/maestro-conductor/maestro/digest"
	"github.com/maestro-conductor/maestro/promote"
)

func TestRecordMessageRoundTrip(t *testing.T) {
	rec := promote.Record{Workflow: "etl", Version: "1.2.0", Digest: digest.Digest("sha256:" + strings.Repeat("0a", 32)),
		Commit: strings.Repeat("c", 40), Frozen: true, Promoter: "release@example.com", KeyID: "SHA256:abc",
		Time: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC), Repository: "git:" + strings.Repeat("d", 40)}
	msg, err := rec.Message()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(msg, "-----BEGIN ") {
		t.Errorf("the message has a line git would take for a signature:\n%s", msg)
	}
	got, err := promote.ParseMessage(msg)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(rec, got); d != "" {
		t.Errorf("ParseMessage(Message()) mismatch (-want +got):\n%s", d)
	}
}

func TestParseMessageRefusesMalformedRecords(t *testing.T) {
	good := `{"workflow":"etl","version":"1.0.0","digest":"sha256:` + strings.Repeat("ab", 32) + `","commit":"c","frozen":true,"promoter":"p","keyId":"k","time":"2026-11-26T12:00:00Z","repository":"git:r"}`
	tests := []struct {
		name, msg string
		noRecord  bool
		says      string
	}{
		{"no record", "Promote etl v1.0.0\n\njust words\n", true, ""},
		{"two records", "x\n\nMaestro-Promotion-Record: " + good + "\nMaestro-Promotion-Record: " + good + "\n", true, "2 records"},
		{"not JSON", "x\n\nMaestro-Promotion-Record: {not json\n", false, "promotion record"},
		{"unknown field", "x\n\nMaestro-Promotion-Record: " + strings.Replace(good, `"frozen"`, `"extra":1,"frozen"`, 1) + "\n", false, "unknown field"},
		{"trailing data", "x\n\nMaestro-Promotion-Record: " + good + " {}\n", false, "trailing data"},
		{"bad digest", "x\n\nMaestro-Promotion-Record: " + strings.Replace(good, "sha256:ab", "md5:ab", 1) + "\n", false, "malformed digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := promote.ParseMessage(tt.msg)
			if err == nil {
				t.Fatal("ParseMessage accepted it")
			}
			if errors.Is(err, promote.ErrNoRecord) != tt.noRecord {
				t.Errorf("errors.Is(err, ErrNoRecord) = %v, want %v (err: %v)", !tt.noRecord, tt.noRecord, err)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
		})
	}
}
