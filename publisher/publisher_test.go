package publisher_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/publisher"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a message.Publisher that keeps what it was given.
type recorder struct {
	mu     sync.Mutex
	topics []string
	msgs   []*message.Message
	err    error
}

func (r *recorder) Publish(topic string, msgs ...*message.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	for _, m := range msgs {
		r.topics = append(r.topics, topic)
		r.msgs = append(r.msgs, m)
	}
	return nil
}

func (r *recorder) Close() error { return nil }

var at = time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)

func trade(symbol string) events.Trade {
	return events.Trade{
		Exchange: "binance", Symbol: symbol, TradeID: "t1",
		Price: events.MustDecimal("64000.12"), Amount: events.MustDecimal("0.000000000000000001"),
		Side: events.SideBuy, Time: at,
	}
}

func TestPublishFillsEnvelope(t *testing.T) {
	rec := &recorder{}
	p, err := publisher.New(rec, publisher.WithSource("/gw/1"))
	require.NoError(t, err)
	require.NoError(t, p.Publish(context.Background(), trade("BTCUSDT")))

	require.Len(t, rec.msgs, 1)
	msg := rec.msgs[0]
	require.Equal(t, "trade.binance.BTCUSDT", rec.topics[0])
	id, err := uuid.Parse(msg.UUID)
	require.NoError(t, err)
	require.Equal(t, uuid.Version(7), id.Version())
	md := msg.Metadata
	require.Equal(t, msg.UUID, md[events.MetaID])
	require.Equal(t, "1.0", md[events.MetaSpecVersion])
	require.Equal(t, "tradebus.trade.v1", md[events.MetaType])
	require.Equal(t, "/gw/1", md[events.MetaSource])
	require.Equal(t, "BTCUSDT", md[events.MetaSubject])
	require.Equal(t, "BTCUSDT", md[events.MetaPartitionKey])
	require.Equal(t, "trade.binance.BTCUSDT", md[events.MetaRoutingKey])
	require.Equal(t, "2026-03-04T05:06:07.123456789Z", md[events.MetaTime])
	require.Equal(t, events.ContentTypeJSON, md[events.MetaDataContentType])
	// Without a parent the event starts a flow.
	require.Equal(t, msg.UUID, md[events.MetaCorrelationID])
	require.Empty(t, md[events.MetaCausationID])

	got, err := events.Unmarshal[events.Trade](msg.Payload)
	require.NoError(t, err)
	require.Equal(t, trade("BTCUSDT"), got)
}

func TestPublishChainsCorrelationFromContext(t *testing.T) {
	rec := &recorder{}
	p, err := publisher.New(rec)
	require.NoError(t, err)

	parent := events.Envelope{ID: "parent-1", CorrelationID: "flow-9", TraceParent: "00-abc-def-01"}
	ctx := events.ContextWithEnvelope(context.Background(), parent)
	require.NoError(t, p.Publish(ctx, trade("BTCUSDT")))
	md := rec.msgs[0].Metadata
	require.Equal(t, "flow-9", md[events.MetaCorrelationID])
	require.Equal(t, "parent-1", md[events.MetaCausationID])
	require.Equal(t, "00-abc-def-01", md[events.MetaTraceParent])

	// A parent without a correlation id started its own flow.
	ctx = events.ContextWithEnvelope(context.Background(), events.Envelope{ID: "root"})
	require.NoError(t, p.Publish(ctx, trade("ETHUSDT")))
	md = rec.msgs[1].Metadata
	require.Equal(t, "root", md[events.MetaCorrelationID])
	require.Equal(t, "root", md[events.MetaCausationID])
}

func TestPublishInvalidSendsNothing(t *testing.T) {
	rec := &recorder{}
	p, err := publisher.New(rec)
	require.NoError(t, err)
	bad := trade("BTCUSDT")
	bad.Price = events.MustDecimal("-1")
	err = p.Publish(context.Background(), trade("BTCUSDT"), trade("ETHUSDT"), bad)
	require.Error(t, err)
	require.ErrorIs(t, err, publisher.ErrInvalidEvent)
	require.ErrorIs(t, err, events.ErrValidation)
	var ee *publisher.EventError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 2, ee.Index)
	require.Equal(t, "tradebus.trade.v1", ee.Type)
	require.Contains(t, err.Error(), "price")
	require.Empty(t, rec.msgs, "nothing of an invalid call is sent")

	err = p.Publish(context.Background(), nil)
	require.ErrorIs(t, err, publisher.ErrInvalidEvent)
}

func TestPublishKeepsOrderAcrossKeys(t *testing.T) {
	rec := &recorder{}
	p, err := publisher.New(rec)
	require.NoError(t, err)
	evs := []events.Event{trade("A"), trade("A"), trade("B"), trade("A"), trade("C"), trade("C")}
	require.NoError(t, p.Publish(context.Background(), evs...))
	want := []string{"A", "A", "B", "A", "C", "C"}
	for i, m := range rec.msgs {
		require.Equal(t, want[i], m.Metadata[events.MetaPartitionKey])
		require.Equal(t, "trade.binance."+want[i], rec.topics[i])
	}
}

func TestPublishTransportErrorAndCancelledContext(t *testing.T) {
	boom := errors.New("broker down")
	p, err := publisher.New(&recorder{err: boom})
	require.NoError(t, err)
	err = p.Publish(context.Background(), trade("BTCUSDT"))
	require.ErrorIs(t, err, boom)
	require.Contains(t, err.Error(), "trade.binance.BTCUSDT")

	rec := &recorder{}
	p, err = publisher.New(rec)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, p.Publish(ctx, trade("BTCUSDT")), context.Canceled)
	require.Empty(t, rec.msgs)
}

func TestNewRejectsBadOptions(t *testing.T) {
	_, err := publisher.New(nil)
	require.ErrorIs(t, err, publisher.ErrInvalidOption)
	_, err = publisher.New(&recorder{}, publisher.WithSource(""))
	require.ErrorIs(t, err, publisher.ErrInvalidOption)
	_, err = publisher.New(&recorder{}, publisher.WithClock(nil))
	require.ErrorIs(t, err, publisher.ErrInvalidOption)
}

func TestNewMessage(t *testing.T) {
	p, err := publisher.New(&recorder{})
	require.NoError(t, err)
	msg, err := p.NewMessage(context.Background(), trade("SOLUSDT"))
	require.NoError(t, err)
	require.Equal(t, "trade.binance.SOLUSDT", msg.Metadata[events.MetaRoutingKey])
	_, err = p.NewMessage(context.Background(), events.Trade{})
	require.ErrorIs(t, err, publisher.ErrInvalidEvent)
}

func TestPublishConcurrent(t *testing.T) {
	rec := &recorder{}
	p, err := publisher.New(rec)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if err := p.Publish(context.Background(), trade("BTCUSDT")); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	require.Len(t, rec.msgs, 400)
	seen := map[string]bool{}
	for _, m := range rec.msgs {
		require.False(t, seen[m.UUID], "ids are unique")
		seen[m.UUID] = true
	}
}
