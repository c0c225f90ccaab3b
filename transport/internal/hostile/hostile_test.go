package hostile_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport/internal/hostile"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestBook: Book builds a valid order-book event whose body is at most the
// size asked for and less than one level pair short of it.
func TestBook(t *testing.T) {
	for _, size := range []int{300, 2000, 100_000, 999_559} {
		m := hostile.Book(t, "BTCUSDT", 7, size)
		if n := len(m.Payload); n > size || n < size-64 {
			t.Errorf("Book(%d): %d bytes", size, n)
		}
		b, err := subscriber.Decode[events.OrderBook](m)
		if err != nil {
			t.Fatalf("Book(%d): %v", size, err)
		}
		if b.Symbol != "BTCUSDT" || b.Sequence != 7 || m.Metadata.Get(events.MetaRoutingKey) != "book."+hostile.Exchange+".BTCUSDT" ||
			m.Metadata.Get(events.MetaPartitionKey) != "BTCUSDT" || m.Metadata.Get(events.MetaID) != m.UUID {
			t.Errorf("Book(%d): %+v %v", size, b.Symbol, m.Metadata)
		}
	}
}
