package mem

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// Scheme is the URL scheme Open accepts.
const Scheme = "mem"

// Open returns a new Transport configured by a mem:// URL, for example
// mem://?concurrency=64&buffer=1024&overflow=block. The URL has no host,
// user or path. Query parameters map to options:
//
//	concurrency=N                WithConcurrency(N)
//	buffer=N                     WithBuffer(N)
//	overflow=block|fail          WithOverflow(OverflowBlock|OverflowFail)
//	redelivery_backoff=D         WithRedeliveryBackoff(D, max) (Go duration, e.g. 10ms)
//	redelivery_backoff_max=D     WithRedeliveryBackoff(initial, D)
//
// An unknown, repeated or malformed parameter is an error wrapping
// ErrInvalidOption. Every call returns a separate broker. ctx is unused:
// there is nothing to connect to.
func Open(_ context.Context, u *url.URL) (*Transport, error) {
	if u == nil {
		return nil, fmt.Errorf("%w: nil URL", ErrInvalidOption)
	}
	if u.Scheme != Scheme {
		return nil, fmt.Errorf("%w: URL %s: scheme %q, want %q", ErrInvalidOption, u.Redacted(), u.Scheme, Scheme)
	}
	if u.User != nil || u.Host != "" || u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return nil, fmt.Errorf("%w: URL %s: want mem:// or mem://?params (no user, host, path or fragment)",
			ErrInvalidOption, u.Redacted())
	}
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("%w: URL %s: query: %w", ErrInvalidOption, u.Redacted(), err)
	}
	var opts []Option
	backoff, backoffMax := DefaultRedeliveryBackoff, DefaultRedeliveryBackoffMax
	backoffSet := false
	for name, values := range query {
		if len(values) != 1 {
			return nil, fmt.Errorf("%w: URL parameter %q given %d times", ErrInvalidOption, name, len(values))
		}
		v := values[0]
		switch name {
		case "concurrency", "buffer":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("%w: URL parameter %s=%q: not an integer", ErrInvalidOption, name, v)
			}
			if name == "concurrency" {
				opts = append(opts, WithConcurrency(n))
			} else {
				opts = append(opts, WithBuffer(n))
			}
		case "overflow":
			switch v {
			case "block":
				opts = append(opts, WithOverflow(OverflowBlock))
			case "fail":
				opts = append(opts, WithOverflow(OverflowFail))
			default:
				return nil, fmt.Errorf("%w: URL parameter overflow=%q, want block or fail", ErrInvalidOption, v)
			}
		case "redelivery_backoff", "redelivery_backoff_max":
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, fmt.Errorf("%w: URL parameter %s=%q: not a duration", ErrInvalidOption, name, v)
			}
			if name == "redelivery_backoff" {
				backoff = d
			} else {
				backoffMax = d
			}
			backoffSet = true
		default:
			return nil, fmt.Errorf("%w: unknown URL parameter %q", ErrInvalidOption, name)
		}
	}
	if backoffSet {
		opts = append(opts, WithRedeliveryBackoff(backoff, backoffMax))
	}
	return New(opts...)
}
