package amqp

import "github.com/tradebus/tradebus/transport/driver"

// HeaderFrameSize is the size of dm's AMQP content-header frame as
// SendBatch computes it.
func HeaderFrameSize(dm *driver.Message) int {
	p, err := toPublishing(dm)
	if err != nil {
		panic(err)
	}
	return headerFrameSize(&p)
}
