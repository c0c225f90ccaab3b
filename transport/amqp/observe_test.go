package amqp_test

import (
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/transporttest"
)

func TestObservability(t *testing.T) {
	e := newEnv(t)
	transporttest.RunObservability(t, func(t *testing.T, opts ...transport.Option) transport.Transport {
		all := []any{transport.WithCloseTimeout(time.Second)}
		for _, o := range opts {
			all = append(all, o)
		}
		return e.transport(t, all...)
	}, 30*time.Second)
}
