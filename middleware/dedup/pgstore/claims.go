package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tradebus/tradebus/middleware"
)

// DefaultClaimTable is the claim table's name unless the ClaimStore is
// built with WithTable.
const DefaultClaimTable = "tradebus_claims"

// ClaimStore is a middleware.ClaimStore on PostgreSQL: it keeps the dead
// letters too big for the broker (body as bytea, metadata as jsonb) so that
// none is lost. Metadata values travel as JSON strings: a value that is not
// valid UTF-8 comes back with U+FFFD in place of its invalid bytes (the
// envelope and every tradebus header are UTF-8). Its zero value is not usable (use NewClaimStore). It is
// safe for concurrent use when its DB is.
type ClaimStore struct {
	db    DB
	name  string
	table string
}

var _ middleware.ClaimStore = (*ClaimStore)(nil)

// NewClaimStore returns a ClaimStore on db; the only option is WithTable
// (default DefaultClaimTable). It does not touch the database; call
// CreateTable once (or create the table with your migrations).
func NewClaimStore(db DB, opts ...Option) (*ClaimStore, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: pgstore.NewClaimStore: nil db", middleware.ErrInvalidOption)
	}
	s := &Store{db: db}
	if err := WithTable(DefaultClaimTable)(s); err != nil {
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
	return &ClaimStore{db: db, name: s.name, table: s.table}, nil
}

// CreateTable creates the claim table if it does not exist:
//
//	CREATE TABLE IF NOT EXISTS tradebus_claims (
//	    id         text PRIMARY KEY,
//	    payload    bytea NOT NULL,
//	    metadata   jsonb NOT NULL,
//	    created_at timestamptz NOT NULL DEFAULT now()
//	);
func (c *ClaimStore) CreateTable(ctx context.Context) error {
	q := `CREATE TABLE IF NOT EXISTS ` + c.table + ` (id text PRIMARY KEY, payload bytea NOT NULL, metadata jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`
	if _, err := c.db.Exec(ctx, q); err != nil {
		return fmt.Errorf("pgstore: create table %s: %w", c.name, err)
	}
	return nil
}

// Table returns the table name as configured.
func (c *ClaimStore) Table() string { return strings.Clone(c.name) }

// PutClaim stores (or replaces) the claim id.
func (c *ClaimStore) PutClaim(ctx context.Context, id string, payload []byte, metadata map[string]string) error {
	md, err := json.Marshal(metadata)
	if err != nil {
		return fmt.Errorf("pgstore: claim %s: encode metadata: %w", id, err)
	}
	if payload == nil {
		payload = []byte{}
	}
	_, err = c.db.Exec(ctx, `INSERT INTO `+c.table+` (id, payload, metadata) VALUES ($1, $2, $3)
ON CONFLICT (id) DO UPDATE SET payload = EXCLUDED.payload, metadata = EXCLUDED.metadata, created_at = now()`, id, payload, md)
	if err != nil {
		return fmt.Errorf("pgstore: put claim %s: %w", id, err)
	}
	return nil
}

// GetClaim returns the claim id, or an error wrapping
// middleware.ErrClaimNotFound.
func (c *ClaimStore) GetClaim(ctx context.Context, id string) ([]byte, map[string]string, error) {
	var payload, md []byte
	err := c.db.QueryRow(ctx, `SELECT payload, metadata FROM `+c.table+` WHERE id = $1`, id).Scan(&payload, &md)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, fmt.Errorf("%w: %s", middleware.ErrClaimNotFound, id)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("pgstore: get claim %s: %w", id, err)
	}
	var metadata map[string]string
	if err := json.Unmarshal(md, &metadata); err != nil {
		return nil, nil, fmt.Errorf("pgstore: claim %s: decode metadata: %w", id, err)
	}
	return payload, metadata, nil
}

// DeleteClaim removes the claim id (no error if absent).
func (c *ClaimStore) DeleteClaim(ctx context.Context, id string) error {
	if _, err := c.db.Exec(ctx, `DELETE FROM `+c.table+` WHERE id = $1`, id); err != nil {
		return fmt.Errorf("pgstore: delete claim %s: %w", id, err)
	}
	return nil
}
