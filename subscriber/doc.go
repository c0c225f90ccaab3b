// Package subscriber registers typed event handlers: on a Group, the
// transport's fast path (no router, no goroutine per message), or on a
// Watermill router.
//
//	group, err := subscriber.NewGroupWithStack(sub, stack) // stack built for sub's group
//	err = subscriber.On(group, "trade.*.BTCUSDT",
//		func(ctx context.Context, t events.Trade) error { … })
//	err = group.Run(ctx)
//
//	subscriber.Handle(router, sub, "trade.*.BTCUSDT",
//		func(ctx context.Context, t events.Trade) error { … })
//
// tradebus.Service wires a Group with its transport, stack and publisher
// in one call.
//
// # Delivery semantics
//
// The transport subscriber decides the delivery guarantees (at-least-once
// on every tradebus transport). A message is acked after fn returned nil
// and every router middleware succeeded, and nacked otherwise. Retry,
// dead-lettering and deduplication are router middleware (package
// middleware), not this package's job.
//
// # Errors
//
// A message that cannot be decoded, fails validation or carries another
// event type makes the handler return a *DecodeError wrapped with
// middleware.Permanent, so errors.Is(err, middleware.ErrPermanent) holds
// and the poison-queue middleware takes it without retrying. Handle
// returns errors wrapping ErrInvalidOption for bad arguments.
//
// # Concurrency
//
// fn is called concurrently for messages of different partition keys
// (symbols) when the transport delivers them concurrently, and never
// concurrently for one key.
package subscriber
