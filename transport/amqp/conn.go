package amqp

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// connector owns one AMQP connection and re-dials it on demand after it
// was lost. It starts no goroutine of its own: callers dial under a
// one-slot semaphore, so concurrent callers share one dial, and failed dials
// are spaced by an exponential backoff. Safe for concurrent use.
type connector struct {
	role     string // "publish" or "consume": logs and the connection name
	url      string // with credentials: never logged or put in an error
	redacted string
	cfg      *config

	sem  chan struct{} // one dial at a time
	done chan struct{} // closed by close

	mu       sync.Mutex
	frame    int    // frame_max negotiated by the last connection
	version  string // broker version the last connection reported
	conn     *amqp.Connection
	wire     *writeDeadlineConn // conn's socket
	closeErr chan *amqp.Error   // NotifyClose of conn, buffered
	lastErr  error
	failures int
	nextDial time.Time
	closed   bool
}

func newConnector(role, url, redacted string, cfg *config) *connector {
	return &connector{
		role:     role,
		url:      url,
		redacted: redacted,
		cfg:      cfg,
		sem:      make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
}

// defaultFrameSize is the frame_max amqp091-go asks for (and RabbitMQ's
// default): the broker can only lower it.
const defaultFrameSize = 131072

// negotiated returns the frame_max and the broker version of the last
// connection (defaultFrameSize and "" before the first).
func (c *connector) negotiated() (frame int, version string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.frame <= 0 {
		return defaultFrameSize, c.version
	}
	return c.frame, c.version
}

// live returns the current connection if it is open; it logs a lost one
// once.
func (c *connector) live() (*amqp.Connection, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.conn == nil {
		return nil, nil
	}
	if !c.conn.IsClosed() {
		return c.conn, nil
	}
	reason := "closed"
	select {
	case e, ok := <-c.closeErr:
		if ok && e != nil {
			reason = e.Error()
		}
	default:
	}
	c.cfg.logger.Warn("amqp: connection lost", slog.String("role", c.role),
		slog.String("url", c.redacted), slog.String("reason", reason))
	c.conn, c.wire, c.closeErr = nil, nil, nil
	return nil, nil
}

// connect returns an open connection, dialling if needed. Transient dial
// failures are retried with backoff until ctx ends; permanent ones
// (authentication, TLS verification) return at once.
func (c *connector) connect(ctx context.Context) (*amqp.Connection, error) {
	return c.get(ctx, true)
}

// tryConnect is connect with at most one dial attempt. Within the backoff
// window of a failed dial it returns that failure without dialling.
func (c *connector) tryConnect(ctx context.Context) (*amqp.Connection, error) {
	return c.get(ctx, false)
}

func (c *connector) get(ctx context.Context, retry bool) (*amqp.Connection, error) {
	for {
		if conn, err := c.live(); conn != nil || err != nil {
			return conn, err
		}
		select {
		case c.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, c.ctxErr(ctx)
		case <-c.done:
			return nil, ErrClosed
		}
		conn, err, again := c.dialLocked(ctx, retry)
		<-c.sem
		if conn != nil || !again {
			return conn, err
		}
	}
}

// dialLocked runs with the semaphore held. again reports whether get should
// loop (another caller may have connected, or a transient failure is to be
// retried).
func (c *connector) dialLocked(ctx context.Context, retry bool) (conn *amqp.Connection, err error, again bool) {
	if conn, err := c.live(); conn != nil || err != nil {
		return conn, err, false
	}
	c.mu.Lock()
	wait := time.Until(c.nextDial)
	lastErr := c.lastErr
	c.mu.Unlock()
	if wait > 0 {
		if !retry {
			return nil, c.wrap(lastErr), false
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, c.ctxErr(ctx), false
		case <-c.done:
			return nil, ErrClosed, false
		}
	}

	conn, wire, err := c.dial(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.failures++
		c.lastErr = err
		c.nextDial = time.Now().Add(backoff(c.failures, c.cfg.maxBackoff))
		if c.failures == 1 || c.failures%10 == 0 {
			c.cfg.logger.Warn("amqp: cannot connect", slog.String("role", c.role),
				slog.String("url", c.redacted), slog.Int("attempt", c.failures), slog.Any("error", err))
		}
		if permanent(err) || !retry || ctx.Err() != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%w: %w (last error: %w)", ErrConnection, ctx.Err(), err), false
			}
			return nil, c.wrap(err), false
		}
		return nil, nil, true
	}
	if c.closed {
		_ = conn.Close()
		return nil, ErrClosed, false
	}
	if c.failures > 0 {
		c.cfg.logger.Info("amqp: connected", slog.String("role", c.role),
			slog.String("url", c.redacted), slog.Int("after_attempts", c.failures+1))
	}
	c.failures, c.lastErr, c.nextDial = 0, nil, time.Time{}
	c.conn, c.wire = conn, wire
	c.frame = conn.Config.FrameSize
	c.version, _ = conn.Properties["version"].(string)
	c.closeErr = conn.NotifyClose(make(chan *amqp.Error, 1))
	return conn, nil, false
}

// backoff is the wait after the given number of consecutive failed dials:
// 50ms doubling up to maxWait, with jitter of up to -50%.
func backoff(failures int, maxWait time.Duration) time.Duration {
	d := min(maxWait, 50*time.Millisecond<<min(max(failures, 1)-1, 16))
	return d/2 + rand.N(d/2+1)
}

func (c *connector) wrap(err error) error {
	if err == nil {
		return ErrConnection
	}
	return fmt.Errorf("%w: %s: %w", ErrConnection, c.redacted, err)
}

func (c *connector) ctxErr(ctx context.Context) error {
	c.mu.Lock()
	last := c.lastErr
	c.mu.Unlock()
	if last != nil {
		return fmt.Errorf("%w: %s: %w (last error: %w)", ErrConnection, c.redacted, ctx.Err(), last)
	}
	return fmt.Errorf("%w: %s: %w", ErrConnection, c.redacted, ctx.Err())
}

// wireOf returns the socket of conn if it is the current connection, else
// nil.
func (c *connector) wireOf(conn *amqp.Connection) *writeDeadlineConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != conn {
		return nil
	}
	return c.wire
}

// dial opens one connection and returns it with its socket. ctx bounds
// the TCP, TLS and AMQP handshakes (as does cfg.dialTimeout).
func (c *connector) dial(ctx context.Context) (*amqp.Connection, *writeDeadlineConn, error) {
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName("tradebus-" + c.role)

	var (
		mu      sync.Mutex
		netConn net.Conn
		wire    *writeDeadlineConn
	)
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if netConn != nil {
			_ = netConn.SetDeadline(time.Unix(1, 0))
		}
	})
	acfg := amqp.Config{
		Properties: props,
		Dial: func(network, addr string) (net.Conn, error) {
			dial := c.cfg.netDial
			if dial == nil {
				dial = (&net.Dialer{Timeout: c.cfg.dialTimeout}).DialContext
			}
			nc, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			deadline := time.Now().Add(c.cfg.dialTimeout)
			if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
				deadline = d
			}
			if err := nc.SetDeadline(deadline); err != nil {
				_ = nc.Close()
				return nil, err
			}
			mu.Lock()
			defer mu.Unlock()
			if err := ctx.Err(); err != nil {
				_ = nc.Close()
				return nil, err
			}
			netConn = nc
			wc := &writeDeadlineConn{Conn: nc, timeout: c.cfg.writeTimeout}
			if c.role == "consume" {
				wc.r = bufio.NewReaderSize(nc, consumeReadBuffer)
			}
			wire = wc
			return wc, nil
		},
	}
	if c.cfg.tlsConfig != nil {
		acfg.TLSClientConfig = c.cfg.tlsConfig.Clone()
	}
	conn, err := amqp.DialConfig(c.url, acfg)
	if !stop() {
		// ctx ended during the handshake: the socket's deadline was
		// moved to the past, so the connection is unusable.
		if conn != nil {
			_ = conn.Close()
		}
		if err == nil {
			err = ctx.Err()
		}
		return nil, nil, err
	}
	if err != nil {
		return nil, nil, err
	}
	return conn, wire, nil
}

// close closes the connection and makes every later call return
// ErrClosed. It is idempotent.
func (c *connector) close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	conn := c.conn
	c.conn = nil
	c.mu.Unlock()
	if conn == nil || conn.IsClosed() {
		return nil
	}
	if err := conn.CloseDeadline(time.Now().Add(5 * time.Second)); err != nil && !errors.Is(err, amqp.ErrClosed) {
		return fmt.Errorf("amqp: close %s connection: %w", c.role, err)
	}
	return nil
}

// permanent reports dial errors that retrying cannot fix.
func permanent(err error) bool {
	var aerr *amqp.Error
	if errors.As(err, &aerr) {
		switch aerr.Code {
		case amqp.AccessRefused, amqp.NotAllowed:
			return true
		}
	}
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		rerr tls.RecordHeaderError
	)
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &rerr)
}

// writeDeadlineConn gives every write a deadline, so that a broker which
// stops reading (resource alarm, dead peer behind a full buffer) fails the
// connection instead of blocking a publisher forever. On the consuming
// connection it also reads through a buffer of consumeReadBuffer bytes. On
// the publishing connection, while corked, it collects what amqp091-go
// writes (one flush per message) and writes it at the latest when the last
// cork is removed.
type writeDeadlineConn struct {
	net.Conn
	timeout time.Duration
	r       *bufio.Reader // nil: unbuffered

	wmu   sync.Mutex
	corks int
	w     *bufio.Writer // writes through writeNow; nil until the first cork
}

// consumeReadBuffer is the read buffer of the consuming connection.
// amqp091-go reads through a buffer of 4 KiB, about ten deliveries of a
// small message; a backlog streams in at up to the prefetch, so one read
// system call takes up to this much (a hundred and more deliveries).
const consumeReadBuffer = 64 << 10

// corkBuffer is the write buffer of a corked connection: when it is full,
// it is written at once.
const corkBuffer = 64 << 10

func (c *writeDeadlineConn) Read(b []byte) (int, error) {
	if c.r == nil {
		return c.Conn.Read(b)
	}
	return c.r.Read(b)
}

func (c *writeDeadlineConn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.corks > 0 {
		return c.w.Write(b)
	}
	return c.writeNow(b)
}

// writeNow writes b with a deadline; wmu is held.
func (c *writeDeadlineConn) writeNow(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// cork makes writes collect in the buffer until uncork. Corks nest; the
// writes of every goroutine (heartbeats, other channels' frames) wait
// alike, so whoever corks must uncork without waiting for the broker in
// between.
func (c *writeDeadlineConn) cork() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.w == nil {
		c.w = bufio.NewWriterSize(nowWriter{c}, corkBuffer)
	}
	c.corks++
}

// uncork removes a cork and, after the last, writes what was collected. A
// failed write closes the connection: amqp091-go, which never sees the
// error, then fails the channels and their publishes.
func (c *writeDeadlineConn) uncork() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.corks--
	if c.corks > 0 {
		return
	}
	if err := c.w.Flush(); err != nil {
		_ = c.Conn.Close()
	}
}

// nowWriter is the writer under a corked connection's buffer.
type nowWriter struct{ c *writeDeadlineConn }

func (w nowWriter) Write(b []byte) (int, error) { return w.c.writeNow(b) }
