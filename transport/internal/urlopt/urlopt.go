// Package urlopt holds the URL query-parameter parsing shared by the
// drivers' Open functions: one value per parameter, integers and durations
// (time.ParseDuration syntax), and the defaults of a redelivery backoff
// given by only one of its two parameters.
//
// # Errors
//
// Every error wraps the driver's ErrInvalidOption sentinel passed in as
// invalid, names the parameter and its value, and wraps the parse error.
//
// # Concurrency
//
// Every function is safe for concurrent use.
package urlopt

import (
	"fmt"
	"strconv"
	"time"
)

// Invalid returns an error wrapping invalid and err that names parameter
// name and its value v: "<invalid>: name=\"v\": <err>".
func Invalid(invalid error, name, v string, err error) error {
	return fmt.Errorf("%w: %s=%q: %w", invalid, name, v, err)
}

// Once returns an error wrapping invalid unless parameter name has exactly
// one value in vs.
func Once(invalid error, name string, vs []string) error {
	if len(vs) != 1 {
		return fmt.Errorf("%w: parameter %s given %d times", invalid, name, len(vs))
	}
	return nil
}

// Int parses v, the value of parameter name, as a decimal int.
func Int(invalid error, name, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, Invalid(invalid, name, v, err)
	}
	return n, nil
}

// Int64 parses v, the value of parameter name, as a decimal int64.
func Int64(invalid error, name, v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, Invalid(invalid, name, v, err)
	}
	return n, nil
}

// Duration parses v, the value of parameter name, with time.ParseDuration.
func Duration(invalid error, name, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, Invalid(invalid, name, v, err)
	}
	return d, nil
}

// Backoff completes a redelivery backoff of which the URL gave initial,
// max or both (0 = not given): a missing initial is defInitial, a missing
// max is the larger of defMax and initial. ok is false when neither was
// given: the option is then not set at all.
func Backoff(initial, max, defInitial, defMax time.Duration) (i, m time.Duration, ok bool) {
	if initial == 0 && max == 0 {
		return 0, 0, false
	}
	if initial == 0 {
		initial = defInitial
	}
	if max == 0 {
		max = defMax
		if initial > max {
			max = initial
		}
	}
	return initial, max, true
}

// IntIn parses v, the value of parameter name, as a decimal int in
// [lo, hi]. Out of range (an absurd "buffer=9223372036854775807" included)
// is an error naming the bounds, never a panic or a huge allocation.
func IntIn(invalid error, name, v string, lo, hi int) (int, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, Invalid(invalid, name, v, err)
	}
	if n < int64(lo) || n > int64(hi) {
		return 0, Invalid(invalid, name, v, fmt.Errorf("want %d to %d", lo, hi))
	}
	return int(n), nil
}

// DurationIn parses v, the value of parameter name, with
// time.ParseDuration and checks it is in [lo, hi].
func DurationIn(invalid error, name, v string, lo, hi time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, Invalid(invalid, name, v, err)
	}
	if d < lo || d > hi {
		return 0, Invalid(invalid, name, v, fmt.Errorf("want %s to %s", lo, hi))
	}
	return d, nil
}
