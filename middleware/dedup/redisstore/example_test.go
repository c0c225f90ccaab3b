package redisstore_test

import (
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/middleware/dedup/redisstore"
)

// Wiring a Redis dedup store into the default stack. (Constructing the client
// does not connect; the store talks to Redis only when messages arrive.)
func Example() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()

	store, err := redisstore.New(client, redisstore.WithPrefix("myapp:dedup:"))
	if err != nil {
		panic(err)
	}
	dedup, err := middleware.NewDedup(middleware.WithDedupStore(store), middleware.WithConsumerGroup("portfolio"))
	if err != nil {
		panic(err)
	}
	fmt.Println(store.Prefix(), dedup.Stats().Processed)
	// Output: myapp:dedup: 0
}
