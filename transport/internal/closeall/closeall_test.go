package closeall_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/tradebus/tradebus/transport/internal/closeall"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestEachConcurrent checks with a fake clock that the stops run at once
// (3 stops of 1s take 1s) and that Each waits for all of them.
func TestEachConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var (
			mu      sync.Mutex
			stopped []int
		)
		start := time.Now()
		err := closeall.Each(context.Background(), []int{1, 2, 3}, func(i int, ctx context.Context) error {
			time.Sleep(time.Second)
			mu.Lock()
			stopped = append(stopped, i)
			mu.Unlock()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("took %s, want 1s", d)
		}
		if len(stopped) != 3 {
			t.Errorf("stopped %v, want all 3", stopped)
		}
	})
}

func TestEachErrors(t *testing.T) {
	errA, errC := errors.New("a"), errors.New("c")
	type ctxKey struct{}
	ctx := context.WithValue(context.Background(), ctxKey{}, "v")
	err := closeall.Each(ctx, []string{"a", "b", "c"}, func(s string, got context.Context) error {
		if got.Value(ctxKey{}) != "v" {
			t.Errorf("%s: stop did not get Each's ctx", s)
		}
		switch s {
		case "a":
			return errA
		case "c":
			return errC
		}
		return nil
	})
	if !errors.Is(err, errA) || !errors.Is(err, errC) {
		t.Fatalf("err %v, want both a and c", err)
	}
	if err.Error() != "a\nc" {
		t.Errorf("err %q, want the errors in item order", err)
	}
	if err := closeall.Each(ctx, nil, func(int, context.Context) error { return errA }); err != nil {
		t.Errorf("no items: %v", err)
	}
}
