package events

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidRoutingKey is matched (errors.Is) by every routing-key or
// pattern validation error.
var ErrInvalidRoutingKey = errors.New("tradebus: invalid routing key")

// RoutingError names the bad key or pattern and why it was rejected.
type RoutingError struct {
	Key    string // the full key or pattern
	Reason string
}

func (e *RoutingError) Error() string {
	return fmt.Sprintf("tradebus: invalid routing key %q: %s", e.Key, e.Reason)
}

// Unwrap returns ErrInvalidRoutingKey.
func (e *RoutingError) Unwrap() error { return ErrInvalidRoutingKey }

// ValidateSegment reports whether s can be one segment of a routing key:
// not empty, and no '.', '*', '#', '>' or white space.
func ValidateSegment(s string) error {
	if s == "" {
		return &RoutingError{Key: s, Reason: "empty segment"}
	}
	for i := 0; i < len(s); i++ {
		if !segmentASCII[s[i]] {
			return validateSegmentSlow(s)
		}
	}
	return nil
}

// segmentASCII[c] reports whether the byte c is ASCII and may appear in
// a segment (printable, not white space, not '.', '*', '#', '>'), so that
// the common all-ASCII segment is checked without decoding runes. (It has
// 256 entries, false from utf8.RuneSelf on, so that indexing it needs no
// bounds check.)
var segmentASCII = func() (t [256]bool) {
	for c := range utf8.RuneSelf {
		r := rune(c)
		t[c] = r != '.' && r != '*' && r != '#' && r != '>' && !unicode.IsSpace(r) && unicode.IsPrint(r)
	}
	return t
}()

func validateSegmentSlow(s string) error {
	for _, r := range s {
		if r == '.' || r == '*' || r == '#' || r == '>' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return &RoutingError{Key: s, Reason: fmt.Sprintf("illegal character %q in segment", r)}
		}
	}
	return nil
}

// Key joins segments into a routing key. It does not validate; use
// ValidateRoutingKey.
func Key(kind string, segments ...string) string {
	if len(segments) == 0 {
		return kind
	}
	return kind + "." + strings.Join(segments, ".")
}

// Kind returns the first segment of a routing key or pattern.
func Kind(key string) string {
	if i := strings.IndexByte(key, '.'); i >= 0 {
		return key[:i]
	}
	return key
}

// ValidateRoutingKey checks a concrete (wildcard-free) routing key.
func ValidateRoutingKey(key string) error {
	// One pass over the bytes for the common all-ASCII key with non-empty
	// segments; anything else takes the loop below, which says what is
	// wrong.
	start := 0
	for i := 0; i < len(key); i++ {
		if c := key[i]; c == '.' {
			if i == start {
				return validateRoutingKeySlow(key)
			}
			start = i + 1
		} else if !segmentASCII[c] {
			return validateRoutingKeySlow(key)
		}
	}
	if start == len(key) { // "", or a trailing '.'
		return validateRoutingKeySlow(key)
	}
	return nil
}

func validateRoutingKeySlow(key string) error {
	if key == "" {
		return &RoutingError{Key: key, Reason: "empty"}
	}
	for rest := key; ; {
		seg, tail, more := strings.Cut(rest, ".")
		if err := ValidateSegment(seg); err != nil {
			return &RoutingError{Key: key, Reason: err.(*RoutingError).Reason}
		}
		if !more {
			return nil
		}
		rest = tail
	}
}

// ValidatePattern checks a subscription pattern: segments separated by
// '.', where a whole segment may be '*' (exactly one segment) or '#' (zero
// or more segments). The first segment (the kind) must be concrete, because
// several transports map the kind to a topic or stream.
func ValidatePattern(pattern string) error {
	if pattern == "" {
		return &RoutingError{Key: pattern, Reason: "empty pattern"}
	}
	for i, seg := range strings.Split(pattern, ".") {
		if seg == "*" || seg == "#" {
			if i == 0 {
				return &RoutingError{Key: pattern, Reason: "the first segment (kind) must not be a wildcard"}
			}
			continue
		}
		if err := ValidateSegment(seg); err != nil {
			return &RoutingError{Key: pattern, Reason: err.(*RoutingError).Reason}
		}
	}
	return nil
}

// MatchPattern reports whether key matches pattern with RabbitMQ topic
// semantics: '*' matches exactly one segment, '#' zero or more.
func MatchPattern(pattern, key string) bool {
	if pattern == key {
		return true
	}
	// Split into arrays on the stack: no allocation for keys and patterns
	// of up to 16 segments (every transport matches each message).
	var pb, kb [16]string
	return matchSegments(splitDots(pb[:0], pattern), splitDots(kb[:0], key))
}

// splitDots appends the dot-separated segments of s to dst.
func splitDots(dst []string, s string) []string {
	for {
		i := strings.IndexByte(s, '.')
		if i < 0 {
			return append(dst, s)
		}
		dst = append(dst, s[:i])
		s = s[i+1:]
	}
}

func matchSegments(p, k []string) bool {
	for len(p) > 0 {
		switch p[0] {
		case "#":
			// Collapse consecutive '#'.
			for len(p) > 1 && p[1] == "#" {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for i := 0; i <= len(k); i++ {
				if matchSegments(p[1:], k[i:]) {
					return true
				}
			}
			return false
		case "*":
			if len(k) == 0 {
				return false
			}
		default:
			if len(k) == 0 || k[0] != p[0] {
				return false
			}
		}
		p, k = p[1:], k[1:]
	}
	return len(k) == 0
}
