package redisstream_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/redisstream"
)

// NewDriver does not talk to Redis: it only decides names. Events of one
// kind share a stream; the rest of the routing key is filtered per
// subscription by the core. transport.New puts the portable core on it.
func ExampleNewDriver() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"}) // dials lazily
	defer client.Close()
	drv, err := redisstream.NewDriver(client,
		redisstream.WithPrefix("desk1:"),
		redisstream.WithMaxLen(100_000),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	tr, err := transport.New(drv, transport.WithConcurrency(16))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tr.Close(context.Background())
	fmt.Println(drv.Stream("trade.binance.BTCUSDT"))
	fmt.Println(drv.Stream("trade.*.ETHUSDT"))
	fmt.Println(tr.Capabilities().MaxMessageBytes)
	// Output:
	// desk1:trade
	// desk1:trade
	// 536870912
}

// transport.Open parses the core's URL query parameters and this
// driver's, and rejects bad or unknown ones before it dials; errors never
// show the password.
func ExampleOpen() {
	for _, u := range []string{
		"redis://app:secret@127.0.0.1:6379/0?prefix=desk1:&claim_idle=forever",
		"redis://app:secret@127.0.0.1:6379/0?maxlen=9223372036854775807",
		"redis://app:secret@127.0.0.1:6379/0?pool_size=1000000000",
	} {
		_, err := transport.Open(context.Background(), u)
		fmt.Println(errors.Is(err, transport.ErrInvalidOption))
		fmt.Println(err)
	}
	// Output:
	// true
	// redisstream: open redis://app:xxxxx@127.0.0.1:6379/0?claim_idle=forever&prefix=desk1%3A: transport: invalid option: claim_idle="forever": time: invalid duration "forever"
	// true
	// redisstream: open redis://app:xxxxx@127.0.0.1:6379/0?maxlen=9223372036854775807: transport: invalid option: maxlen="9223372036854775807": want 0 to 1099511627776
	// true
	// redisstream: open redis://app:xxxxx@127.0.0.1:6379/0?pool_size=1000000000: transport: invalid option: pool_size="1000000000": want 1 to 10000
}
