package main

import (
	"fmt"
	"io"
	"testing"

	"github.com/tradebus/tradebus/events"
)

// codec measures encode+decode of one Trade per core, with allocations.
func codec(w io.Writer) error {
	tr := sampleTrades(1)[0]
	data, err := events.Marshal(tr)
	if err != nil {
		return err
	}
	res := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf, err := events.Marshal(tr)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := events.Unmarshal[events.Trade](buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	perSec := 1e9 / float64(res.NsPerOp())
	fmt.Fprintf(w, "codec (Trade, %d bytes): encode+decode %d ns/event = %.0f events/s per core, %d allocs/event, %d B/event\n",
		len(data), res.NsPerOp(), perSec, res.AllocsPerOp(), res.AllocedBytesPerOp())
	return nil
}
