package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
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
	WorkN       int // events per run when Work > 0
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

// spin waits d without using the CPU, the way an I/O-bound handler would
// (time.Sleep: the OS timer makes short sleeps somewhat longer).
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
// payload size, handler acking at once (after cfg.Work).
//
// With block false it is GoChannel's default configuration: Publish starts
// a goroutine per message and returns at once, so every published message
// is in flight at the same time, unbounded and in no particular order (the
// router starts a handler goroutine per message it receives). With block
// true (BlockPublishUntilSubscriberAck) GoChannel hands the subscriber one
// message at a time and waits for its ack before the next, in order: the
// Watermill behaviour DESIGN.md's "one message at a time" refers to.
func baseline(ctx context.Context, cfg e2eConfig, block bool) (time.Duration, error) {
	payload, err := events.Marshal(sampleTrades(1)[0])
	if err != nil {
		return 0, err
	}
	gc := gochannel.NewGoChannel(gochannel.Config{
		OutputChannelBuffer:            1024,
		BlockPublishUntilSubscriberAck: block,
	}, watermill.NopLogger{})
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
			if err := gc.Publish("trade", message.NewMessage(strconv.Itoa(i), payload)); err != nil {
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

// path is one measured configuration of the e2e suite.
type path struct {
	label string
	run   func(context.Context, e2eConfig) (time.Duration, error)
}

func e2ePaths(concurrency int) []path {
	return []path{
		{"Watermill GoChannel, default (goroutine per msg, unordered)", func(ctx context.Context, c e2eConfig) (time.Duration, error) {
			return baseline(ctx, c, false)
		}},
		{"Watermill GoChannel, one at a time (BlockPublishUntilAck)", func(ctx context.Context, c e2eConfig) (time.Duration, error) {
			return baseline(ctx, c, true)
		}},
		{"tradebus typed, mem, concurrency 1 (one at a time)", func(ctx context.Context, c e2eConfig) (time.Duration, error) {
			return typed(ctx, c, 1)
		}},
		{fmt.Sprintf("tradebus typed, mem, concurrency %d (key-ordered)", concurrency), func(ctx context.Context, c e2eConfig) (time.Duration, error) {
			return typed(ctx, c, concurrency)
		}},
	}
}

// measure runs every path runs times, interleaved so that machine noise
// hits them alike, and returns the median events/s of each.
func measure(ctx context.Context, runs int, cfg e2eConfig, paths []path, only string) ([]float64, error) {
	rates := make([][]float64, len(paths))
	for range runs {
		for i, p := range paths {
			if only != "" && !strings.Contains(p.label, only) {
				continue
			}
			d, err := p.run(ctx, cfg)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.label, err)
			}
			rates[i] = append(rates[i], rate(cfg.N, d))
		}
	}
	meds := make([]float64, len(paths))
	for i := range rates {
		meds[i] = median(rates[i])
	}
	return meds, nil
}

// report prints one table: events/s and the ratio against each baseline
// (paths[0] GoChannel default, paths[1] GoChannel one at a time).
func report(w io.Writer, paths []path, meds []float64) {
	fmt.Fprintf(w, "%-62s %10s %11s %11s\n", "path", "events/s", "vs default", "vs 1-at-a-t")
	for i, p := range paths {
		if meds[i] == 0 {
			continue
		}
		fmt.Fprintf(w, "%-62s %10.0f %11s %11s\n", p.label, meds[i], ratio(meds[i], meds[0]), ratio(meds[i], meds[1]))
	}
}

// ratio formats a/b, or "-" when the baseline b was not measured.
func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

func e2e(ctx context.Context, w io.Writer, runs int, cfg e2eConfig, only string) error {
	paths := e2ePaths(cfg.Concurrency)
	fmt.Fprintf(w, "end-to-end, no handler work: %d events/run, %d keys, payload %d B, %d runs (medians), GOMAXPROCS=%d\n",
		cfg.N, cfg.Keys, payloadSize(), runs, runtime.GOMAXPROCS(0))
	plain := cfg
	plain.Work = 0
	meds, err := measure(ctx, runs, plain, paths, only)
	if err != nil {
		return err
	}
	report(w, paths, meds)
	if cfg.Work <= 0 {
		return nil
	}
	wcfg := cfg
	wcfg.N = cfg.WorkN
	fmt.Fprintf(w, "\nend-to-end, handler sleeps %v per event (I/O-bound): %d events/run, %d keys, %d runs (medians)\n",
		cfg.Work, wcfg.N, cfg.Keys, runs)
	meds, err = measure(ctx, runs, wcfg, paths, only)
	if err != nil {
		return err
	}
	report(w, paths, meds)
	return nil
}

func payloadSize() int {
	b, err := events.Marshal(sampleTrades(1)[0])
	if err != nil {
		return 0
	}
	return len(b)
}
