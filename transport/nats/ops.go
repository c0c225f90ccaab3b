package nats

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
)

// Compile-time checks.
var (
	_ driver.Pinger       = (*Driver)(nil)
	_ driver.Inspector    = (*Driver)(nil)
	_ driver.GroupDeleter = (*Driver)(nil)
)

// ConsumerName returns the JetStream durable consumer of tradebus group
// group subscribed to pattern, in the stream Stream(pattern). Use it with
// the nats CLI (nats consumer info).
func ConsumerName(group, pattern string) string { return consumerName(group, pattern) }

// Ping asks JetStream for the account information (one request): it
// fails when the server is unreachable or JetStream is off, and at once
// while the connection is down (reconnecting).
func (d *Driver) Ping(ctx context.Context) error {
	if d.isClosed() {
		return ErrClosed
	}
	if !d.nc.IsConnected() {
		return fmt.Errorf("nats: ping: not connected (%s)", d.nc.Status())
	}
	if _, err := d.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("nats: ping: %w", err)
	}
	return nil
}

// notFound maps JetStream's missing stream or consumer to
// transport.ErrGroupNotFound.
func notFound(err error, stream, consumer string) error {
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("nats: consumer %s of stream %s: %w", consumer, stream, transport.ErrGroupNotFound)
	}
	return nil
}

// Lag asks for the group's consumer information (one request): Pending is
// its num_pending (messages of its filter subject not yet delivered),
// InFlight its num_ack_pending (delivered, not acked), Unacked their sum.
// Where the pattern maps to no exact NATS filter (see the package doc),
// messages the pattern filters out in process count too, until they are
// read and acked.
func (d *Driver) Lag(ctx context.Context, group, pattern string) (driver.GroupLag, error) {
	if d.isClosed() {
		return driver.GroupLag{}, ErrClosed
	}
	stream, name := d.Stream(pattern), consumerName(group, pattern)
	cons, err := d.js.Consumer(ctx, stream, name)
	if err != nil {
		if nf := notFound(err, stream, name); nf != nil {
			return driver.GroupLag{}, nf
		}
		return driver.GroupLag{}, fmt.Errorf("nats: consumer info %s of stream %s: %w", name, stream, err)
	}
	info := cons.CachedInfo()
	pending, out := int64(info.NumPending), int64(info.NumAckPending)
	return driver.GroupLag{Pending: pending, InFlight: out, Unacked: pending + out}, nil
}

// DeleteGroup deletes the group's durable consumer (one request) and with
// it the group's position and unacked messages; the stream, which the
// kind's other groups read, stays. JetStream cannot tell reliably whether
// a member in another process is still pulling: one that is recreates the
// consumer at the start of the stream, so stop them first.
func (d *Driver) DeleteGroup(ctx context.Context, group, pattern string) error {
	if d.isClosed() {
		return ErrClosed
	}
	stream, name := d.Stream(pattern), consumerName(group, pattern)
	if err := d.js.DeleteConsumer(ctx, stream, name); err != nil {
		if nf := notFound(err, stream, name); nf != nil {
			return nf
		}
		return fmt.Errorf("nats: delete consumer %s of stream %s: %w", name, stream, err)
	}
	return nil
}
