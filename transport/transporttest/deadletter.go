package transporttest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/transport"
)

var errRejected = errors.New("transporttest: rejected by risk")

var discard = slog.New(slog.DiscardHandler)

// testReplayToFailingGroup: groups risk and portfolio both subscribe to
// one routing key; risk dead-letters an event (the poison middleware on
// its delivery); middleware.Replay republishes it, and only risk handles
// it again — portfolio, which had handled it, does not see it a second
// time. A sentinel of the same partition key, published after the replay,
// reaches portfolio only after the replayed event would have.
func testReplayToFailingGroup(e *env) {
	e.portable()
	key := events.Key(e.kind, "binance", "BTCUSDT")
	dlTopic := events.Key(e.kind+"dl", "risk")
	dlq, err := e.tr.Subscriber("dlq")
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = dlq.Close() })
	poison, err := middleware.NewPoison(e.tr.Publisher(), middleware.WithConsumerGroup("risk"),
		middleware.WithPoisonTopic(dlTopic), middleware.WithPoisonKept(dlq), middleware.WithLogger(discard))
	if err != nil {
		e.t.Fatal(err)
	}
	risk, portfolio := newRecord(), newRecord()
	e.consume(e.subscribe("risk", key), func(msg *message.Message, _ <-chan struct{}) {
		risk.add(msg)
		h := func(*message.Message) ([]*message.Message, error) {
			if string(msg.Payload) == "bad" && risk.count(msg.UUID) == 1 {
				return nil, middleware.Permanent(errRejected)
			}
			return nil, nil
		}
		if _, err := poison.Middleware(h)(msg); err != nil {
			msg.Nack()
			return
		}
		msg.Ack()
	})
	e.consume(e.subscribe("portfolio", key), func(msg *message.Message, _ <-chan struct{}) {
		portfolio.add(msg)
		msg.Ack()
	})

	bad := newMessage("BTCUSDT", "bad")
	e.publish(key, bad)
	e.waitFor("the dead letter, and portfolio's delivery", func() bool {
		return poison.Published() == 1 && portfolio.count(bad.UUID) == 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), e.caps.Timeout)
	defer cancel()
	st, err := middleware.Replay(ctx, dlq, e.tr.Publisher(), middleware.WithPoisonTopic(dlTopic),
		middleware.WithReplayLimit(1), middleware.WithReplayIdle(e.caps.Timeout), middleware.WithLogger(discard))
	if err != nil || st.Replayed != 1 {
		e.t.Fatalf("Replay: %+v, %v", st, err)
	}
	e.waitFor("risk to handle the replayed event", func() bool { return risk.count(bad.UUID) == 2 })

	sentinel := newMessage("BTCUSDT", "sentinel")
	e.publish(key, sentinel)
	e.waitFor("the sentinel in both groups", func() bool {
		return portfolio.count(sentinel.UUID) == 1 && risk.count(sentinel.UUID) == 1
	})
	if n := portfolio.count(bad.UUID); n != 1 {
		e.t.Errorf("portfolio handled the dead-lettered event %d times, want 1: the replay reached it", n)
	}
	if n := risk.count(bad.UUID); n != 2 {
		e.t.Errorf("risk handled the event %d times, want 2 (failed, replayed)", n)
	}
	if n := poison.Published(); n != 1 {
		e.t.Errorf("%d dead letters, want 1", n)
	}
	for _, m := range risk.snapshot() {
		if m.UUID == bad.UUID && m.Metadata.Get(middleware.MetaReplayCount) == "1" && m.Metadata.Get(transport.MetaReplayGroup) != "risk" {
			e.t.Errorf("replayed delivery addressed to %q, want risk", m.Metadata.Get(transport.MetaReplayGroup))
		}
	}
}

// testListDeadLetters: listing a poison queue (middleware.ListPoisoned on
// transport.Browse) reads without consuming: N dead letters are listed,
// listing again lists the same N, and after replaying some, the rest.
// Messages of another group's poison topic (same kind) are not listed; a
// message without poison metadata is listed with an empty class.
func testListDeadLetters(e *env) {
	e.portable()
	const n = 5
	dlTopic := events.Key(e.kind+"dl", "risk")
	dlq, err := e.tr.Subscriber("dlq")
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = dlq.Close() })
	poison, err := middleware.NewPoison(e.tr.Publisher(), middleware.WithPoisonTopic(dlTopic),
		middleware.WithPoisonKept(dlq), middleware.WithLogger(discard))
	if err != nil {
		e.t.Fatal(err)
	}
	other, err := middleware.NewPoison(e.tr.Publisher(), middleware.WithPoisonTopic(events.Key(e.kind+"dl", "other")),
		middleware.WithLogger(discard))
	if err != nil {
		e.t.Fatal(err)
	}
	fail := func(*message.Message) ([]*message.Message, error) { return nil, middleware.Permanent(errRejected) }
	var ids []string
	for i := range n + 1 {
		msg := newMessage("S"+strconv.Itoa(i), strconv.Itoa(i))
		msg.Metadata.Set(events.MetaRoutingKey, events.Key(e.kind, "binance", "S"+strconv.Itoa(i)))
		p := poison
		if i == n {
			p = other
		} else {
			ids = append(ids, msg.UUID)
		}
		if _, err := p.Middleware(fail)(msg); err != nil {
			e.t.Fatal(err)
		}
	}
	stray := newMessage("stray", "not a dead letter")
	e.publish(dlTopic, stray)

	// Each step gets the suite's whole Timeout: a message the broker handed
	// to a subscription as it stopped may come back only after its ack
	// wait, and one deadline for every step left the last ones less.
	list := func() (dead []string, strays int) {
		e.t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), e.caps.Timeout)
		defer cancel()
		err := middleware.ListPoisoned(ctx, e.tr, "dlq", func(p middleware.Poisoned) bool {
			if p.Class == "" {
				strays++
			} else {
				dead = append(dead, p.EventID)
			}
			return true
		}, middleware.WithPoisonTopic(dlTopic))
		if err != nil {
			e.t.Fatalf("ListPoisoned: %v", err)
		}
		slices.Sort(dead)
		return dead, strays
	}
	want := slices.Sorted(slices.Values(ids))
	for i := range 3 {
		got, strays := list()
		if !slices.Equal(got, want) || strays != 1 {
			e.t.Fatalf("list %d: %d dead letters %v and %d strays, want %d %v and 1", i+1, len(got), got, strays, n, want)
		}
	}

	// Replay two: the listing then shows the other three (and the stray,
	// put back). Acks may reach the broker after Replay returned (NATS
	// acks are asynchronous), hence the wait.
	replay := map[string]bool{ids[1]: true, ids[3]: true}
	ctx, cancel := context.WithTimeout(context.Background(), e.caps.Timeout)
	defer cancel()
	st, err := middleware.Replay(ctx, dlq, e.tr.Publisher(), middleware.WithPoisonTopic(dlTopic),
		middleware.WithReplayLimit(2), middleware.WithReplayIdle(e.caps.Timeout), middleware.WithLogger(discard),
		middleware.WithReplayFilter(func(p middleware.Poisoned) bool { return replay[p.EventID] }))
	if err != nil || st.Replayed != 2 {
		e.t.Fatalf("Replay: %+v, %v", st, err)
	}
	var rest []string
	for _, id := range want {
		if !replay[id] {
			rest = append(rest, id)
		}
	}
	var lastGot []string
	lastStrays := 0
	e.waitForOr("the listing after the replay", func() bool {
		lastGot, lastStrays = list()
		return slices.Equal(lastGot, rest) && lastStrays == 1
	}, func() string {
		return fmt.Sprintf("last listing: %v and %d strays, want %v and 1", lastGot, lastStrays, rest)
	})
	if again, s := list(); !slices.Equal(again, rest) || s != 1 {
		e.t.Errorf("listing again after the replay: %v and %d strays, want %v and 1", again, s, rest)
	}
}
