// Package transporttest is the conformance suite every tradebus transport
// runs: routing by key and pattern, consumer groups, per-partition-key
// order under concurrency, nack and redelivery, metadata, close.
//
// A driver calls Run from an external test package (package amqp_test),
// with a factory that returns a fresh Transport whose broker-side names
// (exchange, topic prefix, stream prefix …; see UniqueName) are unique to
// the test and that registers their cleanup with t.Cleanup. Goroutine
// leaks are checked by the driver's TestMain (goleak.VerifyTestMain), not
// here. Capabilities declares, honestly, what the transport does not
// guarantee; Run then checks less, never something else.
//
// Conventions the suite relies on:
//
//   - Run subscribes before it publishes. A message published after
//     Subscribe returned must be delivered: a driver whose Subscribe
//     returns before the subscription is live (consumer positioned, group
//     joined, queue bound) must wait inside Subscribe. If the subscriber
//     implements message.SubscribeInitializer, Run calls it first.
//   - Every published message carries "partitionkey" metadata, like those
//     of package publisher. Most carry no "routingkey": the transport must
//     add it on delivery.
//   - Each subtest uses its own random kinds (first key segment) and group
//     names, so subtests never see each other's messages on a shared
//     broker. Some publish to a kind nobody subscribed (to check it is not
//     delivered): broker objects created by that (Kafka topics, Redis
//     streams) must fall under the factory's cleanup too.
//   - Every wait is bounded by Capabilities.Timeout: a broken transport
//     fails the test, it does not hang it.
//
// # Delivery semantics
//
// What Run checks: exact and wildcard routing ('*' one segment, '#' zero
// or more, RabbitMQ topic semantics) and that non-matching keys are not
// delivered; every group gets every message once; members of one group
// share messages, each handled once (ConsumerGroupShare: both get some;
// OrderAcrossMembers: key order holds across them); messages of one
// partition key reach the handler one at a time in publish order, while
// different keys overlap (ParallelKeys); a nacked message is redelivered
// (OrderAfterNack: before later messages of its key); all metadata, the
// UUID and the payload arrive unchanged, and "routingkey" is added when
// missing; a cancelled subscription closes its channel (DurableGroups: and
// its unacked message goes to the next member; messages published while a
// group has no member wait for it); Close waits for a delivered message to
// be acked, then closes every channel; Publish and Subscribe fail after
// Close; every later Close returns nil (also after a first Close that
// failed with its deadline).
//
// On transports built on the portable core (transport.New) it also
// checks: consumer group names follow transport.ValidateGroup (an invalid
// one gives a nil Subscriber and transport.ErrInvalidGroup); the common URL
// options (Capabilities.URL) have the same names and bounds everywhere and
// absurd values are errors; concurrent Closes both wait for the drain and
// return nil; one PublishBatch across many routing keys arrives whole and
// in order per partition key; and the asynchronous publisher reports every
// event once across a broker outage (Capabilities.Outage), with every
// failure counted by Flush and confirmed events delivered in order per
// partition key. With package middleware's dead-letter tooling: a
// replayed dead letter reaches only the group that failed it
// (transport.MetaReplayGroup), and listing a poison queue
// (transport.Browse) shows the same dead letters every time and, after a
// partial replay, the rest. And the operations: Ping answers, fails
// during an outage and answers again after it, and returns ErrClosed after
// Close; Lag of a group with no member that was sent N messages is N (nothing in
// flight), N-k while a member has acked k and holds the next, and N-k once
// it left, with exactly the counts Capabilities.LagUnknown names unknown;
// DeleteGroup removes one group's broker-side state (asked of the broker
// with its own client, Capabilities.GroupState) and not another's, which
// keeps its messages; the deleted group then receives what a brand-new
// one does; a subscribed group is in use (ErrGroupInUse); a missing group
// is ErrGroupNotFound; invalid names and a closed transport are errors.
//
// # Errors
//
// Run requires: Publish to an invalid routing key and Subscribe to an
// invalid pattern return errors wrapping events.ErrInvalidRoutingKey;
// Close whose ctx expires while a delivered message is still unacked
// returns an error wrapping context.DeadlineExceeded (and still closes the
// channels). Failures are reported through the subtest's t.
//
// # Concurrency
//
// Run's subtests run one after the other, each on its own Transport. The
// suite consumes like Watermill's router: every received message is
// handled on its own goroutine, so a transport's key-ordered concurrency
// is exercised as in production.
package transporttest
