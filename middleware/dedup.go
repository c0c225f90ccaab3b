package middleware

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/internal/telemetry"
	"github.com/tradebus/tradebus/transport"
)

// Dedup is the idempotent-consumer middleware. For each message it derives a
// key (the event id by default, see WithDedupKey), takes an in-process lock on
// it, asks the Store whether the key was processed, and then either acks the
// message without running the handler (a duplicate) or runs the handler and —
// only if it succeeded — records the key.
//
// Recording after success, never before, is the difference from Watermill's
// middleware.Deduplicator, which records the key when the message arrives and
// so drops a message that failed, was nacked and was redelivered inside its
// window. Here such a message is processed again.
//
// Concurrent duplicates of one key in one process are serialised by the
// per-key lock: one is processed; the other waits and then, when the first
// succeeded, finds the key recorded and is acked as a duplicate (or, when the
// first failed, is processed itself). Across processes sharing a store, two
// deliveries of one key at the very same time can both run; the PostgreSQL
// store's RecordTx closes that gap for writes in the same transaction.
//
// When the handler returns messages for the router to publish, the key is
// recorded only once the router acked the message, i.e. after those messages
// were published; if the router nacks it (publish failed), nothing is recorded
// and the redelivery is processed again. (The lock on the key is held until
// then.)
//
// A failure of the store before the handler is returned as a (transient)
// error, so it is retried. A failure to record after a successful handler is
// logged and counted (DedupStats.RecordErrors) but not returned: returning it
// would run a handler that already succeeded again; a later duplicate may then
// be processed twice.
//
// A Dedup is safe for concurrent use; its zero value is not usable (use
// NewDedup).
type Dedup struct {
	cfg   config
	locks *keyLocks

	processed    atomic.Uint64
	duplicates   atomic.Uint64
	recordErrors atomic.Uint64
}

// DedupStats are the counters of a Dedup.
type DedupStats struct {
	// Processed counts messages whose handler succeeded and whose key was recorded.
	Processed uint64
	// Duplicates counts messages acked without running the handler.
	Duplicates uint64
	// RecordErrors counts failures to record a key after the handler succeeded.
	RecordErrors uint64
}

// NewDedup returns the dedup middleware. Options: WithDedupStore (default: a
// new MemoryStore), WithDedupTTL (24h), WithDedupKey (event id),
// WithDedupNamespace ("<group>/<handler name>"), WithStoreTimeout (5s),
// WithConsumerGroup, WithLogger.
func NewDedup(opts ...Option) (*Dedup, error) {
	cfg, err := buildConfig(compDedup, opts)
	if err != nil {
		return nil, err
	}
	return newDedup(cfg)
}

func newDedup(cfg config) (*Dedup, error) {
	if cfg.store == nil {
		ms, err := NewMemoryStore()
		if err != nil {
			return nil, err
		}
		cfg.store = ms
	}
	if cfg.keyFunc == nil {
		cfg.keyFunc = EventIDKey
	}
	return &Dedup{cfg: cfg, locks: newKeyLocks()}, nil
}

// EventIDKey is the default dedup key: the event id (metadata "id"), or the
// Watermill message UUID when the message has no id.
func EventIDKey(msg *message.Message) (string, error) {
	if id := msg.Metadata.Get(events.MetaID); id != "" {
		return id, nil
	}
	return msg.UUID, nil
}

// Stats returns a snapshot of the counters.
func (d *Dedup) Stats() DedupStats {
	return DedupStats{
		Processed:    d.processed.Load(),
		Duplicates:   d.duplicates.Load(),
		RecordErrors: d.recordErrors.Load(),
	}
}

// Store returns the store keys are recorded in.
func (d *Dedup) Store() Store { return d.cfg.store }

type dedupKeyCtx struct{}

// DedupKey returns the store key (namespace included) of the message being
// handled, as set by the dedup middleware. A handler writing to PostgreSQL can
// record it in its own transaction (pgstore's RecordTx), so that the business
// write and the dedup record commit together (the inbox pattern).
func DedupKey(ctx context.Context) (string, bool) {
	if c, ok := ctx.Value(dedupKeyCtx{}).(*dedupCtx); ok {
		return c.key, true
	}
	return "", false
}

// dedupCtx is a context carrying the dedup key: context.WithValue in one
// allocation instead of two (the key is not boxed separately).
type dedupCtx struct {
	context.Context
	key string
}

func (c *dedupCtx) Value(key any) any {
	if _, ok := key.(dedupKeyCtx); ok {
		return c
	}
	return c.Context.Value(key)
}

// Middleware implements message.HandlerMiddleware.
func (d *Dedup) Middleware(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		ctx := msg.Context()
		key, err := d.key(msg)
		if err != nil {
			return nil, err
		}
		kl, err := d.locks.lock(ctx, key)
		if err != nil {
			return nil, err
		}
		locked := true
		defer func() {
			if locked {
				d.locks.unlock(key, kl)
			}
		}()

		sctx, cancel := d.storeCtx(ctx)
		seen, err := d.cfg.store.Seen(sctx, key)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("middleware: dedup store lookup of %q: %w", key, err)
		}
		if seen {
			d.duplicates.Add(1)
			telemetry.DuplicateSkipped(ctx, key)
			d.cfg.logger.DebugContext(ctx, "tradebus: duplicate message acked without handling",
				slog.String("message_uuid", msg.UUID), slog.String("dedup_key", key))
			return nil, nil
		}

		msg.SetContext(&dedupCtx{Context: ctx, key: key})
		out, err := h(msg)
		msg.SetContext(ctx)
		if err != nil {
			return out, err
		}
		if len(out) == 0 {
			d.record(ctx, msg, key)
			return nil, nil
		}
		// The router publishes out after we return and then acks or nacks
		// msg: record only on ack, keeping the key locked until then.
		locked = false
		if transport.OnSettled(msg, func(acked bool) {
			defer d.locks.unlock(key, kl)
			if acked {
				d.record(ctx, msg, key)
			}
		}) {
			return out, nil // the transport's fast path: no Acked channel
		}
		go func() {
			defer d.locks.unlock(key, kl)
			select {
			case <-msg.Acked():
				d.record(ctx, msg, key)
			case <-msg.Nacked():
			}
		}()
		return out, nil
	}
}

func (d *Dedup) key(msg *message.Message) (string, error) {
	k, err := d.cfg.keyFunc(msg)
	if err != nil {
		return "", fmt.Errorf("middleware: dedup key of message %s: %w", msg.UUID, err)
	}
	if k == "" {
		return "", Permanent(fmt.Errorf("%w for message %s", ErrNoDedupKey, msg.UUID))
	}
	if ns := d.cfg.namespace; ns != "" {
		return ns + ":" + k, nil
	}
	handler := HandlerName(msg.Context())
	if d.cfg.group != "" {
		return d.cfg.group + "/" + handler + ":" + k, nil
	}
	return handler + ":" + k, nil
}

// storeCtx bounds a store call by WithStoreTimeout. The MemoryStore never
// blocks, so it is spared the timer.
func (d *Dedup) storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := d.cfg.store.(*MemoryStore); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d.cfg.storeTimeout)
}

func (d *Dedup) record(ctx context.Context, msg *message.Message, key string) {
	var err error
	if ms, ok := d.cfg.store.(*MemoryStore); ok {
		err = ms.Record(ctx, key, d.cfg.dedupTTL) // never blocks, ignores ctx
	} else {
		rctx, cancel := d.storeCtx(context.WithoutCancel(ctx))
		err = d.cfg.store.Record(rctx, key, d.cfg.dedupTTL)
		cancel()
	}
	if err != nil {
		d.recordErrors.Add(1)
		d.cfg.logger.ErrorContext(ctx, "tradebus: dedup key not recorded after successful handling; a later duplicate may be processed again",
			slog.String("message_uuid", msg.UUID), slog.String("dedup_key", key), slog.Any("error", err))
		return
	}
	d.processed.Add(1)
}

// keyLocks is a set of per-key mutexes that waits honouring ctx. An entry
// exists while its key is held, is removed when it is released with
// nobody waiting, and is recycled, so memory is bounded by the number of
// keys in flight. Taking a free key and releasing it without waiters —
// nearly every message — is a map insert and delete under a mutex, no
// channel operation. The keys are spread over shards, each with its own
// mutex and map on its own cache lines: workers on different cores
// handling different keys rarely touch the same memory.
type keyLocks struct {
	seed   maphash.Seed
	shards [keyLockShards]keyLockShard
}

const keyLockShards = 32

type keyLockShard struct {
	mu   sync.Mutex
	m    map[string]*keyLock // held keys
	free []*keyLock          // recycled entries (bounded)
	_    [64]byte            // the next shard on other cache lines
}

type keyLock struct {
	waiters int           // lockers waiting for a turn; guarded by the shard's mu
	turn    chan struct{} // capacity 1: the token that hands the key to a waiter
}

const maxFreeKeyLocks = 1024 / keyLockShards

func newKeyLocks() *keyLocks {
	l := &keyLocks{seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].m = make(map[string]*keyLock)
	}
	return l
}

func (l *keyLocks) shard(key string) *keyLockShard {
	return &l.shards[maphash.String(l.seed, key)%keyLockShards]
}

// held returns the number of keys held or waited for.
func (l *keyLocks) held() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

func (l *keyLocks) lock(ctx context.Context, key string) (*keyLock, error) {
	sh := l.shard(key)
	sh.mu.Lock()
	if e, held := sh.m[key]; held {
		e.waiters++
		sh.mu.Unlock()
		select {
		case <-e.turn:
			return e, nil
		case <-ctx.Done():
			sh.mu.Lock()
			select {
			case <-e.turn:
				// The key was handed to this locker just now: hand it
				// on, as its holder.
				sh.handOn(key, e)
			default:
				e.waiters--
			}
			sh.mu.Unlock()
			return nil, ctx.Err()
		}
	}
	var e *keyLock
	if n := len(sh.free); n > 0 {
		e, sh.free = sh.free[n-1], sh.free[:n-1]
	} else {
		e = &keyLock{turn: make(chan struct{}, 1)}
	}
	sh.m[key] = e
	sh.mu.Unlock()
	return e, nil
}

func (l *keyLocks) unlock(key string, e *keyLock) {
	sh := l.shard(key)
	sh.mu.Lock()
	sh.handOn(key, e)
	sh.mu.Unlock()
}

// handOn releases key, held by the caller: to the next waiter, or, with
// none, for good; sh.mu is held.
func (sh *keyLockShard) handOn(key string, e *keyLock) {
	if e.waiters > 0 {
		e.waiters--
		e.turn <- struct{}{} // never blocks: one holder, one token
		return
	}
	delete(sh.m, key)
	if len(sh.free) < maxFreeKeyLocks {
		sh.free = append(sh.free, e)
	}
}
