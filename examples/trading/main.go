// Command trading is a small event-driven trading system on tradebus:
//
//	market-data simulator ──ticker.*, trade.*──▶ strategy ──signal.*──▶ executor
//	      ──order.*──▶ venue simulator ──exec.*──▶ portfolio ──position.*──▶ risk
//
// A market-data simulator publishes tickers and trades for several symbols
// on two exchanges; a moving-average crossover strategy subscribes with a
// wildcard and publishes signals; an executor turns signals into limit
// orders; a venue simulator answers each order with execution reports (an
// acknowledgement, a partial fill and a full fill); a portfolio service
// keeps positions and publishes them; a risk monitor watches exposure. At
// the end the program prints the final portfolio.
//
// It runs on the in-memory transport by default and ends by itself:
//
//	go run ./examples/trading
//	go run ./examples/trading -broker amqp://guest:guest@127.0.0.1:5672/
//	TRADEBUS_BROKER=kafka:// go run ./examples/trading   # embedded Kafka
//
// The same -seed gives the same final portfolio on every transport.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
)

func main() {
	os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
}

func cli(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("trading", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := defaultConfig()
	broker := os.Getenv("TRADEBUS_BROKER")
	if broker == "" {
		broker = "mem://"
	}
	fs.StringVar(&cfg.Broker, "broker", broker, "broker URL (env TRADEBUS_BROKER): mem://, amqp://…, kafka://host:port (kafka:// alone starts an embedded cluster), redis://…, nats://…")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed of the market-data simulator")
	fs.IntVar(&cfg.Ticks, "ticks", cfg.Ticks, "market-data ticks per symbol and exchange")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "give up if the run has not finished by then")
	verbose := fs.Bool("v", false, "log every order and fill with its correlation id")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics at /metrics on this address while running, e.g. :9464")
	traceTo := fs.String("trace", "", "print every span (OpenTelemetry, JSON) to: stdout")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	obs, err := observabilityFlags(*metricsAddr, *traceTo, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "trading: %v\n", err)
		return 2
	}
	defer func() { _ = obs.Close(context.Background()) }()
	cfg.TransportOptions = obs.Options
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
	fmt.Fprintf(stdout, "finished in %s on %s\n", time.Since(start).Round(time.Millisecond), sum.Transport)
	return 0
}
