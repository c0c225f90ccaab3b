package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tradebus/tradebus/projection"
)

// The portfolio is a projection of the exec history wherever the
// transport keeps one: killed mid-run (as a crash: what it did since its
// last snapshot is lost) and restarted from its snapshot, it reaches the
// portfolio of a run that was never interrupted, on every transport that
// keeps history.
func TestPortfolioKilledMidRun(t *testing.T) {
	cfg := defaultConfig()
	cfg.Seed, cfg.Ticks = 2026, 60
	want := run(t, cfg)
	require.True(t, want.Portfolio.Projection, "the default transport keeps history")
	require.Zero(t, want.Portfolio.Restarts)
	require.Positive(t, want.Partial+want.Filled, "the run produced fills")
	require.EqualValues(t, want.Bus.Handled["tradebus.exec.v1"], want.Portfolio.Applied, "every exec report folded once")

	for _, scheme := range []string{"mem", "kafka", "redis", "nats"} {
		t.Run(scheme, func(t *testing.T) {
			c := cfg
			if scheme != "mem" {
				c.URL, c.Namespace = brokerURL(t, scheme)
			}
			store := &projection.MemStore{}
			c.Snapshots = store
			c.KillPortfolioAt = want.Bus.Published / 2
			got := run(t, c)
			require.True(t, got.Portfolio.Projection)
			require.Equal(t, 1, got.Portfolio.Restarts, "killed and restarted once")
			requireSameTrading(t, want, got)
			require.Equal(t, want.Portfolio.Applied, got.Portfolio.Applied)
			snap, ok, err := store.Load(context.Background(), "portfolio")
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, got.Portfolio.Applied, snap.Applied, "the last snapshot is the final state")
		})
	}
}

// On a transport without history (mem without it; RabbitMQ, see
// TestSameResultOnEveryTransport) the portfolio is a consumer group's handler.
func TestPortfolioWithoutHistory(t *testing.T) {
	cfg := defaultConfig()
	cfg.Seed, cfg.Ticks, cfg.URL = 2026, 30, "mem://"
	got := run(t, cfg)
	require.False(t, got.Portfolio.Projection)
	require.Positive(t, got.Partial+got.Filled)
}
