package workflow

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadAll checks the sized read: whatever size the file claimed, the result is exactly what the reader gave.
func TestReadAll(t *testing.T) {
	content := strings.Repeat("0123456789", 1000)
	for _, tc := range []struct {
		name string
		size int64
	}{
		{"size known", int64(len(content))},
		{"file grew after stat", 10},
		{"file shrank after stat", int64(len(content)) * 3},
		{"empty claimed", 0},
		{"size unknown", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// OneByteReader makes every Read short, so the loop and the growth are exercised.
			got, err := readAll(iotest.OneByteReader(strings.NewReader(content)), tc.size)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, []byte(content)) {
				t.Errorf("read %d bytes, want the %d of the file", len(got), len(content))
			}
		})
	}
	boom := errors.New("disk on fire")
	_, err := readAll(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(boom)), 100)
	if !errors.Is(err, boom) {
		t.Errorf("error %v, want the reader's error", err)
	}
}
