package nats

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
