package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/tradebus/tradebus/transport"
)

// pinger is a transport that can check its broker.
type pinger interface {
	Ping(ctx context.Context) error
}

// pingCommand checks that the broker answers: exit 0 if it does, 3 if it
// does not (or cannot be reached within -timeout).
func pingCommand(fs *flag.FlagSet, env *environment) func(context.Context, []string) error {
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: tradebus ping [-url URL] [-timeout D]")
		fmt.Fprintln(fs.Output(), "Exit 0 if the broker answers, 3 if it does not.")
		fs.PrintDefaults()
	}
	return func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected arguments %q", args)
		}
		if *timeout <= 0 {
			return usagef("-timeout must be > 0")
		}
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		start := time.Now()
		tr, err := openTransport(ctx, env.url)
		if err != nil {
			if errors.Is(err, transport.ErrUnknownScheme) || errors.Is(err, transport.ErrInvalidURL) || errors.Is(err, transport.ErrInvalidOption) {
				return usagef("%v", err)
			}
			return &checkError{msg: fmt.Sprintf("broker unreachable: %v", err)}
		}
		defer func() {
			cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
			defer ccancel()
			_ = tr.Close(cctx)
		}()
		p, ok := tr.(pinger)
		if !ok {
			return fmt.Errorf("this transport cannot be pinged")
		}
		if err := p.Ping(ctx); err != nil {
			return &checkError{msg: fmt.Sprintf("broker does not answer: %v", err)}
		}
		fmt.Fprintf(env.stdout, "ok (%s)\n", time.Since(start).Round(time.Millisecond))
		return nil
	}
}
