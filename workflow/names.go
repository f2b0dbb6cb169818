package workflow

// Names are checked by hand rather than with regular expressions: every task id of every file goes through them.

// ValidName reports whether s can name a workflow or tenant: 1-63 lowercase letters, digits and '-', starting and
// ending with a letter or digit (a DNS label).
func ValidName(s string) bool { return validName(s) }

func validName(s string) bool { return validLabel(s, false) }

// validTaskID is validName that also allows '_' inside.
func validTaskID(s string) bool { return validLabel(s, true) }

func validLabel(s string, underscore bool) bool {
	if len(s) == 0 || len(s) > 63 || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	allowed := uint8(labelChar)
	if underscore {
		allowed |= labelUnderscore
	}
	for i := 1; i < len(s)-1; i++ {
		if labelChars[s[i]]&allowed == 0 {
			return false
		}
	}
	return true
}

// labelChars classifies the characters of names: lowercase letters, digits and '-' are labelChar, '_' is
// labelUnderscore.
var labelChars = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = labelChar
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = labelChar
	}
	t['-'] = labelChar
	t['_'] = labelUnderscore
	return t
}()

const (
	labelChar = 1 << iota
	labelUnderscore
)

// validParamName reports whether s is 1-64 letters, digits and '_', not starting with a digit.
func validParamName(s string) bool {
	if len(s) == 0 || len(s) > 64 || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
