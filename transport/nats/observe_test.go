package nats_test

import (
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/nats"
	"github.com/tradebus/tradebus/transport/transporttest"
)

func TestObservability(t *testing.T) {
	nc := connect(t)
	transporttest.RunObservability(t, func(t *testing.T, opts ...transport.Option) transport.Transport {
		core := append([]transport.Option{transport.WithCloseTimeout(2 * time.Second)}, opts...)
		return newTransportWith(t, nc, core, nats.WithPrefix(uniquePrefix(t, nc)), nats.WithPullWait(100*time.Millisecond))
	}, 30*time.Second)
}
