package mem

import (
	"context"
	"fmt"
	"net/url"

	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/internal/urlopt"
)

// Scheme is the URL scheme Open accepts.
const Scheme = "mem"

// Open returns a new in-process broker configured by a mem:// URL, for
// transport.Open: mem://?buffer=1024&overflow=block. The URL has no host,
// user or path. Its own query parameters:
//
//	buffer=N             WithBuffer(N), 1 to MaxBuffer
//	overflow=block|fail  WithOverflow(OverflowBlock|OverflowFail)
//	max_message_bytes=N  WithMessageLimits(N, …)
//	max_header_bytes=N   WithMessageLimits(…, N)
//	history=N            WithHistory(N), 0 to MaxHistory
//
// (transport.Open takes the common ones: concurrency, batch,
// redelivery_backoff, redelivery_backoff_max, close_timeout.) An unknown,
// repeated or malformed parameter is an error wrapping ErrInvalidOption.
// Every call returns a separate broker. ctx is unused: there is nothing to
// connect to.
func Open(_ context.Context, u *url.URL) (driver.Driver, error) {
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
	maxMessage, maxMetadata := 0, 0
	for name, values := range query {
		if err := urlopt.Once(ErrInvalidOption, name, values); err != nil {
			return nil, err
		}
		v := values[0]
		switch name {
		case "buffer":
			n, err := urlopt.IntIn(ErrInvalidOption, name, v, 1, MaxBuffer)
			if err != nil {
				return nil, err
			}
			opts = append(opts, WithBuffer(n))
		case "history":
			n, err := urlopt.IntIn(ErrInvalidOption, name, v, 0, MaxHistory)
			if err != nil {
				return nil, err
			}
			opts = append(opts, WithHistory(n))
		case "overflow":
			switch v {
			case "block":
				opts = append(opts, WithOverflow(OverflowBlock))
			case "fail":
				opts = append(opts, WithOverflow(OverflowFail))
			default:
				return nil, fmt.Errorf("%w: URL parameter overflow=%q, want block or fail", ErrInvalidOption, v)
			}
		case "max_message_bytes", "max_header_bytes":
			n, err := urlopt.IntIn(ErrInvalidOption, name, v, 0, MaxLimitBytes)
			if err != nil {
				return nil, err
			}
			if name == "max_message_bytes" {
				maxMessage = n
			} else {
				maxMetadata = n
			}
		default:
			return nil, fmt.Errorf("%w: unknown URL parameter %q", ErrInvalidOption, name)
		}
	}
	opts = append(opts, WithMessageLimits(maxMessage, maxMetadata))
	d, err := NewDriver(opts...)
	if err != nil {
		return nil, err
	}
	return d, nil
}
