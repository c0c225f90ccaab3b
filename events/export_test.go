package events

// ZeroEvent returns the zero value of the event type registered under
// typeName (nil if none), so that the external tests can enumerate every
// registered type through Types.
func ZeroEvent(typeName string) Event {
	r, _ := lookup(typeName)
	return r.zero
}

// Unregister removes a type added with Register, so that a test can
// register types without changing what other tests see.
func Unregister(typeName string) {
	registry.mu.Lock()
	delete(registry.custom, typeName)
	registry.mu.Unlock()
}
