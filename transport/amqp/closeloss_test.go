package amqp_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/amqp"
)

// TestCloseMidStreamLosesNothing stops subscriptions of one group in the
// middle of a stream, again and again and in every way the core has, and
// counts every message: none may be acked without having been handled.
// Each cycle takes k messages (random) and then:
//   - cancel: cancels the Subscribe ctx, then reads what is still
//     delivered without acking it (it must come back);
//   - close: closes the Subscriber while the reader keeps acking what it
//     gets (acks racing the stop, and the held acks' flush);
//   - consume: cancels a Consume whose handlers (8 keys at once) are still
//     running, one in twenty failing (nacks, multiple with the held acks);
//   - cut: cuts the connection under a subscription (the channel is
//     reopened, delivery tags restart at 1, acks of the old channel are
//     void), takes k more, then closes.
//
// A final subscriber then reads until every message was seen.
func TestCloseMidStreamLosesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p, viaProxy := proxyFor(t, e.url, "", nil)
	// Messages the broker drops (over the delivery limit) go to a
	// dead-letter queue instead, to tell them from messages acked by
	// mistake.
	dlx, dlq := e.exchange+"-dlx", e.exchange+"-dlq"
	e.clean.exchange(dlx)
	e.clean.queue(dlq)
	opts := []any{transport.WithCloseTimeout(200 * time.Millisecond), transport.WithConcurrency(8), amqp.WithDeadLetterExchange(dlx)}
	tr := e.transport(t, opts...)
	trCut := e.transportURL(t, viaProxy, opts...)
	const (
		group   = "loss"
		pattern = "loss.#"
		n       = 3000
	)
	newSub := func(tr recTransport) message.Subscriber {
		sub, err := tr.Subscriber(group)
		if err != nil {
			t.Fatal(err)
		}
		return sub
	}
	init := newSub(tr)
	if err := init.(message.SubscribeInitializer).SubscribeInitialize(pattern); err != nil {
		t.Fatal(err)
	}
	_ = init.Close()
	adm := admin(t, e.url)
	if _, err := adm.QueueDeclare(dlq, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := adm.QueueBind(dlq, "#", dlx, false, nil); err != nil {
		t.Fatal(err)
	}
	ids := publishAllTo(t, tr.Publisher(), "loss.x", n, 8)

	c := newCounter(n)
	rnd := rand.New(rand.NewPCG(1, 2))
	modes := map[string]int{}
	dupsBy := map[string]int{} // duplicates seen in the cycles of each mode
	// read takes k messages from ch (acking each), or fewer if ch closes
	// or nothing comes for a long while (then dry is set: the cycles
	// stop).
	dry := false
	var maxCount atomic.Int64 // the highest x-delivery-count seen
	note := func(m *message.Message) {
		c.add(m.UUID)
		n, _ := strconv.Atoi(m.Metadata.Get("x-delivery-count"))
		for {
			cur := maxCount.Load()
			if int64(n) <= cur || maxCount.CompareAndSwap(cur, int64(n)) {
				break
			}
		}
	}
	read := func(ch <-chan *message.Message, k int) {
		for range k {
			select {
			case m, ok := <-ch:
				if !ok {
					return
				}
				note(m)
				m.Ack()
			case <-time.After(20 * time.Second):
				dry = true
				return
			}
		}
	}
	for cycle := 0; cycle < 400 && !dry; cycle++ {
		if distinct, _, _ := c.stats(); distinct == n {
			break
		}
		k := 1 + rnd.IntN(150)
		mode := [...]string{"cancel", "close", "consume", "cut"}[cycle%4]
		modes[mode]++
		_, dupsBefore, _ := c.stats()
		switch mode {
		case "cancel":
			sub := newSub(tr)
			ctx, cancel := context.WithCancel(context.Background())
			ch, err := sub.Subscribe(ctx, pattern)
			if err != nil {
				t.Fatal(err)
			}
			read(ch, k)
			cancel()
			for range ch { // handed out, never acked: must come back
			}
			_ = sub.Close()
		case "close":
			sub := newSub(tr)
			ch, err := sub.Subscribe(context.Background(), pattern)
			if err != nil {
				t.Fatal(err)
			}
			read(ch, k)
			var wg sync.WaitGroup
			wg.Go(func() { _ = sub.Close() })
			for m := range ch {
				note(m)
				m.Ack()
			}
			wg.Wait()
		case "consume":
			sub := newSub(tr).(*recSubscriber)
			ctx, cancel := context.WithCancel(context.Background())
			var handled atomic.Int64
			wait, err := sub.Consume(ctx, pattern, func(m *message.Message) ([]*message.Message, error) {
				if rand.IntN(20) == 0 {
					return nil, errors.New("transient")
				}
				note(m)
				if handled.Add(1) == int64(k) {
					cancel()
				}
				return nil, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// Stop after k, or after a while if the queue ran dry.
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(k) * 20 * time.Millisecond):
				cancel()
			}
			_ = wait() // may report messages given back: not an error here
			_ = sub.Close()
		case "cut":
			sub := newSub(trCut)
			ch, err := sub.Subscribe(context.Background(), pattern)
			if err != nil {
				t.Fatal(err)
			}
			read(ch, k)
			p.Drop()
			read(ch, k)
			var wg sync.WaitGroup
			wg.Go(func() { _ = sub.Close() })
			for m := range ch {
				note(m)
				m.Ack()
			}
			wg.Wait()
		}
		_, dupsAfter, _ := c.stats()
		dupsBy[mode] += dupsAfter - dupsBefore
	}

	// What the broker dropped at the delivery limit is in the dead-letter
	// queue: counted apart.
	dead := map[string]bool{}
	takeDead := func() {
		for {
			d, ok, err := adm.Get(dlq, true)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				return
			}
			dead[d.MessageId] = true
		}
	}
	missing := func() []string {
		c.mu.Lock()
		defer c.mu.Unlock()
		var ids2 []string
		for _, id := range ids {
			if c.seen[id] == 0 && !dead[id] {
				ids2 = append(ids2, id)
			}
		}
		return ids2
	}
	if distinct, _, _ := c.stats(); distinct < n {
		sub := newSub(tr)
		ch, err := sub.Subscribe(context.Background(), pattern)
		if err != nil {
			t.Fatal(err)
		}
		wg := consumeAll(ch, c)
		// Until every message was handled or dead-lettered.
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
			takeDead()
			if len(missing()) == 0 {
				break
			}
			select {
			case <-c.all:
			case <-time.After(100 * time.Millisecond):
			}
		}
		_ = sub.Close()
		wg.Wait()
	}
	takeDead()
	distinct, dups, total := c.stats()
	lost := missing()
	if len(lost) > 0 {
		q, err := adm.QueueDeclarePassive(tr.QueueName(group, pattern), true, false, false, false, nil)
		t.Logf("queue: %d ready, %d consumers (%v); cycles %v", q.Messages, q.Consumers, err, modes)
		t.Fatalf("%d of %d messages lost (acked without being handled): %v", len(lost), n, lost)
	}
	t.Logf("%d messages: %d handled (%d distinct, %d duplicates), %d dropped at the delivery limit, highest x-delivery-count seen %d; cycles %v; duplicates seen in cycles of each mode %v",
		n, total, distinct, dups, len(dead), maxCount.Load(), modes, dupsBy)
}

// publishAllTo publishes n messages with routing key key (16 partition
// keys) in confirmed batches of 100 from workers goroutines, and returns
// their ids.
func publishAllTo(t *testing.T, pub message.Publisher, key string, n, workers int) []string {
	t.Helper()
	ids := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				lo := int(next.Add(100)) - 100
				if lo >= n {
					return
				}
				hi := min(lo+100, n)
				msgs := make([]*message.Message, 0, hi-lo)
				for i := lo; i < hi; i++ {
					m := newMsg(key, "S"+strconv.Itoa(i%16))
					ids[i] = m.UUID
					msgs = append(msgs, m)
				}
				if err := pub.Publish(key, msgs...); err != nil {
					t.Errorf("publish: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	return ids
}

// TestGiveBackCountsOnce: messages a subscription gives back when it stops
// (nacked with requeue) must not be delivered to it again before its
// channel closes, which would count a second return towards the quorum
// queue's delivery limit (x-delivery-count 2 after one stop), and so
// drop them after half the stops WithDeliveryLimit means.
func TestGiveBackCountsOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tr := e.transport(t, transport.WithCloseTimeout(200*time.Millisecond))
	const pattern, n = "back.#", 200
	sub, err := tr.Subscriber("back")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.(message.SubscribeInitializer).SubscribeInitialize(pattern); err != nil {
		t.Fatal(err)
	}
	publishAllTo(t, tr.Publisher(), "back.x", n, 1)

	ctx, cancel := context.WithCancel(context.Background())
	ch, err := sub.Subscribe(ctx, pattern)
	if err != nil {
		t.Fatal(err)
	}
	first := receive(t, ch, 1, 30*time.Second)[0]
	cancel() // the rest the core holds is given back
	for range ch {
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}

	sub2, err := tr.Subscriber("back")
	if err != nil {
		t.Fatal(err)
	}
	defer sub2.Close()
	ch2, err := sub2.Subscribe(context.Background(), pattern)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, m := range receive(t, ch2, n-1, 30*time.Second) {
		if m.UUID == first.UUID {
			t.Fatalf("acked message %s delivered again", m.UUID)
		}
		c, _ := strconv.Atoi(m.Metadata.Get("x-delivery-count"))
		counts[strconv.Itoa(c)]++
		if c > 1 {
			t.Errorf("message %s: x-delivery-count %d after one stop, want at most 1", m.UUID, c)
		}
	}
	t.Logf("x-delivery-count after one stop: %v", counts)
}
