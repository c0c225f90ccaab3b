package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/tradebus/tradebus/transport"
)

// lagCommand prints a consumer group's backlog; with -max it is a check
// (exit 3 when the backlog is over the limit), for scripts and probes.
func lagCommand(fs *flag.FlagSet, env *environment) func(context.Context, []string) error {
	group := fs.String("group", "", "consumer group (required)")
	limit := fs.Int64("max", -1, "exit 3 if more than this many messages are not yet acked (-1: no check)")
	asJSON := fs.Bool("json", false, "print the backlog as one JSON object")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: tradebus lag [-url URL] -group G [-max N] [-json] PATTERN")
		fmt.Fprintln(fs.Output(), "Prints the group's backlog on PATTERN: pending (not yet delivered), in flight (delivered, not acked),")
		fmt.Fprintln(fs.Output(), "unacked (their sum) and, on Kafka, per partition. '?' marks a count the broker does not report.")
		fs.PrintDefaults()
	}
	return func(ctx context.Context, args []string) error {
		pattern, err := groupArgs(*group, args)
		if err != nil {
			return err
		}
		return withTransport(ctx, env, func(tr transport.Transport) error {
			lag, err := transport.Lag(ctx, tr, *group, pattern)
			if err != nil {
				return err
			}
			if err := printLag(env.stdout, *group, pattern, lag, *asJSON); err != nil {
				return err
			}
			if *limit >= 0 && backlog(lag) > *limit {
				return &checkError{msg: fmt.Sprintf("group %q is %d messages behind on %q, over -max %d", *group, backlog(lag), pattern, *limit)}
			}
			return nil
		})
	}
}

// backlog is what the group has not acked: Unacked, else what is known.
func backlog(l transport.GroupLag) int64 {
	if l.Unacked != transport.Unknown {
		return l.Unacked
	}
	return max(l.Pending, 0) + max(l.InFlight, 0)
}

func count(n int64) string {
	if n == transport.Unknown {
		return "?"
	}
	return strconv.FormatInt(n, 10)
}

func printLag(w io.Writer, group, pattern string, l transport.GroupLag, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(struct {
			Group    string                   `json:"group"`
			Pattern  string                   `json:"pattern"`
			Pending  int64                    `json:"pending"`
			InFlight int64                    `json:"in_flight"`
			Unacked  int64                    `json:"unacked"`
			Parts    []transport.PartitionLag `json:"partitions,omitempty"`
		}{group, pattern, l.Pending, l.InFlight, l.Unacked, l.Partitions})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	}
	fmt.Fprintf(w, "group %s on %s: pending %s, in flight %s, unacked %s\n", group, pattern, count(l.Pending), count(l.InFlight), count(l.Unacked))
	for _, p := range l.Partitions {
		fmt.Fprintf(w, "  %s[%d]: committed %d, end %d, lag %d\n", p.Topic, p.Partition, p.Committed, p.End, p.Lag)
	}
	return nil
}

// deleteGroupCommand removes a consumer group's broker-side state.
func deleteGroupCommand(fs *flag.FlagSet, env *environment) func(context.Context, []string) error {
	group := fs.String("group", "", "consumer group (required)")
	missingOK := fs.Bool("missing-ok", false, "succeed when the group does not exist")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: tradebus delete-group [-url URL] -group G [-missing-ok] PATTERN")
		fmt.Fprintln(fs.Output(), "Removes the group's queue (RabbitMQ), consumer group (Kafka, Redis) or durable consumer (NATS) for")
		fmt.Fprintln(fs.Output(), "PATTERN, with the messages kept for it. Stop the group's members first. Exit 3 if the group is in use.")
		fs.PrintDefaults()
	}
	return func(ctx context.Context, args []string) error {
		pattern, err := groupArgs(*group, args)
		if err != nil {
			return err
		}
		return withTransport(ctx, env, func(tr transport.Transport) error {
			err := transport.DeleteGroup(ctx, tr, *group, pattern)
			switch {
			case err == nil:
				fmt.Fprintf(env.stdout, "deleted group %s on %s\n", *group, pattern)
				return nil
			case errors.Is(err, transport.ErrGroupNotFound) && *missingOK:
				fmt.Fprintf(env.stdout, "group %s on %s does not exist\n", *group, pattern)
				return nil
			case errors.Is(err, transport.ErrGroupInUse):
				return &checkError{msg: err.Error()}
			}
			return err
		})
	}
}

// groupArgs checks -group and the one PATTERN argument.
func groupArgs(group string, args []string) (string, error) {
	if group == "" {
		return "", usagef("-group is required")
	}
	if err := transport.ValidateGroup(group); err != nil {
		return "", usagef("-group: %v", err)
	}
	if len(args) != 1 {
		return "", usagef("want exactly one PATTERN, got %d arguments", len(args))
	}
	return args[0], nil
}
