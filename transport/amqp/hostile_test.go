package amqp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/internal/hostile"
)

// hostileRun runs the hostile scenario on a transport of its own with a
// book carrying a header "x-hostile" of headerBytes
// bytes: a legal message, published with amqp091 as an outside producer
// would (metadata as string headers, message id, confirms).
func hostileRun(t *testing.T, symbol string, headerBytes int, slim bool) hostile.Result {
	t.Helper()
	claims := hostile.Claims(t)
	e := newEnv(t)
	tr := e.transport(t)
	book := hostile.Book(t, symbol, 1, 2000)
	book.Metadata.Set("x-hostile", strings.Repeat("h", headerBytes))
	e.clean.queue(tr.QueueName(hostile.Group, "book.*."+symbol))
	e.clean.queue(tr.QueueName("dlq", "deadletter."+hostile.Group))
	inject := func(t testing.TB, m *message.Message) {
		t.Helper()
		conn, err := amqp091.Dial(e.url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.Confirm(false); err != nil {
			t.Fatal(err)
		}
		headers := amqp091.Table{}
		for k, v := range m.Metadata {
			headers[k] = v
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, e.exchange, m.Metadata.Get(events.MetaRoutingKey), false, false, amqp091.Publishing{
			Headers: headers, MessageId: m.Metadata.Get(events.MetaID), ContentType: m.Metadata.Get(events.MetaDataContentType),
			Type: m.Metadata.Get(events.MetaType), DeliveryMode: amqp091.Persistent, Body: m.Payload,
		})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := dc.WaitContext(ctx); !ok || err != nil {
			t.Fatalf("raw publish with a %d-byte header not confirmed: %v", headerBytes, err)
		}
	}
	return hostile.Run(t, hostile.Scenario{Transport: tr.Portable, Claims: claims, Message: book, Slim: slim, OverLimit: slim, Inject: inject})
}

// TestHostileHeader60K (issue 10): a legal message with a 60 KB header,
// rejected by the handler, is dead-lettered whole — the copy adds about
// 1.5 KB of poison metadata (reason cut to 1 KiB), far from the 131,072-
// byte frame — and the shared publish connection keeps working.
func TestHostileHeader60K(t *testing.T) {
	t.Parallel()
	hostileRun(t, "BTCUSDT", 60_000, false)
}

// TestHostileHeaderAtFrameLimit: a header of 130,000 bytes, legal (its
// header frame fits RabbitMQ's frame_max of 131,072) but leaving no room
// for the poison metadata. The copy's frame would be over frame_max, and
// RabbitMQ answers that with FRAME_ERROR and closes the publish
// connection the whole process shares. The core (MaxHeaderBytes) and the
// driver (the exact frame size) refuse it before sending instead; the dead
// letter goes out slim with the original in PostgreSQL, and every
// unrelated publish meanwhile succeeds.
func TestHostileHeaderAtFrameLimit(t *testing.T) {
	t.Parallel()
	hostileRun(t, "ETHUSDT", 130_000, true)
}

// TestBrokerClosesOnOversizedHeaderFrame is why the size checks come
// before sending: RabbitMQ answers a header frame over frame_max by
// closing the whole connection (FRAME_ERROR), not just the channel —
// every publisher sharing it fails. A raw amqp091 publish of a header
// that fills the frame shows it.
func TestBrokerClosesOnOversizedHeaderFrame(t *testing.T) {
	t.Parallel()
	conn, err := amqp091.Dial(brokerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if conn.Config.FrameSize != 131072 {
		t.Fatalf("frame_max %d, want RabbitMQ's default 131072", conn.Config.FrameSize)
	}
	closed := conn.NotifyClose(make(chan *amqp091.Error, 1))
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	err = ch.PublishWithContext(context.Background(), "", "tbtest-nowhere-"+randSuffix(), false, false,
		amqp091.Publishing{Headers: amqp091.Table{"x": strings.Repeat("h", conn.Config.FrameSize)}, Body: []byte("{}")})
	if err != nil {
		// The broker may close the connection between the header frame
		// and the body: the publish then fails, and the close says why.
		t.Logf("publish: %v", err)
	}
	select {
	case e := <-closed:
		if e == nil || e.Code != amqp091.FrameError {
			t.Fatalf("connection closed with %v, want FRAME_ERROR", e)
		}
	case <-time.After(time.Minute):
		t.Fatal("the broker kept the connection open")
	}
}

// TestCapabilitiesOfTestBroker: the limits the README states, on the test
// broker: MaxHeaderBytes is frame_max (131,072) less 4 KiB, and
// MaxMessageBytes RabbitMQ's default max_message_size for the version the
// broker reports (128 MiB for 3.8 to 3.13, 16 MiB from 4.0).
func TestCapabilitiesOfTestBroker(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tr := e.transport(t)
	if err := tr.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	conn, err := amqp091.Dial(e.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	version, _ := conn.Properties["version"].(string)
	want := 16 << 20
	if strings.HasPrefix(version, "3.") {
		want = 128 << 20
	}
	caps := tr.drv.Capabilities()
	if caps.MaxHeaderBytes != 131072-4096 || conn.Config.FrameSize != 131072 || caps.MaxMessageBytes != want {
		t.Errorf("RabbitMQ %s, frame_max %d: MaxHeaderBytes %d, MaxMessageBytes %d, want %d and %d",
			version, conn.Config.FrameSize, caps.MaxHeaderBytes, caps.MaxMessageBytes, 131072-4096, want)
	}
}
