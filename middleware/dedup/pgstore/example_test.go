package pgstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/middleware/dedup/pgstore"
)

// applyFill is a handler body using the inbox pattern: the dedup record and
// the business write share one transaction.
func applyFill(ctx context.Context, pool *pgxpool.Pool, store *pgstore.Store, execID string) error {
	key, _ := middleware.DedupKey(ctx)
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	fresh, err := store.RecordTx(ctx, tx, key, 24*time.Hour)
	if err != nil || !fresh {
		return err // !fresh: already applied by an earlier delivery
	}
	if _, err := tx.Exec(ctx, `UPDATE positions SET qty = qty + 1 WHERE exec_id = $1`, execID); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Configuring the store (New does not touch the database).
func Example() {
	var pool *pgxpool.Pool // pgxpool.New(ctx, url) in a real program
	store, err := pgstore.New(pool, pgstore.WithTable("trading.inbox"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(store.Table(), pgx.Identifier{"trading", "inbox"}.Sanitize())
	_ = applyFill
	// Output: trading.inbox "trading"."inbox"
}
