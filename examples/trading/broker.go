package main

import (
	"context"
	"net/url"
	"time"

	"github.com/tradebus/tradebus/transport"
)

// openBroker opens the transport named by raw and returns a func that
// closes it (and anything started for it).
func openBroker(ctx context.Context, raw string) (*broker, func(), error) {
	tr, err := transport.Open(ctx, raw)
	if err != nil {
		return nil, nil, err
	}
	name := raw
	if u, err := url.Parse(raw); err == nil {
		name = u.Scheme
	}
	closeFn := func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tr.Close(cctx)
	}
	return &broker{Transport: tr, Name: name}, closeFn, nil
}
