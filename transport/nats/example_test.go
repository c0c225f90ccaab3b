package nats_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/tradebus/tradebus/transport"
	_ "github.com/tradebus/tradebus/transport/nats" // registers nats:// and tls://
)

// Open maps URL query parameters to options — the core's (concurrency,
// batch, …) and the driver's (prefix, max_deliver, …) — and rejects the
// ones nobody knows before it dials; errors never show the password.
func Example_open() {
	_, err := transport.Open(context.Background(), "nats://app:secret@127.0.0.1:4222?prefix=desk1&max_deliver=5&concurrency=8&ackwait=30s")
	fmt.Println(errors.Is(err, transport.ErrInvalidOption))
	fmt.Println(err)
	// Output:
	// true
	// nats: open nats://app:xxxxx@127.0.0.1:4222?ackwait=30s&max_deliver=5&prefix=desk1: transport: invalid option: unknown parameter "ackwait"
}
