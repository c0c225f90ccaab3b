package amqp

import "github.com/tradebus/tradebus/transport"

func init() {
	transport.Register("amqp", Open)
	transport.Register("amqps", Open)
}
