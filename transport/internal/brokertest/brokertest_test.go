package brokertest_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/goleak"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/internal/brokertest"
	"github.com/tradebus/tradebus/transport/mem"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newMem(t testing.TB) *transport.Portable {
	t.Helper()
	tr, err := mem.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close(context.Background()) })
	return tr
}

func TestURL(t *testing.T) {
	const env = "TRADEBUS_BROKERTEST_URL"
	t.Setenv(env, "")
	var skipped bool
	t.Run("unset", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		brokertest.URL(t, env)
		t.Error("URL did not skip with the variable unset")
	})
	if !skipped {
		t.Error("subtest not skipped")
	}
	t.Setenv(env, "nats://127.0.0.1:4222")
	if got := brokertest.URL(t, env); got != "nats://127.0.0.1:4222" {
		t.Errorf("URL %q", got)
	}
}

func TestRandomSuffix(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s := brokertest.RandomSuffix()
		if len(s) != 12 || strings.Trim(s, "0123456789abcdef") != "" {
			t.Fatalf("suffix %q, want 12 hex digits", s)
		}
		if seen[s] {
			t.Fatalf("suffix %q repeated", s)
		}
		seen[s] = true
	}
}

func TestPublishSubscribeRecv(t *testing.T) {
	tr := newMem(t)
	ch := brokertest.Subscribe(t, tr, "g", "trade.#")
	sent := brokertest.Publish(t, tr, "trade.binance.BTCUSDT", "a", "b")
	if len(sent) != 2 {
		t.Fatalf("sent %d messages", len(sent))
	}
	for i, want := range []string{"a", "b"} {
		m := brokertest.Recv(t, ch, 5*time.Second)
		if string(m.Payload) != want || m.UUID != sent[i].UUID || !strings.HasPrefix(m.UUID, want+"-") {
			t.Errorf("message %d: %s %q, want %s %q", i, m.UUID, m.Payload, sent[i].UUID, want)
		}
		if pk := m.Metadata.Get(events.MetaPartitionKey); pk != "BTCUSDT" {
			t.Errorf("partition key %q", pk)
		}
		m.Ack()
	}
}

// fatalTB records Fatal calls and ends the goroutine like testing.T does.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatal(args ...any) { f.fail(fmt.Sprint(args...)) }

func (f *fatalTB) Fatalf(format string, args ...any) { f.fail(fmt.Sprintf(format, args...)) }

func (f *fatalTB) fail(msg string) {
	f.mu.Lock()
	f.msg = msg
	f.mu.Unlock()
	runtime.Goexit()
}

func runFatal(tb testing.TB, fn func(testing.TB)) string {
	f := &fatalTB{TB: tb}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg
}

func TestRecvFails(t *testing.T) {
	closed := make(chan *message.Message)
	close(closed)
	if msg := runFatal(t, func(tb testing.TB) { brokertest.Recv(tb, closed, time.Second) }); msg != "channel closed" {
		t.Errorf("closed channel: %q", msg)
	}
	idle := make(chan *message.Message)
	msg := runFatal(t, func(tb testing.TB) { brokertest.Recv(tb, idle, 10*time.Millisecond) })
	if msg != "no message within 10ms" {
		t.Errorf("idle channel: %q", msg)
	}
}

func TestPublishFails(t *testing.T) {
	tr := newMem(t)
	msg := runFatal(t, func(tb testing.TB) { brokertest.Publish(tb, tr, "not a key", "a") })
	if !strings.HasPrefix(msg, "publish not a key: ") {
		t.Errorf("invalid key: %q", msg)
	}
}

func BenchmarkPublishHandleMem(b *testing.B) {
	brokertest.BenchPublishHandle(b, newMem(b), 0)
}

func TestCloseAtCleanup(t *testing.T) {
	tr, err := mem.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("sub", func(t *testing.T) {
		brokertest.CloseAtCleanup(t, tr)
		if _, err := tr.Subscriber("g"); err != nil {
			t.Fatalf("before cleanup: %v", err)
		}
	})
	if _, err := tr.Subscriber("g"); !errors.Is(err, mem.ErrClosed) {
		t.Errorf("after cleanup: %v, want %v", err, mem.ErrClosed)
	}
}
