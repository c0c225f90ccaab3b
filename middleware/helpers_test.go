package middleware

import (
	"errors"
	"io"
	"log/slog"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
)

var quiet = slog.New(slog.DiscardHandler)

var errFlaky = errors.New("flaky downstream")

// testMsg returns a message that looks like one published by package publisher.
func testMsg(id string) *message.Message {
	m := message.NewMessage(id, []byte(`{"n":1}`))
	m.Metadata.Set(events.MetaID, id)
	m.Metadata.Set(events.MetaType, "tradebus.trade.v1")
	m.Metadata.Set(events.MetaRoutingKey, "trade.binance.BTCUSDT")
	m.Metadata.Set(events.MetaPartitionKey, "BTCUSDT")
	m.Metadata.Set(events.MetaCorrelationID, "corr-"+id)
	return m
}

// recPub is a message.Publisher that records what it publishes and can fail.
type recPub struct {
	mu    sync.Mutex
	msgs  map[string][]*message.Message
	fails int   // fail this many publishes first
	err   error // the error to fail with
}

func newRecPub() *recPub { return &recPub{msgs: make(map[string][]*message.Message)} }

func (p *recPub) Publish(topic string, msgs ...*message.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fails > 0 {
		p.fails--
		if p.err != nil {
			return p.err
		}
		return io.ErrClosedPipe
	}
	for _, m := range msgs {
		p.msgs[topic] = append(p.msgs[topic], m.Copy())
	}
	return nil
}

func (p *recPub) Close() error { return nil }

func (p *recPub) on(topic string) []*message.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*message.Message(nil), p.msgs[topic]...)
}

func (p *recPub) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, ms := range p.msgs {
		n += len(ms)
	}
	return n
}
