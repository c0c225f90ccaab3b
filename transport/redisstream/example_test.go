package redisstream_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/transport/redisstream"
)

// New does not talk to Redis: it only decides names. Events of one kind
// share a stream; the rest of the routing key is filtered per
// subscription.
func ExampleNew() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"}) // dials lazily
	defer client.Close()
	tr, err := redisstream.New(client,
		redisstream.WithPrefix("desk1:"),
		redisstream.WithConcurrency(16),
		redisstream.WithMaxLen(100_000),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer tr.Close(context.Background())
	fmt.Println(tr.Stream("trade.binance.BTCUSDT"))
	fmt.Println(tr.Stream("trade.*.ETHUSDT"))
	// Output:
	// desk1:trade
	// desk1:trade
}

// Open maps URL query parameters to options and rejects the ones it does
// not know before it dials; errors never show the password.
func ExampleOpen() {
	u, _ := url.Parse("redis://app:secret@127.0.0.1:6379/0?prefix=desk1:&concurrency=fast")
	_, err := redisstream.Open(context.Background(), u)
	fmt.Println(errors.Is(err, redisstream.ErrInvalidOption))
	fmt.Println(err)
	// Output:
	// true
	// redisstream: open redis://app:xxxxx@127.0.0.1:6379/0?prefix=desk1:&concurrency=fast: redisstream: invalid option: concurrency="fast": strconv.Atoi: parsing "fast": invalid syntax
}
