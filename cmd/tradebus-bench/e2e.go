package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport/mem"
)

type e2eConfig struct {
	N           int
	Keys        int
	Concurrency int
	Work        time.Duration
}

func sampleTrades(keys int) []events.Trade {
	out := make([]events.Trade, keys)
	for i := range out {
		out[i] = events.Trade{
			Exchange: "binance", Symbol: fmt.Sprintf("SYM%02dUSDT", i), TradeID: "123456789",
			Price: events.MustDecimal("64123.45"), Amount: events.MustDecimal("0.01234"),
			Side: events.SideBuy, TakerOrMaker: events.Taker,
			Time: time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.UTC),
		}
	}
	return out
}

// spin burns d of CPU-free wall time the way an I/O-bound handler would.
func spin(d time.Duration) {
	if d > 0 {
		time.Sleep(d)
	}
}

func newRouter() (*message.Router, error) {
	return message.NewRouter(message.RouterConfig{CloseTimeout: 30 * time.Second}, watermill.NopLogger{})
}

// runRouter runs r until done is closed, returning the elapsed time since
// start() was called.
func runRouter(ctx context.Context, r *message.Router, publish func() error, done <-chan struct{}) (time.Duration, error) {
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx) }()
	<-r.Running()
	start := time.Now()
	if err := publish(); err != nil {
		_ = r.Close()
		return 0, err
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		_ = r.Close()
		return 0, fmt.Errorf("timed out")
	}
	elapsed := time.Since(start)
	if err := r.Close(); err != nil {
		return 0, err
	}
	return elapsed, <-errc
}

// baseline: the raw Watermill GoChannel router with the same count and
// payload size, handler acking at once.
func baseline(ctx context.Context, cfg e2eConfig) (time.Duration, error) {
	payload, err := events.Marshal(sampleTrades(1)[0])
	if err != nil {
		return 0, err
	}
	gc := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 1024}, watermill.NopLogger{})
	defer gc.Close()
	r, err := newRouter()
	if err != nil {
		return 0, err
	}
	var handled atomic.Int64
	done := make(chan struct{})
	r.AddConsumerHandler("baseline", "trade", gc, func(*message.Message) error {
		spin(cfg.Work)
		if handled.Add(1) == int64(cfg.N) {
			close(done)
		}
		return nil
	})
	return runRouter(ctx, r, func() error {
		for i := range cfg.N {
			if err := gc.Publish("trade", message.NewMessage(fmt.Sprint(i), payload)); err != nil {
				return err
			}
		}
		return nil
	}, done)
}

// typed: publisher.Publish → transport/mem → subscriber.Handle[Trade].
func typed(ctx context.Context, cfg e2eConfig, concurrency int) (time.Duration, error) {
	tr, err := mem.New(mem.WithConcurrency(concurrency), mem.WithBuffer(4096))
	if err != nil {
		return 0, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tr.Close(cctx)
	}()
	pub, err := publisher.New(tr.Publisher())
	if err != nil {
		return 0, err
	}
	sub, err := tr.Subscriber("bench")
	if err != nil {
		return 0, err
	}
	r, err := newRouter()
	if err != nil {
		return 0, err
	}
	var handled atomic.Int64
	done := make(chan struct{})
	if _, err := subscriber.Handle(r, sub, "trade.binance.*", func(_ context.Context, _ events.Trade) error {
		spin(cfg.Work)
		if handled.Add(1) == int64(cfg.N) {
			close(done)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	trades := sampleTrades(cfg.Keys)
	return runRouter(ctx, r, func() error {
		for i := range cfg.N {
			if err := pub.Publish(ctx, trades[i%len(trades)]); err != nil {
				return err
			}
		}
		return nil
	}, done)
}

func e2e(ctx context.Context, w io.Writer, runs int, cfg e2eConfig) error {
	fmt.Fprintf(w, "end-to-end: %d events/run, %d keys, handler work %v, %d runs, GOMAXPROCS=%d\n",
		cfg.N, cfg.Keys, cfg.Work, runs, runtime.GOMAXPROCS(0))
	var base, t1, tn []float64
	for range runs {
		// Interleave the three paths so machine noise hits them alike.
		d, err := baseline(ctx, cfg)
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		base = append(base, rate(cfg.N, d))
		d, err = typed(ctx, cfg, 1)
		if err != nil {
			return fmt.Errorf("typed, concurrency 1: %w", err)
		}
		t1 = append(t1, rate(cfg.N, d))
		d, err = typed(ctx, cfg, cfg.Concurrency)
		if err != nil {
			return fmt.Errorf("typed, concurrency %d: %w", cfg.Concurrency, err)
		}
		tn = append(tn, rate(cfg.N, d))
	}
	mb, m1, mn := median(base), median(t1), median(tn)
	fmt.Fprintf(w, "%-48s %12s %8s\n", "path", "events/s", "ratio")
	fmt.Fprintf(w, "%-48s %12.0f %8.2f\n", "raw Watermill GoChannel router (baseline)", mb, 1.0)
	fmt.Fprintf(w, "%-48s %12.0f %8.2f\n", "tradebus typed, mem, concurrency 1", m1, m1/mb)
	fmt.Fprintf(w, "%-48s %12.0f %8.2f\n", fmt.Sprintf("tradebus typed, mem, concurrency %d", cfg.Concurrency), mn, mn/mb)
	return nil
}
