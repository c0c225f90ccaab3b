package mem_test

import (
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/mem"
	"github.com/tradebus/tradebus/transport/transporttest"
)

func TestObservability(t *testing.T) {
	transporttest.RunObservability(t, func(t *testing.T, opts ...transport.Option) transport.Transport {
		return newMem(t, mem.WithTransportOptions(opts...))
	}, 10*time.Second)
}
