package middleware

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
)

// runRouter starts a router consuming topic from a GoChannel with h (behind
// mws) as handler "h"; it returns the GoChannel to publish on. Everything is
// closed at the end of the test.
func runRouter(t *testing.T, topic string, h message.NoPublishHandlerFunc, mws ...message.HandlerMiddleware) *gochannel.GoChannel {
	t.Helper()
	gc := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
	r, err := message.NewRouter(message.RouterConfig{CloseTimeout: 5 * time.Second}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	r.AddMiddleware(mws...)
	r.AddConsumerHandler("h", topic, gc, h)
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	<-r.Running()
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
		_ = gc.Close()
	})
	return gc
}

// waitFor polls cond (real time) for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// ackState reports "ack", "nack" or "" for a delivered message.
func ackState(m *message.Message) string {
	select {
	case <-m.Acked():
		return "ack"
	case <-m.Nacked():
		return "nack"
	default:
		return ""
	}
}
