package nats_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/internal/hostile"
	"github.com/tradebus/tradebus/transport/nats"
)

// hostileRun runs the hostile scenario with book, published raw with
// nats.go's JetStream API as an outside producer would (every metadata
// entry a header of the same name).
func hostileRun(t *testing.T, book *message.Message) {
	t.Helper()
	claims := hostile.Claims(t)
	nc := connect(t)
	tr := newTransport(t, nc, nats.WithPrefix(uniquePrefix(t, nc)))
	inject := func(t testing.TB, m *message.Message) {
		t.Helper()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		raw := natsgo.NewMsg(drv(tr).Subject(m.Metadata.Get(events.MetaRoutingKey)))
		for k, v := range m.Metadata {
			raw.Header[k] = []string{v}
		}
		raw.Data = m.Payload
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := js.PublishMsg(ctx, raw); err != nil {
			t.Fatalf("raw publish of %d payload bytes: %v", len(m.Payload), err)
		}
	}
	hostile.Run(t, hostile.Scenario{Transport: tr, Claims: claims, Message: book, Slim: true, OverLimit: true, Inject: inject})
}

// headerBlock is the size of the header block nats.go encodes for md:
// "NATS/1.0\r\n", "key: value\r\n" per entry, "\r\n".
func headerBlock(md map[string]string) int {
	n := len("NATS/1.0\r\n") + 2
	for k, v := range md {
		n += len(k) + len(v) + 4
	}
	return n
}

// TestHostilePayloadNearMaxPayload (issue 10): an outside producer stores
// a book whose headers and body are 10 bytes short of the server's
// max_payload (1 MiB by default); the handler rejects it. Its dead letter is over max_payload:
// the publish failed and the book was redelivered about once a second,
// forever. Now the core refuses the copy before sending, the dead letter
// goes out slim with the book in PostgreSQL, the next book of the symbol
// is handled and unrelated publishes never fail.
func TestHostilePayloadNearMaxPayload(t *testing.T) {
	nc := connect(t)
	hdr := headerBlock(hostile.Book(t, "BTCUSDT", 1, 300).Metadata) // the envelope is as long for any book
	book := hostile.Book(t, "BTCUSDT", 1, int(nc.MaxPayload())-hdr-200)
	book.Metadata.Set("x-pad", "")
	room := int(nc.MaxPayload()) - headerBlock(book.Metadata) - len(book.Payload)
	book.Metadata.Set("x-pad", strings.Repeat("p", room-10))
	if room := int(nc.MaxPayload()) - headerBlock(book.Metadata) - len(book.Payload); room != 10 {
		t.Fatalf("%d bytes left under max_payload", room)
	}
	hostileRun(t, book)
}

// TestHostileHeadersNearJetStreamLimit: a book with a header block 40
// bytes short of 65,535 — legal, JetStream stores a header block of up to 65,535 bytes
// (nats.MaxHeaderBytes) whatever max_payload is. The poison metadata takes
// the copy's block over it; JetStream refused that with "header size
// exceeds maximum allowed of 64k" and the book was redelivered forever.
// Now the driver states the limit (Capabilities.MaxHeaderBytes) and
// checks the exact block, so the dead letter goes out slim.
func TestHostileHeadersNearJetStreamLimit(t *testing.T) {
	book := hostile.Book(t, "ETHUSDT", 1, 2000)
	book.Metadata.Set("x-hostile", "")
	book.Metadata.Set("x-hostile", strings.Repeat("h", nats.MaxHeaderBytes-40-headerBlock(book.Metadata)))
	hostileRun(t, book)
}
