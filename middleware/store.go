package middleware

import (
	"context"
	"time"
)

// Store records the dedup keys of processed messages. The dedup middleware
// calls Seen before the handler and Record only after the handler succeeded.
//
// Implementations must be safe for concurrent use. This package provides
// MemoryStore; sub-packages provide Redis (dedup/redisstore, SET NX PX) and
// PostgreSQL (dedup/pgstore, unique key, recordable inside the caller's own
// transaction) stores.
type Store interface {
	// Seen reports whether key was recorded and has not expired.
	Seen(ctx context.Context, key string) (bool, error)
	// Record remembers key for ttl. Recording a key that is already recorded
	// and not expired is not an error and keeps the existing record.
	Record(ctx context.Context, key string, ttl time.Duration) error
}
