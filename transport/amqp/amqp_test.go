package amqp_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/amqp"
	"github.com/tradebus/tradebus/transport/driver"
)

func newMsg(routingKey, partitionKey string) *message.Message {
	id := uuid.Must(uuid.NewV7()).String()
	m := message.NewMessage(id, []byte(`{"n":1}`))
	m.Metadata.Set(events.MetaID, id)
	m.Metadata.Set(events.MetaRoutingKey, routingKey)
	if partitionKey != "" {
		m.Metadata.Set(events.MetaPartitionKey, partitionKey)
	}
	return m
}

func subscribe(t *testing.T, tr recTransport, group, pattern string) <-chan *message.Message {
	t.Helper()
	sub, err := tr.Subscriber(group)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := sub.Subscribe(context.Background(), pattern)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// receive reads n messages, acking each, or fails after timeout.
func receive(t *testing.T, ch <-chan *message.Message, n int, timeout time.Duration) []*message.Message {
	t.Helper()
	var got []*message.Message
	deadline := time.After(timeout)
	for len(got) < n {
		select {
		case m, ok := <-ch:
			if !ok {
				t.Fatalf("channel closed after %d of %d messages", len(got), n)
			}
			got = append(got, m)
			m.Ack()
		case <-deadline:
			t.Fatalf("received %d of %d messages in %s", len(got), n, timeout)
		}
	}
	return got
}

// quiet asserts that nothing arrives on ch for d.
func quiet(t *testing.T, ch <-chan *message.Message, d time.Duration) {
	t.Helper()
	select {
	case m := <-ch:
		t.Fatalf("unexpected message %s (metadata %v)", m.UUID, m.Metadata)
	case <-time.After(d):
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tr := e.transport(t)
	patterns := map[string]string{
		"btc":    "trade.*.BTCUSDT",
		"trades": "trade.#",
		"bin":    "ticker.binance.*",
		"all":    "ticker.#",
	}
	subs := map[string]<-chan *message.Message{}
	for group, pattern := range patterns {
		subs[group] = subscribe(t, tr, group, pattern)
	}
	keys := []string{"trade.binance.BTCUSDT", "trade.kraken.BTCUSDT", "trade.binance.ETHUSDT",
		"ticker.binance.BTCUSDT", "ticker.kraken.BTCUSDT", "ticker"}
	for _, k := range keys {
		if err := tr.Publisher().Publish(k, newMsg(k, "")); err != nil {
			t.Fatal(err)
		}
	}
	for group, pattern := range patterns {
		var want []string
		for _, k := range keys {
			if events.MatchPattern(pattern, k) {
				want = append(want, k)
			}
		}
		got := receive(t, subs[group], len(want), 10*time.Second)
		var gotKeys []string
		for _, m := range got {
			gotKeys = append(gotKeys, m.Metadata.Get(events.MetaRoutingKey))
		}
		sort.Strings(want)
		sort.Strings(gotKeys)
		if !slices.Equal(want, gotKeys) {
			t.Errorf("group %s (%s): got %v, want %v", group, pattern, gotKeys, want)
		}
		quiet(t, subs[group], 100*time.Millisecond)
	}
}

// TestRoutingKeyFromBroker: a message without routingkey metadata gets the
// delivery's routing key.
func TestRoutingKeyFromBroker(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tr := e.transport(t)
	ch := subscribe(t, tr, "g", "order.#")
	m := message.NewMessage(uuid.NewString(), []byte("x"))
	if err := tr.Publisher().Publish("order.binance.BTCUSDT", m); err != nil {
		t.Fatal(err)
	}
	got := receive(t, ch, 1, 10*time.Second)[0]
	if got.UUID != m.UUID || got.Metadata.Get(events.MetaRoutingKey) != "order.binance.BTCUSDT" {
		t.Fatalf("got uuid %s metadata %v", got.UUID, got.Metadata)
	}
}

// TestMessageMapping checks the AMQP properties a raw consumer sees and the
// metadata round trip.
func TestMessageMapping(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tr := e.transport(t)
	adm := admin(t, e.url)
	rawQ := "tbtest-raw-" + randSuffix()
	e.clean.queue(rawQ)
	if err := tr.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.QueueDeclare(rawQ, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := adm.QueueBind(rawQ, "trade.#", e.exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	ch := subscribe(t, tr, "g", "trade.#")

	occurred := time.Date(2026, 3, 4, 5, 6, 7, 891011121, time.UTC)
	m := newMsg("trade.binance.BTCUSDT", "BTCUSDT")
	m.Metadata.Set(events.MetaDataContentType, events.ContentTypeJSON)
	m.Metadata.Set(events.MetaCorrelationID, "corr-1")
	m.Metadata.Set(events.MetaType, "tradebus.trade.v1")
	m.Metadata.Set(events.MetaTime, occurred.Format(time.RFC3339Nano))
	m.Metadata.Set(events.MetaSpecVersion, events.SpecVersion)
	m.Metadata.Set("custom", "ünïcode value")
	if err := tr.Publisher().Publish("trade.binance.BTCUSDT", m); err != nil {
		t.Fatal(err)
	}

	var d amqp091.Delivery
	for deadline := time.Now().Add(10 * time.Second); ; {
		var ok bool
		var err error
		d, ok, err = adm.Get(rawQ, true)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("raw queue got nothing")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d.MessageId != m.Metadata.Get(events.MetaID) || d.ContentType != events.ContentTypeJSON ||
		d.CorrelationId != "corr-1" || d.Type != "tradebus.trade.v1" ||
		d.DeliveryMode != amqp091.Persistent || !d.Timestamp.Equal(occurred.Truncate(time.Second)) ||
		d.RoutingKey != "trade.binance.BTCUSDT" {
		t.Errorf("properties: %+v", d)
	}
	// Metadata travel as headers, except what the properties and the
	// routing key above carry.
	carried := map[string]bool{events.MetaDataContentType: true, events.MetaCorrelationID: true, events.MetaRoutingKey: true}
	for k, v := range m.Metadata {
		if carried[k] {
			if h, ok := d.Headers[k]; ok {
				t.Errorf("header %s = %#v sent, the properties carry it", k, h)
			}
		} else if d.Headers[k] != v {
			t.Errorf("header %s = %#v, want %q", k, d.Headers[k], v)
		}
	}

	got := receive(t, ch, 1, 10*time.Second)[0]
	if got.UUID != m.UUID || string(got.Payload) != string(m.Payload) {
		t.Errorf("got %s %q", got.UUID, got.Payload)
	}
	if len(got.Metadata) != len(m.Metadata) {
		t.Errorf("metadata %v, want %v", got.Metadata, m.Metadata)
	}
	for k, v := range m.Metadata {
		if got.Metadata[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, got.Metadata[k], v)
		}
	}
}

// TestForeignHeaders: a message from another producer with headers of every
// AMQP type is consumed once with string metadata, not rejected in a loop.
func TestForeignHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tr := e.transport(t)
	ch := subscribe(t, tr, "g", "signal.#")
	adm := admin(t, e.url)
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	headers := amqp091.Table{
		"int":     int32(-7),
		"long":    int64(1) << 40,
		"bool":    true,
		"float":   3.5,
		"time":    ts,
		"bytes":   []byte{0xff, 0x00},
		"decimal": amqp091.Decimal{Scale: 2, Value: -12345},
		"table":   amqp091.Table{"a": int32(1), "b": "x"},
		"array":   []any{"x", int32(2)},
		"void":    nil,
		"text":    "plain",
	}
	err := adm.PublishWithContext(context.Background(), e.exchange, "signal.foo", false, false, amqp091.Publishing{
		Headers: headers, Body: []byte("hello"), ContentType: "text/plain", CorrelationId: "c9",
	})
	if err != nil {
		t.Fatal(err)
	}
	got := receive(t, ch, 1, 10*time.Second)[0]
	want := map[string]string{
		"int": "-7", "long": "1099511627776", "bool": "true", "float": "3.5", "time": "2026-01-02T03:04:05Z",
		"bytes": "/wA=", "decimal": "-123.45", "table": `{"a":1,"b":"x"}`, "array": `["x",2]`, "void": "",
		"text": "plain", events.MetaRoutingKey: "signal.foo", events.MetaDataContentType: "text/plain",
		events.MetaCorrelationID: "c9",
	}
	for k, v := range want {
		if got.Metadata[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, got.Metadata[k], v)
		}
	}
	if _, err := uuid.Parse(got.UUID); err != nil {
		t.Errorf("message without message_id got UUID %q", got.UUID)
	}
	quiet(t, ch, 300*time.Millisecond)
}

// TestKeyOrderedConcurrency: up to WithConcurrency messages are out at once,
// never two of one partition key, each key in publish order, and acks may
// complete out of order.
func TestKeyOrderedConcurrency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tr := e.transport(t, transport.WithConcurrency(8))
	ch := subscribe(t, tr, "g", "book.#")
	const keys, perKey = 6, 40
	var msgs []*message.Message
	for i := range perKey {
		for k := range keys {
			m := newMsg("book.x.S"+strconv.Itoa(k), "S"+strconv.Itoa(k))
			m.Metadata.Set("seq", strconv.Itoa(i))
			msgs = append(msgs, m)
		}
	}
	if err := tr.Publisher().Publish("book.x.any", msgs...); err != nil {
		t.Fatal(err)
	}

	var (
		mu       sync.Mutex
		inFlight = map[string]bool{}
		maxOut   int
		out      int
		next     = map[string]int{}
		wg       sync.WaitGroup
	)
	deadline := time.After(30 * time.Second)
	for range len(msgs) {
		select {
		case m := <-ch:
			key := m.Metadata.Get(events.MetaPartitionKey)
			seq, _ := strconv.Atoi(m.Metadata.Get("seq"))
			mu.Lock()
			if inFlight[key] {
				t.Errorf("two messages of key %s at once", key)
			}
			if seq != next[key] {
				t.Errorf("key %s: got seq %d, want %d", key, seq, next[key])
			}
			next[key] = seq + 1
			inFlight[key] = true
			out++
			maxOut = max(maxOut, out)
			mu.Unlock()
			wg.Go(func() {
				// Later keys finish first: acks complete out of order.
				time.Sleep(time.Duration(keys-int(key[1]-'0')) * time.Millisecond)
				mu.Lock()
				inFlight[key] = false
				out--
				mu.Unlock()
				m.Ack()
			})
		case <-deadline:
			t.Fatal("timeout")
		}
	}
	wg.Wait()
	if maxOut < 2 || maxOut > keys {
		t.Errorf("max messages out at once = %d, want 2..%d", maxOut, keys)
	}
	quiet(t, ch, 200*time.Millisecond)
}

// driverSub subscribes group to pattern on the driver directly (no core),
// closing the subscription at the end of the test.
func driverSub(t *testing.T, tr recTransport, group, pattern string) driver.Subscription {
	t.Helper()
	tr.clean.queue(tr.QueueName(group, pattern))
	sub, err := tr.drv.Subscribe(context.Background(), group, pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close(context.Background()) })
	return sub
}

// receiveDriver reads n messages from a driver subscription.
func receiveDriver(t *testing.T, sub driver.Subscription, n int) []*driver.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []*driver.Message
	for len(got) < n {
		batch, err := sub.ReceiveBatch(ctx, n-len(got))
		if err != nil {
			t.Fatalf("after %d of %d messages: %v", len(got), n, err)
		}
		got = append(got, batch...)
	}
	return got
}

// TestNackDeliveryLimitDeadLetter: messages given back with SendNacks
// (what the core does with what it did not hand out when it stops) are
// redelivered with a growing delivery count until the delivery limit,
// then dead-lettered.
func TestNackDeliveryLimitDeadLetter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dlx := e.exchange + "-dlx"
	e.clean.exchange(dlx)
	tr := e.transport(t, amqp.WithDeliveryLimit(2), amqp.WithDeadLetterExchange(dlx))
	sub := driverSub(t, tr, "g", "exec.#")
	adm := admin(t, e.url)
	dead := "tbtest-dead-" + randSuffix()
	e.clean.queue(dead)
	if _, err := adm.QueueDeclare(dead, true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := adm.QueueBind(dead, "#", dlx, false, nil); err != nil {
		t.Fatal(err)
	}
	m := newMsg("exec.binance.BTCUSDT", "BTCUSDT")
	if err := tr.Publisher().Publish("exec.binance.BTCUSDT", m); err != nil {
		t.Fatal(err)
	}
	var counts []int
	for range 3 {
		got := receiveDriver(t, sub, 1)[0]
		if got.UUID != m.UUID || got.Key != "exec.binance.BTCUSDT" || got.PartitionKey != "BTCUSDT" {
			t.Fatalf("got %+v", got)
		}
		counts = append(counts, got.Deliveries)
		if err := sub.SendNacks(context.Background(), []driver.AckID{got.AckID}); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(counts, []int{1, 2, 3}) {
		t.Errorf("Deliveries of the deliveries: %v", counts)
	}

	var d amqp091.Delivery
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var ok bool
		var err error
		if d, ok, err = adm.Get(dead, true); err != nil {
			t.Fatal(err)
		} else if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing dead-lettered")
		}
	}
	if d.MessageId != m.UUID || d.RoutingKey != "exec.binance.BTCUSDT" || d.Headers["x-death"] == nil {
		t.Errorf("dead letter: id %s key %s headers %v", d.MessageId, d.RoutingKey, d.Headers)
	}
}

// TestDriverAcks: acks of the oldest outstanding deliveries (one multiple
// ack), of deliveries behind a gap (single acks), nacks in between, and
// acks of a dead channel's tags (dropped) leave exactly the unacked
// messages in the queue.
func TestDriverAcks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tr := e.transport(t)
	sub := driverSub(t, tr, "g", "acks.#")
	const n = 20
	var msgs []*message.Message
	for range n {
		msgs = append(msgs, newMsg("acks.x.y", ""))
	}
	if err := tr.Publisher().Publish("acks.x.y", msgs...); err != nil {
		t.Fatal(err)
	}
	got := receiveDriver(t, sub, n)
	for i, m := range got {
		if m.UUID != msgs[i].UUID || m.Deliveries != 1 {
			t.Fatalf("message %d: %s (deliveries %d), want %s", i, m.UUID, m.Deliveries, msgs[i].UUID)
		}
	}
	ids := func(ms ...*driver.Message) []driver.AckID {
		var a []driver.AckID
		for _, m := range ms {
			a = append(a, m.AckID)
		}
		return a
	}
	ctx := context.Background()
	// 0-4 (a prefix: one multiple ack), 7 and 9 (behind a gap), 8 back.
	if err := sub.SendAcks(ctx, ids(got[4], got[0], got[1], got[2], got[3], got[7], got[9])); err != nil {
		t.Fatal(err)
	}
	if err := sub.SendNacks(ctx, ids(got[8])); err != nil {
		t.Fatal(err)
	}
	again := receiveDriver(t, sub, 1)[0]
	if again.UUID != msgs[8].UUID || again.Deliveries != 2 {
		t.Fatalf("redelivered %s (deliveries %d), want %s", again.UUID, again.Deliveries, msgs[8].UUID)
	}
	// 5, 6 (now the oldest), 10-14 and the redelivered 8.
	if err := sub.SendAcks(ctx, ids(append([]*driver.Message{got[5], got[6], again}, got[10:15]...)...)); err != nil {
		t.Fatal(err)
	}
	// 15-19 stay unacked: a new subscription of the group gets them after
	// this one's channel closed; acks of the old tags are dropped.
	if err := sub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sub.SendAcks(ctx, ids(got[15])); err != nil {
		t.Errorf("ack on a closed channel: %v", err)
	}
	sub2 := driverSub(t, tr, "g", "acks.#")
	rest := receiveDriver(t, sub2, 5)
	for i, m := range rest {
		if m.UUID != msgs[15+i].UUID {
			t.Errorf("left %d: %s, want %s", i, m.UUID, msgs[15+i].UUID)
		}
	}
	if err := sub2.SendAcks(ctx, ids(rest...)); err != nil {
		t.Fatal(err)
	}
	if err := sub2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	q, err := admin(t, e.url).QueueDeclarePassive(tr.QueueName("g", "acks.#"), true, false, false, false,
		amqp091.Table{"x-queue-type": "quorum"})
	if err != nil {
		t.Fatal(err)
	}
	if q.Messages != 0 {
		t.Errorf("queue holds %d messages", q.Messages)
	}
}

// TestHeaderTooLarge: a message whose metadata does not fit the
// negotiated frame is refused before anything is sent, and the
// connection survives.
func TestHeaderTooLarge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tr := e.transport(t)
	if err := tr.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	caps := tr.drv.Capabilities()
	// RabbitMQ 3.8–3.13 or 4.x defaults (the test broker keeps them).
	if caps.MaxHeaderBytes <= 0 || caps.MaxHeaderBytes >= 131072 || (caps.MaxMessageBytes != 128<<20 && caps.MaxMessageBytes != 16<<20) {
		t.Errorf("capabilities %+v", caps)
	}
	// Under the core's limit but, with many entries, over the frame.
	m := newMsg("big.x.y", "")
	for i, size := 0, transport.MetadataSize(m.Metadata); size < caps.MaxHeaderBytes-64; i++ {
		k := strconv.Itoa(i)
		m.Metadata.Set(k, "v")
		size += len(k) + 1
	}
	err := tr.Publisher().Publish("big.x.y", m)
	if !errors.Is(err, transport.ErrTooLarge) {
		t.Fatalf("publish of %d metadata bytes in %d entries: %v", transport.MetadataSize(m.Metadata), len(m.Metadata), err)
	}
	m = newMsg("big.x.y", "")
	m.Metadata.Set("huge", strings.Repeat("x", caps.MaxHeaderBytes+1))
	if err := tr.Publisher().Publish("big.x.y", m); !errors.Is(err, transport.ErrTooLarge) {
		t.Fatalf("publish of a huge header: %v", err)
	}
	if err := tr.Publisher().Publish("big.x.y", newMsg("big.x.y", "")); err != nil {
		t.Fatal(err)
	}

	// At the driver, past the core's margin: a header frame of exactly
	// frame_max bytes is sent (the broker would close the connection if
	// the size were underestimated), one byte more is refused.
	sub := driverSub(t, tr, "g", "big.#")
	frame := 131072
	dm := &driver.Message{UUID: uuid.NewString(), Key: "big.x.y", Payload: []byte("x"),
		Metadata: map[string]string{events.MetaRoutingKey: "big.x.y", "pad": ""}}
	dm.Metadata["pad"] = strings.Repeat("p", frame-amqp.HeaderFrameSize(dm))
	if n := amqp.HeaderFrameSize(dm); n != frame {
		t.Fatalf("header frame of %d bytes", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.drv.Topic().SendBatch(ctx, []*driver.Message{dm}); err != nil {
		t.Fatalf("header frame of frame_max bytes: %v", err)
	}
	if got := receiveDriver(t, sub, 1)[0]; got.UUID != dm.UUID || len(got.Metadata["pad"]) != len(dm.Metadata["pad"]) {
		t.Errorf("got %s with %d pad bytes", got.UUID, len(got.Metadata["pad"]))
	}
	dm.Metadata["pad"] += "p"
	if err := tr.drv.Topic().SendBatch(ctx, []*driver.Message{dm}); !errors.Is(err, transport.ErrTooLarge) {
		t.Fatalf("header frame of frame_max+1 bytes: %v", err)
	}
	if err := tr.Publisher().Publish("big.x.y", newMsg("big.x.y", "")); err != nil {
		t.Fatalf("publish after: %v", err)
	}
}

func TestPriorities(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tr := e.transport(t, amqp.WithMaxPriority(9), transport.WithConcurrency(1), amqp.WithPrefetch(1))
	sub, err := tr.Subscriber("g")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.(message.SubscribeInitializer).SubscribeInitialize("order.#"); err != nil {
		t.Fatal(err)
	}
	var msgs []*message.Message
	for _, p := range []string{"1", "1", "9", "5"} {
		m := newMsg("order.x.y", "")
		m.Metadata.Set(amqp.MetaPriority, p)
		msgs = append(msgs, m)
	}
	if err := tr.Publisher().Publish("order.x.y", msgs...); err != nil {
		t.Fatal(err)
	}
	ch, err := sub.Subscribe(context.Background(), "order.#")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range receive(t, ch, 4, 10*time.Second) {
		got = append(got, m.Metadata.Get(amqp.MetaPriority))
	}
	if !slices.Equal(got, []string{"9", "5", "1", "1"}) {
		t.Errorf("priorities in delivery order: %v", got)
	}

	bad := newMsg("order.x.y", "")
	bad.Metadata.Set(amqp.MetaPriority, "high")
	if err := tr.Publisher().Publish("order.x.y", bad); err == nil {
		t.Error("priority \"high\" accepted")
	}
}

// TestQueueTypeMismatch: a queue that exists with another type is a
// broker error from Subscribe, not a silent loop.
func TestQueueTypeMismatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	classic := e.transport(t, amqp.WithQueueType(amqp.QueueClassic))
	sub, err := classic.Subscriber("g")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.(message.SubscribeInitializer).SubscribeInitialize("trade.#"); err != nil {
		t.Fatal(err)
	}
	quorum := e.transport(t)
	qsub, err := quorum.Subscriber("g")
	if err != nil {
		t.Fatal(err)
	}
	_, err = qsub.Subscribe(context.Background(), "trade.#")
	var aerr *amqp091.Error
	if !errors.As(err, &aerr) || aerr.Code != amqp091.PreconditionFailed {
		t.Fatalf("got %v, want PRECONDITION_FAILED", err)
	}
}

// TestInvalidArguments: groups and patterns are validated by the core
// (transporttest covers them); a queue name over RabbitMQ's limit is the
// driver's.
func TestInvalidArguments(t *testing.T) {
	t.Parallel()
	drv, err := amqp.NewDriver("amqp://guest:guest@127.0.0.1:1/")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := transport.New(drv)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tr.Close(context.Background()) }()
	if _, err := tr.Subscriber("a.b"); !errors.Is(err, transport.ErrInvalidGroup) {
		t.Errorf("group a.b: %v", err)
	}
	long := "trade." + strings.Repeat("x", 200) + ".#"
	if err := drv.Prepare(context.Background(), strings.Repeat("g", 60), long); !errors.Is(err, amqp.ErrInvalidOption) {
		t.Errorf("long queue name: %v", err)
	}
	if err := tr.Publisher().Publish("trade.x"); err != nil {
		t.Errorf("empty publish: %v", err)
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	const base = "amqp://user:s3cr3t@127.0.0.1:1/vh"
	bad := []struct {
		name string
		url  string
		opts []amqp.Option
	}{
		{"zero option", base, []amqp.Option{{}}},
		{"prefetch 0", base, []amqp.Option{amqp.WithPrefetch(0)}},
		{"prefetch big", base, []amqp.Option{amqp.WithPrefetch(70000)}},
		{"delivery limit 0", base, []amqp.Option{amqp.WithDeliveryLimit(0)}},
		{"exchange with dot", base, []amqp.Option{amqp.WithExchange("a.b")}},
		{"empty exchange", base, []amqp.Option{amqp.WithExchange("")}},
		{"dlx = exchange", base, []amqp.Option{amqp.WithDeadLetterExchange("tradebus")}},
		{"queue type", base, []amqp.Option{amqp.WithQueueType("lazy")}},
		{"priority on quorum", base, []amqp.Option{amqp.WithQueueType(amqp.QueueQuorum), amqp.WithMaxPriority(5)}},
		{"priority 0", base, []amqp.Option{amqp.WithMaxPriority(0)}},
		{"limit on classic", base, []amqp.Option{amqp.WithQueueType(amqp.QueueClassic), amqp.WithDeliveryLimit(3)}},
		{"publish timeout", base, []amqp.Option{amqp.WithPublishTimeout(0)}},
		{"publish timeout huge", base, []amqp.Option{amqp.WithPublishTimeout(1 << 62)}},
		{"publish channels 0", base, []amqp.Option{amqp.WithPublishChannels(0)}},
		{"max message size", base, []amqp.Option{amqp.WithMaxMessageSize(1 << 40)}},
		{"nil logger", base, []amqp.Option{amqp.WithLogger(nil)}},
		{"nil tls", base, []amqp.Option{amqp.WithTLSConfig(nil)}},
		{"missing CA file", "amqps://user:s3cr3t@h/", []amqp.Option{amqp.WithCAFile("/nonexistent/ca.pem")}},
		{"CA on amqp://", base, []amqp.Option{amqp.WithCAFile("/etc/hostname")}},
		{"unknown param", base + "?prefetchh=3", nil},
		{"bad param value", base + "?prefetch=many", nil},
		{"repeated param", base + "?prefetch=1&prefetch=2", nil},
		{"bad duration", base + "?publish_timeout=5", nil},
		{"bad delivery limit", base + "?delivery_limit=0", nil},
		{"bad bool", base + "?confirms=maybe", nil},
		{"bad mandatory", base + "?mandatory=sure", nil},
		{"mandatory without confirms", base + "?mandatory=true&confirms=false", nil},
		{"bad scheme", "http://user:s3cr3t@127.0.0.1/", nil},
		{"bad port", "amqp://user:s3cr3t@127.0.0.1:port/", nil},
		{"bad heartbeat", base + "?heartbeat=-1", nil},
		{"absurd prefetch", base + "?prefetch=9223372036854775807", nil},
		{"absurd delivery limit", base + "?delivery_limit=1000000000", nil},
		{"absurd publish channels", base + "?publish_channels=1000000000", nil},
		{"absurd publish timeout", base + "?publish_timeout=100000h", nil},
		{"absurd max message size", base + "?max_message_size=9223372036854775807", nil},
		{"core param", base + "?concurrency=4", nil},
	}
	for _, c := range bad {
		_, err := amqp.NewDriver(c.url, c.opts...)
		if !errors.Is(err, amqp.ErrInvalidOption) {
			t.Errorf("%s: got %v, want ErrInvalidOption", c.name, err)
			continue
		}
		if containsSecret(err) {
			t.Errorf("%s: error shows the password: %v", c.name, err)
		}
	}
	good := []string{
		base + "?exchange=md&queue_type=classic&prefetch=10&delivery_limit=none&max_priority=5" +
			"&confirms=false&publish_timeout=2s&dead_letter_exchange=md-dlx&heartbeat=5&publish_channels=4&max_message_size=1000",
		base + "?queue_type=quorum&delivery_limit=5&confirms=true&mandatory=true",
		base + "?max_priority=3", // implies classic
	}
	for _, u := range good {
		tr, err := amqp.NewDriver(u)
		if err != nil {
			t.Errorf("%s: %v", u, err)
			continue
		}
		if s := tr.String(); containsSecret(errors.New(s)) {
			t.Errorf("String shows the password: %s", s)
		}
		_ = tr.Close(context.Background())
	}
}

func containsSecret(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "s3cr3t"))
}

// TestUnreachable: connecting to a closed port fails within the context;
// a publish while the broker is unreachable returns within its bounds; no
// error shows the password.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	p, raw := proxyFor(t, "amqp://user:s3cr3t@127.0.0.1:5672/", "", nil)
	p.Refuse()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	u, _ := url.Parse(raw)
	_, err := amqp.Open(ctx, u)
	if !errors.Is(err, amqp.ErrConnection) || containsSecret(err) {
		t.Fatalf("Open: %v", err)
	}
	if time.Since(start) > 2500*time.Millisecond {
		t.Errorf("Open took %s", time.Since(start))
	}

	drv, err := amqp.NewDriver(raw, amqp.WithPublishTimeout(700*time.Millisecond), amqp.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := transport.New(drv, transport.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tr.Close(context.Background()) }()
	start = time.Now()
	err = tr.Publisher().Publish("trade.x.y", newMsg("trade.x.y", ""))
	if !errors.Is(err, amqp.ErrConnection) || !errors.Is(err, context.DeadlineExceeded) || containsSecret(err) {
		t.Fatalf("Publish: %v", err)
	}
	if d := time.Since(start); d < 600*time.Millisecond || d > 3*time.Second {
		t.Errorf("Publish returned after %s, want about the 700ms publish timeout", d)
	}
	// A message context shorter than the publish timeout wins.
	m := newMsg("trade.x.y", "")
	mctx, mcancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer mcancel()
	m.SetContext(mctx)
	start = time.Now()
	if err := tr.Publisher().Publish("trade.x.y", m); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Publish: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Publish returned after %s, want about 100ms", d)
	}
	sub, err := tr.Subscriber("g")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Subscribe(context.Background(), "trade.#"); !errors.Is(err, amqp.ErrConnection) || containsSecret(err) {
		t.Fatalf("Subscribe: %v", err)
	}
}

func TestWrongPassword(t *testing.T) {
	t.Parallel()
	raw := brokerURL(t)
	u, _ := url.Parse(raw)
	u.User = url.UserPassword("guest", "s3cr3t")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err := amqp.Open(ctx, u)
	var aerr *amqp091.Error
	if !errors.Is(err, amqp.ErrConnection) || !errors.As(err, &aerr) || aerr.Code != amqp091.AccessRefused || containsSecret(err) {
		t.Fatalf("Open: %v", err)
	}
	// Authentication failures are not retried.
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Open took %s", d)
	}
}

// TestClose: Close drains a message in flight until it is acked, then
// closes the channel; after Close everything fails with ErrClosed.
func TestClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tr := e.transport(t)
	ch := subscribe(t, tr, "g", "ticker.#")
	m := newMsg("ticker.a.b", "")
	if err := tr.Publisher().Publish("ticker.a.b", m); err != nil {
		t.Fatal(err)
	}
	var got *message.Message
	select {
	case got = <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no message")
	}
	closed := make(chan error)
	go func() { closed <- tr.Close(context.Background()) }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned before the ack: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if got.Context().Err() != nil {
		t.Error("message context canceled during the drain")
	}
	got.Ack()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after the ack")
	}
	if _, ok := <-ch; ok {
		t.Error("channel open after Close")
	}
	if err := tr.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := tr.Publisher().Publish("ticker.a.b", newMsg("ticker.a.b", "")); !errors.Is(err, amqp.ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
	if _, err := tr.Subscriber("g"); !errors.Is(err, amqp.ErrClosed) {
		t.Errorf("Subscriber after Close: %v", err)
	}

	// The acked message is gone; a message abandoned by a short Close
	// comes back.
	tr2 := e.transport(t)
	ch2 := subscribe(t, tr2, "g", "ticker.#")
	quiet(t, ch2, 300*time.Millisecond)
	m2 := newMsg("ticker.a.b", "")
	if err := tr2.Publisher().Publish("ticker.a.b", m2); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch2: // not acked
	case <-time.After(10 * time.Second):
		t.Fatal("no message")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := tr2.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close abandoning a message: %v, want DeadlineExceeded", err)
	}
	tr3 := e.transport(t)
	if got := receive(t, subscribe(t, tr3, "g", "ticker.#"), 1, 10*time.Second)[0]; got.UUID != m2.UUID {
		t.Errorf("redelivered %s, want %s", got.UUID, m2.UUID)
	}
}

// TestWithoutConfirms publishes without confirms.
func TestWithoutConfirms(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tr := e.transport(t, amqp.WithoutConfirms())
	ch := subscribe(t, tr, "g", "trade.#")
	var msgs []*message.Message
	for i := range 50 {
		msgs = append(msgs, newMsg(fmt.Sprintf("trade.x.s%d", i), ""))
	}
	if err := tr.Publisher().Publish("trade.x.y", msgs...); err != nil {
		t.Fatal(err)
	}
	receive(t, ch, len(msgs), 10*time.Second)
}

// TestConfirmedMeansStored: when Publish returns, the broker has every
// message in the queue (publisher confirms), also for concurrent callers.
func TestConfirmedMeansStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tr := e.transport(t)
	sub, err := tr.Subscriber("g")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.(message.SubscribeInitializer).SubscribeInitialize("trade.#"); err != nil {
		t.Fatal(err)
	}
	const batch, callers = 500, 8
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			msgs := make([]*message.Message, batch)
			for i := range msgs {
				msgs[i] = newMsg("trade.x.y", "")
			}
			if err := tr.Publisher().Publish("trade.x.y", msgs...); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	q, err := admin(t, e.url).QueueDeclarePassive(tr.QueueName("g", "trade.#"), true, false, false, false,
		amqp091.Table{"x-queue-type": "quorum"})
	if err != nil {
		t.Fatal(err)
	}
	if q.Messages != batch*callers {
		t.Errorf("queue holds %d messages right after Publish returned, want %d", q.Messages, batch*callers)
	}
}

// TestMandatory: with WithMandatory a message routed to no queue fails
// with ErrUnroutable, named in a *driver.SendError, while the others of
// the batch are stored — also past the returns buffer (chunks).
func TestMandatory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tr := e.transport(t, amqp.WithMandatory(), amqp.WithPublishChannels(1))
	sub, err := tr.Subscriber("g")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.(message.SubscribeInitializer).SubscribeInitialize("bound.#"); err != nil {
		t.Fatal(err)
	}
	const n = 1500
	var msgs []*message.Message
	want := map[int]bool{}
	for i := range n {
		key := "bound.x.y"
		if i%7 == 3 {
			key = "nobody.x.y"
			want[i] = true
		}
		msgs = append(msgs, newMsg(key, ""))
	}
	err = tr.Portable.Publisher().(transport.BatchPublisher).PublishBatch(context.Background(), msgs)
	var serr *driver.SendError
	if !errors.As(err, &serr) || !errors.Is(err, amqp.ErrUnroutable) {
		t.Fatalf("publish: %v", err)
	}
	if len(serr.Failed) != len(want) {
		t.Errorf("%d failed, want %d", len(serr.Failed), len(want))
	}
	for i := range serr.Failed {
		if !want[i] {
			t.Errorf("message %d (%s) failed", i, msgs[i].Metadata.Get(events.MetaRoutingKey))
		}
	}
	err = tr.Publisher().Publish("nobody.x.y", newMsg("nobody.x.y", ""))
	if !errors.Is(err, amqp.ErrUnroutable) || errors.As(err, &serr) {
		t.Errorf("publish of one unroutable message: %v", err)
	}
	q, err := admin(t, e.url).QueueDeclarePassive(tr.QueueName("g", "bound.#"), true, false, false, false,
		amqp091.Table{"x-queue-type": "quorum"})
	if err != nil {
		t.Fatal(err)
	}
	if q.Messages != n-len(want) {
		t.Errorf("queue holds %d messages, want %d", q.Messages, n-len(want))
	}
}
