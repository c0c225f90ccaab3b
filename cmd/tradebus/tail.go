package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
)

// tailCommand prints the events matching a pattern as a consumer group
// receives them. Without -group it reads as a fresh group of its own, so it
// takes nothing away from the services' groups.
func tailCommand(fs *flag.FlagSet, env *environment) func(context.Context, []string) error {
	group := fs.String("group", "", "consumer group to read as (default: a new group tail-<random>)")
	count := fs.Int("n", 0, "stop after this many events (0 = until interrupted)")
	asJSON := fs.Bool("json", false, "print one JSON object per event: envelope, routing key and decoded event")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: tradebus tail [-url URL] [-group G] [-n N] [-json] PATTERN")
		fmt.Fprintln(fs.Output(), "Prints events whose routing key matches PATTERN ('*' one segment, '#' any), e.g. 'trade.*.BTCUSDT'.")
		fs.PrintDefaults()
	}
	return func(ctx context.Context, args []string) error {
		if len(args) != 1 {
			return usagef("want exactly one PATTERN, got %d arguments", len(args))
		}
		pattern := args[0]
		if err := events.ValidatePattern(pattern); err != nil {
			return usagef("pattern: %v", err)
		}
		if *count < 0 {
			return usagef("-n must be >= 0")
		}
		g, own := *group, *group == ""
		if own {
			g = "tail-" + randomSuffix()
		}
		if err := transport.ValidateGroup(g); err != nil {
			return usagef("-group: %v", err)
		}
		return withTransport(ctx, env, func(tr transport.Transport) error {
			err := tail(ctx, tr, g, pattern, *count, *asJSON, env.stdout, env.stderr)
			if own {
				// The group was ours alone: leave nothing on the broker.
				err = errors.Join(err, removeTailGroup(context.WithoutCancel(ctx), tr, g, pattern))
			}
			return err
		})
	}
}

func tail(ctx context.Context, tr transport.Transport, group, pattern string, count int, asJSON bool, stdout, stderr io.Writer) error {
	sub, err := tr.Subscriber(group)
	if err != nil {
		return err
	}
	// The subscription lives until Close (which settles what is out); ctx
	// only ends the wait.
	defer sub.Close()
	ch, err := sub.Subscribe(context.WithoutCancel(ctx), pattern)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "tailing %q as group %q (Ctrl-C to stop)\n", pattern, group)
	seen := 0
	for {
		select {
		case <-ctx.Done():
			return nil // interrupted: a normal end of a tail
		case msg, ok := <-ch:
			if !ok {
				return nil
			}
			if err := printEvent(stdout, msg, asJSON); err != nil {
				msg.Nack()
				return err
			}
			msg.Ack()
			seen++
			if count > 0 && seen >= count {
				return nil
			}
		}
	}
}

// tailRecord is one event in -json output.
type tailRecord struct {
	ID            string          `json:"id"`
	Type          string          `json:"type"`
	Source        string          `json:"source,omitempty"`
	Time          *time.Time      `json:"time,omitempty"`
	RoutingKey    string          `json:"routingkey"`
	PartitionKey  string          `json:"partitionkey,omitempty"`
	CorrelationID string          `json:"correlationid,omitempty"`
	CausationID   string          `json:"causationid,omitempty"`
	TraceParent   string          `json:"traceparent,omitempty"`
	Event         json.RawMessage `json:"event,omitempty"`
	// Error is set when the payload is not a valid event of its type; the
	// raw payload is then in Payload.
	Error   string `json:"error,omitempty"`
	Payload string `json:"payload,omitempty"`
}

func printEvent(w io.Writer, msg *message.Message, asJSON bool) error {
	env := events.EnvelopeFromMetadata(msg.Metadata)
	rec := tailRecord{
		ID: env.ID, Type: env.Type, Source: env.Source, RoutingKey: env.RoutingKey, PartitionKey: env.PartitionKey,
		CorrelationID: env.CorrelationID, CausationID: env.CausationID, TraceParent: env.TraceParent,
	}
	if !env.Time.IsZero() {
		t := env.Time
		rec.Time = &t
	}
	ev, err := events.Decode(env.Type, msg.Payload)
	if err == nil {
		err = ev.Validate()
	}
	if err != nil {
		rec.Error = err.Error()
		rec.Payload = string(msg.Payload)
	} else {
		rec.Event = json.RawMessage(msg.Payload)
	}
	if asJSON {
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	}
	ts := "-"
	if rec.Time != nil {
		ts = rec.Time.UTC().Format(time.RFC3339Nano)
	}
	if _, err := fmt.Fprintf(w, "%s  %s  %s  id=%s corr=%s\n", ts, rec.RoutingKey, rec.Type, rec.ID, rec.CorrelationID); err != nil {
		return err
	}
	if rec.Error != "" {
		_, err := fmt.Fprintf(w, "  INVALID: %s\n  %s\n", oneLine(rec.Error), oneLine(rec.Payload))
		return err
	}
	_, err = fmt.Fprintf(w, "  %s\n", oneLine(string(rec.Event)))
	return err
}

// removeTailGroup deletes the group this command created for itself.
func removeTailGroup(ctx context.Context, tr transport.Transport, group, pattern string) error {
	if err := transport.RemoveGroup(ctx, tr, group, pattern); err != nil {
		return fmt.Errorf("remove the tail's group %s: %w", group, err)
	}
	return nil
}

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
