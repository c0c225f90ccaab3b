package projection_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tradebus/tradebus/projection"
)

// TestMetrics: with a MeterProvider the projection reports what it
// applied, skipped, retried and saved, and whether it has caught up,
// labelled with its name; Close unregisters them.
func TestMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	collect := func() map[string]int64 {
		var rm metricdata.ResourceMetrics
		require.NoError(t, reader.Collect(context.Background(), &rm))
		got := map[string]int64{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				switch d := m.Data.(type) {
				case metricdata.Sum[int64]:
					for _, dp := range d.DataPoints {
						v, _ := dp.Attributes.Value("tradebus.projection")
						require.Equal(t, "tally", v.AsString())
						got[m.Name] += dp.Value
					}
				case metricdata.Gauge[int64]:
					for _, dp := range d.DataPoints {
						got[m.Name] += dp.Value
					}
				}
			}
		}
		return got
	}

	tr := open(t, memURL)
	publish(t, tr, 0, 1200)
	cfg := config(&projection.MemStore{})
	cfg.MeterProvider = mp
	p, err := projection.New(tr, cfg)
	require.NoError(t, err)
	require.Equal(t, int64(0), collect()["tradebus.projection.caught_up"])
	cancel, errc := run(t, p)
	waitCaughtUp(t, p, errc)
	got := collect()
	require.Equal(t, int64(1200), got["tradebus.projection.applied"])
	require.Equal(t, int64(1), got["tradebus.projection.caught_up"])
	require.Equal(t, int64(3), got["tradebus.projection.snapshots"], "every 500, and when caught up")
	require.Zero(t, got["tradebus.projection.skipped"])
	require.Zero(t, got["tradebus.projection.retries"])
	stop(t, cancel, errc)
	require.NoError(t, p.Close())
	require.Empty(t, collect(), "Close unregisters the instruments")
}
