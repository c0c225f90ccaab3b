package events

// ZeroEvent returns the zero value of the event type registered under
// typeName (nil if none), so that the external tests can enumerate every
// registered type through Types.
func ZeroEvent(typeName string) Event { return registry[typeName].zero }
