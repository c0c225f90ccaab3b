// Package subscriber registers typed event handlers on a Watermill router.
//
//	subscriber.Handle(router, sub, "trade.*.BTCUSDT",
//		func(ctx context.Context, t events.Trade) error { … })
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
