package nats

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
)

func TestFilterFor(t *testing.T) {
	for _, tc := range []struct {
		pattern, filter string
		exact           bool
	}{
		{"trade.binance.BTCUSDT", "p.trade.binance.BTCUSDT", true},
		{"trade.*.BTCUSDT", "p.trade.*.BTCUSDT", true},
		{"trade.*", "p.trade.*", true},
		{"trade", "p.trade", true},
		{"trade.#", "", true},          // the whole kind stream
		{"trade.#.#", "", true},        // same
		{"trade.binance.#", "", false}, // also matches "trade.binance": filtered in-process
		{"trade.*.#", "", false},       // also matches "trade.x"
		{"trade.#.BTCUSDT", "p.trade.>", false},
		{"trade.binance.#.BTCUSDT", "p.trade.binance.>", false},
		{"trade.#.*", "p.trade.>", false},
	} {
		f, exact := filterFor("p", tc.pattern)
		if f != tc.filter || exact != tc.exact {
			t.Errorf("filterFor(%q) = %q, %v; want %q, %v", tc.pattern, f, exact, tc.filter, tc.exact)
		}
	}
}

func TestNames(t *testing.T) {
	if got := streamName("tradebus", "trade"); got != "tradebus_trade" {
		t.Errorf("stream %q", got)
	}
	if got := streamName("prod.tb", "trade"); got != "prod_tb_trade" {
		t.Errorf("stream with dotted prefix %q", got)
	}
	a, b := streamName("p", "a/b"), streamName("p", "a_b")
	if a == b || strings.ContainsAny(a, "/.") {
		t.Errorf("kinds a/b and a_b: streams %q and %q", a, b)
	}
	c1, c2 := consumerName("g", "trade.a.#"), consumerName("g", "trade_a.#")
	if c1 == c2 {
		t.Errorf("consumer names collide: %q", c1)
	}
	for _, c := range []string{c1, c2, consumerName(strings.Repeat("g", 300), "k.*")} {
		if strings.ContainsAny(c, ".*># \t") || len(c) > 140 {
			t.Errorf("consumer name %q not a valid durable name", c)
		}
	}
}

func TestAckInfo(t *testing.T) {
	for _, tc := range []struct {
		reply          string
		seq, delivered uint64
		ok             bool
	}{
		{"$JS.ACK.s.c.2.17.5.1700000000000000000.3", 17, 2, true},
		{"$JS.ACK.dom.hash.s.c.1.42.9.1700000000000000000.0", 42, 1, true},
		{"$JS.ACK.dom.hash.s.c.1.42.9.1700000000000000000.0.rnd", 42, 1, true},
		{"_INBOX.x", 0, 0, false},
		{"$JS.ACK.s.c.x.17.5.1.3", 0, 0, false},
		{"$JS.ACK.s.c.2.17.5.1", 0, 0, false},
	} {
		seq, d, ok := ackInfo(tc.reply)
		if seq != tc.seq || d != tc.delivered || ok != tc.ok {
			t.Errorf("ackInfo(%q) = %d, %d, %v; want %d, %d, %v", tc.reply, seq, d, ok, tc.seq, tc.delivered, tc.ok)
		}
	}
}

func TestEncodeSize(t *testing.T) {
	for _, msgID := range []bool{false, true} {
		dm := &driver.Message{
			UUID: "0190f0c8-7a1b-7c2d-8e3f-000000000001", Key: "trade.binance.BTCUSDT",
			Metadata: map[string]string{"routingkey": "trade.binance.BTCUSDT", "partitionkey": "BTCUSDT", "type": "tradebus.trade.v1", "empty": ""},
			Payload:  []byte(`{"price":"1"}`),
		}
		var m natsgo.Msg
		hdr, size, err := encode(&m, subject("p", dm.Key), dm, msgID)
		if err != nil {
			t.Fatal(err)
		}
		if want := m.Size() - len(m.Subject); size != want {
			t.Errorf("msgID=%v: encode says %d bytes, nats.go encodes %d", msgID, size, want)
		}
		if want := size - len(dm.Payload); hdr != want {
			t.Errorf("msgID=%v: encode says %d header bytes, nats.go encodes %d", msgID, hdr, want)
		}
		if m.Header.Get(headerUUID) != dm.UUID || m.Header.Get("partitionkey") != "BTCUSDT" || (m.Header.Get(headerMsgID) != "") == !msgID {
			t.Errorf("headers %v", m.Header)
		}
	}
	for _, md := range []map[string]string{{"": "x"}, {"a b": "x"}, {"a:b": "x"}, {"Nats-X": "x"}, {headerUUID: "x"}, {"a": "x\ny"}} {
		var m natsgo.Msg
		if _, _, err := encode(&m, "p.k", &driver.Message{UUID: "u", Metadata: md}, false); !errors.Is(err, ErrInvalidMetadata) {
			t.Errorf("metadata %q: %v, want ErrInvalidMetadata", md, err)
		}
	}
}

// TestRefusedAsTooLarge: a publish the server refused for its size wraps
// transport.ErrTooLarge (and still the server's error); others do not.
func TestRefusedAsTooLarge(t *testing.T) {
	dm := &driver.Message{UUID: "u", Key: "trade.x"}
	for _, err := range []error{
		natsgo.ErrMaxPayload,
		&jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamMessageExceedsMaximum, Description: "message size exceeds maximum allowed"},
		fmt.Errorf("ack: %w", &jetstream.APIError{Code: 400, ErrorCode: 10097, Description: "header size exceeds maximum allowed of 64k"}),
	} {
		got := refusedAsTooLarge(dm, err)
		if !errors.Is(got, transport.ErrTooLarge) || !errors.Is(got, err) {
			t.Errorf("%v: %v, want ErrTooLarge wrapping it", err, got)
		}
	}
	other := &jetstream.APIError{Code: 503, ErrorCode: 10077, Description: "store failed"}
	if got := refusedAsTooLarge(dm, other); errors.Is(got, transport.ErrTooLarge) || got != error(other) {
		t.Errorf("%v: %v, want it unchanged", other, got)
	}
}

// TestPullStatus: the inbox's messages keep the count of messages still
// asked for: a delivery takes one, an expired or ended request what it
// reports left (all, when it does not say), a consumer gone or a refusal
// ends every request and asks for the consumer to be set up again.
func TestPullStatus(t *testing.T) {
	status := func(code, descr string, left int) *natsgo.Msg {
		h := natsgo.Header{"Status": {code}, "Description": {descr}}
		if left >= 0 {
			h.Set("Nats-Pending-Messages", fmt.Sprint(left))
		}
		return &natsgo.Msg{Subject: "_INBOX.x", Header: h}
	}
	delivery := &natsgo.Msg{Subject: "tradebus.trade.a", Reply: "$JS.ACK.s.c.1.1.1.0.0", Data: []byte("{}")}
	for _, tc := range []struct {
		name    string
		msg     *natsgo.Msg
		pending int
		want    pullStatus
		left    int
		err     error
	}{
		{"delivery", delivery, 10, pullMessage, 9, nil},
		{"delivery, nothing counted", delivery, 0, pullMessage, 0, nil},
		{"empty delivery", &natsgo.Msg{Subject: "tradebus.trade.a", Reply: "$JS.ACK.s.c.1.1.1.0.0"}, 3, pullMessage, 2, nil},
		{"expired", status("408", "Request Timeout", 4), 10, pullEnded, 6, nil},
		{"expired, no count", status("408", "Request Timeout", -1), 10, pullEnded, 0, nil},
		{"expired, count above pending", status("408", "Request Timeout", 50), 10, pullEnded, 0, nil},
		{"heartbeat", status("100", "Idle Heartbeat", -1), 10, pullEnded, 10, nil},
		{"leadership change", status("409", "Leadership Change", 5), 10, pullEnded, 5, nil},
		{"consumer deleted", status("409", "Consumer Deleted", -1), 10, pullFailed, 0, jetstream.ErrConsumerDeleted},
		{"no responders", status("503", "", -1), 10, pullFailed, 0, natsgo.ErrNoResponders},
		{"bad request", status("400", "Bad Request", -1), 10, pullFailed, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &subscription{consumer: "c", pending: tc.pending}
			got, err := s.status(tc.msg)
			if got != tc.want || s.pending != tc.left {
				t.Errorf("status %d, pending %d; want %d, %d", got, s.pending, tc.want, tc.left)
			}
			if (err != nil) != (tc.want == pullFailed) || (tc.err != nil && !errors.Is(err, tc.err)) {
				t.Errorf("error %v, want %v", err, tc.err)
			}
		})
	}
}
