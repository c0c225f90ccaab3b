// Command tradebus-dlq inspects and replays a tradebus poison queue (dead
// letter topic), the one filled by middleware.Poison.
//
//	tradebus-dlq init   -url URL -group GROUP [-reader dlq]
//	tradebus-dlq list   -url URL -group GROUP [-reader dlq] [filters] [-json]
//	tradebus-dlq replay -url URL -group GROUP [-reader dlq] [filters] [-limit N] [-dry-run]
//
// -group names the consumer group whose dead letters to read: its poison
// topic is deadletter.<group> (or give the topic with -topic). The URL
// comes from -url or, without it, from $TRADEBUS_URL — the same names as
// every tradebus program.
//
// Filters: -class permanent|transient|panic, -type tradebus.trade.v1,
// -key trade.*.BTCUSDT (a routing-key pattern), -reason SUBSTRING, -since and
// -until (RFC 3339, compared with the last failure time).
//
// The poison queue is read as consumer group -reader (default "dlq"). On
// brokers that keep messages only for existing subscriptions (RabbitMQ
// queues, NATS consumers, Kafka groups with "latest" offsets), run init once
// at deployment so that the group's subscription exists before the first
// message is poisoned. list reads every message and puts it back unchanged;
// replay republishes the matching ones to their original routing key (same
// event id and correlation id) and puts the others back.
//
// Broker URLs are those of transport.Open (mem://, amqp://, kafka://, redis://,
// nats://); credentials never appear in output. Exit status: 0 on success, 1 on
// error, 2 on bad usage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/transport"
	_ "github.com/tradebus/tradebus/transport/all"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// openTransport is transport.Open; tests replace it.
var openTransport = func(ctx context.Context, url string) (transport.Transport, error) {
	return transport.Open(ctx, url)
}

var errUsage = errors.New("usage")

const usage = `usage:
  tradebus-dlq init   -url URL -group GROUP [-reader dlq]
  tradebus-dlq list   -url URL -group GROUP [-reader dlq] [filters] [-json]
  tradebus-dlq replay -url URL -group GROUP [-reader dlq] [filters] [-limit N] [-dry-run]
-group GROUP reads deadletter.GROUP (or -topic TOPIC); -url defaults to $TRADEBUS_URL
filters: -class C -type T -key PATTERN -reason SUBSTRING -since RFC3339 -until RFC3339
`

type options struct {
	url, topic, group       string
	reader                  string
	class, typ, key, reason string
	since, until            time.Time
	limit                   int
	idle, timeout           time.Duration
	asJSON, dryRun          bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd := args[0]
	o, err := parseFlags(cmd, args[1:], stderr)
	if err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(stderr, "tradebus-dlq:", err)
		}
		fmt.Fprint(stderr, usage)
		return 2
	}
	if err := execute(ctx, cmd, o, stdout); err != nil {
		fmt.Fprintln(stderr, "tradebus-dlq:", err)
		return 1
	}
	return 0
}

func parseFlags(cmd string, args []string, stderr io.Writer) (options, error) {
	var o options
	switch cmd {
	case "init", "list", "replay":
	default:
		return o, fmt.Errorf("unknown command %q", cmd)
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", os.Getenv("TRADEBUS_URL"), "broker URL (default $TRADEBUS_URL)")
	fs.StringVar(&o.group, "group", "", "consumer group whose dead letters to read: topic deadletter.<group>")
	fs.StringVar(&o.topic, "topic", "", "poison topic, e.g. deadletter.portfolio (default deadletter.<group>)")
	fs.StringVar(&o.reader, "reader", "dlq", "consumer group that reads the poison topic")
	fs.DurationVar(&o.idle, "idle", 2*time.Second, "stop when no message arrived for this long")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "overall time limit")
	if cmd != "init" {
		fs.StringVar(&o.class, "class", "", "only this error class (permanent, transient, panic)")
		fs.StringVar(&o.typ, "type", "", "only this event type, e.g. tradebus.trade.v1")
		fs.StringVar(&o.key, "key", "", "only original routing keys matching this pattern, e.g. trade.*.BTCUSDT")
		fs.StringVar(&o.reason, "reason", "", "only reasons containing this text")
		fs.Func("since", "only messages whose last failure is at or after this RFC 3339 time", timeFlag(&o.since))
		fs.Func("until", "only messages whose last failure is before this RFC 3339 time", timeFlag(&o.until))
	}
	if cmd == "list" {
		fs.BoolVar(&o.asJSON, "json", false, "print one JSON object per message")
	}
	if cmd == "replay" {
		fs.IntVar(&o.limit, "limit", 0, "replay at most this many (0 = all)")
		fs.BoolVar(&o.dryRun, "dry-run", false, "only list what would be replayed")
	}
	if err := fs.Parse(args); err != nil {
		return o, errUsage
	}
	if o.group != "" {
		if err := events.ValidateSegment(o.group); err != nil {
			return o, fmt.Errorf("-group %q: %w", o.group, err)
		}
		want := middleware.DefaultPoisonTopic + "." + o.group
		switch {
		case o.topic == "":
			o.topic = want
		case o.topic != want:
			// The old meaning of -group was the reading group.
			return o, fmt.Errorf("-group %q reads %s, not -topic %s (the reading group is now -reader)", o.group, want, o.topic)
		}
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.url == "":
		return o, errors.New("-url (or $TRADEBUS_URL) is required")
	case o.topic == "":
		return o, errors.New("-group (or -topic) is required")
	case events.ValidateRoutingKey(o.topic) != nil:
		return o, fmt.Errorf("-topic %q: a concrete routing key is required", o.topic)
	case events.ValidateSegment(o.reader) != nil:
		return o, fmt.Errorf("-reader %q: one routing-key segment is required", o.reader)
	case o.class != "" && o.class != string(middleware.ClassPermanent) && o.class != string(middleware.ClassTransient) && o.class != string(middleware.ClassPanic):
		return o, fmt.Errorf("-class %q: want permanent, transient or panic", o.class)
	case o.limit < 0 || o.idle <= 0 || o.timeout <= 0:
		return o, errors.New("-limit must be >= 0, -idle and -timeout > 0")
	}
	if o.key != "" {
		if err := events.ValidatePattern(o.key); err != nil {
			return o, fmt.Errorf("-key: %w", err)
		}
	}
	return o, nil
}

func timeFlag(dst *time.Time) func(string) error {
	return func(s string) error {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("want RFC 3339, e.g. 2026-01-02T15:04:05Z: %w", err)
		}
		*dst = t
		return nil
	}
}

func (o options) match(p middleware.Poisoned) bool {
	switch {
	case o.class != "" && string(p.Class) != o.class,
		o.typ != "" && p.Type != o.typ,
		o.key != "" && !events.MatchPattern(o.key, p.RoutingKey),
		o.reason != "" && !strings.Contains(p.Reason, o.reason),
		!o.since.IsZero() && p.LastFailure.Before(o.since),
		!o.until.IsZero() && !p.LastFailure.Before(o.until):
		return false
	}
	return true
}

func execute(ctx context.Context, cmd string, o options, stdout io.Writer) (err error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	tr, err := openTransport(ctx, o.url)
	if err != nil {
		return err
	}
	defer func() {
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer ccancel()
		err = errors.Join(err, tr.Close(cctx))
	}()
	sub, err := tr.Subscriber(o.reader)
	if err != nil {
		return err
	}
	defer sub.Close()

	if cmd == "init" {
		si, ok := sub.(message.SubscribeInitializer)
		if !ok {
			return fmt.Errorf("this transport's subscriber cannot create a subscription without consuming")
		}
		if err := si.SubscribeInitialize(o.topic); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "subscription of group %q to %q ready\n", o.reader, o.topic)
		return nil
	}

	replay := cmd == "replay" && !o.dryRun
	matched := 0
	opts := []middleware.Option{
		middleware.WithPoisonTopic(o.topic), middleware.WithReplayIdle(o.idle),
		middleware.WithLogger(slog.New(slog.DiscardHandler)),
		middleware.WithReplayFilter(func(p middleware.Poisoned) bool {
			if !o.match(p) || (o.limit > 0 && matched >= o.limit) {
				return false
			}
			matched++
			printPoisoned(stdout, p, o.asJSON)
			return replay
		}),
	}
	st, err := middleware.Replay(ctx, sub, tr.Publisher(), opts...)
	if err != nil {
		return err
	}
	if !o.asJSON {
		switch {
		case replay:
			fmt.Fprintf(stdout, "replayed %d, kept %d, unroutable %d\n", st.Replayed, st.Kept, st.Unroutable)
		default:
			fmt.Fprintf(stdout, "%d matching of %d poisoned messages (left in place)\n", matched, st.Kept+st.Unroutable)
		}
	}
	return nil
}

type jsonPoisoned struct {
	EventID      string            `json:"id"`
	Type         string            `json:"type"`
	Class        string            `json:"class"`
	Reason       string            `json:"reason"`
	RoutingKey   string            `json:"routingkey"`
	Handler      string            `json:"handler"`
	Group        string            `json:"group"`
	Attempts     int               `json:"attempts"`
	FirstFailure time.Time         `json:"first_failure"`
	LastFailure  time.Time         `json:"last_failure"`
	Metadata     map[string]string `json:"metadata"`
	Payload      string            `json:"payload"`
}

func printPoisoned(w io.Writer, p middleware.Poisoned, asJSON bool) {
	if asJSON {
		b, _ := json.Marshal(jsonPoisoned{
			EventID: p.EventID, Type: p.Type, Class: string(p.Class), Reason: p.Reason, RoutingKey: p.RoutingKey,
			Handler: p.Handler, Group: p.Group, Attempts: p.Attempts, FirstFailure: p.FirstFailure,
			LastFailure: p.LastFailure, Metadata: p.Message.Metadata, Payload: string(p.Message.Payload),
		})
		fmt.Fprintln(w, string(b))
		return
	}
	fmt.Fprintf(w, "%s\t%s\t%s\tattempts=%d\tlast=%s\t%s\t%s\n", p.EventID, p.RoutingKey, p.Class, p.Attempts,
		p.LastFailure.Format(time.RFC3339), p.Handler, p.Reason)
}
