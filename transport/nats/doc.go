// Package nats is the tradebus driver for NATS JetStream (nats:// and
// tls:// URLs), written directly on nats.go's jetstream package. It only
// moves batches (package transport/driver); the portable core
// (transport.New, transport.Open) turns it into a Watermill publisher and
// subscribers with key-ordered concurrency, batched acks, redelivery
// backoff, validation and one Close:
//
//	drv, err := nats.NewDriver(nc, nats.WithPrefix("desk1"))
//	tr, err := transport.New(drv, transport.WithConcurrency(8))
//	// or: transport.Open(ctx, "nats://host:4222?prefix=desk1&concurrency=8")
//
// Driver-specific operations (Subject, Stream, Conn) are methods of
// *Driver, reachable through (*transport.Portable).Driver().
//
// Layout: routing key k travels on subject <prefix>.k
// ("tradebus.trade.binance.BTCUSDT"); metadata travels as headers of the
// same (CloudEvents, case-sensitive) names, the message UUID as header
// Tradebus-Uuid. Events of kind x are kept in the stream <prefix>_x
// ("tradebus_trade", subjects <prefix>.x and <prefix>.x.>), created or
// updated on the first publish or subscribe of that kind by a Driver (file
// storage, limits retention; WithStorage, WithMaxMsgs, WithMaxAge,
// WithReplicas). One stream per kind rather than one per prefix: "kind.#"
// then needs no filter at all, and limits fit each kind (book deltas vs
// orders).
//
// A subscription to pattern p for group g pulls from the durable consumer
// "g__p…_<hash>" on p's kind stream (ack explicit, WithAckWait,
// WithMaxDeliver, WithMaxAckPending). '*' maps to '*'. '#' (zero or more
// segments) has no exact NATS equivalent — '>' needs at least one token
// and servers before 2.10 (the test machines run 2.9) take a single filter
// subject — so: "kind.#" reads the whole kind stream; "kind.#.X" filters
// on "<prefix>.kind.>"; "kind.a.#" (which must also match "kind.a"
// itself) reads the whole kind stream. The core acks, without handing them
// out, the messages the filter lets through but the pattern does not
// match. The "routingkey" metadata is set on delivery from the subject
// when the publisher did not set it.
//
// Publishing sends a whole batch with PublishMsgAsync (every message in
// flight at once) and then waits for every publish ack. Receiving speaks
// JetStream's pull protocol on one inbox per subscription (as nats.go's
// Consume does): a pull request asks for four of the core's batches (at
// most MaxAckPending), the next goes out once less than half of that is
// still to come, so JetStream never waits for a request, and the
// messages of every open request arrive on the one inbox in the order
// JetStream sends them. A request asks for an idle heartbeat (a quarter
// of the pull wait, at most 100 ms; servers from 2.9): an inbox silent
// for two and a half heartbeats, with nothing unread, means no request is
// open, whatever the count of messages asked for says, and the next one
// goes out (nats-server 2.9.10 drops a request that expires as it
// delivers without the status that ends it). ReceiveBatch returns
// whatever has arrived, up to the batch size, blocking only for the first
// message. Acks and NAKs are fire-and-forget publishes into the
// connection's buffer, one per message (AckExplicit has no multi-ack).
//
// Limits (Capabilities): a message's headers and payload together must fit
// the server's max_payload, read from the connection; KeepsHistory,
// DurableGroups, SharedGroups and Redelivers are true, OrderAcrossMembers
// false (members of a group share one consumer).
//
// # Delivery semantics
//
// At-least-once. A message is acked only after the core says so (after
// the handler acked it). Key order, concurrency and the redelivery of a
// nacked message (in process, before later messages of its key, with
// backoff) are the core's. While the core holds a message — queued, with a
// handler, or waiting out the backoff after a nack — the subscription
// tells JetStream every AckWait/3 that it is in progress (one heartbeat
// goroutine per subscription), so neither a slow handler nor a long
// backoff makes JetStream redeliver it (a crashed member's messages: see
// below). A redelivery of a message the core
// still holds (after a lost heartbeat) is dropped. Messages pulled but
// not yet taken by the core (at most one and a half pull requests' worth,
// while the core's workers are all busy)
// are not kept in progress and are redelivered if they wait longer than
// AckWait (duplicates, never a loss).
//
// WithMaxDeliver counts JetStream's deliveries — a member that stopped
// with the message, an AckWait expiry — not the core's in-process
// redeliveries. After the last one JetStream stops delivering the message,
// keeps it in the stream and publishes the advisory
// $JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer> with its
// stream sequence: that is the dead-letter hand-off (fetch it with
// Stream.GetMsg). The default is unlimited; the poison-queue middleware is
// the primary dead-letter path.
//
// Closing a subscription reads its open pull requests to their end (a
// pull request cannot be withdrawn, and a message delivered into one
// nobody reads waits out AckWait), then NAKs what arrived and what it
// held, so the next member gets them at once; WithPullWait bounds that
// wait. The NAKs wait for the requests to end: one sent earlier would be
// redelivered into them, and nats-server before 2.10.14 can then move a
// consumer's delivered sequence back by one (Lag one too high, one
// message delivered twice; TestCloseNaksAfterRequestsEnd). Known limit: the
// wait also ends one second after the last request's expiry (a request
// lost with the connection never reports its end); on a heavily loaded
// machine a message can then still be stranded in an ended request and is
// redelivered only after AckWait (never a loss).
//
// After a crash. JetStream itself redelivers what a member received and
// did not ack only after AckWait, while it hands the consumer's newer
// messages to whoever pulls: a restarted member would handle newer events
// of a key before older ones. So Subscribe, when the consumer has unacked
// messages, first asks on the core NATS subject
// _TRADEBUS.LIVE.<stream>.<consumer> (every live subscription answers
// there until it is closed; the account needs publish and subscribe
// permission on _TRADEBUS.LIVE.>) whether any member is alive. If none
// answers within 2s, the unacked messages are gone members', and it takes
// them over: it NAKs, in stream order, every sequence between the
// consumer's ack floor and its last delivery (a NAK with delay 0, which
// takes a message off JetStream's redelivery queue, then a plain NAK,
// which queues it at the end; JetStream ignores the sequences it has no
// unacked delivery for), waits for the server to confirm, and only then
// pulls. JetStream serves its redelivery queue before new messages, so the
// member gets every unacked message of the gone members, at once and in
// stream order, before anything newer: per-key order holds across the
// crash (TestCrashKeepsKeyOrder: two SIGKILLs, 5,120 events over 16 keys,
// none lost, none out of order). Events handled but not yet acked when the
// process died are handled again (at-least-once). Delivery counts are
// kept: WithMaxDeliver counts a take-over like an AckWait expiry. The cost
// is two NAKs per stream sequence between the ack floor and the last
// delivery. A member that does not answer within 2s (a process killed a
// moment ago that the server has not yet found dead, a host gone), or is
// disconnected from the server, counts as gone: if it was alive after
// all, the messages it holds are handled twice, never lost. Members that
// subscribe at the same moment may both take over (duplicates, not
// loss). While any member lives nothing is taken over: messages a live
// member holds stay with it, and a gone member's messages come back after
// AckWait, to any member, possibly after newer events of their keys were
// handled by the live ones — order per member, as with several members
// generally (OrderAcrossMembers is false).
//
// After a reconnect. The messages JetStream delivered into a pull request
// just as the connection was cut never arrive, yet JetStream counts them
// delivered and redelivers them only after AckWait, while it hands newer
// messages to the next pull: newer events of a key would be handled
// first. So after every reconnect of its connection a subscription, before
// it hands out anything more, moves its pull requests to a new inbox (a
// request cannot be withdrawn, and JetStream would deliver newer messages
// into the open ones, whose inbox nats.go subscribed again, but delivers
// nothing into a request whose inbox has no subscriber) and keeps back
// what arrived on the old one, then asks, as above, whether another
// member of the consumer is live (it stops answering itself meanwhile: a
// moment more of its disconnection). If none is, it NAKs, in stream order, every
// unacked sequence it does not hold — the lost messages, those it kept
// back, those whose ack the cut lost (handled again) — and pulls only
// after the server confirmed: the lost messages come first, in order
// (TestReconnectKeepsKeyOrder; the conformance case AsyncOutage, which
// found this). Messages the core holds stay with it. While another member
// is live only what it kept back is NAKed, and the lost messages come back
// after AckWait (TestReconnectLeavesLiveMembers).
//
// A new consumer starts at new messages (WithStart: StartNew) or at the
// oldest retained (StartOldest); Prepare (SubscribeInitialize) creates it
// without consuming. A consumer set up again after it or its stream
// vanished starts at the beginning of its stream.
//
// Loss points: streams drop their oldest messages beyond WithMaxMsgs
// (default 1,000,000 per kind) or WithMaxAge; a group lagging further
// behind loses them. MemoryStorage streams are lost on a server restart.
// A publish returns when JetStream has stored the message (publish ack);
// one that failed on a timeout may still have been stored. Publishes are
// not buffered while disconnected (Open): they fail at once.
//
// # Errors
//
// NewDriver and Open return errors wrapping transport.ErrInvalidOption
// (also ErrInvalidOption here) for bad options, URLs or query parameters,
// including values out of bounds (Open never shows the password).
// Publishing returns errors wrapping ErrInvalidMetadata for metadata that
// cannot be a header (empty key, white space, ':' or control characters
// in a key, a reserved key — Tradebus-Uuid, Nats-* — or a line break in a
// value) and transport.ErrTooLarge for a message over max_payload or
// with over 64 KiB of headers (MaxHeaderBytes, which JetStream enforces), both
// before anything is sent; a *driver.SendError naming the messages
// JetStream did not store (wrapping transport.ErrTooLarge for those it
// refused for their size); and transport.ErrClosed after Close. The driver
// does not retry: it only creates again a stream that vanished and sends
// what it refused once more. Receiving waits for nats.go's reconnect while
// the connection is down; other pull failures are returned (the core logs
// them and backs off) and the consumer is set up again on the next call.
//
// # Concurrency
//
// A Driver is safe for concurrent use; the core drives it as package
// driver describes. Each subscription runs one goroutine of its own (the
// in-progress heartbeat); its pull requests' inbox and its presence
// subscription are nats.go subscriptions on the connection. Driver Close closes the connection only if
// Open made it.
package nats
