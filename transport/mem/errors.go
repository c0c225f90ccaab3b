package mem

import (
	"errors"
	"fmt"

	"github.com/tradebus/tradebus/transport"
)

var (
	// ErrInvalidOption is transport.ErrInvalidOption: every error New,
	// NewDriver and Open return for a bad option, URL or URL query
	// parameter wraps it.
	ErrInvalidOption = transport.ErrInvalidOption

	// ErrClosed is transport.ErrClosed.
	ErrClosed = transport.ErrClosed

	// ErrBufferFull is matched (errors.Is) by the *BufferFullError Publish
	// returns under OverflowFail when a subscription queue is full.
	ErrBufferFull = errors.New("mem: subscription buffer full")

	// ErrInvalidGroup is transport.ErrInvalidGroup.
	ErrInvalidGroup = transport.ErrInvalidGroup
)

// BufferFullError names the subscription queue that had no room. It
// unwraps to ErrBufferFull.
type BufferFullError struct {
	Group    string // consumer group of the full queue
	Pattern  string // subscription pattern of the full queue
	Key      string // routing key of the rejected message
	Capacity int    // the queue's buffer size (WithBuffer)
}

func (e *BufferFullError) Error() string {
	return fmt.Sprintf("mem: buffer of group %q pattern %q full (%d messages): message for %q rejected",
		e.Group, e.Pattern, e.Capacity, e.Key)
}

// Unwrap returns ErrBufferFull.
func (e *BufferFullError) Unwrap() error { return ErrBufferFull }
