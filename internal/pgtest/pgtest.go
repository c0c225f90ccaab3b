// Package pgtest connects tests to the PostgreSQL named by
// TRADEBUS_TEST_POSTGRES_URL and removes the tables they create.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Env names the test database's URL.
const Env = "TRADEBUS_TEST_POSTGRES_URL"

// Pool connects to the test database, closed at the end of the test: it
// skips the test if Env is unset and fails it if the database is set but
// unreachable.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := os.Getenv(Env)
	if url == "" {
		t.Skipf("set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run", Env)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatalf("%s=%s: %v", Env, url, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		t.Fatalf("%s=%s: %v", Env, url, err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Table returns a table name unique to the run, prefix + 12 hex digits,
// and drops the table (if the test created it) at the end of the test.
// The extra names, prefix + the same digits + each suffix, are dropped
// too.
func Table(t testing.TB, pool *pgxpool.Pool, prefix string, suffixes ...string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, n := range append([]string{""}, suffixes...) {
			if _, err := pool.Exec(ctx, "DROP TABLE IF EXISTS "+name+n); err != nil {
				t.Errorf("drop table %s: %v", name+n, err)
			}
		}
	})
	return name
}
