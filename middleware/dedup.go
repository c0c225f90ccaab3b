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
	"github.com/tradebus/tradebus/internal/msgctx"
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
// first failed, is processed itself). On a MemoryStore the lock is the
// store's own: the key is held in its table while handled, so that lock,
// lookup and record take one hash and one table (and Dedups sharing the
// store serialise one key too). Across processes sharing a store, two
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
	ns    string // WithDedupNamespace's + ":"
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
	d := &Dedup{cfg: cfg, locks: newKeyLocks()}
	if cfg.namespace != "" {
		d.ns = cfg.namespace + ":"
	}
	return d, nil
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

// dedupKeyCtx is the context key of the dedup key (a msgctx.Key).
const dedupKeyCtx = msgctx.DedupKey

// DedupKey returns the store key (namespace included) of the message being
// handled, as set by the dedup middleware. A handler writing to PostgreSQL can
// record it in its own transaction (pgstore's RecordTx), so that the business
// write and the dedup record commit together (the inbox pattern).
func DedupKey(ctx context.Context) (string, bool) {
	switch c := ctx.Value(dedupKeyCtx).(type) {
	case *dedupCtx:
		return c.key.String(), true
	case *failuresCtx:
		return c.dedupKey.String(), true
	}
	return "", false
}

// withDedupKey returns ctx carrying key for DedupKey: ctx itself when it
// is the failures context of the poison or retry middleware just outside
// (which keeps the key: no allocation), else a new context.
func withDedupKey(ctx context.Context, key storeKey) context.Context {
	if fc, ok := ctx.(*failuresCtx); ok {
		if !fc.hasDedup {
			fc.dedupKey, fc.hasDedup = key, true
			return ctx
		}
		if fc.dedupKey == key { // the next attempt
			return ctx
		}
	}
	return &dedupCtx{Context: ctx, key: key}
}

// dedupCtx is a context carrying the dedup key: context.WithValue in one
// allocation instead of two (the key is not boxed separately), its parts
// joined only when asked for.
type dedupCtx struct {
	context.Context
	key storeKey
}

func (c *dedupCtx) Value(key any) any {
	if key == dedupKeyCtx {
		return c
	}
	return c.Context.Value(key)
}

// Middleware implements message.HandlerMiddleware.
func (d *Dedup) Middleware(h message.HandlerFunc) message.HandlerFunc {
	if ms, ok := d.cfg.store.(*MemoryStore); ok {
		return d.memoryMiddleware(h, ms)
	}
	var ns nsCache
	return func(msg *message.Message) ([]*message.Message, error) {
		ctx := msg.Context()
		parts, err := d.key(msg, &ns)
		if err != nil {
			return nil, err
		}
		key := parts.String()
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
			d.duplicate(ctx, msg, key)
			return nil, nil
		}

		msg.SetContext(withDedupKey(ctx, parts))
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

// memoryMiddleware is Middleware on a MemoryStore: the store's flights
// (claim, commit, release) stand for the key locks, the lookup and the
// record, with the same outcome — one hash and one table for all four.
func (d *Dedup) memoryMiddleware(h message.HandlerFunc, ms *MemoryStore) message.HandlerFunc {
	var ns nsCache
	return func(msg *message.Message) ([]*message.Message, error) {
		ctx := msg.Context()
		key, err := d.key(msg, &ns)
		if err != nil {
			return nil, err
		}
		hash := ms.hash(key)
		seen, tok, err := ms.claim(ctx, key, hash)
		if err != nil {
			return nil, err
		}
		if seen {
			d.duplicate(ctx, msg, key.String())
			return nil, nil
		}
		held := true
		defer func() {
			if held { // the handler panicked
				ms.release(key, hash, tok)
			}
		}()
		msg.SetContext(withDedupKey(ctx, key))
		out, err := h(msg)
		msg.SetContext(ctx)
		held = false
		if err != nil {
			ms.release(key, hash, tok)
			return out, err
		}
		if len(out) == 0 {
			ms.commit(key, hash, d.cfg.dedupTTL)
			d.processed.Add(1)
			return nil, nil
		}
		// As in Middleware: record once the produced messages are
		// published and msg acked, the key in flight until then.
		settle := func(acked bool) {
			if acked {
				ms.commit(key, hash, d.cfg.dedupTTL)
				d.processed.Add(1)
			} else {
				ms.release(key, hash, tok)
			}
		}
		if transport.OnSettled(msg, settle) {
			return out, nil
		}
		go func() {
			select {
			case <-msg.Acked():
				settle(true)
			case <-msg.Nacked():
				settle(false)
			}
		}()
		return out, nil
	}
}

// duplicate counts and logs msg, a duplicate acked without handling.
func (d *Dedup) duplicate(ctx context.Context, msg *message.Message, key string) {
	d.duplicates.Add(1)
	telemetry.DuplicateSkipped(ctx, key)
	d.cfg.logger.DebugContext(ctx, "tradebus: duplicate message acked without handling",
		slog.String("message_uuid", msg.UUID), slog.String("dedup_key", key))
}

// nsCache holds the key namespace of the handler a middleware instance
// served last (one instance usually serves one handler): it is built
// once, not joined with the handler name for every message.
type nsCache struct{ last atomic.Pointer[handlerNS] }

type handlerNS struct{ handler, ns string }

// key returns the store key of msg: the namespace — WithDedupNamespace,
// else "<group>/<handler name>" or "<handler name>" — ":" and the key
// function's key.
func (d *Dedup) key(msg *message.Message, c *nsCache) (storeKey, error) {
	k, err := d.cfg.keyFunc(msg)
	if err != nil {
		return storeKey{}, fmt.Errorf("middleware: dedup key of message %s: %w", msg.UUID, err)
	}
	if k == "" {
		return storeKey{}, Permanent(fmt.Errorf("%w for message %s", ErrNoDedupKey, msg.UUID))
	}
	if d.ns != "" {
		return storeKey{ns: d.ns, id: k}, nil
	}
	handler := HandlerName(msg.Context())
	if e := c.last.Load(); e != nil && e.handler == handler {
		return storeKey{ns: e.ns, id: k}, nil
	}
	ns := handler + ":"
	if d.cfg.group != "" {
		ns = d.cfg.group + "/" + ns
	}
	c.last.Store(&handlerNS{handler: handler, ns: ns})
	return storeKey{ns: ns, id: k}, nil
}

// storeCtx bounds a store call by WithStoreTimeout. (The MemoryStore,
// which never blocks, takes memoryMiddleware's way.)
func (d *Dedup) storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.cfg.storeTimeout)
}

func (d *Dedup) record(ctx context.Context, msg *message.Message, key string) {
	rctx, cancel := d.storeCtx(context.WithoutCancel(ctx))
	err := d.cfg.store.Record(rctx, key, d.cfg.dedupTTL)
	cancel()
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
