package amqp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tradebus/tradebus/transport/driver"
)

// Subscribe declares the group's durable queue for pattern ("<exchange>.
// <group>.<pattern>"), binds it to the exchange with pattern, and returns
// a subscription consuming it on a channel of its own. The first
// connection attempt happens here (one, bounded by ctx) and its failure is
// returned, as is a broker refusal to declare (e.g. PRECONDITION_FAILED for
// a queue that exists with other arguments, as an *amqp091.Error).
func (d *Driver) Subscribe(ctx context.Context, group, pattern string) (driver.Subscription, error) {
	queue, err := d.checkQueue(group, pattern)
	if err != nil {
		return nil, err
	}
	s := &subscription{
		d:       d,
		queue:   queue,
		pattern: pattern,
		log:     d.cfg.logger.With(slog.String("queue", queue)),
	}
	sess, err := s.open(ctx, false)
	if err != nil {
		return nil, err
	}
	s.sess = sess
	return s, nil
}

// subscription consumes one queue, across reconnects: each AMQP channel it
// consumes on is a session, replaced when it dies.
type subscription struct {
	d       *Driver
	queue   string
	pattern string
	log     *slog.Logger

	// Only ReceiveBatch (one goroutine at a time) and Close (after it)
	// replace sess; SendAcks reads it under mu.
	mu   sync.Mutex
	sess *session
	buf  []amqp.Delivery // ReceiveBatch's, reused

	settleMu sync.Mutex // SendAcks and SendNacks, one at a time
	tags     []uint64   // theirs, reused
}

// session is one AMQP channel consuming the queue. Delivery tags are
// channel-scoped: acks of a dead session's tags are void (the broker
// redelivers those messages) and dropped.
type session struct {
	ch         *amqp.Channel
	deliveries <-chan amqp.Delivery // nil until the first ReceiveBatch

	// settleMu orders settlements: the frames of one are sent before the
	// next is planned.
	settleMu sync.Mutex

	// tag is the current consumer's tag (set before Consume, read by
	// cancel); consumers counts the consumers started on the channel.
	tag       string
	consumers int

	mu       sync.Mutex
	dead     bool
	canceled bool    // the consumer was cancelled (basic.cancel) by a nack
	ledger   *ledger // the tags handed out and not settled with the broker
}

// ackID is a delivery tag of a session; the core gets a pointer to it.
type ackID struct {
	sess *session
	tag  uint64
}

// open connects (retrying until ctx ends if retry, else once), declares
// the topology and returns a session that does not consume yet.
func (s *subscription) open(ctx context.Context, retry bool) (*session, error) {
	var (
		conn *amqp.Connection
		err  error
	)
	if retry {
		conn, err = s.d.subConn.connect(ctx)
	} else {
		conn, err = s.d.subConn.tryConnect(ctx)
	}
	if err != nil {
		return nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("%w: open channel: %w", ErrConnection, err)
	}
	if err := s.d.declareSubscription(ch, s.queue, s.pattern); err != nil {
		_ = ch.Close()
		return nil, err
	}
	return &session{ch: ch, ledger: newLedger(1)}, nil
}

// consumerTag names the one consumer of each subscription channel (tags
// are per channel). It is short because it travels with every delivery;
// amqp091-go's generated tags hold the program's path.
const consumerTag = "tradebus"

// consume starts consuming on sess with a prefetch of WithPrefetch, or
// twice max.
func (s *subscription) consume(sess *session, max int) error {
	prefetch := s.d.cfg.prefetch
	if prefetch == 0 {
		prefetch = min(2*max, maxPrefetch)
	}
	// Acks wait for a quarter of the window at most: the broker keeps
	// delivering while they do. (The ledger stays: after a cancel, it
	// holds the tags the core still has.)
	sess.mu.Lock()
	sess.ledger.hold = prefetch / 4
	if sess.ledger.hold < 1 {
		sess.ledger.hold = 1
	}
	sess.mu.Unlock()
	if err := sess.ch.Qos(prefetch, 0, false); err != nil {
		return fmt.Errorf("%w: set prefetch: %w", ErrConnection, err)
	}
	// A consumer started again after a cancel gets a tag of its own: a
	// quorum queue would take the old tag for the cancelled consumer,
	// which still holds its unacked deliveries, and count them against
	// the new one's prefetch.
	tag := consumerTag
	if sess.consumers > 0 {
		tag += "." + strconv.Itoa(sess.consumers)
	}
	sess.consumers++
	sess.mu.Lock()
	sess.tag = tag
	sess.mu.Unlock()
	deliveries, err := sess.ch.Consume(s.queue, tag, false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("amqp: consume %q: %w", s.queue, err)
	}
	sess.deliveries = deliveries
	return nil
}

// kill marks sess dead and closes its channel (unacked deliveries return
// to the queue).
func (sess *session) kill() {
	sess.mu.Lock()
	sess.dead = true
	sess.ledger.reset()
	sess.mu.Unlock()
	_ = sess.ch.Close()
}

// session returns a live, consuming session, reopening it (waiting for a
// reconnect within ctx) after the last one died.
func (s *subscription) session(ctx context.Context, max int) (*session, error) {
	s.mu.Lock()
	sess := s.sess
	s.mu.Unlock()
	if sess == nil {
		if s.d.isClosed() {
			return nil, ErrClosed
		}
		s.log.Warn("amqp: consumer channel closed; resubscribing")
		var err error
		if sess, err = s.open(ctx, true); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		s.mu.Lock()
		s.sess = sess
		s.mu.Unlock()
		defer s.log.Info("amqp: consuming again")
	}
	if sess.deliveries == nil {
		if err := s.consume(sess, max); err != nil {
			s.drop(sess)
			return nil, err
		}
	}
	return sess, nil
}

// drop kills sess and forgets it, so that the next ReceiveBatch reopens.
func (s *subscription) drop(sess *session) {
	sess.kill()
	s.mu.Lock()
	if s.sess == sess {
		s.sess = nil
	}
	s.mu.Unlock()
}

// ReceiveBatch waits for the first delivery (reopening the channel after
// it died, within ctx) and returns it with whatever else the broker has
// already pushed, up to max.
func (s *subscription) ReceiveBatch(ctx context.Context, max int) ([]*driver.Message, error) {
	buf := s.buf[:0]
	for len(buf) == 0 {
		sess, err := s.session(ctx, max)
		if err != nil {
			return nil, err
		}
		select {
		case dl, ok := <-sess.deliveries:
			if !ok {
				if sess.consumeAgain() {
					continue
				}
				s.drop(sess)
				continue
			}
			buf = append(buf, dl)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	more:
		for len(buf) < max {
			select {
			case dl, ok := <-sess.deliveries:
				if !ok {
					break more // the next call reopens
				}
				buf = append(buf, dl)
			default:
				break more
			}
		}
		return s.batch(sess, buf), nil
	}
	return nil, nil // unreachable
}

// delivered is a driver message with its ack id: batch allocates them
// together.
type delivered struct {
	msg driver.Message
	id  ackID
}

// batch turns deliveries into driver messages (one allocation for the
// messages and their ack ids, one for the pointers) and records their tags
// as outstanding.
func (s *subscription) batch(sess *session, buf []amqp.Delivery) []*driver.Message {
	n := len(buf)
	items := make([]delivered, n)
	ptrs := make([]*driver.Message, n)
	sess.mu.Lock()
	if !sess.dead {
		for i := range buf {
			sess.ledger.add(buf[i].DeliveryTag)
		}
	}
	sess.mu.Unlock()
	for i := range buf {
		it := &items[i]
		it.id = ackID{sess: sess, tag: buf[i].DeliveryTag}
		fromDelivery(&buf[i], &it.msg)
		it.msg.AckID = &it.id
		ptrs[i] = &it.msg
		buf[i] = amqp.Delivery{} // do not keep the body
	}
	s.buf = buf[:0]
	return ptrs
}

// SendAcks acks the deliveries: where the acked tags are the oldest
// outstanding ones of their channel, one basic.ack with multiple=true
// covers them; the others are acked one by one. Tags of a channel that
// died since are dropped (the broker redelivers those messages).
func (s *subscription) SendAcks(_ context.Context, ids []driver.AckID) error {
	return s.settle(ids, false)
}

// SendNacks returns the deliveries to the queue (basic.nack with requeue;
// batched like SendAcks). A quorum queue counts this as a delivery
// towards WithDeliveryLimit.
func (s *subscription) SendNacks(_ context.Context, ids []driver.AckID) error {
	return s.settle(ids, true)
}

func (s *subscription) settle(ids []driver.AckID, nack bool) error {
	s.settleMu.Lock()
	defer s.settleMu.Unlock()
	var (
		err   error
		sess  *session
		start int
	)
	tags := s.tags[:0]
	for _, id := range ids {
		a, ok := id.(*ackID)
		if !ok {
			return fmt.Errorf("amqp: foreign ack id %T", id)
		}
		if a.sess != sess {
			if sess != nil {
				err = errors.Join(err, sess.settle(tags[start:], nack))
			}
			sess, start = a.sess, len(tags)
		}
		tags = append(tags, a.tag)
	}
	if sess != nil {
		err = errors.Join(err, sess.settle(tags[start:], nack))
	}
	s.tags = tags[:0]
	return err
}

// settle records the acks or nacks of tags with the ledger and sends the
// frames it plans. Before the first nack, it cancels the consumer: the
// core nacks only when it stops, and a consumer still active would be
// sent the requeued messages again at once, to hold them unread until the
// channel closes. A quorum queue counts each return towards the delivery
// limit: the nack and the close would count twice.
func (sess *session) settle(tags []uint64, nack bool) error {
	slices.Sort(tags)
	if nack {
		if err := sess.cancel(); err != nil {
			return err
		}
	}
	return sess.send(func(l *ledger) []settleFrame { return l.settle(tags, nack) })
}

// cancel cancels the session's consumer (once) and waits for the
// broker's cancel-ok: no delivery comes after it. Deliveries sent before
// it and not yet read are dropped by amqp091-go (they stay unacked, and
// return to the queue when the channel closes); the deliveries channel
// closes.
func (sess *session) cancel() error {
	sess.mu.Lock()
	if sess.dead || sess.canceled {
		sess.mu.Unlock()
		return nil
	}
	sess.canceled = true
	tag := sess.tag
	sess.mu.Unlock()
	if err := sess.ch.Cancel(tag, false); err != nil {
		if sess.ch.IsClosed() {
			return nil // the broker returns everything
		}
		return fmt.Errorf("amqp: cancel consumer: %w", err)
	}
	return nil
}

// consumeAgain reports whether the deliveries channel closed because a
// nack cancelled the consumer; then the next session call consumes again
// on the same channel (the ledger keeps the tags the core holds).
func (sess *session) consumeAgain() bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if !sess.canceled || sess.dead {
		return false
	}
	sess.canceled = false
	sess.deliveries = nil
	return true
}

// flush sends the acks the ledger holds back.
func (sess *session) flush() error {
	return sess.send((*ledger).flush)
}

// send sends the frames plan returns, unless sess is dead.
func (sess *session) send(plan func(*ledger) []settleFrame) error {
	sess.settleMu.Lock()
	defer sess.settleMu.Unlock()
	sess.mu.Lock()
	if sess.dead {
		sess.mu.Unlock()
		return nil
	}
	frames := plan(sess.ledger)
	sess.mu.Unlock()
	// frames stays valid: only send, under settleMu, plans again.
	for _, f := range frames {
		var err error
		if f.nack {
			err = sess.ch.Nack(f.tag, f.multiple, true)
		} else {
			err = sess.ch.Ack(f.tag, f.multiple)
		}
		if err != nil {
			if sess.ch.IsClosed() {
				return nil // void tags: the broker redelivers
			}
			return fmt.Errorf("amqp: settle deliveries: %w", err)
		}
	}
	return nil
}

// Close sends the acks held back and closes the subscription's channel:
// deliveries not acked return to the queue.
func (s *subscription) Close(context.Context) error {
	s.mu.Lock()
	sess := s.sess
	s.sess = nil
	s.mu.Unlock()
	if sess == nil {
		return nil
	}
	err := sess.flush()
	sess.kill()
	return err
}
