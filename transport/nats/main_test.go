package nats_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(envCrashChild) != "" {
		os.Exit(crashChild()) // a consumer process of TestCrashKeepsKeyOrder
	}
	goleak.VerifyTestMain(m,
		// Watermill's suite multiplier forwards messages to a channel the
		// test stops reading: that goroutine, and the one waiting for it to
		// close the channel, block forever by design of the suite.
		goleak.IgnoreAnyFunction("github.com/ThreeDotsLabs/watermill/internal/subscriber.(*multiplier).Subscribe.func2"),
		goleak.IgnoreAnyFunction("github.com/ThreeDotsLabs/watermill/internal/subscriber.(*multiplier).Subscribe.func3"),
	)
}
