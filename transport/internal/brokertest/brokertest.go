// Package brokertest holds test helpers shared by the drivers' integration
// tests and benchmarks: the broker URL from the environment, unique name
// suffixes, and subscribing, publishing and receiving with test failures
// instead of returned errors. Only tests import it.
//
// # Concurrency
//
// The helpers are safe for concurrent use; like testing.TB's Fatal, those
// that fail the test must run on the test's goroutine.
package brokertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
)

// Transport is what the helpers need of a driver's Transport.
type Transport interface {
	Publisher() message.Publisher
	Subscriber(group string) (message.Subscriber, error)
}

// CloseAtCleanup closes tr when the test ends, failing it when Close
// (given 15s) returns an error.
func CloseAtCleanup(t testing.TB, tr interface{ Close(context.Context) error }) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := tr.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
}

// CheckStart checks a driver's WithStart: trNew and trOldest share their
// names, trOldest creates consumer groups at the oldest message, trNew at
// new ones. A group of trOldest created after a publish receives that
// message first; one of trNew receives only what comes after it.
func CheckStart(t testing.TB, trNew, trOldest Transport) {
	t.Helper()
	old := Publish(t, trNew, "ticker.binance.BTCUSDT", "old")
	chOld := Subscribe(t, trOldest, "replay", "ticker.#")
	chNew := Subscribe(t, trNew, "live", "ticker.#")
	fresh := Publish(t, trNew, "ticker.binance.BTCUSDT", "new")
	if m := Recv(t, chOld, 10*time.Second); m.UUID != old[0].UUID {
		t.Errorf("StartOldest group got %s first, want the old %s", m.UUID, old[0].UUID)
	} else {
		m.Ack()
	}
	if m := Recv(t, chNew, 10*time.Second); m.UUID != fresh[0].UUID {
		t.Errorf("StartNew group got %s, want only the new %s", m.UUID, fresh[0].UUID)
	} else {
		m.Ack()
	}
}

// URL returns the value of environment variable env (a broker address),
// or skips the test when it is unset.
func URL(t testing.TB, env string) string {
	t.Helper()
	u := os.Getenv(env)
	if u == "" {
		t.Skip("set " + env + " to run")
	}
	return u
}

// RandomSuffix returns 12 random hex digits, for names unique to a test.
func RandomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Subscribe subscribes group to pattern on tr; the subscriber is closed at
// cleanup.
func Subscribe(t testing.TB, tr Transport, group, pattern string) <-chan *message.Message {
	t.Helper()
	sub, err := tr.Subscriber(group)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		_ = sub.Close()
	})
	ch, err := sub.Subscribe(ctx, pattern)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// Publish publishes one message per payload under routing key key, all
// with partition key "BTCUSDT" and a unique UUID starting with the
// payload, and returns them.
func Publish(t testing.TB, tr Transport, key string, payloads ...string) []*message.Message {
	t.Helper()
	var msgs []*message.Message
	for _, p := range payloads {
		m := message.NewMessage(p+"-"+RandomSuffix(), []byte(p))
		m.Metadata.Set(events.MetaPartitionKey, "BTCUSDT")
		msgs = append(msgs, m)
	}
	if err := tr.Publisher().Publish(key, msgs...); err != nil {
		t.Fatalf("publish %s: %v", key, err)
	}
	return msgs
}

// Recv returns the next message of ch, failing the test when none comes
// within timeout or ch is closed.
func Recv(t testing.TB, ch <-chan *message.Message, timeout time.Duration) *message.Message {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return m
	case <-time.After(timeout):
		t.Fatalf("no message within %s", timeout)
		return nil
	}
}

// BenchPublishHandle measures publish-to-handled throughput on tr: b.N
// events over 64 symbols (partition keys), published in batches of 100
// (one Publish per batch: the publisher API takes one routing key),
// handled the way Watermill's router does (a goroutine per message) with a
// handler that takes work. It reports events/s.
func BenchPublishHandle(b *testing.B, tr Transport, work time.Duration) {
	sub, err := tr.Subscriber("bench")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := sub.Subscribe(ctx, "trade.#")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		handled := 0
		for msg := range ch {
			go func() {
				if work > 0 {
					time.Sleep(work)
				}
				msg.Ack()
			}()
			handled++
			if handled == b.N {
				close(done)
			}
		}
	}()
	const batch = 100
	syms := make([]string, 64)
	for i := range syms {
		syms[i] = fmt.Sprintf("SYM%d", i)
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; {
		n := min(batch, b.N-i)
		sym := syms[(i/batch)%len(syms)]
		msgs := make([]*message.Message, n)
		for j := range msgs {
			msgs[j] = message.NewMessage(fmt.Sprint(i+j), []byte(`{"price":"1"}`))
			msgs[j].Metadata.Set(events.MetaPartitionKey, syms[(i+j)%len(syms)])
		}
		if err := tr.Publisher().Publish(events.Key("trade", "binance", sym), msgs...); err != nil {
			b.Fatal(err)
		}
		i += n
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatal("not all events handled")
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	cancel()
	_ = sub.Close()
}

// Server is a broker process of a test's own (a shared broker must not be
// restarted under other tests), listening on a port that stays the same
// across restarts.
type Server struct {
	t     testing.TB
	bin   string
	args  []string
	ready func() error

	// Port is the port the server listens on.
	Port int

	mu  sync.Mutex
	cmd *exec.Cmd
}

// StartServer starts the program bin found in PATH (skipping t if it is
// not there) with the arguments args returns for a free port, and waits
// until ready answers nil (polled for up to 10s). The server is killed at
// t's cleanup.
func StartServer(t testing.TB, bin string, args func(port int) []string, ready func(port int) error) *Server {
	t.Helper()
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Skipf("%s not in PATH: cannot start a private server", bin)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &Server{t: t, bin: path, args: args(port), ready: func() error { return ready(port) }, Port: port}
	s.Start()
	t.Cleanup(s.Kill)
	return s
}

// Start starts the server again (after Kill), with the same arguments,
// and waits until it is ready.
func (s *Server) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cmd = exec.Command(s.bin, s.args...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", s.bin, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.ready()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("private %s did not come up: %v", s.bin, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill kills the server (SIGKILL: no clean shutdown) and waits for it to
// exit. It does nothing if the server is not running.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// SendPipelined sends n batches of one message each (payloads "0" to
// n-1, partition key pk) to key through topic, which must pipeline
// (driver.PipelinedTopic): every batch is handed over before any confirm
// is awaited, then every confirm is awaited.
func SendPipelined(ctx context.Context, t testing.TB, topic driver.Topic, key, pk string, n int) {
	t.Helper()
	pt, ok := topic.(driver.PipelinedTopic)
	if !ok {
		t.Fatalf("the topic %T does not pipeline", topic)
	}
	waits := make([]func() error, 0, n)
	for i := range n {
		s := strconv.Itoa(i)
		w, err := pt.SendPipelined(ctx, []*driver.Message{{
			UUID: "m" + s, Key: key, PartitionKey: pk,
			Metadata: map[string]string{events.MetaRoutingKey: key, events.MetaPartitionKey: pk},
			Payload:  []byte(s),
		}})
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		waits = append(waits, w)
	}
	for i, w := range waits {
		if err := w(); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
}

// InCallOrder checks that got holds the payloads SendPipelined sent, in
// its call order, and returns their ack ids.
func InCallOrder(t testing.TB, got []*driver.Message) []driver.AckID {
	t.Helper()
	ids := make([]driver.AckID, 0, len(got))
	for i, m := range got {
		if string(m.Payload) != strconv.Itoa(i) {
			t.Fatalf("message %d is %q: stored out of call order", i, m.Payload)
		}
		ids = append(ids, m.AckID)
	}
	return ids
}
