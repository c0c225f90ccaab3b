package nats

// ReadStats returns how many pull requests tr's live subscriptions sent
// and how many pulls or consumer set-ups failed, so tests can check that a
// reader backs off instead of spinning.
func ReadStats(tr *Transport) (fetches, errors uint64) {
	tr.mu.Lock()
	subs := make([]*Subscriber, 0, len(tr.subs))
	for s := range tr.subs {
		subs = append(subs, s)
	}
	tr.mu.Unlock()
	for _, s := range subs {
		s.mu.Lock()
		for sub := range s.subs {
			fetches += sub.fetches.Load()
			errors += sub.readErrors.Load()
		}
		s.mu.Unlock()
	}
	return fetches, errors
}
