// Command tradebus is the operator's tool for a tradebus deployment: watch
// events go by, publish one by hand, check a broker, and look after consumer
// groups and their dead letters.
//
//	tradebus tail    [-url URL] [-group G] [-n N] [-json] PATTERN
//	tradebus publish [-url URL] -type TYPE [-data JSON | -file F]
//	tradebus ping    [-url URL]
//	tradebus lag     [-url URL] -group G [-max N] [-json] PATTERN   (also: depth)
//	tradebus delete-group [-url URL] -group G [-missing-ok] PATTERN
//	tradebus dlq     init|list|replay [flags]   (see internal/dlqcli)
//
// Every command reads the broker URL from -url, or from $TRADEBUS_URL when
// -url is not given. URLs are those of transport.Open (mem://, amqp://,
// kafka://, redis://, nats://); credentials never appear in output.
//
// Exit status: 0 success; 1 error (broker unreachable, publish refused, …);
// 2 bad usage; 3 a check failed (see each command).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/tradebus/tradebus/internal/dlqcli"
	"github.com/tradebus/tradebus/transport"
	_ "github.com/tradebus/tradebus/transport/all"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
	exitCheck = 3
)

// envURL is the environment variable every tradebus tool reads the broker URL
// from.
const envURL = "TRADEBUS_URL"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// openTransport is transport.Open; tests replace it.
var openTransport = func(ctx context.Context, url string) (transport.Transport, error) {
	return transport.Open(ctx, url)
}

// command is one subcommand.
type command struct {
	summary string
	// flags declares the command's flags on fs; run executes it with the
	// positional arguments left after parsing.
	setup func(fs *flag.FlagSet, env *environment) func(ctx context.Context, args []string) error
}

// environment is what a command runs with.
type environment struct {
	url    string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// checkError is a check that ran and failed (unhealthy broker, lag over the
// limit): exit status 3.
type checkError struct{ msg string }

func (e *checkError) Error() string { return e.msg }

var commands = map[string]command{
	"tail":         {summary: "print events matching a routing-key pattern as they arrive", setup: tailCommand},
	"publish":      {summary: "validate and publish events given as JSON", setup: publishCommand},
	"ping":         {summary: "check that the broker answers (exit 3 if not)", setup: pingCommand},
	"dlq":          {summary: "init, list (without consuming) and replay dead letters: tradebus dlq list -h"},
	"lag":          {summary: "a consumer group's backlog (-max N: exit 3 when over)", setup: lagCommand},
	"depth":        {summary: "the same as lag", setup: lagCommand},
	"delete-group": {summary: "remove a consumer group's queue/consumer group/durable consumer", setup: deleteGroupCommand},
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "tradebus: watch, publish and operate tradebus events on any supported broker.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "usage: tradebus COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-13s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "The broker URL comes from -url or $%s (mem://, amqp://, kafka://, redis://, nats://).\n", envURL)
	fmt.Fprintln(w, "Run 'tradebus COMMAND -h' for a command's flags.")
	fmt.Fprintln(w, "Exit status: 0 ok, 1 error, 2 bad usage, 3 check failed.")
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		printUsage(stdout)
		return exitOK
	case "dlq":
		// The dead-letter commands have their own sub-commands and flags
		// (the same as cmd/tradebus-dlq).
		if len(args) == 1 {
			fmt.Fprint(stderr, "usage: tradebus dlq init|list|replay [flags]\n")
			return exitUsage
		}
		return dlqcli.Run(ctx, args[1:], stdout, stderr, dlqcli.OpenFunc(openTransport))
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "tradebus: unknown command %q\n\n", args[0])
		printUsage(stderr)
		return exitUsage
	}
	env := &environment{stdin: stdin, stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("tradebus "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&env.url, "url", os.Getenv(envURL), "broker URL (default $"+envURL+")")
	exec := cmd.setup(fs, env)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if env.url == "" {
		fmt.Fprintf(stderr, "tradebus %s: -url (or $%s) is required\n", args[0], envURL)
		return exitUsage
	}
	err := exec(ctx, fs.Args())
	var ue *usageError
	var ce *checkError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "tradebus %s: %v\n", args[0], err)
		fs.Usage()
		return exitUsage
	case errors.As(err, &ce):
		fmt.Fprintf(stderr, "tradebus %s: %v\n", args[0], err)
		return exitCheck
	default:
		fmt.Fprintf(stderr, "tradebus %s: %v\n", args[0], err)
		return exitError
	}
}

// withTransport opens the environment's broker, runs fn and closes it,
// giving in-flight work closeTimeout to drain.
func withTransport(ctx context.Context, env *environment, fn func(tr transport.Transport) error) (err error) {
	tr, err := openTransport(ctx, env.url)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		if cerr := tr.Close(cctx); cerr != nil && err == nil {
			err = cerr
		}
	}()
	return fn(tr)
}

// closeTimeout bounds how long a command waits for the broker on exit.
const closeTimeout = 10 * time.Second

// oneLine flattens s for single-line output.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
