package middleware

import (
	"context"

	"github.com/ThreeDotsLabs/watermill/message"
)

type handlerNameKey struct{}

// NameHandler returns a middleware that names the handler every message
// it wraps is delivered to, for runners other than the Watermill router
// (which sets its own name, read as well): subscriber.Group puts it
// outermost on each of its handlers. The middleware of this package use
// the name to namespace dedup keys per handler, to route requeued copies
// back to their handler, and in dead letters and logs.
func NameHandler(name string) message.HandlerMiddleware {
	v := any(name) // boxed once, not per message
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			msg.SetContext(context.WithValue(msg.Context(), handlerNameKey{}, v))
			return h(msg)
		}
	}
}

// ContextWithHandlerName returns ctx naming the handler, for a consumer
// whose messages' contexts carry ctx's values (subscriber.Group's, through
// the transport's Consume): the name costs nothing per message, unlike
// NameHandler.
func ContextWithHandlerName(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, handlerNameKey{}, name)
}

// HandlerName returns the handler name of a delivery's ctx: the one set by
// NameHandler, else the Watermill router's (message.HandlerNameFromCtx),
// else "".
func HandlerName(ctx context.Context) string {
	if name, ok := ctx.Value(handlerNameKey{}).(string); ok {
		return name
	}
	return message.HandlerNameFromCtx(ctx)
}
