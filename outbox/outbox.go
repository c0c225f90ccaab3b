// Package outbox is the transactional outbox for PostgreSQL (pgx): a service
// stores the events it publishes in the same transaction as its business
// rows, and a Relay forwards them to the transport after the transaction
// committed.
//
// Guarantees:
//
//   - Atomic: an event is relayed if and only if the transaction that
//     stored it committed. A rolled-back (or killed) transaction's events
//     are never sent.
//   - At least once, same id: a stored event is deleted from the outbox only
//     after the broker confirmed it. A relay that dies in between leaves it
//     in place and the next relay sends it again with the same event id and
//     envelope, so a deduplicating consumer (middleware.Dedup, and
//     pgstore.RecordTx for effectively once) absorbs the copy.
//   - Per-key order: events of one partition key are relayed in the order
//     their transactions committed. Publish takes a transaction-level
//     advisory lock per partition key, so two transactions that publish
//     for one key are serialised from the first Publish to commit.
//   - One relay at a time: relays elect a leader with a session advisory
//     lock. Several relay processes can run for availability; only the
//     leader sends, and when it dies (its database session ends) a standby
//     takes over at once, starting from what is still in the outbox.
//
// Publish encodes events exactly as publisher.Publisher does (same envelope,
// correlation and causation from ctx, UUIDv7 ids); the relay sends them with
// that envelope unchanged.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/publisher"
)

// DefaultTable is the outbox table's default name.
const DefaultTable = "tradebus_outbox"

// ErrInvalidOption is wrapped by errors about options and arguments.
var ErrInvalidOption = errors.New("outbox: invalid option")

// DB is what Publish writes through: a pgx.Tx (or anything with these
// methods that runs in the caller's transaction).
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Outbox writes events into an outbox table. It is safe for concurrent use.
type Outbox struct {
	table string
	enc   *publisher.Publisher
	q     queries
}

// Option configures an Outbox (and, through WithTable, a Relay).
type Option func(*config) error

type config struct {
	table   string
	pubOpts []publisher.Option
}

var tableName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,50}$`)

// WithTable names the outbox table (lower-case letters, digits and '_', at
// most 51 bytes; another table "<name>_dead" keeps events the broker can
// never take). Default DefaultTable.
func WithTable(name string) Option {
	return func(c *config) error {
		if !tableName.MatchString(name) {
			return fmt.Errorf("%w: table name %q, want [a-z_][a-z0-9_]{0,50}", ErrInvalidOption, name)
		}
		c.table = name
		return nil
	}
}

// WithPublisherOptions sets how events are encoded, as for publisher.New
// (publisher.WithSource, publisher.WithClock).
func WithPublisherOptions(opts ...publisher.Option) Option {
	return func(c *config) error {
		c.pubOpts = append(c.pubOpts, opts...)
		return nil
	}
}

func buildConfig(opts []Option) (config, error) {
	c := config{table: DefaultTable}
	for _, opt := range opts {
		if err := opt(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// New returns an Outbox writing to the table of WithTable.
func New(opts ...Option) (*Outbox, error) {
	c, err := buildConfig(opts)
	if err != nil {
		return nil, err
	}
	enc, err := publisher.New(refuse{}, c.pubOpts...)
	if err != nil {
		return nil, err
	}
	return &Outbox{table: c.table, enc: enc, q: newQueries(c.table)}, nil
}

// Table returns the outbox table's name.
func (o *Outbox) Table() string { return o.table }

// CreateTable creates the outbox table and its dead-event table if they do
// not exist.
func (o *Outbox) CreateTable(ctx context.Context, db DB) error {
	return createTables(ctx, db, o.q)
}

func createTables(ctx context.Context, db DB, q queries) error {
	if _, err := db.Exec(ctx, q.create); err != nil {
		return fmt.Errorf("outbox: create table: %w", err)
	}
	return nil
}

// Publish validates and encodes evs and stores them in the outbox through
// tx, the caller's transaction: they are relayed once tx commits, and never
// if it rolls back. If one event is invalid, it returns a
// *publisher.EventError and stores nothing. Events keep the call's order.
//
// Publish locks each partition key of evs until tx ends (in the order the
// keys first appear), so concurrent transactions publishing for one key are
// relayed in commit order. Two transactions that publish the same keys in
// opposite orders can deadlock; PostgreSQL then aborts one of them (retry
// it), as with row locks.
func (o *Outbox) Publish(ctx context.Context, tx DB, evs ...events.Event) error {
	if tx == nil {
		return fmt.Errorf("%w: nil transaction", ErrInvalidOption)
	}
	if len(evs) == 0 {
		return nil
	}
	ids := make([]string, len(evs))
	rks := make([]string, len(evs))
	pks := make([]string, len(evs))
	mds := make([][]byte, len(evs))
	payloads := make([][]byte, len(evs))
	for i, ev := range evs {
		msg, err := o.enc.NewMessage(ctx, ev)
		if err != nil {
			var ee *publisher.EventError
			if errors.As(err, &ee) {
				ee.Index = i
			}
			return err
		}
		md, err := json.Marshal(map[string]string(msg.Metadata))
		if err != nil {
			return fmt.Errorf("outbox: encode metadata: %w", err)
		}
		ids[i], rks[i], pks[i], mds[i], payloads[i] = msg.UUID, msg.Metadata[events.MetaRoutingKey], msg.Metadata[events.MetaPartitionKey], md, msg.Payload
	}
	if _, err := tx.Exec(ctx, o.q.lock, lockKeys(pks)); err != nil {
		return fmt.Errorf("outbox: lock partition keys: %w", err)
	}
	if _, err := tx.Exec(ctx, o.q.insert, ids, rks, pks, mds, payloads); err != nil {
		return fmt.Errorf("outbox: insert %d events: %w", len(evs), err)
	}
	if _, err := tx.Exec(ctx, o.q.notify); err != nil {
		return fmt.Errorf("outbox: notify: %w", err)
	}
	return nil
}

// lockKeys returns the distinct partition keys in order of first
// appearance.
func lockKeys(pks []string) []string {
	if len(pks) == 1 {
		return pks
	}
	seen := make(map[string]struct{}, len(pks))
	out := make([]string, 0, len(pks))
	for _, k := range pks {
		if _, dup := seen[k]; !dup {
			seen[k] = struct{}{}
			out = append(out, k)
		}
	}
	return out
}

// queries are the SQL statements for one table.
type queries struct {
	create, lock, insert, notify, channel  string
	leaderLock, fetch, delete, bury, count string
}

func newQueries(t string) queries {
	channel := t + "_ready"
	return queries{
		channel: channel,
		create: fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %[1]s (
	seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	event_id text NOT NULL,
	routing_key text NOT NULL,
	partition_key text NOT NULL,
	metadata jsonb NOT NULL,
	payload bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS %[1]s_dead (
	seq bigint PRIMARY KEY,
	event_id text NOT NULL,
	routing_key text NOT NULL,
	partition_key text NOT NULL,
	metadata jsonb NOT NULL,
	payload bytea NOT NULL,
	created_at timestamptz NOT NULL,
	reason text NOT NULL,
	buried_at timestamptz NOT NULL DEFAULT now()
)`, t),
		// One transaction-level lock per key, in the given order; the
		// key space is namespaced by the table name.
		lock: fmt.Sprintf(`SELECT pg_advisory_xact_lock(hashtextextended('%s:' || k, 0)) FROM unnest($1::text[]) WITH ORDINALITY AS u(k, n) ORDER BY n`, t),
		insert: fmt.Sprintf(`INSERT INTO %s (event_id, routing_key, partition_key, metadata, payload)
SELECT i, r, p, m, b FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::bytea[]) WITH ORDINALITY AS u(i, r, p, m, b, n) ORDER BY n`, t),
		notify:     fmt.Sprintf(`SELECT pg_notify('%s', '')`, channel),
		leaderLock: fmt.Sprintf(`SELECT pg_advisory_lock(hashtextextended('%s:relay', 0))`, t),
		fetch:      fmt.Sprintf(`SELECT seq, event_id, routing_key, partition_key, metadata, payload FROM %s ORDER BY seq LIMIT $1`, t),
		delete:     fmt.Sprintf(`DELETE FROM %s WHERE seq = ANY($1)`, t),
		bury: fmt.Sprintf(`WITH gone AS (DELETE FROM %[1]s WHERE seq = $1 RETURNING *)
INSERT INTO %[1]s_dead (seq, event_id, routing_key, partition_key, metadata, payload, created_at, reason)
SELECT seq, event_id, routing_key, partition_key, metadata, payload, created_at, $2 FROM gone`, t),
		count: fmt.Sprintf(`SELECT count(*) FROM %s`, t),
	}
}

// refuse is the message.Publisher under the Outbox's encoder: Publish only
// encodes, it never sends.
type refuse struct{}

func (refuse) Publish(string, ...*message.Message) error {
	return errors.New("outbox: the encoder does not send")
}

func (refuse) Close() error { return nil }
