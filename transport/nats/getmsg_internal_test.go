package nats

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// lossyStream is a jetstream.Stream whose GetMsg gets no answer for its
// first lost calls (they wait out their context, as a request whose reply
// was lost does), then answers.
type lossyStream struct {
	jetstream.Stream // only GetMsg is called
	lost, calls      int
}

func (s *lossyStream) GetMsg(ctx context.Context, seq uint64, _ ...jetstream.GetMsgOpt) (*jetstream.RawStreamMsg, error) {
	s.calls++
	if s.calls <= s.lost {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return &jetstream.RawStreamMsg{Sequence: seq}, nil
}

// TestGetMsgRetriesLostReply: a read whose reply never comes is sent again
// after getMsgWait, within the caller's deadline; once the caller's own
// deadline passes, its error is returned.
func TestGetMsgRetriesLostReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &lossyStream{lost: 2}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		raw, err := getMsg(ctx, s, 7, ">")
		if err != nil || raw.Sequence != 7 {
			t.Fatalf("getMsg = %v, %v; want message 7", raw, err)
		}
		if s.calls != 3 || time.Since(start) != 2*getMsgWait {
			t.Errorf("%d calls in %v, want 3 in %v", s.calls, time.Since(start), 2*getMsgWait)
		}

		s = &lossyStream{lost: 1 << 30}
		ctx2, cancel2 := context.WithTimeout(context.Background(), 3*getMsgWait/2)
		defer cancel2()
		if _, err := getMsg(ctx2, s, 1, ">"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("getMsg past the caller's deadline = %v, want DeadlineExceeded", err)
		}
		if s.calls != 2 {
			t.Errorf("%d calls before the caller's deadline, want 2", s.calls)
		}
	})
}
