package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradebus/tradebus/internal/pgtest"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/middleware/dedup/pgstore"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// setup connects to TRADEBUS_TEST_POSTGRES_URL and returns a pool and a name
// prefix unique to the test; tables named with it are dropped at the end.
func setup(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	prefix := "tbtest_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		rows, err := pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE $1`, prefix+"%")
		if err == nil {
			var names []string
			names, err = pgx.CollectRows(rows, pgx.RowTo[string])
			for _, n := range names {
				if _, derr := pool.Exec(ctx, `DROP TABLE IF EXISTS `+pgx.Identifier{n}.Sanitize()); derr != nil {
					err = derr
				}
			}
		}
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return pool, prefix
}

func newStore(t *testing.T, pool *pgxpool.Pool, table string, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	s, err := pgstore.New(pool, append([]pgstore.Option{pgstore.WithTable(table)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTable(context.Background()); err != nil { // idempotent
		t.Fatal(err)
	}
	return s
}

func TestSeenRecordExpiry(t *testing.T) {
	pool, prefix := setup(t)
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := newStore(t, pool, prefix+"_inbox", pgstore.WithClock(clk.now))
	if seen, err := s.Seen(ctx, "k"); err != nil || seen {
		t.Fatal(seen, err)
	}
	if err := s.Record(ctx, "k", time.Minute); err != nil {
		t.Fatal(err)
	}
	if seen, _ := s.Seen(ctx, "k"); !seen {
		t.Fatal("not seen")
	}
	// A second record keeps the first (and its expiry).
	if fresh, err := s.RecordTx(ctx, pool, "k", time.Hour); err != nil || fresh {
		t.Fatal(fresh, err)
	}
	clk.add(time.Minute)
	if seen, _ := s.Seen(ctx, "k"); seen {
		t.Fatal("seen after TTL")
	}
	// An expired record is replaced.
	if fresh, err := s.RecordTx(ctx, pool, "k", time.Minute); err != nil || !fresh {
		t.Fatal(fresh, err)
	}
	_ = s.Record(ctx, "old", time.Second)
	clk.add(2 * time.Second)
	if n, err := s.DeleteExpired(ctx); err != nil || n != 1 {
		t.Fatalf("deleted %d: %v", n, err)
	}
}

// The inbox pattern: the dedup record and the business write commit or roll
// back together, and a concurrent duplicate waits for the first transaction.
func TestRecordTxInbox(t *testing.T) {
	pool, prefix := setup(t)
	ctx := context.Background()
	s := newStore(t, pool, prefix+"_inbox")
	fills := pgx.Identifier{prefix + "_fills"}.Sanitize()
	if _, err := pool.Exec(ctx, `CREATE TABLE `+fills+` (exec_id text, qty int)`); err != nil {
		t.Fatal(err)
	}
	count := func() (n int) {
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+fills).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	apply := func(commit bool) bool {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
		fresh, err := s.RecordTx(ctx, tx, "E1", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if !fresh {
			return false
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+fills+` VALUES ('E1', 5)`); err != nil {
			t.Fatal(err)
		}
		if commit {
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		}
		return true
	}
	if !apply(false) { // handler failed after its write: rolled back
		t.Fatal("first attempt not fresh")
	}
	if seen, _ := s.Seen(ctx, "E1"); seen || count() != 0 {
		t.Fatal("rolled-back record visible")
	}
	if !apply(true) || count() != 1 {
		t.Fatal("second attempt not applied")
	}
	if apply(true) || count() != 1 {
		t.Fatal("duplicate applied")
	}

	// Concurrency: tx A records K2 and holds it; tx B blocks until A commits,
	// then sees the record.
	txA, _ := pool.Begin(ctx)
	defer txA.Rollback(ctx) //nolint:errcheck
	if fresh, err := s.RecordTx(ctx, txA, "K2", time.Hour); err != nil || !fresh {
		t.Fatal(fresh, err)
	}
	txB, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer txB.Rollback(ctx) //nolint:errcheck
	var pidB int
	if err := txB.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pidB); err != nil {
		t.Fatal(err)
	}
	res := make(chan bool, 1)
	go func() {
		fresh, err := s.RecordTx(ctx, txB, "K2", time.Hour)
		if err != nil {
			t.Error(err)
		}
		res <- fresh
	}()
	// B waits for A's lock (seen in pg_locks), not merely "has not
	// answered yet".
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
		var waiting bool
		if err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND NOT granted)", pidB).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		select {
		case <-res:
			t.Fatal("B did not wait for A")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("B neither waits for A's lock nor returned")
		}
	}
	if err := txA.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if <-res {
		t.Fatal("B recorded K2 too")
	}
}

// End to end with the dedup middleware: the handler records the key from
// middleware.DedupKey in its own transaction.
func TestDedupMiddlewareInbox(t *testing.T) {
	pool, prefix := setup(t)
	ctx := context.Background()
	s := newStore(t, pool, prefix+"_inbox")
	var applied, calls atomic.Int32
	d, err := middleware.NewDedup(middleware.WithDedupStore(s), middleware.WithConsumerGroup("portfolio"),
		middleware.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	h := d.Middleware(func(msg *message.Message) ([]*message.Message, error) {
		calls.Add(1)
		key, ok := middleware.DedupKey(msg.Context())
		if !ok {
			return nil, errors.New("no dedup key in ctx")
		}
		tx, err := pool.Begin(msg.Context())
		if err != nil {
			return nil, err
		}
		defer tx.Rollback(ctx) //nolint:errcheck
		fresh, err := s.RecordTx(msg.Context(), tx, key, time.Hour)
		if err != nil || !fresh {
			return nil, err
		}
		applied.Add(1)
		return nil, tx.Commit(msg.Context())
	})
	for range 3 {
		m := message.NewMessage("ev-1", nil)
		m.Metadata.Set("id", "ev-1")
		if _, err := h(m); err != nil {
			t.Fatal(err)
		}
	}
	if applied.Load() != 1 || calls.Load() != 1 || d.Stats().Duplicates != 2 {
		t.Fatalf("applied %d calls %d stats %+v", applied.Load(), calls.Load(), d.Stats())
	}
	if seen, _ := s.Seen(ctx, "portfolio/:ev-1"); !seen {
		t.Fatal("key not in table")
	}
}

func TestInvalidOptions(t *testing.T) {
	for _, name := range []string{"", "a.b.c", "x;drop table y", "1abc", "a-b"} {
		if _, err := pgstore.New(fakeDB{}, pgstore.WithTable(name)); !errors.Is(err, middleware.ErrInvalidOption) {
			t.Errorf("table %q: %v", name, err)
		}
	}
	if s, err := pgstore.New(fakeDB{}, pgstore.WithTable("ops.inbox")); err != nil || s.Table() != "ops.inbox" {
		t.Fatal(err)
	}
	if _, err := pgstore.New(nil); !errors.Is(err, middleware.ErrInvalidOption) {
		t.Fatal(err)
	}
	if _, err := pgstore.New(fakeDB{}, pgstore.WithClock(nil)); !errors.Is(err, middleware.ErrInvalidOption) {
		t.Fatal(err)
	}
	if _, err := pgstore.New(fakeDB{}, nil); !errors.Is(err, middleware.ErrInvalidOption) {
		t.Fatal(err)
	}
}

type fakeDB struct{ pgstore.DB }
