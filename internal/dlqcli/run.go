package dlqcli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/middleware"
	"github.com/tradebus/tradebus/transport"
)

// Usage is the command line Run takes.
const Usage = `usage:
  tradebus-dlq init   -url URL -group GROUP [-reader dlq]
  tradebus-dlq list   -url URL -group GROUP [-reader dlq] [filters] [-limit N] [-json]
  tradebus-dlq replay -url URL -group GROUP [-reader dlq] [filters] [-limit N] [-to-group G] [-dry-run]
-group GROUP reads deadletter.GROUP (or -topic TOPIC); -url defaults to $TRADEBUS_URL
filters: -class C -type T -key PATTERN -reason SUBSTRING -since RFC3339 -until RFC3339
`

// OpenFunc opens the transport of a broker URL (transport.Open).
type OpenFunc func(ctx context.Context, url string) (transport.Transport, error)

var errUsage = errors.New("usage")

// Run runs one command line (args without the program name) with the
// transport open returns, writing results to stdout and errors to stderr,
// and returns the exit status: 0 on success, 1 on error, 2 on bad usage.
// The URL is -url or $TRADEBUS_URL; credentials never appear in output.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, open OpenFunc) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, Usage)
		return 2
	}
	cmd := args[0]
	o, err := parseFlags(cmd, args[1:], stderr)
	if err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(stderr, "tradebus-dlq:", err)
		}
		fmt.Fprint(stderr, Usage)
		return 2
	}
	if err := execute(ctx, cmd, o, stdout, open); err != nil {
		fmt.Fprintln(stderr, "tradebus-dlq:", err)
		return 1
	}
	return 0
}

type options struct {
	url     string
	q       Query
	timeout time.Duration
	asJSON  bool
	dryRun  bool
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
	var failing string
	fs.StringVar(&failing, "group", "", "consumer group whose dead letters to read: topic deadletter.<group>")
	fs.StringVar(&o.q.Topic, "topic", "", "poison topic, e.g. deadletter.portfolio (default deadletter.<group>)")
	fs.StringVar(&o.q.Group, "reader", DefaultGroup, "consumer group that reads the poison topic")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "overall time limit")
	var class string
	if cmd != "init" {
		f := &o.q.Filter
		fs.StringVar(&class, "class", "", "only this error class (permanent, transient, panic)")
		fs.StringVar(&f.Type, "type", "", "only this event type, e.g. tradebus.trade.v1")
		fs.StringVar(&f.Key, "key", "", "only original routing keys matching this pattern, e.g. trade.*.BTCUSDT")
		fs.StringVar(&f.Reason, "reason", "", "only reasons containing this text")
		fs.Func("since", "only messages whose last failure is at or after this RFC 3339 time", timeFlag(&f.Since))
		fs.Func("until", "only messages whose last failure is before this RFC 3339 time", timeFlag(&f.Until))
		fs.IntVar(&o.q.Limit, "limit", 0, "at most this many (0 = all)")
	}
	if cmd == "list" {
		fs.BoolVar(&o.asJSON, "json", false, "print one JSON object per message")
	}
	if cmd == "replay" {
		fs.StringVar(&o.q.ToGroup, "to-group", "", "address the replayed events to this consumer group (default: the group that failed each)")
		fs.DurationVar(&o.q.Idle, "idle", DefaultIdle, "give up waiting for a listed dead letter after this long")
		fs.BoolVar(&o.dryRun, "dry-run", false, "only list what would be replayed (reads without consuming)")
	}
	if err := fs.Parse(args); err != nil {
		return o, errUsage
	}
	o.q.Filter.Class = middleware.ErrorClass(class)
	if failing != "" {
		if err := events.ValidateSegment(failing); err != nil {
			return o, fmt.Errorf("-group %q: %w", failing, err)
		}
		want := middleware.DefaultPoisonTopic + "." + failing
		switch {
		case o.q.Topic == "":
			o.q.Topic = want
		case o.q.Topic != want:
			// The old meaning of -group was the reading group.
			return o, fmt.Errorf("-group %q reads %s, not -topic %s (the reading group is now -reader)", failing, want, o.q.Topic)
		}
	}
	switch {
	case o.q.Topic == "" && fs.NArg() == 0:
		return o, errors.New("-group (or -topic) is required")
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.url == "":
		return o, errors.New("-url (or $TRADEBUS_URL) is required")
	case o.timeout <= 0 || o.q.Idle < 0:
		return o, errors.New("-timeout must be > 0, -idle >= 0")
	}
	if err := o.q.validate(); err != nil {
		return o, err
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

func execute(ctx context.Context, cmd string, o options, stdout io.Writer, open OpenFunc) (err error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	tr, err := open(ctx, o.url)
	if err != nil {
		return err
	}
	defer func() {
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer ccancel()
		err = errors.Join(err, tr.Close(cctx))
	}()
	show := func(p middleware.Poisoned) { printPoisoned(stdout, p, o.asJSON) }
	switch {
	case cmd == "init":
		if err := Init(tr, o.q); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "subscription of group %q to %q ready\n", o.q.group(), o.q.Topic)
	case cmd == "list" || o.dryRun:
		res, err := List(ctx, tr, o.q, show)
		if err != nil {
			return err
		}
		if !o.asJSON {
			verb := "matching"
			if o.dryRun {
				verb = "would be replayed"
			}
			fmt.Fprintf(stdout, "%d %s of %d dead letters (left in place)", res.Matched, verb, res.DeadLetters)
			if res.Other > 0 {
				fmt.Fprintf(stdout, "; %d other messages on the topic", res.Other)
			}
			fmt.Fprintln(stdout)
		}
	default:
		st, err := Replay(ctx, tr, o.q, show)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "replayed %d, kept %d, unroutable %d\n", st.Replayed, st.Kept, st.Unroutable)
	}
	return nil
}

type jsonPoisoned struct {
	EventID         string            `json:"id"`
	Type            string            `json:"type"`
	Class           string            `json:"class"`
	Reason          string            `json:"reason"`
	RoutingKey      string            `json:"routingkey"`
	Handler         string            `json:"handler"`
	Group           string            `json:"group"`
	SubscriberGroup string            `json:"subscriber_group,omitempty"`
	Attempts        int               `json:"attempts"`
	FirstFailure    time.Time         `json:"first_failure"`
	LastFailure     time.Time         `json:"last_failure"`
	Metadata        map[string]string `json:"metadata"`
	Payload         string            `json:"payload"`
}

func printPoisoned(w io.Writer, p middleware.Poisoned, asJSON bool) {
	if asJSON {
		b, _ := json.Marshal(jsonPoisoned{
			EventID: p.EventID, Type: p.Type, Class: string(p.Class), Reason: p.Reason, RoutingKey: p.RoutingKey,
			Handler: p.Handler, Group: p.Group, SubscriberGroup: p.SubscriberGroup, Attempts: p.Attempts,
			FirstFailure: p.FirstFailure, LastFailure: p.LastFailure, Metadata: p.Message.Metadata,
			Payload: string(p.Message.Payload),
		})
		fmt.Fprintln(w, string(b))
		return
	}
	group := p.SubscriberGroup
	if group == "" {
		group = p.Group
	}
	fmt.Fprintf(w, "%s\t%s\t%s\tgroup=%s\tattempts=%d\tlast=%s\t%s\t%s\n", p.EventID, p.RoutingKey, p.Class, group,
		p.Attempts, p.LastFailure.Format(time.RFC3339), p.Handler, p.Reason)
}
