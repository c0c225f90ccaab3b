package tradebus_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/require"

	"github.com/tradebus/tradebus"
	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/subscriber"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/mem"
)

func trade(id string) events.Trade {
	return events.Trade{Exchange: "binance", Symbol: "BTCUSDT", TradeID: id, Side: events.SideBuy,
		Price: events.MustDecimal("64250.1"), Amount: events.MustDecimal("0.5"), Time: time.Now()}
}

// TestServiceDrainsOnSIGTERM: a real SIGTERM sent to the process while a
// handler holds a message makes Run stop (Stopping closes), let that
// handler finish, and return nil; the process lives on; the transport
// the service opened is closed afterwards.
func TestServiceDrainsOnSIGTERM(t *testing.T) {
	svc, err := tradebus.NewService(context.Background(), "mem://", "risk")
	require.NoError(t, err)
	started, release := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	require.NoError(t, subscriber.On(svc.Group(), "trade.#", func(ctx context.Context, tr events.Trade) error {
		close(started)
		<-release
		finished.Store(true)
		return nil
	}))
	ran := make(chan error, 1)
	go func() { ran <- svc.Run(context.Background()) }()
	select {
	case <-svc.Running():
	case err := <-ran:
		t.Fatalf("Run: %v", err)
	}
	require.NoError(t, svc.Publisher().Publish(context.Background(), trade("1")))
	<-started
	// Run registered its signals before Running closed, so this SIGTERM
	// goes to the service, not to the default handler (which would end
	// the test binary).
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	<-svc.Stopping()
	select {
	case err := <-ran:
		t.Fatalf("Run returned (%v) while a handler held a message", err)
	default:
	}
	close(release)
	require.NoError(t, <-ran)
	require.True(t, finished.Load(), "Run returned before the handler finished")
	_, err = svc.Transport().Subscriber("late")
	require.ErrorIs(t, err, transport.ErrClosed, "the service's own transport is closed after Run")
}

// TestServiceStatesTheGroupOnce: the stack, the subscriber and the dead
// letters all carry the one group given to NewServiceOn; a middleware
// option naming another group is refused; the caller's transport stays
// open after Run.
func TestServiceStatesTheGroupOnce(t *testing.T) {
	tr, err := mem.New()
	require.NoError(t, err)
	defer func() { require.NoError(t, tr.Close(context.Background())) }()

	_, err = tradebus.NewServiceOn(tr, "risk", tradebus.WithMiddleware(middleware.WithConsumerGroup("strategy")))
	require.ErrorIs(t, err, subscriber.ErrGroupMismatch)
	_, err = tradebus.NewServiceOn(tr, "risk", tradebus.WithMiddleware(middleware.WithConsumerGroup("risk")))
	require.NoError(t, err, "the same group twice is no mismatch")

	dlq, err := tr.Subscriber("dlq")
	require.NoError(t, err)
	svc, err := tradebus.NewServiceOn(tr, "risk", tradebus.WithSignals(),
		tradebus.WithMiddleware(middleware.WithMaxAttempts(1), middleware.WithPoisonKept(dlq)))
	require.NoError(t, err)
	require.Equal(t, "risk", svc.ConsumerGroup())
	require.Equal(t, "risk", svc.Stack().ConsumerGroup())
	require.NoError(t, subscriber.On(svc.Group(), "trade.#", func(context.Context, events.Trade) error {
		return middleware.Permanent(errors.New("limit breached"))
	}))
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- svc.Run(ctx) }()
	<-svc.Running()
	require.NoError(t, svc.Publisher().Publish(ctx, trade("2")))

	letters, err := dlq.Subscribe(ctx, "deadletter.risk")
	require.NoError(t, err)
	msg := <-letters
	msg.Ack()
	p, err := middleware.ParsePoisoned(msg)
	require.NoError(t, err)
	require.Equal(t, "risk", p.Group)
	require.Contains(t, p.Reason, "limit breached")
	cancel()
	require.NoError(t, <-ran)
	_, err = tr.Subscriber("still-open")
	require.NoError(t, err, "NewServiceOn leaves the caller's transport open")
}

func TestServiceErrors(t *testing.T) {
	ctx := context.Background()
	_, err := tradebus.NewService(ctx, "nope://", "risk")
	require.ErrorIs(t, err, transport.ErrUnknownScheme)
	_, err = tradebus.NewService(ctx, "mem://", "bad group")
	require.ErrorIs(t, err, transport.ErrInvalidGroup)
	for name, opt := range map[string]tradebus.Option{
		"nil option":           nil,
		"zero timeout":         tradebus.WithShutdownTimeout(0),
		"nil signal":           tradebus.WithSignals(nil),
		"nil handler mw":       tradebus.WithHandlerMiddleware(nil),
		"misplaced middleware": tradebus.WithMiddleware(middleware.WithReplayLimit(3)),
	} {
		_, err := tradebus.NewService(ctx, "mem://", "risk", opt)
		require.Error(t, err, name)
	}
	tr, err := mem.New()
	require.NoError(t, err)
	defer func() { require.NoError(t, tr.Close(ctx)) }()
	_, err = tradebus.NewServiceOn(tr, "risk", tradebus.WithTransportOptions(transport.WithConcurrency(4)))
	require.ErrorIs(t, err, tradebus.ErrInvalidOption)
	_, err = tradebus.NewServiceOn(nil, "risk")
	require.ErrorIs(t, err, tradebus.ErrInvalidOption)

	// Run without a handler fails at once, and still closes what it opened.
	svc, err := tradebus.NewService(ctx, "mem://", "risk", tradebus.WithSignals())
	require.NoError(t, err)
	require.ErrorIs(t, svc.Run(ctx), subscriber.ErrInvalidOption)
	_, err = svc.Transport().Subscriber("x")
	require.ErrorIs(t, err, transport.ErrClosed)
	require.NoError(t, svc.Close(ctx), "Close after Run is a no-op")
}

// TestServiceHandlerMiddlewareRunsInsideTheStack: WithHandlerMiddleware
// sees every attempt the retry middleware makes.
func TestServiceHandlerMiddlewareRunsInsideTheStack(t *testing.T) {
	var attempts atomic.Int32
	count := func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			attempts.Add(1)
			return h(msg)
		}
	}
	svc, err := tradebus.NewService(context.Background(), "mem://", "risk", tradebus.WithSignals(),
		tradebus.WithHandlerMiddleware(count),
		tradebus.WithMiddleware(middleware.WithBackoff(time.Millisecond, 1, time.Millisecond), middleware.WithMaxAttempts(3)))
	require.NoError(t, err)
	done := make(chan struct{})
	var calls int
	require.NoError(t, subscriber.On(svc.Group(), "trade.#", func(context.Context, events.Trade) error {
		if calls++; calls < 3 {
			return errors.New("transient")
		}
		close(done)
		return nil
	}))
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- svc.Run(ctx) }()
	<-svc.Running()
	require.NoError(t, svc.Publisher().Publish(ctx, trade("3")))
	<-done
	cancel()
	require.NoError(t, <-ran)
	require.EqualValues(t, 3, attempts.Load())
}

// TestServiceSecondSignalEndsTheProcess: in a child process whose handler
// never returns, the first SIGTERM starts the graceful shutdown (Stopping)
// and the second one ends the process the default way, instead of being
// swallowed while the drain waits.
func TestServiceSecondSignalEndsTheProcess(t *testing.T) {
	if os.Getenv("TRADEBUS_TEST_SERVICE_CHILD") == "1" {
		serviceChild()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServiceSecondSignalEndsTheProcess$")
	cmd.Env = append(os.Environ(), "TRADEBUS_TEST_SERVICE_CHILD=1")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	lines, exited := make(chan string, 16), make(chan error, 1)
	go func() {
		for sc := bufio.NewScanner(out); sc.Scan(); {
			lines <- sc.Text()
		}
		exited <- cmd.Wait() // after the last read from the pipe, as os/exec requires
	}()
	// A generous bound, only so that a swallowed signal fails the test
	// instead of hanging it: every step normally ends on its own signal.
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	fail := func(format string, args ...any) {
		_ = cmd.Process.Kill()
		<-exited // the reader reaches EOF, then waits for the child
		t.Fatalf(format, args...)
	}
	next := func(want string) {
		select {
		case got := <-lines:
			if got != want {
				fail("child said %q, want %q", got, want)
			}
		case <-deadline.C:
			fail("child did not say %q within a minute", want)
		}
	}
	next("holding")
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	next("stopping")
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	var err2 error
	select {
	case err2 = <-exited:
	case <-deadline.C:
		fail("the second SIGTERM did not end the child within a minute (swallowed)")
	}
	var exit *exec.ExitError
	require.ErrorAs(t, err2, &exit)
	ws, ok := exit.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	require.True(t, ws.Signaled(), "child ended with %v, want killed by SIGTERM", err2)
	require.Equal(t, syscall.SIGTERM, ws.Signal())
}

// serviceChild runs a service whose handler holds its message forever.
func serviceChild() {
	svc, err := tradebus.NewService(context.Background(), "mem://", "risk")
	if err != nil {
		panic(err)
	}
	holding := make(chan struct{})
	if err := subscriber.On(svc.Group(), "trade.#", func(context.Context, events.Trade) error {
		close(holding)
		select {} // never returns: only the second signal ends the process
	}); err != nil {
		panic(err)
	}
	go func() {
		<-svc.Running()
		if err := svc.Publisher().Publish(context.Background(), trade("held")); err != nil {
			panic(err)
		}
		<-holding
		fmt.Println("holding")
		<-svc.Stopping()
		fmt.Println("stopping")
	}()
	err = svc.Run(context.Background())
	fmt.Println("Run returned:", err) // not reached within the drain's 30 s
	os.Exit(3)
}
