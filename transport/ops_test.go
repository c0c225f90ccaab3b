package transport_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/mem"
)

// bareDriver is a driver with none of the optional operations.
type bareDriver struct{}

func (bareDriver) Topic() driver.Topic { return nil }
func (bareDriver) Subscribe(context.Context, string, string) (driver.Subscription, error) {
	return nil, errors.New("not used")
}
func (bareDriver) Prepare(context.Context, string, string) error { return nil }
func (bareDriver) Capabilities() driver.Capabilities             { return driver.Capabilities{Name: "bare"} }
func (bareDriver) Close(context.Context) error                   { return nil }

// embedding is a Transport that embeds the core, as wrappers do.
type embedding struct{ *transport.Portable }

func TestOpsNotSupported(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := transport.New(bareDriver{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(ctx)
	if err := tr.Ping(ctx); !errors.Is(err, transport.ErrNotSupported) {
		t.Errorf("Ping: %v, want ErrNotSupported", err)
	}
	if _, err := transport.Lag(ctx, tr, "g", "k.#"); !errors.Is(err, transport.ErrNotSupported) {
		t.Errorf("Lag: %v, want ErrNotSupported", err)
	}
	if err := transport.DeleteGroup(ctx, tr, "g", "k.#"); !errors.Is(err, transport.ErrNotSupported) {
		t.Errorf("DeleteGroup: %v, want ErrNotSupported", err)
	}
	other := notPortable{tr}
	if _, err := transport.Lag(ctx, other, "g", "k.#"); !errors.Is(err, transport.ErrNotSupported) {
		t.Errorf("Lag of a transport not on the core: %v, want ErrNotSupported", err)
	}
	if err := transport.DeleteGroup(ctx, other, "g", "k.#"); !errors.Is(err, transport.ErrNotSupported) {
		t.Errorf("DeleteGroup of a transport not on the core: %v, want ErrNotSupported", err)
	}
}

// TestOpsThroughEmbedding: a type embedding *Portable gets the operations;
// DeleteGroup refuses while the group is subscribed on the transport.
func TestOpsThroughEmbedding(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := mem.New()
	if err != nil {
		t.Fatal(err)
	}
	tr := embedding{p}
	defer tr.Close(ctx)
	sub, err := tr.Subscriber("risk")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	if _, err := sub.Subscribe(sctx, "exec.#"); err != nil {
		t.Fatal(err)
	}
	if err := transport.DeleteGroup(ctx, tr, "risk", "exec.#"); !errors.Is(err, transport.ErrGroupInUse) {
		t.Errorf("DeleteGroup while subscribed: %v, want ErrGroupInUse", err)
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if l, err := transport.Lag(ctx, tr, "risk", "exec.#"); err != nil || l.Unacked != 0 {
		t.Errorf("Lag: %+v, %v", l, err)
	}
	if err := transport.DeleteGroup(ctx, tr, "risk", "exec.#"); err != nil {
		t.Errorf("DeleteGroup after Close of the subscriber: %v", err)
	}
}
