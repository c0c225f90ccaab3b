package middleware

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
)

// ErrClaimNotFound is returned by ClaimStore.GetClaim for an unknown id.
var ErrClaimNotFound = errors.New("middleware: claim not found")

// ClaimStore keeps the dead letters that are too big for the broker (a
// claim check). When the poison copy of a message exceeds the transport's
// limit (transport.ErrTooLarge — the copy adds the reason and the other
// poison metadata to a message that may already be near the limit), the
// poison middleware stores the original body and metadata here under the
// message UUID and publishes a small dead letter that names it
// (MetaPoisonClaim); Replay fetches the original back and deletes the
// claim once it is republished. Implementations must be safe for
// concurrent use; PutClaim of an id that exists replaces it.
type ClaimStore interface {
	PutClaim(ctx context.Context, id string, payload []byte, metadata map[string]string) error
	GetClaim(ctx context.Context, id string) (payload []byte, metadata map[string]string, err error)
	DeleteClaim(ctx context.Context, id string) error
}

// MemoryClaimStore is an in-process ClaimStore, for tests and
// single-process systems (a process exit loses it: use a durable store,
// such as pgstore.ClaimStore, in production). Its zero value is ready to
// use; it is safe for concurrent use.
type MemoryClaimStore struct {
	mu     sync.Mutex
	claims map[string]memClaim
}

type memClaim struct {
	payload  []byte
	metadata map[string]string
}

var _ ClaimStore = (*MemoryClaimStore)(nil)

// PutClaim stores a copy of payload and metadata under id.
func (s *MemoryClaimStore) PutClaim(_ context.Context, id string, payload []byte, metadata map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.claims == nil {
		s.claims = make(map[string]memClaim)
	}
	s.claims[id] = memClaim{payload: bytes.Clone(payload), metadata: maps.Clone(metadata)}
	return nil
}

// GetClaim returns copies of what is stored under id.
func (s *MemoryClaimStore) GetClaim(_ context.Context, id string) ([]byte, map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.claims[id]
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s", ErrClaimNotFound, id)
	}
	return bytes.Clone(c.payload), maps.Clone(c.metadata), nil
}

// DeleteClaim removes id (no error if absent).
func (s *MemoryClaimStore) DeleteClaim(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.claims, id)
	return nil
}

// Len returns the number of stored claims.
func (s *MemoryClaimStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.claims)
}
