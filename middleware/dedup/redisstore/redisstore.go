// Package redisstore is a Redis-backed dedup store for the tradebus dedup
// middleware (middleware.Store). A processed key is a Redis string key
// "<prefix><key>" written with SET NX PX, so it expires on the server after
// its TTL and a second Record never extends or replaces the first.
//
// # Delivery semantics
//
// Keys are shared by every process using the same Redis database and prefix,
// so duplicates are detected across processes. Redis persistence settings
// decide whether records survive a Redis restart; a lost record means a later
// duplicate is processed again (at-least-once), never that a message is lost.
//
// # Errors
//
// Seen and Record return go-redis errors wrapped with the operation; the
// dedup middleware retries a failed lookup like any transient error. New
// rejects a bad option with an error wrapping middleware.ErrInvalidOption.
//
// # Concurrency
//
// A Store is safe for concurrent use (as is the go-redis client under it).
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/middleware"
)

// DefaultPrefix is prepended to every key unless WithPrefix says otherwise.
const DefaultPrefix = "tradebus:dedup:"

// Store is a middleware.Store on Redis. Its zero value is not usable (use New).
type Store struct {
	client redis.UniversalClient
	prefix string
}

var _ middleware.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store) error

// WithPrefix sets the prefix of every Redis key the store writes. Default:
// DefaultPrefix ("tradebus:dedup:"). It must not be empty.
func WithPrefix(prefix string) Option {
	return func(s *Store) error {
		if prefix == "" {
			return fmt.Errorf("%w: redisstore.WithPrefix: empty prefix", middleware.ErrInvalidOption)
		}
		s.prefix = prefix
		return nil
	}
}

// New returns a Store using client (a *redis.Client, *redis.ClusterClient or
// *redis.Ring). The caller owns client and closes it.
func New(client redis.UniversalClient, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: redisstore.New: nil client", middleware.ErrInvalidOption)
	}
	s := &Store{client: client, prefix: DefaultPrefix}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: redisstore: nil option", middleware.ErrInvalidOption)
		}
		if err := o(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Seen implements middleware.Store with EXISTS.
func (s *Store) Seen(ctx context.Context, key string) (bool, error) {
	n, err := s.client.Exists(ctx, s.prefix+key).Result()
	if err != nil {
		return false, fmt.Errorf("redisstore: EXISTS: %w", err)
	}
	return n > 0, nil
}

// Record implements middleware.Store with SET NX PX: the key is written
// only if absent, with a server-side expiry of ttl (at least 1ms).
func (s *Store) Record(ctx context.Context, key string, ttl time.Duration) error {
	_, err := s.Claim(ctx, key, ttl)
	return err
}

// Claim is Record that also reports whether this call wrote the key (true)
// or it was already recorded (false). Handlers that must run at most once
// across processes can call it before their side effect: SET NX makes exactly
// one caller win.
func (s *Store) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	err := s.client.Do(ctx, "SET", s.prefix+key, time.Now().UTC().Format(time.RFC3339Nano), "NX", "PX", ttl.Milliseconds()).Err()
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, redis.Nil):
		return false, nil
	default:
		return false, fmt.Errorf("redisstore: SET NX PX: %w", err)
	}
}

// Prefix returns the key prefix.
func (s *Store) Prefix() string { return s.prefix }
