package main

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

// shared keeps one mem transport across CLI runs (Close is a no-op).
type shared struct{ *transport.Portable }

func (shared) Close(context.Context) error { return nil }

func setup(t *testing.T) *transport.Portable {
	t.Helper()
	tr, err := mem.New(mem.WithRedeliveryBackoff(time.Millisecond, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close(context.Background()) })
	openTransport = func(_ context.Context, url string) (transport.Transport, error) {
		if url != "mem://" {
			return transport.Open(context.Background(), url)
		}
		return shared{tr}, nil
	}
	prev := openTransport
	t.Cleanup(func() { openTransport = prev })
	return tr
}

func cli(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

func TestListAndReplay(t *testing.T) {
	tr := setup(t)
	if code, out, errOut := cli("init", "-url", "mem://", "-topic", "deadletter.exec"); code != 0 || !strings.Contains(out, "ready") {
		t.Fatalf("init: %d %q %q", code, out, errOut)
	}
	app, _ := tr.NewSubscriber("app")
	_ = app.SubscribeInitialize("trade.#")

	p, _ := middleware.NewPoison(tr.Publisher(), middleware.WithConsumerGroup("exec"), middleware.WithLogger(slog.New(slog.DiscardHandler)))
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

	code, out, errOut := cli("list", "-url", "mem://", "-topic", "deadletter.exec", "-idle", "100ms")
	if code != 0 || strings.Count(out, "\n") != 4 || !strings.Contains(out, "3 matching of 3") || !strings.Contains(out, "bad price c") {
		t.Fatalf("list: %d %q %q", code, out, errOut)
	}
	code, out, _ = cli("list", "-url", "mem://", "-topic", "deadletter.exec", "-idle", "100ms", "-json", "-class", "permanent")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("list -json: %d %q", code, out)
	}
	var jp jsonPoisoned
	if err := json.Unmarshal([]byte(lines[0]), &jp); err != nil || jp.Class != "permanent" || jp.Group != "exec" || jp.Metadata[middleware.MetaPoisonReason] == "" {
		t.Fatalf("json %+v %v", jp, err)
	}
	code, out, _ = cli("replay", "-url", "mem://", "-topic", "deadletter.exec", "-idle", "100ms", "-key", "trade.#", "-dry-run")
	if code != 0 || !strings.Contains(out, "2 matching") {
		t.Fatalf("dry run: %d %q", code, out)
	}
	code, out, _ = cli("replay", "-url", "mem://", "-topic", "deadletter.exec", "-idle", "100ms", "-key", "trade.#", "-reason", "bad price a")
	if code != 0 || !strings.Contains(out, "replayed 1, kept 2") {
		t.Fatalf("replay: %d %q", code, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, _ := app.Subscribe(ctx, "trade.#")
	select {
	case m := <-ch:
		if m.UUID != "a" || m.Metadata.Get(events.MetaRoutingKey) != "trade.binance.BTCUSDT" {
			t.Fatalf("replayed %s %v", m.UUID, m.Metadata)
		}
		m.Ack()
	case <-time.After(5 * time.Second):
		t.Fatal("replayed message not delivered")
	}
	code, out, _ = cli("list", "-url", "mem://", "-topic", "deadletter.exec", "-idle", "100ms")
	if code != 0 || !strings.Contains(out, "2 matching of 2") {
		t.Fatalf("list after replay: %d %q", code, out)
	}
}

func TestUsageAndErrors(t *testing.T) {
	setup(t)
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"list", "-topic", "deadletter"},
		{"list", "-url", "mem://"},
		{"list", "-url", "mem://", "-topic", "deadletter.*"},
		{"list", "-url", "mem://", "-topic", "deadletter", "-class", "fatal"},
		{"list", "-url", "mem://", "-topic", "deadletter", "-since", "yesterday"},
		{"replay", "-url", "mem://", "-topic", "deadletter", "-limit", "-1"},
		{"list", "-url", "mem://", "-topic", "deadletter", "extra"},
	} {
		if code, _, _ := cli(args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	code, _, errOut := cli("list", "-url", "bogus://user:secret@host", "-topic", "deadletter")
	if code != 1 || strings.Contains(errOut, "secret") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}
