package nats

import "github.com/tradebus/tradebus/transport"

// Importing this package registers the nats:// and tls:// URL schemes with
// transport.Open.
func init() {
	transport.Register("nats", openEnv)
	transport.Register("tls", openEnv)
}
