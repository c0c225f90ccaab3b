package keyed_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/tradebus/tradebus/transport/internal/keyed"
)

// Up to 4 functions run at once, but those of one symbol run one after the
// other, in submission order.
func Example() {
	pool := keyed.New(4, func(f func()) { f() })
	ctx := context.Background()
	var (
		mu  sync.Mutex
		log = map[string][]int{}
	)
	for seq := range 3 {
		for _, sym := range []string{"BTCUSDT", "ETHUSDT"} {
			_ = pool.Submit(ctx, sym, func() {
				mu.Lock()
				log[sym] = append(log[sym], seq)
				mu.Unlock()
			})
		}
	}
	_ = pool.Wait(ctx)
	fmt.Println("BTCUSDT", log["BTCUSDT"])
	fmt.Println("ETHUSDT", log["ETHUSDT"])
	// Output:
	// BTCUSDT [0 1 2]
	// ETHUSDT [0 1 2]
}
