package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/subscriber"
)

// Server publishes the replies of the handlers built with Handler.
type Server struct {
	raw     message.Publisher
	enc     *publisher.Publisher
	now     func() time.Time
	expired atomic.Int64
	replied atomic.Int64
}

// NewServer returns a Server replying through pub (the transport's
// publisher). opts are publisher options for the replies (e.g.
// publisher.WithSource).
func NewServer(pub message.Publisher, opts ...publisher.Option) (*Server, error) {
	enc, err := publisher.New(pub, opts...)
	if err != nil {
		return nil, err
	}
	return &Server{raw: pub, enc: enc, now: time.Now}, nil
}

// Expired returns how many requests were skipped because their caller's
// deadline had passed when they were handled.
func (s *Server) Expired() int64 { return s.expired.Load() }

// Replied returns how many replies (including error replies) were sent.
func (s *Server) Replied() int64 { return s.replied.Load() }

// Handler returns a typed handler (for subscriber.On or subscriber.Handle)
// that answers requests with fn:
//
//   - a request whose deadline has passed is acknowledged without running
//     fn (the caller no longer waits);
//   - fn runs with the caller's deadline;
//   - its reply is published to the request's replyto key, chained to the
//     request (causation id = the request's id);
//   - an *Error from fn is the answer: it is sent to the caller and the
//     request is done;
//   - a permanent error (middleware.Permanent) is sent to the caller as an
//     Error with code "permanent" and returned, so the stack dead-letters
//     the request;
//   - any other error is returned without a reply, so the stack retries
//     (within the deadline; after it, the retry is skipped as expired).
//
// An event of type Req published without Call (no replyto) is handled and
// its reply discarded.
func Handler[Req, Resp events.Event](s *Server, fn func(ctx context.Context, req Req) (Resp, error)) subscriber.Func[Req] {
	return func(ctx context.Context, req Req) error {
		env, _ := events.EnvelopeFromContext(ctx)
		if !env.Deadline.IsZero() {
			if !s.now().Before(env.Deadline) {
				s.expired.Add(1)
				return nil
			}
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, env.Deadline)
			defer cancel()
		}
		resp, err := fn(ctx, req)
		var remote *Error
		switch {
		case err == nil:
			if env.ReplyTo == "" {
				return nil
			}
			msg, err := s.enc.NewMessage(ctx, resp)
			if err != nil {
				return middleware.Permanent(fmt.Errorf("rpc: reply to %s: %w", env.ID, err))
			}
			return s.send(ctx, env.ReplyTo, msg)
		case errors.As(err, &remote):
			if env.ReplyTo == "" {
				return nil
			}
			return s.sendError(ctx, env, remote)
		case middleware.IsPermanent(err):
			if env.ReplyTo != "" {
				if serr := s.sendError(ctx, env, &Error{Code: "permanent", Message: err.Error()}); serr != nil {
					return errors.Join(err, serr)
				}
			}
			return err
		default:
			return err
		}
	}
}

func (s *Server) sendError(ctx context.Context, req events.Envelope, e *Error) error {
	payload, err := json.Marshal(e)
	if err != nil {
		return err
	}
	msg := message.NewMessage(newUUID(), payload)
	corr, cause := req.Chain()
	msg.Metadata = message.Metadata{
		events.MetaID: msg.UUID, events.MetaSpecVersion: events.SpecVersion, events.MetaType: TypeError,
		events.MetaSource: "tradebus/rpc", events.MetaTime: s.now().UTC().Format(time.RFC3339Nano),
		events.MetaDataContentType: events.ContentTypeJSON, events.MetaCorrelationID: corr,
		events.MetaCausationID: cause, events.MetaPartitionKey: req.PartitionKey,
	}
	if req.TraceParent != "" {
		msg.Metadata[events.MetaTraceParent] = req.TraceParent
	}
	return s.send(ctx, req.ReplyTo, msg)
}

func (s *Server) send(ctx context.Context, replyTo string, msg *message.Message) error {
	if err := events.ValidateRoutingKey(replyTo); err != nil || events.Kind(replyTo) != ReplyKind {
		return middleware.Permanent(fmt.Errorf("rpc: request has an invalid replyto %q", replyTo))
	}
	if err := publish(ctx, s.raw, replyTo, msg); err != nil {
		return fmt.Errorf("rpc: send reply: %w", err)
	}
	s.replied.Add(1)
	return nil
}
