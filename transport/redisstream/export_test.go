package redisstream

// ReadErrors returns how many XREADGROUP calls of tr's live subscriptions
// failed, so tests can check that a reader backs off instead of spinning.
func ReadErrors(tr *Transport) uint64 {
	tr.mu.Lock()
	subs := make([]*Subscriber, 0, len(tr.subs))
	for s := range tr.subs {
		subs = append(subs, s)
	}
	tr.mu.Unlock()
	var n uint64
	for _, s := range subs {
		s.mu.Lock()
		for sub := range s.subs {
			n += sub.readErrors.Load()
		}
		s.mu.Unlock()
	}
	return n
}
