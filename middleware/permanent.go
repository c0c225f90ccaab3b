package middleware

import (
	"errors"
	"fmt"
)

// ErrPermanent marks an error that retrying cannot fix: a message that cannot be
// decoded, an event that fails validation, a business rule that rejects the
// event for good. The retry middleware never retries an error for which
// errors.Is(err, ErrPermanent) holds; the poison middleware dead-letters it at once.
var ErrPermanent = errors.New("middleware: permanent error")

// ErrInvalidOption is wrapped by every error a constructor of this package (and
// of its store sub-packages) returns for an invalid option.
var ErrInvalidOption = errors.New("middleware: invalid option")

// permanentError wraps an error so that both errors.Is(err, ErrPermanent) and
// errors.Is(err, original) hold.
type permanentError struct {
	err error
}

func (e *permanentError) Error() string { return e.err.Error() }

// Unwrap exposes both the original error and ErrPermanent to errors.Is / errors.As.
func (e *permanentError) Unwrap() []error { return []error{e.err, ErrPermanent} }

// Permanent marks err as permanent: it is never retried and goes straight to the
// poison queue. errors.Is(Permanent(err), ErrPermanent) and
// errors.Is(Permanent(err), err) both hold, and errors.As still finds typed errors
// inside err. The error text is unchanged. Permanent(nil) returns nil; marking an
// already permanent error returns it as is.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrPermanent) {
		return err
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err (or any error it wraps) is marked permanent.
// IsPermanent(nil) is false.
func IsPermanent(err error) bool {
	return err != nil && errors.Is(err, ErrPermanent)
}

// invalidOption returns an error wrapping ErrInvalidOption that names the option and value.
func invalidOption(option string, value any, why string) error {
	return fmt.Errorf("%w: %s = %v: %s", ErrInvalidOption, option, value, why)
}
