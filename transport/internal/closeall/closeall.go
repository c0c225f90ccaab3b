// Package closeall stops a driver's subscribers or subscriptions at once:
// closing one waits for its in-flight messages, so closing them one after
// the other would add up those waits.
//
// # Errors
//
// [Each] joins (errors.Join) the errors of the calls that failed.
//
// # Concurrency
//
// [Each] runs stop on one goroutine per item and returns when every call
// has returned.
package closeall

import (
	"context"
	"errors"
	"sync"
)

// Each calls stop(item, ctx) for every item concurrently, waits for all
// of them, and returns their errors joined in the order of items (nil
// when none failed).
func Each[T any](ctx context.Context, items []T, stop func(T, context.Context) error) error {
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, item := range items {
		wg.Go(func() { errs[i] = stop(item, ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
