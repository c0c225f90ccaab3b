package kafka_test

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/kafka"
)

// kcat runs kcat with args (and stdin) and returns its output.
func kcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kcat", args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

func parseHeaders(csv string) map[string]string {
	h := map[string]string{}
	for _, kv := range strings.Split(csv, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			h[k] = v
		}
	}
	return h
}

// TestKcatInterop: events published by tradebus are read by kcat (a
// librdkafka client) with their CloudEvents headers and key, and records
// produced by kcat with CloudEvents headers reach a tradebus subscriber.
func TestKcatInterop(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Skip("kcat not on PATH: install the Debian package kcat (.ci/run does)")
	}
	brokers := testBrokers(t)
	tr := newTransport(t, brokers, kafka.WithPartitions(1))
	kind := randomName("trade")
	topic := tr.Topic(kind)
	key := kind + ".binance.BTCUSDT"

	t.Run("tradebus to kcat", func(t *testing.T) {
		var sent []*message.Message
		for i := range 3 {
			id := uuid.NewString()
			msg := message.NewMessage(id, []byte(`{"price":"0.000000000000000001","n":`+string(rune('0'+i))+`}`))
			msg.Metadata = message.Metadata{
				events.MetaID:              id,
				events.MetaType:            "tradebus.trade.v1",
				events.MetaSource:          "tradebus-test",
				events.MetaSpecVersion:     events.SpecVersion,
				events.MetaTime:            "2026-01-02T03:04:05.123456789Z",
				events.MetaSubject:         "BTCUSDT",
				events.MetaDataContentType: events.ContentTypeJSON,
				events.MetaCorrelationID:   id,
				events.MetaPartitionKey:    "BTCUSDT",
				events.MetaRoutingKey:      key,
				"x-desk":                   "arb",
			}
			sent = append(sent, msg)
		}
		publish(t, tr, key, sent...)
		out := kcat(t, "", "-C", "-q", "-b", strings.Join(brokers, ","), "-t", topic,
			"-o", "beginning", "-e", "-f", "%k|%h|%s\n")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != len(sent) {
			t.Fatalf("kcat read %d records, want %d:\n%s", len(lines), len(sent), out)
		}
		for i, line := range lines {
			parts := strings.SplitN(line, "|", 3)
			if len(parts) != 3 {
				t.Fatalf("kcat line %q", line)
			}
			k, h, payload := parts[0], parseHeaders(parts[1]), parts[2]
			msg := sent[i]
			if k != "BTCUSDT" {
				t.Errorf("record %d key %q, want BTCUSDT", i, k)
			}
			if payload != string(msg.Payload) {
				t.Errorf("record %d payload %q, want %q", i, payload, msg.Payload)
			}
			want := map[string]string{
				"ce_id":            msg.UUID,
				"ce_type":          "tradebus.trade.v1",
				"ce_source":        "tradebus-test",
				"ce_specversion":   "1.0",
				"ce_time":          "2026-01-02T03:04:05.123456789Z",
				"ce_subject":       "BTCUSDT",
				"ce_correlationid": msg.UUID,
				"ce_partitionkey":  "BTCUSDT",
				"ce_routingkey":    key,
				"content-type":     "application/json",
				"x-desk":           "arb",
			}
			for name, v := range want {
				if h[name] != v {
					t.Errorf("record %d header %s = %q, want %q (all: %v)", i, name, h[name], v, h)
				}
			}
			if len(h) != len(want) {
				t.Errorf("record %d has %d headers, want %d: %v", i, len(h), len(want), h)
			}
		}
	})

	t.Run("kcat to tradebus", func(t *testing.T) {
		pattern := kind + ".kraken.*"
		ch, _ := subscribe(t, tr, randomName("g"), pattern)
		id := uuid.NewString()
		b := strings.Join(brokers, ",")
		kcat(t, `{"price":"1.5"}`+"\n", "-P", "-q", "-b", b, "-t", topic, "-k", "ETHUSDT",
			"-H", "ce_id="+id, "-H", "ce_type=tradebus.trade.v1", "-H", "ce_specversion=1.0",
			"-H", "ce_source=kcat", "-H", "ce_routingkey="+kind+".kraken.ETHUSDT",
			"-H", "content-type=application/json", "-H", "ce_traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
		// Not matching the pattern: skipped, and it must not block what follows.
		kcat(t, "skip me\n", "-P", "-q", "-b", b, "-t", topic, "-k", "BTCUSDT",
			"-H", "ce_id="+uuid.NewString(), "-H", "ce_routingkey="+kind+".coinbase.BTCUSDT")
		// No routing key header at all: the routing key is the kind, which
		// "kind.kraken.*" does not match.
		kcat(t, "bare\n", "-P", "-q", "-b", b, "-t", topic, "-k", "XRPUSDT")
		sentinel := newMsg("SOLUSDT", "sentinel")
		publish(t, tr, kind+".kraken.SOLUSDT", sentinel)

		got := recv(t, ch)
		got.Ack()
		if got.UUID != id {
			t.Fatalf("first delivery UUID %q payload %q, want the kcat record %s", got.UUID, got.Payload, id)
		}
		if string(got.Payload) != `{"price":"1.5"}` {
			t.Errorf("payload %q", got.Payload)
		}
		want := map[string]string{
			events.MetaID:              id,
			events.MetaType:            "tradebus.trade.v1",
			events.MetaSpecVersion:     "1.0",
			events.MetaSource:          "kcat",
			events.MetaRoutingKey:      kind + ".kraken.ETHUSDT",
			events.MetaDataContentType: "application/json",
			events.MetaPartitionKey:    "ETHUSDT", // from the record key
			events.MetaTraceParent:     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		}
		for k, v := range want {
			if got.Metadata.Get(k) != v {
				t.Errorf("metadata %s = %q, want %q", k, got.Metadata.Get(k), v)
			}
		}
		env := events.EnvelopeFromMetadata(got.Metadata)
		if env.ID != id || env.PartitionKey != "ETHUSDT" {
			t.Errorf("envelope %+v", env)
		}
		next := recv(t, ch)
		next.Ack()
		if next.UUID != sentinel.UUID {
			t.Fatalf("second delivery %q (payload %q), want the sentinel: non-matching records must be skipped",
				next.UUID, next.Payload)
		}
	})
}
