package outbox_test

import (
	"context"
	"log"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/outbox"
	"github.com/tradebus/tradebus/transport"
	_ "github.com/tradebus/tradebus/transport/all"
)

// placeOrder stores an order and its event in one transaction.
func placeOrder(ctx context.Context, pool *pgxpool.Pool, ob *outbox.Outbox, o events.Order) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO orders (id, symbol) VALUES ($1, $2)", o.ClOrdID, o.Symbol)
		if err != nil {
			return err
		}
		return ob.Publish(ctx, tx, o) // sent if and only if the order commits
	})
}

// runRelayExample forwards committed events; run it in one or more processes.
func runRelayExample(ctx context.Context, pool *pgxpool.Pool, tr transport.Transport) error {
	relay, err := outbox.NewRelay(pool, tr.Publisher())
	if err != nil {
		return err
	}
	return relay.Run(ctx) // one relay leads, the others stand by
}

// An order service writes its order and the order's event atomically; a
// relay (here in the same process) sends the event once committed.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	tr, err := transport.Open(ctx, os.Getenv("TRADEBUS_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close(ctx)
	ob, err := outbox.New()
	if err != nil {
		log.Fatal(err)
	}
	if err := ob.CreateTable(ctx, pool); err != nil {
		log.Fatal(err)
	}
	go func() { _ = runRelayExample(ctx, pool, tr) }()
	if err := placeOrder(ctx, pool, ob, events.Order{ /* ... */ }); err != nil {
		log.Fatal(err)
	}
}
