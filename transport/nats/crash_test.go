package nats_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/nats"
)

// envCrashChild, when set (to a transport URL), turns the test binary into
// the consumer process of TestCrashKeepsKeyOrder: TestMain runs
// crashChild instead of the tests.
const envCrashChild = "TRADEBUS_NATS_CRASH_CHILD"

// crashChild consumes "trade.#" for group "crash" from the transport at
// $TRADEBUS_NATS_CRASH_CHILD and, for every message it handles, writes
// "<partition key> <payload>\n" to file descriptor 3 before acking it (one
// write per line: a line the parent reads was applied). It runs until it
// is killed.
func crashChild() int {
	out := os.NewFile(3, "applied")
	ctx := context.Background()
	tr, err := transport.Open(ctx, os.Getenv(envCrashChild))
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 2
	}
	sub, err := tr.Subscriber("crash")
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 2
	}
	ch, err := sub.Subscribe(ctx, "trade.#")
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 2
	}
	for m := range ch {
		line := m.Metadata.Get(events.MetaPartitionKey) + " " + string(m.Payload) + "\n"
		if _, err := out.WriteString(line); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			return 2
		}
		m.Ack()
	}
	return 1
}

// crashProc is one consumer process of TestCrashKeepsKeyOrder.
type crashProc struct {
	cmd    *exec.Cmd
	lines  chan string // closed when the process is gone
	stderr bytes.Buffer
	once   sync.Once
}

func startCrashProc(t *testing.T, u string) *crashProc {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &crashProc{lines: make(chan string, 1024)}
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = append(os.Environ(), envCrashChild+"="+u)
	p.cmd.ExtraFiles = []*os.File{w}
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	go func() {
		defer close(p.lines)
		defer r.Close()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

// kill SIGKILLs the process and waits for it and for the end of its lines
// (those it wrote before it died are still in the channel).
func (p *crashProc) kill() {
	p.once.Do(func() {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	})
}

// TestCrashKeepsKeyOrder publishes 5,120 events over 16 partition keys,
// then consumes them with a consumer process that is SIGKILLed twice —
// each time once it reported 1,200 events handled, with messages pulled
// and not acked (at least once) — and started again (the default 30 s
// AckWait: the test does not wait it out). It checks that no event is lost
// and that, per key, no event is handled before every earlier one of its
// key was handled (handling an event again is allowed: at-least-once).
func TestCrashKeepsKeyOrder(t *testing.T) {
	nc := connect(t)
	prefix := uniquePrefix(t, nc)
	tr := newTransport(t, nc, nats.WithPrefix(prefix))
	u, err := url.Parse(os.Getenv(envNATSURL))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("prefix", prefix)
	q.Set("start", "oldest")
	u.RawQuery = q.Encode()

	const keys, perKey, killAfter = 16, 320, 1200
	var batch []*message.Message
	for i := range keys * perKey {
		m := message.NewMessage(fmt.Sprintf("crash-%d", i), []byte(strconv.Itoa(i/keys)))
		m.Metadata.Set(events.MetaPartitionKey, fmt.Sprintf("S%02d", i%keys))
		batch = append(batch, m)
		if len(batch) == 256 || i == keys*perKey-1 {
			if err := tr.Publisher().Publish("trade.crash", batch...); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}

	next := make(map[string]int)          // per key: every event below was handled
	seen := make(map[string]map[int]bool) // per key: handled events
	handled, dups, violations := 0, 0, 0
	apply := func(line string) error {
		k, v, ok := strings.Cut(line, " ")
		seq, err := strconv.Atoi(v)
		if !ok || err != nil || seq < 0 || seq >= perKey {
			return fmt.Errorf("bad line %q", line)
		}
		handled++
		if seen[k] == nil {
			seen[k] = make(map[int]bool)
		}
		switch {
		case seen[k][seq]:
			dups++
			return nil
		case seq > next[k]:
			violations++
			if violations <= 5 {
				t.Errorf("key %s: event %d handled before event %d", k, seq, next[k])
			}
		}
		seen[k][seq] = true
		for seen[k][next[k]] {
			next[k]++
		}
		return nil
	}

	js, _ := jetstream.New(nc)
	var cons jetstream.Consumer
	var unacked []int // at each kill
	deadline := time.After(2 * time.Minute)
	for run := 0; run < 3; run++ {
		p := startCrashProc(t, u.String())
		n := 0
	read:
		for {
			select {
			case line, ok := <-p.lines:
				if !ok {
					p.kill()
					t.Fatalf("consumer %d exited: %v\n%s", run+1, p.cmd.ProcessState, p.stderr.String())
				}
				if err := apply(line); err != nil {
					t.Fatal(err)
				}
				n++
				if violations > 0 {
					p.kill()
					t.FailNow()
				}
				if run < 2 && n == killAfter {
					break read
				}
				if run == 2 && complete(next, keys, perKey) {
					break read
				}
			case <-deadline:
				p.kill()
				t.Fatalf("consumer %d: %d handled, %d keys incomplete; stderr:\n%s",
					run+1, handled, keys-completeKeys(next, perKey), p.stderr.String())
			}
		}
		p.kill()
		if cons == nil {
			cons = consumerOf(t, js, drv(tr).Stream("trade"))
		}
		for line := range p.lines { // written before it died
			if err := apply(line); err != nil {
				t.Fatal(err)
			}
		}
		if violations > 0 {
			t.FailNow()
		}
		if run < 2 {
			info, err := cons.Info(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			unacked = append(unacked, info.NumAckPending)
		}
	}
	// A kill lands at a random point of the consumer's work: now and then
	// between two pull requests, with everything acked.
	if unacked[0] == 0 && unacked[1] == 0 {
		t.Fatal("no kill left an unacked message: nothing was taken over")
	}
	t.Logf("%d events handled %d times (%d again after a kill); unacked at the kills: %v",
		keys*perKey, handled, dups, unacked)
}

func completeKeys(next map[string]int, perKey int) int {
	n := 0
	for _, v := range next {
		if v == perKey {
			n++
		}
	}
	return n
}

func complete(next map[string]int, keys, perKey int) bool {
	return completeKeys(next, perKey) == keys
}
