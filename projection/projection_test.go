package projection_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/projection"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/mem"
)

// historyEvents is how many events the rebuild tests publish (the issue's
// 50,000).
const historyEvents = 50_000

// TestRebuild is the proof per transport: a projection following live
// while 50,000 events are published, one rebuilt from scratch afterwards
// (caught up exactly when it has applied all 50,000) and one resumed from
// the live one's last snapshot after more were published reach the same
// state, which is the state of the sequence: no event applied twice or
// skipped. Then the crash test: the same history folded by a process
// killed with SIGKILL at random points.
func TestRebuild(t *testing.T) {
	for _, tc := range historyTransports {
		t.Run(tc.name, func(t *testing.T) {
			url := brokerURL(t, tc.name, tc.env)
			tr := open(t, url)
			n := historyEvents

			store := &projection.MemStore{}
			live, err := projection.New(tr, config(store))
			require.NoError(t, err)
			cancelLive, liveErr := run(t, live)
			waitCaughtUp(t, live, liveErr) // an empty history is caught up at once

			publish(t, tr, 0, n)
			waitApplied(t, live, n, liveErr)
			w := want(t, n)
			require.Empty(t, view(live).Wrong)
			requireTally(t, w, view(live), "live state is the sequence's")

			rebuilt, err := projection.New(tr, config(&projection.MemStore{}))
			require.NoError(t, err)
			cancelRebuilt, rebuiltErr := run(t, rebuilt)
			waitCaughtUp(t, rebuilt, rebuiltErr)
			require.EqualValues(t, n, rebuilt.Applied(), "caught up means the whole history applied")
			requireTally(t, view(live), view(rebuilt), "rebuilt from scratch = built live")
			stop(t, cancelRebuilt, rebuiltErr)

			stop(t, cancelLive, liveErr)
			require.Positive(t, store.Saves())
			publish(t, tr, n, n+1000)
			var applied atomic.Int64
			cfg := config(store)
			cfg.Apply = func(ctx context.Context, s *tally, ev events.Trade) error {
				applied.Add(1)
				return applyTrade(ctx, s, ev)
			}
			resumed, err := projection.New(tr, cfg)
			require.NoError(t, err)
			cancelResumed, resumedErr := run(t, resumed)
			waitCaughtUp(t, resumed, resumedErr)
			require.EqualValues(t, 1000, applied.Load(), "resumed from the snapshot: only the events after it")
			requireTally(t, want(t, n+1000), view(resumed), "resumed")
			stop(t, cancelResumed, resumedErr)

			crashTest(t, url, n+1000)
		})
	}
}

// TestStateVersion: a snapshot saved with another state version is not
// used; the projection rebuilds from the beginning.
func TestStateVersion(t *testing.T) {
	tr := open(t, memURL)
	publish(t, tr, 0, 100)
	store := &projection.MemStore{}
	require.NoError(t, store.Save(context.Background(), "tally", projection.Snapshot{
		StateVersion: 0, State: []byte(`{"last":{},"count":99999}`),
		Positions: []transport.Position{{Stream: "trade", Offset: "100"}}, Applied: 99999,
	}))
	p, err := projection.New(tr, config(store))
	require.NoError(t, err)
	cancel, errc := run(t, p)
	waitCaughtUp(t, p, errc)
	requireTally(t, want(t, 100), view(p), "rebuilt")
	require.EqualValues(t, 100, p.Applied())
	stop(t, cancel, errc)
}

// TestApplyErrorStops: an event Apply refuses stops Run with an
// *ApplyError naming it, is not counted, and is applied again by the next
// run — a fold never skips an event.
func TestApplyErrorStops(t *testing.T) {
	tr := open(t, memURL)
	publish(t, tr, 0, 50)
	store := &projection.MemStore{}
	boom := errors.New("boom")
	cfg := config(store)
	cfg.SnapshotEvery = 10
	cfg.Apply = func(ctx context.Context, s *tally, ev events.Trade) error {
		if s.Count == 25 {
			return boom
		}
		return applyTrade(ctx, s, ev)
	}
	p, err := projection.New(tr, cfg)
	require.NoError(t, err)
	err = p.Run(context.Background())
	var ae *projection.ApplyError
	require.ErrorAs(t, err, &ae)
	require.ErrorIs(t, err, boom)
	require.NotEmpty(t, ae.EventUUID)
	require.False(t, ae.Position.IsZero())
	require.EqualValues(t, 25, p.Applied())
	select {
	case <-p.CaughtUp():
		t.Fatal("caught up although an event failed")
	default:
	}
	require.ErrorIs(t, p.Run(context.Background()), projection.ErrRunning)

	// The snapshot holds 20 (every 10); the next run applies 21.. again.
	p2, err := projection.New(tr, config(store))
	require.NoError(t, err)
	cancel, errc := run(t, p2)
	waitCaughtUp(t, p2, errc)
	requireTally(t, want(t, 50), view(p2), "after the failure")
	stop(t, cancel, errc)
}

// TestNotReplayable: a transport without history is refused clearly.
func TestNotReplayable(t *testing.T) {
	tr := open(t, "mem://")
	p, err := projection.New(tr, config(&projection.MemStore{}))
	require.NoError(t, err)
	require.ErrorIs(t, p.Run(context.Background()), transport.ErrNotReplayable)
}

func TestNewRejects(t *testing.T) {
	tr := open(t, memURL)
	ok := config(&projection.MemStore{})
	for name, mut := range map[string]func(*projection.Config[tally, events.Trade]){
		"no name":     func(c *projection.Config[tally, events.Trade]) { c.Name = "" },
		"bad pattern": func(c *projection.Config[tally, events.Trade]) { c.Pattern = "#.x" },
		"no apply":    func(c *projection.Config[tally, events.Trade]) { c.Apply = nil },
		"no store":    func(c *projection.Config[tally, events.Trade]) { c.Store = nil },
	} {
		c := ok
		mut(&c)
		_, err := projection.New(tr, c)
		require.ErrorIs(t, err, projection.ErrInvalidOption, name)
	}
	_, err := projection.New(nil, ok)
	require.ErrorIs(t, err, projection.ErrInvalidOption)
}

// TestDuplicateSkipped: a second copy of an event in the history (same
// id, as a publisher's resend after a lost confirm stores it) is not
// applied, also when the copy comes after a restart from a snapshot.
func TestDuplicateSkipped(t *testing.T) {
	ctx := context.Background()
	tr := open(t, memURL)
	pub, err := publisher.New(tr.Publisher())
	require.NoError(t, err)
	evs := trades(0, 3)
	var msgs []*message.Message
	for _, ev := range evs {
		m, err := pub.NewMessage(ctx, ev)
		require.NoError(t, err)
		msgs = append(msgs, m)
	}
	bp := tr.Publisher().(transport.BatchPublisher)
	require.NoError(t, bp.PublishBatch(ctx, []*message.Message{msgs[0], msgs[1], msgs[1].Copy()}))

	store := &projection.MemStore{}
	p, err := projection.New(tr, config(store))
	require.NoError(t, err)
	cancel, errc := run(t, p)
	waitCaughtUp(t, p, errc)
	require.EqualValues(t, 2, p.Applied())
	require.EqualValues(t, 1, p.Skipped())
	stop(t, cancel, errc)

	// After a restart: the copy of trade 1 again, then trade 2.
	require.NoError(t, bp.PublishBatch(ctx, []*message.Message{msgs[1].Copy(), msgs[2]}))
	p2, err := projection.New(tr, config(store))
	require.NoError(t, err)
	cancel, errc = run(t, p2)
	waitCaughtUp(t, p2, errc)
	require.EqualValues(t, 3, p2.Applied())
	require.EqualValues(t, 1, p2.Skipped(), "the snapshot remembers the ids applied before it")
	requireTally(t, want(t, 3), view(p2), "after the restart")
	stop(t, cancel, errc)
}

// flakyReader is the mem driver whose Read fails the first `fails` times
// (each after passing `after` messages), as a broker connection cut
// mid-read does.
type flakyReader struct {
	*mem.Driver
	fails, after int
	mu           sync.Mutex
}

func (f *flakyReader) Read(ctx context.Context, pattern string, start driver.Start, fn func(*driver.Message) bool) error {
	f.mu.Lock()
	fail := f.fails > 0
	if fail {
		f.fails--
	}
	f.mu.Unlock()
	if !fail {
		return f.Driver.Read(ctx, pattern, start, fn)
	}
	n := 0
	err := f.Driver.Read(ctx, pattern, driver.Start{At: start.At, Positions: start.Positions, Time: start.Time},
		func(m *driver.Message) bool {
			if n == f.after {
				return false
			}
			n++
			return fn(m)
		})
	if err != nil {
		return err
	}
	return errors.New("read tcp 127.0.0.1:6379: connection reset by peer")
}

// TestReadFailureRetried: a read that fails mid-way is started again
// from the last event applied — during the rebuild and while following —
// and the state is still every event once.
func TestReadFailureRetried(t *testing.T) {
	d, err := mem.NewDriver(mem.WithHistory(10_000))
	require.NoError(t, err)
	fr := &flakyReader{Driver: d, fails: 2, after: 70}
	tr, err := transport.New(fr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tr.Close(context.Background()) })
	publish(t, tr, 0, 200)

	p, err := projection.New(tr, config(&projection.MemStore{}))
	require.NoError(t, err)
	cancel, errc := run(t, p)
	waitCaughtUp(t, p, errc)
	require.EqualValues(t, 200, p.Applied())
	require.EqualValues(t, 2, p.Retries())

	fr.mu.Lock()
	fr.fails = 1 // the follower's next read
	fr.mu.Unlock()
	publish(t, tr, 200, 300)
	waitApplied(t, p, 300, errc)
	requireTally(t, want(t, 300), view(p), "after the failures")
	stop(t, cancel, errc)
}

// TestApplyCancelled: an Apply that fails because Run's ctx ended (its
// publish cancelled) ends Run as a cancel does — nil, a last snapshot —
// and the event is applied by the next run.
func TestApplyCancelled(t *testing.T) {
	tr := open(t, memURL)
	publish(t, tr, 0, 20)
	store := &projection.MemStore{}
	cfg := config(store)
	entered := make(chan struct{})
	cfg.Apply = func(ctx context.Context, s *tally, ev events.Trade) error {
		if s.Count == 10 {
			close(entered)
			<-ctx.Done()
			return fmt.Errorf("publish: %w", ctx.Err())
		}
		return applyTrade(ctx, s, ev)
	}
	p, err := projection.New(tr, cfg)
	require.NoError(t, err)
	cancel, errc := run(t, p)
	<-entered
	stop(t, cancel, errc) // Run returned nil
	require.EqualValues(t, 10, p.Applied())
	snap, ok, err := store.Load(context.Background(), "tally")
	require.NoError(t, err)
	require.True(t, ok)
	require.EqualValues(t, 10, snap.Applied, "the last snapshot holds the 10 applied")

	p2, err := projection.New(tr, config(store))
	require.NoError(t, err)
	cancel, errc = run(t, p2)
	waitCaughtUp(t, p2, errc)
	requireTally(t, want(t, 20), view(p2), "the cancelled event applied by the next run")
	stop(t, cancel, errc)
}

// failingStore refuses its first `fails` saves.
type failingStore struct {
	projection.MemStore
	mu    sync.Mutex
	fails int
}

func (f *failingStore) Save(ctx context.Context, name string, s projection.Snapshot) error {
	f.mu.Lock()
	fail := f.fails > 0
	f.fails--
	f.mu.Unlock()
	if fail {
		return errors.New("snapshot store down")
	}
	return f.MemStore.Save(ctx, name, s)
}

// TestSnapshotStoreDown: snapshots that fail — when caught up, and every
// SnapshotEvery while following — neither stop the projection nor lose
// an event: the reads start again from the last event applied, and a
// later snapshot holds everything.
func TestSnapshotStoreDown(t *testing.T) {
	tr := open(t, memURL)
	publish(t, tr, 0, 100)
	store := &failingStore{fails: 3}
	p, err := projection.New(tr, config(store))
	require.NoError(t, err)
	cancel, errc := run(t, p)
	waitCaughtUp(t, p, errc)  // the save when caught up failed: logged
	publish(t, tr, 100, 1200) // snapshots at 500 and 1000 fail, then succeed
	waitApplied(t, p, 1200, errc)
	requireTally(t, want(t, 1200), view(p), "with the store down")
	stop(t, cancel, errc)
	snap, ok, err := store.Load(context.Background(), "tally")
	require.NoError(t, err)
	require.True(t, ok)
	require.EqualValues(t, 1200, snap.Applied)
	require.Positive(t, p.Retries(), "a failed periodic save starts the read again")
}
