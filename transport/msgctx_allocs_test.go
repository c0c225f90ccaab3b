//go:build !race

package transport_test

import (
	"context"
	"testing"

	"github.com/tradebus/tradebus/internal/msgctx"
	"github.com/tradebus/tradebus/transport"
)

// lookupAllocs counts the allocations of looking up, through c, a value
// of the caller's context, the group and a message-scoped key that is not
// there. The consumer's context sits under context.WithoutCancel: above
// it, withoutCancelCtx.Value (called from a context type of another
// package) would allocate on every lookup that passes it. (The race
// detector adds allocations: this is not counted under it.)
func lookupAllocs(c context.Context) float64 {
	return testing.AllocsPerRun(100, func() {
		_ = c.Value(callerKey{})
		_ = transport.GroupFromContext(c)
		_ = c.Value(msgctx.Failures)
	})
}
