package projection_test

import (
	"context"
	"fmt"
	"time"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/projection"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/transport"
)

// volume is a projection's state: traded amount per symbol.
type volume struct {
	BySymbol map[string]events.Decimal `json:"bySymbol"`
}

func trade(symbol, amount string) events.Trade {
	return events.Trade{Exchange: "binance", Symbol: symbol, Price: events.MustDecimal("100"),
		Amount: events.MustDecimal(amount), Side: events.SideBuy, Time: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
}

// A projection folds the trade history into a state, reports when it has
// caught up, then keeps applying live trades. The README's "Event-sourced
// state" mirrors this example.
func Example() {
	ctx := context.Background()
	tr, _ := transport.Open(ctx, "mem://?history=100000") // or kafka://…, redis://…, nats://…
	defer tr.Close(context.Background())
	pub, _ := publisher.New(tr.Publisher())
	_ = pub.Publish(ctx, trade("BTCUSDT", "0.5"), trade("ETHUSDT", "2"), trade("BTCUSDT", "0.25"))

	p, _ := projection.New(tr, projection.Config[volume, events.Trade]{
		Name:    "volume",
		Pattern: "trade.#",
		Init:    func() volume { return volume{BySymbol: map[string]events.Decimal{}} },
		Apply: func(_ context.Context, v *volume, t events.Trade) error {
			v.BySymbol[t.Symbol] = v.BySymbol[t.Symbol].Add(t.Amount)
			return nil
		},
		Store:        &projection.MemStore{}, // pgstore.New(pool) to survive restarts
		StateVersion: 1,                      // change it when volume or Apply changes meaning
	})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }() // snapshot + history, then live trades
	_ = p.WaitCaughtUp(ctx)               // serve only after this
	p.View(func(v *volume) { fmt.Println(v.BySymbol["BTCUSDT"], v.BySymbol["ETHUSDT"]) })

	_ = pub.Publish(ctx, trade("ETHUSDT", "1"))
	for p.Applied() < 4 { // a live trade
		time.Sleep(time.Millisecond)
	}
	p.View(func(v *volume) { fmt.Println(v.BySymbol["ETHUSDT"]) })
	stop()
	fmt.Println(<-done) // a last snapshot is saved; nil
	// Output:
	// 0.75 2
	// 3
	// <nil>
}
