package redisstream_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/internal/brokertest"
	"github.com/tradebus/tradebus/transport/redisstream"
)

func pendingCount(t *testing.T, c *redis.Client, stream, group string) int64 {
	t.Helper()
	p, err := c.XPending(context.Background(), stream, group).Result()
	if err != nil {
		t.Fatalf("XPENDING %s %s: %v", stream, group, err)
	}
	return p.Count
}

// TestStreamLayout checks what lands in Redis: one stream per kind under
// the prefix, fields readable without Go (uuid, routingkey, payload,
// meta:<key>), one group per (group, pattern), and non-matching entries
// acknowledged by the in-process filter.
func TestStreamLayout(t *testing.T) {
	c := newClient(t)
	prefix := uniquePrefix(t, c)
	tr := newTransport(t, c, redisstream.WithPrefix(prefix), redisstream.WithBlock(100*time.Millisecond))
	ch := brokertest.Subscribe(t, tr, "risk", "trade.binance.*")

	msgs := brokertest.Publish(t, tr, "trade.coinbase.BTCUSDT", "skip")
	msgs = append(msgs, brokertest.Publish(t, tr, "trade.binance.BTCUSDT", "take")...)
	got := brokertest.Recv(t, ch, 10*time.Second)
	if got.UUID != msgs[1].UUID || string(got.Payload) != "take" {
		t.Fatalf("got %s %q, want %s take", got.UUID, got.Payload, msgs[1].UUID)
	}
	if rk := got.Metadata.Get(events.MetaRoutingKey); rk != "trade.binance.BTCUSDT" {
		t.Errorf("routingkey %q", rk)
	}
	got.Ack()

	stream := prefix + "trade"
	if s := driverOf(t, tr).Stream("trade.binance.BTCUSDT"); s != stream {
		t.Errorf("Stream() = %q, want %q", s, stream)
	}
	entries, err := c.XRange(context.Background(), stream, "-", "+").Result()
	if err != nil || len(entries) != 2 {
		t.Fatalf("XRANGE: %v, %d entries", err, len(entries))
	}
	e := entries[0].Values
	if e["uuid"] != msgs[0].UUID || e["routingkey"] != "trade.coinbase.BTCUSDT" || e["payload"] != "skip" ||
		e["meta:partitionkey"] != "BTCUSDT" {
		t.Errorf("entry fields %v", e)
	}
	group := "risk:trade.binance.*"
	waitFor(t, "both entries acknowledged", func() bool { return pendingCount(t, c, stream, group) == 0 })
	groups, err := c.XInfoGroups(context.Background(), stream).Result()
	if err != nil || len(groups) != 1 || groups[0].Name != group {
		t.Errorf("groups %+v (%v), want one named %q", groups, err, group)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClaimDeadConsumer leaves entries pending with a consumer that never
// acks (a crashed process) and checks that a live subscriber of the group
// claims them after WithClaimIdle and acks them.
func TestClaimDeadConsumer(t *testing.T) {
	c := newClient(t)
	prefix := uniquePrefix(t, c)
	const claimIdle = 500 * time.Millisecond
	tr := newTransport(t, c, redisstream.WithPrefix(prefix), redisstream.WithClaimIdle(claimIdle),
		redisstream.WithBlock(100*time.Millisecond))
	sub, err := tr.Subscriber("g")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	const pattern = "order.#"
	if err := sub.(message.SubscribeInitializer).SubscribeInitialize(pattern); err != nil {
		t.Fatal(err)
	}
	sent := brokertest.Publish(t, tr, "order.binance.BTCUSDT", "a", "b", "c")
	stream, group := prefix+"order", "g:"+pattern
	// The "crashed" consumer reads all three and dies.
	res, err := c.XReadGroup(context.Background(), &redis.XReadGroupArgs{
		Group: group, Consumer: "crashed", Streams: []string{stream, ">"}, Count: 10, Block: -1,
	}).Result()
	if err != nil || len(res[0].Messages) != 3 {
		t.Fatalf("ghost read: %v %v", err, res)
	}
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := sub.Subscribe(ctx, pattern)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range sent {
		got := brokertest.Recv(t, ch, 15*time.Second)
		if got.UUID != want.UUID {
			t.Errorf("claimed message %d: %s, want %s (claim keeps stream order)", i, got.UUID, want.UUID)
		}
		got.Ack()
	}
	if d := time.Since(start); d < claimIdle {
		t.Errorf("claimed after %s, before the claim idle time %s", d, claimIdle)
	}
	waitFor(t, "claimed entries acknowledged", func() bool { return pendingCount(t, c, stream, group) == 0 })
}

// TestHeartbeatProtectsSlowHandler holds a message for several claim-idle
// periods in one member and checks that the other member of the group
// never receives it: the live consumer renews its in-flight entries.
func TestHeartbeatProtectsSlowHandler(t *testing.T) {
	c := newClient(t)
	prefix := uniquePrefix(t, c)
	const claimIdle = 300 * time.Millisecond
	opts := []redisstream.Option{redisstream.WithPrefix(prefix), redisstream.WithClaimIdle(claimIdle),
		redisstream.WithBlock(50 * time.Millisecond)}
	a := newTransport(t, c, opts...)
	b := newTransport(t, c, opts...)
	chA := brokertest.Subscribe(t, a, "g", "candle.#")
	sent := brokertest.Publish(t, a, "candle.binance.BTCUSDT", "slow")
	got := brokertest.Recv(t, chA, 10*time.Second)
	chB := brokertest.Subscribe(t, b, "g", "candle.#")

	select {
	case m := <-chB:
		t.Fatalf("second member received %s while the first was still handling it", m.UUID)
	case <-time.After(5 * claimIdle):
	}
	if got.UUID != sent[0].UUID {
		t.Fatalf("got %s", got.UUID)
	}
	got.Ack()
	waitFor(t, "ack", func() bool { return pendingCount(t, c, prefix+"candle", "g:candle.#") == 0 })
}

// TestNackGivesBack checks the driver's SendNacks: a nacked entry stays
// pending (Redis cannot un-deliver it) but is made idle at once, so that
// another member's first claim pass takes it without waiting WithClaimIdle,
// and SendNacks does not count a delivery.
func TestNackGivesBack(t *testing.T) {
	c := newClient(t)
	prefix := uniquePrefix(t, c)
	ctx := context.Background()
	// Two drivers: distinct consumer names, as two processes.
	newDrv := func() *redisstream.Driver {
		d, err := redisstream.NewDriver(c, redisstream.WithPrefix(prefix), redisstream.WithBlock(100*time.Millisecond),
			redisstream.WithClaimIdle(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a, b := newDrv(), newDrv()
	subA, err := a.Subscribe(ctx, "g", "signal.#")
	if err != nil {
		t.Fatal(err)
	}
	defer subA.Close(ctx)
	sent := brokertest.Publish(t, newTransport(t, c, redisstream.WithPrefix(prefix)), "signal.momentum.BTCUSDT", "first", "second")
	got := receiveN(t, subA, 2)
	if got[0].UUID != sent[0].UUID || got[0].Deliveries != 1 || got[0].Key != "signal.momentum.BTCUSDT" ||
		got[0].PartitionKey != "BTCUSDT" || string(got[0].Payload) != "first" {
		t.Fatalf("received %+v", got[0])
	}
	if err := subA.SendAcks(ctx, []driver.AckID{got[1].AckID}); err != nil {
		t.Fatal(err)
	}
	if err := subA.SendNacks(ctx, []driver.AckID{got[0].AckID}); err != nil {
		t.Fatal(err)
	}
	stream, group := prefix+"signal", "g:signal.#"
	ext, err := c.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: stream, Group: group, Start: "-", End: "+", Count: 10}).Result()
	if err != nil || len(ext) != 1 {
		t.Fatalf("pending after one ack and one nack: %v %+v", err, ext)
	}
	if ext[0].Idle < time.Hour || ext[0].RetryCount != 1 {
		t.Errorf("nacked entry idle %s, delivered %d times; want >= the claim idle time (1h) and 1", ext[0].Idle, ext[0].RetryCount)
	}
	subB, err := b.Subscribe(ctx, "g", "signal.#")
	if err != nil {
		t.Fatal(err)
	}
	defer subB.Close(ctx)
	if m := receiveN(t, subB, 1)[0]; m.UUID != sent[0].UUID {
		t.Errorf("other member got %s, want the nacked %s", m.UUID, sent[0].UUID)
	} else if err := subB.SendAcks(ctx, []driver.AckID{m.AckID}); err != nil {
		t.Fatal(err)
	}
	if n := pendingCount(t, c, stream, group); n != 0 {
		t.Errorf("%d entries pending after the claim and ack", n)
	}
}

// receiveN receives exactly n messages from sub.
func receiveN(t *testing.T, sub driver.Subscription, n int) []*driver.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var got []*driver.Message
	for len(got) < n {
		ms, err := sub.ReceiveBatch(ctx, n-len(got))
		if err != nil {
			t.Fatalf("after %d of %d messages: %v", len(got), n, err)
		}
		got = append(got, ms...)
	}
	return got
}

// TestSendBatchPartialFailure checks that one pipeline carries several
// kinds and that an entry Redis refuses (its stream key holds a string)
// is reported by index in a *driver.SendError while the others are
// stored, in order.
func TestSendBatchPartialFailure(t *testing.T) {
	c := newClient(t)
	prefix := uniquePrefix(t, c)
	ctx := context.Background()
	if err := c.Set(ctx, prefix+"bad", "not a stream", 0).Err(); err != nil {
		t.Fatal(err)
	}
	d, err := redisstream.NewDriver(c, redisstream.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	msg := func(key, payload string) *driver.Message {
		return &driver.Message{UUID: payload, Key: key, Payload: []byte(payload),
			Metadata: map[string]string{"routingkey": key, "partitionkey": "X"}}
	}
	err = d.Topic().SendBatch(ctx, []*driver.Message{
		msg("good.a", "1"), msg("bad.a", "2"), msg("good.a", "3"), msg("other.b", "4"),
	})
	var se *driver.SendError
	if !errors.As(err, &se) || len(se.Failed) != 1 || se.Failed[1] == nil {
		t.Fatalf("SendBatch: %v, want a SendError for message 1 only", err)
	}
	entries, err := c.XRange(ctx, prefix+"good", "-", "+").Result()
	if err != nil || len(entries) != 2 || entries[0].Values["uuid"] != "1" || entries[1].Values["uuid"] != "3" {
		t.Errorf("good stream: %v %v", err, entries)
	}
	if n, err := c.XLen(ctx, prefix+"other").Result(); err != nil || n != 1 {
		t.Errorf("other stream: %d entries, %v", n, err)
	}
	err = d.Topic().SendBatch(ctx, []*driver.Message{{UUID: "x", Key: "good.a", Metadata: map[string]string{"": "v"}}})
	if !errors.Is(err, redisstream.ErrInvalidMetadata) {
		t.Errorf("empty metadata key: %v, want ErrInvalidMetadata", err)
	}
}

// TestMaxLen checks that streams are trimmed to about WithMaxLen entries:
// the documented loss point.
func TestMaxLen(t *testing.T) {
	c := newClient(t)
	prefix := uniquePrefix(t, c)
	tr := newTransport(t, c, redisstream.WithPrefix(prefix), redisstream.WithMaxLen(100))
	for i := range 20 {
		payloads := make([]string, 50)
		for j := range payloads {
			payloads[j] = strconv.Itoa(i*50 + j)
		}
		brokertest.Publish(t, tr, "book.binance.BTCUSDT", payloads...)
	}
	n, err := c.XLen(context.Background(), prefix+"book").Result()
	if err != nil {
		t.Fatal(err)
	}
	// "~" trims whole radix-tree nodes (100 entries each by default).
	if n < 100 || n > 300 {
		t.Errorf("XLEN after 1000 entries with MAXLEN ~ 100: %d", n)
	}
}

// TestStart checks WithStart: a group created with StartOldest receives
// what was published before it existed; with StartNew it does not.
func TestStart(t *testing.T) {
	c := newClient(t)
	prefix := uniquePrefix(t, c)
	tr := newTransport(t, c, redisstream.WithPrefix(prefix), redisstream.WithBlock(100*time.Millisecond))
	trOldest := newTransport(t, c, redisstream.WithPrefix(prefix), redisstream.WithStart(redisstream.StartOldest),
		redisstream.WithBlock(100*time.Millisecond))
	brokertest.CheckStart(t, tr, trOldest)
}

// TestGroupRecreated deletes the stream (as a Redis restart without
// persistence would) under a live subscription and checks that the
// reader recreates the group and keeps delivering.
func TestGroupRecreated(t *testing.T) {
	c := newClient(t)
	prefix := uniquePrefix(t, c)
	tr := newTransport(t, c, redisstream.WithPrefix(prefix), redisstream.WithBlock(50*time.Millisecond))
	ch := brokertest.Subscribe(t, tr, "g", "exec.#")
	brokertest.Publish(t, tr, "exec.binance.BTCUSDT", "before")
	brokertest.Recv(t, ch, 10*time.Second).Ack()
	if err := c.Del(context.Background(), prefix+"exec").Err(); err != nil {
		t.Fatal(err)
	}
	after := brokertest.Publish(t, tr, "exec.binance.BTCUSDT", "after")
	if m := brokertest.Recv(t, ch, 15*time.Second); m.UUID != after[0].UUID {
		t.Errorf("got %s, want %s", m.UUID, after[0].UUID)
	} else {
		m.Ack()
	}
}

// TestOpen checks URL parameters (the core's and the driver's), their
// bounds and errors, and that credentials never appear in an error.
func TestOpen(t *testing.T) {
	ctx := context.Background()
	for _, raw := range []string{
		"redis://127.0.0.1:6379/0?bogus=1",
		"redis://127.0.0.1:6379/0?concurrency=0",
		"redis://127.0.0.1:6379/0?concurrency=x",
		"redis://127.0.0.1:6379/0?concurrency=1000000000",
		"redis://127.0.0.1:6379/0?start=middle",
		"redis://127.0.0.1:6379/0?claim_idle=soon",
		"redis://127.0.0.1:6379/0?claim_idle=9223372036854775807ns",
		"redis://127.0.0.1:6379/0?block=0s",
		"redis://127.0.0.1:6379/0?block=1h",
		"redis://127.0.0.1:6379/0?maxlen=-1",
		"redis://127.0.0.1:6379/0?maxlen=9223372036854775807",
		"redis://127.0.0.1:6379/0?maxlen=99999999999999999999999",
		"redis://127.0.0.1:6379/0?pool_size=9223372036854775807",
		"redis://127.0.0.1:6379/0?pipeline_read_buffer_size=1000000000000",
		"redis://127.0.0.1:6379/0?redelivery_backoff=2s&redelivery_backoff_max=1s",
		"redis://127.0.0.1:6379/0?prefix=",
		"redis://127.0.0.1:6379/0?prefix=a&prefix=b",
		"redis://127.0.0.1:6379/0?consumer=a%20b",
	} {
		tr, err := transport.Open(ctx, raw)
		if !errors.Is(err, transport.ErrInvalidOption) {
			t.Errorf("Open(%s): %v, want ErrInvalidOption", raw, err)
		}
		if tr != nil {
			t.Errorf("Open(%s): non-nil Transport with error", raw)
			_ = tr.Close(ctx)
		}
	}
	secret := "s3cr3t-pw"
	for _, raw := range []string{
		"redis://user:" + secret + "@127.0.0.1:1/0",          // unreachable
		"redis://user:" + secret + "@127.0.0.1:1/0?bogus=1",  // unknown parameter
		"redis://user:" + secret + "@127.0.0.1:1/x?prefix=p", // bad database
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

	raw := brokertest.URL(t, envRedisURL)
	u, _ := url.Parse(raw)
	q := u.Query()
	prefix := runPrefix + brokertest.RandomSuffix() + ":"
	t.Cleanup(func() { deleteKeys(t, newClient(t), prefix) })
	for k, v := range map[string]string{
		"prefix": prefix, "concurrency": "8", "start": "oldest", "maxlen": "1000", "claim_idle": "5s",
		"block": "100ms", "consumer": "me", "redelivery_backoff": "5ms", "redelivery_backoff_max": "50ms",
		"close_timeout": "1s", "pool_size": "16", "batch": "64",
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
	drv := tr.(*transport.Portable).Driver().(*redisstream.Driver)
	if got := drv.Stream("trade.x"); got != prefix+"trade" {
		t.Errorf("prefix parameter ignored: %s", got)
	}
	if n := drv.Client().(*redis.Client).Options().PoolSize; n != 16 {
		t.Errorf("pool_size parameter ignored: %d", n)
	}
	ch := brokertest.Subscribe(t, tr, "g", "trade.#")
	brokertest.Publish(t, tr, "trade.x", "1")
	brokertest.Recv(t, ch, 10*time.Second).Ack()
}

func TestNewDriverRejectsBadOptions(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	defer c.Close()
	for name, opt := range map[string]redisstream.Option{
		"prefix":      redisstream.WithPrefix(""),
		"long prefix": redisstream.WithPrefix(strings.Repeat("p", redisstream.MaxPrefixLen+1)),
		"start":       redisstream.WithStart(redisstream.Start(9)),
		"maxlen":      redisstream.WithMaxLen(-5),
		"huge maxlen": redisstream.WithMaxLen(1 << 62),
		"claim idle":  redisstream.WithClaimIdle(time.Millisecond),
		"block":       redisstream.WithBlock(0),
		"long block":  redisstream.WithBlock(time.Hour),
		"consumer":    redisstream.WithConsumerName("a b"),
		"logger":      redisstream.WithLogger(nil),
		"nil":         nil,
	} {
		if _, err := redisstream.NewDriver(c, opt); !errors.Is(err, transport.ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", name, err)
		}
	}
	if _, err := redisstream.NewDriver(nil); !errors.Is(err, transport.ErrInvalidOption) {
		t.Errorf("nil client: %v", err)
	}
	d, err := redisstream.NewDriver(c)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := transport.New(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"", "a.b", "a b", "*"} {
		if sub, err := tr.Subscriber(g); !errors.Is(err, transport.ErrInvalidGroup) || sub != nil {
			t.Errorf("Subscriber(%q): %v, %v; want nil and ErrInvalidGroup", g, sub, err)
		}
	}
	if err := tr.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Subscriber("g"); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("Subscriber after Close: %v", err)
	}
	if err := tr.Publisher().Publish("trade.x", message.NewMessage("1", nil)); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
	if err := d.Topic().SendBatch(context.Background(), []*driver.Message{{UUID: "1", Key: "trade.x"}}); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("SendBatch on a closed driver: %v", err)
	}
	if _, err := d.Subscribe(context.Background(), "g", "trade.#"); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("Subscribe on a closed driver: %v", err)
	}
}

// privateRedis starts a redis-server of its own on a free port (the shared
// one must not be restarted under other tests) and returns its address and
// a function that kills it and one that starts it again on the same port.
func privateRedis(t *testing.T) (addr string, kill, restart func()) {
	t.Helper()
	dir := t.TempDir()
	s := brokertest.StartServer(t, "redis-server", func(port int) []string {
		return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
			"--appendonly", "no", "--dir", dir, "--logfile", ""}
	}, func(port int) error {
		c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
		defer c.Close()
		return c.Ping(context.Background()).Err()
	})
	return fmt.Sprintf("127.0.0.1:%d", s.Port), s.Kill, s.Start
}

// TestReconnect kills and restarts a private Redis under a live
// subscription: publishing fails while it is down, the reader backs off
// instead of spinning, and after the restart (which loses every stream:
// no persistence) the group is recreated and delivery resumes.
func TestReconnect(t *testing.T) {
	brokertest.URL(t, envRedisURL) // integration test: only with the broker env set
	addr, kill, restart := privateRedis(t)
	tr, err := transport.Open(context.Background(), "redis://"+addr+"/0?block=100ms&claim_idle=2s")
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
	const down = 2 * time.Second
	time.Sleep(down)
	msg := message.NewMessage("during", nil)
	if err := tr.Publisher().Publish("trade.binance.BTCUSDT", msg); err == nil {
		t.Error("publish succeeded while Redis was down")
	}
	// Backoff 100ms doubling: about 5 attempts in 2s; a spinning loop
	// would make thousands.
	if n := redisstream.ReadErrors(tr.(*transport.Portable).Driver().(*redisstream.Driver)); n == 0 || n > 15 {
		t.Errorf("%d failed reads in %s down, want a few (backoff)", n, down)
	}
	restart()

	deadline := time.Now().Add(15 * time.Second)
	var sent []*message.Message
	for {
		m := message.NewMessage("after-"+brokertest.RandomSuffix(), []byte("after"))
		if err := tr.Publisher().Publish("trade.binance.BTCUSDT", m); err == nil {
			sent = append(sent, m)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("publish still failing 15s after the restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if m := brokertest.Recv(t, ch, 15*time.Second); m.UUID != sent[0].UUID {
		t.Errorf("after restart got %s, want %s", m.UUID, sent[0].UUID)
	} else {
		m.Ack()
	}
}

// xaddRecorder records the arguments of every XADD the client sends.
type xaddRecorder struct {
	mu   sync.Mutex
	args [][]any
}

func (r *xaddRecorder) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *xaddRecorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.record(cmd)
		return next(ctx, cmd)
	}
}
func (r *xaddRecorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			r.record(cmd)
		}
		return next(ctx, cmds)
	}
}
func (r *xaddRecorder) record(cmd redis.Cmder) {
	if strings.EqualFold(cmd.Name(), "xadd") {
		r.mu.Lock()
		r.args = append(r.args, cmd.Args())
		r.mu.Unlock()
	}
}

// TestDefaultNeverTrims: by default the driver sends XADD without MAXLEN,
// so no entry is ever trimmed by tradebus (a lagging group loses nothing).
func TestDefaultNeverTrims(t *testing.T) {
	c := newClient(t)
	rec := &xaddRecorder{}
	c.AddHook(rec)
	prefix := uniquePrefix(t, c)
	tr := newTransport(t, c, redisstream.WithPrefix(prefix))
	brokertest.Publish(t, tr, "book.binance.BTCUSDT", "a", "b", "c")
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.args) != 3 {
		t.Fatalf("%d XADDs recorded, want 3", len(rec.args))
	}
	for _, a := range rec.args {
		for _, v := range a {
			if s, ok := v.(string); ok && strings.EqualFold(s, "maxlen") {
				t.Fatalf("XADD with MAXLEN by default: %v", a)
			}
		}
	}
}
