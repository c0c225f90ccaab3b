package amqp

import (
	"context"
	"net/url"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
)

func init() {
	transport.Register("amqp", openEnv)
	transport.Register("amqps", openEnv)
}

// openEnv is Open for transport.Open, with env's logger and TLS
// configuration (for amqps:// URLs) as WithLogger and WithTLSConfig.
func openEnv(ctx context.Context, u *url.URL, env driver.Env) (driver.Driver, error) {
	var opts []Option
	if env.Logger != nil {
		opts = append(opts, WithLogger(env.Logger))
	}
	if env.TLS != nil {
		opts = append(opts, WithTLSConfig(env.TLS))
	}
	return open(ctx, u, opts)
}
