package redisstream_test

import (
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/redisstream"
	"github.com/tradebus/tradebus/transport/transporttest"
)

func TestObservability(t *testing.T) {
	c := newClient(t)
	transporttest.RunObservability(t, func(t *testing.T, opts ...transport.Option) transport.Transport {
		return newTransportWith(t, c, opts, redisstream.WithPrefix(uniquePrefix(t, c)), redisstream.WithBlock(200*time.Millisecond))
	}, 30*time.Second)
}
