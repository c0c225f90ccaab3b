package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/rpc"
)

// lockedBuffer is a bytes.Buffer for the span exporter's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestObservability: with -metrics, /metrics (read with expfmt) counts
// every event the run published and handled, per event type; with -trace,
// a span is printed per published and per handled event, each handling a
// child of its publish in the same trace, and each event a handler
// published a child of that handling.
func TestObservability(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var spans lockedBuffer
	obs, err := newObservability("127.0.0.1:0", &spans)
	require.NoError(t, err)
	defer func() { _ = obs.Close(context.Background()) }()
	cfg := defaultConfig()
	cfg.Seed, cfg.Ticks, cfg.TransportOptions, cfg.Meter, cfg.Tracer = 7, 60, obs.Options, obs.Meter, obs.Tracer
	sum, err := Run(ctx, cfg)
	require.NoError(t, err)

	resp, err := http.Get(obs.MetricsURL)
	require.NoError(t, err)
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	_ = resp.Body.Close()
	require.NoError(t, err)
	count := func(name string) map[string]float64 { // by event type
		got := map[string]float64{}
		for _, m := range mfs[name].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "tradebus_event_type" {
					got[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
		return got
	}
	var published float64
	for _, n := range count("tradebus_messages_published_total") {
		published += n
	}
	// Besides the events of the flow, each signal made one pre-trade
	// request and got one reply (an ExecutionReport, or an rpc error for
	// a refused order).
	calls := int64(sum.Approved + sum.Refused)
	require.Equal(t, float64(sum.Bus.Published+2*calls), published, "published")
	handled := count("tradebus_messages_handled_total")
	want := map[string]int64{}
	for kind, n := range sum.Bus.Handled {
		want[kind] = n
	}
	// The portfolio's projection reads the exec reports from the history:
	// no consumer group delivers them, so no handled count, no span.
	require.True(t, sum.Portfolio.Projection)
	want[events.TypeExecutionReport] -= int64(sum.Portfolio.Applied)
	// It reports them as its own.
	var folded float64
	for _, m := range mfs["tradebus_projection_applied_total"].GetMetric() {
		folded += m.GetCounter().GetValue()
	}
	require.Equal(t, float64(sum.Portfolio.Applied), folded, "the projection's applied counter")
	want[events.TypeOrder] += calls
	want[events.TypeExecutionReport] += int64(sum.Approved)
	want[rpc.TypeError] += int64(sum.Refused)
	for kind, n := range want {
		require.Equal(t, float64(n), handled[kind], "handled %s", kind)
	}

	require.NoError(t, obs.Close(ctx)) // flushes the spans
	type spanJSON struct {
		Name        string
		SpanContext struct{ TraceID, SpanID string }
		Parent      struct{ TraceID, SpanID string }
		SpanKind    int
	}
	byID := map[string]spanJSON{}
	var all []spanJSON
	sc := bufio.NewScanner(strings.NewReader(spans.b.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var s spanJSON
		require.NoError(t, json.Unmarshal(sc.Bytes(), &s), sc.Text())
		byID[s.SpanContext.SpanID] = s
		all = append(all, s)
	}
	var sends, processes, chained, applies int
	for _, s := range all {
		switch {
		case s.Name == "apply exec": // the portfolio projection's
			applies++
			parent, ok := byID[s.Parent.SpanID]
			require.True(t, ok, "%s has no parent span", s.Name)
			require.Equal(t, "send exec", parent.Name)
		case strings.HasPrefix(s.Name, "send "):
			sends++
			if parent, ok := byID[s.Parent.SpanID]; ok && (strings.HasPrefix(parent.Name, "process ") || parent.Name == "apply exec") {
				chained++ // published by a handler or the projection
			}
		case strings.HasPrefix(s.Name, "process "):
			processes++
			parent, ok := byID[s.Parent.SpanID]
			require.True(t, ok, "%s has no parent span", s.Name)
			require.Equal(t, "send "+strings.TrimPrefix(s.Name, "process "), parent.Name)
			require.Equal(t, parent.SpanContext.TraceID, s.SpanContext.TraceID)
		}
	}
	require.Equal(t, int(sum.Bus.Published+2*calls), sends, "a producer span per published event")
	var handledTotal int64
	for _, n := range want {
		handledTotal += n
	}
	require.Equal(t, int(handledTotal), processes, "a consumer span per handled event")
	require.Positive(t, chained, "events published by handlers continue the trace")
	require.EqualValues(t, sum.Portfolio.Applied, applies, "a span per fill the projection applied")
}

func TestTraceFlag(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 0, cli([]string{"-ticks", "5", "-trace", "stdout", "-metrics", "127.0.0.1:0"}, noEnv, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), `"Name":"send ticker"`)
	require.Contains(t, out.String(), `"Name":"process ticker"`)
	require.Contains(t, errOut.String(), "metrics: http://127.0.0.1:")
	require.Equal(t, 2, cli([]string{"-trace", "jaeger"}, noEnv, &out, &errOut))
}
