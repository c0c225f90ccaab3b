package nats

import (
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/tradebus/tradebus/transport/driver"
)

// ReadStats returns how many pull requests d's live subscriptions sent
// and how many pulls or consumer set-ups failed, so tests can check that a
// reader waits instead of spinning.
func ReadStats(d *Driver) (fetches, errors uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for s := range d.subs {
		fetches += s.fetchCount.Load()
		errors += s.readErrors.Load()
	}
	return fetches, errors
}

// Rewound returns how many stream sequences d's subscriptions NAKed when
// they took over the unacked messages of gone members.
func Rewound(d *Driver) uint64 { return d.rewound.Load() }

// Recovered returns how many stream sequences d's subscriptions NAKed
// after reconnects, to get the messages a reconnect lost back in order.
func Recovered(d *Driver) uint64 { return d.recovered.Load() }

// HeaderSize returns the size of the header block d publishes dm with.
func HeaderSize(d *Driver, dm *driver.Message) int {
	var m natsgo.Msg
	hdr, _, err := encode(&m, subject(d.cfg.prefix, dm.Key), dm, d.cfg.dupWindow > 0)
	if err != nil {
		panic(err)
	}
	return hdr
}

// LosePulls makes the next n pull requests of d's subscriptions go to a
// subscriber that never answers: requests the server dropped without a
// status. (Sent where nobody listens, a request would get the server's
// 503 no-responders status instead.)
func LosePulls(d *Driver, n int32) error {
	if _, err := d.nc.Subscribe("_tradebus.lost.>", func(*natsgo.Msg) {}); err != nil {
		return err
	}
	if err := d.nc.Flush(); err != nil {
		return err
	}
	d.losePulls.Store(n)
	return nil
}

// Silenced returns how many times d's subscriptions forgot their open
// requests for a silent inbox before the requests' expiry.
func Silenced(d *Driver) uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	var n uint64
	for s := range d.subs {
		n += s.silenced.Load()
	}
	return n
}

// PullHeartbeat is pullHeartbeat.
func PullHeartbeat(d time.Duration, serverVersion string) time.Duration {
	return pullHeartbeat(d, serverVersion)
}
