// Package all registers every tradebus transport driver with
// transport.Open: import it for its side effect when a program should
// accept any broker URL.
//
//	import _ "github.com/tradebus/tradebus/transport/all"
//
// A program that needs one broker imports only that driver's package
// (transport/mem, transport/amqp, transport/kafka, transport/redisstream,
// transport/nats), which links only that broker's client.
package all

import (
	_ "github.com/tradebus/tradebus/transport/amqp"        // amqp://, amqps://
	_ "github.com/tradebus/tradebus/transport/kafka"       // kafka://
	_ "github.com/tradebus/tradebus/transport/mem"         // mem://
	_ "github.com/tradebus/tradebus/transport/nats"        // nats://, tls://
	_ "github.com/tradebus/tradebus/transport/redisstream" // redis://, rediss://
)
