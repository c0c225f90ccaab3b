package transporttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/tradebus/tradebus/transport"
)

// Capabilities declares where a transport honestly differs from the full
// contract. The zero value claims none of the optional behaviours, and
// waits up to DefaultTimeout.
type Capabilities struct {
	// ParallelKeys: one subscription hands messages of different
	// partition keys to the handler concurrently (key-ordered concurrency
	// > 1). Run then requires that at least two keys are in flight at
	// once.
	ParallelKeys bool
	// OrderAfterNack: a nacked message is redelivered before any later
	// message of its partition key reaches the handler.
	OrderAfterNack bool
	// ConsumerGroupShare: two members of one group (same pattern) both
	// receive some of the messages. Without it Run only checks that the
	// group as a whole handles every message once.
	ConsumerGroupShare bool
	// OrderAcrossMembers: per-partition-key order holds within a group
	// even when it has several members (not only with one member).
	OrderAcrossMembers bool
	// DurableGroups: a group that exists keeps the messages published
	// while it has no member, and a message in flight when its member
	// goes away (subscription ctx cancelled) is delivered to the next
	// member of the group.
	DurableGroups bool
	// Timeout bounds every wait of the suite. Zero means DefaultTimeout.
	Timeout time.Duration
	// URL opens the transport with transport.Open (its driver package
	// imported), for the URL-option checks; "" skips them.
	URL string
	// Outage, if set, takes the broker away from the transports the
	// factory returns (for instance by cutting a proxy in between) and
	// returns a func that brings it back; nil skips the outage checks.
	Outage func(t *testing.T) (restore func())
	// OutageSkip, with Outage nil, says why the transport has no outage
	// to test (an in-process transport has no broker to lose); the
	// outage cases skip with it.
	OutageSkip string
	// GroupState, if set, asks the broker with its own client whether a
	// group's state exists, for the DeleteGroup checks; nil checks
	// DeleteGroup through Lag only.
	GroupState GroupStateFunc
	// LagUnknown names the GroupLag counts ("Pending", "InFlight",
	// "Unacked") the transport reports as transport.Unknown; the Lag case
	// checks that exactly these are Unknown.
	LagUnknown []string
	// LagPartitions: Lag details the backlog per partition.
	LagPartitions bool
	// KeepsHistory: transport.Read replays what was published
	// (Kafka, Redis Streams, JetStream), transport.Follow goes on with
	// what is published later, and messages carry a
	// transport.Position; without it Read and Follow must fail with
	// transport.ErrNotReplayable.
	KeepsHistory bool
}

// DefaultTimeout is the wait bound used when Capabilities.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Run runs the conformance suite as subtests of t. newTransport is called
// once per subtest, with the subtest's t, and must return a fresh
// Transport; closing it is left to the cleanup the factory registers.
// Run closes it earlier in two subtests (CloseDrains, and CloseDeadline
// where that first Close fails with the deadline): Close must be
// idempotent, and every later Close — the factory's cleanup included —
// must return nil.
func Run(t *testing.T, newTransport func(t *testing.T) transport.Transport, caps Capabilities) {
	t.Helper()
	if caps.Timeout <= 0 {
		caps.Timeout = DefaultTimeout
	}
	tests := []struct {
		name string
		fn   func(*env)
	}{
		{"PublishSubscribe", testPublishSubscribe},
		{"Wildcards", testWildcards},
		{"GroupsEachGetAll", testGroupsEachGetAll},
		{"GroupMembersShare", testGroupMembersShare},
		{"OrderPerKey", testOrderPerKey},
		{"NackRedelivers", testNackRedelivers},
		{"Metadata", testMetadata},
		{"SubscribeCancel", testSubscribeCancel},
		{"DurableGroup", testDurableGroup},
		{"CloseDrains", testCloseDrains},
		{"CloseDeadline", testCloseDeadline},
		{"InvalidKeys", testInvalidKeys},
		{"InvalidGroup", testInvalidGroup},
		{"OptionBounds", testOptionBounds},
		{"SecondClose", testSecondClose},
		{"PipelinedOrder", testPipelinedOrder},
		{"AsyncOutage", testAsyncOutage},
		{"Ping", testPing},
		{"Lag", testLag},
		{"DeleteGroup", testDeleteGroup},
		{"OpsInvalid", testOpsInvalid},
		{"ReplayToFailingGroup", testReplayToFailingGroup},
		{"ListDeadLetters", testListDeadLetters},
		{"History", testHistory},
		{"Follow", testFollow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(newEnv(t, newTransport(t), caps))
		})
	}
}

// env is one subtest's transport, kinds and helpers.
type env struct {
	t    *testing.T
	tr   transport.Transport
	caps Capabilities
	kind string // unique first key segment of this subtest
}

func newEnv(t *testing.T, tr transport.Transport, caps Capabilities) *env {
	if tr == nil {
		t.Fatal("transporttest: newTransport returned nil")
	}
	return &env{t: t, tr: tr, caps: caps, kind: UniqueName("tt")}
}

// UniqueName returns prefix followed by 12 random hex digits. With a
// prefix of ASCII letters and digits it is a valid routing-key segment,
// consumer group, queue, exchange, topic, stream and NATS name, so drivers
// can use it for the broker-side names of their test transports.
func UniqueName(prefix string) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return prefix + hex.EncodeToString(b[:])
}

// subscription is one Subscribe call of a test.
type subscription struct {
	ch     <-chan *message.Message
	sub    message.Subscriber
	cancel context.CancelFunc
}

// subscribe subscribes group to pattern with a ctx cancelled at cleanup.
func (e *env) subscribe(group, pattern string) *subscription {
	e.t.Helper()
	sub, err := e.tr.Subscriber(group)
	if err != nil {
		e.t.Fatalf("Subscriber(%q): %v", group, err)
	}
	e.t.Cleanup(func() { _ = sub.Close() })
	return e.subscribeWith(sub, pattern)
}

func (e *env) subscribeWith(sub message.Subscriber, pattern string) *subscription {
	e.t.Helper()
	if si, ok := sub.(message.SubscribeInitializer); ok {
		if err := si.SubscribeInitialize(pattern); err != nil {
			e.t.Fatalf("SubscribeInitialize(%q): %v", pattern, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	ch, err := sub.Subscribe(ctx, pattern)
	if err != nil {
		cancel()
		e.t.Fatalf("Subscribe(%q): %v", pattern, err)
	}
	return &subscription{ch: ch, sub: sub, cancel: cancel}
}

// newMessage returns a message with a fresh UUID, partition key pkey and
// the given payload.
func newMessage(pkey, payload string) *message.Message {
	msg := message.NewMessage(uuid.NewString(), []byte(payload))
	msg.Metadata.Set("partitionkey", pkey)
	return msg
}

// publish publishes msgs to key, bounded by the suite timeout.
func (e *env) publish(key string, msgs ...*message.Message) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e.caps.Timeout)
	defer cancel()
	for _, m := range msgs {
		m.SetContext(ctx)
	}
	if err := e.tr.Publisher().Publish(key, msgs...); err != nil {
		e.t.Fatalf("Publish(%q): %v", key, err)
	}
}

// consumer reads a channel until it is closed and runs handle for each
// message on its own goroutine, as Watermill's router does.
type consumer struct {
	done chan struct{}
	stop chan struct{} // closed at cleanup: blocking handlers must give up
}

func (e *env) consume(s *subscription, handle func(msg *message.Message, stop <-chan struct{})) *consumer {
	c := &consumer{done: make(chan struct{}), stop: make(chan struct{})}
	go func() {
		var wg sync.WaitGroup
		for msg := range s.ch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(msg, c.stop)
			}()
		}
		wg.Wait()
		close(c.done)
	}()
	e.t.Cleanup(func() {
		close(c.stop)
		s.cancel()
		select {
		case <-c.done:
		case <-time.After(e.caps.Timeout):
			e.t.Errorf("output channel not closed %s after its subscription ctx was cancelled", e.caps.Timeout)
		}
	})
	return c
}

// waitFor polls cond until it holds or the suite timeout passes.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(e.caps.Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %s waiting for %s", e.caps.Timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// recv returns the next message of ch or fails after the suite timeout.
func (e *env) recv(ch <-chan *message.Message, what string) *message.Message {
	e.t.Helper()
	select {
	case msg, ok := <-ch:
		if !ok {
			e.t.Fatalf("channel closed while waiting for %s", what)
		}
		return msg
	case <-time.After(e.caps.Timeout):
		e.t.Fatalf("timed out after %s waiting for %s", e.caps.Timeout, what)
		return nil
	}
}

// waitClosed reads ch until it is closed, nacking what arrives, or fails
// after the suite timeout.
func (e *env) waitClosed(ch <-chan *message.Message, what string) {
	e.t.Helper()
	timeout := time.After(e.caps.Timeout)
	for {
		select {
		case msg, ok := <-ch:
			if !ok {
				return
			}
			msg.Nack()
		case <-timeout:
			e.t.Fatalf("%s: output channel not closed after %s", what, e.caps.Timeout)
		}
	}
}

// record is a concurrency-safe record of handled messages.
type record struct {
	mu   sync.Mutex
	msgs []*message.Message
	seen map[string]int // UUID -> times handled
}

func newRecord() *record { return &record{seen: make(map[string]int)} }

func (l *record) add(msg *message.Message) {
	l.mu.Lock()
	l.msgs = append(l.msgs, msg)
	l.seen[msg.UUID]++
	l.mu.Unlock()
}

func (l *record) unique() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

func (l *record) snapshot() []*message.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*message.Message(nil), l.msgs...)
}

func (l *record) count(id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[id]
}
