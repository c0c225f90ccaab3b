package redisstream

import (
	"context"
	"net/url"

	"github.com/tradebus/tradebus/transport"
)

func init() {
	open := func(ctx context.Context, u *url.URL) (transport.Transport, error) {
		t, err := Open(ctx, u)
		if err != nil {
			return nil, err
		}
		return t, nil
	}
	transport.RegisterTransport("redis", open)
	transport.RegisterTransport("rediss", open)
}
