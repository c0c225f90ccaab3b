package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/outbox"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/mem"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// memBus is a mem transport with one subscription to order.# that exists
// before anything is relayed.
func memBus(t *testing.T, opts ...mem.Option) (*transport.Portable, <-chan *message.Message) {
	t.Helper()
	tr, err := mem.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := tr.NewSubscriber("audit")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := sub.Subscribe(ctx, "order.#")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = sub.Close()
		_ = tr.Close(context.Background())
	})
	return tr, ch
}

// runRelay runs a relay until the test ends (or stop is called).
func runRelay(t *testing.T, pool *pgxpool.Pool, pub message.Publisher, ob *outbox.Outbox, opts ...outbox.RelayOption) (r *outbox.Relay, stop func()) {
	t.Helper()
	opts = append([]outbox.RelayOption{outbox.WithOutbox(outbox.WithTable(ob.Table())), outbox.WithRelayLogger(quiet)}, opts...)
	r, err := outbox.NewRelay(pool, pub, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("relay: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return r, stop
}

func storedIDs(t *testing.T, pool *pgxpool.Pool, ob *outbox.Outbox) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), fmt.Sprintf("SELECT event_id FROM %s ORDER BY seq", ob.Table()))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestRelaysCommittedNeverRolledBack(t *testing.T) {
	pool := pgPool(t)
	ob := newOutbox(t, pool)
	tr, ch := memBus(t)
	ctx := context.Background()

	inTx(t, pool, false, func(tx pgx.Tx) error {
		return ob.Publish(ctx, tx, order("BTCUSDT", 1), order("ETHUSDT", 1), order("BTCUSDT", 2))
	})
	inTx(t, pool, true, func(tx pgx.Tx) error {
		return ob.Publish(ctx, tx, order("BTCUSDT", 900), order("SOLUSDT", 901))
	})
	inTx(t, pool, false, func(tx pgx.Tx) error { return ob.Publish(ctx, tx, order("BTCUSDT", 3)) })
	ids := storedIDs(t, pool, ob)
	if len(ids) != 4 {
		t.Fatalf("outbox holds %d events, want the 4 committed", len(ids))
	}

	r, _ := runRelay(t, pool, tr.Publisher(), ob)
	got := receive(t, ch, 4)
	var gotIDs, gotOrders []string
	for _, d := range got {
		gotIDs = append(gotIDs, d.id)
		gotOrders = append(gotOrders, d.clOrdID)
	}
	// The same events (same ids); in order per key (keys are delivered
	// concurrently, so not across keys).
	if !slices.Equal(slices.Sorted(slices.Values(gotIDs)), slices.Sorted(slices.Values(ids))) {
		t.Fatalf("relayed ids %v, want the stored ids %v", gotIDs, ids)
	}
	var btc []string
	for _, o := range gotOrders {
		if strings.HasPrefix(o, "BTCUSDT") {
			btc = append(btc, o)
		}
	}
	if want := []string{"BTCUSDT-000001", "BTCUSDT-000002", "BTCUSDT-000003"}; !slices.Equal(btc, want) || !slices.Contains(gotOrders, "ETHUSDT-000001") {
		t.Fatalf("relayed %v, want BTCUSDT 1, 2, 3 in order and ETHUSDT 1", gotOrders)
	}
	eventually(t, "the outbox is empty", func() bool {
		n, err := r.Pending(ctx)
		return err == nil && n == 0
	})
	// A sentinel committed after everything else: the relay sends in
	// outbox order, so once it arrived nothing else is coming.
	inTx(t, pool, false, func(tx pgx.Tx) error { return ob.Publish(ctx, tx, order("XRPUSDT", 1)) })
	if last := receive(t, ch, 1)[0]; last.clOrdID != "XRPUSDT-000001" {
		t.Fatalf("after the committed events came %q: a rolled-back event was relayed", last.clOrdID)
	}
	eventually(t, "Sent() counts the 5 relayed events", func() bool { return r.Sent() == 5 })
}

func TestPublishRejectsInvalidAndStoresNothing(t *testing.T) {
	pool := pgPool(t)
	ob := newOutbox(t, pool)
	bad := order("BTCUSDT", 2)
	bad.OrderQty = events.MustDecimal("-1")
	inTx(t, pool, false, func(tx pgx.Tx) error {
		err := ob.Publish(context.Background(), tx, order("BTCUSDT", 1), bad)
		var ee *publisher.EventError
		if !errors.As(err, &ee) || ee.Index != 1 || !errors.Is(err, publisher.ErrInvalidEvent) {
			return fmt.Errorf("Publish with an invalid second event: %v, want *EventError index 1", err)
		}
		return nil
	})
	if ids := storedIDs(t, pool, ob); len(ids) != 0 {
		t.Fatalf("stored %d events, want none", len(ids))
	}
}

// Two transactions that publish for one key are serialised: the second
// Publish waits for the first transaction to end, so the key's events are
// relayed in commit order.
func TestPublishLocksTheKeyUntilCommit(t *testing.T) {
	pool := pgPool(t)
	ob := newOutbox(t, pool)
	ctx := context.Background()

	tx1, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx1.Rollback(ctx)
	if err := ob.Publish(ctx, tx1, order("BTCUSDT", 1)); err != nil {
		t.Fatal(err)
	}
	// Another key is not held up.
	inTx(t, pool, false, func(tx pgx.Tx) error { return ob.Publish(ctx, tx, order("ETHUSDT", 1)) })

	tx2, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx2.Rollback(ctx)
	var pid int
	if err := tx2.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	published := make(chan error, 1)
	go func() { published <- ob.Publish(ctx, tx2, order("BTCUSDT", 2)) }()
	eventually(t, "the second transaction waits for the key's lock", func() bool {
		var waiting bool
		err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND locktype = 'advisory' AND NOT granted)", pid).Scan(&waiting)
		return err == nil && waiting
	})
	select {
	case err := <-published:
		t.Fatalf("second Publish returned while the first transaction was open: %v", err)
	default:
	}
	if err := tx1.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	if err := tx2.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, fmt.Sprintf("SELECT payload FROM %s WHERE partition_key = 'BTCUSDT' ORDER BY seq", ob.Table()))
	if err != nil {
		t.Fatal(err)
	}
	payloads, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range payloads {
		o, err := events.Unmarshal[events.Order](p)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, o.ClOrdID)
	}
	if want := []string{"BTCUSDT-000001", "BTCUSDT-000002"}; !slices.Equal(got, want) {
		t.Fatalf("outbox order %v, want commit order %v", got, want)
	}
}

// firstDeliveries checks that, per symbol, the first delivery of each order
// comes in the order the orders were written (n ascending), and returns
// the distinct orders seen.
func firstDeliveries(t *testing.T, got []delivered) map[string]bool {
	t.Helper()
	seen := make(map[string]bool)
	last := make(map[string]string)
	for _, d := range got {
		if seen[d.clOrdID] {
			continue
		}
		seen[d.clOrdID] = true
		if prev := last[d.symbol]; prev != "" && d.clOrdID < prev {
			t.Fatalf("%s delivered after %s", d.clOrdID, prev)
		}
		last[d.symbol] = d.clOrdID
	}
	return seen
}

// Two relays: one leads; when it stops, the other takes over and relays the
// rest, in order per key, nothing lost.
func TestStandbyTakesOver(t *testing.T) {
	pool := pgPool(t)
	ob := newOutbox(t, pool)
	tr, ch := memBus(t)
	ctx := context.Background()
	r1, stop1 := runRelay(t, pool, tr.Publisher(), ob, outbox.WithBatch(16))
	r2, stop2 := runRelay(t, pool, tr.Publisher(), ob, outbox.WithBatch(16))
	eventually(t, "one relay leads", func() bool { return r1.Leading() || r2.Leading() })
	if r1.Leading() && r2.Leading() {
		t.Fatal("both relays lead")
	}
	leader, standby, stopLeader := r1, r2, stop1
	if r2.Leading() {
		leader, standby, stopLeader = r2, r1, stop2
	}
	symbols := []string{"BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"}
	write := func(from, to int) {
		for n := from; n < to; n++ {
			inTx(t, pool, false, func(tx pgx.Tx) error {
				return ob.Publish(ctx, tx, order(symbols[n%4], n))
			})
		}
	}
	write(0, 100)
	got := receive(t, ch, 100)
	stopLeader()
	if leader.Leading() {
		t.Fatal("a stopped relay still says it leads")
	}
	eventually(t, "the standby leads", standby.Leading)
	write(100, 200)
	// The standby resends what the stopped leader sent but had not yet
	// deleted (same ids): receive until every order arrived.
	for n := len(firstDeliveries(t, got)); n < 200; n = len(firstDeliveries(t, got)) {
		got = append(got, receive(t, ch, 200-n)...)
	}
	seen := firstDeliveries(t, got)
	for n := range 200 {
		if id := order(symbols[n%4], n).ClOrdID; !seen[id] {
			t.Fatalf("%s never relayed", id)
		}
	}
	if standby.Sent() == 0 {
		t.Fatal("the standby sent nothing")
	}
}

// An event the transport can never take is moved to the dead-event table;
// the key's later events go on.
func TestBuriesWhatTheBrokerCanNeverTake(t *testing.T) {
	pool := pgPool(t)
	ob := newOutbox(t, pool)
	ctx := context.Background()
	// The broker takes an ordinary order but not one with a 250-byte
	// account.
	enc, err := publisher.New(gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := enc.NewMessage(ctx, order("BTCUSDT", 2))
	if err != nil {
		t.Fatal(err)
	}
	size := len(msg.Payload)
	for k, v := range msg.Metadata {
		size += len(k) + len(v)
	}
	tr, ch := memBus(t, mem.WithMessageLimits(size+100, 0))
	huge := order("BTCUSDT", 1)
	huge.Account = fmt.Sprintf("%0250d", 7)
	inTx(t, pool, false, func(tx pgx.Tx) error {
		return ob.Publish(ctx, tx, huge, order("BTCUSDT", 2))
	})
	r, _ := runRelay(t, pool, tr.Publisher(), ob)
	if got := receive(t, ch, 1)[0]; got.clOrdID != "BTCUSDT-000002" {
		t.Fatalf("relayed %q, want the next order of the key", got.clOrdID)
	}
	eventually(t, "the oversized event is buried", func() bool { return r.Buried() == 1 })
	var reason, clOrdID string
	if err := pool.QueryRow(ctx, fmt.Sprintf("SELECT reason, convert_from(payload, 'UTF8')::jsonb->>'clOrdId' FROM %s_dead", ob.Table())).Scan(&reason, &clOrdID); err != nil {
		t.Fatal(err)
	}
	if clOrdID != "BTCUSDT-000001" || !strings.Contains(reason, "over the limit") {
		t.Fatalf("dead-event table holds %q with reason %q", clOrdID, reason)
	}
}

// Any Watermill publisher works: here a GoChannel, one message at a time.
func TestRelayToAPlainWatermillPublisher(t *testing.T) {
	pool := pgPool(t)
	ob := newOutbox(t, pool)
	gc := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
	defer gc.Close()
	ch, err := gc.Subscribe(context.Background(), "order.binance.BTCUSDT")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	inTx(t, pool, false, func(tx pgx.Tx) error {
		return ob.Publish(ctx, tx, order("BTCUSDT", 1), order("BTCUSDT", 2))
	})
	runRelay(t, pool, gc, ob)
	got := receive(t, ch, 2)
	if got[0].clOrdID != "BTCUSDT-000001" || got[1].clOrdID != "BTCUSDT-000002" {
		t.Fatalf("got %+v", got)
	}
}

func TestOptions(t *testing.T) {
	for _, name := range []string{"", "Outbox", "a-b", "x; DROP TABLE y", string(make([]byte, 60))} {
		if _, err := outbox.New(outbox.WithTable(name)); !errors.Is(err, outbox.ErrInvalidOption) {
			t.Errorf("WithTable(%q): %v", name, err)
		}
	}
	gc := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
	defer gc.Close()
	for _, opt := range []outbox.RelayOption{outbox.WithBatch(0), outbox.WithBatch(5000), outbox.WithPollInterval(0),
		outbox.WithRetryBackoff(0, 1), outbox.WithRelayLogger(nil)} {
		if _, err := outbox.NewRelay(&pgxpool.Pool{}, gc, opt); !errors.Is(err, outbox.ErrInvalidOption) {
			t.Errorf("relay option: %v", err)
		}
	}
}
