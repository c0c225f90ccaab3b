package mem

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
)

// Compile-time check.
var _ driver.Reader = (*Driver)(nil)

// Chunk sizes of a stream's copies, and the page Read copies out at once.
const (
	historyChunkBytes   = 32 << 10
	historyChunkStrings = 1 << 10
	readPage            = 256
	offsetsAhead        = 64
)

// stored is one message kept in a stream's history. Its slices are never
// written after it is stored: readers and queue entries share them.
type stored struct {
	uuid, key, pkey string
	metadata        []string // key, value, key, value …
	payload         []byte
	off             uint64 // 1, 2, 3 … within the stream
	offset          string // off in decimal: Position.Offset
	ms              int64  // stored at, Unix milliseconds, never decreasing in a stream
}

// stream is the history of one kind: its last n messages, oldest first
// from ring[head] on once the ring is full.
type stream struct {
	ring   []stored
	head   int
	last   uint64 // offset of the newest message; 0 = none yet
	lastMs int64

	// Chunks the copies of small messages are carved from. The ring
	// evicts in storage order, so a chunk is released once the last
	// message carved from it is evicted (and delivered): what stays alive
	// is the retained messages, the chunks' tails that were too short for
	// the next copy (under an eighth), and at most a chunk on either end.
	buf  []byte
	strs []string
	// The decimal offsets from last+1 on, formatted offsetsAhead at a
	// time: one allocation for many Positions.
	offsets string

	changed chan struct{} // closed when a message is stored and waiting
	waiting bool
}

// history is the Driver's per-kind history (WithHistory); nil when off.
type history struct {
	n int

	mu      sync.Mutex
	closed  bool
	streams map[string]*stream // by kind
}

func newHistory(n int) *history {
	if n == 0 {
		return nil
	}
	return &history{n: n, streams: make(map[string]*stream)}
}

// streamLocked returns the stream of kind, creating it; h.mu is held.
func (h *history) streamLocked(kind string) *stream {
	s := h.streams[kind]
	if s == nil {
		s = &stream{}
		h.streams[kind] = s
	}
	return s
}

// store keeps a copy of dm in its kind's stream, evicting the oldest when
// the stream holds n, and returns the copy (for the queues to share) and
// its stream name.
func (h *history) store(dm *driver.Message) (stored, string, error) {
	kind := events.Kind(dm.Key)
	now := time.Now().UnixMilli()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return stored{}, "", ErrClosed
	}
	s := h.streamLocked(kind)
	s.last++
	s.lastMs = max(s.lastMs, now)
	st := stored{
		uuid: dm.UUID, key: dm.Key, pkey: dm.PartitionKey,
		metadata: s.flat(dm.Metadata), payload: s.bytes(dm.Payload),
		off: s.last, offset: s.offset(), ms: s.lastMs,
	}
	switch {
	case len(s.ring) < h.n:
		if len(s.ring) == cap(s.ring) {
			ring := make([]stored, len(s.ring), min(max(2*cap(s.ring), 16), h.n))
			copy(ring, s.ring)
			s.ring = ring
		}
		s.ring = append(s.ring, st)
	default:
		s.ring[s.head] = st // evicts the oldest
		s.head = (s.head + 1) % len(s.ring)
	}
	if s.waiting {
		close(s.changed)
		s.changed, s.waiting = nil, false
	}
	return st, kind, nil
}

// close discards every stream; followers end on the Driver's done.
func (h *history) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	clear(h.streams)
}

// bytes returns a copy of p (nil for nil), carved from s's chunk unless
// it is large, with its capacity its length.
func (s *stream) bytes(p []byte) []byte {
	if p == nil {
		return nil
	}
	if len(p) > historyChunkBytes/8 {
		c := make([]byte, len(p))
		copy(c, p)
		return c
	}
	if cap(s.buf)-len(s.buf) < len(p) {
		s.buf = make([]byte, 0, historyChunkBytes)
	}
	start := len(s.buf)
	s.buf = append(s.buf, p...)
	return s.buf[start:len(s.buf):len(s.buf)]
}

// flat returns md as key, value, key, value …, carved from s's chunk
// unless it is large.
func (s *stream) flat(md map[string]string) []string {
	n := 2 * len(md)
	if n > historyChunkStrings/8 {
		flat := make([]string, 0, n)
		for k, v := range md {
			flat = append(flat, k, v)
		}
		return flat
	}
	if cap(s.strs)-len(s.strs) < n {
		s.strs = make([]string, 0, historyChunkStrings)
	}
	start := len(s.strs)
	for k, v := range md {
		s.strs = append(s.strs, k, v)
	}
	return s.strs[start:len(s.strs):len(s.strs)]
}

// offset returns s.last in decimal, cut from s.offsets.
func (s *stream) offset() string {
	if s.offsets == "" {
		b := make([]byte, 0, offsetsAhead*(len(strconv.FormatUint(s.last+offsetsAhead, 10))))
		for o := s.last; o < s.last+offsetsAhead; o++ {
			b = strconv.AppendUint(b, o, 10)
		}
		s.offsets = string(b)
	}
	n := 1
	for o := s.last; o >= 10; o /= 10 {
		n++
	}
	off := s.offsets[:n]
	s.offsets = s.offsets[n:]
	return off
}

// at returns the k-th retained message, 0 the oldest.
func (s *stream) at(k int) *stored { return &s.ring[(s.head+k)%len(s.ring)] }

// page appends to dst, up to readPage, the retained messages with offsets
// after `after` and at most end, skipping those stored before minMs.
func (s *stream) page(dst []stored, after, end uint64, minMs int64) []stored {
	n := len(s.ring)
	if n == 0 || after >= s.last {
		return dst
	}
	oldest := s.last - uint64(n) + 1
	from, to := max(after+1, oldest), min(end, s.last)
	if from > to {
		return dst
	}
	k0, k1 := int(from-oldest), int(to-oldest)+1
	if minMs > math.MinInt64 {
		k0 += sort.Search(k1-k0, func(i int) bool { return s.at(k0+i).ms >= minMs })
	}
	for k := k0; k < k1 && len(dst) < readPage; k++ {
		dst = append(dst, *s.at(k))
	}
	return dst
}

// Read implements driver.Reader on a Driver with history (WithHistory):
// the stream of pattern's kind — the kind's last n messages, in publish
// order, each with its Position (Stream the kind, Partition 0, Offset the
// decimal sequence number of the message in its kind, from 1) — from
// start up to the newest message stored when Read starts. It starts at the
// oldest retained message (StartBeginning), just after the Position
// naming the kind's stream (StartAfter; at the oldest retained if that
// one was evicted or none names the stream), or at the first message
// stored at or after the time, to the millisecond (StartTime). With
// start.Follow it then waits for each message stored later and passes it,
// until fn returns false (nil), ctx is done (ctx.Err()) or the Driver is
// closed (ErrClosed); a follower that falls more than n messages behind
// misses the evicted ones. fn is called with no lock held, so it may
// publish. Without history Read returns an error wrapping
// transport.ErrNotReplayable.
func (d *Driver) Read(ctx context.Context, pattern string, start driver.Start, fn func(*driver.Message) bool) error {
	h := d.hist
	if h == nil {
		return fmt.Errorf("%w: mem keeps no history unless opened with WithHistory (URL history=N)", transport.ErrNotReplayable)
	}
	kind := events.Kind(pattern)
	var after uint64
	minMs := int64(math.MinInt64)
	switch start.At {
	case driver.StartBeginning:
	case driver.StartAfter:
		for _, p := range start.Positions {
			if p.Stream != kind || p.Partition != 0 {
				continue
			}
			off, err := strconv.ParseUint(p.Offset, 10, 64)
			if err != nil {
				return fmt.Errorf("%w: position %v: offset is not a mem sequence number", ErrInvalidOption, p)
			}
			after = off
		}
	case driver.StartTime:
		minMs = start.Time.UnixMilli()
	default:
		return fmt.Errorf("%w: start %d", ErrInvalidOption, start.At)
	}
	end := uint64(math.MaxUint64)
	if !start.Follow {
		h.mu.Lock()
		closed := h.closed
		if s := h.streams[kind]; s != nil {
			end = s.last
		} else {
			end = 0
		}
		h.mu.Unlock()
		if closed {
			return ErrClosed
		}
		if end == 0 {
			return nil // nothing stored for the kind
		}
	}
	var page []stored
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return ErrClosed
		}
		var wait chan struct{}
		s := h.streams[kind]
		if s != nil {
			page = s.page(page[:0], after, end, minMs)
		}
		if len(page) == 0 {
			if !start.Follow {
				h.mu.Unlock()
				return nil
			}
			if s == nil {
				s = h.streamLocked(kind) // waited for
			}
			if !s.waiting {
				s.changed, s.waiting = make(chan struct{}), true
			}
			wait = s.changed
		}
		h.mu.Unlock()
		if wait != nil {
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return ctx.Err()
			case <-d.done:
				return ErrClosed
			}
		}
		for i := range page {
			st := &page[i]
			dm := &driver.Message{
				UUID: st.uuid, Key: st.key, PartitionKey: st.pkey,
				Metadata: metadataOf(st.metadata), Payload: bytes.Clone(st.payload),
				Position: driver.Position{Stream: kind, Offset: st.offset},
			}
			if !fn(dm) {
				return nil
			}
			after = st.off
		}
		minMs = math.MinInt64 // stored times never decrease: the rest qualifies
		clear(page)           // release the copies' references until the next page
	}
}

// metadataOf returns a new map of flat metadata.
func metadataOf(flat []string) map[string]string {
	m := make(map[string]string, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		m[flat[i]] = flat[i+1]
	}
	return m
}

// Replayable reports whether the Driver keeps a history (WithHistory), so
// that Read and Follow work (transport.Replayable).
func (d *Driver) Replayable() bool { return d.hist != nil }
