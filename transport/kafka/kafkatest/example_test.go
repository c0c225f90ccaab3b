package kafkatest_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/tradebus/tradebus/transport/kafka/kafkatest"
)

// Start an embedded cluster for a program or example; tests use
// NewCluster(t), which closes it at the end of the test.
func ExampleStart() {
	cluster, err := kafkatest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()
	fmt.Println(len(cluster.Brokers()), strings.HasPrefix(cluster.URL(), "kafka://127.0.0.1:"))
	// Output: 1 true
}
