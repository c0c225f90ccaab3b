package kafka_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/kafka"
	"github.com/tradebus/tradebus/transport/kafka/kafkatest"
)

// Publish trades and consume those of one symbol from every venue, on an
// embedded Kafka cluster (no server needed).
func Example() {
	cluster, err := kafkatest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()

	drv, err := kafka.NewDriver(cluster.Brokers(), kafka.WithPartitions(4))
	if err != nil {
		log.Fatal(err)
	}
	tr, err := transport.New(drv, transport.WithConcurrency(8))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer func() { _ = tr.Close(ctx) }()

	sub, err := tr.Subscriber("risk")
	if err != nil {
		log.Fatal(err)
	}
	trades, err := sub.Subscribe(ctx, "trade.*.BTCUSDT")
	if err != nil {
		log.Fatal(err)
	}

	for _, t := range []struct{ key, symbol, body string }{
		{"trade.binance.BTCUSDT", "BTCUSDT", `{"price":"64000.5"}`},
		{"trade.binance.ETHUSDT", "ETHUSDT", `{"price":"3100.25"}`},
		{"trade.kraken.BTCUSDT", "BTCUSDT", `{"price":"64001"}`},
	} {
		msg := message.NewMessage(t.symbol+"-1", []byte(t.body))
		msg.Metadata.Set(events.MetaPartitionKey, t.symbol) // the record key
		if err := tr.Publisher().Publish(t.key, msg); err != nil {
			log.Fatal(err)
		}
	}
	// Driver-specific names through Driver(): TopicName, GroupID.
	fmt.Println("topic:", tr.Driver().(*kafka.Driver).TopicName("trade.binance.BTCUSDT"))
	for range 2 {
		msg := <-trades
		fmt.Println(msg.Metadata.Get(events.MetaRoutingKey), string(msg.Payload))
		msg.Ack()
	}
	// Output:
	// topic: tradebus.trade
	// trade.binance.BTCUSDT {"price":"64000.5"}
	// trade.kraken.BTCUSDT {"price":"64001"}
}
