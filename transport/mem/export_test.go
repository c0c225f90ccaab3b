package mem

// HasQueue reports whether d has the subscription queue (group, pattern):
// the broker-side state of a group, for tests of DeleteGroup.
func HasQueue(d *Driver, group, pattern string) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	_, ok := d.queues[queueID{group: group, pattern: pattern}]
	return ok
}

// HistorySize returns how many messages d's history holds for kind and
// the capacity of the ring holding them, for the eviction tests.
func HistorySize(d *Driver, kind string) (n, capacity int) {
	d.hist.mu.Lock()
	defer d.hist.mu.Unlock()
	s := d.hist.streams[kind]
	if s == nil {
		return 0, 0
	}
	return len(s.ring), cap(s.ring)
}
