package transport

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDeadlineReused: the acker's deadline hands out one context from call
// to call while none overruns, ends it when a call overruns, and then
// starts the next call with a fresh one.
func TestDeadlineReused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dl := newDeadline(time.Second)
		defer dl.stop()

		ctx := dl.start()
		time.Sleep(900 * time.Millisecond)
		require.NoError(t, ctx.Err(), "within the bound")
		dl.done()
		time.Sleep(time.Hour)
		require.NoError(t, ctx.Err(), "no call running: no deadline")

		ctx2 := dl.start()
		require.Equal(t, ctx, ctx2, "reused while no call overran")
		time.Sleep(time.Second)
		synctest.Wait()
		require.ErrorIs(t, ctx2.Err(), context.Canceled, "the call overran its bound")
		dl.done()

		ctx3 := dl.start()
		require.NoError(t, ctx3.Err(), "a fresh context after an overrun")
		dl.done()
	})
}

// TestDeadlineAllocs: a call's deadline allocates nothing (the acker wakes
// for every ack of a quiet stream).
func TestDeadlineAllocs(t *testing.T) {
	dl := newDeadline(time.Minute)
	defer dl.stop()
	allocs := testing.AllocsPerRun(1000, func() {
		_ = dl.start()
		dl.done()
	})
	require.Zero(t, allocs)
}
