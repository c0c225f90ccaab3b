package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/internal/pgtest"
	"github.com/tradebus/tradebus/outbox"
	"github.com/tradebus/tradebus/transport"
	_ "github.com/tradebus/tradebus/transport/redisstream"
)

const (
	crashRoleEnv  = "TRADEBUS_OUTBOX_CRASH_ROLE"
	crashTableEnv = "TRADEBUS_OUTBOX_CRASH_TABLE"
	crashBusEnv   = "TRADEBUS_OUTBOX_CRASH_BUS"
	crashTotalEnv = "TRADEBUS_OUTBOX_CRASH_TOTAL"
	redisEnv      = "TRADEBUS_TEST_REDIS_URL"
)

var crashSymbols = func() []string {
	s := make([]string, 16)
	for i := range s {
		s[i] = fmt.Sprintf("SYM%02dUSDT", i)
	}
	return s
}()

// rolledBack says which orders the publisher rolls back.
func rolledBack(n int) bool { return n%10 == 3 }

// crashRole runs one process of TestCrashRelayAndPublisher.
func crashRole(role string) int {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv(pgtest.Env))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer pool.Close()
	table := os.Getenv(crashTableEnv)
	switch role {
	case "publisher":
		total, _ := strconv.Atoi(os.Getenv(crashTotalEnv))
		if err := crashPublish(ctx, pool, table, total); err != nil {
			fmt.Fprintln(os.Stderr, "publisher:", err)
			return 1
		}
		return 0
	case "relay":
		tr, err := transport.Open(ctx, os.Getenv(crashBusEnv))
		if err != nil {
			fmt.Fprintln(os.Stderr, "relay:", err)
			return 1
		}
		r, err := outbox.NewRelay(pool, tr.Publisher(), outbox.WithOutbox(outbox.WithTable(table)), outbox.WithRelayLogger(quiet))
		if err != nil {
			fmt.Fprintln(os.Stderr, "relay:", err)
			return 1
		}
		_ = r.Run(ctx) // until killed
		return 0
	}
	return 2
}

// crashPublish writes orders 0..total-1: each in its own transaction with its
// business row, four writers (each owning four symbols, so a symbol's orders
// are written in order), resuming after the last committed one.
func crashPublish(ctx context.Context, pool *pgxpool.Pool, table string, total int) error {
	ob, err := outbox.New(outbox.WithTable(table))
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			var last int
			err := pool.QueryRow(ctx, fmt.Sprintf("SELECT coalesce(max(id), -1) FROM %s_orders WHERE id %% 4 = $1", table), w).Scan(&last)
			if err != nil {
				errs <- err
				return
			}
			start := last + 1
			for start%4 != w {
				start++
			}
			for n := start; n < total; n += 4 {
				tx, err := pool.Begin(ctx)
				if err != nil {
					errs <- err
					return
				}
				sym := crashSymbols[n%16]
				if _, err = tx.Exec(ctx, fmt.Sprintf("INSERT INTO %s_orders (id, symbol) VALUES ($1, $2)", table), n, sym); err == nil {
					err = ob.Publish(ctx, tx, order(sym, n))
				} else if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "23505" {
					// The killed predecessor's COMMIT of order n reached
					// the server after this process read max(id): the
					// order and its outbox row are committed already.
					_ = tx.Rollback(ctx)
					continue
				}
				if err == nil && rolledBack(n) {
					err = tx.Rollback(ctx)
				} else if err == nil {
					err = tx.Commit(ctx)
				}
				if err != nil {
					_ = tx.Rollback(ctx)
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// proc is a restartable child process of the test binary.
type proc struct {
	t    *testing.T
	role string
	env  []string
	cmd  *exec.Cmd
	done chan error
	out  strings.Builder
}

func (p *proc) start() {
	p.t.Helper()
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = append(os.Environ(), append(p.env, crashRoleEnv+"="+p.role)...)
	p.cmd.Stderr = &p.out
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.done = make(chan error, 1)
	go func(c *exec.Cmd, done chan error) { done <- c.Wait() }(p.cmd, p.done)
}

// kill sends SIGKILL and waits for the process to die.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// The crash test: the relay and the publisher process are SIGKILLed
// at random points while 10,000 orders are written. Every committed order's
// event is delivered, none of a rolled-back (or killed) transaction ever
// is, and per-key order holds.
func TestCrashRelayAndPublisher(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: not in -short")
	}
	pool := pgPool(t)
	redisURL := os.Getenv(redisEnv)
	if redisURL == "" {
		t.Skipf("set %s (e.g. redis://127.0.0.1:6379/0) to run the outbox crash test", redisEnv)
	}
	ob := newOutbox(t, pool)
	table := ob.Table()
	ctx := context.Background()
	if _, err := pool.Exec(ctx, fmt.Sprintf("CREATE TABLE %s_orders (id int PRIMARY KEY, symbol text NOT NULL)", table)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = pool.Exec(context.Background(), fmt.Sprintf("DROP TABLE IF EXISTS %s_orders", table)) })

	prefix := "tbcrash" + randomHex(4) + ":"
	sep := "?"
	if strings.Contains(redisURL, "?") {
		sep = "&"
	}
	bus := redisURL + sep + "prefix=" + prefix
	cleanRedis(t, redisURL, prefix)

	tr, err := transport.Open(ctx, bus)
	if err != nil {
		t.Fatalf("%s: %v", redisEnv, err)
	}
	defer tr.Close(context.Background())
	sub, err := tr.Subscriber("crash")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := sub.Subscribe(subCtx, "order.#")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []delivered
	distinct := make(map[string]bool)
	go func() {
		for msg := range ch {
			d := decodeOrder(t, msg)
			mu.Lock()
			got = append(got, d)
			distinct[d.clOrdID] = true
			mu.Unlock()
			msg.Ack()
		}
	}()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(distinct)
	}

	const total = 10000
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	pubKills := []int{1000 + rng.IntN(3000), 5000 + rng.IntN(3000)}
	relayKills := []int{500 + rng.IntN(3500), 4500 + rng.IntN(3500)}
	t.Logf("seed %d: publisher killed after %v committed orders, relay after %v delivered", seed, pubKills, relayKills)

	env := []string{crashTableEnv + "=" + table, crashBusEnv + "=" + bus, crashTotalEnv + "=" + strconv.Itoa(total)}
	publisher := &proc{t: t, role: "publisher", env: env}
	relay := &proc{t: t, role: "relay", env: env}
	relay.start()
	publisher.start()
	defer relay.kill()

	committed := func() int {
		var n int
		if err := pool.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s_orders", table)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Minute)
	kills := 0
	for published := false; !published; {
		if time.Now().After(deadline) {
			publisher.kill()
			t.Fatalf("publisher did not finish: %s", publisher.out.String())
		}
		select {
		case err := <-publisher.done:
			if err != nil {
				t.Fatalf("publisher: %v: %s", err, publisher.out.String())
			}
			published = true
			continue
		case err := <-relay.done:
			t.Fatalf("relay exited: %v: %s", err, relay.out.String())
		case <-time.After(2 * time.Millisecond):
		}
		if len(pubKills) > 0 && committed() >= pubKills[0] {
			publisher.kill()
			pubKills = pubKills[1:]
			kills++
			publisher.start()
		}
		if len(relayKills) > 0 && count() >= relayKills[0] {
			relay.kill()
			relayKills = relayKills[1:]
			kills++
			relay.start()
		}
	}
	want := committed()
	eventually(t, fmt.Sprintf("every committed order (%d) is delivered", want), func() bool { return count() >= want })
	relay.kill()
	relay.start() // for the deferred kill

	rows, err := pool.Query(ctx, fmt.Sprintf("SELECT id, symbol FROM %s_orders", table))
	if err != nil {
		t.Fatal(err)
	}
	type orow struct {
		ID     int
		Symbol string
	}
	orders, err := pgx.CollectRows(rows, pgx.RowToStructByPos[orow])
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	isCommitted := make(map[string]bool, len(orders))
	for _, o := range orders {
		if rolledBack(o.ID) {
			t.Fatalf("order %d committed although its transaction rolls back", o.ID)
		}
		isCommitted[order(o.Symbol, o.ID).ClOrdID] = true
	}
	for id := range distinct {
		if !isCommitted[id] {
			t.Fatalf("%s delivered but never committed", id)
		}
	}
	for id := range isCommitted {
		if !distinct[id] {
			t.Fatalf("%s committed but never delivered", id)
		}
	}
	firstDeliveries(t, got)
	if kills < 4 {
		t.Fatalf("only %d kills happened", kills)
	}
	t.Logf("%d orders committed (%d attempted, %d of them rolled back or killed), %d deliveries (%d duplicates), %d kills",
		len(orders), total, total-len(orders), len(got), len(got)-len(distinct), kills)
}

// cleanRedis deletes the test's streams when it ends.
func cleanRedis(t testing.TB, url, prefix string) {
	t.Cleanup(func() { cleanRedisB(t, url, prefix) })
}

// cleanRedisB deletes every key under prefix.
func cleanRedisB(t testing.TB, url, prefix string) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("%s: %v", redisEnv, err)
	}
	{
		c := redis.NewClient(opts)
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("clean redis: %v", err)
		}
	}
}
