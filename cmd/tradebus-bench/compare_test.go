package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// A Watermill router's subscriber fan-out goroutines end just after
		// Close returns (as in transport/nats and transport/redisstream).
		goleak.IgnoreAnyFunction("github.com/ThreeDotsLabs/watermill/internal/subscriber.(*multiplier).Subscribe.func2"),
		goleak.IgnoreAnyFunction("github.com/ThreeDotsLabs/watermill/internal/subscriber.(*multiplier).Subscribe.func3"),
		// sarama (watermill-kafka) registers go-metrics meters, whose
		// process-wide arbiter goroutine never stops.
		goleak.IgnoreTopFunction("github.com/rcrowley/go-metrics.(*meterArbiter).tick"),
	)
}

// TestCompare runs every row of the compare suite with a tiny N on mem, on
// an in-process Kafka (kfake) and on each broker whose TRADEBUS_TEST_*_URL
// is set: nothing may be lost or duplicated, and no broker object of the
// run may be left behind.
func TestCompare(t *testing.T) {
	cfg := phaseConfig{N: 200, LatN: 50, LatRate: 1000, Timeout: 2 * time.Minute}
	urls := brokerURLs{
		amqp:  os.Getenv("TRADEBUS_TEST_AMQP_URL"),
		redis: os.Getenv("TRADEBUS_TEST_REDIS_URL"),
		nats:  os.Getenv("TRADEBUS_TEST_NATS_URL"),
		kafka: kafkaEnvURL(), // empty: kfake
	}
	for _, tc := range []struct{ name, env, url string }{
		{"mem", "", "-"},
		{"kafka", "", "-"},
		{"amqp", "TRADEBUS_TEST_AMQP_URL", urls.amqp},
		{"redis", "TRADEBUS_TEST_REDIS_URL", urls.redis},
		{"nats", "TRADEBUS_TEST_NATS_URL", urls.nats},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.url == "" {
				t.Skipf("set %s to run", tc.env)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			e, err := newEnv(tc.name, cfg, urls, 16)
			require.NoError(t, err)
			defer e.close()

			res, err := compareTransport(ctx, e, 1)
			require.NoError(t, err)
			kinds := map[string]int{}
			for _, r := range res {
				kinds[r.spec.kind]++
				require.Len(t, r.samples, 1, r.spec.name)
				s := r.samples[0]
				require.Equal(t, cfg.N, s.published, "%s: published", r.spec.name)
				require.Equal(t, cfg.N, s.consumed, "%s: consumed (lost or duplicated)", r.spec.name)
				require.Equal(t, cfg.LatN, s.latSeen, "%s: latency phase", r.spec.name)
				require.Positive(t, s.pubRate, r.spec.name)
				require.Positive(t, s.consRate, r.spec.name)
				require.Positive(t, s.p99, r.spec.name)
			}
			wantRaw := 1
			if tc.name == "kafka" {
				wantRaw = 2 // kgo's default fetch size and the driver's
			}
			require.Equal(t, wantRaw, kinds[kindRaw], "raw rows")
			require.Equal(t, len(typedConsumers), kinds[kindTyped], "a typed row per typed consumer")
			if tc.name != "mem" {
				require.Equal(t, 1, kinds[kindAdapter], "one adapter row")
			}

			pr, err := comparePaired(ctx, e, 2)
			require.NoError(t, err)
			require.Len(t, pr.runs, 2)
			require.Equal(t, wantRaw, countKind(pr.specs, kindRaw), "paired: every raw row")
			require.Equal(t, len(pairedConsumers), countKind(pr.specs, kindTyped), "paired: the fast paths")
			for _, run := range pr.runs {
				require.Len(t, run, len(pr.specs))
				for k, s := range run {
					name := pr.specs[k].name
					require.Equal(t, cfg.LatN, s.seen, "paired %s: lost events", name)
					require.Positive(t, s.p50, name)
					require.LessOrEqual(t, s.p50, s.p99, name)
					require.LessOrEqual(t, s.p99, s.p999, name)
				}
			}
			for k, s := range pr.specs {
				if s.kind == kindTyped {
					require.Len(t, pr.ratios(k), 2, "a ratio per run")
				}
			}

			left, err := e.leftovers(ctx)
			require.NoError(t, err)
			require.Empty(t, left, "broker objects left behind")

			var out bytes.Buffer
			reportCompare(&out, e, res)
			require.Contains(t, out.String(), "tradebus typed")
			reportPaired(&out, e, pr)
			require.Contains(t, out.String(), "p99 ÷ raw p99")
			t.Log(out.String())
		})
	}
}

// TestPairedRatios: a typed path's ratio is its p99 ÷ the lowest raw p99
// of the same run, one per run.
func TestPairedRatios(t *testing.T) {
	ms := time.Millisecond
	r := &pairedResult{
		specs: []rowSpec{{name: "raw a", kind: kindRaw}, {name: "raw b", kind: kindRaw}, {name: "typed", kind: kindTyped}},
		runs: [][]pairedSample{
			{{p99: 4 * ms}, {p99: 2 * ms}, {p99: 3 * ms}},
			{{p99: 5 * ms}, {p99: 10 * ms}, {p99: 10 * ms}},
		},
	}
	require.Equal(t, []float64{1.5, 2}, r.ratios(2))
	var out bytes.Buffer
	reportPaired(&out, &env{transport: "x", cfg: phaseConfig{LatN: 10, LatRate: 1000}}, r)
	require.Contains(t, out.String(), "1.75 [1.50–2.00] runs: 1.50 2.00")
	require.Contains(t, out.String(), "ratios against the lower p99 of the 2 raw paths")
}

// TestPairedRows: the paired phase runs the raw rows and the fast paths
// that -only selects, and fails when it selects none.
func TestPairedRows(t *testing.T) {
	names := func(specs []rowSpec) []string {
		var out []string
		for _, s := range specs {
			out = append(out, s.kind+": "+s.name)
		}
		return out
	}
	require.Equal(t, []string{
		"raw: nats.go jetstream PublishAsync 256 in flight; Consume + Ack",
		"typed: tradebus typed fast path (subscriber.Group)",
		"typed: tradebus typed fast path + middleware.Default",
	}, names(pairedRows(&env{transport: "nats"})))
	require.Equal(t, []string{
		"raw: nats.go jetstream PublishAsync 256 in flight; Consume + Ack",
		"typed: tradebus typed fast path + middleware.Default",
	}, names(pairedRows(&env{transport: "nats", cfg: phaseConfig{Only: "fast path + "}})))
	_, err := comparePaired(context.Background(), &env{transport: "nats", cfg: phaseConfig{Only: "(subscriber.Handle"}}, 1)
	require.ErrorContains(t, err, "no typed row selected")
}

// TestBestRaw: ratios are taken against the best raw row in each column.
func TestBestRaw(t *testing.T) {
	a := &rowResult{spec: rowSpec{name: "a", kind: kindRaw}, samples: []sample{
		{pubRate: 10, consRate: 5, steadyRate: 50, p99: 3 * time.Millisecond, consCPU: 2}}}
	b := &rowResult{spec: rowSpec{name: "b", kind: kindRaw}, samples: []sample{
		{pubRate: 8, consRate: 7, steadyRate: 40, p99: 2 * time.Millisecond, consCPU: 3}}}
	got := bestRaw([]*rowResult{a, b}).samples[0]
	require.Equal(t, 10.0, got.pubRate)
	require.Equal(t, 7.0, got.consRate)
	require.Equal(t, 50.0, got.steadyRate)
	require.Equal(t, 2*time.Millisecond, got.p99)
	require.Equal(t, time.Duration(2), got.consCPU)
	require.Nil(t, bestRaw(nil))
}

// TestDefaultCosts: middleware.Default's cost is a ratio per rep of the
// row behind it to its bare row (not a ratio of medians), for every pair
// whose both rows ran, and the report prints it.
func TestDefaultCosts(t *testing.T) {
	row := func(name string, cpus ...time.Duration) rowResult {
		r := rowResult{spec: rowSpec{name: name, kind: kindTyped}}
		for _, c := range cpus {
			r.samples = append(r.samples, sample{consCPU: c})
		}
		return r
	}
	res := []rowResult{
		row("fast (group)", 100, 200, 400),
		row("fast"+defaultSuffix, 110, 260, 400), // +10%, +30%, 0%
		row("router"+defaultSuffix, 500),         // its bare row did not run
	}
	got := defaultCosts(res)
	require.Len(t, got, 1)
	require.Equal(t, "fast", got[0].row)
	require.InDeltaSlice(t, []float64{0.1, 0.3, 0}, got[0].extra, 1e-9)

	var out strings.Builder
	reportCompare(&out, &env{transport: "mem", fx: &fixture{payloads: [][]byte{nil}}}, res)
	require.Contains(t, out.String(), "middleware.Default on fast: +10% consume CPU per event (median of 3 per-rep ratios, range +0% to +30%)")
}

// TestOnlyKeepsRaw: -only selects rows by name and always keeps the raw
// rows, which every ratio needs.
func TestOnlyKeepsRaw(t *testing.T) {
	e := &env{transport: "nats", cfg: phaseConfig{Only: "(subscriber.Group)"}}
	var names []string
	for _, s := range selectedRows(e) {
		names = append(names, s.kind+": "+s.name)
	}
	require.Equal(t, []string{
		"raw: nats.go jetstream PublishAsync 256 in flight; Consume + Ack",
		"typed: tradebus typed fast path (subscriber.Group)",
	}, names)
}

func TestLeftoversSeesObjects(t *testing.T) {
	if os.Getenv("TRADEBUS_TEST_REDIS_URL") == "" {
		t.Skip("set TRADEBUS_TEST_REDIS_URL to run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := newEnv("redis", phaseConfig{N: 10}, brokerURLs{redis: os.Getenv("TRADEBUS_TEST_REDIS_URL")}, 16)
	require.NoError(t, err)
	defer e.close()
	r, err := openRawRedis(ctx, e, e.name())
	require.NoError(t, err)
	left, err := e.leftovers(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, left, "the check must see a stream the run created")
	require.NoError(t, r.close(ctx))
	left, err = e.leftovers(ctx)
	require.NoError(t, err)
	require.Empty(t, left)
}

// TestRebuildSuite runs every row of the rebuild suite with a tiny N on an
// in-process Kafka (kfake), on each broker whose TRADEBUS_TEST_*_URL is set
// and on mem when it keeps history: every row must read all N events (the
// rebuild row also checks the state it folded), and nothing of the run may
// be left on the broker.
func TestRebuildSuite(t *testing.T) {
	const n = 300
	urls := brokerURLs{
		redis: os.Getenv("TRADEBUS_TEST_REDIS_URL"),
		nats:  os.Getenv("TRADEBUS_TEST_NATS_URL"),
		kafka: kafkaEnvURL(), // empty: kfake
	}
	for _, tc := range []struct{ name, env, url string }{
		{"mem", "", "-"},
		{"kafka", "", "-"},
		{"redis", "TRADEBUS_TEST_REDIS_URL", urls.redis},
		{"nats", "TRADEBUS_TEST_NATS_URL", urls.nats},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.url == "" {
				t.Skipf("set %s to run", tc.env)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			e, err := newEnv(tc.name, phaseConfig{N: n, Timeout: 2 * time.Minute}, urls, 16)
			require.NoError(t, err)
			defer e.close()

			h, skip, err := openHistory(ctx, e, n)
			require.NoError(t, err)
			if skip != "" {
				require.Equal(t, "mem", tc.name, "only mem may lack history")
				t.Skip(skip)
			}
			res, err := measureRebuild(ctx, h, 2)
			require.NoError(t, h.close(ctx))
			require.NoError(t, err)
			kinds := map[string]int{}
			for _, r := range res {
				kinds[r.row.kind]++
				require.Len(t, r.samples, 2, r.row.name)
				for _, s := range r.samples {
					require.Equal(t, n, s.events, r.row.name)
					require.Positive(t, s.rate, r.row.name)
				}
			}
			require.Equal(t, 1, kinds[kindRead])
			require.Equal(t, 1, kinds[kindRebuild])
			if tc.name != "mem" {
				require.Equal(t, 1, kinds[kindRawRead])
				require.Equal(t, 1, kinds[kindRawDecode])
			}

			left, err := e.leftovers(ctx)
			require.NoError(t, err)
			require.Empty(t, left, "broker objects left behind")

			var out bytes.Buffer
			reportRebuild(&out, h, res)
			require.Contains(t, out.String(), "rebuild ÷ read")
			t.Log(out.String())
		})
	}
}
