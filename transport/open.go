package transport

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/tradebus/tradebus/transport/mem"
)

// ErrUnknownScheme is wrapped by the error Open returns for a URL whose
// scheme no transport handles.
var ErrUnknownScheme = errors.New("transport: unknown URL scheme")

// ErrInvalidURL is wrapped by the error Open returns for a malformed URL.
var ErrInvalidURL = errors.New("transport: invalid URL")

// Schemes lists the URL schemes Open accepts.
func Schemes() []string {
	return []string{"mem"}
}

// Open opens the transport named by rawURL's scheme:
//
//	mem://                  in-process broker (tests, single-process apps)
//
// Query parameters are the transport's options (see each package's Open).
// Errors never contain the URL's password.
func Open(ctx context.Context, rawURL string) (Transport, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the input, password included: do not wrap it.
		return nil, fmt.Errorf("%w: cannot parse %s", ErrInvalidURL, redact(rawURL))
	}
	if u.Scheme == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: %q is not scheme://… (want one of %s)", ErrInvalidURL, u.Redacted(), strings.Join(Schemes(), ", "))
	}
	switch strings.ToLower(u.Scheme) {
	case "mem":
		return nilIfErr(mem.Open(ctx, u))
	default:
		return nil, fmt.Errorf("%w: %q in %q (want one of %s)", ErrUnknownScheme, u.Scheme, u.Redacted(), strings.Join(Schemes(), ", "))
	}
}

// nilIfErr avoids returning a non-nil interface holding a nil pointer.
func nilIfErr[T Transport](t T, err error) (Transport, error) {
	if err != nil {
		return nil, err
	}
	return t, nil
}

// redact removes anything between "//" and "@" from a string that did not
// parse as a URL, so that a password never reaches an error message.
func redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		if strings.Contains(raw, "@") {
			return "<unparseable URL>"
		}
		return fmt.Sprintf("%q", raw)
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = "xxxxx@" + rest[at+1:]
	}
	return fmt.Sprintf("%q", scheme+"://"+rest)
}
