package transport_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/mem"
)

// historyDriver is mem with a fixed history to Read.
type historyDriver struct {
	*mem.Driver
	history []driver.Message
	start   driver.Start
}

func (d *historyDriver) Read(_ context.Context, _ string, start driver.Start, fn func(*driver.Message) bool) error {
	d.start = start
	for i := range d.history {
		if !fn(&d.history[i]) {
			return nil
		}
	}
	return nil
}

// TestReadCore: Read validates its arguments, reports ErrNotReplayable for
// a driver without driver.Reader or a transport off the core, passes the
// driver the start it was given, leaves out messages not matching the
// pattern and copies replayed to one group, and puts each message's
// position in its context.
func TestReadCore(t *testing.T) {
	ctx := context.Background()
	keep := func(*message.Message) bool { return true }
	plain, err := mem.New()
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close(ctx)
	if err := transport.Read(ctx, plain, "trade.#", transport.FromBeginning(), keep); !errors.Is(err, transport.ErrNotReplayable) {
		t.Errorf("mem: %v, want ErrNotReplayable", err)
	}
	if err := transport.Read(ctx, notPortable{plain}, "trade.#", transport.FromBeginning(), keep); !errors.Is(err, transport.ErrNotReplayable) {
		t.Errorf("not on the core: %v, want ErrNotReplayable", err)
	}
	if err := transport.Read(ctx, plain, "*.x", transport.FromBeginning(), keep); !errors.Is(err, events.ErrInvalidRoutingKey) {
		t.Errorf("bad pattern: %v", err)
	}
	if err := transport.Read(ctx, plain, "trade.#", transport.FromBeginning(), nil); !errors.Is(err, transport.ErrInvalidOption) {
		t.Errorf("nil func: %v", err)
	}

	md, err := mem.NewDriver()
	if err != nil {
		t.Fatal(err)
	}
	pos := func(o string) driver.Position { return driver.Position{Stream: "s", Offset: o} }
	d := &historyDriver{Driver: md, history: []driver.Message{
		{UUID: "1", Key: "trade.a.X", Position: pos("1")},
		{UUID: "2", Key: "quote.a.X", Position: pos("2")},
		{UUID: "3", Key: "trade.a.X", Position: pos("3"), Metadata: map[string]string{transport.MetaReplayGroup: "risk"}},
		{UUID: "4", Key: "trade.b.X", Position: pos("4")},
	}}
	tr, err := transport.New(d)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(ctx)
	var got []string
	at := transport.FromPosition(pos("0"))
	err = transport.Read(ctx, tr, "trade.#", at, func(m *message.Message) bool {
		p, ok := transport.PositionFromContext(m.Context())
		if !ok || p != pos(m.UUID) {
			t.Errorf("message %s: position %v (%v), want %v", m.UUID, p, ok, pos(m.UUID))
		}
		got = append(got, m.UUID)
		return true
	})
	if err != nil || len(got) != 2 || got[0] != "1" || got[1] != "4" {
		t.Errorf("Read passed %v (%v), want [1 4]", got, err)
	}
	if d.start.At != driver.StartAfter || len(d.start.Positions) != 1 || d.start.Positions[0] != pos("0") {
		t.Errorf("driver got start %+v, want after %v", d.start, pos("0"))
	}
	if _, ok := transport.PositionFromContext(ctx); ok {
		t.Error("a context of no message has a position")
	}
}

func TestReplayable(t *testing.T) {
	for url, want := range map[string]bool{"mem://": false, "mem://?history=10": true} {
		tr, err := transport.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		if got := transport.Replayable(tr); got != want {
			t.Errorf("Replayable(%s) = %v, want %v", url, got, want)
		}
		_ = tr.Close(context.Background())
	}
}

// TestReadAllocs: Read builds each message in few allocations — the
// message, its position and the context carrying it — and no Acked/Nacked
// channels or empty metadata map (a rebuild reads every event of the
// history through here). Ack and Nack still work on such a message.
func TestReadAllocs(t *testing.T) {
	ctx := context.Background()
	md, err := mem.NewDriver()
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	d := &historyDriver{Driver: md}
	for range n {
		d.history = append(d.history, driver.Message{UUID: "u", Key: "trade.a.X",
			Metadata: map[string]string{"k": "v"}, Position: driver.Position{Stream: "s", Offset: "1"}})
	}
	tr, err := transport.New(d)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(ctx)
	count := 0
	allocs := testing.AllocsPerRun(10, func() {
		if err := transport.Read(ctx, tr, "trade.#", transport.FromBeginning(), func(*message.Message) bool {
			count++
			return true
		}); err != nil {
			t.Fatal(err)
		}
	})
	if count != 11*n {
		t.Fatalf("read %d messages, want %d", count, 11*n)
	}
	// Three per message, and a few per Read.
	if allocs > 3*n+50 {
		t.Errorf("%.3f allocations per message read, want at most 3 (message, position, context)", allocs/n)
	}
	var first *message.Message
	if err := transport.Read(ctx, tr, "trade.#", transport.FromBeginning(), func(m *message.Message) bool {
		first = m
		return false
	}); err != nil {
		t.Fatal(err)
	}
	if !first.Ack() {
		t.Error("Ack of a read message: false")
	}
	select {
	case <-first.Acked():
	default:
		t.Error("Acked not closed after Ack")
	}
}
