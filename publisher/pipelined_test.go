package publisher_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/transport/driver"
)

// pipeBroker is a transport publisher that pipelines
// (SendMessagesPipelined): it records the order in which batches are
// written and holds each one's confirm until the test releases it.
type pipeBroker struct {
	mu      sync.Mutex
	written []string // partition key + "/" + trade id, in write order
	calls   chan *heldCall
}

func newPipeBroker() *pipeBroker { return &pipeBroker{calls: make(chan *heldCall, 1024)} }

func (b *pipeBroker) Publish(string, ...*message.Message) error { return errors.New("unused") }
func (b *pipeBroker) Close() error                              { return nil }

func (b *pipeBroker) SendMessages(context.Context, []driver.Message) error {
	return errors.New("unused: Async pipelines")
}

func (b *pipeBroker) SendMessagesPipelined(ctx context.Context, msgs []driver.Message) (func() error, error) {
	c := &heldCall{release: make(chan error, 1)}
	for _, m := range msgs {
		ev, err := events.Unmarshal[events.Trade](m.Payload)
		if err != nil {
			return nil, err
		}
		c.keys = append(c.keys, m.PartitionKey+"/"+ev.TradeID)
	}
	b.mu.Lock()
	b.written = append(b.written, c.keys...)
	b.mu.Unlock()
	b.calls <- c
	return func() error {
		select {
		case err := <-c.release:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}, nil
}

// TestAsyncPipelines: on a transport that pipelines, a key's next event
// is written while its last batch still awaits its confirm, by the same
// sender (one: WithSenders(1)), and the results still come in publish
// order when the confirms do not.
func TestAsyncPipelines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newPipeBroker()
		p, err := publisher.New(b)
		require.NoError(t, err)
		var (
			mu       sync.Mutex
			reported []string
		)
		a, err := p.NewAsync(publisher.WithSenders(1), publisher.WithResultFunc(func(r publisher.Result) {
			mu.Lock()
			defer mu.Unlock()
			reported = append(reported, fmt.Sprintf("%s/%v", r.Event.(events.Trade).TradeID, r.Err))
		}))
		require.NoError(t, err)
		ctx := context.Background()
		next := func() *heldCall { t.Helper(); return nextCall(t, b.calls, "no batch written") }

		require.NoError(t, a.Publish(ctx, tradeN("A", 0)))
		a0 := next()
		require.Equal(t, []string{"A/0"}, a0.keys)
		require.NoError(t, a.Publish(ctx, tradeN("A", 1)))
		a1 := next() // A/0 is not confirmed yet
		require.Equal(t, []string{"A/1"}, a1.keys)
		require.NoError(t, a.Publish(ctx, tradeN("A", 2)))
		a2 := next()

		a2.release <- nil // confirms out of order
		a1.release <- nil
		synctest.Wait()
		mu.Lock()
		require.Empty(t, reported, "A/1 and A/2 wait for A/0's result")
		mu.Unlock()
		a0.release <- errors.New("nacked")
		err = a.Flush(ctx)
		var fe *publisher.FailedError
		require.ErrorAs(t, err, &fe)
		require.Equal(t, 1, fe.Failed)
		require.NoError(t, a.Close(ctx))
		require.Equal(t, []string{"0/publisher: publish 1 events: nacked", "1/<nil>", "2/<nil>"}, reported)
		require.Equal(t, []string{"A/0", "A/1", "A/2"}, b.written)
	})
}

// TestAsyncPipelinedKeyOrder: many keys published from several goroutines
// on a transport that pipelines, confirms released newest first: each key
// is written and reported in publish order, every event once.
func TestAsyncPipelinedKeyOrder(t *testing.T) {
	b := newPipeBroker()
	total := keyOrderRun(t, b, b.calls)

	b.mu.Lock()
	defer b.mu.Unlock()
	requireKeyOrder(t, b.written, total, "written")
}

// syncSender is a transport publisher whose driver does not pipeline:
// SendMessagesPipelined sends and confirms before it returns, with no
// wait; events of key "F" fail.
type syncSender struct{ pipeBroker }

func (b *syncSender) SendMessagesPipelined(_ context.Context, msgs []driver.Message) (func() error, error) {
	for _, m := range msgs {
		if m.PartitionKey == "F" {
			return nil, errors.New("refused")
		}
	}
	return nil, nil
}

// TestAsyncTransportNotPipelining: with no wait from the transport, each
// batch's outcome is the call's.
func TestAsyncTransportNotPipelining(t *testing.T) {
	b := &syncSender{}
	p, err := publisher.New(b)
	require.NoError(t, err)
	res := &results{byID: map[string]error{}}
	a, err := p.NewAsync(publisher.WithResultFunc(res.add))
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, a.Publish(ctx, tradeN("A", 0)))
	require.NoError(t, a.Flush(ctx))
	require.NoError(t, a.Publish(ctx, tradeN("F", 0)))
	var fe *publisher.FailedError
	require.ErrorAs(t, a.Flush(ctx), &fe)
	require.Equal(t, 1, fe.Failed)
	require.ErrorContains(t, fe, "refused")
	require.NoError(t, a.Publish(ctx, tradeN("A", 1)))
	require.NoError(t, a.Close(ctx))
	require.Equal(t, 3, res.n)
}
