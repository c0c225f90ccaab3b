package redisstream

import "github.com/tradebus/tradebus/transport"

func init() {
	transport.Register("redis", Open)
	transport.Register("rediss", Open)
}
