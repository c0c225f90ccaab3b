package publisher_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/transport/mem"
)

// batchBroker is a batch publisher whose outage and slowness the test
// controls: while down, every batch fails; while gate is non-nil, every
// batch waits for it (or its ctx).
type batchBroker struct {
	mu     sync.Mutex
	down   bool
	gate   chan struct{}
	stored map[string]bool // confirmed message UUIDs
}

func (b *batchBroker) Publish(string, ...*message.Message) error { return errors.New("unused") }
func (b *batchBroker) Close() error                              { return nil }

func (b *batchBroker) PublishBatch(ctx context.Context, msgs []*message.Message) error {
	b.mu.Lock()
	gate, down := b.gate, b.down
	b.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if down {
		return errors.New("broker unreachable")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range msgs {
		b.stored[m.UUID] = true
	}
	return nil
}

// results records every Result by event id.
type results struct {
	mu   sync.Mutex
	byID map[string]error
	n    int
}

func (r *results) add(res publisher.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.byID[res.ID]; dup {
		panic("result reported twice for " + res.ID)
	}
	r.byID[res.ID] = res.Err
	r.n++
}

func tradeN(symbol string, i int) events.Trade {
	tr := trade(symbol)
	tr.TradeID = strconv.Itoa(i)
	return tr
}

// TestAsyncOrderAndResults: every event is confirmed and reported once;
// a consumer receives all of them, each symbol in publish order.
func TestAsyncOrderAndResults(t *testing.T) {
	tr, err := mem.New(mem.WithBuffer(1 << 16))
	require.NoError(t, err)
	defer func() { require.NoError(t, tr.Close(context.Background())) }()
	sub, err := tr.Subscriber("g")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := sub.Subscribe(ctx, "trade.#")
	require.NoError(t, err)

	p, err := publisher.New(tr.Publisher())
	require.NoError(t, err)
	res := &results{byID: map[string]error{}}
	a, err := p.NewAsync(publisher.WithResultFunc(res.add), publisher.WithBatchSize(32), publisher.WithSenders(3))
	require.NoError(t, err)
	const symbols, perSymbol = 16, 200
	for i := range perSymbol {
		for s := range symbols {
			require.NoError(t, a.Publish(context.Background(), tradeN(fmt.Sprintf("SYM%d", s), i)))
		}
	}
	require.NoError(t, a.Flush(context.Background()))
	res.mu.Lock()
	require.Equal(t, symbols*perSymbol, res.n)
	for id, err := range res.byID {
		require.NoError(t, err, id)
	}
	res.mu.Unlock()

	last := map[string]int{}
	for range symbols * perSymbol {
		msg := <-ch
		ev, err := events.Unmarshal[events.Trade](msg.Payload)
		require.NoError(t, err)
		seq, _ := strconv.Atoi(ev.TradeID)
		if prev, ok := last[ev.Symbol]; ok && seq != prev+1 {
			t.Fatalf("%s: trade %d after %d", ev.Symbol, seq, prev)
		}
		last[ev.Symbol] = seq
		msg.Ack()
	}
	require.NoError(t, a.Close(context.Background()))
	require.ErrorIs(t, a.Publish(context.Background(), trade("BTCUSDT")), publisher.ErrClosed)
	require.NoError(t, a.Close(context.Background()), "second Close")
}

// TestAsyncOutage: while the broker is down every event fails and is
// reported; Flush says how many; nothing is reported both ways, nothing
// is unreported, and after the outage publishing goes on.
func TestAsyncOutage(t *testing.T) {
	b := &batchBroker{stored: map[string]bool{}}
	p, err := publisher.New(b)
	require.NoError(t, err)
	res := &results{byID: map[string]error{}}
	a, err := p.NewAsync(publisher.WithResultFunc(res.add))
	require.NoError(t, err)
	publish := func(n int) {
		for i := range n {
			require.NoError(t, a.Publish(context.Background(), tradeN("BTCUSDT", i)))
		}
	}
	publish(100)
	require.NoError(t, a.Flush(context.Background()))

	b.mu.Lock()
	b.down = true
	b.mu.Unlock()
	publish(50)
	err = a.Flush(context.Background())
	var failed *publisher.FailedError
	require.ErrorAs(t, err, &failed)
	require.Equal(t, 50, failed.Failed)

	b.mu.Lock()
	b.down = false
	b.mu.Unlock()
	publish(30)
	require.NoError(t, a.Close(context.Background()))

	res.mu.Lock()
	defer res.mu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Equal(t, 180, res.n, "every event reported once")
	nFailed := 0
	for id, err := range res.byID {
		if err != nil {
			nFailed++
			require.False(t, b.stored[id], "event %s reported failed but stored", id)
		} else {
			require.True(t, b.stored[id], "event %s reported confirmed but not stored", id)
		}
	}
	require.Equal(t, 50, nFailed)
	require.Len(t, b.stored, 130)
}

// TestAsyncBackpressure: Publish waits while MaxInFlight events are
// unconfirmed, until its ctx ends; Close with a deadline fails what is
// stuck and reports it.
func TestAsyncBackpressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &batchBroker{stored: map[string]bool{}, gate: make(chan struct{})}
		p, err := publisher.New(b)
		require.NoError(t, err)
		res := &results{byID: map[string]error{}}
		a, err := p.NewAsync(publisher.WithMaxInFlight(4), publisher.WithResultFunc(res.add))
		require.NoError(t, err)
		for i := range 4 {
			require.NoError(t, a.Publish(context.Background(), tradeN("BTCUSDT", i)))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		err = a.Publish(ctx, tradeN("BTCUSDT", 4))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, time.Second, time.Since(start))

		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		err = a.Close(cctx)
		var failed *publisher.FailedError
		require.ErrorAs(t, err, &failed)
		require.Equal(t, 4, failed.Failed)
		require.Equal(t, 4, res.n)
		require.Empty(t, b.stored)
	})
}

func TestAsyncInvalidEventQueuesNothing(t *testing.T) {
	b := &batchBroker{stored: map[string]bool{}}
	p, err := publisher.New(b)
	require.NoError(t, err)
	a, err := p.NewAsync()
	require.NoError(t, err)
	bad := trade("BTCUSDT")
	bad.Price = events.Decimal{}
	err = a.Publish(context.Background(), trade("BTCUSDT"), bad)
	var evErr *publisher.EventError
	require.ErrorAs(t, err, &evErr)
	require.Equal(t, 1, evErr.Index)
	require.NoError(t, a.Close(context.Background()))
	require.Empty(t, b.stored)
}

func TestAsyncRejectsBadOptions(t *testing.T) {
	p, err := publisher.New(&batchBroker{})
	require.NoError(t, err)
	for name, opt := range map[string]publisher.AsyncOption{
		"in flight 0":      publisher.WithMaxInFlight(0),
		"in flight absurd": publisher.WithMaxInFlight(1 << 40),
		"batch 0":          publisher.WithBatchSize(0),
		"senders 0":        publisher.WithSenders(0),
		"timeout 0":        publisher.WithSendTimeout(0),
		"nil func":         publisher.WithResultFunc(nil),
		"nil":              nil,
	} {
		_, err := p.NewAsync(opt)
		require.ErrorIs(t, err, publisher.ErrInvalidOption, name)
	}
}
