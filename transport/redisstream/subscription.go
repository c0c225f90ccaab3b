package redisstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/internal/backoff"
)

const (
	// cmdTimeout bounds one command of the heartbeat and of Close.
	cmdTimeout = 5 * time.Second
	// pendingPage is COUNT of one XPENDING of the heartbeat.
	pendingPage = 1000
)

// subscription is one consumer of one Redis consumer group: it reads this
// consumer's own pending entries first (left by an earlier subscription
// of the same consumer name), then claims entries that dead consumers
// left idle (XAUTOCLAIM, every claim-idle/2), then reads new entries
// (XREADGROUP >) — all within ReceiveBatch. Its one goroutine is the
// heartbeat, which keeps this consumer's in-flight entries from being
// claimed by others; Close stops it.
type subscription struct {
	d        *Driver
	client   redis.UniversalClient
	stream   string
	group    string
	consumer string
	kind     string
	log      *slog.Logger

	// Used by ReceiveBatch only (one call at a time).
	pendingFrom string    // own pending entries after this id are still to be read; "" once read
	lastRead    string    // id of the last own entry read (pending or new); "" before the first
	claimStart  string    // XAUTOCLAIM cursor
	claimDue    time.Time // start of the next XAUTOCLAIM pass
	read        redis.XReadGroupArgs

	nackMu   sync.Mutex // serialises SendNacks with the heartbeat's renewals
	mu       sync.Mutex
	closed   bool
	released map[string]struct{} // given back or unacked by error: not renewed by the heartbeat
	nRel     atomic.Int32        // len(released), read without mu on the hot path

	hbCtx    context.Context
	hbCancel context.CancelFunc
	hbDone   chan struct{}
}

var _ driver.Subscription = (*subscription)(nil)

func newSubscription(d *Driver, stream, group, consumer, kind string) *subscription {
	s := &subscription{
		d:           d,
		client:      d.client,
		stream:      stream,
		group:       group,
		consumer:    consumer,
		kind:        kind,
		log:         d.cfg.logger.With("stream", stream, "group", group, "consumer", consumer),
		pendingFrom: "0",
		claimStart:  "0-0",
		released:    make(map[string]struct{}),
		hbDone:      make(chan struct{}),
		read: redis.XReadGroupArgs{
			Group: group, Consumer: consumer, Streams: []string{stream, ">"},
		},
	}
	s.hbCtx, s.hbCancel = context.WithCancel(context.Background())
	go s.heartbeat()
	return s
}

// ReceiveBatch implements driver.Subscription. It returns, in this order
// of preference, up to max of: this consumer's own pending entries (once,
// at start), entries idle for WithClaimIdle in other consumers of the
// group (when a claim pass is due), new entries (XREADGROUP COUNT max,
// blocking up to WithBlock at a time until one arrives or ctx ends). A
// group found missing (NOGROUP: the stream was deleted, or Redis restarted
// without persistence) is recreated at the beginning of the stream.
// Entries trimmed away before they were delivered are acknowledged and
// logged: they are lost (WithMaxLen).
func (s *subscription) ReceiveBatch(ctx context.Context, max int) ([]*driver.Message, error) {
	if max < 1 {
		max = 1
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s.isClosed() {
			return nil, ErrClosed
		}
		var (
			xms        []redis.XMessage
			deliveries int
			err        error
		)
		switch {
		case s.pendingFrom != "":
			xms, err = s.readPending(ctx, max)
		case !time.Now().Before(s.claimDue):
			xms, err = s.claim(ctx, max)
		default:
			xms, err = s.readNew(ctx, max)
			deliveries = 1
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if isNoGroup(err) {
				if err = s.recreateGroup(ctx); err == nil {
					continue
				}
			}
			s.d.readErrors.Add(1)
			return nil, err
		}
		if msgs := s.convert(ctx, xms, deliveries); len(msgs) > 0 {
			return msgs, nil
		}
	}
}

// readPending reads the next of this consumer's own pending entries.
func (s *subscription) readPending(ctx context.Context, max int) ([]redis.XMessage, error) {
	args := s.read
	args.Streams = []string{s.stream, s.pendingFrom}
	args.Count, args.Block = int64(max), -1
	res, err := s.client.XReadGroup(ctx, &args).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	if len(res) == 0 || len(res[0].Messages) == 0 {
		s.pendingFrom = ""
		return nil, nil
	}
	xms := res[0].Messages
	s.pendingFrom = xms[len(xms)-1].ID
	s.lastRead = s.pendingFrom
	return xms, nil
}

// claim runs one step of an XAUTOCLAIM pass over the group's pending
// entries, taking those idle for WithClaimIdle.
func (s *subscription) claim(ctx context.Context, max int) ([]redis.XMessage, error) {
	xms, next, deleted, err := s.client.XAutoClaimWithDeleted(ctx, &redis.XAutoClaimArgs{
		Stream: s.stream, Group: s.group, Consumer: s.consumer,
		MinIdle: s.d.cfg.claimIdle, Start: s.claimStart, Count: int64(max),
	}).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	if len(deleted) > 0 {
		s.log.Warn("redisstream: pending entries were trimmed (MAXLEN) before delivery and are lost",
			"count", len(deleted))
	}
	if next == "" || next == "0-0" {
		s.claimStart = "0-0"
		s.claimDue = time.Now().Add(s.d.cfg.claimIdle / 2)
	} else {
		s.claimStart = next
	}
	return xms, nil
}

// readNew reads new entries, blocking up to WithBlock.
//
// A read that fails may have failed after Redis ran it (the connection
// cut before the reply came): the entries it delivered are pending on
// this consumer, and the heartbeat would keep them from every other
// member. So the next read takes this consumer's pending entries after
// the last one it read: exactly those (entries reach a consumer in id
// order; the ones before were handed over already). An entry claimed
// from another member after that id is handed over again: a duplicate,
// never a loss.
func (s *subscription) readNew(ctx context.Context, max int) ([]redis.XMessage, error) {
	s.read.Count, s.read.Block = int64(max), s.d.cfg.block
	res, err := s.client.XReadGroup(ctx, &s.read).Result()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return nil, nil // nothing within the block time
		}
		if s.pendingFrom = s.lastRead; s.pendingFrom == "" {
			s.pendingFrom = "0"
		}
		return nil, err
	}
	if len(res) == 0 || len(res[0].Messages) == 0 {
		return nil, nil
	}
	xms := res[0].Messages
	s.lastRead = xms[len(xms)-1].ID
	return xms, nil
}

// recreateGroup recreates the vanished group at the beginning of the
// stream: whatever the stream holds now came after it vanished.
func (s *subscription) recreateGroup(ctx context.Context) error {
	if err := ensureGroup(ctx, s.client, s.stream, s.group, "0"); err != nil {
		return err
	}
	s.log.Warn("redisstream: consumer group was missing and has been recreated")
	s.pendingFrom, s.claimStart, s.claimDue = "", "0-0", time.Time{}
	return nil
}

// convert turns entries into messages: one slab of messages and one of
// entry ids per batch, the ids' addresses being the AckIDs. Entries whose
// content was trimmed away are acknowledged at once.
func (s *subscription) convert(ctx context.Context, xms []redis.XMessage, deliveries int) []*driver.Message {
	if len(xms) == 0 {
		return nil
	}
	slab := make([]driver.Message, len(xms))
	ids := make([]string, len(xms))
	out := make([]*driver.Message, 0, len(xms))
	var trimmed []string
	for i := range xms {
		xm := &xms[i]
		if xm.Values == nil {
			trimmed = append(trimmed, xm.ID)
			continue
		}
		dm := &slab[i]
		decode(s.kind, xm, dm)
		dm.Position = driver.Position{Stream: s.stream, Offset: xm.ID}
		ids[i] = xm.ID
		dm.AckID = &ids[i]
		dm.Deliveries = deliveries
		out = append(out, dm)
	}
	if s.nRel.Load() > 0 {
		s.unrelease(ids)
	}
	if len(trimmed) > 0 {
		s.log.Warn("redisstream: pending entries were trimmed (MAXLEN) before delivery and are lost",
			"count", len(trimmed))
		if err := s.client.XAck(ctx, s.stream, s.group, trimmed...).Err(); err != nil {
			s.log.Warn("redisstream: acknowledging trimmed entries failed", "err", err)
		}
	}
	return out
}

// SendAcks implements driver.Subscription: one XACK with every id. If it
// fails the entries stay pending, the heartbeat stops renewing them, and
// a claim pass (this subscription's or another member's) delivers them
// again after WithClaimIdle.
func (s *subscription) SendAcks(ctx context.Context, ids []driver.AckID) error {
	if len(ids) == 0 {
		return nil
	}
	args := s.idArgs(3, ids)
	args[0], args[1], args[2] = "xack", s.stream, s.group
	err := s.client.Do(ctx, args...).Err()
	if err == nil || isNoGroup(err) {
		return nil // NOGROUP: the group and its pending entries are gone
	}
	s.release(ids)
	return fmt.Errorf("XACK of %d entries: %w", len(ids), err)
}

// SendNacks implements driver.Subscription. The entries stay pending in
// this consumer (Redis cannot un-deliver an entry), but the heartbeat
// stops renewing them and their idle time is set to WithClaimIdle
// (XCLAIM … IDLE … JUSTID, which does not count a delivery), so the next
// claim pass of any member of the group — within WithClaimIdle/2 — takes
// them, and a new subscription with this consumer name re-reads them at
// once.
func (s *subscription) SendNacks(ctx context.Context, ids []driver.AckID) error {
	if len(ids) == 0 {
		return nil
	}
	s.nackMu.Lock()
	defer s.nackMu.Unlock()
	s.release(ids)
	args := s.idArgs(5, ids)
	args[0], args[1], args[2], args[3], args[4] = "xclaim", s.stream, s.group, s.consumer, 0
	args = append(args, "idle", s.d.cfg.claimIdle.Milliseconds(), "justid")
	err := s.client.Do(ctx, args...).Err()
	if err == nil || isNoGroup(err) {
		return nil
	}
	return fmt.Errorf("XCLAIM IDLE of %d nacked entries: %w", len(ids), err)
}

// idArgs returns a command argument list with head empty slots followed
// by the entry ids of ids.
func (s *subscription) idArgs(head int, ids []driver.AckID) []any {
	args := make([]any, head, head+len(ids)+3)
	for _, id := range ids {
		args = append(args, *id.(*string))
	}
	return args
}

// release marks ids as no longer in flight here: the heartbeat stops
// renewing them.
func (s *subscription) release(ids []driver.AckID) {
	s.mu.Lock()
	for _, id := range ids {
		s.released[*id.(*string)] = struct{}{}
	}
	s.nRel.Store(int32(len(s.released)))
	s.mu.Unlock()
}

// unrelease marks ids as in flight here again (read or claimed back).
func (s *subscription) unrelease(ids []string) {
	s.mu.Lock()
	for _, id := range ids {
		delete(s.released, id)
	}
	s.nRel.Store(int32(len(s.released)))
	s.mu.Unlock()
}

// heartbeat renews this consumer's in-flight entries every claim-idle/3:
// XPENDING lists what Redis holds as delivered to this consumer and not
// acked, and XCLAIM … JUSTID to this consumer resets their idle time
// without counting a delivery, so that a slow handler or a long queue is
// not taken for a dead consumer. Released entries (nacked, or whose ack
// failed) are left to age.
func (s *subscription) heartbeat() {
	defer close(s.hbDone)
	every := s.d.cfg.claimIdle / 3
	tick := time.NewTicker(every)
	defer tick.Stop()
	bo := backoff.NewErrorLoop()
	for {
		select {
		case <-s.hbCtx.Done():
			return
		case <-tick.C:
		}
		if err := s.renew(); err != nil {
			if s.hbCtx.Err() != nil {
				return
			}
			bo.Fail(s.log, "redisstream: heartbeat failed; in-flight entries may be claimed by another member", err)
		} else {
			bo.OK(s.log, "redisstream: heartbeat recovered")
		}
	}
}

// renew runs one heartbeat pass.
func (s *subscription) renew() error {
	s.mu.Lock()
	var rel map[string]bool // released ids at the start of the pass → seen pending
	if len(s.released) > 0 {
		rel = make(map[string]bool, len(s.released))
		for id := range s.released {
			rel[id] = false
		}
	}
	s.mu.Unlock()
	start := "-"
	for {
		ctx, cancel := context.WithTimeout(s.hbCtx, cmdTimeout)
		pend, err := s.client.XPendingExt(ctx, &redis.XPendingExtArgs{
			Stream: s.stream, Group: s.group, Start: start, End: "+", Count: pendingPage, Consumer: s.consumer,
		}).Result()
		if err != nil {
			cancel()
			if isNoGroup(err) || errors.Is(err, redis.Nil) {
				return nil
			}
			return err
		}
		// Filter and renew under nackMu, so that a concurrent SendNacks
		// cannot have its entries renewed right after it made them idle.
		s.nackMu.Lock()
		ids := make([]string, 0, len(pend))
		s.mu.Lock()
		for _, p := range pend {
			if _, ok := rel[p.ID]; ok {
				rel[p.ID] = true
			}
			if _, ok := s.released[p.ID]; ok {
				continue
			}
			ids = append(ids, p.ID)
		}
		s.mu.Unlock()
		if len(ids) > 0 {
			// MIN-IDLE: an entry another member claimed a moment ago (idle
			// about 0) is not taken back; ours were renewed a period ago.
			err = s.client.XClaimJustID(ctx, &redis.XClaimArgs{
				Stream: s.stream, Group: s.group, Consumer: s.consumer, Messages: ids,
				MinIdle: s.d.cfg.claimIdle / 6,
			}).Err()
		}
		s.nackMu.Unlock()
		cancel()
		if err != nil && !errors.Is(err, redis.Nil) && !isNoGroup(err) {
			return err
		}
		if len(pend) < pendingPage {
			break
		}
		start = "(" + pend[len(pend)-1].ID
	}
	// Forget released ids that are no longer pending here (acked, or
	// claimed by another member).
	if len(rel) > 0 {
		s.mu.Lock()
		for id, seen := range rel {
			if !seen {
				delete(s.released, id)
			}
		}
		s.nRel.Store(int32(len(s.released)))
		s.mu.Unlock()
	}
	return nil
}

func (s *subscription) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close implements driver.Subscription: it stops the heartbeat (entries
// still pending here age and are claimed by another member after
// WithClaimIdle, or re-read at once by the next subscription of this
// consumer name), removes the consumer from its group if it owns no
// pending entry, and frees its name.
func (s *subscription) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.hbCancel()
	<-s.hbDone
	defer s.d.releaseConsumer(s.stream, s.group, s.consumer)
	ctx, cancel := context.WithTimeout(ctx, cmdTimeout)
	defer cancel()
	pend, err := s.client.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: s.stream, Group: s.group, Start: "-", End: "+", Count: 1, Consumer: s.consumer,
	}).Result()
	if err != nil || len(pend) > 0 {
		return nil // the consumer stays; a later subscription or XAUTOCLAIM handles its entries
	}
	_ = s.client.XGroupDelConsumer(ctx, s.stream, s.group, s.consumer).Err()
	return nil
}
