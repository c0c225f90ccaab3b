package projection_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/internal/brokerns"
	"github.com/tradebus/tradebus/projection"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/transport"
	_ "github.com/tradebus/tradebus/transport/all"
	"github.com/tradebus/tradebus/transport/kafka/kafkatest"
)

// historyTransports are the URL schemes of the transports that keep
// history, and the variable naming each broker.
var historyTransports = []struct{ name, env string }{
	{"mem", ""},
	{"kafka", "TRADEBUS_TEST_KAFKA_BROKERS"},
	{"redis", "TRADEBUS_TEST_REDIS_URL"},
	{"nats", "TRADEBUS_TEST_NATS_URL"},
}

// memURL keeps more history than any test here publishes.
const memURL = "mem://?history=200000"

// brokerURL returns the namespaced URL of transport name for one test
// (an embedded Kafka cluster when no external one is named), removing
// what the test creates under the namespace at its end. It skips when the
// broker's variable is unset.
func brokerURL(t testing.TB, name, env string) string {
	t.Helper()
	if name == "mem" {
		return memURL
	}
	raw := os.Getenv(env)
	switch {
	case raw == "" && name == "kafka":
		c := kafkatest.NewCluster(t)
		raw = c.URL()
	case raw == "":
		t.Skipf("set %s to run on %s", env, name)
	case name == "kafka":
		raw = "kafka://" + raw
	}
	ns := brokerns.Unique()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := brokerns.Remove(ctx, raw, ns, nil); err != nil {
			t.Errorf("remove namespace %s: %v", ns, err)
		}
	})
	u, err := brokerns.Apply(raw, ns)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func open(t testing.TB, url string) transport.Transport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := transport.Open(ctx, url)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = tr.Close(ctx)
	})
	return tr
}

// tally is the test projection's state: per symbol, the sequence number
// of the last trade applied and how many were applied, and every trade
// that came out of sequence (applied twice, or after a gap).
type tally struct {
	Last     map[string]int `json:"last"`
	Count    int            `json:"count"`
	Notional events.Decimal `json:"notional"`
	Wrong    []string       `json:"wrong,omitempty"`
}

func newTally() tally { return tally{Last: map[string]int{}} }

func applyTrade(_ context.Context, s *tally, tr events.Trade) error {
	n, err := strconv.Atoi(strings.TrimPrefix(tr.TradeID, "t"))
	if err != nil {
		return err
	}
	if want := s.Last[tr.Symbol] + 1; n != want && len(s.Wrong) < 20 {
		s.Wrong = append(s.Wrong, fmt.Sprintf("%s: trade %d after %d", tr.Symbol, n, want-1))
	}
	s.Last[tr.Symbol] = n
	s.Count++
	v, err := tr.Price.Mul(tr.Amount)
	if err != nil {
		return err
	}
	s.Notional = s.Notional.Add(v)
	return nil
}

const pattern = "trade.#"

func config(store projection.Store) projection.Config[tally, events.Trade] {
	return projection.Config[tally, events.Trade]{
		Name: "tally", Pattern: pattern, Init: newTally, Apply: applyTrade, Store: store,
		SnapshotEvery: 500, StateVersion: 1,
	}
}

var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// trades returns trades from..to-1 of the sequence (16 symbols, round
// robin; each symbol's trades numbered from 1).
func trades(from, to int) []events.Event {
	evs := make([]events.Event, 0, to-from)
	for i := from; i < to; i++ {
		sym := fmt.Sprintf("S%02dUSDT", i%16)
		evs = append(evs, events.Trade{
			Exchange: "binance", Symbol: sym, TradeID: "t" + strconv.Itoa(i/16+1),
			Price:  events.MustDecimal(fmt.Sprintf("%d.%02d", 100+i%7, i%100)),
			Amount: events.MustDecimal("0.25"), Side: events.SideBuy, Time: t0.Add(time.Duration(i) * time.Millisecond),
		})
	}
	return evs
}

// want is the tally of trades 0..n-1.
func want(t testing.TB, n int) tally {
	t.Helper()
	s := newTally()
	for _, ev := range trades(0, n) {
		if err := applyTrade(context.Background(), &s, ev.(events.Trade)); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// publish publishes trades from..to-1 in batches.
func publish(t testing.TB, tr transport.Transport, from, to int) {
	t.Helper()
	pub, err := publisher.New(tr.Publisher())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for i := from; i < to; i += 1000 {
		if err := pub.Publish(ctx, trades(i, min(i+1000, to))...); err != nil {
			t.Fatalf("publish trades %d..: %v", i, err)
		}
	}
}

// waitApplied polls until p has applied n events (generous deadline).
func waitApplied(t testing.TB, p interface{ Applied() uint64 }, n int, errc <-chan error) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for int(p.Applied()) < n {
		select {
		case err := <-errc:
			t.Fatalf("Run returned %v after %d of %d events", err, p.Applied(), n)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("applied %d of %d events in 3 minutes", p.Applied(), n)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not a wait for an outcome
	}
}

// run starts p.Run and returns its result channel; the test's end cancels
// it and checks it returned nil.
func run(t testing.TB, p interface{ Run(context.Context) error }) (context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	return cancel, errc
}

func stop(t testing.TB, cancel context.CancelFunc, errc <-chan error) {
	t.Helper()
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return within a minute of its cancel")
	}
}

func view(p *projection.Projection[tally, events.Trade]) tally {
	var s tally
	p.View(func(st *tally) {
		s = *st
		s.Last = make(map[string]int, len(st.Last))
		for k, v := range st.Last {
			s.Last[k] = v
		}
	})
	return s
}

// requireTally checks got is want: the same counts and sequence, and the
// same notional by value (a snapshot's JSON keeps a decimal's value, not
// its trailing zeros).
func requireTally(t testing.TB, want, got tally, msg string) {
	t.Helper()
	if !want.Notional.Equal(got.Notional) {
		t.Fatalf("%s: notional %s, want %s", msg, got.Notional, want.Notional)
	}
	got.Notional = want.Notional
	require.Equal(t, want, got, msg)
}

// waitCaughtUp waits for p to catch up, failing if Run returns first or
// three minutes pass.
func waitCaughtUp(t testing.TB, p interface{ CaughtUp() <-chan struct{} }, errc <-chan error) {
	t.Helper()
	select {
	case <-p.CaughtUp():
	case err := <-errc:
		t.Fatalf("Run returned %v before catching up", err)
	case <-time.After(3 * time.Minute):
		t.Fatal("not caught up in 3 minutes")
	}
}
