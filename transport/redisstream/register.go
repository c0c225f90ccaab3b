package redisstream

import "github.com/tradebus/tradebus/transport"

func init() {
	transport.Register("redis", openEnv)
	transport.Register("rediss", openEnv)
}
