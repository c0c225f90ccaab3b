package transport

import (
	"context"
	"errors"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
)

// MetaReplayGroup is the metadata key that addresses a message to one
// consumer group: every other group's subscriptions ack such a message
// before any handler sees it (in the portable core's receive loop, the same
// on every transport), and the named group handles it as usual.
// middleware.Replay sets it, so that a dead letter replayed to its routing
// key reaches only the group that failed it.
const MetaReplayGroup = "tradebus_replay_group"

// ErrNotSupported is wrapped by the error of an operation the transport's
// driver does not offer (for instance Browse on a driver without
// driver.Browser).
var ErrNotSupported = errors.New("transport: not supported by this transport")

// groupKey is the context key of the consumer group in a received
// message's context.
type groupKey struct{}

// GroupFromContext returns the consumer group of the subscription a
// message was received by, from the message's context (msg.Context(), and
// what a handler or middleware derives from it), or "" when the message
// did not come from a Subscriber of this package.
func GroupFromContext(ctx context.Context) string {
	g, _ := ctx.Value(groupKey{}).(string)
	return g
}

// Browse calls fn with each message that consumer group group's
// subscription to pattern has not consumed yet, without consuming it: no
// ack, no claim, nothing appended, and — where the broker allows it — no
// delivery counted (see each driver's Browse for exactly what it shows and
// touches). Messages come oldest first where the broker keeps an order;
// fn returning false stops the browse. Only messages matching pattern and
// not addressed to another group (MetaReplayGroup) are passed, as a
// subscription would receive them; their contexts are ctx.
//
// tr must run on the portable core (Open, New) with a driver implementing
// driver.Browser (every driver of this module does); otherwise Browse
// returns an error wrapping ErrNotSupported. group and pattern are
// validated as for Subscriber and Subscribe; Browse creates no broker-side
// state. It is safe for concurrent use, also with subscriptions of the
// group running (then what they take meanwhile may or may not be shown).
func Browse(ctx context.Context, tr Transport, group, pattern string, fn func(*message.Message) bool) error {
	if fn == nil {
		return fmt.Errorf("%w: nil browse func", ErrInvalidOption)
	}
	if err := ValidateGroup(group); err != nil {
		return err
	}
	if err := events.ValidatePattern(pattern); err != nil {
		return err
	}
	p, ok := tr.(interface{ Driver() driver.Driver })
	if !ok {
		return fmt.Errorf("%w: browse: %T does not run on the portable core", ErrNotSupported, tr)
	}
	d := p.Driver()
	b, ok := d.(driver.Browser)
	if !ok {
		return fmt.Errorf("%w: browse: driver %s cannot read without consuming", ErrNotSupported, d.Capabilities().Name)
	}
	err := b.Browse(ctx, group, pattern, func(dm *driver.Message) bool {
		if !events.MatchPattern(pattern, dm.Key) {
			return true
		}
		if g, ok := dm.Metadata[MetaReplayGroup]; ok && g != group {
			return true
		}
		msg := message.NewMessage(dm.UUID, dm.Payload)
		if dm.Metadata != nil {
			msg.Metadata = dm.Metadata
		}
		msg.SetContext(ctx)
		return fn(msg)
	})
	if err != nil {
		return fmt.Errorf("%s: browse group %s pattern %s: %w", d.Capabilities().Name, group, pattern, err)
	}
	return nil
}
