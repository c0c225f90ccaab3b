package main

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tradebus/tradebus/internal/tcpproxy"
)

// The example rides out broker outages: its publisher sends again, with
// the same event ids, what the broker did not confirm
// (publisher.WithRetry), the transport reconnects and redelivers, dedup
// skips what was handled already, and the services compute the same
// whatever order redelivered events arrive in. So a run with outages ends
// with the same trading result as one without.

// runWithOutages runs the example on RabbitMQ at rawURL (through via, if
// not empty) and calls outage twice, when a third and two thirds of the
// events are done (from inside the handler that got there, so that the
// outage happens mid-run). It returns the mem run and the outage run.
func runWithOutages(t *testing.T, rawURL, ns, via string, outage func(done int64)) (want, got *Summary) {
	t.Helper()
	cfg := defaultConfig()
	cfg.Ticks = 150
	want = run(t, cfg)

	at := map[int64]bool{want.Bus.Published / 3: true, 2 * want.Bus.Published / 3: true}
	var (
		serial  sync.Mutex
		outages atomic.Int32
	)
	c := cfg
	c.URL, c.Namespace = rawURL, ns
	if via != "" {
		c.URL = via
	}
	c.Progress = func(done int64) {
		if !at[done] {
			return
		}
		serial.Lock()
		defer serial.Unlock()
		outage(done)
		outages.Add(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	got, err := Run(ctx, c)
	require.NoError(t, err)
	require.EqualValues(t, 2, outages.Load(), "both outages happened during the run")
	t.Logf("%d events published, %d sent again by the publisher, %d duplicate deliveries skipped, %d retries",
		got.Bus.Published, got.Bus.Resent, got.Bus.Duplicates, got.Bus.Retries)
	return want, got
}

// TestSurvivesConnectionCuts cuts every connection to RabbitMQ twice
// mid-run (through an in-process proxy, so that other users of the broker
// are not disturbed) and keeps it refusing until the client has tried to
// reconnect.
func TestSurvivesConnectionCuts(t *testing.T) {
	raw, ns := brokerURL(t, "amqp")
	p, u := tcpproxy.ForURL(t, raw, "5672", nil)
	via := u.String()
	want, got := runWithOutages(t, raw, ns, via, func(done int64) {
		t.Logf("cutting the connections after %d events", done)
		refused := p.Cut()
		// Explicit signal, no sleep: the client noticed and tried again.
		select {
		case <-refused:
		case <-time.After(2 * time.Minute):
			t.Error("the client did not try to reconnect")
		}
		p.Restore()
	})
	requireSameTrading(t, want, got)
}

// TestSurvivesRabbitMQRestarts stops and starts RabbitMQ itself twice
// mid-run (rabbitmqctl stop_app / start_app). It disturbs every other user
// of the broker, so it only runs with TRADEBUS_TEST_AMQP_RESTART=1 (a
// serial CI step, like transport/amqp's TestRestart).
func TestSurvivesRabbitMQRestarts(t *testing.T) {
	if os.Getenv("TRADEBUS_TEST_AMQP_RESTART") != "1" {
		t.Skip("set TRADEBUS_TEST_AMQP_RESTART=1 to stop and start the shared RabbitMQ")
	}
	raw, ns := brokerURL(t, "amqp")
	ctl, err := exec.LookPath("rabbitmqctl")
	require.NoError(t, err, "rabbitmqctl not found")
	rabbitmqctl := func(args ...string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		start := time.Now()
		out, err := exec.CommandContext(ctx, ctl, args...).CombinedOutput()
		if err != nil {
			t.Errorf("rabbitmqctl %v: %v\n%s", args, err, out)
		}
		t.Logf("rabbitmqctl %v took %s", args, time.Since(start).Round(time.Millisecond))
	}
	// Whatever happens, leave the broker running (this runs before the
	// cleanup that deletes the run's queues, registered earlier).
	t.Cleanup(func() { rabbitmqctl("start_app") })
	want, got := runWithOutages(t, raw, ns, "", func(done int64) {
		t.Logf("restarting RabbitMQ after %d events", done)
		rabbitmqctl("stop_app")
		rabbitmqctl("start_app")
	})
	requireSameTrading(t, want, got)
}
