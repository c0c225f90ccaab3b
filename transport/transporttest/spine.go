package transporttest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
)

// portableTransport is a transport on the portable core (a
// *transport.Portable, or a test's type embedding one).
type portableTransport interface {
	transport.Transport
	Driver() driver.Driver
}

// portable returns the transport if it runs on the portable core, or skips
// the subtest: these cases check the contract every driver gets from
// transport.New.
func (e *env) portable() portableTransport {
	p, ok := e.tr.(portableTransport)
	if !ok {
		e.t.Skipf("%T does not run on the portable core (transport.New)", e.tr)
	}
	return p
}

// testInvalidGroup: a group name ValidateGroup rejects gives a nil
// Subscriber (not an interface holding a nil pointer) and ErrInvalidGroup;
// after Close, Subscriber gives ErrClosed.
func testInvalidGroup(e *env) {
	e.portable()
	long := strings.Repeat("g", transport.MaxGroupLen+1)
	for _, g := range []string{"", "a.b", "a:b", "a b", "a*", "a>", "-a", "_a", "ä", long} {
		sub, err := e.tr.Subscriber(g)
		if !errors.Is(err, transport.ErrInvalidGroup) {
			e.t.Errorf("Subscriber(%q): %v, want an error wrapping transport.ErrInvalidGroup", g, err)
		}
		if sub != nil {
			e.t.Errorf("Subscriber(%q) returned a non-nil %T with its error", g, sub)
		}
	}
	for _, g := range []string{"risk", "risk-1", "risk_1", "R1", strings.Repeat("g", transport.MaxGroupLen)} {
		sub, err := e.tr.Subscriber(g)
		if err != nil {
			e.t.Errorf("Subscriber(%q): %v", g, err)
			continue
		}
		_ = sub.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.caps.Timeout)
	defer cancel()
	if err := e.tr.Close(ctx); err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	if sub, err := e.tr.Subscriber("risk"); !errors.Is(err, transport.ErrClosed) || sub != nil {
		e.t.Errorf("Subscriber after Close: %v, %v; want nil and transport.ErrClosed", sub, err)
	}
	msg := newMessage("BTCUSDT", "x")
	msg.SetContext(ctx)
	if err := e.tr.Publisher().Publish(events.Key(e.kind, "venue", "BTCUSDT"), msg); !errors.Is(err, transport.ErrClosed) {
		e.t.Errorf("Publish after Close: %v, want transport.ErrClosed", err)
	}
}

// testOptionBounds: the common URL options mean the same with the same
// bounds on every transport; absurd values are errors, not panics or
// unbounded memory.
func testOptionBounds(e *env) {
	e.portable()
	if e.caps.URL == "" {
		e.t.Skip("Capabilities.URL not set: the URL options cannot be checked")
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.caps.Timeout)
	defer cancel()
	with := func(q string) string {
		sep := "?"
		if strings.Contains(e.caps.URL, "?") {
			sep = "&"
		}
		return e.caps.URL + sep + q
	}
	for _, q := range []string{
		"concurrency=0", "concurrency=1000000000", "concurrency=x",
		"batch=0", "batch=9223372036854775807", "batch=99999999999999999999",
		"redelivery_backoff=-1s", "redelivery_backoff=2h", "redelivery_backoff=fast",
		"redelivery_backoff_max=0s", "close_timeout=0s", "close_timeout=87600h",
		"concurrency=1&concurrency=2", "no_such_option=1",
	} {
		tr, err := transport.Open(ctx, with(q))
		if !errors.Is(err, transport.ErrInvalidOption) {
			e.t.Errorf("Open(…?%s): %v, want an error wrapping transport.ErrInvalidOption", q, err)
		}
		if err == nil {
			_ = tr.Close(ctx)
		}
	}
	for _, q := range []string{
		"concurrency=1&batch=1", "concurrency=4096&batch=4096",
		"redelivery_backoff=2s", "redelivery_backoff_max=5ms", "close_timeout=1m",
	} {
		tr, err := transport.Open(ctx, with(q))
		if err != nil {
			e.t.Errorf("Open(…?%s): %v", q, err)
			continue
		}
		if err := tr.Close(ctx); err != nil {
			e.t.Errorf("Close of Open(…?%s): %v", q, err)
		}
	}
}

// testSecondClose: two concurrent Closes both wait for the drain and
// both return nil; a third returns nil at once.
func testSecondClose(e *env) {
	e.portable()
	s := e.subscribe(UniqueName("g"), e.kind+".#")
	e.publish(events.Key(e.kind, "venue", "BTCUSDT"), newMessage("BTCUSDT", "0"))
	held := e.recv(s.ch, "a message")
	ctx, cancel := context.WithTimeout(context.Background(), 2*e.caps.Timeout)
	defer cancel()
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- e.tr.Close(ctx) }()
	}
	select {
	case err := <-errs:
		e.t.Fatalf("a Close returned (%v) while a delivered message was neither acked nor nacked", err)
	case <-time.After(50 * time.Millisecond):
	}
	held.Ack()
	for range 2 {
		select {
		case err := <-errs:
			if err != nil {
				e.t.Errorf("Close: %v", err)
			}
		case <-time.After(e.caps.Timeout):
			e.t.Fatalf("Close did not return %s after the drain", e.caps.Timeout)
		}
	}
	if err := e.tr.Close(ctx); err != nil {
		e.t.Errorf("third Close: %v", err)
	}
	e.waitClosed(s.ch, "after Close")
}

// testPipelinedOrder: one PublishBatch call across many routing keys
// reaches the group whole, each partition key in slice order.
func testPipelinedOrder(e *env) {
	p := e.portable()
	bp, ok := p.Publisher().(transport.BatchPublisher)
	if !ok {
		e.t.Fatalf("%T has no PublishBatch", p.Publisher())
	}
	const nKeys, perKey = 16, 40
	s := e.subscribe(UniqueName("g"), e.kind+".#")
	rec := newRecord()
	var (
		mu   sync.Mutex
		last = map[string]int{}
	)
	e.consume(s, func(msg *message.Message, _ <-chan struct{}) {
		key := msg.Metadata.Get(events.MetaPartitionKey)
		seq, _ := strconv.Atoi(string(msg.Payload))
		mu.Lock()
		if prev, ok := last[key]; ok && seq != prev+1 {
			e.t.Errorf("key %s: %d after %d", key, seq, prev)
		}
		last[key] = seq
		mu.Unlock()
		rec.add(msg)
		msg.Ack()
	})
	msgs := make([]*message.Message, 0, nKeys*perKey)
	for seq := range perKey {
		for i := range nKeys {
			sym := fmt.Sprintf("SYM%d", i)
			msg := newMessage(sym, strconv.Itoa(seq))
			msg.Metadata.Set(events.MetaRoutingKey, events.Key(e.kind, fmt.Sprintf("v%d", i%3), sym))
			msgs = append(msgs, msg)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.caps.Timeout)
	defer cancel()
	if err := bp.PublishBatch(ctx, msgs); err != nil {
		e.t.Fatalf("PublishBatch: %v", err)
	}
	e.waitFor(fmt.Sprintf("%d messages", len(msgs)), func() bool { return rec.unique() >= len(msgs) })
	for _, m := range msgs {
		if n := rec.count(m.UUID); n != 1 {
			e.t.Errorf("message %s handled %d times", m.UUID, n)
		}
	}
}

// testAsyncOutage: the asynchronous publisher across a broker outage
// (Capabilities.Outage): every event published is reported exactly once;
// Flush and Close count every reported failure; confirmed events arrive,
// in publish order per partition key; and publishing works again after
// the broker is back.
func testAsyncOutage(e *env) {
	p := e.portable()
	if e.caps.Outage == nil {
		if e.caps.OutageSkip != "" {
			e.t.Skip("no outage case: " + e.caps.OutageSkip)
		}
		e.t.Skip("Capabilities.Outage not set: no way to take the broker away")
	}
	// Typed events have fixed kinds: this subtest's are signals of a
	// strategy named after it.
	s := e.subscribe(UniqueName("g"), "signal.venue.*."+e.kind)
	rec := newRecord()
	e.consume(s, func(msg *message.Message, _ <-chan struct{}) { rec.add(msg); msg.Ack() })
	pub, err := publisher.New(p.Publisher())
	if err != nil {
		e.t.Fatal(err)
	}
	var (
		mu        sync.Mutex
		results   = map[string]error{}
		seqOf     = map[string]int{} // event id -> publish sequence
		published int
		counted   int // failures Flush and Close reported
	)
	a, err := pub.NewAsync(publisher.WithSendTimeout(e.caps.Timeout/3), publisher.WithResultFunc(func(r publisher.Result) {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := results[r.ID]; dup {
			e.t.Errorf("event %s reported twice", r.ID)
		}
		results[r.ID] = r.Err
		seq, _ := strconv.Atoi(r.Event.(events.Signal).Reason)
		seqOf[r.ID] = seq
	}))
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*e.caps.Timeout)
	defer cancel()
	publish := func(n int) {
		for i := range n {
			mu.Lock()
			seq := published
			published++
			mu.Unlock()
			ev := events.Signal{
				Exchange: "venue", Symbol: fmt.Sprintf("SYM%d", i%4), Strategy: e.kind,
				Action: events.SignalBuy, Strength: events.MustDecimal("0.5"), Time: time.Now(), Reason: strconv.Itoa(seq),
			}
			if err := a.Publish(ctx, ev); err != nil {
				e.t.Fatalf("Async.Publish: %v", err)
			}
		}
	}
	// flush returns Flush's (or Close's) error, counting the failures
	// it reports.
	flush := func(f func(context.Context) error) error {
		err := f(ctx)
		var fe *publisher.FailedError
		if errors.As(err, &fe) {
			mu.Lock()
			counted += fe.Failed
			mu.Unlock()
		} else if err != nil {
			e.t.Fatalf("Flush: %v, want nil or a *publisher.FailedError", err)
		}
		return err
	}
	publish(20)
	if err := flush(a.Flush); err != nil {
		e.t.Fatalf("Flush before the outage: %v", err)
	}
	restore := e.caps.Outage(e.t)
	publish(20)
	_ = flush(a.Flush) // some may fail, some may be stored before the cut bit
	restore()
	e.waitFor("publishing to work again after the outage", func() bool {
		publish(1)
		return flush(a.Flush) == nil
	})
	if err := flush(a.Close); err != nil {
		e.t.Errorf("Close: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(results) != published {
		e.t.Errorf("%d events reported, %d published", len(results), published)
	}
	confirmed, failed := 0, 0
	for id, err := range results {
		if err != nil {
			failed++
			continue
		}
		confirmed++
		e.waitFor("confirmed event "+id+" to arrive", func() bool { return rec.count(id) > 0 })
	}
	if failed != counted {
		e.t.Errorf("%d events reported failed, Flush and Close counted %d", failed, counted)
	}
	// Per partition key, the first arrivals of confirmed events follow
	// their publish order (Async does not retry: a failed event leaves a
	// gap, never a reordering).
	last := map[string]int{}
	seen := map[string]bool{}
	for _, msg := range rec.snapshot() {
		if err, ok := results[msg.UUID]; !ok || err != nil || seen[msg.UUID] {
			continue
		}
		seen[msg.UUID] = true
		key, seq := msg.Metadata.Get(events.MetaPartitionKey), seqOf[msg.UUID]
		if prev, ok := last[key]; ok && seq < prev {
			e.t.Errorf("key %s: event %d arrived after %d", key, seq, prev)
		}
		last[key] = seq
	}
	e.t.Logf("%d events reported, %d confirmed, %d failed", len(results), confirmed, failed)
}
