package subscriber

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
)

// Consumer is the fast path of a tradebus transport's subscriber
// (*transport.Subscriber has it): it runs a handler on the transport's
// key-ordered workers instead of handing messages to a Watermill router.
type Consumer interface {
	message.Subscriber
	// Consume starts running h for the messages matching pattern and
	// returns once subscribed; wait blocks until the consumption ended
	// (ctx done, subscriber closed) and its drain finished.
	Consume(ctx context.Context, pattern string, h message.HandlerFunc) (wait func() error, err error)
}

// Group runs the typed handlers of one consumer group on a transport's
// fast path: no Watermill router, no goroutine per message. Middleware
// (for instance middleware.Default's) wraps every handler as the router
// would apply it, first outermost.
//
// Register handlers with On, then Run. A Group is safe for concurrent use;
// its zero value is not usable (call NewGroup).
type Group struct {
	c  Consumer
	mw []message.HandlerMiddleware

	mu      sync.Mutex
	routes  []route
	names   map[string]bool
	started bool
	running chan struct{}
}

type route struct {
	pattern string
	name    string
	h       message.HandlerFunc
}

// NewGroup returns a Group consuming through sub, which must be a tradebus
// transport subscriber (a Consumer); its consumer group is the group's.
// Middleware built for one consumer group (middleware.Default with
// WithConsumerGroup) should come through NewGroupWithStack, which checks
// that it names sub's group; NewGroup cannot see inside mw.
func NewGroup(sub message.Subscriber, mw ...message.HandlerMiddleware) (*Group, error) {
	c, ok := sub.(Consumer)
	if !ok {
		return nil, fmt.Errorf("%w: %T has no fast path (not a tradebus transport subscriber); use Handle with a Watermill router", ErrInvalidOption, sub)
	}
	for i, m := range mw {
		if m == nil {
			return nil, fmt.Errorf("%w: middleware %d is nil", ErrInvalidOption, i)
		}
	}
	return &Group{c: c, mw: mw, names: map[string]bool{}, running: make(chan struct{})}, nil
}

// ErrGroupMismatch is wrapped by the error NewGroupWithStack returns when
// the middleware stack was built for another consumer group than the
// subscriber's.
var ErrGroupMismatch = errors.New("subscriber: consumer group mismatch")

// NewGroupWithStack is NewGroup with stack's middlewares (outermost) and
// then extra, after checking that stack was built for sub's consumer
// group (middleware.WithConsumerGroup): the stack writes its group into
// dead letters, picks the poison topic "deadletter.<group>" and namespaces
// dedup keys with it, so a stack built for another group (or none) would
// file this group's failures and duplicates under the wrong name. A
// mismatch is an error wrapping ErrGroupMismatch. sub must say its group
// (a tradebus transport subscriber does: Group() string).
func NewGroupWithStack(sub message.Subscriber, stack *middleware.Stack, extra ...message.HandlerMiddleware) (*Group, error) {
	if stack == nil {
		return nil, fmt.Errorf("%w: nil middleware stack", ErrInvalidOption)
	}
	gs, ok := sub.(interface{ Group() string })
	if !ok {
		return nil, fmt.Errorf("%w: %T does not say its consumer group (not a tradebus transport subscriber)", ErrInvalidOption, sub)
	}
	if sg, mg := gs.Group(), stack.ConsumerGroup(); sg != mg {
		return nil, fmt.Errorf("%w: the subscriber consumes as %q, the middleware stack was built for %q (middleware.WithConsumerGroup)",
			ErrGroupMismatch, sg, mg)
	}
	return NewGroup(sub, append(stack.Middlewares(), extra...)...)
}

// Patterns returns the patterns of the handlers registered so far, in
// registration order (a pattern registered twice appears twice).
func (g *Group) Patterns() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]string, len(g.routes))
	for i, r := range g.routes {
		out[i] = r.pattern
	}
	return out
}

// On registers fn for events of type T whose routing key matches pattern.
// It fails once Run has started, for an invalid pattern, a nil fn or a
// name (WithName; default "<event type>@<pattern>") already registered.
// The middleware see the name (middleware.HandlerName): dedup keys,
// requeued copies and dead letters are kept per handler.
func On[T events.Event](g *Group, pattern string, fn Func[T], opts ...Option) error {
	var zero T
	c := config{name: zero.EventType() + "@" + pattern}
	for _, opt := range opts {
		if err := opt(&c); err != nil {
			return err
		}
	}
	if fn == nil {
		return fmt.Errorf("%w: nil handler func", ErrInvalidOption)
	}
	if err := events.ValidatePattern(pattern); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	h := func(msg *message.Message) ([]*message.Message, error) {
		ev, err := Decode[T](msg)
		if err != nil {
			return nil, err
		}
		return nil, fn(handlerContext(msg), ev)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.started {
		return fmt.Errorf("%w: group already running", ErrInvalidOption)
	}
	if g.names[c.name] {
		return fmt.Errorf("%w: handler name %q already registered", ErrInvalidOption, c.name)
	}
	g.names[c.name] = true
	g.routes = append(g.routes, route{pattern: pattern, name: c.name, h: h})
	return nil
}

// Running is closed once every handler's subscription is established:
// events published from then on reach the handlers.
func (g *Group) Running() <-chan struct{} { return g.running }

// Run subscribes every handler and runs them until ctx ends, then drains
// them (bounded by the transport's close timeout) and returns. Its error
// is non-nil if a subscription could not start (then none runs) or a
// drain was cut short. Run may be called once.
func (g *Group) Run(ctx context.Context) error {
	g.mu.Lock()
	if g.started {
		g.mu.Unlock()
		return fmt.Errorf("%w: Run called twice", ErrInvalidOption)
	}
	g.started = true
	routes := g.routes
	g.mu.Unlock()
	if len(routes) == 0 {
		return fmt.Errorf("%w: no handler registered", ErrInvalidOption)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	waits := make([]func() error, 0, len(routes))
	var err error
	for _, r := range routes {
		h := r.h
		for i := len(g.mw) - 1; i >= 0; i-- {
			h = g.mw[i](h)
		}
		// There is no router to name the handler: its messages' contexts
		// name it for the middleware, which keep each handler's dedup
		// keys, requeued copies and dead letters apart (two handlers of
		// one group that match the same event both run).
		wait, serr := g.c.Consume(middleware.ContextWithHandlerName(runCtx, r.name), r.pattern, h)
		if serr != nil {
			err = fmt.Errorf("subscriber: subscribe %q: %w", r.pattern, serr)
			cancel()
			break
		}
		waits = append(waits, wait)
	}
	if err == nil {
		close(g.running)
	}
	errs := []error{err}
	for _, wait := range waits {
		errs = append(errs, wait())
	}
	return errors.Join(errs...)
}
