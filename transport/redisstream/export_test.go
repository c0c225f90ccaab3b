package redisstream

// ReadErrors returns how many reads (XREADGROUP, XAUTOCLAIM) of d's
// subscriptions failed, so tests can check that a failing Redis is not
// polled in a tight loop.
func ReadErrors(d *Driver) uint64 { return d.readErrors.Load() }
