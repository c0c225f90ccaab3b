package amqp

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"math"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
)

func TestHeaderString(t *testing.T) {
	ts := time.Date(2026, 5, 6, 7, 8, 9, 123000000, time.FixedZone("X", 3600))
	cases := []struct {
		in   any
		want string
	}{
		{nil, ""},
		{"s", "s"},
		{[]byte("text"), "text"},
		{[]byte{0xff, 0xfe}, "//4="},
		{true, "true"},
		{int8(-8), "-8"},
		{int16(16), "16"},
		{int32(-32), "-32"},
		{int64(math.MaxInt64), "9223372036854775807"},
		{7, "7"},
		{uint8(255), "255"},
		{uint16(16), "16"},
		{uint32(32), "32"},
		{uint64(math.MaxUint64), "18446744073709551615"},
		{float32(0.1), "0.1"},
		{0.1, "0.1"},
		{math.Inf(1), "+Inf"},
		{ts, "2026-05-06T06:08:09.123Z"},
		{amqp.Decimal{Scale: 2, Value: 12345}, "123.45"},
		{amqp.Decimal{Scale: 3, Value: -5}, "-0.005"},
		{amqp.Decimal{Scale: 0, Value: 42}, "42"},
		{amqp.Decimal{Scale: 2, Value: math.MinInt32}, "-21474836.48"},
		{amqp.Table{"n": int64(1), "t": amqp.Table{"f": math.NaN()}, "b": []byte{0xff}}, `{"b":"/w==","n":1,"t":{"f":"NaN"}}`},
		{[]any{"a", int32(1), nil, ts}, `["a",1,null,"2026-05-06T06:08:09.123Z"]`},
	}
	for _, c := range cases {
		if got := headerString(c.in); got != c.want {
			t.Errorf("headerString(%#v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestPublishingRoundTrip(t *testing.T) {
	m := &driver.Message{UUID: "uuid-1", Key: "trade.a.b", Payload: []byte("body")}
	m.Metadata = map[string]string{
		events.MetaID: "event-1", events.MetaDataContentType: "application/json", events.MetaCorrelationID: "c",
		events.MetaType: "tradebus.trade.v1", events.MetaTime: "2026-01-02T03:04:05.5Z", events.MetaRoutingKey: "trade.a.b",
		events.MetaPartitionKey: "BTCUSDT", MetaPriority: "7", "long": strings.Repeat("x", 300),
	}
	p, err := toPublishing(m)
	if err != nil {
		t.Fatal(err)
	}
	if p.MessageId != "event-1" || p.Priority != 7 || p.DeliveryMode != amqp.Persistent ||
		!p.Timestamp.Equal(time.Date(2026, 1, 2, 3, 4, 5, 5e8, time.UTC)) || p.Type != "tradebus.trade.v1" ||
		p.ContentType != "application/json" || p.CorrelationId != "c" {
		t.Errorf("publishing %+v", p)
	}
	// What AMQP carries in fields of its own is not repeated as a header.
	for _, k := range []string{events.MetaDataContentType, events.MetaCorrelationID, events.MetaRoutingKey} {
		if _, ok := p.Headers[k]; ok {
			t.Errorf("header %s sent", k)
		}
	}
	if len(p.Headers) != len(m.Metadata)-3 {
		t.Errorf("headers %v", p.Headers)
	}
	d := &amqp.Delivery{Headers: p.Headers, Body: p.Body, MessageId: p.MessageId, Exchange: "x", RoutingKey: m.Key,
		ContentType: p.ContentType, CorrelationId: p.CorrelationId}
	got := toMessage(d)
	if got.UUID != "event-1" || string(got.Payload) != "body" || got.Key != m.Key {
		t.Errorf("message %s %q key %q", got.UUID, got.Payload, got.Key)
	}
	if !maps.Equal(got.Metadata, m.Metadata) {
		t.Errorf("metadata %v, want %v", got.Metadata, m.Metadata)
	}

	// Values the AMQP fields cannot hold stay headers: an empty or long
	// content type or correlation id, a routing key other than the one
	// published with (a copy sent to a queue by name).
	m.Key = "q"
	m.Metadata[events.MetaDataContentType] = ""
	m.Metadata[events.MetaCorrelationID] = strings.Repeat("c", 256)
	p, err = toPublishing(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{events.MetaDataContentType, events.MetaCorrelationID, events.MetaRoutingKey} {
		if p.Headers[k] != m.Metadata[k] {
			t.Errorf("header %s = %v, want %q", k, p.Headers[k], m.Metadata[k])
		}
	}
	d = &amqp.Delivery{Headers: p.Headers, Body: p.Body, MessageId: p.MessageId, RoutingKey: m.Key,
		ContentType: p.ContentType, CorrelationId: p.CorrelationId}
	if got := toMessage(d); !maps.Equal(got.Metadata, m.Metadata) || got.Key != "trade.a.b" {
		t.Errorf("metadata %v key %q, want %v", got.Metadata, got.Key, m.Metadata)
	}

	// A message whose metadata lacks "id" uses its UUID; a long id only
	// travels in the header.
	bare := &driver.Message{UUID: "uuid-2"}
	if p, err := toPublishing(bare); err != nil || p.MessageId != "uuid-2" || p.Timestamp.IsZero() {
		t.Errorf("bare: %+v %v", p, err)
	}
	for _, bad := range []string{"-1", "256", "x", " 1"} {
		m := &driver.Message{UUID: "u", Metadata: map[string]string{MetaPriority: bad}}
		if _, err := toPublishing(m); err == nil {
			t.Errorf("priority %q accepted", bad)
		}
	}
}

// FuzzToMessage: any delivery becomes a message; string headers arrive
// unchanged; nothing panics.
func FuzzToMessage(f *testing.F) {
	f.Add("key", "value", int64(-3), []byte{0xff}, 1.5, "id", "trade.x.y")
	f.Add("", "", int64(0), []byte(nil), math.NaN(), "", "")
	f.Fuzz(func(t *testing.T, key, val string, n int64, b []byte, fl float64, id, rk string) {
		d := &amqp.Delivery{
			Headers: amqp.Table{
				key: val, key + "n": n, key + "b": b, key + "f": fl,
				key + "t": amqp.Table{val: []any{n, b, fl, nil}},
				key + "d": amqp.Decimal{Scale: uint8(n), Value: int32(n)},
			},
			MessageId: id, RoutingKey: rk, Body: b,
		}
		m := toMessage(d)
		if m.UUID == "" {
			t.Fatal("empty UUID")
		}
		if id != "" && m.UUID != id {
			t.Fatalf("UUID %q, want %q", m.UUID, id)
		}
		if m.Metadata[key] != val {
			t.Fatalf("string header %q = %q, want %q", key, m.Metadata[key], val)
		}
		if len(m.Metadata) < 6 {
			t.Fatalf("headers lost: %v", m.Metadata)
		}
		if _, ok := m.Metadata[events.MetaRoutingKey]; !ok {
			t.Fatal("no routingkey")
		}
		if s := m.Metadata[key+"b"]; utf8.Valid(b) && s != string(b) {
			t.Fatalf("bytes header %q, want %q", s, b)
		}
	})
}

// toMessage is fromDelivery returning the message.
func toMessage(d *amqp.Delivery) *driver.Message {
	var m driver.Message
	fromDelivery(d, &m)
	return &m
}

func TestBackoff(t *testing.T) {
	for f := 1; f < 100; f++ {
		d := backoff(f, 5*time.Second)
		ceil := min(5*time.Second, 50*time.Millisecond<<min(f-1, 16))
		if d < ceil/2 || d > ceil {
			t.Fatalf("backoff(%d) = %s, want %s..%s", f, d, ceil/2, ceil)
		}
	}
}

// TestConnectorRetry: connect retries transient failures with backoff until
// ctx ends; tryConnect does not dial again inside the backoff window; an
// authentication failure is not retried.
func TestConnectorRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var dials atomic.Int64
		refused := errors.New("connection refused")
		cfg := defaultConfig()
		cfg.logger = slog.New(slog.DiscardHandler)
		cfg.netDial = func(context.Context, string, string) (net.Conn, error) {
			dials.Add(1)
			return nil, refused
		}
		c := newConnector("publish", "amqp://u:p@broker:5672/", "amqp://u:xxxxx@broker:5672/", &cfg)
		defer func() { _ = c.close() }()

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.connect(ctx)
		if !errors.Is(err, ErrConnection) || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, refused) {
			t.Fatalf("connect: %v", err)
		}
		if d := time.Since(start); d != 10*time.Second {
			t.Errorf("connect returned after %s, want the ctx's 10s", d)
		}
		// 50ms, 100ms, … 5s with jitter: between 6 and 20 dials in 10s.
		if n := dials.Load(); n < 6 || n > 20 {
			t.Errorf("%d dials in 10s", n)
		}
		if strings.Contains(err.Error(), ":p@") {
			t.Errorf("error shows the password: %v", err)
		}

		n := dials.Load()
		if _, err := c.tryConnect(context.Background()); !errors.Is(err, refused) || dials.Load() != n {
			t.Errorf("tryConnect in the backoff window: %v, %d dials", err, dials.Load()-n)
		}
		time.Sleep(cfg.maxBackoff)
		if _, err := c.tryConnect(context.Background()); !errors.Is(err, refused) || dials.Load() != n+1 {
			t.Errorf("tryConnect after the backoff: %v, %d dials", err, dials.Load()-n)
		}

		// Permanent errors return at once even from connect.
		denied := &amqp.Error{Code: amqp.AccessRefused, Reason: "ACCESS_REFUSED"}
		cfg.netDial = func(context.Context, string, string) (net.Conn, error) {
			dials.Add(1)
			return nil, denied
		}
		time.Sleep(cfg.maxBackoff)
		n = dials.Load()
		if _, err := c.connect(context.Background()); !errors.Is(err, denied) || dials.Load() != n+1 {
			t.Errorf("connect with a permanent error: %v, %d dials", err, dials.Load()-n)
		}

		if err := c.close(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.connect(context.Background()); !errors.Is(err, ErrClosed) {
			t.Errorf("connect after close: %v", err)
		}
	})
}
