package kafka_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/kafka"
	"github.com/tradebus/tradebus/transport/kafka/kafkatest"
)

// TestConnectionCuts publishes 10,000 events from 16 goroutines (one symbol
// each, so each symbol has a defined order) while every client connection
// to the broker is cut after each 1,000 acknowledged events: every event
// arrives, each symbol in order, and nothing hangs.
func TestConnectionCuts(t *testing.T) {
	cluster := kafkatest.NewCluster(t)
	tr := newTransport(t, cluster.Brokers(), kafka.WithPartitions(8))
	kind := randomName("k")
	const publishers, perPublisher = 16, 625 // 10,000 events
	const cutEvery = 1000

	var (
		mu       sync.Mutex
		seen     = map[string]bool{}
		lastSeq  = map[string]int{}
		outOfSeq int
		dups     atomic.Int64
	)
	ch, _ := subscribe(t, tr, randomName("g"), kind+".#")
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for msg := range ch {
			key := msg.Metadata.Get(events.MetaPartitionKey)
			seq, _ := strconv.Atoi(string(msg.Payload))
			mu.Lock()
			if seen[msg.UUID] {
				dups.Add(1)
			} else {
				seen[msg.UUID] = true
				if prev, ok := lastSeq[key]; (ok && seq != prev+1) || (!ok && seq != 0) {
					outOfSeq++
				}
				lastSeq[key] = seq
			}
			mu.Unlock()
			msg.Ack()
		}
	}()

	var (
		wg        sync.WaitGroup
		published atomic.Int64
		retries   atomic.Int64
	)
	// Cut every connection (producer's and consumer's) each time another
	// 1,000 events are acknowledged.
	stopCuts := make(chan struct{})
	var cuts, cutConns atomic.Int64
	var cutWG sync.WaitGroup
	cutWG.Go(func() {
		next := int64(cutEvery)
		for {
			select {
			case <-stopCuts:
				return
			case <-time.After(time.Millisecond):
			}
			if published.Load() >= next {
				next += cutEvery
				cuts.Add(1)
				cutConns.Add(int64(cluster.CutConnections()))
			}
		}
	})

	start := time.Now()
	for p := range publishers {
		wg.Go(func() {
			sym := "SYM" + strconv.Itoa(p)
			key := events.Key(kind, "venue", sym)
			for seq := range perPublisher {
				msg := newMsg(sym, strconv.Itoa(seq))
				for attempt := 0; ; attempt++ {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					msg.SetContext(ctx)
					err := tr.Publisher().Publish(key, msg)
					cancel()
					if err == nil {
						break
					}
					retries.Add(1)
					if attempt == 5 {
						t.Errorf("Publish %s/%d failed 6 times, last: %v", sym, seq, err)
						return
					}
					msg = msg.Copy()
				}
				published.Add(1)
			}
		})
	}
	wg.Wait()
	close(stopCuts)
	cutWG.Wait()
	pubTime := time.Since(start)

	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n == publishers*perPublisher {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events arrived within 60s of the last publish", n, publishers*perPublisher)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("published %d in %s with %d cuts (%d connections cut), %d publish retries, %d duplicate deliveries",
		published.Load(), pubTime.Round(time.Millisecond), cuts.Load(), cutConns.Load(), retries.Load(), dups.Load())
	if cuts.Load() < 9 || cutConns.Load() < 9 {
		t.Errorf("%d cuts of %d connections: the test proved little", cuts.Load(), cutConns.Load())
	}
	mu.Lock()
	if outOfSeq > 0 && retries.Load() == 0 {
		t.Errorf("%d events arrived out of their symbol's order", outOfSeq)
	}
	mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tr.Close(ctx); err != nil {
		t.Fatalf("Close after the cuts: %v", err)
	}
	select {
	case <-consumed:
	case <-time.After(30 * time.Second):
		t.Fatal("subscription channel not closed after Close")
	}
}
