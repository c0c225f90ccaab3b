package brokertest_test

import (
	"fmt"

	"github.com/tradebus/tradebus/transport/internal/brokertest"
)

func ExampleRandomSuffix() {
	prefix := "tbtest" + brokertest.RandomSuffix()
	fmt.Println(len(prefix))
	// Output: 18
}
