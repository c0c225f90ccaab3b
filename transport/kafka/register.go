package kafka

import (
	"context"
	"net/url"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
)

func init() {
	transport.Register(Scheme, openEnv)
}

// openEnv is Open for transport.Open, with env's logger and TLS
// configuration as WithLogger and WithTLS (after the URL's options).
func openEnv(ctx context.Context, u *url.URL, env driver.Env) (driver.Driver, error) {
	var opts []Option
	if env.Logger != nil {
		opts = append(opts, WithLogger(env.Logger))
	}
	if env.TLS != nil {
		opts = append(opts, WithTLS(env.TLS))
	}
	d, err := openDriver(ctx, u, opts)
	if err != nil {
		return nil, err // never a non-nil interface holding a nil pointer
	}
	return d, nil
}
