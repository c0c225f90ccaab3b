package mem

import (
	"context"
	"net/url"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
)

func init() { transport.Register(Scheme, openEnv) }

// openEnv is Open for transport.Open: the in-process broker has no
// connection to log or secure, so env is unused.
func openEnv(ctx context.Context, u *url.URL, _ driver.Env) (driver.Driver, error) {
	return Open(ctx, u)
}
