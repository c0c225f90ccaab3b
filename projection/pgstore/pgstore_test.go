package pgstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/tradebus/tradebus/internal/pgtest"
	"github.com/tradebus/tradebus/projection"
	"github.com/tradebus/tradebus/projection/pgstore"
	"github.com/tradebus/tradebus/transport"
)

func pgPool(t testing.TB) *pgxpool.Pool { return pgtest.Pool(t) }

func newStore(t *testing.T, pool *pgxpool.Pool, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	st, err := pgstore.New(pool, append([]pgstore.Option{pgstore.WithTable(pgtest.Table(t, pool, "tb_snap_"))}, opts...)...)
	require.NoError(t, err)
	require.NoError(t, st.CreateTable(context.Background()))
	require.NoError(t, st.CreateTable(context.Background()), "CreateTable twice is fine")
	return st
}

func TestSaveLoadDelete(t *testing.T) {
	ctx := context.Background()
	st := newStore(t, pgPool(t))
	_, ok, err := st.Load(ctx, "p")
	require.NoError(t, err)
	require.False(t, ok, "no snapshot yet")

	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	s1 := projection.Snapshot{
		StateVersion: 3, State: []byte(`{"qty":"0.000000001","books":{"BTCUSDT":[1,2]},"note":"a\u0000b"}`),
		Positions: []transport.Position{{Stream: "trades", Partition: 2, Offset: "41"}, {Stream: "trades", Offset: "7"}},
		Applied:   48, Recent: []string{"id-1", "id-2"}, SavedAt: at,
	}
	require.NoError(t, st.Save(ctx, "p", s1))
	got, ok, err := st.Load(ctx, "p")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, s1.State, got.State, "the state's bytes as saved (a U+0000 included)")
	require.Equal(t, s1.Positions, got.Positions)
	require.Equal(t, s1.Applied, got.Applied)
	require.Equal(t, s1.Recent, got.Recent)
	require.Equal(t, s1.StateVersion, got.StateVersion)
	require.True(t, at.Equal(got.SavedAt))

	s2 := s1
	s2.State, s2.Applied, s2.Positions = []byte(`{}`), 49, s1.Positions[:1]
	require.NoError(t, st.Save(ctx, "p", s2))
	got, _, err = st.Load(ctx, "p")
	require.NoError(t, err)
	require.EqualValues(t, 49, got.Applied, "Save replaces the snapshot")
	require.Len(t, got.Positions, 1)

	_, ok, err = st.Load(ctx, "other")
	require.NoError(t, err)
	require.False(t, ok, "snapshots are per projection name")

	require.NoError(t, st.Delete(ctx, "p"))
	require.NoError(t, st.Delete(ctx, "p"), "deleting none is not an error")
	_, ok, err = st.Load(ctx, "p")
	require.NoError(t, err)
	require.False(t, ok)
}

// WithTx: the caller's writes commit with the snapshot, and a failing
// TxFunc rolls both back — the read model never runs ahead of or behind
// the snapshot's positions.
func TestWithTxSameTransaction(t *testing.T) {
	ctx := context.Background()
	pool := pgPool(t)
	model := pgtest.Table(t, pool, "tb_model_")
	_, err := pool.Exec(ctx, "CREATE TABLE "+model+" (name text PRIMARY KEY, applied bigint NOT NULL)")
	require.NoError(t, err)
	fail := errors.New("refused")
	var refuse bool
	st := newStore(t, pool, pgstore.WithTx(func(ctx context.Context, tx pgx.Tx, name string, s projection.Snapshot) error {
		if _, err := tx.Exec(ctx, "INSERT INTO "+model+" VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET applied = EXCLUDED.applied",
			name, int64(s.Applied)); err != nil {
			return err
		}
		if refuse {
			return fail
		}
		return nil
	}))
	modelApplied := func() int64 {
		var n int64
		require.NoError(t, pool.QueryRow(ctx, "SELECT applied FROM "+model+" WHERE name = 'p'").Scan(&n))
		return n
	}
	require.NoError(t, st.Save(ctx, "p", projection.Snapshot{State: []byte(`{}`), Applied: 10, SavedAt: time.Now()}))
	require.EqualValues(t, 10, modelApplied())

	refuse = true
	require.ErrorIs(t, st.Save(ctx, "p", projection.Snapshot{State: []byte(`{}`), Applied: 20, SavedAt: time.Now()}), fail)
	require.EqualValues(t, 10, modelApplied(), "the read model's write rolled back")
	snap, _, err := st.Load(ctx, "p")
	require.NoError(t, err)
	require.EqualValues(t, 10, snap.Applied, "the snapshot rolled back with it")
}

func TestOptions(t *testing.T) {
	_, err := pgstore.New(nil)
	require.ErrorIs(t, err, projection.ErrInvalidOption)
	for _, bad := range []string{"", "Snap", "a-b", "x; DROP TABLE y", "1abc"} {
		_, err := pgstore.New(&pgxpool.Pool{}, pgstore.WithTable(bad))
		require.ErrorIs(t, err, projection.ErrInvalidOption, bad)
	}
	_, err = pgstore.New(&pgxpool.Pool{}, pgstore.WithTx(nil))
	require.ErrorIs(t, err, projection.ErrInvalidOption)
}
