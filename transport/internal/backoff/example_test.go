package backoff_test

import (
	"fmt"
	"time"

	"github.com/tradebus/tradebus/transport/internal/backoff"
)

func ExampleExponential() {
	for n := 1; n <= 5; n++ {
		fmt.Println(backoff.Exponential(time.Second, 5*time.Second, n))
	}
	// Output:
	// 1s
	// 2s
	// 4s
	// 5s
	// 5s
}
