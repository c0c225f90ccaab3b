package kafka_test

import (
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/transporttest"
)

func TestObservability(t *testing.T) {
	brokers := testBrokers(t)
	transporttest.RunObservability(t, func(t *testing.T, opts ...transport.Option) transport.Transport {
		all := make([]any, 0, len(opts))
		for _, o := range opts {
			all = append(all, o)
		}
		return newTransport(t, brokers, all...)
	}, 30*time.Second)
}
