package publisher_test

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/transport/driver"
)

// releasingSender is a transport publisher that, like the Kafka driver,
// keeps none of the metadata maps once SendMessages returned: it copies
// each message's metadata and remembers which maps it was given.
type releasingSender struct {
	release bool
	mds     []map[string]string // copies, call after call
	maps    []uintptr           // the maps themselves
}

func (s *releasingSender) Publish(string, ...*message.Message) error { return errors.New("unused") }
func (s *releasingSender) Close() error                              { return nil }
func (s *releasingSender) ReleasesMetadata() bool                    { return s.release }

func (s *releasingSender) SendMessages(_ context.Context, msgs []driver.Message) error {
	for _, m := range msgs {
		s.mds = append(s.mds, maps.Clone(m.Metadata))
		s.maps = append(s.maps, reflect.ValueOf(m.Metadata).Pointer())
	}
	return nil
}

// TestPublishReusesReleasedMetadata: on a transport that releases the
// metadata maps, a call's events carry exactly their own envelope even when
// they fill the maps of a previous call that had more attributes (a parent
// in ctx: causation and trace parent); on one that keeps them, every event
// gets a map of its own.
func TestPublishReusesReleasedMetadata(t *testing.T) {
	for _, release := range []bool{true, false} {
		s := &releasingSender{release: release}
		p, err := publisher.New(s)
		require.NoError(t, err)
		parent := events.Envelope{ID: "parent-1", CorrelationID: "flow-9", TraceParent: "00-abc-def-01"}
		ctx := events.ContextWithEnvelope(context.Background(), parent)
		require.NoError(t, p.Publish(ctx, trade("BTCUSDT"), trade("ETHUSDT")))
		require.NoError(t, p.Publish(context.Background(), trade("SOLUSDT"), trade("XRPUSDT")))
		require.Len(t, s.mds, 4)
		for i, md := range s.mds[:2] {
			require.Equal(t, "flow-9", md[events.MetaCorrelationID], i)
			require.Equal(t, "parent-1", md[events.MetaCausationID], i)
			require.Equal(t, "00-abc-def-01", md[events.MetaTraceParent], i)
		}
		for i, md := range s.mds[2:] {
			require.Len(t, md, 10, "event %d: %v", i, md)
			require.Equal(t, md[events.MetaID], md[events.MetaCorrelationID], i)
			require.NotContains(t, md, events.MetaCausationID)
			require.NotContains(t, md, events.MetaTraceParent)
		}
		require.Equal(t, "XRPUSDT", s.mds[3][events.MetaPartitionKey])
		require.Equal(t, "trade.binance.XRPUSDT", s.mds[3][events.MetaRoutingKey])
		require.NotEqual(t, s.maps[0], s.maps[1])
		if !release {
			require.NotContains(t, s.maps[:2], s.maps[2])
			require.NotContains(t, s.maps[:2], s.maps[3])
		}
	}
}
