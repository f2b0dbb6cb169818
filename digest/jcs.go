package digest

import (
	"sort"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The canonical form needs only strings, integers, booleans, arrays and objects with string keys, so maestro carries
// the small subset of RFC 8785 (JSON Canonicalization Scheme) it uses instead of a general encoder: object members
// sorted by the UTF-16 code units of their names, no whitespace, strings escaped as ECMAScript's JSON.stringify does,
// integers in plain decimal. See docs/digest.md.

// rawJSON is a value already in canonical form.
type rawJSON []byte

// object is a JSON object under construction; members may be added in any order.
type object []member

type member struct {
	key   string
	value any // string, int64, bool, []string, object
}

func (o *object) set(key string, value any) { *o = append(*o, member{key, value}) }

// appendJCS appends the canonical encoding of v to b.
func appendJCS(b []byte, v any) []byte {
	switch v := v.(type) {
	case string:
		return appendString(b, v)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case bool:
		return strconv.AppendBool(b, v)
	case []string:
		b = append(b, '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		return append(b, ']')
	case rawJSON:
		return append(b, v...)
	case object:
		sortMembers(v)
		b = append(b, '{')
		for i, m := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, m.key)
			b = append(b, ':')
			b = appendJCS(b, m.value)
		}
		return append(b, '}')
	case map[string]string:
		o := make(object, 0, len(v))
		for k, s := range v {
			o = append(o, member{k, s})
		}
		return appendJCS(b, o)
	}
	panic("digest: no canonical form for this type") // unreachable: only this package builds values
}

func sortMembers(o object) {
	sort.Slice(o, func(i, j int) bool { return lessUTF16(o[i].key, o[j].key) })
}

// lessUTF16 orders strings by their UTF-16 code units, as RFC 8785 requires.
func lessUTF16(a, b string) bool {
	if isASCII(a) && isASCII(b) {
		return a < b
	}
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := 0; i < len(ua) && i < len(ub); i++ {
		if ua[i] != ub[i] {
			return ua[i] < ub[i]
		}
	}
	return len(ua) < len(ub)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

const hexDigits = "0123456789abcdef"

// appendString escapes as ECMAScript's JSON.stringify: only '"', '\\' and control characters are escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	i := plainPrefix(s)
	b = append(b, s[:i]...)
	if i == len(s) {
		return append(b, '"')
	}
	start := i
	for ; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plainPrefix returns the length of s's longest prefix that needs no escaping. It tests eight bytes at a time, with
// the word tricks of "Bit Twiddling Hacks": (v-ones)&^v&highs is not zero exactly when some byte of v is zero, and
// (x-c*ones)&^x&highs exactly when some byte of x is below c (for c <= 0x80); a word that may hold a byte to escape
// is then looked at byte by byte.
func plainPrefix(s string) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := s[i : i+8]
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		q, bs := x^('"'*ones), x^('\\'*ones)
		if ((x-0x20*ones)&^x|(q-ones)&^q|(bs-ones)&^bs)&highs != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			break
		}
	}
	return i
}
