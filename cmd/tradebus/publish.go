package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/publisher"
	"github.com/tradebus/tradebus/transport"
)

// maxLine bounds one JSON event read from a file or stdin.
const maxLine = 16 << 20

// publishCommand publishes events given as JSON. Every event is decoded with
// the codec of -type and validated before anything is sent; one invalid
// event means nothing is published.
func publishCommand(fs *flag.FlagSet, env *environment) func(context.Context, []string) error {
	typ := fs.String("type", "", "event type, e.g. "+events.TypeTrade+" (see -list-types)")
	data := fs.String("data", "", "the event as one JSON object")
	file := fs.String("file", "", "read events from this file, one JSON object per line ('-' = stdin)")
	source := fs.String("source", "tradebus-cli", "CloudEvents source of the published events")
	listTypes := fs.Bool("list-types", false, "print the known event types and exit")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: tradebus publish [-url URL] -type TYPE (-data JSON | -file F)")
		fmt.Fprintln(fs.Output(), "Validates every event first and publishes nothing if one is invalid; waits for the broker's confirmation.")
		fs.PrintDefaults()
	}
	return func(ctx context.Context, args []string) error {
		if *listTypes {
			for _, t := range events.Types() {
				fmt.Fprintln(env.stdout, t)
			}
			return nil
		}
		switch {
		case len(args) > 0:
			return usagef("unexpected arguments %q", args)
		case *typ == "":
			return usagef("-type is required")
		case (*data == "") == (*file == ""):
			return usagef("give exactly one of -data and -file")
		}
		var raw [][]byte
		if *data != "" {
			raw = [][]byte{[]byte(*data)}
		} else {
			var err error
			if raw, err = readLines(*file, env.stdin); err != nil {
				return err
			}
		}
		evs := make([]events.Event, 0, len(raw))
		for i, b := range raw {
			ev, err := events.Decode(*typ, b)
			if err == nil {
				err = ev.Validate()
			}
			if err != nil {
				if errors.Is(err, events.ErrUnknownType) {
					return usagef("-type %q: unknown event type (known: %s)", *typ, strings.Join(events.Types(), ", "))
				}
				return fmt.Errorf("event %d: %w (nothing published)", i+1, err)
			}
			evs = append(evs, ev)
		}
		if len(evs) == 0 {
			return errors.New("no events to publish")
		}
		return withTransport(ctx, env, func(tr transport.Transport) error {
			pub, err := publisher.New(tr.Publisher(), publisher.WithSource(*source))
			if err != nil {
				return err
			}
			if err := pub.Publish(ctx, evs...); err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "published %d %s event(s)\n", len(evs), *typ)
			return nil
		})
	}
}

// readLines reads one JSON object per non-blank line from path ("-" = in).
func readLines(path string, in io.Reader) ([][]byte, error) {
	r := in
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var out [][]byte
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		out = append(out, append([]byte(nil), line...))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}
