// Package pgstore is a PostgreSQL dedup store for the tradebus dedup
// middleware (middleware.Store), and the inbox pattern: a handler can record
// the message's dedup key in the same transaction as its own business write,
// so that the write and the record commit (or roll back) together.
//
// The table (default "tradebus_inbox", created by CreateTable) has the dedup
// key as primary key and an expiry time; expired rows count as absent and are
// replaced by a new record of the same key. DeleteExpired removes them; call
// it periodically (this package starts no goroutine).
//
// Inbox usage inside a handler behind the dedup middleware:
//
//	key, _ := middleware.DedupKey(ctx)
//	tx, err := pool.Begin(ctx)
//	...
//	fresh, err := store.RecordTx(ctx, tx, key, ttl)
//	if !fresh { return tx.Rollback(ctx) } // already applied by an earlier delivery
//	... business write with tx ...
//	return tx.Commit(ctx)
//
// # Delivery semantics
//
// With RecordTx, the effect of a message is applied exactly once per key
// within the TTL, across processes: a concurrent transaction inserting the
// same key waits for the first to commit and then sees the record (fresh =
// false), or, if the first rolled back, records it itself. Times are taken
// from the Go clock (WithClock), not the database's.
//
// # Errors
//
// Methods return pgx errors wrapped with the statement's purpose. New rejects
// a bad option with an error wrapping middleware.ErrInvalidOption.
//
// # Concurrency
//
// A Store is safe for concurrent use when its DB is (a *pgxpool.Pool is; a
// single *pgx.Conn is not).
package pgstore

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tradebus/tradebus/middleware"
)

// DefaultTable is the table name unless WithTable says otherwise.
const DefaultTable = "tradebus_inbox"

// DB is what the store needs from a connection: *pgxpool.Pool, *pgx.Conn and
// pgx.Tx all implement it.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Store is a middleware.Store on PostgreSQL. Its zero value is not usable
// (use New).
type Store struct {
	db    DB
	table string // sanitized identifier
	name  string
	now   func() time.Time

	seenSQL, recordSQL, deleteSQL string
}

var _ middleware.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store) error

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// WithTable sets the table name, optionally schema-qualified ("schema.table");
// each part must be a plain identifier (letters, digits, underscore). Default:
// DefaultTable ("tradebus_inbox").
func WithTable(name string) Option {
	return func(s *Store) error {
		parts := strings.Split(name, ".")
		if len(parts) > 2 {
			return fmt.Errorf("%w: pgstore.WithTable %q: at most schema.table", middleware.ErrInvalidOption, name)
		}
		for _, p := range parts {
			if !identRE.MatchString(p) {
				return fmt.Errorf("%w: pgstore.WithTable %q: %q is not a plain identifier", middleware.ErrInvalidOption, name, p)
			}
		}
		s.name = name
		s.table = pgx.Identifier(parts).Sanitize()
		return nil
	}
}

// WithClock sets the clock that stamps records and decides expiry. Default:
// time.Now. Processes sharing a table should have synchronised clocks.
func WithClock(now func() time.Time) Option {
	return func(s *Store) error {
		if now == nil {
			return fmt.Errorf("%w: pgstore.WithClock: nil clock", middleware.ErrInvalidOption)
		}
		s.now = now
		return nil
	}
}

// New returns a Store on db. It does not touch the database; call
// CreateTable once (or create the table with your migrations, see CreateTable).
func New(db DB, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: pgstore.New: nil db", middleware.ErrInvalidOption)
	}
	s := &Store{db: db, now: time.Now}
	if err := WithTable(DefaultTable)(s); err != nil {
		return nil, err
	}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: pgstore: nil option", middleware.ErrInvalidOption)
		}
		if err := o(s); err != nil {
			return nil, err
		}
	}
	s.seenSQL = `SELECT EXISTS (SELECT 1 FROM ` + s.table + ` WHERE key = $1 AND expires_at > $2)`
	s.recordSQL = `INSERT INTO ` + s.table + ` AS t (key, recorded_at, expires_at) VALUES ($1, $2, $3)
ON CONFLICT (key) DO UPDATE SET recorded_at = EXCLUDED.recorded_at, expires_at = EXCLUDED.expires_at
WHERE t.expires_at <= EXCLUDED.recorded_at`
	s.deleteSQL = `DELETE FROM ` + s.table + ` WHERE expires_at <= $1`
	return s, nil
}

// Table returns the table name as configured.
func (s *Store) Table() string { return s.name }

// CreateTable creates the table and its expiry index if they do not exist:
//
//	CREATE TABLE IF NOT EXISTS tradebus_inbox (
//	    key         text PRIMARY KEY,
//	    recorded_at timestamptz NOT NULL,
//	    expires_at  timestamptz NOT NULL
//	);
//	CREATE INDEX IF NOT EXISTS ... ON tradebus_inbox (expires_at);
func (s *Store) CreateTable(ctx context.Context) error {
	idx := pgx.Identifier{strings.ReplaceAll(s.name, ".", "_") + "_expires_at_idx"}.Sanitize()
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS ` + s.table + ` (key text PRIMARY KEY, recorded_at timestamptz NOT NULL, expires_at timestamptz NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS ` + idx + ` ON ` + s.table + ` (expires_at)`,
	}
	for _, q := range stmts {
		if _, err := s.db.Exec(ctx, q); err != nil {
			return fmt.Errorf("pgstore: create table %s: %w", s.name, err)
		}
	}
	return nil
}

// Seen implements middleware.Store.
func (s *Store) Seen(ctx context.Context, key string) (bool, error) {
	var seen bool
	if err := s.db.QueryRow(ctx, s.seenSQL, key, s.now()).Scan(&seen); err != nil {
		return false, fmt.Errorf("pgstore: look up key: %w", err)
	}
	return seen, nil
}

// Record implements middleware.Store (in its own implicit transaction).
func (s *Store) Record(ctx context.Context, key string, ttl time.Duration) error {
	_, err := s.RecordTx(ctx, s.db, key, ttl)
	return err
}

// RecordTx records key with tx — the caller's transaction, for the inbox
// pattern — and reports whether this call recorded it (true) or a live record
// already existed (false: the message was already applied; roll back and
// skip). If another open transaction recorded the same key, RecordTx waits
// for it to finish. The record becomes visible when tx commits.
func (s *Store) RecordTx(ctx context.Context, tx DB, key string, ttl time.Duration) (bool, error) {
	if tx == nil {
		return false, fmt.Errorf("%w: pgstore.RecordTx: nil tx", middleware.ErrInvalidOption)
	}
	now := s.now()
	tag, err := tx.Exec(ctx, s.recordSQL, key, now, now.Add(ttl))
	if err != nil {
		return false, fmt.Errorf("pgstore: record key: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// DeleteExpired deletes expired records and returns how many.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	tag, err := s.db.Exec(ctx, s.deleteSQL, s.now())
	if err != nil {
		return 0, fmt.Errorf("pgstore: delete expired: %w", err)
	}
	return tag.RowsAffected(), nil
}
