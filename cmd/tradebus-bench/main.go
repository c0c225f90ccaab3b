// Command tradebus-bench measures tradebus against baselines measured in
// the same run and prints ratios (medians of several runs), because the
// machines it runs on are shared and noisy.
//
//	go run ./cmd/tradebus-bench -suite e2e     # typed mem path vs raw Watermill GoChannel router (two configs), also with 50µs handler work
//	go run ./cmd/tradebus-bench -suite codec   # encode+decode per event, allocations
//	go run ./cmd/tradebus-bench -suite transports -urls mem://,amqp://…,kafka://,redis://…,nats://…
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

func main() {
	suite := flag.String("suite", "e2e", "what to measure: e2e, codec, all")
	n := flag.Int("n", 100_000, "events per run")
	runs := flag.Int("runs", 5, "runs per measurement (the median is printed)")
	keys := flag.Int("keys", 16, "partition keys (symbols)")
	conc := flag.Int("concurrency", 64, "in-flight messages per subscription for the concurrent typed path")
	work := flag.Duration("work", 50*time.Microsecond, "e2e: also measure with a handler that sleeps this long per event (I/O-bound); 0 skips")
	workN := flag.Int("work-n", 3_000, "e2e: events per run of the handler-work measurement")
	only := flag.String("only", "", "e2e: measure only the paths whose label contains this (for profiling)")
	urls := flag.String("urls", "mem://", "comma-separated transport URLs for -suite transports")
	publishers := flag.Int("publishers", 4, "publishing goroutines for -suite transports")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "tradebus-bench:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "tradebus-bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	cfg := e2eConfig{N: *n, Keys: *keys, Concurrency: *conc, Work: *work, WorkN: *workN}
	var err error
	if *suite == "transports" {
		err = transports(context.Background(), os.Stdout, *runs, cfg, strings.Split(*urls, ","), *publishers)
	} else {
		err = run(context.Background(), os.Stdout, *suite, *runs, cfg, *only)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tradebus-bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, suite string, runs int, cfg e2eConfig, only string) error {
	switch suite {
	case "e2e":
		return e2e(ctx, w, runs, cfg, only)
	case "codec":
		return codec(w)
	case "all":
		if err := e2e(ctx, w, runs, cfg, only); err != nil {
			return err
		}
		return codec(w)
	default:
		return fmt.Errorf("unknown suite %q (want e2e, codec or all)", suite)
	}
}

// median of the measurements (events per second).
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func rate(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }
