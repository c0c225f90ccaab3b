package transport_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/mem"
)

// pipeDriver is a driver whose topic pipelines: each SendPipelined call
// is recorded as written, its confirm held until the test sends on
// confirm.
type pipeDriver struct {
	bareDriver
	written chan []*driver.Message
	confirm chan error
}

func (d *pipeDriver) Topic() driver.Topic { return pipeTopic{d} }

type pipeTopic struct{ d *pipeDriver }

func (pipeTopic) SendBatch(context.Context, []*driver.Message) error {
	return errors.New("not used: the core pipelines")
}

func (t pipeTopic) SendPipelined(ctx context.Context, msgs []*driver.Message) (func() error, error) {
	t.d.written <- msgs
	return func() error {
		select {
		case err := <-t.d.confirm:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}, nil
}

func pipeMsg(key, pk string) driver.Message {
	return driver.Message{UUID: "u-" + pk, Key: key, PartitionKey: pk,
		Metadata: map[string]string{"routingkey": key, "partitionkey": pk}, Payload: []byte("{}")}
}

// TestSendMessagesPipelined: on a driver that pipelines, the call returns
// once the batch is written, wait returns the confirm's outcome, and Close
// waits for a batch whose confirm is awaited.
func TestSendMessagesPipelined(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := &pipeDriver{written: make(chan []*driver.Message, 4), confirm: make(chan error)}
		tr, err := transport.New(d)
		if err != nil {
			t.Fatal(err)
		}
		pub := tr.Publisher().(*transport.Publisher)
		ctx := context.Background()
		wait1, err := pub.SendMessagesPipelined(ctx, []driver.Message{pipeMsg("trade.x.A", "A")})
		if err != nil {
			t.Fatal(err)
		}
		wait2, err := pub.SendMessagesPipelined(ctx, []driver.Message{pipeMsg("trade.x.A", "A")})
		if err != nil {
			t.Fatal(err)
		}
		if len(d.written) != 2 {
			t.Fatalf("%d batches written before any confirm, want 2", len(d.written))
		}
		closed := make(chan error, 1)
		go func() { closed <- tr.Close(ctx) }()
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("Close returned while confirms were awaited")
		default:
		}
		go func() {
			d.confirm <- nil
			d.confirm <- errors.New("nacked")
		}()
		if err := wait1(); err != nil {
			t.Fatalf("wait 1: %v", err)
		}
		if err := wait2(); err == nil || err.Error() != "bare: publish 1 messages: nacked" {
			t.Fatalf("wait 2: %v, want the driver's error wrapped", err)
		}
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
		if _, err := pub.SendMessagesPipelined(ctx, []driver.Message{pipeMsg("trade.x.A", "A")}); !errors.Is(err, transport.ErrClosed) {
			t.Fatalf("after Close: %v, want ErrClosed", err)
		}
	})
}

// TestSendMessagesPipelinedFallback: on a driver that does not pipeline
// (mem), the batch is sent before the call returns, with no wait.
func TestSendMessagesPipelinedFallback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := mem.New()
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(ctx)
	sub, err := tr.Subscriber("g")
	if err != nil {
		t.Fatal(err)
	}
	ch, err := sub.Subscribe(ctx, "trade.#")
	if err != nil {
		t.Fatal(err)
	}
	pub := tr.Publisher().(*transport.Publisher)
	wait, err := pub.SendMessagesPipelined(ctx, []driver.Message{pipeMsg("trade.x.A", "A")})
	if err != nil {
		t.Fatal(err)
	}
	if wait != nil {
		t.Fatal("a wait from a driver that does not pipeline")
	}
	select {
	case m := <-ch:
		m.Ack()
	case <-ctx.Done():
		t.Fatal("not delivered")
	}
}
