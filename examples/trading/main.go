// Command trading is a small event-driven trading system on tradebus:
//
//	market-data simulator ──ticker.*, trade.*──▶ strategy ──signal.*──▶ executor
//	      ──order.*──▶ venue simulator ──exec.*──▶ portfolio ──position.*──▶ risk
//
// A market-data simulator publishes tickers and trades for three symbols
// on two exchanges; a moving-average crossover strategy subscribes with a
// wildcard and publishes signals; an executor turns signals into limit
// orders; a venue simulator answers each order with execution reports (an
// acknowledgement, a partial fill and a full fill); a portfolio service
// keeps positions and publishes them; a risk monitor checks each position
// against a limit. Each service is a consumer group behind
// middleware.Default (retry, dead letters, dedup, correlation). On a
// transport that keeps history (mem with history, the default; Kafka,
// Redis, NATS) the portfolio's fills are instead an event-sourced
// projection (package projection): it folds the exec history from its
// last snapshot and serves once caught up; -kill-portfolio N kills it
// mid-run and it rebuilds the same portfolio. At the end
// the program prints the signals, orders, fills, positions with PnL, the
// risk checks, and what the reliability stack did.
//
// It runs on the in-memory transport by default and ends by itself:
//
//	go run ./examples/trading
//	go run ./examples/trading -url amqp://guest:guest@127.0.0.1:5672/
//	TRADEBUS_URL=kafka:// go run ./examples/trading   # embedded Kafka
//	go run ./examples/trading -chaos 3                # inject failures
//	go run ./examples/trading -kill-portfolio 1000    # crash the portfolio mid-run
//
// The same -seed gives the same positions on every transport, with or
// without -chaos, and across broker restarts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
)

func main() {
	os.Exit(cli(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

const about = `trading runs a small event-driven trading system on tradebus and prints
what it traded: a simulated market (BTCUSDT, ETHUSDT, SOLUSDT on binance and
kraken) feeds a moving-average crossover strategy; its signals become limit
orders, a simulated venue fills them, a portfolio keeps positions and PnL and
a risk monitor checks them against a limit. Every service is a consumer group
behind the reliability stack (retry, dead letters, dedup); -chaos shows it at
work. The run ends by itself; the same -seed gives the same positions on every
broker.

usage: trading [flags]

  go run ./examples/trading                          in memory
  go run ./examples/trading -url amqp://guest:guest@127.0.0.1:5672/
  go run ./examples/trading -chaos 3 -v

flags:
`

// cli runs the program with args and the environment getenv; it returns
// the exit status: 0 done (also for -h), 1 the run failed, 2 bad usage.
func cli(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("trading", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), about)
		fs.PrintDefaults()
	}
	cfg := defaultConfig()
	url := getenv("TRADEBUS_URL")
	if url == "" {
		if url = getenv("TRADEBUS_BROKER"); url != "" {
			fmt.Fprintln(stderr, "trading: TRADEBUS_BROKER is deprecated; set TRADEBUS_URL")
		}
	}
	if url == "" {
		url = defaultURL
	}
	fs.StringVar(&cfg.URL, "url", url, "broker URL (env TRADEBUS_URL): mem://, amqp://…, kafka://host:port (kafka:// alone starts an embedded cluster), redis://…, nats://…")
	fs.Func("broker", "deprecated: use -url", func(v string) error {
		fmt.Fprintln(stderr, "trading: -broker is deprecated; use -url")
		cfg.URL = v
		return nil
	})
	fs.StringVar(&cfg.Namespace, "ns", cfg.Namespace, `the run's namespace on the broker: RabbitMQ exchange, Redis/NATS/Kafka prefix ("" = the URL's own or the transport's default)`)
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed of the market-data simulator")
	fs.IntVar(&cfg.Ticks, "ticks", cfg.Ticks, "market-data ticks per symbol and exchange")
	fs.IntVar(&cfg.Chaos, "chaos", 0, "inject N handler failures, N duplicate publishes and N malformed events (0 = none)")
	fs.Int64Var(&cfg.KillPortfolioAt, "kill-portfolio", 0, "kill the portfolio projection when N events are done, as a crash, and restart it from its last snapshot (transports with history; 0 = never)")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "give up if the run has not finished by then")
	verbose := fs.Bool("v", false, "log every signal, order and fill (with its correlation id) and every risk breach")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics at /metrics on this address while running, e.g. :9464")
	traceTo := fs.String("trace", "", "print every span (OpenTelemetry, JSON) to: stdout")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "trading: unexpected arguments %q\n", fs.Args())
		return 2
	}
	obs, err := observabilityFlags(*metricsAddr, *traceTo, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "trading: %v\n", err)
		return 2
	}
	defer func() { _ = obs.Close(context.Background()) }()
	cfg.TransportOptions, cfg.Meter, cfg.Tracer = obs.Options, obs.Meter, obs.Tracer
	if obs.MetricsURL != "" {
		fmt.Fprintf(stderr, "metrics: %s\n", obs.MetricsURL)
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	start := time.Now()
	sum, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "trading: %v\n", err)
		return 1
	}
	sum.Print(stdout)
	fmt.Fprintf(stdout, "\nfinished in %s\n", time.Since(start).Round(time.Millisecond))
	return 0
}
