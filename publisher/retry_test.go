package publisher_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"

	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
)

// flakySender is a transport publisher whose SendMessages fails as the
// test says, call by call; it records the ids of every call.
type flakySender struct {
	mu    sync.Mutex
	fail  []func(msgs []driver.Message) error // one per call; nil or past the end: success
	calls [][]string
}

func (f *flakySender) Publish(string, ...*message.Message) error { return errors.New("unused") }
func (f *flakySender) Close() error                              { return nil }

func (f *flakySender) SendMessages(_ context.Context, msgs []driver.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids := make([]string, len(msgs))
	for i := range msgs {
		ids[i] = msgs[i].UUID
	}
	n := len(f.calls)
	f.calls = append(f.calls, ids)
	if n < len(f.fail) && f.fail[n] != nil {
		return f.fail[n](msgs)
	}
	return nil
}

// outage is a failure a resend can fix.
func outage([]driver.Message) error { return errors.New("connection reset") }

func TestRetryResendsSameEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &flakySender{fail: []func([]driver.Message) error{outage, outage}}
		p, err := publisher.New(f, publisher.WithRetry(5, 10*time.Millisecond, 40*time.Millisecond))
		require.NoError(t, err)
		start := time.Now()
		require.NoError(t, p.Publish(context.Background(), trade("BTCUSDT"), trade("ETHUSDT")))
		require.Len(t, f.calls, 3)
		require.Equal(t, f.calls[0], f.calls[1], "a resend carries the same event ids")
		require.Equal(t, f.calls[0], f.calls[2])
		require.Equal(t, 30*time.Millisecond, time.Since(start), "backoff 10ms then 20ms")
	})
}

func TestRetryResendsOnlyWhatFailed(t *testing.T) {
	f := &flakySender{fail: []func([]driver.Message) error{func(msgs []driver.Message) error {
		return &driver.SendError{Failed: map[int]error{1: errors.New("nack"), 2: errors.New("nack")}}
	}}}
	p, err := publisher.New(f, publisher.WithRetry(3, time.Millisecond, time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, p.Publish(context.Background(), trade("A"), trade("B"), trade("C")))
	require.Len(t, f.calls, 2)
	require.Equal(t, f.calls[0][1:], f.calls[1], "only the failed ones, in their order")
}

func TestRetryStopsOnWhatCannotBeFixed(t *testing.T) {
	for _, cause := range []error{transport.ErrTooLarge, transport.ErrClosed, transport.ErrInvalidOption} {
		f := &flakySender{fail: []func([]driver.Message) error{func([]driver.Message) error { return fmt.Errorf("x: %w", cause) }}}
		p, err := publisher.New(f, publisher.WithRetry(5, time.Millisecond, time.Millisecond))
		require.NoError(t, err)
		require.ErrorIs(t, p.Publish(context.Background(), trade("A")), cause)
		require.Len(t, f.calls, 1, "%v is not retried", cause)
	}
	// Without WithRetry nothing is retried.
	f := &flakySender{fail: []func([]driver.Message) error{outage}}
	p, err := publisher.New(f)
	require.NoError(t, err)
	require.Error(t, p.Publish(context.Background(), trade("A")))
	require.Len(t, f.calls, 1)
}

func TestRetryBoundedByCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		down := make([]func([]driver.Message) error, 100)
		for i := range down {
			down[i] = outage
		}
		f := &flakySender{fail: down}
		p, err := publisher.New(f, publisher.WithRetry(100, 10*time.Millisecond, time.Second))
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		err = p.Publish(ctx, trade("A"))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Len(t, f.calls, 4, "attempts at 0, 10, 30, 70 ms; the next wait passes the deadline")
	})
}

// A driver's own timeout (RabbitMQ: 30 s waiting for a connection or a
// confirm) wraps context.DeadlineExceeded; while the caller's ctx is alive
// it is an outage like any other, so a broker restart longer than the
// driver's timeout is still ridden out.
func TestRetryAfterADriverTimeout(t *testing.T) {
	driverTimeout := func([]driver.Message) error {
		return fmt.Errorf("amqp: connection: waiting for a publishing channel: %w", context.DeadlineExceeded)
	}
	f := &flakySender{fail: []func([]driver.Message) error{driverTimeout, driverTimeout}}
	p, err := publisher.New(f, publisher.WithRetry(5, time.Millisecond, time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, p.Publish(context.Background(), trade("A")))
	require.Len(t, f.calls, 3)
}

func TestRetryRejectsBadOptions(t *testing.T) {
	for _, opt := range []publisher.Option{
		publisher.WithRetry(0, time.Millisecond, time.Millisecond),
		publisher.WithRetry(101, time.Millisecond, time.Millisecond),
		publisher.WithRetry(3, 0, time.Millisecond),
		publisher.WithRetry(3, time.Second, time.Millisecond),
		publisher.WithRetry(3, time.Millisecond, time.Hour),
	} {
		_, err := publisher.New(&flakySender{}, opt)
		require.ErrorIs(t, err, publisher.ErrInvalidOption)
	}
}
