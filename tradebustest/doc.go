// Package tradebustest is a test harness for services built on tradebus:
// it runs their handlers on the in-memory transport inside a unit test,
// behind the same middleware.Default stack as in production, and answers
// what was published, consumed, retried, dead-lettered and skipped as a
// duplicate — typed — without a sleep anywhere.
//
//	func TestRisk(t *testing.T) {
//		h := tradebustest.New(t)
//		err := risk.Register(h.Group("risk"), h.Publisher()) // the service's own wiring
//		require.NoError(t, err)
//		h.Publish(order)  // starts every group first: nothing is published before its subscribers exist
//		h.WaitHandled()   // every event handled to the end, also the ones handlers published
//		require.Len(t, tradebustest.DeadLettered[events.Order](h, "risk"), 1)
//	}
//
// # Delivery semantics
//
// Those of transport/mem and middleware.Default: per group every matching
// event once, each symbol in order, failures retried (with a short
// backoff, DefaultBackoffInitial) and then dead-lettered to
// "deadletter.<group>", duplicates (same event id) skipped. What the
// harness records is what the transport stored (Published) and what the
// handlers did (Consumed, Retried); a dead letter is what the stack
// published to the poison topic. Messages a raw Watermill handler returns
// for the transport to publish are not recorded.
//
// # Waiting
//
// WaitHandled and Eventually wake on the harness's own records (a publish,
// a handler attempt, an acked delivery), never on a timer; their deadline
// (WithTimeout, DefaultTimeout) only bounds a test that would otherwise
// hang, and is generous because it costs nothing when the code is right.
//
// # Errors
//
// Every failure is reported through the TB given to New: Errorf, then
// FailNow for those that cannot go on (from the test's goroutine). The
// assertions only call Errorf, so they may run anywhere.
//
// # Concurrency
//
// See Harness: waits and Publish belong to the test's goroutine; the
// assertions and publishers are safe for concurrent use.
package tradebustest
