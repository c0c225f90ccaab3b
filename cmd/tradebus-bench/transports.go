package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/internal/brokerns"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport"
	_ "github.com/tradebus/tradebus/transport/all"
	"github.com/tradebus/tradebus/transport/kafka/kafkatest"
)

// transportResult is one publish→handle run on one transport.
type transportResult struct {
	rate     float64
	p50, p99 time.Duration
}

// oneTransport publishes cfg.N trades over cfg.Keys symbols from
// `publishers` goroutines and handles them with a typed handler, measuring
// the end-to-end rate and the publish→handle latency of every event.
func oneTransport(ctx context.Context, rawURL string, cfg e2eConfig, publishers int) (transportResult, error) {
	// A namespace of its own on the broker, removed afterwards.
	ns := brokerns.Unique()
	nsURL, err := brokerns.Apply(rawURL, ns)
	if err != nil {
		return transportResult{}, err
	}
	tr, err := transport.Open(ctx, nsURL)
	if err != nil {
		return transportResult{}, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = tr.Close(cctx)
		_ = brokerns.Remove(cctx, rawURL, ns, []brokerns.Subscription{{Group: "bench", Pattern: "trade.bench.*"}})
	}()
	pub, err := publisher.New(tr.Publisher())
	if err != nil {
		return transportResult{}, err
	}
	sub, err := tr.Subscriber("bench")
	if err != nil {
		return transportResult{}, err
	}
	r, err := newRouter()
	if err != nil {
		return transportResult{}, err
	}
	var (
		handled atomic.Int64
		mu      sync.Mutex
		lat     = make([]time.Duration, 0, cfg.N)
		done    = make(chan struct{})
	)
	if _, err := subscriber.Handle(r, sub, "trade.bench.*", func(_ context.Context, t events.Trade) error {
		d := time.Since(t.Time)
		mu.Lock()
		lat = append(lat, d)
		mu.Unlock()
		if handled.Add(1) == int64(cfg.N) {
			close(done)
		}
		return nil
	}); err != nil {
		return transportResult{}, err
	}
	trades := sampleTrades(cfg.Keys)
	for i := range trades {
		trades[i].Exchange = "bench"
	}
	elapsed, err := runRouter(ctx, r, func() error {
		var wg sync.WaitGroup
		errs := make(chan error, publishers)
		for p := range publishers {
			wg.Go(func() {
				for i := p; i < cfg.N; i += publishers {
					t := trades[i%len(trades)]
					t.Time = time.Now()
					if err := pub.Publish(ctx, t); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		return <-errs
	}, done)
	if err != nil {
		return transportResult{}, err
	}
	slices.Sort(lat)
	return transportResult{
		rate: rate(cfg.N, elapsed),
		p50:  lat[len(lat)/2],
		p99:  lat[len(lat)*99/100],
	}, nil
}

func transports(ctx context.Context, w io.Writer, runs int, cfg e2eConfig, urls []string, publishers int) error {
	fmt.Fprintf(w, "transports: %d events/run over %d symbols, %d publishing goroutines, %d runs (medians)\n",
		cfg.N, cfg.Keys, publishers, runs)
	fmt.Fprintf(w, "%-12s %12s %12s %12s\n", "transport", "events/s", "p50", "p99")
	for _, raw := range urls {
		if u, err := url.Parse(raw); err == nil && u.Scheme == "kafka" && u.Host == "" {
			// kafka:// alone: an embedded in-process cluster (kfake).
			cluster, err := kafkatest.Start()
			if err != nil {
				return err
			}
			defer cluster.Close()
			raw = cluster.URL()
		}
		var rates []float64
		var p50s, p99s []float64
		for range runs {
			res, err := oneTransport(ctx, raw, cfg, publishers)
			if err != nil {
				return fmt.Errorf("%s: %w", redacted(raw), err)
			}
			rates = append(rates, res.rate)
			p50s = append(p50s, float64(res.p50))
			p99s = append(p99s, float64(res.p99))
		}
		fmt.Fprintf(w, "%-12s %12.0f %12v %12v\n", scheme(raw), median(rates),
			time.Duration(median(p50s)).Round(time.Microsecond), time.Duration(median(p99s)).Round(time.Microsecond))
	}
	return nil
}

func scheme(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Scheme
	}
	return "?"
}

func redacted(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "<url>"
}
