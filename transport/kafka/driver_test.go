package kafka_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/kafka"
)

// receiveN calls ReceiveBatch until n messages arrived.
func receiveN(t *testing.T, sub driver.Subscription, n int) []*driver.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	var got []*driver.Message
	for len(got) < n {
		batch, err := sub.ReceiveBatch(ctx, n-len(got))
		if err != nil {
			t.Fatalf("ReceiveBatch after %d of %d: %v", len(got), n, err)
		}
		if len(batch) > n-len(got) {
			t.Fatalf("ReceiveBatch(max %d) returned %d", n-len(got), len(batch))
		}
		got = append(got, batch...)
	}
	return got
}

func payloads(msgs []*driver.Message) []string {
	var ps []string
	for _, m := range msgs {
		ps = append(ps, string(m.Payload))
	}
	return ps
}

// TestDriverNackRedelivers drives the driver without the core: messages
// given back with SendNacks are received again by the same subscription
// (the partition is sought back to its first unacked record), the acked
// prefix is committed, and what is given back at Close goes to the next
// member.
func TestDriverNackRedelivers(t *testing.T) {
	tr := newTransport(t, testBrokers(t), kafka.WithPartitions(1))
	drv := tr.drv
	kind := randomName("k")
	pattern := kind + ".#"
	group := randomName("g")
	var sent []string
	for i := range 6 {
		sent = append(sent, strconv.Itoa(i))
		publish(t, tr, kind+".x.A", newMsg("A", strconv.Itoa(i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	sub, err := drv.Subscribe(ctx, group, pattern)
	if err != nil {
		t.Fatal(err)
	}
	got := receiveN(t, sub, 6)
	if !slices.Equal(payloads(got), sent) {
		t.Fatalf("received %v, want %v", payloads(got), sent)
	}
	for _, m := range got {
		if m.Key != kind+".x.A" || m.PartitionKey != "A" || m.UUID == "" {
			t.Fatalf("message %+v", m)
		}
	}
	// Ack 0, 1 and 3; give back 2.
	if err := sub.SendAcks(ctx, []driver.AckID{got[0].AckID, got[1].AckID, got[3].AckID}); err != nil {
		t.Fatal(err)
	}
	if err := sub.SendNacks(ctx, []driver.AckID{got[2].AckID}); err != nil {
		t.Fatal(err)
	}
	again := receiveN(t, sub, 4)
	if want := sent[2:]; !slices.Equal(payloads(again), want) {
		t.Fatalf("after the nack received %v, want %v (from the first unacked record on)", payloads(again), want)
	}
	// Late acks of the old generation are dropped: acking 4 and 5 of it
	// commits nothing past 2.
	if err := sub.SendAcks(ctx, []driver.AckID{got[4].AckID, got[5].AckID}); err != nil {
		t.Fatal(err)
	}
	if err := sub.SendAcks(ctx, []driver.AckID{again[0].AckID, again[1].AckID}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "commit of offset 4", func() bool {
		c, _ := committed(t, tr, group, pattern)
		return c == 4
	})
	// Give back 4 and 5 and leave: the next member starts at 4.
	if err := sub.SendNacks(ctx, []driver.AckID{again[2].AckID, again[3].AckID}); err != nil {
		t.Fatal(err)
	}
	if err := sub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if c, lag := committed(t, tr, group, pattern); c != 4 || lag != 2 {
		t.Fatalf("committed %d lag %d after Close, want 4 and 2", c, lag)
	}
	sub2, err := drv.Subscribe(ctx, group, pattern)
	if err != nil {
		t.Fatal(err)
	}
	last := receiveN(t, sub2, 2)
	if want := sent[4:]; !slices.Equal(payloads(last), want) {
		t.Fatalf("next member received %v, want %v", payloads(last), want)
	}
	if err := sub2.SendAcks(ctx, []driver.AckID{last[0].AckID, last[1].AckID}); err != nil {
		t.Fatal(err)
	}
	if err := sub2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if c, lag := committed(t, tr, group, pattern); c != 6 || lag != 0 {
		t.Fatalf("committed %d lag %d, want 6 and 0", c, lag)
	}
}

// TestDriverCapabilities: the limits the core enforces.
func TestDriverCapabilities(t *testing.T) {
	drv, err := kafka.NewDriver([]string{"127.0.0.1:1"}, kafka.WithMaxMessageBytes(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = drv.Close(context.Background()) }()
	caps := drv.Capabilities()
	if caps.MaxMessageBytes <= 32<<10 || caps.MaxMessageBytes >= 64<<10 || !caps.KeepsHistory || !caps.DurableGroups ||
		!caps.SharedGroups || !caps.OrderAcrossMembers || !caps.Redelivers {
		t.Errorf("capabilities %+v", caps)
	}
}

// TestMaxMessageBytes: a message of exactly Capabilities.MaxMessageBytes
// (as the core counts it) is stored and received; one byte more is
// refused before sending (by the driver, which counts as the core does:
// ChecksSizes), naming its size and the limit.
func TestMaxMessageBytes(t *testing.T) {
	tr := newTransport(t, testBrokers(t), kafka.WithMaxMessageBytes(64<<10), kafka.WithPartitions(1))
	kind := randomName("k")
	key := kind + ".x.A"
	ch, _ := subscribe(t, tr, randomName("g"), kind+".#")
	limit := tr.Capabilities().MaxMessageBytes
	msg := newMsg("A", "")
	msg.Metadata.Set(events.MetaRoutingKey, key)
	msg.Payload = make([]byte, limit-transport.MetadataSize(msg.Metadata)-len(msg.UUID))
	publish(t, tr, key, msg)
	if got := recv(t, ch); got.UUID != msg.UUID || len(got.Payload) != len(msg.Payload) {
		t.Fatalf("received %s with %d bytes, want %s with %d", got.UUID, len(got.Payload), msg.UUID, len(msg.Payload))
	} else {
		got.Ack()
	}
	big := newMsg("A", "")
	big.Metadata.Set(events.MetaRoutingKey, key)
	big.Payload = make([]byte, limit-transport.MetadataSize(big.Metadata)-len(big.UUID)+1)
	err := tr.Publisher().Publish(key, big)
	var tl *transport.TooLargeError
	if !errors.Is(err, transport.ErrTooLarge) || !errors.As(err, &tl) {
		t.Fatalf("Publish of limit+1 bytes: %v, want a TooLargeError", err)
	}
	if tl.Size != limit+1 || tl.Limit != limit || tl.UUID != big.UUID || tl.Key != key {
		t.Fatalf("Publish of limit+1 bytes: %+v, want size %d, limit %d, UUID %s, key %s", tl, limit+1, limit, big.UUID, key)
	}
}

// TestFetchMaxBytesBelowMessage: with a fetch bound far below one message,
// every message still comes (a record batch bigger than the bound comes
// alone), in order, one fetch after another.
func TestFetchMaxBytesBelowMessage(t *testing.T) {
	tr := newTransport(t, testBrokers(t), kafka.WithFetchMaxBytes(kafka.MinFetchBytes), kafka.WithPartitions(1))
	kind := randomName("k")
	key := kind + ".x.A"
	ch, _ := subscribe(t, tr, randomName("g"), kind+".#")
	const n = 20
	var sent []*message.Message
	for range n {
		m := newMsg("A", strings.Repeat("x", 8*kafka.MinFetchBytes))
		m.Metadata.Set(events.MetaRoutingKey, key)
		sent = append(sent, m)
	}
	publish(t, tr, key, sent...)
	for i := range n {
		got := recv(t, ch)
		if got.UUID != sent[i].UUID || len(got.Payload) != len(sent[i].Payload) {
			t.Fatalf("message %d: got %s (%d bytes), want %s (%d bytes)", i, got.UUID, len(got.Payload), sent[i].UUID, len(sent[i].Payload))
		}
		got.Ack()
	}
}

// TestSendBatchReusesState: batches sent one after the other and at once
// from several goroutines (SendBatch reuses the records and header slab
// of a finished call) arrive with exactly the metadata, key and payload
// each message was sent with, empty values included.
func TestSendBatchReusesState(t *testing.T) {
	tr := newTransport(t, testBrokers(t), kafka.WithPartitions(2))
	drv := tr.drv
	kind := randomName("k")
	const senders, batches, size = 4, 12, 40
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	sub, err := drv.Subscribe(ctx, randomName("g"), kind+".#")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Close(context.Background()) }()
	// The metadata of message name; its length varies, so that the
	// header slab is filled differently from one batch to the next.
	metadataOf := func(name string, n int) map[string]string {
		md := map[string]string{
			events.MetaRoutingKey:   kind + ".x." + name[:1],
			events.MetaPartitionKey: name[:1],
			"name":                  name,
			"empty":                 "",
		}
		for i := range n % 5 {
			md["x-"+strconv.Itoa(i)] = strings.Repeat(name, i+1)
		}
		return md
	}
	errs := make(chan error, senders)
	for s := range senders {
		go func() {
			for b := range batches {
				msgs := make([]*driver.Message, size)
				for i := range msgs {
					name := string(rune('A'+s)) + "-" + strconv.Itoa(b) + "-" + strconv.Itoa(i)
					md := metadataOf(name, b+i)
					msgs[i] = &driver.Message{UUID: "u-" + name, Key: md[events.MetaRoutingKey],
						PartitionKey: md[events.MetaPartitionKey], Metadata: md, Payload: []byte(name)}
				}
				if err := drv.Topic().SendBatch(ctx, msgs); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range senders {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got := receiveN(t, sub, senders*batches*size)
	seen := make(map[string]bool)
	for _, m := range got {
		name := string(m.Payload)
		parts := strings.Split(name, "-")
		if len(parts) != 3 {
			t.Fatalf("payload %q", name)
		}
		b, _ := strconv.Atoi(parts[1])
		i, _ := strconv.Atoi(parts[2])
		want := metadataOf(name, b+i)
		if !maps.Equal(m.Metadata, want) || m.UUID != "u-"+name || m.Key != want[events.MetaRoutingKey] || m.PartitionKey != name[:1] {
			t.Fatalf("message %s: uuid %q key %q partition key %q metadata %q, want metadata %q",
				name, m.UUID, m.Key, m.PartitionKey, m.Metadata, want)
		}
		if seen[name] {
			t.Fatalf("message %s received twice", name)
		}
		seen[name] = true
	}
}
