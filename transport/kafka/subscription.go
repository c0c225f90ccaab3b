package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/internal/keyed"
)

// subscription is one Subscribe call: one member of a Kafka consumer group
// with its own client. Its goroutines: the poll loop (fetch, filter, hand
// to the keyed pool), the committer, the pool's lanes (deliver and wait for
// the ack), and kgo's own.
type subscription struct {
	s       *Subscriber
	t       *Transport
	cfg     *config
	pattern string
	kind    string
	topic   string
	groupID string

	cl      *kgo.Client
	pool    *keyed.Pool
	out     chan *message.Message
	maxPoll int

	msgCtx    context.Context // parent of every message's context
	msgCancel context.CancelFunc
	afterCtx  func() bool // unregisters the Subscribe ctx watcher

	draining  chan struct{} // closed: hand out nothing new, redeliver nothing
	aborting  chan struct{} // closed: abandon messages in flight
	drainOnce sync.Once
	abortOnce sync.Once

	pollCtx    context.Context
	pollCancel context.CancelFunc
	pollDone   chan struct{}
	commitStop chan struct{}
	commitDone chan struct{}

	mu        sync.Mutex
	parts     map[int32]*partitionState
	ready     chan struct{}
	readyOnce sync.Once

	commitMu sync.Mutex // serialises commits with revocations

	stopOnce sync.Once
	done     chan struct{}
}

// partitionState is the delivery and commit state of one assigned
// partition. A revoked or lost partition's state is discarded; if the
// partition comes back, a new state starts from the committed offset.
type partitionState struct {
	partition int32

	mu        sync.Mutex
	tr        offsetTracker
	committed int64 // last committed offset, -1 if none by this member
	stopped   bool  // revoked or lost: hand out nothing more
	inflight  int   // messages being handed out or with the handler
	idle      chan struct{}
	drained   chan struct{} // closed once every fetched record is acked; nil until asked for
	stop      chan struct{} // closed with stopped
	abort     chan struct{} // closed: abandon the messages in flight
	abortOnce sync.Once
}

func newPartitionState(p int32) *partitionState {
	idle := make(chan struct{})
	close(idle)
	return &partitionState{partition: p, committed: -1, idle: idle,
		stop: make(chan struct{}), abort: make(chan struct{})}
}

// begin registers a message about to be handed out; false once the
// partition is stopped.
func (p *partitionState) begin() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return false
	}
	if p.inflight == 0 {
		p.idle = make(chan struct{})
	}
	p.inflight++
	return true
}

func (p *partitionState) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inflight--
	if p.inflight == 0 {
		close(p.idle)
	}
}

// markStopped stops hand-outs and returns a channel closed once nothing of
// the partition is in flight.
func (p *partitionState) markStopped() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopped {
		p.stopped = true
		close(p.stop)
	}
	return p.idle
}

func (p *partitionState) abandon() { p.abortOnce.Do(func() { close(p.abort) }) }

func (p *partitionState) add(offset int64, epoch int32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tr.add(offset, epoch)
}

func (p *partitionState) ack(offset int64) {
	p.mu.Lock()
	p.tr.ack(offset)
	if p.drained != nil && p.tr.pending() == 0 {
		select {
		case <-p.drained:
		default:
			close(p.drained)
		}
	}
	p.mu.Unlock()
}

// allAcked returns a channel closed once every record fetched so far is
// acked (or filtered out). Records are no longer fetched for a partition
// being revoked, so it closes when the fetched backlog is done.
func (p *partitionState) allAcked() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drained == nil {
		p.drained = make(chan struct{})
		if p.tr.pending() == 0 {
			close(p.drained)
		}
	}
	return p.drained
}

// toCommit returns the offset to commit if it is past the committed one.
func (p *partitionState) toCommit() (kgo.EpochOffset, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	off, epoch, ok := p.tr.committable()
	if !ok || off <= p.committed {
		return kgo.EpochOffset{}, false
	}
	return kgo.EpochOffset{Epoch: epoch, Offset: off}, true
}

func (p *partitionState) setCommitted(off int64) {
	p.mu.Lock()
	p.committed = max(p.committed, off)
	p.mu.Unlock()
}

// delivery is one matching record on its way to the handler.
type delivery struct {
	rec  *kgo.Record
	part *partitionState
	msg  *message.Message // first delivery's message (decoded when polled)
	key  string
}

func newSubscription(ctx context.Context, s *Subscriber, pattern, topic string) (*subscription, error) {
	t := s.t
	sub := &subscription{
		s:          s,
		t:          t,
		cfg:        &t.cfg,
		pattern:    pattern,
		kind:       events.Kind(pattern),
		topic:      topic,
		groupID:    GroupID(s.group, pattern),
		pool:       keyed.New(t.cfg.concurrency),
		out:        make(chan *message.Message),
		maxPoll:    max(t.cfg.concurrency, 256),
		draining:   make(chan struct{}),
		aborting:   make(chan struct{}),
		pollDone:   make(chan struct{}),
		commitStop: make(chan struct{}),
		commitDone: make(chan struct{}),
		parts:      make(map[int32]*partitionState),
		ready:      make(chan struct{}),
		done:       make(chan struct{}),
	}
	// Rebalances must finish within the rebalance timeout; a revoke waits
	// up to the close timeout for messages in flight.
	rebalance := max(60*time.Second, t.cfg.closeTimeout+cleanupTimeout+10*time.Second)
	opts := append(t.clientOpts(),
		kgo.ConsumerGroup(sub.groupID),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(sub.onAssigned),
		kgo.OnPartitionsRevoked(sub.onRevoked),
		kgo.OnPartitionsLost(sub.onLost),
		kgo.SessionTimeout(t.cfg.session),
		kgo.HeartbeatInterval(t.cfg.heartbeat),
		kgo.RebalanceTimeout(rebalance),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	sub.cl = cl
	sub.msgCtx, sub.msgCancel = context.WithCancel(ctx)
	sub.pollCtx, sub.pollCancel = context.WithCancel(context.Background())
	return sub, nil
}

// start runs the poll loop and the committer and watches the Subscribe
// ctx.
func (sub *subscription) start() {
	go sub.poll()
	go sub.commitLoop()
	sub.afterCtx = context.AfterFunc(sub.msgCtx, func() {
		_ = sub.stop(context.Background(), true)
	})
}

func (sub *subscription) markReady() { sub.readyOnce.Do(func() { close(sub.ready) }) }

func (sub *subscription) isDraining() bool {
	select {
	case <-sub.draining:
		return true
	default:
		return false
	}
}

func (sub *subscription) abort() { sub.abortOnce.Do(func() { close(sub.aborting) }) }

// poll fetches records, registers them with their partition's offset
// tracker while rebalances are blocked (so a revocation sees every record
// polled before it), then hands the matching ones to the keyed pool.
func (sub *subscription) poll() {
	defer close(sub.pollDone)
	var batch []*delivery
	for {
		fetches := sub.cl.PollRecords(sub.pollCtx, sub.maxPoll)
		if sub.pollCtx.Err() != nil || fetches.IsClientClosed() {
			sub.cl.AllowRebalance()
			return
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			sub.cfg.logger.Error("kafka: fetch failed", err, watermill.LogFields{
				"topic": topic, "partition": partition, "group": sub.groupID})
		})
		batch = batch[:0]
		sub.mu.Lock()
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Topic != sub.topic {
				return
			}
			p := sub.parts[r.Partition]
			if p == nil {
				p = newPartitionState(r.Partition)
				sub.parts[r.Partition] = p
			}
			if !p.add(r.Offset, r.LeaderEpoch) {
				return // already seen: a duplicate fetch
			}
			d := decode(r, sub.kind)
			if !events.MatchPattern(sub.pattern, d.route) {
				p.ack(r.Offset) // filtered out: handled
				return
			}
			msg := message.NewMessage(d.uuid, r.Value)
			msg.Metadata = d.metadata
			batch = append(batch, &delivery{rec: r, part: p, msg: msg, key: d.metadata[events.MetaPartitionKey]})
		})
		sub.mu.Unlock()
		sub.cl.AllowRebalance()
		for i, d := range batch {
			if err := sub.pool.Submit(sub.pollCtx, d.key, func() { sub.deliver(d) }); err != nil {
				clear(batch[i:])
				return
			}
			batch[i] = nil
		}
	}
}

// deliver hands d to the handler until it is acked, redelivering after a
// backoff on nack. It gives up, leaving the offset uncommitted, when the
// partition is revoked or the subscription stops.
func (sub *subscription) deliver(d *delivery) {
	backoff := sub.cfg.backoff
	msg := d.msg
	for {
		if sub.isDraining() || !d.part.begin() {
			return
		}
		if msg == nil {
			dd := decode(d.rec, sub.kind)
			msg = message.NewMessage(dd.uuid, d.rec.Value)
			msg.Metadata = dd.metadata
		}
		ctx, cancel := context.WithCancel(sub.msgCtx)
		msg.SetContext(ctx)
		select {
		case sub.out <- msg:
		case <-sub.draining:
			cancel()
			d.part.end()
			return
		case <-d.part.stop:
			cancel()
			d.part.end()
			return
		}
		acked := false
		select {
		case <-msg.Acked():
			acked = true
		case <-msg.Nacked():
		case <-sub.aborting:
		case <-d.part.abort:
		}
		cancel()
		if acked {
			d.part.ack(d.rec.Offset)
		}
		d.part.end()
		if acked {
			return
		}
		msg = nil
		timer := time.NewTimer(backoff)
		select {
		case <-timer.C:
		case <-sub.draining:
			timer.Stop()
			return
		case <-d.part.stop:
			timer.Stop()
			return
		}
		backoff = min(backoff*redeliveryBackoffMultiplier, sub.cfg.backoffMax)
	}
}

// onAssigned marks the member joined: Subscribe returns. It may have got
// no partition yet (in a cooperative rebalance a new member gets its
// share one round later, or never if the group has more members than
// partitions).
func (sub *subscription) onAssigned(context.Context, *kgo.Client, map[string][]int32) {
	sub.markReady()
}

// onRevoked runs in kgo's group goroutine before the partitions move (no
// more records of them are fetched): finish the records already fetched
// — within the close timeout, or at once while the subscription is
// stopping — then commit the acked prefix and forget the partitions. So a
// rebalance hands the next owner exactly the unhandled rest, keeping each
// key's order; what is not acked in time is abandoned and redelivered.
func (sub *subscription) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	parts := sub.takeParts(revoked[sub.topic])
	if len(parts) == 0 {
		return
	}
	timer := time.NewTimer(sub.cfg.closeTimeout)
	defer timer.Stop()
	expired := false
	for _, p := range parts {
		if !expired {
			select {
			case <-p.allAcked():
				continue
			case <-sub.draining:
			case <-timer.C:
				expired = true
			}
		}
		// Hand out nothing more; wait for what the handler holds.
		idle := p.markStopped()
		if !expired {
			select {
			case <-idle:
				continue
			case <-timer.C:
				expired = true
			case <-sub.aborting:
			}
		}
		p.abandon()
	}
	if err := sub.commit(parts); err != nil {
		sub.cfg.logger.Error("kafka: commit on revoke failed; the next owner may redeliver acked messages", err,
			watermill.LogFields{"group": sub.groupID, "topic": sub.topic})
	}
	sub.dropParts(parts)
}

// onLost: the partitions are gone (session expired, fenced); committing
// would fail. Abandon what is in flight.
func (sub *subscription) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	parts := sub.takeParts(lost[sub.topic])
	for _, p := range parts {
		p.markStopped()
		p.abandon()
	}
	sub.dropParts(parts)
}

// takeParts returns the states of the given partitions (nil for a nil
// list: all of them).
func (sub *subscription) takeParts(partitions []int32) []*partitionState {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	var parts []*partitionState
	for _, p := range partitions {
		if st := sub.parts[p]; st != nil {
			parts = append(parts, st)
		}
	}
	return parts
}

func (sub *subscription) dropParts(parts []*partitionState) {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	for _, p := range parts {
		if sub.parts[p.partition] == p {
			delete(sub.parts, p.partition)
		}
	}
}

func (sub *subscription) allParts() []*partitionState {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	parts := make([]*partitionState, 0, len(sub.parts))
	for _, p := range sub.parts {
		parts = append(parts, p)
	}
	return parts
}

func (sub *subscription) commitLoop() {
	defer close(sub.commitDone)
	tick := time.NewTicker(sub.cfg.commitEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if err := sub.commit(sub.allParts()); err != nil {
				sub.cfg.logger.Info("kafka: periodic commit failed, retrying at the next interval",
					watermill.LogFields{"group": sub.groupID, "topic": sub.topic, "error": err.Error()})
			}
		case <-sub.commitStop:
			return
		}
	}
}

// commit commits the acked prefix of parts that moved since the last
// commit.
func (sub *subscription) commit(parts []*partitionState) error {
	sub.commitMu.Lock()
	defer sub.commitMu.Unlock()
	offsets := make(map[int32]kgo.EpochOffset)
	byPart := make(map[int32]*partitionState)
	for _, p := range parts {
		if eo, ok := p.toCommit(); ok {
			offsets[p.partition] = eo
			byPart[p.partition] = p
		}
	}
	if len(offsets) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	var errs []error
	sub.cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{sub.topic: offsets},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				errs = append(errs, err)
				return
			}
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
						errs = append(errs, fmt.Errorf("partition %d: %w", rp.Partition, err))
						continue
					}
					if p := byPart[rp.Partition]; p != nil {
						p.setCommitted(offsets[rp.Partition].Offset)
					}
				}
			}
		})
	if len(errs) > 0 {
		return fmt.Errorf("kafka: commit %s for group %q: %w", sub.topic, sub.groupID, errors.Join(errs...))
	}
	return nil
}

// stop ends the subscription: drain (or abort), commit, leave the group,
// close the channel. It waits until that is done; if ctx ends first the
// messages in flight are abandoned and the error wraps ctx.Err().
func (sub *subscription) stop(ctx context.Context, abort bool) error {
	if abort {
		sub.abort()
	}
	sub.stopOnce.Do(func() { go sub.shutdown() })
	select {
	case <-sub.done:
		return nil
	case <-ctx.Done():
		sub.abort()
		<-sub.done
		return fmt.Errorf("kafka: subscription %q of group %q: messages in flight not acked: %w",
			sub.pattern, sub.groupID, ctx.Err())
	}
}

func (sub *subscription) shutdown() {
	if sub.afterCtx != nil {
		sub.afterCtx()
	}
	sub.drainOnce.Do(func() { close(sub.draining) })
	sub.pollCancel()
	<-sub.pollDone
	// Every stop caller aborts at its deadline, so this returns.
	_ = sub.pool.Wait(context.Background())
	close(sub.commitStop)
	<-sub.commitDone
	if err := sub.commit(sub.allParts()); err != nil {
		sub.cfg.logger.Error("kafka: final commit failed; acked messages may be redelivered", err,
			watermill.LogFields{"group": sub.groupID, "topic": sub.topic})
	}
	leaveCtx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	_ = sub.cl.LeaveGroupContext(leaveCtx) // runs onRevoked: nothing left in flight
	cancel()
	sub.cl.CloseAllowingRebalance()
	sub.msgCancel()
	close(sub.out)
	sub.s.remove(sub)
	close(sub.done)
}
