package digest

import (
	"math"
	"testing"
)

func TestJCS(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   any
		want string
	}{
		{"empty object", object{}, `{}`},
		{"empty list", []string{}, `[]`},
		{"nil list", []string(nil), `[]`},
		{"list keeps order", []string{"b", "a", "b"}, `["b","a","b"]`},
		{"integers", object{{"a", int64(0)}, {"b", int64(-1)}, {"c", int64(math.MaxInt64)}, {"d", 42}},
			`{"a":0,"b":-1,"c":9223372036854775807,"d":42}`},
		{"booleans", object{{"t", true}, {"f", false}}, `{"f":false,"t":true}`},
		{"nested", object{{"z", object{{"b", "1"}, {"a", "2"}}}, {"a", map[string]string{"y": "1", "x": "2"}}},
			`{"a":{"x":"2","y":"1"},"z":{"a":"2","b":"1"}}`},

		// Member order: by UTF-16 code units, not by UTF-8 bytes or code points.
		{"ascii order", object{{"b", "1"}, {"a", "2"}, {"B", "3"}, {"aa", "4"}, {"", "5"}},
			`{"":"5","B":"3","a":"2","aa":"4","b":"1"}`},
		{"prefix first", object{{"ab", "1"}, {"a", "2"}}, `{"a":"2","ab":"1"}`},
		{"surrogate pair before U+E000", object{{"\ue000", "1"}, {"\U0001F600", "2"}},
			"{\"\U0001F600\":\"2\",\"\ue000\":\"1\"}"},
		{"surrogate pair after U+D7FF", object{{"\U0001F600", "1"}, {"\ud7ff", "2"}},
			"{\"\ud7ff\":\"2\",\"\U0001F600\":\"1\"}"},
		{"latin after ascii", object{{"é", "1"}, {"z", "2"}, {"Z", "3"}}, `{"Z":"3","z":"2","é":"1"}`},
		// The sorting example of RFC 8785, section 3.2.3.
		{"rfc 8785 sorting", object{
			{"\u20ac", "Euro Sign"}, {"\r", "Carriage Return"}, {"\ufb33", "Hebrew Letter Dalet With Dagesh"},
			{"1", "One"}, {"\U0001F600", "Emoji: Grinning Face"}, {"\u0080", "Control"},
			{"\u00f6", "Latin Small Letter O With Diaeresis"},
		}, "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With Diaeresis\",\"\u20ac\":\"Euro Sign\",\"\U0001F600\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}"},

		// Strings: only '"', '\\' and U+0000-U+001F are escaped, short forms where JSON has them, else \u00xx in
		// lowercase hex.
		{"quote and backslash", `say "hi" \o/`, `"say \"hi\" \\o/"`},
		{"short escapes", "\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"other controls lowercase hex", "\x00\x01\x0b\x0e\x1a\x1f", `"\u0000\u0001\u000b\u000e\u001a\u001f"`},
		{"slash not escaped", "a/b", `"a/b"`},
		{"html not escaped", "<script>&</script>", `"<script>&</script>"`},
		{"del not escaped", "\x7f", "\"\x7f\""},
		{"c1 control not escaped", "\u0080\u009f", "\"\u0080\u009f\""},
		{"line separators not escaped", "\u2028\u2029", "\"\u2028\u2029\""},
		{"non-ascii as is", "café 中文 \U0001F600 \ue000", "\"café 中文 \U0001F600 \ue000\""},
		// The string example of RFC 8785, section 3.2.2.2.
		{"rfc 8785 strings", "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"/", "\"\u20ac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(appendJCS(nil, tc.in)); got != tc.want {
				t.Errorf("appendJCS(%#v)\n got %s\nwant %s", tc.in, got, tc.want)
			}
		})
	}
}

// TestJCSOrderIndependent: members come out in one order whatever order they were added in.
func TestJCSOrderIndependent(t *testing.T) {
	keys := []string{"b", "a", "\ue000", "\U0001F600", "é", "A", "", "aa", "\u20ac", "\ufb33"}
	want := string(appendJCS(nil, buildObject(keys)))
	for i := range keys {
		rotated := append(append([]string{}, keys[i:]...), keys[:i]...)
		if got := string(appendJCS(nil, buildObject(rotated))); got != want {
			t.Errorf("keys added as %q: got %s, want %s", rotated, got, want)
		}
		reversed := make([]string, len(rotated))
		for j, k := range rotated {
			reversed[len(rotated)-1-j] = k
		}
		if got := string(appendJCS(nil, buildObject(reversed))); got != want {
			t.Errorf("keys added as %q: got %s, want %s", reversed, got, want)
		}
	}
}

func buildObject(keys []string) object {
	o := object{}
	for _, k := range keys {
		o.set(k, k)
	}
	return o
}

func TestLessUTF16(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"a", "b", true},
		{"b", "a", false},
		{"a", "a", false},
		{"a", "ab", true},
		{"\U0001F600", "\ue000", true}, // D83D < E000, though F0 > EE in UTF-8
		{"\ue000", "\U0001F600", false},
		{"\uffff", "\U00010000", false}, // FFFF > D800
		{"z", "é", true},
	} {
		if got := lessUTF16(tc.a, tc.b); got != tc.want {
			t.Errorf("lessUTF16(%q, %q) = %t, want %t", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestPlainPrefix compares the word-at-a-time scan with a byte loop, for every byte value at every position of
// strings around the word size.
func TestPlainPrefix(t *testing.T) {
	byteLoop := func(s string) int {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
				return i
			}
		}
		return len(s)
	}
	for n := range 20 {
		for pos := range n {
			for c := range 256 {
				for _, fill := range []byte{'a', 0x7f, 0x80, 0xff, 0x21, 0x5d, 0x1f + 0x20} {
					b := make([]byte, n)
					for i := range b {
						b[i] = fill
					}
					b[pos] = byte(c)
					if got, want := plainPrefix(string(b)), byteLoop(string(b)); got != want {
						t.Fatalf("plainPrefix(%q) = %d, want %d", b, got, want)
					}
				}
			}
		}
	}
}
