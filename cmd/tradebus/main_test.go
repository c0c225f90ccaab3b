package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/goleak"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/mem"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// shared keeps one mem transport across CLI runs (Close is a no-op).
type shared struct{ *transport.Portable }

func (shared) Close(context.Context) error { return nil }

// useMem makes "mem://" open one transport shared by every CLI run of the
// test, so a tail sees what a publish sent.
func useMem(t *testing.T) *transport.Portable {
	t.Helper()
	tr, err := mem.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close(context.Background()) })
	prev := openTransport
	openTransport = func(ctx context.Context, url string) (transport.Transport, error) {
		if url != "mem://" {
			return transport.Open(ctx, url)
		}
		return shared{tr}, nil
	}
	t.Cleanup(func() { openTransport = prev })
	return tr
}

// signalWriter is a goroutine-safe buffer that signals when its content
// first contains want.
type signalWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func newSignalWriter(want string) *signalWriter {
	return &signalWriter{want: want, seen: make(chan struct{})}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

type result struct {
	code           int
	stdout, stderr string
}

func cli(ctx context.Context, stdin string, args ...string) result {
	var o, e bytes.Buffer
	code := run(ctx, args, strings.NewReader(stdin), &o, &e)
	return result{code, o.String(), e.String()}
}

// startTail runs "tradebus tail" in the background and returns once it is
// subscribed; wait returns its result.
func startTail(t *testing.T, ctx context.Context, args ...string) (wait func() result) {
	t.Helper()
	var out bytes.Buffer
	errw := newSignalWriter("tailing ")
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"tail"}, args...), strings.NewReader(""), &out, errw)
	}()
	select {
	case <-errw.seen:
	case code := <-done:
		t.Fatalf("tail ended before subscribing: exit %d, stderr %q", code, errw.String())
	case <-time.After(time.Minute):
		t.Fatalf("tail did not subscribe within a minute: stderr %q", errw.String())
	}
	return func() result {
		select {
		case code := <-done:
			return result{code, out.String(), errw.String()}
		case <-time.After(2 * time.Minute):
			t.Fatalf("tail did not end: stderr %q", errw.String())
			return result{}
		}
	}
}

const tradeJSON = `{"exchange":"binance","symbol":"BTCUSDT","id":"t-1","price":"64000.50","amount":"0.25","side":"buy","datetime":"2026-11-30T06:00:00.000000001Z"}`

func TestUsage(t *testing.T) {
	if r := cli(context.Background(), ""); r.code != exitUsage || !strings.Contains(r.stderr, "usage: tradebus COMMAND") {
		t.Fatalf("no args: %+v", r)
	}
	if r := cli(context.Background(), "", "help"); r.code != exitOK || !strings.Contains(r.stdout, "tail") || !strings.Contains(r.stdout, "publish") {
		t.Fatalf("help: %+v", r)
	}
	if r := cli(context.Background(), "", "frobnicate"); r.code != exitUsage || !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: %+v", r)
	}
	t.Setenv(envURL, "")
	if r := cli(context.Background(), "", "ping"); r.code != exitUsage || !strings.Contains(r.stderr, envURL) {
		t.Fatalf("no url: %+v", r)
	}
	if r := cli(context.Background(), "", "tail", "-url", "mem://", "trade..x"); r.code != exitUsage {
		t.Fatalf("bad pattern: %+v", r)
	}
	if r := cli(context.Background(), "", "publish", "-url", "mem://", "-type", "tradebus.nope.v1", "-data", "{}"); r.code != exitUsage || !strings.Contains(r.stderr, "unknown event type") {
		t.Fatalf("unknown type: %+v", r)
	}
	if r := cli(context.Background(), "", "tail", "-h"); r.code != exitOK {
		t.Fatalf("tail -h: %+v", r)
	}
}

func TestURLFromEnvironment(t *testing.T) {
	useMem(t)
	t.Setenv(envURL, "mem://")
	if r := cli(context.Background(), "", "ping"); r.code != exitOK || !strings.HasPrefix(r.stdout, "ok") {
		t.Fatalf("ping with $%s: %+v", envURL, r)
	}
}

func TestPublishValidatesBeforeSending(t *testing.T) {
	tr := useMem(t)
	sub, err := tr.NewSubscriber("audit")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := sub.Subscribe(ctx, "trade.#")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(tradeJSON, `"0.25"`, `"-1"`, 1)
	r := cli(ctx, tradeJSON+"\n\n"+bad+"\n", "publish", "-url", "mem://", "-type", events.TypeTrade, "-file", "-")
	if r.code != exitError || !strings.Contains(r.stderr, "event 2") || !strings.Contains(r.stderr, "nothing published") {
		t.Fatalf("invalid second event: %+v", r)
	}
	r = cli(ctx, tradeJSON+"\n", "publish", "-url", "mem://", "-type", events.TypeTrade, "-file", "-")
	if r.code != exitOK || !strings.Contains(r.stdout, "published 1") {
		t.Fatalf("publish: %+v", r)
	}
	// The first message to arrive is the valid event: the invalid batch
	// sent nothing.
	select {
	case msg := <-ch:
		msg.Ack()
		ev, err := events.Decode(msg.Metadata.Get(events.MetaType), msg.Payload)
		if err != nil {
			t.Fatal(err)
		}
		tr := ev.(events.Trade)
		if tr.TradeID != "t-1" || tr.Amount.String() != "0.25" || msg.Metadata.Get(events.MetaSource) != "tradebus-cli" {
			t.Fatalf("got %+v, metadata %v", tr, msg.Metadata)
		}
	case <-time.After(time.Minute):
		t.Fatal("published event not received")
	}
	cancel()
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestTailPrintsDecodedEvents(t *testing.T) {
	useMem(t)
	ctx := context.Background()
	wait := startTail(t, ctx, "-url", "mem://", "-n", "2", "-json", "trade.*.BTCUSDT")
	// One event of another symbol (not matched) and two of BTCUSDT.
	other := strings.Replace(tradeJSON, "BTCUSDT", "ETHUSDT", 1)
	second := strings.Replace(tradeJSON, `"id":"t-1"`, `"id":"t-2"`, 1)
	if r := cli(ctx, other+"\n"+tradeJSON+"\n"+second+"\n", "publish", "-url", "mem://", "-type", events.TypeTrade, "-file", "-"); r.code != exitOK {
		t.Fatalf("publish: %+v", r)
	}
	r := wait()
	if r.code != exitOK {
		t.Fatalf("tail: %+v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", r.stdout)
	}
	for i, line := range lines {
		var rec struct {
			ID, Type, RoutingKey string
			Event                struct {
				TradeID string `json:"id"`
			}
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %d: %v: %q", i, err, line)
		}
		if rec.Type != events.TypeTrade || rec.RoutingKey != "trade.binance.BTCUSDT" || rec.ID == "" || rec.Event.TradeID != []string{"t-1", "t-2"}[i] {
			t.Fatalf("line %d: %+v", i, rec)
		}
	}
}

func TestTailShowsInvalidPayloads(t *testing.T) {
	var buf bytes.Buffer
	msg := newMessage(events.TypeTrade, "trade.binance.BTCUSDT", `{"symbol":`)
	if err := printEvent(&buf, msg, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "INVALID") || !strings.Contains(buf.String(), `{"symbol":`) {
		t.Fatalf("got %q", buf.String())
	}
}

func newMessage(typ, key, payload string) *message.Message {
	msg := message.NewMessage("00000000-0000-7000-8000-000000000001", []byte(payload))
	msg.Metadata.Set(events.MetaType, typ)
	msg.Metadata.Set(events.MetaRoutingKey, key)
	msg.Metadata.Set(events.MetaID, msg.UUID)
	return msg
}

// tradebus dlq is tradebus-dlq: list reads without consuming.
func TestDLQCommands(t *testing.T) {
	tr := useMem(t)
	ctx := context.Background()
	if r := cli(ctx, "", "dlq"); r.code != exitUsage {
		t.Fatalf("dlq without a command: %+v", r)
	}
	if r := cli(ctx, "", "dlq", "init", "-url", "mem://", "-topic", "deadletter.risk"); r.code != exitOK {
		t.Fatalf("init: %+v", r)
	}
	poison, err := middleware.NewPoison(tr.Publisher(), middleware.WithConsumerGroup("risk"), middleware.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	msg := newMessage(events.TypeTrade, "trade.binance.BTCUSDT", tradeJSON)
	if _, err := poison.Middleware(func(*message.Message) ([]*message.Message, error) {
		return nil, middleware.Permanent(errors.New("bad price"))
	})(msg); err != nil {
		t.Fatal(err)
	}
	for range 2 { // listing twice shows the same dead letter
		r := cli(ctx, "", "dlq", "list", "-url", "mem://", "-topic", "deadletter.risk", "-json")
		if r.code != exitOK || strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stdout, `"reason":"bad price"`) {
			t.Fatalf("list: %+v", r)
		}
	}
}

func TestLagAndDeleteGroup(t *testing.T) {
	tr := useMem(t)
	ctx := context.Background()
	sub, err := tr.NewSubscriber("risk")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.SubscribeInitialize("trade.#"); err != nil {
		t.Fatal(err)
	}
	three := strings.Repeat(tradeJSON+"\n", 3)
	if r := cli(ctx, three, "publish", "-url", "mem://", "-type", events.TypeTrade, "-file", "-"); r.code != exitOK {
		t.Fatalf("publish: %+v", r)
	}
	if r := cli(ctx, "", "lag", "-url", "mem://", "-group", "risk", "trade.#"); r.code != exitOK || !strings.Contains(r.stdout, "pending 3, in flight 0, unacked 3") {
		t.Fatalf("lag: %+v", r)
	}
	if r := cli(ctx, "", "depth", "-url", "mem://", "-group", "risk", "-json", "trade.#"); r.code != exitOK || !strings.Contains(r.stdout, `"unacked":3`) {
		t.Fatalf("depth -json: %+v", r)
	}
	if r := cli(ctx, "", "lag", "-url", "mem://", "-group", "risk", "-max", "2", "trade.#"); r.code != exitCheck || !strings.Contains(r.stderr, "3 messages behind") {
		t.Fatalf("lag over -max: %+v", r)
	}
	if r := cli(ctx, "", "lag", "-url", "mem://", "-group", "risk", "-max", "3", "trade.#"); r.code != exitOK {
		t.Fatalf("lag within -max: %+v", r)
	}
	if r := cli(ctx, "", "lag", "-url", "mem://", "trade.#"); r.code != exitUsage {
		t.Fatalf("lag without -group: %+v", r)
	}
	if r := cli(ctx, "", "delete-group", "-url", "mem://", "-group", "risk", "trade.#"); r.code != exitOK {
		t.Fatalf("delete-group: %+v", r)
	}
	if r := cli(ctx, "", "lag", "-url", "mem://", "-group", "risk", "trade.#"); r.code != exitError || !strings.Contains(r.stderr, "not found") {
		t.Fatalf("lag of a deleted group: %+v", r)
	}
	if r := cli(ctx, "", "delete-group", "-url", "mem://", "-group", "risk", "trade.#"); r.code != exitError {
		t.Fatalf("delete-group twice: %+v", r)
	}
	if r := cli(ctx, "", "delete-group", "-url", "mem://", "-group", "risk", "-missing-ok", "trade.#"); r.code != exitOK {
		t.Fatalf("delete-group -missing-ok: %+v", r)
	}
}

func TestPingUnreachable(t *testing.T) {
	// Nothing listens on port 1.
	r := cli(context.Background(), "", "ping", "-url", "redis://127.0.0.1:1/0", "-timeout", "10s")
	if r.code != exitCheck {
		t.Fatalf("ping of a dead broker: %+v", r)
	}
	if r := cli(context.Background(), "", "ping", "-url", "nope://x"); r.code != exitUsage {
		t.Fatalf("ping of an unknown scheme: %+v", r)
	}
}
