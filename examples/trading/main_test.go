package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tradebus/tradebus/events"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func noEnv(string) string { return "" }

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func runCLI(t *testing.T, getenv func(string) string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = cli(args, getenv, &out, &errOut)
	return code, out.String(), errOut.String()
}

// The output is for a trader: each section is there, -v shows signals and
// fills with symbol, side and status, and correlation ids for tracing.
func TestCLIRunsOnMemAndEnds(t *testing.T) {
	code, out, errOut := runCLI(t, noEnv, "-seed", "7", "-ticks", "80", "-v")
	require.Equal(t, 0, code, "stderr: %s", errOut)
	for _, want := range []string{
		"Simulated market: 80 ticks", "on mem.",
		"Strategy sma5x20", "  signals: ", "  orders: ", "  fills: ",
		"Positions (quantities in the base asset; prices and PnL in USDT)",
		"exposure = |position| × last trade price, USDT",
		"Risk monitor (limit 1,000.00 USDT per position",
		"Message bus", "  retries: ", "  dead letters: ", "  duplicates skipped: ",
		"finished in ",
	} {
		require.Contains(t, out, want)
	}
	require.Regexp(t, `msg=signal exchange=\w+ symbol=\w+ action=(BUY|SELL) `, errOut)
	require.Regexp(t, `msg=fill exchange=\w+ symbol=\w+ side=(BUY|SELL) status=(PARTIALLY_FILLED|FILLED) qty=`, errOut)
	require.Regexp(t, `msg=order clOrdID=\S+ exchange=\w+ symbol=\w+ side=`, errOut)
	require.Contains(t, errOut, "correlationid=")
}

func TestHelpExplainsAndExitsZero(t *testing.T) {
	code, out, errOut := runCLI(t, noEnv, "-h")
	require.Equal(t, 0, code)
	require.Empty(t, out)
	require.Contains(t, errOut, "trading runs a small event-driven trading system")
	for _, f := range []string{"-url", "-ns", `(default "example")`, "-chaos", "-seed", "-v", "TRADEBUS_URL"} {
		require.Contains(t, errOut, f)
	}
	code, _, _ = runCLI(t, noEnv, "-no-such-flag")
	require.Equal(t, 2, code)
	code, _, _ = runCLI(t, noEnv, "extra")
	require.Equal(t, 2, code)
}

// One naming convention across the tools: -url and TRADEBUS_URL; the old
// names still work, with a notice.
func TestURLNamesAndDeprecatedAliases(t *testing.T) {
	bad := "carrier-pigeon://x"
	for _, c := range []struct {
		name   string
		getenv func(string) string
		args   []string
		notice string
	}{
		{"flag -url", noEnv, []string{"-url", bad}, ""},
		{"env TRADEBUS_URL", env("TRADEBUS_URL", bad), nil, ""},
		{"TRADEBUS_URL wins over TRADEBUS_BROKER", env("TRADEBUS_URL", bad, "TRADEBUS_BROKER", "mem://"), nil, ""},
		{"flag -broker", noEnv, []string{"-broker", bad}, "-broker is deprecated; use -url"},
		{"env TRADEBUS_BROKER", env("TRADEBUS_BROKER", bad), nil, "TRADEBUS_BROKER is deprecated; set TRADEBUS_URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, c.getenv, c.args...)
			require.Equal(t, 1, code, errOut)
			require.Contains(t, errOut, "unknown URL scheme", "the URL given was used")
			if c.notice != "" {
				require.Contains(t, errOut, c.notice)
			} else {
				require.NotContains(t, errOut, "deprecated")
			}
		})
	}
}

func TestNamespace(t *testing.T) {
	for _, c := range []struct{ raw, ns, want string }{
		{"mem://", "example", "mem://"},
		{"amqp://guest:guest@h:5672/", "example", "amqp://guest:guest@h:5672/?exchange=example"},
		{"amqp://h/?exchange=mine", "example", "amqp://h/?exchange=mine"}, // the URL's own wins
		{"amqp://h/", "", "amqp://h/"},
		{"nats://h:4222", "example", "nats://h:4222?prefix=example"},
		{"redis://h:6379/0", "example", "redis://h:6379/0?prefix=example%3A"},
		{"kafka://h:9092", "example", "kafka://h:9092?prefix=example."},
	} {
		got, err := namespaced(c.raw, c.ns)
		require.NoError(t, err)
		require.Equal(t, c.want, got, "%s with %q", c.raw, c.ns)
	}
	_, err := namespaced("amqp://h/", "a.b")
	require.Error(t, err)
}

func run(t *testing.T, cfg Config) *Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := Run(ctx, cfg)
	require.NoError(t, err)
	return sum
}

func TestSameSeedSameSummary(t *testing.T) {
	cfg := defaultConfig()
	cfg.Ticks = 120
	cfg.Seed = 11
	a, b := run(t, cfg), run(t, cfg)
	cfg.Seed = 12
	c := run(t, cfg)
	require.Equal(t, a, b)
	require.NotEqual(t, a.Lines, c.Lines)
	requireConsistent(t, a)
	require.Equal(t, int64(2*3*120), a.Bus.Handled[events.TypeTicker])
	require.False(t, a.Realized.IsZero(), "some PnL was realized")
}

// requireConsistent checks that a summary's numbers agree with each other.
func requireConsistent(t *testing.T, s *Summary) {
	t.Helper()
	for _, kind := range []string{events.TypeTicker, events.TypeTrade, events.TypeSignal, events.TypeOrder,
		events.TypeExecutionReport, events.TypePosition} {
		require.Positive(t, s.Bus.Handled[kind], kind)
	}
	var handled int64
	for _, n := range s.Bus.Handled {
		handled += n
	}
	require.Equal(t, s.Bus.Published, handled+int64(s.Bus.DeadLetters), "every event handled once or dead-lettered")

	signals, orders, fills, checks := 0, 0, 0, 0
	var realized, unrealized, exposure events.Decimal
	for _, l := range s.Lines {
		require.True(t, l.Bought.Sub(l.Sold).Equal(l.Position), "%s %s: bought − sold = position", l.Exchange, l.Symbol)
		if l.Position.IsZero() {
			require.True(t, l.AvgPrice.IsZero() && l.Exposure.IsZero() && l.Unrealized.IsZero())
		} else {
			e, err := l.Position.Abs().Mul(l.LastPrice)
			require.NoError(t, err)
			require.True(t, e.Equal(l.Exposure), "exposure = |position| × last")
		}
		require.Equal(t, l.Fills, l.RiskChecks, "one position update, one risk check per fill")
		signals += l.Buys + l.Sells
		orders += l.Orders
		fills += l.Fills
		checks += l.RiskChecks
		realized, unrealized, exposure = realized.Add(l.Realized), unrealized.Add(l.Unrealized), exposure.Add(l.Exposure)
	}
	require.Equal(t, s.Buys+s.Sells, signals)
	require.Equal(t, signals, s.Approved+s.Refused, "one pre-trade check per signal")
	require.Equal(t, s.Approved, orders, "one order per approved signal")
	require.Equal(t, orders, s.Orders)
	require.Equal(t, orders, s.Acks, "every order acknowledged")
	require.Equal(t, orders, s.Filled, "every order filled in the end")
	require.Equal(t, fills, s.Partial+s.Filled)
	require.Equal(t, int64(signals), s.Bus.Handled[events.TypeSignal])
	require.Equal(t, int64(fills+s.Acks), s.Bus.Handled[events.TypeExecutionReport])
	require.Equal(t, int64(checks), s.Bus.Handled[events.TypePosition])
	require.True(t, realized.Equal(s.Realized) && unrealized.Equal(s.Unrealized) && exposure.Equal(s.Exposure), "totals")
}

// -chaos injects failures, duplicates and malformed events; the summary
// shows what the middleware did about them (its own counters), and the
// trading result is the same as without.
func TestChaosShowsTheReliabilityStack(t *testing.T) {
	cfg := defaultConfig()
	cfg.Ticks = 120
	calm := run(t, cfg)
	cfg.Chaos = 4
	s := run(t, cfg)

	require.Equal(t, int64(4), s.Bus.InjectedFailures)
	require.Equal(t, int64(4), s.Bus.InjectedDuplicates)
	require.Equal(t, int64(4), s.Bus.InjectedMalformed)
	require.Equal(t, uint64(4), s.Bus.Retries, "one retry per injected failure")
	require.Equal(t, uint64(4), s.Bus.Duplicates, "each injected duplicate skipped")
	require.Equal(t, uint64(4), s.Bus.DeadLetters, "each malformed event dead-lettered")
	require.Zero(t, s.Bus.Resent)
	require.Equal(t, calm.Bus.Published+4, s.Bus.Published, "the malformed events are extra")
	require.Equal(t, calm.Bus.Handled, s.Bus.Handled)
	requireConsistent(t, s)

	require.Equal(t, calm.Lines, s.Lines, "same positions as without chaos")
	require.Equal(t, calm.Realized, s.Realized)

	var out bytes.Buffer
	s.Print(&out)
	require.Contains(t, out.String(), "retries:            4 handler attempts")
	require.Contains(t, out.String(), "injected by -chaos: 4 handler failures, 4 duplicate publishes, 4 malformed events")
}

// The README's sample output is a real run's, but for the time it took.
func TestREADMESampleIsARealRun(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)<!-- trading-sample: (.*?) -->\n```text\n(.*?)```").FindSubmatch(readme)
	require.NotNil(t, m, "README has a sample marked <!-- trading-sample: ARGS -->")
	args := strings.Fields(string(m[1]))
	require.Equal(t, "go", args[0])
	code, out, errOut := runCLI(t, noEnv, args[3:]...) // go run ./examples/trading ARGS
	require.Equal(t, 0, code, errOut)
	dur := regexp.MustCompile(`finished in \S+`)
	require.Equal(t, dur.ReplaceAllString(string(m[2]), "finished in X"), dur.ReplaceAllString(out, "finished in X"))
}
