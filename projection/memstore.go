package projection

import (
	"context"
	"slices"
	"sync"
)

// MemStore is a Store in the process's memory, for tests and examples: it
// survives a projection's restart within the process, not the process.
// The zero value is ready to use; it is safe for concurrent use.
type MemStore struct {
	mu    sync.Mutex
	snaps map[string]Snapshot
	saves int
}

// Load implements Store.
func (m *MemStore) Load(_ context.Context, name string) (Snapshot, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.snaps[name]
	return clone(s), ok, nil
}

// Save implements Store.
func (m *MemStore) Save(_ context.Context, name string, s Snapshot) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.snaps == nil {
		m.snaps = make(map[string]Snapshot)
	}
	m.snaps[name] = clone(s)
	m.saves++
	return nil
}

// Delete implements Store.
func (m *MemStore) Delete(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.snaps, name)
	return nil
}

// Saves returns how many snapshots were saved.
func (m *MemStore) Saves() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.saves
}

func clone(s Snapshot) Snapshot {
	s.State = slices.Clone(s.State)
	s.Positions = slices.Clone(s.Positions)
	s.Recent = slices.Clone(s.Recent)
	return s
}
