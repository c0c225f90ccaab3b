// Package msgctx names the context keys whose values belong to one
// message: the envelope, the failure record and the dedup key that
// middleware put into a message's context. They are set on a context
// made for that message, never on one that several messages share — the
// context a transport consumer builds once and derives every message's
// context from. Such a shared context answers nil for a Key at once
// instead of walking on to the root: the lookups that miss (each message
// asks whether its failure record or envelope is there yet) stop a few
// contexts up, and a message never finds a value its consumer's caller
// happened to carry (a service run under a handler's context would
// otherwise hand every message that handler's envelope).
package msgctx

// Key is a context key of a value that belongs to one message.
type Key uint8

// The keys. A Key in an interface needs no allocation (a one-byte value).
const (
	Envelope Key = iota + 1 // events: the message's envelope
	Failures                // middleware: its failed attempts
	DedupKey                // middleware: its dedup store key
)
