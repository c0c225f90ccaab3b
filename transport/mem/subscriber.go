package mem

import (
	"context"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
)

// Subscriber consumes as one consumer group. It is safe for concurrent use.
// The zero value is not usable; get one from Transport.Subscriber or
// Transport.NewSubscriber.
type Subscriber struct {
	t     *Transport
	group string

	mu      sync.Mutex
	closed  bool
	members map[*member]struct{}
}

// Subscribe joins the subscription queue (group, topic) as a new member and
// returns its output channel. topic is a pattern ('*' one segment, '#' zero
// or more; the first segment concrete). The queue is created on first use
// and lives until the Transport is closed; it receives every message
// published after its creation, also while it has no member.
//
// Each delivered message has a fresh context derived from ctx, cancelled
// once the message is acked or nacked or the member ends. The channel is
// closed when ctx is done, the Subscriber or the Transport is closed. A
// message delivered but not yet acked when the member ends goes to another
// member (or the next one to join) — it is not lost.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if err := events.ValidatePattern(topic); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	q, err := s.t.queue(s.group, topic)
	if err != nil {
		return nil, err
	}
	m, err := s.t.addMember(ctx, q)
	if err != nil {
		return nil, err
	}
	m.sub = s
	s.members[m] = struct{}{}
	go m.run()
	return m.out, nil
}

// SubscribeInitialize creates the subscription queue (group, topic) without
// joining it, so that messages published from now on are kept for the
// group. It implements message.SubscribeInitializer.
func (s *Subscriber) SubscribeInitialize(topic string) error {
	if err := events.ValidatePattern(topic); err != nil {
		return err
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	_, err := s.t.queue(s.group, topic)
	return err
}

// Close ends every member started by this Subscriber and waits until their
// output channels are closed. Messages they held unacked go to other
// members. The group's queues stay. Close is idempotent.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	s.closed = true
	ms := make([]*member, 0, len(s.members))
	for m := range s.members {
		ms = append(ms, m)
	}
	s.mu.Unlock()
	for _, m := range ms {
		m.cancel()
	}
	for _, m := range ms {
		<-m.done
	}
	return nil
}

// member is one Subscribe call: it takes deliveries from its queue's
// handoff and passes them to its consumer.
type member struct {
	q      *queue
	sub    *Subscriber
	ctx    context.Context
	cancel context.CancelFunc
	stopAf func() bool
	out    chan *message.Message
	done   chan struct{}

	// sending is held (read) by every send on out; run closes out under
	// the write lock, after cancelling ctx, which ends every send.
	sending sync.RWMutex
}

func newMember(ctx context.Context, q *queue) *member {
	mctx, cancel := context.WithCancel(ctx)
	return &member{
		q:      q,
		ctx:    mctx,
		cancel: cancel,
		stopAf: context.AfterFunc(q.t.stopCtx, cancel),
		out:    make(chan *message.Message),
		done:   make(chan struct{}),
	}
}

func (m *member) run() {
	defer m.q.t.wg.Done()
	defer func() {
		m.sub.mu.Lock()
		delete(m.sub.members, m)
		m.sub.mu.Unlock()
	}()
	defer close(m.done)
	defer func() {
		m.sending.Lock()
		close(m.out)
		m.sending.Unlock()
	}()
	defer m.q.leave(m)
	defer m.stopAf()
	defer m.cancel()
	m.q.join(m)
	for {
		select {
		case d := <-m.q.handoff:
			h := m.give(d.msg)
			d.res <- h
			if h.m == nil && m.ctx.Err() != nil {
				return
			}
		case <-m.ctx.Done():
			return
		}
	}
}

// give passes msg to the member's consumer with a fresh context. It
// returns handed{} if the member ended or Close started first (the
// caller's select may pick a member that is ending: nothing new is
// delivered then).
func (m *member) give(msg *message.Message) handed {
	m.sending.RLock()
	defer m.sending.RUnlock()
	if m.ctx.Err() != nil || m.q.t.isClosing() {
		return handed{}
	}
	ctx, cancel := context.WithCancel(m.ctx)
	msg.SetContext(ctx)
	select {
	case m.out <- msg:
		return handed{m: m, cancel: cancel}
	case <-m.q.t.drainCtx.Done():
		// Closing: hand it back undelivered.
		cancel()
		return handed{}
	case <-m.ctx.Done():
		cancel()
		return handed{}
	}
}
