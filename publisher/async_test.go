package publisher_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
		"senders 65":       publisher.WithSenders(65),
		"timeout 0":        publisher.WithSendTimeout(0),
		"nil func":         publisher.WithResultFunc(nil),
		"nil":              nil,
	} {
		_, err := p.NewAsync(opt)
		require.ErrorIs(t, err, publisher.ErrInvalidOption, name)
	}
}

// heldBroker is a batch publisher whose confirms the test gives: every
// PublishBatch call is handed to the test on calls and waits for its
// release (or its ctx). Released batches are stored in release order. It
// counts, per partition key, the batches in flight, and records a
// violation when a key is in two at once.
type heldBroker struct {
	calls chan *heldCall

	mu       sync.Mutex
	inFlight map[string]int
	twice    []string // keys found in two batches in flight
	stored   []string // partition key + "/" + trade id, in storage order
}

type heldCall struct {
	keys    []string // partition key + "/" + trade id of each message
	release chan error
}

func newHeldBroker() *heldBroker {
	return &heldBroker{calls: make(chan *heldCall), inFlight: map[string]int{}}
}

func (b *heldBroker) Publish(string, ...*message.Message) error { return errors.New("unused") }
func (b *heldBroker) Close() error                              { return nil }

func (b *heldBroker) PublishBatch(ctx context.Context, msgs []*message.Message) error {
	c := &heldCall{release: make(chan error, 1)}
	pks := map[string]bool{}
	for _, m := range msgs {
		ev, err := events.Unmarshal[events.Trade](m.Payload)
		if err != nil {
			return err
		}
		pk := m.Metadata.Get(events.MetaPartitionKey)
		pks[pk] = true
		c.keys = append(c.keys, pk+"/"+ev.TradeID)
	}
	b.mu.Lock()
	for pk := range pks {
		if b.inFlight[pk]++; b.inFlight[pk] > 1 {
			b.twice = append(b.twice, pk)
		}
	}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		for pk := range pks {
			b.inFlight[pk]--
		}
		b.mu.Unlock()
	}()
	select {
	case b.calls <- c:
	case <-ctx.Done():
		return ctx.Err()
	}
	var err error
	select {
	case err = <-c.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err == nil {
		b.mu.Lock()
		b.stored = append(b.stored, c.keys...)
		b.mu.Unlock()
	}
	return err
}

// TestAsyncBatchesInFlight: batches of different keys are in flight at
// once, up to WithSenders of them; a key whose batch is in flight is in no
// other batch until that one is confirmed, its queued events then going
// out together, in order.
func TestAsyncBatchesInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newHeldBroker()
		p, err := publisher.New(b)
		require.NoError(t, err)
		res := &results{byID: map[string]error{}}
		a, err := p.NewAsync(publisher.WithSenders(3), publisher.WithResultFunc(res.add))
		require.NoError(t, err)
		ctx := context.Background()
		// next is the batch sent next; none: no batch is sent while
		// everything else is blocked.
		next := func() *heldCall { t.Helper(); return nextCall(t, b.calls, "no batch sent") }
		none := func() {
			t.Helper()
			synctest.Wait()
			select {
			case c := <-b.calls:
				t.Fatalf("batch %v sent", c.keys)
			default:
			}
		}

		require.NoError(t, a.Publish(ctx, tradeN("A", 0)))
		a0 := next()
		require.Equal(t, []string{"A/0"}, a0.keys)
		require.NoError(t, a.Publish(ctx, tradeN("B", 0)))
		b0 := next() // while A's batch awaits its confirm
		require.Equal(t, []string{"B/0"}, b0.keys)

		require.NoError(t, a.Publish(ctx, tradeN("A", 1), tradeN("B", 1), tradeN("C", 0), tradeN("A", 2)))
		c0 := next()
		require.Equal(t, []string{"C/0"}, c0.keys, "A and B wait for their batches")
		require.NoError(t, a.Publish(ctx, tradeN("D", 0)))
		none() // three batches in flight: WithSenders(3)

		b0.release <- nil
		d0b1 := next()
		require.ElementsMatch(t, []string{"D/0", "B/1"}, d0b1.keys)
		none()
		a0.release <- nil
		a12 := next()
		require.Equal(t, []string{"A/1", "A/2"}, a12.keys)
		for _, c := range []*heldCall{c0, d0b1, a12} {
			c.release <- nil
		}
		require.NoError(t, a.Flush(ctx))
		require.NoError(t, a.Close(ctx))
		require.Equal(t, 7, res.n)
		require.Empty(t, b.twice)
	})
}

// TestAsyncKeyOrderUnderConcurrency: many keys published from several
// goroutines, batches confirmed newest first: no key is ever in two
// batches in flight, each key is stored and reported in publish order,
// every event is reported once.
func TestAsyncKeyOrderUnderConcurrency(t *testing.T) {
	b := newHeldBroker()
	total := keyOrderRun(t, b, b.calls)

	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.twice) > 0 {
		t.Fatalf("%d times a key was in two batches in flight at once, e.g. %s", len(b.twice), b.twice[0])
	}
	requireKeyOrder(t, b.stored, total, "stored")
}

// releaseNewestFirst is a broker: it takes every batch waiting on calls
// and confirms them newest first, until stop, which waits for it to end.
func releaseNewestFirst(calls chan *heldCall) (stop func()) {
	done, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			var held []*heldCall
			select {
			case c := <-calls:
				held = append(held, c)
			case <-quit:
				return
			}
		more:
			for {
				select {
				case c := <-calls:
					held = append(held, c)
				default:
					break more
				}
			}
			for i := len(held) - 1; i >= 0; i-- {
				held[i].release <- nil
			}
		}
	}()
	return func() { close(quit); <-done }
}

// keyOrderRun publishes 100 trades on each of 16 keys from each of 4
// goroutines through an Async (8 senders, batches of 16) on broker, whose
// calls it confirms newest first, closes it, checks that every event was
// reported once and each key's results came in publish order, and returns
// how many it published.
func keyOrderRun(t *testing.T, broker message.Publisher, calls chan *heldCall) int {
	t.Helper()
	stop := releaseNewestFirst(calls)
	defer stop()
	p, err := publisher.New(broker)
	require.NoError(t, err)
	var (
		mu       sync.Mutex
		reported = map[string][]int{}
	)
	res := &results{byID: map[string]error{}}
	a, err := p.NewAsync(publisher.WithSenders(8), publisher.WithBatchSize(16), publisher.WithMaxInFlight(256),
		publisher.WithResultFunc(func(r publisher.Result) {
			res.add(r)
			tr := r.Event.(events.Trade)
			seq, _ := strconv.Atoi(tr.TradeID)
			mu.Lock()
			reported[tr.Symbol] = append(reported[tr.Symbol], seq)
			mu.Unlock()
		}))
	require.NoError(t, err)
	const publishers, keysEach, perKey = 4, 16, 100
	var wg sync.WaitGroup
	for g := range publishers {
		wg.Go(func() {
			for i := range perKey {
				for k := range keysEach {
					if err := a.Publish(context.Background(), tradeN(fmt.Sprintf("P%dK%d", g, k), i)); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, a.Close(context.Background()))
	total := publishers * keysEach * perKey
	require.Equal(t, total, res.n)
	for k, seqs := range reported {
		for i, seq := range seqs {
			require.Equal(t, i, seq, "key %s: results out of order", k)
		}
	}
	return total
}

// requireKeyOrder checks that log holds total "key/seq" entries and each
// key's come in sequence.
func requireKeyOrder(t *testing.T, log []string, total int, what string) {
	t.Helper()
	require.Len(t, log, total)
	last := map[string]int{}
	for _, s := range log {
		pk, seq, _ := strings.Cut(s, "/")
		n, _ := strconv.Atoi(seq)
		if prev, ok := last[pk]; ok && n != prev+1 {
			t.Fatalf("%s: trade %d %s after %d", pk, n, what, prev)
		}
		last[pk] = n
	}
}

// nextCall returns the batch handed to the broker on calls once every
// goroutine of the synctest bubble is blocked, failing t with what if
// there is none.
func nextCall(t *testing.T, calls chan *heldCall, what string) *heldCall {
	t.Helper()
	synctest.Wait()
	select {
	case c := <-calls:
		return c
	default:
		t.Fatal(what)
		return nil
	}
}
