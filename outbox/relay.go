package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
)

// Relay forwards committed outbox events to a transport. Run several (in
// different processes) for availability: one leads and sends, the others
// wait for its database session to end.
type Relay struct {
	pool    *pgxpool.Pool
	pub     message.Publisher
	q       queries
	cfg     relayConfig
	leading atomic.Bool
	sent    atomic.Int64
	buried  atomic.Int64
}

type relayConfig struct {
	batch        int
	poll         time.Duration
	backoff      time.Duration
	backoffMax   time.Duration
	logger       *slog.Logger
	outboxConfig config
}

// RelayOption configures a Relay.
type RelayOption func(*relayConfig) error

// WithBatch sets how many events the relay reads and sends at once
// (pipelined), 1 to 4096. Default 256.
func WithBatch(n int) RelayOption {
	return func(c *relayConfig) error {
		if n < 1 || n > 4096 {
			return fmt.Errorf("%w: batch %d, want 1 to 4096", ErrInvalidOption, n)
		}
		c.batch = n
		return nil
	}
}

// WithPollInterval sets how often an idle leader looks at the outbox when
// no notification came (Publish notifies the relay at commit, so this only
// bounds the delay after a lost notification), 1ms to 1h. Default 1s.
func WithPollInterval(d time.Duration) RelayOption {
	return func(c *relayConfig) error {
		if d < time.Millisecond || d > time.Hour {
			return fmt.Errorf("%w: poll interval %v, want 1ms to 1h", ErrInvalidOption, d)
		}
		c.poll = d
		return nil
	}
}

// WithRetryBackoff sets the wait after a failed send or a lost database
// session, doubling from initial to max (1ms to 1h). Default 50ms to 5s.
func WithRetryBackoff(initial, max time.Duration) RelayOption {
	return func(c *relayConfig) error {
		if initial < time.Millisecond || max > time.Hour || initial > max {
			return fmt.Errorf("%w: backoff %v..%v, want 1ms <= initial <= max <= 1h", ErrInvalidOption, initial, max)
		}
		c.backoff, c.backoffMax = initial, max
		return nil
	}
}

// WithRelayLogger sets the relay's logger. Default slog.Default().
func WithRelayLogger(l *slog.Logger) RelayOption {
	return func(c *relayConfig) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		c.logger = l
		return nil
	}
}

// WithOutbox applies outbox options (WithTable) to the relay, so it reads
// the table the Outbox writes.
func WithOutbox(opts ...Option) RelayOption {
	return func(c *relayConfig) error {
		oc, err := buildConfig(opts)
		if err != nil {
			return err
		}
		c.outboxConfig = oc
		return nil
	}
}

// NewRelay returns a relay reading the outbox through pool and sending to
// pub (a tradebus transport's publisher pipelines each batch; any
// Watermill publisher works). It takes one connection of pool for as long as
// it runs.
func NewRelay(pool *pgxpool.Pool, pub message.Publisher, opts ...RelayOption) (*Relay, error) {
	if pool == nil || pub == nil {
		return nil, fmt.Errorf("%w: nil pool or publisher", ErrInvalidOption)
	}
	c := relayConfig{batch: 256, poll: time.Second, backoff: 50 * time.Millisecond, backoffMax: 5 * time.Second,
		logger: slog.Default(), outboxConfig: config{table: DefaultTable}}
	for _, opt := range opts {
		if err := opt(&c); err != nil {
			return nil, err
		}
	}
	return &Relay{pool: pool, pub: pub, q: newQueries(c.outboxConfig.table), cfg: c}, nil
}

// Leading reports whether this relay holds the leadership now.
func (r *Relay) Leading() bool { return r.leading.Load() }

// Sent returns how many events this relay sent and deleted from the outbox.
func (r *Relay) Sent() int64 { return r.sent.Load() }

// Buried returns how many events this relay moved to the dead-event table
// because the transport can never take them (too large, invalid).
func (r *Relay) Buried() int64 { return r.buried.Load() }

// Run relays until ctx is done, then returns nil. It waits for leadership,
// then forwards batches in outbox order; after a lost database session or
// a failed send it backs off and starts again from what is still in the
// outbox. The leader creates the outbox tables if they do not exist.
func (r *Relay) Run(ctx context.Context) error {
	wait := r.cfg.backoff
	for {
		progressed, err := r.lead(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if progressed {
			wait = r.cfg.backoff
		}
		r.cfg.logger.WarnContext(ctx, "tradebus: outbox relay: will retry", slog.String("table", r.cfg.outboxConfig.table),
			slog.Duration("backoff", wait), slog.Any("error", err))
		if !sleep(ctx, wait) {
			return nil
		}
		wait = min(2*wait, r.cfg.backoffMax)
	}
}

// lead takes a connection, becomes leader and forwards until an error.
// progressed reports whether any event was sent.
func (r *Relay) lead(ctx context.Context) (progressed bool, err error) {
	pc, err := r.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("acquire connection: %w", err)
	}
	// The session lock must die with the session: the connection never
	// goes back to the pool.
	conn := pc.Hijack()
	defer func() {
		r.leading.Store(false)
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{r.q.channel}.Sanitize()); err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	if _, err := conn.Exec(ctx, r.q.leaderLock); err != nil {
		return false, fmt.Errorf("wait for leadership: %w", err)
	}
	if err := createTables(ctx, conn, r.q); err != nil {
		return false, err
	}
	r.leading.Store(true)
	r.cfg.logger.InfoContext(ctx, "tradebus: outbox relay leads", slog.String("table", r.cfg.outboxConfig.table))
	// Rows the broker stored are deleted in the same round trip as the
	// next read; what is still to delete when leading ends is deleted on
	// the way out (or, if the session is gone, sent again by the next
	// leader: same ids).
	var stored []int64
	defer func() {
		if len(stored) == 0 {
			return
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, derr := conn.Exec(dctx, r.q.delete, stored); derr == nil {
			r.sent.Add(int64(len(stored)))
		}
	}()
	for {
		n, err := r.forward(ctx, conn, &stored)
		if err != nil {
			return progressed, err
		}
		if n > 0 {
			progressed = true
			continue
		}
		// Empty: wait for a commit's notification, or poll.
		wctx, cancel := context.WithTimeout(ctx, r.cfg.poll)
		_, err = conn.WaitForNotification(wctx)
		cancel()
		if err != nil && ctx.Err() != nil {
			return progressed, ctx.Err()
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return progressed, fmt.Errorf("wait for notification: %w", err)
		}
	}
}

// row is one outbox entry.
type row struct {
	seq                int64
	id, key, partition string
	metadata           map[string]string
	payload            []byte
}

// forward deletes the rows in *stored (relayed by the previous round) and
// reads the next batch in one round trip, sends that batch and leaves in
// *stored what the broker stored. It returns how many rows it read.
func (r *Relay) forward(ctx context.Context, conn *pgx.Conn, stored *[]int64) (int, error) {
	var b pgx.Batch
	if len(*stored) > 0 {
		b.Queue(r.q.delete, *stored)
	}
	b.Queue(r.q.fetch, r.cfg.batch)
	br := conn.SendBatch(ctx, &b)
	batch, err := r.read(br, len(*stored))
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	r.sent.Add(int64(len(*stored)))
	*stored = (*stored)[:0]
	if len(batch) == 0 {
		return 0, nil
	}
	failed := r.send(ctx, batch)
	done, bury, sendErr := settle(batch, failed)
	for _, b := range bury {
		if _, err := conn.Exec(ctx, r.q.bury, batch[b.index].seq, b.reason); err != nil {
			return 0, fmt.Errorf("bury outbox row %d: %w", batch[b.index].seq, err)
		}
		r.buried.Add(1)
		r.cfg.logger.ErrorContext(ctx, "tradebus: outbox relay: event can never be sent; moved to the dead-event table",
			slog.String("table", r.cfg.outboxConfig.table+"_dead"), slog.String("event_id", batch[b.index].id),
			slog.String("reason", b.reason))
	}
	*stored = append(*stored, done...)
	if sendErr != nil {
		return 0, sendErr
	}
	return len(batch), nil
}

// read takes the delete's result (if deleted > 0) and the fetched rows from
// br.
func (r *Relay) read(br pgx.BatchResults, deleted int) ([]row, error) {
	if deleted > 0 {
		if _, err := br.Exec(); err != nil {
			return nil, fmt.Errorf("delete relayed rows: %w", err)
		}
	}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	defer rows.Close()
	var batch []row
	for rows.Next() {
		var rw row
		var md []byte
		if err := rows.Scan(&rw.seq, &rw.id, &rw.key, &rw.partition, &md, &rw.payload); err != nil {
			return nil, fmt.Errorf("read outbox: %w", err)
		}
		if err := json.Unmarshal(md, &rw.metadata); err != nil {
			return nil, fmt.Errorf("outbox row %d: metadata: %w", rw.seq, err)
		}
		batch = append(batch, rw)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return batch, nil
}

// messageSender is the tradebus transport's fast path: driver messages
// straight to the driver, one pipelined batch.
type messageSender interface {
	SendMessages(ctx context.Context, msgs []driver.Message) error
}

// send publishes batch and returns the failure of each index that the
// broker did not store (nil: all stored).
func (r *Relay) send(ctx context.Context, batch []row) map[int]error {
	var err error
	switch p := r.pub.(type) {
	case messageSender:
		dms := make([]driver.Message, len(batch))
		for i, rw := range batch {
			dms[i] = driver.Message{UUID: rw.id, Key: rw.key, PartitionKey: rw.partition, Metadata: rw.metadata, Payload: rw.payload}
		}
		err = p.SendMessages(ctx, dms)
	case transport.BatchPublisher:
		err = p.PublishBatch(ctx, watermillMessages(ctx, batch))
	default:
		// A plain Watermill publisher: one at a time, stop at the first
		// failure (everything after it is sent again next round).
		for i, msg := range watermillMessages(ctx, batch) {
			if perr := r.pub.Publish(batch[i].key, msg); perr != nil {
				failed := make(map[int]error, len(batch)-i)
				for j := i; j < len(batch); j++ {
					failed[j] = perr
				}
				return failed
			}
		}
		return nil
	}
	if err == nil {
		return nil
	}
	var se *driver.SendError
	if errors.As(err, &se) {
		return se.Failed
	}
	failed := make(map[int]error, len(batch))
	var tle *transport.TooLargeError
	if errors.As(err, &tle) {
		// The core checked sizes before sending anything: the named
		// message can never go, the others were not sent.
		for i, rw := range batch {
			if rw.id == tle.UUID {
				failed[i] = err
			} else {
				failed[i] = errNotSent
			}
		}
		return failed
	}
	for i := range batch {
		failed[i] = err
	}
	return failed
}

func watermillMessages(ctx context.Context, batch []row) []*message.Message {
	msgs := make([]*message.Message, len(batch))
	for i, rw := range batch {
		msg := message.NewMessage(rw.id, rw.payload)
		msg.Metadata = rw.metadata
		if msg.Metadata[events.MetaRoutingKey] == "" {
			msg.Metadata[events.MetaRoutingKey] = rw.key
		}
		msg.SetContext(ctx)
		msgs[i] = msg
	}
	return msgs
}

type burial struct {
	index  int
	reason string
}

// settle decides, after a send, which rows leave the outbox. A row the
// broker stored is deleted unless an earlier row of its partition key
// failed for a reason a resend can fix (then it is sent again, after that
// one, so the key's order holds; the copy has the same id). A row that can
// never be sent (too large, invalid) is buried. sendErr reports the first
// resendable failure.
func settle(batch []row, failed map[int]error) (done []int64, bury []burial, sendErr error) {
	blocked := make(map[string]bool)
	for i, rw := range batch {
		err, bad := failed[i]
		switch {
		case blocked[rw.partition]:
		case !bad:
			done = append(done, rw.seq)
		case permanent(err):
			bury = append(bury, burial{index: i, reason: err.Error()})
		case errors.Is(err, errNotSent):
			blocked[rw.partition] = true // sent next round, no backoff
		default:
			blocked[rw.partition] = true
			if sendErr == nil {
				sendErr = fmt.Errorf("send event %s: %w", rw.id, err)
			}
		}
	}
	return done, bury, sendErr
}

// errNotSent marks the rows of a batch that was refused before anything was
// sent because of another row.
var errNotSent = errors.New("not sent")

// permanent reports whether sending again cannot help.
func permanent(err error) bool {
	return errors.Is(err, transport.ErrTooLarge) || errors.Is(err, transport.ErrInvalidOption) ||
		errors.Is(err, events.ErrInvalidRoutingKey)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Pending returns how many events are in the outbox, not yet relayed.
func (r *Relay) Pending(ctx context.Context) (int64, error) {
	var n int64
	err := r.pool.QueryRow(ctx, r.q.count).Scan(&n)
	return n, err
}
