package nats_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/tradebus/tradebus/transport/nats"
)

// Open maps URL query parameters to options and rejects the ones it does
// not know before it dials; errors never show the password.
func ExampleOpen() {
	u, _ := url.Parse("nats://app:secret@127.0.0.1:4222?prefix=desk1&max_deliver=5&ackwait=30s")
	_, err := nats.Open(context.Background(), u)
	fmt.Println(errors.Is(err, nats.ErrInvalidOption))
	fmt.Println(err)
	// Output:
	// true
	// nats: open nats://app:xxxxx@127.0.0.1:4222?prefix=desk1&max_deliver=5&ackwait=30s: nats: invalid option: unknown parameter "ackwait"
}
