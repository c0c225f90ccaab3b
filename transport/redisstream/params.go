package redisstream

import (
	"fmt"
	"net/url"
	"time"

	"github.com/tradebus/tradebus/transport/internal/urlopt"
)

// The driver's URL query parameters (see Open).
const (
	paramPrefix    = "prefix"
	paramStart     = "start"
	paramMaxLen    = "maxlen"
	paramClaimIdle = "claim_idle"
	paramBlock     = "block"
	paramConsumer  = "consumer"
)

// clientIntBounds bounds the integer parameters of redis.ParseURL that
// size memory or loops: go-redis takes any int, and
// pool_size=9223372036854775807 would allocate a pool of that size.
var clientIntBounds = map[string][2]int{
	"protocol":                   {2, 3},
	"max_retries":                {-1, 100},
	"pool_size":                  {1, 10_000},
	"min_idle_conns":             {0, 10_000},
	"max_idle_conns":             {0, 10_000},
	"max_active_conns":           {0, 10_000},
	"max_concurrent_dials":       {0, 10_000},
	"pipeline_pool_size":         {0, 10_000},
	"pipeline_read_buffer_size":  {0, 64 << 20},
	"pipeline_write_buffer_size": {0, 64 << 20},
}

// parseQuery turns the driver's parameters into Options and returns the
// others (checked where clientIntBounds says) for redis.ParseURL.
func parseQuery(q url.Values) ([]Option, url.Values, error) {
	var opts []Option
	rest := url.Values{}
	for name, vs := range q {
		if err := urlopt.Once(ErrInvalidOption, name, vs); err != nil {
			return nil, nil, err
		}
		v := vs[0]
		var err error
		switch name {
		case paramPrefix:
			opts = append(opts, WithPrefix(v))
		case paramConsumer:
			opts = append(opts, WithConsumerName(v))
		case paramMaxLen:
			var n int
			if n, err = urlopt.IntIn(ErrInvalidOption, name, v, 0, int(MaxMaxLen)); err == nil {
				opts = append(opts, WithMaxLen(int64(n)))
			}
		case paramStart:
			switch v {
			case "new", "$":
				opts = append(opts, WithStart(StartNew))
			case "oldest", "0":
				opts = append(opts, WithStart(StartOldest))
			default:
				err = fmt.Errorf("%w: %s=%q, want new or oldest", ErrInvalidOption, name, v)
			}
		case paramClaimIdle:
			var d time.Duration
			if d, err = urlopt.DurationIn(ErrInvalidOption, name, v, MinClaimIdle, MaxClaimIdle); err == nil {
				opts = append(opts, WithClaimIdle(d))
			}
		case paramBlock:
			var d time.Duration
			if d, err = urlopt.DurationIn(ErrInvalidOption, name, v, MinBlock, MaxBlock); err == nil {
				opts = append(opts, WithBlock(d))
			}
		default:
			if b, ok := clientIntBounds[name]; ok {
				_, err = urlopt.IntIn(ErrInvalidOption, name, v, b[0], b[1])
			}
			rest[name] = vs
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return opts, rest, nil
}
