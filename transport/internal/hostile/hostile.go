// Package hostile runs the hostile-input scenario of the drivers'
// integration tests (issue 10, "a poison copy can be too big for the
// broker, forever"): a message an outside producer put on a real broker
// with the raw client, legal for the broker but so close to its limits
// that its dead letter — the copy plus the reason and the other poison
// metadata — is not, is rejected by the handler of a consumer running the
// whole tradebus stack (transport, middleware.Default with a claim store
// in PostgreSQL, subscriber.Group). Run checks what users rely on: the
// message is dead-lettered (whole, or slim with the original in the claim
// store), Replay puts the original back (or, when the original itself is
// over the limits, fails and keeps the claim),
// nothing is lost, the next event of its key is handled, and publishing
// on the same transport never fails meanwhile (the size checks
// happen before sending, so no shared connection is broken). Only tests
// import it.
//
// # Concurrency
//
// Run must be called on the test's goroutine; it starts goroutines of its
// own and stops them before it returns.
package hostile

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/middleware/dedup/pgstore"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport"
)

// EnvPostgres names the PostgreSQL the claim store lives in.
const EnvPostgres = "TRADEBUS_TEST_POSTGRES_URL"

// Exchange is the exchange segment of every routing key the scenario uses.
const Exchange = "hostile"

// Group is the consumer group of the rejecting handler; its dead letters
// go to "deadletter.<Group>".
const Group = "risk"

// wait bounds every wait of the scenario: generous, the CI machine is
// slow; nothing waits for it unless something is broken.
const wait = 90 * time.Second

// Claims returns a pgstore.ClaimStore in a table of its own in the
// PostgreSQL of EnvPostgres (skipping the test when it is unset, failing
// it when it is unreachable); the table is dropped at cleanup.
func Claims(t testing.TB) *pgstore.ClaimStore {
	t.Helper()
	url := os.Getenv(EnvPostgres)
	if url == "" {
		t.Skip("set " + EnvPostgres + " to run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		t.Fatalf("postgres at %s unreachable: %v", EnvPostgres, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	table := "tbtest_hostile_" + hex.EncodeToString(b[:])
	cs, err := pgstore.NewClaimStore(pool, pgstore.WithTable(table))
	if err != nil {
		pool.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, `DROP TABLE IF EXISTS `+pgx.Identifier{table}.Sanitize()); err != nil {
			t.Errorf("drop claim table %s: %v", table, err)
		}
		pool.Close()
	})
	if err := cs.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	return cs
}

// Book returns the message package publisher would send for an order
// book of symbol with sequence seq whose JSON body is as close to
// payloadBytes as whole levels allow (at most payloadBytes, at least 300
// bytes).
func Book(t testing.TB, symbol string, seq uint64, payloadBytes int) *message.Message {
	t.Helper()
	pub, err := publisher.New(nopPublisher{}, publisher.WithSource("/hostile/outside-producer"))
	if err != nil {
		t.Fatal(err)
	}
	build := func(levels int) *message.Message {
		msg, err := pub.NewMessage(context.Background(), book(symbol, seq, levels))
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	// Every level has as many digits, so the body grows by the same
	// number of bytes per level.
	one, two := len(build(1).Payload), len(build(2).Payload)
	levels := max(1, 1+(payloadBytes-one)/(two-one))
	msg := build(levels)
	if len(msg.Payload) > payloadBytes && levels > 1 {
		t.Fatalf("book of %d levels has %d bytes, want at most %d", levels, len(msg.Payload), payloadBytes)
	}
	return msg
}

// book returns an order book of symbol with levels levels a side.
func book(symbol string, seq uint64, levels int) events.OrderBook {
	b := events.OrderBook{Exchange: Exchange, Symbol: symbol, Kind: events.BookSnapshot, Sequence: seq,
		Time: time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)}
	for i := range levels {
		b.Bids = append(b.Bids, events.PriceLevel{Price: events.MustDecimal(fmt.Sprintf("%d.12345678", 5_000_000-i)), Amount: events.MustDecimal("1.5")})
		b.Asks = append(b.Asks, events.PriceLevel{Price: events.MustDecimal(fmt.Sprintf("%d.12345678", 5_000_001+i)), Amount: events.MustDecimal("2.5")})
	}
	return b
}

type nopPublisher struct{}

func (nopPublisher) Publish(string, ...*message.Message) error { return nil }
func (nopPublisher) Close() error                              { return nil }

// Scenario is one run: Inject puts Message on the broker with the broker's
// raw client, as an outside producer would (routing key
// Message.Metadata["routingkey"], a book.<Exchange>.<symbol> key).
type Scenario struct {
	Transport *transport.Portable
	Claims    middleware.ClaimStore
	Message   *message.Message
	Inject    func(t testing.TB, msg *message.Message)
	// Slim: the dead letter is expected slim (no body, the original in the
	// claim store); otherwise whole.
	Slim bool
	// OverLimit: the message itself is over the transport's limits, so
	// Replay cannot put it back (it fails with transport.ErrTooLarge and
	// the claim stays); otherwise Replay republishes it to its key.
	OverLimit bool
}

// Result is what Run observed.
type Result struct {
	Dead     middleware.Poisoned
	Payload  []byte            // the original body, from the dead letter or the claim store
	Metadata map[string]string // the original metadata, likewise
}

// Run runs s and checks the outcome (see the package doc); it returns what
// it saw for further checks.
func Run(t *testing.T, s Scenario) Result {
	t.Helper()
	tr := s.Transport
	msg := s.Message
	key := msg.Metadata.Get(events.MetaRoutingKey)
	symbol := msg.Metadata.Get(events.MetaPartitionKey)
	hostileID := msg.Metadata.Get(events.MetaID)
	if key == "" || symbol == "" || hostileID == "" {
		t.Fatalf("hostile message without routing key, partition key or id: %v", msg.Metadata)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*wait)
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)

	reader, err := tr.Subscriber("dlq")
	if err != nil {
		t.Fatal(err)
	}
	stack, err := middleware.Default(tr.Publisher(), middleware.WithConsumerGroup(Group),
		middleware.WithPoisonKept(reader), middleware.WithClaimStore(s.Claims), middleware.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := tr.Subscriber(Group)
	if err != nil {
		t.Fatal(err)
	}
	// Innermost: replayed messages are taken (the handler was "fixed").
	replayed := make(chan *message.Message, 1)
	takeReplayed := func(h message.HandlerFunc) message.HandlerFunc {
		return func(m *message.Message) ([]*message.Message, error) {
			if m.Metadata.Get(middleware.MetaReplayCount) != "" {
				select {
				case replayed <- m.Copy():
				default: // more than one replay: Run reports the first
				}
				return nil, nil
			}
			return h(m)
		}
	}
	group, err := subscriber.NewGroup(sub, append(stack.Middlewares(), takeReplayed)...)
	if err != nil {
		t.Fatal(err)
	}
	handled := make(chan events.OrderBook, 16)
	rejection := "book rejected by risk: " + strings.Repeat("the book is deeper than any venue allows; ", 200)
	err = subscriber.On(group, "book.*."+symbol, func(ctx context.Context, b events.OrderBook) error {
		if env, _ := events.EnvelopeFromContext(ctx); env.ID == hostileID {
			return middleware.Permanent(errors.New(rejection))
		}
		handled <- b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopRun := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- group.Run(runCtx) }()
	defer func() {
		stopRun()
		if err := <-ran; err != nil {
			t.Errorf("group.Run: %v", err)
		}
	}()
	select {
	case <-group.Running():
	case err := <-ran:
		t.Fatalf("group.Run: %v", err)
	case <-ctx.Done():
		t.Fatal("the group did not start")
	}

	// Unrelated publishing on the same transport, all along.
	other := events.Ticker{Exchange: Exchange, Symbol: "OTHER" + symbol, Last: events.MustDecimal("1"), Time: time.Now()}
	pub, err := publisher.New(tr.Publisher(), publisher.WithSource("/hostile/bystander"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		bystander sync.WaitGroup
		stop      = make(chan struct{})
		stopOnce  sync.Once
		mu        sync.Mutex
		sent      int
		failures  []error
	)
	bystander.Add(1)
	go func() {
		defer bystander.Done()
		// Paced, so as not to flood the broker; the checks do not depend
		// on how many publishes overlap the dead-lettering.
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			pctx, pcancel := context.WithTimeout(ctx, wait)
			err := pub.Publish(pctx, other)
			pcancel()
			mu.Lock()
			if err != nil {
				failures = append(failures, err)
			} else {
				sent++
			}
			mu.Unlock()
		}
	}()
	stopBystander := func() {
		stopOnce.Do(func() { close(stop) })
		bystander.Wait()
	}
	defer stopBystander()

	s.Inject(t, msg)
	if err := pub.Publish(ctx, book(symbol, 2, 1)); err != nil {
		t.Fatalf("publish the next event of %s: %v", symbol, err)
	}
	select {
	case b := <-handled:
		if b.Sequence != 2 {
			t.Fatalf("handled book %d, want the next event (2)", b.Sequence)
		}
	case <-time.After(wait):
		t.Fatalf("the key %s stalled: the event after the hostile one was not handled in %s", symbol, wait)
	}

	// Replay reads the dead letter back: its filter checks it (and the
	// claim, before a successful replay deletes it); then the original is
	// put back on its key — the handler takes replayed messages — or, when
	// it is over the transport's limits itself, Replay fails and the dead
	// letter and its claim stay.
	var (
		res  Result
		seen int
	)
	check := func(p middleware.Poisoned) bool {
		seen++
		dl := p.Message
		if p.EventID != hostileID || p.RoutingKey != key || p.Class != middleware.ClassPermanent || p.Group != Group {
			t.Errorf("dead letter: event %s key %s class %s group %s, want %s %s permanent %s", p.EventID, p.RoutingKey, p.Class, p.Group, hostileID, key, Group)
		}
		if len(p.Reason) > middleware.MaxPoisonReasonBytes || !strings.HasPrefix(p.Reason, "book rejected by risk") {
			t.Errorf("reason of %d bytes (bound %d): %.80q…", len(p.Reason), middleware.MaxPoisonReasonBytes, p.Reason)
		}
		res = Result{Dead: p, Payload: dl.Payload, Metadata: dl.Metadata}
		switch {
		case s.Slim:
			if p.Claim == "" || p.Claim != dl.UUID || len(dl.Payload) != 0 {
				t.Errorf("want a slim dead letter with a claim: claim %q, uuid %s, %d payload bytes", p.Claim, dl.UUID, len(dl.Payload))
				return false
			}
			body, md, err := s.Claims.GetClaim(ctx, p.Claim)
			if err != nil {
				t.Errorf("claim %s: %v", p.Claim, err)
				return false
			}
			res.Payload, res.Metadata = body, md
		case p.Claim != "" || p.Dropped != "":
			t.Errorf("want the whole message in the dead letter, got claim %q dropped %q", p.Claim, p.Dropped)
		}
		checkOriginal(t, "dead letter", msg, res.Payload, res.Metadata, !s.Slim)
		return true
	}
	st, err := middleware.Replay(ctx, reader, tr.Publisher(), middleware.WithConsumerGroup(Group),
		middleware.WithClaimStore(s.Claims), middleware.WithReplayFilter(check), middleware.WithReplayLimit(1),
		middleware.WithReplayIdle(wait), middleware.WithLogger(quiet))
	if seen != 1 {
		t.Fatalf("Replay saw %d dead letters, want 1 (stats %+v, error %v)", seen, st, err)
	}
	if s.OverLimit {
		if !errors.Is(err, transport.ErrTooLarge) {
			t.Errorf("Replay of a dead letter whose original is over the limit: %v, want ErrTooLarge", err)
		}
		if _, _, err := s.Claims.GetClaim(ctx, res.Dead.Claim); s.Slim && err != nil {
			t.Errorf("claim after a failed Replay: %v", err)
		}
	} else {
		if err != nil || st.Replayed != 1 {
			t.Fatalf("Replay: %+v, %v", st, err)
		}
		select {
		case m := <-replayed:
			checkOriginal(t, "replayed message", msg, m.Payload, m.Metadata, false)
		case <-time.After(wait):
			t.Fatalf("the replayed message was not handled in %s", wait)
		}
		if _, _, err := s.Claims.GetClaim(ctx, res.Dead.Claim); s.Slim && !errors.Is(err, middleware.ErrClaimNotFound) {
			t.Errorf("claim after Replay: %v, want ErrClaimNotFound", err)
		}
	}

	stopBystander()
	// And after it all, the shared connection still publishes.
	if err := pub.Publish(ctx, other); err != nil {
		t.Errorf("publish after the dead letter: %v", err)
	}
	mu.Lock()
	if len(failures) > 0 {
		t.Errorf("%d of %d unrelated publishes failed while the hostile message was dead-lettered, e.g. %v", len(failures), len(failures)+sent, failures[0])
	}
	mu.Unlock()
	if got := stack.Poison.Published(); got != 1 {
		t.Errorf("%d dead letters published, want 1", got)
	}
	return res
}

// checkOriginal checks that payload and md are msg's body and metadata
// (but for the routing key when skipKey: a dead letter's is the poison
// topic, the original is in MetaPoisonRoutingKey).
func checkOriginal(t *testing.T, what string, msg *message.Message, payload []byte, md map[string]string, skipKey bool) {
	t.Helper()
	if !bytes.Equal(payload, msg.Payload) {
		t.Errorf("%s: body of %d bytes, want the %d injected", what, len(payload), len(msg.Payload))
	}
	for k, v := range msg.Metadata {
		if k == events.MetaRoutingKey && skipKey {
			continue
		}
		if md[k] != v {
			t.Errorf("%s: metadata %q of %d bytes, want %d", what, k, len(md[k]), len(v))
		}
	}
}
