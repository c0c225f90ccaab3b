package outbox_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/internal/pgtest"
	"github.com/tradebus/tradebus/outbox"
)

// pgPool connects to the test PostgreSQL (pgtest.Pool).
func pgPool(t testing.TB) *pgxpool.Pool { return pgtest.Pool(t) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newOutbox returns an Outbox on a fresh table (created, and dropped at the
// end of the test).
func newOutbox(t testing.TB, pool *pgxpool.Pool) *outbox.Outbox {
	t.Helper()
	ob, err := outbox.New(outbox.WithTable(pgtest.Table(t, pool, "tb_outbox_", "_dead")))
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.CreateTable(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	return ob
}

var t0 = time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)

func order(symbol string, n int) events.Order {
	return events.Order{
		Action: events.OrderNew, Exchange: "binance", Symbol: symbol, ClOrdID: fmt.Sprintf("%s-%06d", symbol, n),
		Side: events.SideBuy, OrdType: events.OrdTypeLimit, TimeInForce: events.TimeInForceGTC,
		OrderQty: events.MustDecimal("0.5"), Price: events.MustDecimal("65000"), Account: "acct-1", Time: t0,
	}
}

// inTx runs fn in a transaction and commits it, or rolls it back when
// rollback is set.
func inTx(t testing.TB, pool *pgxpool.Pool, rollback bool, fn func(tx pgx.Tx) error) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(ctx)
		t.Fatal(err)
	}
	if rollback {
		err = tx.Rollback(ctx)
	} else {
		err = tx.Commit(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// delivered is what a consumer saw.
type delivered struct {
	id, clOrdID, symbol string
}

func decodeOrder(t testing.TB, msg *message.Message) delivered {
	t.Helper()
	ev, err := events.Unmarshal[events.Order](msg.Payload)
	if err != nil {
		t.Fatalf("decode %s: %v", msg.UUID, err)
	}
	if msg.Metadata[events.MetaID] != msg.UUID {
		t.Fatalf("message %s carries event id %q", msg.UUID, msg.Metadata[events.MetaID])
	}
	return delivered{id: msg.UUID, clOrdID: ev.ClOrdID, symbol: ev.Symbol}
}

// receive takes n messages from ch, acking them, within a generous deadline.
func receive(t testing.TB, ch <-chan *message.Message, n int) []delivered {
	t.Helper()
	out := make([]delivered, 0, n)
	deadline := time.After(2 * time.Minute)
	for len(out) < n {
		select {
		case msg := <-ch:
			out = append(out, decodeOrder(t, msg))
			msg.Ack()
		case <-deadline:
			t.Fatalf("received %d of %d events", len(out), n)
		}
	}
	return out
}

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
