package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/internal/decimals"
)

// subscription is one Subscribe call: one member of the Kafka consumer
// group GroupID(group, pattern) with its own client, consuming the
// pattern's kind topic. Its goroutines: the committer and kgo's own.
type subscription struct {
	d       *Driver
	cfg     *config
	pattern string
	kind    string
	topic   string
	groupID string
	cl      *kgo.Client

	mu      sync.Mutex
	parts   map[int32]*partitionState            // assigned partitions with fetched records
	rewinds map[int32]*partitionState            // nacked: seek back on the next poll
	wake    context.CancelFunc                   // ends the poll in progress, if any
	seek    map[string]map[int32]kgo.EpochOffset // scratch of applyRewinds
	fresh   []*kgo.Record                        // scratch of take

	ready     chan struct{}
	readyOnce sync.Once
	closing   chan struct{} // closed: revocations wait for nothing

	commitMu   sync.Mutex // serialises commits with revocations
	commitStop chan struct{}
	commitDone chan struct{}
}

// partitionState is the commit state of one assigned partition for one
// generation: from the first record fetched after it was assigned (or
// after it was rewound) until it is revoked, lost or rewound. The acks
// of an older generation are dropped.
type partitionState struct {
	partition int32

	mu        sync.Mutex
	tr        offsetTracker
	committed int64         // last committed offset, -1 if none by this member
	nacked    int           // pending records given back
	stale     bool          // revoked, lost or rewound: acks are dropped
	settled   chan struct{} // closed once every fetched record is acked or given back; nil until asked for
}

func newPartitionState(p int32) *partitionState {
	return &partitionState{partition: p, committed: -1}
}

// ackRef is the AckID of a record.
type ackRef struct {
	part   *partitionState
	offset int64
}

// signal closes settled if it was asked for and nothing is pending but
// records given back. p.mu is held.
func (p *partitionState) signal() {
	if p.settled != nil && p.tr.pending() == p.nacked {
		select {
		case <-p.settled:
		default:
			close(p.settled)
		}
	}
}

// allSettled returns a channel closed once every record fetched so far
// is acked or given back. Records are no longer fetched for a partition
// being revoked, so it closes when the fetched backlog is done.
func (p *partitionState) allSettled() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.settled == nil {
		p.settled = make(chan struct{})
		p.signal()
	}
	return p.settled
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

func (p *partitionState) markStale() {
	p.mu.Lock()
	p.stale = true
	p.mu.Unlock()
}

// Subscribe joins the Kafka consumer group GroupID(group, pattern) on the
// topic of pattern's kind (creating the topic unless WithoutTopicCreation)
// and returns once this member has joined (at most WithJoinTimeout); a new
// member may get its partitions a rebalance round later. A group that has
// never committed starts at the oldest retained record. Every record of
// the kind is received; the core skips those whose routing key does not
// match pattern (they count as handled).
func (d *Driver) Subscribe(ctx context.Context, group, pattern string) (driver.Subscription, error) {
	st, err := d.topic(pattern)
	if err != nil {
		return nil, err
	}
	joinCtx, cancel := context.WithTimeoutCause(ctx, d.cfg.joinTimeout, ErrJoinTimeout)
	defer cancel()
	if err := d.ensure(joinCtx, st); err != nil {
		return nil, fmt.Errorf("kafka: subscribe %q: %w", pattern, joinErr(joinCtx, err))
	}
	sub := &subscription{
		d:          d,
		cfg:        &d.cfg,
		pattern:    pattern,
		kind:       events.Kind(pattern),
		topic:      st.name,
		groupID:    GroupID(group, pattern),
		parts:      make(map[int32]*partitionState),
		rewinds:    make(map[int32]*partitionState),
		ready:      make(chan struct{}),
		closing:    make(chan struct{}),
		commitStop: make(chan struct{}),
		commitDone: make(chan struct{}),
	}
	// A revocation may wait up to the revoke timeout for acks, and then
	// commits: the rebalance timeout leaves room for both.
	rebalance := max(60*time.Second, d.cfg.revokeTimeout+cleanupTimeout+10*time.Second)
	opts := append(d.clientOpts(),
		kgo.ConsumerGroup(sub.groupID),
		kgo.ConsumeTopics(sub.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(sub.onAssigned),
		kgo.OnPartitionsRevoked(sub.onRevoked),
		kgo.OnPartitionsLost(sub.onLost),
		kgo.SessionTimeout(d.cfg.session),
		kgo.HeartbeatInterval(d.cfg.heartbeat),
		kgo.RebalanceTimeout(rebalance),
		kgo.FetchMaxBytes(int32(d.cfg.fetchMaxBytes)),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	sub.cl = cl
	go sub.commitLoop()
	select {
	case <-sub.ready:
		return sub, nil
	case <-joinCtx.Done():
		_ = sub.Close(context.Background())
		return nil, fmt.Errorf("kafka: subscribe %q as %q: %w", pattern, sub.groupID, joinErr(joinCtx, joinCtx.Err()))
	}
}

// joinErr prefers ErrJoinTimeout over a bare deadline error.
func joinErr(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, ErrJoinTimeout) {
		return ErrJoinTimeout
	}
	return err
}

// ReceiveBatch polls up to max records (kgo PollRecords, blocking for the
// first), registers each with its partition's offset tracker while
// rebalances are blocked — so that a revocation sees every record received
// before it — and returns them. A record fetched twice (a fetch repeated
// after a broker cut) is returned once.
func (sub *subscription) ReceiveBatch(ctx context.Context, max int) ([]*driver.Message, error) {
	for {
		pctx, cancel := context.WithCancel(ctx)
		sub.mu.Lock()
		if len(sub.rewinds) > 0 {
			cancel() // block rebalances, seek back, poll again
		} else {
			sub.wake = cancel
		}
		sub.mu.Unlock()
		fetches := sub.cl.PollRecords(pctx, max)
		sub.mu.Lock()
		sub.wake = nil
		sub.mu.Unlock()
		cancel()
		if fetches.IsClientClosed() {
			sub.cl.AllowRebalance()
			return nil, ErrClosed
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			sub.cfg.logger.Error("kafka: fetch failed", "err", err,
				"topic", topic, "partition", partition, "group", sub.groupID)
		})
		msgs := sub.take(fetches)
		sub.cl.AllowRebalance()
		if len(msgs) > 0 {
			return msgs, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// msgChunk is how many messages take allocates at once: 128 driver
// messages stay below the runtime's large-object size (32 KiB), whose
// allocation and release cost more per byte.
const msgChunk = 128

// take applies the rewinds asked for and turns the new records of
// fetches into messages. Rebalances are blocked.
func (sub *subscription) take(fetches kgo.Fetches) []*driver.Message {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	rewound := sub.applyRewinds()
	n := fetches.NumRecords()
	if n == 0 {
		return nil
	}
	refs := make([]ackRef, n) // one allocation for every ack id
	out := make([]*driver.Message, 0, n)
	var msgs []driver.Message
	for _, f := range fetches {
		for ti := range f.Topics {
			t := &f.Topics[ti]
			if t.Topic != sub.topic {
				continue
			}
			for pi := range t.Partitions {
				fp := &t.Partitions[pi]
				if len(fp.Records) == 0 {
					continue
				}
				if _, ok := rewound[fp.Partition]; ok {
					continue // fetched before the seek: it comes again
				}
				p := sub.parts[fp.Partition]
				if p == nil {
					p = newPartitionState(fp.Partition)
					sub.parts[fp.Partition] = p
				}
				// One critical section for the partition's records; a
				// record received before (a repeated fetch) is skipped.
				fresh := sub.fresh[:0]
				p.mu.Lock()
				for _, r := range fp.Records {
					if p.tr.add(r.Offset, r.LeaderEpoch) {
						fresh = append(fresh, r)
					}
				}
				p.mu.Unlock()
				for _, r := range fresh {
					if len(msgs) == 0 {
						msgs = make([]driver.Message, min(msgChunk, n-len(out)))
					}
					m := &msgs[0]
					msgs = msgs[1:]
					decode(r, sub.kind, m, "") // Offset below, one allocation for all
					i := len(out)
					refs[i] = ackRef{part: p, offset: r.Offset}
					m.AckID = &refs[i]
					out = append(out, m)
				}
				clear(fresh) // keep no record alive
				sub.fresh = fresh
			}
		}
	}
	decimals.Carve(len(out), func(i int) uint64 { return uint64(refs[i].offset) },
		func(i int, offset string) { out[i].Position.Offset = offset })
	return out
}

// applyRewinds seeks every partition with records given back to its
// first record not acked, starting a new generation of its state, and
// returns those partitions (nil if none). sub.mu is held and rebalances
// are blocked.
func (sub *subscription) applyRewinds() map[int32]*partitionState {
	if len(sub.rewinds) == 0 {
		return nil
	}
	rewound := sub.rewinds
	sub.rewinds = make(map[int32]*partitionState)
	if sub.seek == nil {
		sub.seek = map[string]map[int32]kgo.EpochOffset{sub.topic: {}}
	}
	seek := sub.seek[sub.topic]
	clear(seek)
	for part, p := range rewound {
		if sub.parts[part] != p {
			delete(rewound, part) // revoked (or rewound) since
			continue
		}
		next := newPartitionState(part)
		p.mu.Lock()
		off, ok := p.tr.firstPending()
		p.stale = true
		next.tr.next, next.tr.epoch, next.tr.has = p.tr.next, p.tr.epoch, p.tr.has
		next.committed = p.committed
		p.mu.Unlock()
		if !ok {
			delete(rewound, part)
			continue
		}
		sub.parts[part] = next
		seek[part] = kgo.EpochOffset{Epoch: -1, Offset: off}
	}
	if len(seek) > 0 {
		sub.cl.SetOffsets(sub.seek)
	}
	return rewound
}

// SendAcks marks the records acked; the committer commits the contiguous
// acked prefix of each partition every WithCommitInterval (and on
// revocation and Close). Acks of a partition's older generation (revoked,
// lost, rewound) are dropped: its records went or go again to the group.
func (sub *subscription) SendAcks(_ context.Context, ids []driver.AckID) error {
	var p *partitionState
	for _, id := range ids {
		ref := id.(*ackRef)
		if ref.part != p {
			if p != nil {
				p.signal()
				p.mu.Unlock()
			}
			p = ref.part
			p.mu.Lock()
		}
		if !p.stale {
			p.tr.ack(ref.offset)
		}
	}
	if p != nil {
		p.signal()
		p.mu.Unlock()
	}
	return nil
}

// SendNacks gives records back: their partition's commit point stays
// before them, and the partition is sought back to its first record not
// acked on the next poll, so they (and the records after them) are
// received again; if the partition moves first, its next owner gets them.
func (sub *subscription) SendNacks(_ context.Context, ids []driver.AckID) error {
	var nacked []*partitionState
	for _, id := range ids {
		ref := id.(*ackRef)
		p := ref.part
		p.mu.Lock()
		if !p.stale && p.tr.nack(ref.offset) {
			p.nacked++
			p.signal()
			if len(nacked) == 0 || nacked[len(nacked)-1] != p {
				nacked = append(nacked, p)
			}
		}
		p.mu.Unlock()
	}
	if len(nacked) == 0 {
		return nil
	}
	sub.mu.Lock()
	for _, p := range nacked {
		sub.rewinds[p.partition] = p
	}
	if sub.wake != nil {
		sub.wake()
	}
	sub.mu.Unlock()
	return nil
}

// onAssigned marks the member joined: Subscribe returns. It may have got
// no partition yet (in a cooperative rebalance a new member gets its
// share one round later, or never if the group has more members than
// partitions).
func (sub *subscription) onAssigned(context.Context, *kgo.Client, map[string][]int32) {
	sub.readyOnce.Do(func() { close(sub.ready) })
}

// onRevoked runs in kgo's group goroutine before the partitions move (no
// more records of them are fetched, and no poll runs): wait until the
// records already received are acked or given back — within the revoke
// timeout, not at all while closing — then commit the acked prefix and
// drop the partitions' state. So a rebalance hands the next owner exactly
// the unhandled rest, keeping each key's order; past the timeout the
// acks still to come are dropped and the next owner gets those records
// again.
func (sub *subscription) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	parts := sub.takeParts(revoked[sub.topic])
	if len(parts) == 0 {
		return
	}
	timer := time.NewTimer(sub.cfg.revokeTimeout)
	defer timer.Stop()
wait:
	for _, p := range parts {
		select {
		case <-p.allSettled():
		case <-sub.closing:
			break wait
		case <-timer.C:
			break wait
		}
	}
	for _, p := range parts {
		p.markStale() // nothing more to count: commit what is acked
	}
	if err := sub.commit(parts); err != nil {
		sub.cfg.logger.Error("kafka: commit on revoke failed; the next owner may redeliver acked messages",
			"err", err, "group", sub.groupID, "topic", sub.topic)
	}
	sub.dropParts(parts)
}

// onLost: the partitions are gone (session expired, fenced); committing
// would fail. Their records go to the next owner.
func (sub *subscription) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	parts := sub.takeParts(lost[sub.topic])
	for _, p := range parts {
		p.markStale()
	}
	sub.dropParts(parts)
}

// takeParts returns the states of the given partitions.
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
		delete(sub.rewinds, p.partition)
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
					"group", sub.groupID, "topic", sub.topic, "err", err)
			}
		case <-sub.commitStop:
			return
		}
	}
}

// commit commits the acked prefix of parts that moved since the last
// commit, in one request.
func (sub *subscription) commit(parts []*partitionState) error {
	sub.commitMu.Lock()
	defer sub.commitMu.Unlock()
	var offsets map[int32]kgo.EpochOffset
	var byPart map[int32]*partitionState
	for _, p := range parts {
		if eo, ok := p.toCommit(); ok {
			if offsets == nil {
				offsets = make(map[int32]kgo.EpochOffset)
				byPart = make(map[int32]*partitionState)
			}
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

// Close commits the acked prefix of every partition, leaves the group
// (its partitions go to the other members at once) and closes the
// client. Records received and not acked are received again by the group.
func (sub *subscription) Close(context.Context) error {
	close(sub.closing)
	close(sub.commitStop)
	<-sub.commitDone
	err := sub.commit(sub.allParts())
	if err != nil {
		err = fmt.Errorf("final commit (acked messages may be redelivered): %w", err)
	}
	leaveCtx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	_ = sub.cl.LeaveGroupContext(leaveCtx) // runs onRevoked: commits what is left
	cancel()
	sub.cl.CloseAllowingRebalance()
	return err
}
