package kafka

import (
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
)

func TestHeaderNames(t *testing.T) {
	tests := []struct{ key, header string }{
		{events.MetaID, "ce_id"},
		{events.MetaType, "ce_type"},
		{events.MetaSource, "ce_source"},
		{events.MetaSpecVersion, "ce_specversion"},
		{events.MetaTime, "ce_time"},
		{events.MetaSubject, "ce_subject"},
		{events.MetaCorrelationID, "ce_correlationid"},
		{events.MetaCausationID, "ce_causationid"},
		{events.MetaTraceParent, "ce_traceparent"},
		{events.MetaPartitionKey, "ce_partitionkey"},
		{events.MetaSequence, "ce_sequence"},
		{events.MetaRoutingKey, "ce_routingkey"},
		{events.MetaDataContentType, "content-type"},
		{"myext1", "ce_myext1"},
		{"x-custom", "x-custom"},
		{"Upper", "Upper"},
		{"", ""},
		{"ce_foo", "tb-meta-ce_foo"},
		{"content-type", "tb-meta-content-type"},
		{"tb-route", "tb-meta-tb-route"},
		{"tb-meta-x", "tb-meta-tb-meta-x"},
		{HeaderUUID, "tb-meta-" + HeaderUUID},
	}
	for _, tc := range tests {
		if got, _ := headerName(tc.key); got != tc.header {
			t.Errorf("headerName(%q) = %q, want %q", tc.key, got, tc.header)
		}
		if got, ok := metadataKey(tc.header); !ok || got != tc.key {
			t.Errorf("metadataKey(%q) = %q, %v, want %q", tc.header, got, ok, tc.key)
		}
	}
}

// toDriver is what the core makes of msg published to route.
func toDriver(msg *message.Message, route string) *driver.Message {
	return &driver.Message{UUID: msg.UUID, Key: route, PartitionKey: msg.Metadata[events.MetaPartitionKey],
		Metadata: msg.Metadata, Payload: msg.Payload}
}

func encode(r *kgo.Record, msg *message.Message, route string) {
	dm := toDriver(msg, route)
	var e encoder
	e.encode(r, dm)
}

type decoded struct {
	uuid     string
	metadata message.Metadata
	route    string
}

func decodeRec(r *kgo.Record, kind string) decoded {
	var m driver.Message
	decode(r, kind, &m, strconv.FormatInt(r.Offset, 10))
	if m.Metadata[events.MetaPartitionKey] != m.PartitionKey {
		panic("partition key " + m.PartitionKey + " differs from the metadata")
	}
	if string(m.Payload) != string(r.Value) {
		panic("payload differs")
	}
	return decoded{uuid: m.UUID, metadata: m.Metadata, route: m.Key}
}

func roundTrip(t *testing.T, msg *message.Message, route, kind string) decoded {
	t.Helper()
	r := &kgo.Record{Topic: "tradebus." + kind, Partition: 3, Offset: 42, Value: msg.Payload}
	encode(r, msg, route)
	return decodeRec(r, kind)
}

func TestEncodeDecode(t *testing.T) {
	t.Run("event", func(t *testing.T) {
		msg := message.NewMessage("0192f0c4-0000-7000-8000-000000000001", []byte(`{}`))
		msg.Metadata = message.Metadata{
			events.MetaID:           msg.UUID,
			events.MetaType:         "tradebus.trade.v1",
			events.MetaPartitionKey: "BTCUSDT",
			events.MetaRoutingKey:   "trade.binance.BTCUSDT",
			"x-custom":              "v",
		}
		r := &kgo.Record{}
		encode(r, msg, "trade.binance.BTCUSDT")
		if string(r.Key) != "BTCUSDT" {
			t.Errorf("key %q, want BTCUSDT", r.Key)
		}
		if len(r.Headers) != len(msg.Metadata) {
			t.Errorf("%d headers, want %d (no uuid or route header when id and routingkey match): %v",
				len(r.Headers), len(msg.Metadata), r.Headers)
		}
		d := roundTrip(t, msg, "trade.binance.BTCUSDT", "trade")
		if d.uuid != msg.UUID || !maps.Equal(d.metadata, msg.Metadata) || d.route != "trade.binance.BTCUSDT" {
			t.Errorf("decoded %+v, want uuid %s metadata %v", d, msg.UUID, msg.Metadata)
		}
	})
	t.Run("bare message", func(t *testing.T) {
		msg := message.NewMessage("u-1", []byte("x"))
		d := roundTrip(t, msg, "trade.a", "trade")
		want := message.Metadata{events.MetaRoutingKey: "trade.a"}
		if d.uuid != "u-1" || !maps.Equal(d.metadata, want) || d.route != "trade.a" {
			t.Errorf("decoded %+v, want uuid u-1 metadata %v", d, want)
		}
		r := &kgo.Record{}
		encode(r, msg, "trade.a")
		if r.Key == nil || len(r.Key) != 0 {
			t.Errorf("key %#v, want non-nil empty (one partition for messages without a key)", r.Key)
		}
	})
	t.Run("routingkey differs from the published key", func(t *testing.T) {
		msg := message.NewMessage("u-2", nil)
		msg.Metadata.Set(events.MetaRoutingKey, "trade.binance.BTCUSDT")
		d := roundTrip(t, msg, "poison.trade", "poison")
		if d.route != "poison.trade" || d.metadata[events.MetaRoutingKey] != "trade.binance.BTCUSDT" {
			t.Errorf("route %q routingkey %q, want poison.trade and the original", d.route, d.metadata[events.MetaRoutingKey])
		}
	})
	t.Run("foreign record", func(t *testing.T) {
		r := &kgo.Record{Topic: "tradebus.trade", Partition: 1, Offset: 7, Key: []byte("ETHUSDT")}
		d := decodeRec(r, "trade")
		if d.uuid != "kafka:tradebus.trade/1/7" {
			t.Errorf("uuid %q", d.uuid)
		}
		if d.metadata[events.MetaPartitionKey] != "ETHUSDT" || d.metadata[events.MetaRoutingKey] != "trade" || d.route != "trade" {
			t.Errorf("metadata %v route %q", d.metadata, d.route)
		}
	})
}

// FuzzHeaders checks that any metadata survives encode and decode exactly.
func FuzzHeaders(f *testing.F) {
	f.Add("id", "u", "ce_x", "1", "content-type", "2", "u", "trade.a")
	f.Add("datacontenttype", "application/json", "tb-route", "r", "x", "", "", "k")
	f.Add(HeaderUUID, "z", "tb-meta-", "m", "routingkey", "", "id", "a")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3, uuid, route string) {
		msg := message.NewMessage(uuid, []byte("p"))
		msg.Metadata = message.Metadata{k1: v1, k2: v2, k3: v3}
		r := &kgo.Record{Topic: "tradebus.k", Value: msg.Payload}
		encode(r, msg, route)
		d := decodeRec(r, "k")
		want := maps.Clone(msg.Metadata)
		if want[events.MetaRoutingKey] == "" {
			want[events.MetaRoutingKey] = route
			if route == "" {
				want[events.MetaRoutingKey] = "k"
			}
		}
		if _, ok := want[events.MetaPartitionKey]; !ok && len(r.Key) > 0 {
			t.Fatalf("key %q without partitionkey metadata", r.Key)
		}
		if !maps.Equal(d.metadata, want) {
			t.Fatalf("metadata %q\n  decoded %q", want, d.metadata)
		}
		if uuid != "" && d.uuid != uuid {
			t.Fatalf("uuid %q, decoded %q", uuid, d.uuid)
		}
		if route != "" && d.route != route {
			t.Fatalf("route %q, decoded %q", route, d.route)
		}
	})
}

func TestHeaderNameSpelledOut(t *testing.T) {
	for _, k := range []string{events.MetaID, events.MetaSource, events.MetaSpecVersion, events.MetaType,
		events.MetaSubject, events.MetaTime, events.MetaDataContentType, events.MetaCorrelationID,
		events.MetaCausationID, events.MetaTraceParent, events.MetaPartitionKey, events.MetaSequence,
		events.MetaRoutingKey} {
		if name, _ := headerName(k); name != headerNameOf(k) {
			t.Errorf("headerName(%q) = %q, the rule gives %q", k, name, headerNameOf(k))
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	msg := message.NewMessage("0192f0c4-0000-7000-8000-000000000001", []byte(`{}`))
	msg.Metadata = message.Metadata{
		events.MetaID: msg.UUID, events.MetaSource: "bench", events.MetaSpecVersion: "1.0",
		events.MetaType: "tradebus.trade.v1", events.MetaSubject: "BTCUSDT",
		events.MetaTime: "2026-01-02T03:04:05.123456789Z", events.MetaDataContentType: "application/json",
		events.MetaCorrelationID: msg.UUID, events.MetaPartitionKey: "BTCUSDT",
		events.MetaRoutingKey: "trade.binance.BTCUSDT",
	}
	msgs := make([]*driver.Message, 1000)
	for i := range msgs {
		msgs[i] = toDriver(msg, "trade.binance.BTCUSDT")
	}
	recs := make([]kgo.Record, len(msgs))
	b.ReportAllocs()
	b.ResetTimer()
	var enc encoder
	cpu0, _ := processCPU()
	for b.Loop() {
		enc.hs = enc.hs[:0] // as SendBatch reuses its slab
		for i, m := range msgs {
			enc.encode(&recs[i], m)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/msg")
	reportCPU(b, cpu0, len(msgs))
}

func BenchmarkDecode(b *testing.B) {
	msg := message.NewMessage("0192f0c4-0000-7000-8000-000000000001", []byte(`{}`))
	msg.Metadata = message.Metadata{
		events.MetaID: msg.UUID, events.MetaSource: "bench", events.MetaSpecVersion: "1.0",
		events.MetaType: "tradebus.trade.v1", events.MetaSubject: "BTCUSDT",
		events.MetaTime: "2026-01-02T03:04:05.123456789Z", events.MetaDataContentType: "application/json",
		events.MetaCorrelationID: msg.UUID, events.MetaPartitionKey: "BTCUSDT",
		events.MetaRoutingKey: "trade.binance.BTCUSDT",
	}
	r := &kgo.Record{Topic: "tradebus.trade", Value: msg.Payload}
	encode(r, msg, "trade.binance.BTCUSDT")
	for i := range r.Headers { // as read off the wire: names not interned
		r.Headers[i].Key = strings.Clone(r.Headers[i].Key)
	}
	var m driver.Message
	b.ReportAllocs()
	cpu0, _ := processCPU()
	for b.Loop() {
		decode(r, "trade", &m, "1")
	}
	reportCPU(b, cpu0, 1)
}

// reportCPU reports cpu-ns/msg: the process CPU time since cpu0 (taken
// just before the loop) per message, garbage collection included, where
// the platform tells. On a shared, loaded machine it is steadier than
// ns/op.
func reportCPU(b *testing.B, cpu0 time.Duration, perOp int) {
	if cpu1, ok := processCPU(); ok && b.N > 0 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N*perOp), "cpu-ns/msg")
	}
}

// TestDecodeAllocs checks that decode allocates only the metadata map: the
// header values and the record key are not copied, and the envelope keys
// are the package's constants.
func TestDecodeAllocs(t *testing.T) {
	msg := message.NewMessage("0192f0c4-0000-7000-8000-000000000001", []byte(`{}`))
	msg.Metadata = message.Metadata{
		events.MetaID: msg.UUID, events.MetaSource: "bench", events.MetaSpecVersion: "1.0",
		events.MetaType: "tradebus.trade.v1", events.MetaSubject: "BTCUSDT",
		events.MetaTime: "2026-01-02T03:04:05.123456789Z", events.MetaDataContentType: "application/json",
		events.MetaCorrelationID: msg.UUID, events.MetaPartitionKey: "BTCUSDT",
		events.MetaRoutingKey: "trade.binance.BTCUSDT", "x-custom": "1",
	}
	r := &kgo.Record{Topic: "tradebus.trade", Value: msg.Payload}
	encode(r, msg, "trade.binance.BTCUSDT")
	for i := range r.Headers { // as read off the wire: names not interned
		r.Headers[i].Key = strings.Clone(r.Headers[i].Key)
	}
	var m driver.Message
	decode(r, "trade", &m, strconv.FormatInt(r.Offset, 10))
	if !maps.Equal(m.Metadata, map[string]string(msg.Metadata)) {
		t.Fatalf("decoded %q, want %q", m.Metadata, msg.Metadata)
	}
	for _, h := range r.Headers {
		if h.Key == "ce_type" && unsafe.StringData(m.Metadata[events.MetaType]) != unsafe.SliceData(h.Value) {
			t.Error("the type metadata is a copy of the header value")
		}
	}
	var sink map[string]string
	mapOnly := testing.AllocsPerRun(100, func() {
		sink = make(map[string]string, len(r.Headers)+1)
		for k, v := range msg.Metadata {
			sink[k] = v
		}
	})
	if n := testing.AllocsPerRun(100, func() { decode(r, "trade", &m, strconv.FormatInt(r.Offset, 10)) }); n > mapOnly {
		t.Errorf("decode: %v allocations, the metadata map alone is %v", n, mapOnly)
	}
	_ = sink
}

// TestEncodeEmptyValues: an empty metadata value and an empty partition
// key are encoded as empty, not null (a nil slice is a null header value
// or key on the wire, which other clients read differently).
func TestEncodeEmptyValues(t *testing.T) {
	msg := message.NewMessage("u-1", nil)
	msg.Metadata = message.Metadata{"x-empty": "", events.MetaRoutingKey: "trade.a"}
	r := &kgo.Record{}
	encode(r, msg, "trade.a")
	if r.Key == nil || len(r.Key) != 0 {
		t.Errorf("key %#v, want non-nil empty", r.Key)
	}
	found := false
	for _, h := range r.Headers {
		if h.Key == "x-empty" {
			found = true
			if h.Value == nil || len(h.Value) != 0 {
				t.Errorf("header x-empty = %#v, want non-nil empty", h.Value)
			}
		}
	}
	if !found {
		t.Errorf("no header x-empty in %v", r.Headers)
	}
}
