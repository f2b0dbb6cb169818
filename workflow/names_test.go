package workflow

import (
	"strings"
	"testing"
)

// TestValidLabel holds the table-driven name check to the rule written out: 1-63 lowercase letters, digits and
// '-' (and '_' in task ids), starting and ending with a letter or digit.
func TestValidLabel(t *testing.T) {
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	want := func(s string, underscore bool) bool {
		if len(s) == 0 || len(s) > 63 || !alnum(s[0]) || !alnum(s[len(s)-1]) {
			return false
		}
		for i := 0; i < len(s); i++ {
			if c := s[i]; !alnum(c) && c != '-' && !(underscore && c == '_') {
				return false
			}
		}
		return true
	}
	bases := []string{"a", "ab", "abc", "a-b_c", strings.Repeat("x", 63), strings.Repeat("y", 64)}
	for _, base := range bases {
		for pos := range base {
			for c := 0; c < 256; c++ {
				s := base[:pos] + string([]byte{byte(c)}) + base[pos+1:]
				for _, u := range []bool{false, true} {
					if got := validLabel(s, u); got != want(s, u) {
						t.Fatalf("validLabel(%q, %v) = %v, want %v", s, u, got, !got)
					}
				}
			}
		}
	}
}
