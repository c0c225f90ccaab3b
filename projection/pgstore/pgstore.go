// Package pgstore keeps projection snapshots in PostgreSQL (pgx): one row
// per projection with its state, the broker positions of the last event
// that state includes, the count of events applied and the ids of the
// latest (projection.Config.DedupWindow), written in one
// transaction — a reader (a restarted projection) sees the old row or the
// new one whole, never a state with another state's positions. The state
// is stored as the bytes encoding/json made (bytea; read it in SQL with
// convert_from(state, 'UTF8')::json): jsonb would refuse a string holding
// U+0000, and a snapshot that cannot be saved is never saved.
//
// WithTx runs the caller's own writes in that transaction, so a read model
// the service keeps in its tables commits with, and only with, the
// snapshot whose positions it reflects.
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tradebus/tradebus/projection"
	"github.com/tradebus/tradebus/transport"
)

// DefaultTable is the snapshot table's name unless WithTable says
// otherwise.
const DefaultTable = "tradebus_projection_snapshots"

// DB is what the store needs: a *pgxpool.Pool (or *pgx.Conn).
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// TxFunc runs in the transaction that saves snapshot s of projection
// name; an error rolls the whole save back.
type TxFunc func(ctx context.Context, tx pgx.Tx, name string, s projection.Snapshot) error

// Store is a projection.Store in PostgreSQL. It is safe for concurrent use
// when its DB is.
type Store struct {
	db    DB
	table string
	onTx  TxFunc
	q     queries
}

// Option configures a Store.
type Option func(*Store) error

var tableName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// WithTable names the snapshot table (lower-case letters, digits and '_').
// Default DefaultTable.
func WithTable(name string) Option {
	return func(s *Store) error {
		if !tableName.MatchString(name) {
			return fmt.Errorf("%w: table name %q, want [a-z_][a-z0-9_]{0,62}", projection.ErrInvalidOption, name)
		}
		s.table = name
		return nil
	}
}

// WithTx runs fn in every snapshot's transaction, after the snapshot row
// is written and before commit.
func WithTx(fn TxFunc) Option {
	return func(s *Store) error {
		if fn == nil {
			return fmt.Errorf("%w: nil TxFunc", projection.ErrInvalidOption)
		}
		s.onTx = fn
		return nil
	}
}

// New returns a Store on db. Call CreateTable once before use.
func New(db DB, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: nil DB", projection.ErrInvalidOption)
	}
	s := &Store{db: db, table: DefaultTable}
	for _, opt := range opts {
		if err := opt(s); err != nil {
			return nil, err
		}
	}
	s.q = newQueries(s.table)
	return s, nil
}

// Table returns the snapshot table's name.
func (s *Store) Table() string { return s.table }

// CreateTable creates the snapshot table if it does not exist.
func (s *Store) CreateTable(ctx context.Context) error {
	if _, err := s.db.Exec(ctx, s.q.create); err != nil {
		return fmt.Errorf("pgstore: create table %s: %w", s.table, err)
	}
	return nil
}

type queries struct{ create, load, save, del string }

func newQueries(t string) queries {
	return queries{
		create: `CREATE TABLE IF NOT EXISTS ` + t + ` (
	name          text PRIMARY KEY,
	state_version integer NOT NULL,
	state         bytea NOT NULL, -- the JSON as encoded: jsonb refuses \u0000 in a string
	positions     jsonb NOT NULL,
	applied       bigint NOT NULL,
	recent        jsonb NOT NULL,
	saved_at      timestamptz NOT NULL
)`,
		load: `SELECT state_version, state, positions, applied, recent, saved_at FROM ` + t + ` WHERE name = $1`,
		save: `INSERT INTO ` + t + ` (name, state_version, state, positions, applied, recent, saved_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (name) DO UPDATE SET state_version = EXCLUDED.state_version, state = EXCLUDED.state,
	positions = EXCLUDED.positions, applied = EXCLUDED.applied, recent = EXCLUDED.recent, saved_at = EXCLUDED.saved_at`,
		del: `DELETE FROM ` + t + ` WHERE name = $1`,
	}
}

// position is a transport.Position as stored (short JSON names).
type position struct {
	Stream    string `json:"s"`
	Partition int32  `json:"p"`
	Offset    string `json:"o"`
}

// Load implements projection.Store.
func (s *Store) Load(ctx context.Context, name string) (projection.Snapshot, bool, error) {
	var (
		snap projection.Snapshot
		pos  []position
		n    int64
	)
	err := s.db.QueryRow(ctx, s.q.load, name).Scan(&snap.StateVersion, &snap.State, &pos, &n, &snap.Recent, &snap.SavedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return projection.Snapshot{}, false, nil
	}
	if err != nil {
		return projection.Snapshot{}, false, fmt.Errorf("pgstore: load snapshot %s: %w", name, err)
	}
	snap.Applied = uint64(n)
	for _, p := range pos {
		snap.Positions = append(snap.Positions, transport.Position{Stream: p.Stream, Partition: p.Partition, Offset: p.Offset})
	}
	return snap, true, nil
}

// Save implements projection.Store: the row and WithTx's writes in one
// transaction.
func (s *Store) Save(ctx context.Context, name string, snap projection.Snapshot) error {
	pos := make([]position, len(snap.Positions))
	for i, p := range snap.Positions {
		pos[i] = position{p.Stream, p.Partition, p.Offset}
	}
	posJSON, err := json.Marshal(pos)
	if err != nil {
		return fmt.Errorf("pgstore: save snapshot %s: %w", name, err)
	}
	recent := snap.Recent
	if recent == nil {
		recent = []string{}
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, s.q.save, name, snap.StateVersion, snap.State, posJSON,
			int64(snap.Applied), recent, snap.SavedAt); err != nil {
			return fmt.Errorf("pgstore: save snapshot %s: %w", name, err)
		}
		if s.onTx != nil {
			return s.onTx(ctx, tx, name, snap)
		}
		return nil
	})
}

// Delete implements projection.Store.
func (s *Store) Delete(ctx context.Context, name string) error {
	if _, err := s.db.Exec(ctx, s.q.del, name); err != nil {
		return fmt.Errorf("pgstore: delete snapshot %s: %w", name, err)
	}
	return nil
}
