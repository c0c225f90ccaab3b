// Package tradebus is the short path for a service's common case: one
// consumer group on one transport, typed handlers behind the default
// reliability stack, a graceful shutdown on SIGINT or SIGTERM.
//
//	svc, err := tradebus.NewService(ctx, "amqp://guest:guest@127.0.0.1:5672/", "risk")
//	err = subscriber.On(svc.Group(), "exec.#", onExecution)
//	err = svc.Run(ctx) // until ctx ends or SIGINT/SIGTERM; drains, then closes
//
// The pieces it wires — transport.Open, middleware.Default,
// subscriber.NewGroupWithStack, publisher.New — remain usable one by one;
// Service only states the consumer group once for all of them.
//
// # Delivery semantics
//
// Those of the transport and of middleware.Default: at least once; a
// handler error is retried with backoff, then dead-lettered to
// "deadletter.<group>"; duplicates (same event id) are skipped after a
// success. Run acks a message only after its handler succeeded, and on
// shutdown lets the handlers finish what they hold.
//
// # Errors
//
// NewService and NewServiceOn return errors wrapping ErrInvalidOption for
// bad options, subscriber.ErrGroupMismatch when WithMiddleware names
// another consumer group, and the transport's errors (ErrUnknownScheme,
// connection failures) as transport.Open returns them.
//
// # Concurrency
//
// A Service is safe for concurrent use. Handlers run concurrently for
// different partition keys (symbols), never concurrently for one key.
package tradebus
