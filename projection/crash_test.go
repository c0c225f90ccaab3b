package projection_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tradebus/tradebus/internal/pgtest"
	"github.com/tradebus/tradebus/projection"
	"github.com/tradebus/tradebus/projection/pgstore"
)

// The child process's parameters.
const (
	childURL   = "TRADEBUS_PROJECTION_CHILD_URL"
	childTable = "TRADEBUS_PROJECTION_CHILD_TABLE"
	childTotal = "TRADEBUS_PROJECTION_CHILD_TOTAL"
	stateMark  = "FINAL-STATE "
)

// newPgStore returns a snapshot store on a fresh table, dropped at the
// end of the test.
func newPgStore(t testing.TB, pool *pgxpool.Pool) *pgstore.Store {
	t.Helper()
	st, err := pgstore.New(pool, pgstore.WithTable(pgtest.Table(t, pool, "tb_snap_")))
	require.NoError(t, err)
	require.NoError(t, st.CreateTable(context.Background()))
	return st
}

// crashTest folds the total events stored on url in a child process
// snapshotting to PostgreSQL, kills it with SIGKILL three times at random
// points (each while its snapshot is short of the total, so mid-fold),
// then lets a last one finish: its state must be the sequence's, every
// trade applied once in order.
func crashTest(t *testing.T, url string, total int) {
	t.Run("crash", func(t *testing.T) {
		if url == memURL {
			t.Skip("mem's history is in the process: a killed process takes it along")
		}
		pool := pgtest.Pool(t)
		st := newPgStore(t, pool)
		env := append(os.Environ(), childURL+"="+url, childTable+"="+st.Table(), childTotal+"="+strconv.Itoa(total))
		for k := range 3 {
			threshold := total*k/4 + 1 + rand.IntN(total/4)
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
			cmd.Env = env
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			require.NoError(t, cmd.Start())
			applied := pollSnapshot(t, st, threshold, cmd)
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			_ = cmd.Wait()
			require.Less(t, applied, uint64(total), "killed mid-fold (snapshot at %d of %d)", applied, total)
			t.Logf("kill %d: SIGKILL with the snapshot at %d of %d events", k+1, applied, total)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "last run:\n%s", out)
		i := bytes.Index(out, []byte(stateMark))
		require.GreaterOrEqual(t, i, 0, "no final state in:\n%s", out)
		line, _, _ := bytes.Cut(out[i+len(stateMark):], []byte("\n"))
		var got tally
		require.NoError(t, json.Unmarshal(line, &got))
		require.Empty(t, got.Wrong, "an event applied twice or skipped")
		requireTally(t, want(t, total), got, "after three SIGKILLs")
		snap, ok, err := st.Load(context.Background(), "tally")
		require.NoError(t, err)
		require.True(t, ok)
		require.EqualValues(t, total, snap.Applied)
	})
}

// pollSnapshot waits until the child's snapshot has at least n events
// and returns its count; it fails if the child exits first.
func pollSnapshot(t *testing.T, st *pgstore.Store, n int, cmd *exec.Cmd) uint64 {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		snap, ok, err := st.Load(context.Background(), "tally")
		require.NoError(t, err)
		if ok && snap.Applied >= uint64(n) {
			return snap.Applied
		}
		if cmd.ProcessState != nil || time.Now().After(deadline) {
			t.Fatalf("child did not reach a snapshot of %d events (at %d)", n, snap.Applied)
		}
		time.Sleep(2 * time.Millisecond) // polling interval
	}
}

// TestCrashChild is the child process of crashTest: it folds the history
// into a snapshot in PostgreSQL until it has applied the total, then
// prints its state.
func TestCrashChild(t *testing.T) {
	url := os.Getenv(childURL)
	if url == "" {
		t.Skip("the child process of TestRebuild/*/crash")
	}
	total, err := strconv.Atoi(os.Getenv(childTotal))
	require.NoError(t, err)
	pool := pgtest.Pool(t)
	st, err := pgstore.New(pool, pgstore.WithTable(os.Getenv(childTable)))
	require.NoError(t, err)
	tr := open(t, url)
	cfg := config(st)
	cfg.SnapshotEvery = 97 + rand.IntN(300)
	p, err := projection.New(tr, cfg)
	require.NoError(t, err)
	cancel, errc := run(t, p)
	waitApplied(t, p, total, errc)
	stop(t, cancel, errc)
	s := view(p)
	b, err := json.Marshal(s)
	require.NoError(t, err)
	fmt.Println(stateMark + strings.TrimSpace(string(b)))
}
