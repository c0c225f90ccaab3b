package nats_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/internal/brokertest"
	"github.com/tradebus/tradebus/transport/nats"
)

func noMessage(t *testing.T, ch <-chan *message.Message, d time.Duration, why string) {
	t.Helper()
	select {
	case m := <-ch:
		t.Fatalf("%s: got %s", why, m.UUID)
	case <-time.After(d):
	}
}

// TestLayout checks what lands in JetStream: subject prefix.key, one stream
// per kind, metadata as headers of the same names, a durable consumer per
// (group, pattern), and the routing key on delivery.
func TestLayout(t *testing.T) {
	nc := connect(t)
	prefix := uniquePrefix(t, nc)
	tr := newTransport(t, nc, nats.WithPrefix(prefix), nats.WithPullWait(100*time.Millisecond))
	ch := brokertest.Subscribe(t, tr, "risk", "trade.binance.*")

	raw, err := nc.SubscribeSync(prefix + ".>")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Unsubscribe()
	sent := brokertest.Publish(t, tr, "trade.binance.BTCUSDT", "take")
	got := brokertest.Recv(t, ch, 10*time.Second)
	got.Ack()
	if got.UUID != sent[0].UUID || got.Metadata.Get(events.MetaRoutingKey) != "trade.binance.BTCUSDT" {
		t.Errorf("got %s routingkey %q", got.UUID, got.Metadata.Get(events.MetaRoutingKey))
	}
	nm, err := raw.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if nm.Subject != prefix+".trade.binance.BTCUSDT" || nm.Header.Get("partitionkey") != "BTCUSDT" ||
		nm.Header.Get("Tradebus-Uuid") != sent[0].UUID || nm.Header.Get("Nats-Msg-Id") != "" {
		t.Errorf("wire message: subject %q headers %v", nm.Subject, nm.Header)
	}
	if s := drv(tr).Subject("trade.x.y"); s != prefix+".trade.x.y" {
		t.Errorf("Subject() = %q", s)
	}
	js, _ := jetstream.New(nc)
	st, err := js.Stream(context.Background(), drv(tr).Stream("trade"))
	if err != nil {
		t.Fatalf("stream %s: %v", drv(tr).Stream("trade"), err)
	}
	if subj := st.CachedInfo().Config.Subjects; len(subj) != 2 || subj[0] != prefix+".trade" || subj[1] != prefix+".trade.>" {
		t.Errorf("stream subjects %v", subj)
	}
	var names []string
	for n := range st.ConsumerNames(context.Background()).Name() {
		names = append(names, n)
	}
	if len(names) != 1 || !strings.HasPrefix(names[0], "risk__trade_binance_STAR_") {
		t.Errorf("consumers %v", names)
	}
	c, _ := st.Consumer(context.Background(), names[0])
	if f := c.CachedInfo().Config.FilterSubject; f != prefix+".trade.binance.*" {
		t.Errorf("filter subject %q", f)
	}
}

// TestMaxDeliverHandsOff checks the dead-letter hand-off: with
// WithMaxDeliver(2) a message JetStream delivered twice (each time given
// back by a member that stopped: the core's own redeliveries after a nack
// do not count) is not delivered again, the MAX_DELIVERIES advisory names
// its stream sequence, the message stays in the stream, and later messages
// of the key flow on. The second and third members take the message over
// from the one that stopped (no member lives): the take-over keeps its
// delivery count.
func TestMaxDeliverHandsOff(t *testing.T) {
	nc := connect(t)
	prefix := uniquePrefix(t, nc)
	tr := newTransportWith(t, nc, []transport.Option{transport.WithCloseTimeout(200 * time.Millisecond)},
		nats.WithPrefix(prefix), nats.WithMaxDeliver(2), nats.WithPullWait(100*time.Millisecond))
	stream := drv(tr).Stream("order")
	adv, err := nc.SubscribeSync("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + stream + ".*")
	if err != nil {
		t.Fatal(err)
	}
	defer adv.Unsubscribe()
	sub, err := tr.Subscriber("oms")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.(message.SubscribeInitializer).SubscribeInitialize("order.#"); err != nil {
		t.Fatal(err)
	}
	poison := brokertest.Publish(t, tr, "order.binance.BTCUSDT", "poison")
	for i := range 2 {
		sub, err := tr.Subscriber("oms")
		if err != nil {
			t.Fatal(err)
		}
		ch, err := sub.Subscribe(context.Background(), "order.#")
		if err != nil {
			t.Fatal(err)
		}
		m := brokertest.Recv(t, ch, 10*time.Second)
		if m.UUID != poison[0].UUID {
			t.Fatalf("delivery %d: %s", i+1, m.UUID)
		}
		// Closing the subscriber with the message out gives it back
		// (NAK) once the close timeout ends.
		go func() { _ = sub.Close() }()
		for range ch {
		}
	}
	ch := brokertest.Subscribe(t, tr, "oms", "order.#")
	am, err := adv.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("no MAX_DELIVERIES advisory: %v", err)
	}
	var a struct {
		StreamSeq  uint64 `json:"stream_seq"`
		Deliveries int    `json:"deliveries"`
	}
	if err := json.Unmarshal(am.Data, &a); err != nil || a.Deliveries != 2 {
		t.Fatalf("advisory %s: %v", am.Data, err)
	}
	js, _ := jetstream.New(nc)
	st, _ := js.Stream(context.Background(), stream)
	rm, err := st.GetMsg(context.Background(), a.StreamSeq)
	if err != nil || rm.Header.Get("Tradebus-Uuid") != poison[0].UUID {
		t.Fatalf("dead letter at seq %d: %v %v", a.StreamSeq, err, rm)
	}
	next := brokertest.Publish(t, tr, "order.binance.BTCUSDT", "next")
	m := brokertest.Recv(t, ch, 10*time.Second)
	if m.UUID != next[0].UUID {
		t.Fatalf("after the hand-off got %s, want %s", m.UUID, next[0].UUID)
	}
	m.Ack()
	noMessage(t, ch, 300*time.Millisecond, "the dead letter came back")
	if nats.Rewound(drv(tr)) == 0 {
		t.Error("no member took over: the test no longer shows that a take-over keeps delivery counts")
	}
}

// TestRedeliveryBackoff checks that a nacked message comes back after the
// configured backoff, not at once.
func TestRedeliveryBackoff(t *testing.T) {
	nc := connect(t)
	prefix := uniquePrefix(t, nc)
	const backoff = 400 * time.Millisecond
	tr := newTransportWith(t, nc, []transport.Option{transport.WithRedeliveryBackoff(backoff, 2*backoff)},
		nats.WithPrefix(prefix), nats.WithPullWait(100*time.Millisecond))
	ch := brokertest.Subscribe(t, tr, "g", "signal.#")
	brokertest.Publish(t, tr, "signal.x.BTCUSDT", "s")
	m := brokertest.Recv(t, ch, 10*time.Second)
	nacked := time.Now()
	m.Nack()
	m = brokertest.Recv(t, ch, 10*time.Second)
	if d := time.Since(nacked); d < backoff {
		t.Errorf("redelivered after %s, want >= %s", d, backoff)
	}
	m.Ack()
}

// TestSlowHandlerKeepsMessage holds a message for several AckWait periods
// in one member and checks that JetStream does not redeliver it to the
// other: the subscription reports it in progress.
func TestSlowHandlerKeepsMessage(t *testing.T) {
	nc := connect(t)
	prefix := uniquePrefix(t, nc)
	// The heartbeat renews every AckWait/3: a heartbeat would have to be
	// more than 1.3 s late for the server to redeliver, which a loaded CI
	// machine does not reach; the message is held for 2.5 ack waits.
	opts := []nats.Option{nats.WithPrefix(prefix), nats.WithAckWait(2 * time.Second),
		nats.WithPullWait(100 * time.Millisecond)}
	a := newTransport(t, nc, opts...)
	b := newTransport(t, nc, opts...)
	chA := brokertest.Subscribe(t, a, "g", "candle.#")
	chB := brokertest.Subscribe(t, b, "g", "candle.#")
	brokertest.Publish(t, a, "candle.binance.BTCUSDT", "slow")
	var got *message.Message
	var other <-chan *message.Message
	select {
	case got = <-chA:
		other = chB
	case got = <-chB:
		other = chA
	case <-time.After(10 * time.Second):
		t.Fatal("not delivered")
	}
	noMessage(t, other, 5*time.Second, "redelivered to the other member while in progress")
	// Nor to the same member: JetStream delivered it exactly once.
	js, _ := jetstream.New(nc)
	st, err := js.Stream(context.Background(), drv(a).Stream("candle"))
	if err != nil {
		t.Fatal(err)
	}
	for ci := range st.ListConsumers(context.Background()).Info() {
		if ci.Delivered.Consumer != 1 || ci.NumRedelivered != 0 {
			t.Errorf("consumer %s: %d deliveries, %d redelivered while the handler held the message",
				ci.Name, ci.Delivered.Consumer, ci.NumRedelivered)
		}
	}
	got.Ack()
}

// TestDuplicateWindow checks WithDuplicateWindow: the same UUID published
// twice is stored once.
func TestDuplicateWindow(t *testing.T) {
	nc := connect(t)
	prefix := uniquePrefix(t, nc)
	tr := newTransport(t, nc, nats.WithPrefix(prefix), nats.WithDuplicateWindow(time.Minute),
		nats.WithPullWait(100*time.Millisecond))
	ch := brokertest.Subscribe(t, tr, "g", "exec.#")
	m := message.NewMessage("same-"+brokertest.RandomSuffix(), []byte("x"))
	for range 2 {
		if err := tr.Publisher().Publish("exec.a.B", m.Copy()); err != nil {
			t.Fatal(err)
		}
	}
	last := brokertest.Publish(t, tr, "exec.a.B", "last")
	brokertest.Recv(t, ch, 10*time.Second).Ack()
	if got := brokertest.Recv(t, ch, 10*time.Second); got.UUID != last[0].UUID {
		t.Errorf("second delivery %s, want %s (duplicate stored twice?)", got.UUID, last[0].UUID)
	} else {
		got.Ack()
	}
}

// TestStart checks WithStart on consumer creation.
func TestStart(t *testing.T) {
	nc := connect(t)
	prefix := uniquePrefix(t, nc)
	tr := newTransport(t, nc, nats.WithPrefix(prefix), nats.WithPullWait(100*time.Millisecond))
	trOld := newTransport(t, nc, nats.WithPrefix(prefix), nats.WithStart(nats.StartOldest),
		nats.WithPullWait(100*time.Millisecond))
	brokertest.CheckStart(t, tr, trOld)
}

// TestStreamRecreated deletes the stream under a live subscription: the
// publisher creates it again and the subscription sets its consumer up
// again and goes on.
func TestStreamRecreated(t *testing.T) {
	nc := connect(t)
	prefix := uniquePrefix(t, nc)
	tr := newTransport(t, nc, nats.WithPrefix(prefix), nats.WithPullWait(100*time.Millisecond))
	ch := brokertest.Subscribe(t, tr, "g", "book.#")
	brokertest.Publish(t, tr, "book.binance.BTCUSDT", "before")
	brokertest.Recv(t, ch, 10*time.Second).Ack()
	js, _ := jetstream.New(nc)
	if err := js.DeleteStream(context.Background(), drv(tr).Stream("book")); err != nil {
		t.Fatal(err)
	}
	after := brokertest.Publish(t, tr, "book.binance.BTCUSDT", "after")
	if m := brokertest.Recv(t, ch, 15*time.Second); m.UUID != after[0].UUID {
		t.Errorf("got %s, want %s", m.UUID, after[0].UUID)
	} else {
		m.Ack()
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	for _, raw := range []string{
		"nats://127.0.0.1:4222?bogus=1",
		"nats://127.0.0.1:4222?concurrency=0",
		"nats://127.0.0.1:4222?concurrency=1000000000",
		"nats://127.0.0.1:4222?batch=9223372036854775807",
		"nats://127.0.0.1:4222?start=middle",
		"nats://127.0.0.1:4222?storage=tape",
		"nats://127.0.0.1:4222?ack_wait=1ms",
		"nats://127.0.0.1:4222?ack_wait=2562047h",
		"nats://127.0.0.1:4222?max_deliver=0",
		"nats://127.0.0.1:4222?max_deliver=1000000000",
		"nats://127.0.0.1:4222?max_ack_pending=0",
		"nats://127.0.0.1:4222?max_ack_pending=9223372036854775807",
		"nats://127.0.0.1:4222?max_msgs=9223372036854775807",
		"nats://127.0.0.1:4222?max_age=500ms",
		"nats://127.0.0.1:4222?replicas=1000000000",
		"nats://127.0.0.1:4222?duplicate_window=-1s",
		"nats://127.0.0.1:4222?pull_wait=1000h",
		"nats://127.0.0.1:4222?prefix=a.*",
		"nats://127.0.0.1:4222?prefix=a&prefix=b",
	} {
		if _, err := transport.Open(ctx, raw); !errors.Is(err, nats.ErrInvalidOption) {
			t.Errorf("Open(%s): %v, want ErrInvalidOption", raw, err)
		}
	}
	u, _ := url.Parse("amqp://127.0.0.1:4222")
	if _, err := nats.Open(ctx, u); !errors.Is(err, nats.ErrInvalidOption) {
		t.Errorf("nats.Open(amqp://…): %v, want ErrInvalidOption", err)
	}
	secret := "s3cr3t-pw"
	for _, raw := range []string{
		"nats://user:" + secret + "@127.0.0.1:1",
		"nats://user:" + secret + "@127.0.0.1:1?bogus=1",
	} {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := transport.Open(cctx, raw)
		cancel()
		if err == nil {
			t.Fatalf("Open(%s): no error", raw)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error leaks the password: %v", err)
		}
	}

	u, _ = url.Parse(brokertest.URL(t, envNATSURL))
	prefix := "tbtest" + brokertest.RandomSuffix()
	t.Cleanup(func() { deleteStreams(t, connect(t), prefix) })
	q := u.Query()
	for k, v := range map[string]string{
		"prefix": prefix, "concurrency": "8", "start": "oldest", "ack_wait": "5s", "max_deliver": "5",
		"max_ack_pending": "100", "storage": "memory", "max_msgs": "1000", "max_age": "1h", "replicas": "1",
		"duplicate_window": "1m", "redelivery_backoff": "5ms", "redelivery_backoff_max": "50ms",
		"close_timeout": "1s", "pull_wait": "100ms", "name": "tradebus-open-test", "batch": "64",
	} {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	tr, err := transport.Open(ctx, u.String())
	if err != nil {
		t.Fatalf("Open with every parameter: %v", err)
	}
	defer func() {
		if err := tr.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	ch := brokertest.Subscribe(t, tr, "g", "trade.#")
	brokertest.Publish(t, tr, "trade.x", "1")
	brokertest.Recv(t, ch, 10*time.Second).Ack()
	js, _ := jetstream.New(connect(t))
	st, err := js.Stream(ctx, drv(tr).Stream("trade"))
	if err != nil {
		t.Fatal(err)
	}
	if c := st.CachedInfo().Config; c.Storage != jetstream.MemoryStorage || c.MaxMsgs != 1000 || c.MaxAge != time.Hour ||
		c.Duplicates != time.Minute {
		t.Errorf("stream config from URL: %+v", c)
	}
	if caps := drv(tr).Capabilities(); caps.MaxMessageBytes <= 0 || caps.MaxMessageBytes >= int(drv(tr).Conn().MaxPayload()) ||
		!caps.KeepsHistory || !caps.DurableGroups || !caps.SharedGroups || !caps.Redelivers {
		t.Errorf("capabilities %+v (max_payload %d)", caps, drv(tr).Conn().MaxPayload())
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	nc := connect(t)
	for name, opt := range map[string]nats.Option{
		"prefix":          nats.WithPrefix("a..b"),
		"start":           nats.WithStart(nats.Start(7)),
		"ack wait":        nats.WithAckWait(time.Millisecond),
		"ack wait max":    nats.WithAckWait(1000 * time.Hour),
		"max deliver":     nats.WithMaxDeliver(0),
		"max ack pending": nats.WithMaxAckPending(0),
		"storage":         nats.WithStorage(nats.Storage(3)),
		"max msgs":        nats.WithMaxMsgs(0),
		"max age":         nats.WithMaxAge(time.Millisecond),
		"replicas":        nats.WithReplicas(9),
		"dup window":      nats.WithDuplicateWindow(-1),
		"pull wait":       nats.WithPullWait(time.Millisecond),
		"logger":          nats.WithLogger(nil),
		"nil":             nil,
	} {
		if _, err := nats.NewDriver(nc, opt); !errors.Is(err, nats.ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", name, err)
		}
	}
	if _, err := nats.NewDriver(nil); !errors.Is(err, nats.ErrInvalidOption) {
		t.Errorf("nil conn: %v", err)
	}
	tr, err := transport.New(newDriver(t, nc, nats.WithPrefix(uniquePrefix(t, nc))))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"", "a.b", "a b", ">"} {
		if s, err := tr.Subscriber(g); !errors.Is(err, nats.ErrInvalidGroup) || s != nil {
			t.Errorf("Subscriber(%q): %v, %v", g, s, err)
		}
	}
	m := message.NewMessage("1", nil)
	m.Metadata.Set("Nats-Msg-Id", "x")
	if err := tr.Publisher().Publish("trade.x", m); !errors.Is(err, nats.ErrInvalidMetadata) {
		t.Errorf("reserved header: %v", err)
	}
	m = message.NewMessage("1", nil)
	m.Metadata.Set("a", "line\nbreak")
	if err := tr.Publisher().Publish("trade.x", m); !errors.Is(err, nats.ErrInvalidMetadata) {
		t.Errorf("line break: %v", err)
	}
	big := message.NewMessage("1", make([]byte, nc.MaxPayload()))
	if err := tr.Publisher().Publish("trade.x", big); !errors.Is(err, transport.ErrTooLarge) {
		t.Errorf("over max_payload: %v", err)
	}
	if err := tr.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tr.Publisher().Publish("trade.x", message.NewMessage("1", nil)); !errors.Is(err, nats.ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
}

// TestTooLargeExact checks the exact size check of publishing: a message
// the core's estimate lets through (it does not count the header framing)
// but whose encoded headers and payload exceed max_payload is refused
// with ErrTooLarge, nothing sent.
func TestTooLargeExact(t *testing.T) {
	nc := connect(t)
	tr := newTransport(t, nc, nats.WithPrefix(uniquePrefix(t, nc)))
	limit := drv(tr).Capabilities().MaxMessageBytes
	m := message.NewMessage("u", nil)
	for i := range 200 {
		m.Metadata.Set("k"+strconv.Itoa(i), "v")
	}
	m.Metadata.Set("routingkey", "trade.x")
	m.Payload = make([]byte, limit-transport.MetadataSize(m.Metadata)-len(m.UUID))
	if err := tr.Publisher().Publish("trade.x", m); !errors.Is(err, transport.ErrTooLarge) {
		t.Errorf("publish of %d bytes plus 200 headers: %v, want ErrTooLarge", len(m.Payload), err)
	}
}

// privateNATS starts a nats-server with JetStream of its own on a free
// port (the shared one must not be restarted under other tests); restart
// starts it again on the same port and store directory.
func privateNATS(t *testing.T) (u string, kill, restart func()) {
	t.Helper()
	dir := t.TempDir()
	s := brokertest.StartServer(t, "nats-server", func(port int) []string {
		return []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", dir}
	}, func(port int) error {
		nc, err := natsgo.Connect(fmt.Sprintf("nats://127.0.0.1:%d", port))
		if err != nil {
			return err
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err = js.AccountInfo(ctx)
		return err
	})
	return fmt.Sprintf("nats://127.0.0.1:%d", s.Port), s.Kill, s.Start
}

// TestReconnect kills and restarts a private NATS under a live
// subscription: publishing fails while it is down, the reader does not
// spin, and after the restart (streams and consumers persist on disk)
// delivery resumes, including what was pending.
func TestReconnect(t *testing.T) {
	brokertest.URL(t, envNATSURL) // integration test: only with the broker env set
	raw, kill, restart := privateNATS(t)
	tr, err := transport.Open(context.Background(), raw+"?pull_wait=100ms&ack_wait=2s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := tr.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	ch := brokertest.Subscribe(t, tr, "g", "trade.#")
	brokertest.Publish(t, tr, "trade.binance.BTCUSDT", "before")
	brokertest.Recv(t, ch, 10*time.Second).Ack()

	kill()
	f0, _ := nats.ReadStats(drv(tr))
	const down = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), down)
	m := message.NewMessage("during", nil)
	m.SetContext(ctx)
	if err := tr.Publisher().Publish("trade.binance.BTCUSDT", m); err == nil {
		t.Error("publish succeeded while NATS was down")
	}
	<-ctx.Done()
	cancel()
	f1, errs := nats.ReadStats(drv(tr))
	t.Logf("while down: %d pull requests, %d failed pulls or set-ups", f1-f0, errs)
	// One pull request per pull wait (100ms) at most, plus backoff on
	// errors: a spinning loop would make thousands.
	if f1-f0 > 25 {
		t.Errorf("%d pull requests (%d errors) in %s down, want a few", f1-f0, errs, down)
	}
	restart()

	deadline := time.Now().Add(20 * time.Second)
	var sent *message.Message
	for sent == nil {
		m := message.NewMessage("after-"+brokertest.RandomSuffix(), []byte("after"))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		m.SetContext(ctx)
		if err := tr.Publisher().Publish("trade.binance.BTCUSDT", m); err == nil {
			sent = m
		}
		cancel()
		if time.Now().After(deadline) {
			t.Fatal("publish still failing 20s after the restart")
		}
	}
	// "before" may come again: its ack was a fire-and-forget publish that
	// the killed server may not have stored (at-least-once).
	for {
		got := brokertest.Recv(t, ch, 20*time.Second)
		got.Ack()
		if got.UUID == sent.UUID {
			break
		}
		if !strings.HasPrefix(got.UUID, "before-") {
			t.Fatalf("after restart got %s, want %s", got.UUID, sent.UUID)
		}
	}
}

// TestHeaderLimit: JetStream stores a header block of exactly
// nats.MaxHeaderBytes (65,535) bytes and refuses one byte more, whatever
// max_payload is (measured with a raw publish); the driver sends the
// first and refuses the second with ErrTooLarge before sending, also when
// the core's estimate (Capabilities.MaxHeaderBytes, which does not count
// the framing) lets it through.
func TestHeaderLimit(t *testing.T) {
	nc := connect(t)
	tr := newTransport(t, nc, nats.WithPrefix(uniquePrefix(t, nc)))
	ch := brokertest.Subscribe(t, tr, "g", "trade.#")
	d := drv(tr)
	// Both limits less 204 bytes of header framing the core does not count.
	if caps := d.Capabilities(); caps.MaxHeaderBytes != nats.MaxHeaderBytes-204 || caps.MaxMessageBytes != int(nc.MaxPayload())-204 {
		t.Fatalf("MaxHeaderBytes %d, MaxMessageBytes %d (max_payload %d)", caps.MaxHeaderBytes, caps.MaxMessageBytes, nc.MaxPayload())
	}

	// The broker's limit, raw.
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	brokertest.Publish(t, tr, "trade.x", "creates the stream")
	brokertest.Recv(t, ch, 10*time.Second).Ack()
	raw := func(block int) error {
		m := natsgo.NewMsg(d.Subject("trade.raw"))
		m.Header["X"] = []string{strings.Repeat("h", block-len("NATS/1.0\r\n")-2-len("X: \r\n"))}
		_, err := js.PublishMsg(ctx, m)
		return err
	}
	if err := raw(nats.MaxHeaderBytes); err != nil {
		t.Fatalf("raw header block of %d bytes: %v", nats.MaxHeaderBytes, err)
	}
	brokertest.Recv(t, ch, 10*time.Second).Ack()
	var apiErr *jetstream.APIError
	if err := raw(nats.MaxHeaderBytes + 1); !errors.As(err, &apiErr) || apiErr.ErrorCode != 10097 {
		t.Fatalf("raw header block of %d bytes: %v, want JetStream error 10097", nats.MaxHeaderBytes+1, err)
	}

	// Through the transport: many small entries, so the core's estimate
	// stays under its limit and the driver's exact check decides.
	m := message.NewMessage("hdr-limit", []byte("{}"))
	m.Metadata.Set(events.MetaRoutingKey, "trade.x")
	for i := range 300 {
		m.Metadata.Set("k"+strconv.Itoa(i), "v")
	}
	m.Metadata.Set("pad", "")
	dm := &driver.Message{UUID: m.UUID, Key: "trade.x", Metadata: m.Metadata, Payload: m.Payload}
	m.Metadata.Set("pad", strings.Repeat("p", nats.MaxHeaderBytes-nats.HeaderSize(d, dm)))
	if n := nats.HeaderSize(d, dm); n != nats.MaxHeaderBytes || transport.MetadataSize(m.Metadata)+len(m.UUID) > d.Capabilities().MaxHeaderBytes {
		t.Fatalf("header block of %d bytes, core count %d", n, transport.MetadataSize(m.Metadata)+len(m.UUID))
	}
	if err := tr.Publisher().Publish("trade.x", m); err != nil {
		t.Fatalf("header block of exactly %d bytes: %v", nats.MaxHeaderBytes, err)
	}
	if got := brokertest.Recv(t, ch, 10*time.Second); got.UUID != m.UUID {
		t.Fatalf("got %s", got.UUID)
	} else {
		got.Ack()
	}
	m.Metadata.Set("pad", m.Metadata.Get("pad")+"p")
	if err := tr.Publisher().Publish("trade.x", m); !errors.Is(err, transport.ErrTooLarge) {
		t.Fatalf("header block of %d bytes: %v, want ErrTooLarge", nats.MaxHeaderBytes+1, err)
	}
}
