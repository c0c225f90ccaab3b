package kafka

import "github.com/tradebus/tradebus/transport"

func init() {
	transport.Register(Scheme, Open)
}
