package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCLIRunsOnMemAndEnds(t *testing.T) {
	var out, errOut bytes.Buffer
	code := cli([]string{"-seed", "7", "-ticks", "80", "-v"}, &out, &errOut)
	require.Equal(t, 0, code, "stderr: %s", errOut.String())
	require.Contains(t, out.String(), "total realized PnL:")
	require.Contains(t, out.String(), "on mem")
	// Correlation ids are visible in the log.
	require.Contains(t, errOut.String(), "correlationid=")
	require.Contains(t, errOut.String(), "msg=fill")
}

func TestCLIRejectsUnknownBroker(t *testing.T) {
	var out, errOut bytes.Buffer
	code := cli([]string{"-broker", "carrier-pigeon://x"}, &out, &errOut)
	require.Equal(t, 1, code)
	require.Contains(t, errOut.String(), "unknown URL scheme")
}

func TestSameSeedSameSummary(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := func(seed uint64) *Summary {
		cfg := defaultConfig()
		cfg.Seed, cfg.Ticks = seed, 120
		sum, err := Run(ctx, cfg)
		require.NoError(t, err)
		return sum
	}
	a, b, c := run(11), run(11), run(12)
	require.Equal(t, a, b)
	require.NotEqual(t, a.Lines, c.Lines)
	// Every event kind flowed through its service.
	for _, kind := range []string{"ticker", "trade", "signal", "order", "exec", "position"} {
		require.Positive(t, a.Handled[kind], kind)
	}
	require.Equal(t, int64(2*3*120), a.Handled["ticker"])
	var total int64
	for _, n := range a.Handled {
		total += n
	}
	require.Equal(t, a.Published, total, "every published event handled exactly once")
	require.False(t, strings.HasPrefix(a.Realized, "0") && a.Realized == "0", "some PnL was realized")
}
