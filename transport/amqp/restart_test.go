package amqp_test

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/tradebus/tradebus/transport"
)

// TestRestart publishes 10,000 events with confirms while RabbitMQ is
// stopped and started twice (rabbitmqctl stop_app / start_app) and checks
// that every event arrives; duplicates (from confirms lost in the restart)
// are counted and allowed. It disturbs every other user of the broker, so
// it only runs with TRADEBUS_TEST_AMQP_RESTART=1 (a serial CI step).
func TestRestart(t *testing.T) {
	if os.Getenv("TRADEBUS_TEST_AMQP_RESTART") != "1" {
		t.Skip("set TRADEBUS_TEST_AMQP_RESTART=1 to stop and start the shared RabbitMQ")
	}
	e := newEnv(t)
	ctl, err := exec.LookPath("rabbitmqctl")
	if err != nil {
		t.Fatal("rabbitmqctl not found: ", err)
	}
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
	// Whatever happens, leave the broker running (before the cleanup that
	// deletes the test's queues, which runs later).
	t.Cleanup(func() { rabbitmqctl("start_app") })

	tr := e.transport(t, transport.WithConcurrency(32))
	ch := subscribe(t, tr, "restart", "cut.#")
	const n = 10_000
	c := newCounter(n)
	done := consumeAll(ch, c)

	restartAt := map[int]bool{n / 3: true, 2 * n / 3: true}
	var (
		restarts sync.WaitGroup
		serial   sync.Mutex
	)
	start := time.Now()
	ids, failures := publishAll(t, tr.Publisher(), n, 32, func(confirmed int) {
		if restartAt[confirmed] {
			restarts.Go(func() {
				serial.Lock()
				defer serial.Unlock()
				t.Logf("restarting RabbitMQ after %d confirmed publishes", confirmed)
				rabbitmqctl("stop_app")
				rabbitmqctl("start_app")
			})
		}
	})
	published := time.Since(start)
	restarts.Wait()
	select {
	case <-c.all:
	case <-time.After(2 * time.Minute):
		distinct, _, _ := c.stats()
		t.Fatalf("received %d of %d distinct events", distinct, n)
	}
	for _, id := range ids {
		c.mu.Lock()
		ok := c.seen[id] > 0
		c.mu.Unlock()
		if !ok {
			t.Fatalf("event %s lost", id)
		}
	}
	distinct, dups, total := c.stats()
	t.Logf("%d events published in %s, %d distinct received, %d duplicates, %d deliveries, %d failed publish attempts",
		n, published.Round(time.Millisecond), distinct, dups, total, failures)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Close(ctx); err != nil {
		t.Fatal(err)
	}
	done.Wait()
}
