package dlqcli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
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

var quiet = slog.New(slog.DiscardHandler)

// shared keeps one transport across CLI runs (Close is a no-op).
type shared struct{ *transport.Portable }

func (shared) Close(context.Context) error { return nil }

func newMem(t *testing.T) *transport.Portable {
	t.Helper()
	tr, err := mem.New(mem.WithRedeliveryBackoff(time.Millisecond, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close(context.Background()) })
	return tr
}

// cli runs one command line on tr for "mem://", or on transport.Open.
func cli(tr *transport.Portable, args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Run(context.Background(), args, &o, &e, func(ctx context.Context, url string) (transport.Transport, error) {
		if url == "mem://" && tr != nil {
			return shared{tr}, nil
		}
		return transport.Open(ctx, url)
	})
	return code, o.String(), e.String()
}

func recv(t *testing.T, ch <-chan *message.Message, what string) *message.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(30 * time.Second):
		t.Fatalf("no %s", what)
		return nil
	}
}

func TestListAndReplay(t *testing.T) {
	tr := newMem(t)
	if code, out, errOut := cli(tr, "init", "-url", "mem://", "-topic", "deadletter.exec"); code != 0 || !strings.Contains(out, "ready") {
		t.Fatalf("init: %d %q %q", code, out, errOut)
	}
	app, _ := tr.NewSubscriber("app")
	_ = app.SubscribeInitialize("trade.#")

	p, _ := middleware.NewPoison(tr.Publisher(), middleware.WithConsumerGroup("exec"), middleware.WithLogger(quiet))
	for _, c := range []struct{ id, key string }{{"a", "trade.binance.BTCUSDT"}, {"b", "trade.kraken.ETHUSDT"}, {"c", "signal.binance.BTCUSDT.s1"}} {
		m := message.NewMessage(c.id, []byte(`{}`))
		m.Metadata.Set(events.MetaID, c.id)
		m.Metadata.Set(events.MetaRoutingKey, c.key)
		errBad := errors.New("bad price " + c.id)
		var err error = middleware.Permanent(errBad)
		if c.id == "c" {
			err = errBad
		}
		if _, perr := p.Middleware(func(*message.Message) ([]*message.Message, error) { return nil, err })(m); perr != nil {
			t.Fatal(perr)
		}
	}
	if err := tr.Publisher().Publish("deadletter.exec", message.NewMessage("stray", nil)); err != nil {
		t.Fatal(err)
	}

	for i := range 2 { // listing reads without consuming
		code, out, errOut := cli(tr, "list", "-url", "mem://", "-topic", "deadletter.exec")
		if code != 0 || strings.Count(out, "\n") != 4 || !strings.Contains(out, "3 matching of 3 dead letters (left in place); 1 other messages") ||
			!strings.Contains(out, "bad price c") || !strings.Contains(out, "group=exec") {
			t.Fatalf("list %d: %d %q %q", i+1, code, out, errOut)
		}
	}
	code, out, _ := cli(tr, "list", "-url", "mem://", "-topic", "deadletter.exec", "-json", "-class", "permanent")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("list -json: %d %q", code, out)
	}
	var jp jsonPoisoned
	if err := json.Unmarshal([]byte(lines[0]), &jp); err != nil || jp.Class != "permanent" || jp.Group != "exec" || jp.Metadata[middleware.MetaPoisonReason] == "" {
		t.Fatalf("json %+v %v", jp, err)
	}
	if code, out, _ = cli(tr, "list", "-url", "mem://", "-topic", "deadletter.exec", "-limit", "1"); code != 0 || !strings.Contains(out, "1 matching of 3") {
		t.Fatalf("list -limit: %d %q", code, out)
	}
	if code, out, _ = cli(tr, "replay", "-url", "mem://", "-topic", "deadletter.exec", "-key", "trade.#", "-dry-run"); code != 0 || !strings.Contains(out, "2 would be replayed of 3") {
		t.Fatalf("dry run: %d %q", code, out)
	}
	// Replay lists first: it stops once it has been through the four
	// messages listed, without an idle wait (-idle 1h).
	if code, out, _ = cli(tr, "replay", "-url", "mem://", "-topic", "deadletter.exec", "-idle", "1h", "-key", "trade.#", "-reason", "bad price a"); code != 0 || !strings.Contains(out, "replayed 1, kept 3") {
		t.Fatalf("replay: %d %q", code, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, _ := app.Subscribe(ctx, "trade.#")
	m := recv(t, ch, "replayed message")
	if m.UUID != "a" || m.Metadata.Get(events.MetaRoutingKey) != "trade.binance.BTCUSDT" {
		t.Fatalf("replayed %s %v", m.UUID, m.Metadata)
	}
	m.Ack()
	if code, out, _ = cli(tr, "list", "-url", "mem://", "-topic", "deadletter.exec"); code != 0 || !strings.Contains(out, "2 matching of 2") {
		t.Fatalf("list after replay: %d %q", code, out)
	}
	// Nothing matches: replay reads nothing.
	if code, out, _ = cli(tr, "replay", "-url", "mem://", "-topic", "deadletter.exec", "-type", "none"); code != 0 || !strings.Contains(out, "replayed 0, kept 0") {
		t.Fatalf("replay of nothing: %d %q", code, out)
	}
}

// TestReplayToFailingGroup (issue 10 item 3) through the command line:
// risk and portfolio both receive trade.binance.BTCUSDT; risk dead-letters
// one; `replay` delivers it to risk alone — portfolio's next message is the
// sentinel published after the replay. A dead letter that records no
// group goes where -to-group says.
func TestReplayToFailingGroup(t *testing.T) {
	tr := newMem(t)
	if code, _, errOut := cli(tr, "init", "-url", "mem://", "-topic", "deadletter.risk"); code != 0 {
		t.Fatal(errOut)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := func(group string) <-chan *message.Message {
		s, _ := tr.Subscriber(group)
		ch, err := s.Subscribe(ctx, "trade.binance.BTCUSDT")
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	risk, portfolio := sub("risk"), sub("portfolio")
	p, _ := middleware.NewPoison(tr.Publisher(), middleware.WithConsumerGroup("risk"), middleware.WithLogger(quiet))
	fail := func(*message.Message) ([]*message.Message, error) {
		return nil, middleware.Permanent(errors.New("over limit"))
	}
	publish := func(id string) {
		m := message.NewMessage(id, []byte(`{}`))
		m.Metadata.Set(events.MetaPartitionKey, "BTCUSDT")
		if err := tr.Publisher().Publish("trade.binance.BTCUSDT", m); err != nil {
			t.Fatal(err)
		}
	}
	publish("bad")
	m := recv(t, risk, "risk's delivery")
	if _, err := p.Middleware(fail)(m); err != nil { // the delivery's ctx names group risk
		t.Fatal(err)
	}
	m.Ack()
	recv(t, portfolio, "portfolio's delivery").Ack()

	code, out, errOut := cli(tr, "list", "-url", "mem://", "-topic", "deadletter.risk")
	if code != 0 || !strings.Contains(out, "group=risk") || !strings.Contains(out, "1 matching of 1") {
		t.Fatalf("list: %d %q %q", code, out, errOut)
	}
	if code, out, _ = cli(tr, "replay", "-url", "mem://", "-topic", "deadletter.risk", "-idle", "1h"); code != 0 || !strings.Contains(out, "replayed 1") {
		t.Fatalf("replay: %d %q", code, out)
	}
	m = recv(t, risk, "the replay at risk")
	if m.UUID != "bad" || m.Metadata.Get(middleware.MetaReplayGroup) != "risk" {
		t.Fatalf("risk got %s %v", m.UUID, m.Metadata)
	}
	m.Ack()
	publish("sentinel")
	if m = recv(t, portfolio, "the sentinel at portfolio"); m.UUID != "sentinel" {
		t.Fatalf("portfolio got %s, want the sentinel: the replay reached it", m.UUID)
	}
	m.Ack()
	recv(t, risk, "the sentinel at risk").Ack()

	// A dead letter without a recorded subscriber group (poisoned outside
	// a tradebus subscription) goes to -to-group.
	orphan := message.NewMessage("orphan", []byte(`{}`))
	orphan.Metadata.Set(events.MetaRoutingKey, "trade.binance.BTCUSDT")
	orphan.Metadata.Set(events.MetaPartitionKey, "BTCUSDT")
	if _, err := p.Middleware(fail)(orphan); err != nil {
		t.Fatal(err)
	}
	if code, out, _ = cli(tr, "replay", "-url", "mem://", "-topic", "deadletter.risk", "-idle", "1h", "-to-group", "portfolio"); code != 0 || !strings.Contains(out, "replayed 1") {
		t.Fatalf("replay -to-group: %d %q", code, out)
	}
	if m = recv(t, portfolio, "the orphan at portfolio"); m.UUID != "orphan" {
		t.Fatalf("portfolio got %s", m.UUID)
	}
	m.Ack()
	publish("sentinel2")
	if m = recv(t, risk, "the second sentinel at risk"); m.UUID != "sentinel2" {
		t.Fatalf("risk got %s, want the sentinel: -to-group portfolio reached it", m.UUID)
	}
	m.Ack()
}

func TestUsageAndErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"list", "-topic", "deadletter"},
		{"list", "-url", "mem://"},
		{"list", "-url", "mem://", "-topic", "deadletter.*"},
		{"list", "-url", "mem://", "-topic", "deadletter", "-class", "fatal"},
		{"list", "-url", "mem://", "-topic", "deadletter", "-since", "yesterday"},
		{"list", "-url", "mem://", "-topic", "deadletter", "-reader", "a.b"},
		{"replay", "-url", "mem://", "-topic", "deadletter", "-limit", "-1"},
		{"replay", "-url", "mem://", "-topic", "deadletter", "-to-group", "a b"},
		{"list", "-url", "mem://", "-topic", "deadletter", "extra"},
	} {
		if code, _, _ := cli(nil, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	code, _, errOut := cli(nil, "list", "-url", "bogus://user:secret@host", "-topic", "deadletter")
	if code != 1 || strings.Contains(errOut, "secret") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}
