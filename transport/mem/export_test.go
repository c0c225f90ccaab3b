package mem

// HasQueue reports whether d has the subscription queue (group, pattern):
// the broker-side state of a group, for tests of DeleteGroup.
func HasQueue(d *Driver, group, pattern string) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	_, ok := d.queues[queueID{group: group, pattern: pattern}]
	return ok
}
