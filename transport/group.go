package transport

import "fmt"

// MaxGroupLen is the longest consumer group name ValidateGroup accepts.
const MaxGroupLen = 100

// ValidateGroup checks a consumer group name. The rule is the intersection
// of what every broker accepts as a queue, consumer group, durable
// consumer and stream group name, so that a name valid on one transport is
// valid on all: 1 to MaxGroupLen characters of ASCII letters, digits, '-'
// and '_', starting with a letter or digit. The error wraps
// ErrInvalidGroup and names the offending character.
func ValidateGroup(group string) error {
	if group == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidGroup)
	}
	if len(group) > MaxGroupLen {
		return fmt.Errorf("%w: %q is %d bytes, longer than %d", ErrInvalidGroup, group, len(group), MaxGroupLen)
	}
	for i := 0; i < len(group); i++ {
		c := group[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case (c == '-' || c == '_') && i > 0:
		default:
			return fmt.Errorf("%w: %q: character %q at %d (want letters, digits, '-' and '_', starting with a letter or digit)",
				ErrInvalidGroup, group, c, i)
		}
	}
	return nil
}
