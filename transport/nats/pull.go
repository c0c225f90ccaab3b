package nats

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The pull protocol, spoken directly (as nats.go's Consume does) rather
// than through jetstream's Fetch: every pull request of a subscription
// names one inbox, read by one channel subscription, so the messages of
// all its open requests arrive in the order JetStream sends them — stream
// order for new messages — however it spreads them over the requests.
// That allows a new request before the last one is filled (JetStream never
// waits for the next request), and each message crosses one channel
// instead of Fetch's two goroutine hand-offs with a timer per message.
//
// A request asks for pullSize messages and expires after the pull wait.
// pending counts the messages asked for and not yet received: a delivered
// message takes one off, the status JetStream sends when a request expires
// (408) or ends early (409) the rest it reports. A request lost with the
// connection sends no status: once the last request's expiry is a second
// past, nothing more can come for the requests before it and pending is
// reset. The channel holds every message asked for (at most one and a
// half requests' worth are open, the channel takes three), so nats.go,
// which drops what a full channel cannot take, never drops one as a slow
// consumer (a channel subscription has no other pending limit).

// pullBatches is how many of the core's batches one pull request asks for.
const pullBatches = 4

// pullGrace is how long after the last request's expiry its status may
// still arrive.
const pullGrace = time.Second

// maxPullHeartbeat bounds the idle heartbeat a pull request asks for
// (pullHeartbeat).
const maxPullHeartbeat = 100 * time.Millisecond

// pullHeartbeat is the idle heartbeat of a pull request of wait d: a
// quarter of d (the server wants at most half), at most maxPullHeartbeat.
// Zero where the server cannot send them (before 2.9).
//
// An open request makes the server send a message or a heartbeat (status
// 100) on the inbox at least once per heartbeat, so silence on the inbox
// for pullSilence, with nothing unread, means the server holds no request
// of ours, whatever pending says. nats-server 2.9.10 (Debian 12's) at
// times drops a request that expires just as it delivers, without the 408
// that ends it (fixed upstream in March 2023, nats-server pull request
// 3942). In the paired latency phase of tradebus-bench, one NATS run in 10
// to 15 had a typed p99 of 0.8 to 1.5 s: the subscription waited out the
// last request's expiry and pullGrace with nothing open (the server's
// consumer info: no waiting request, hundreds of messages pending). With
// a 250 ms heartbeat the worst runs had 0.3 to 0.7 s, with 100 ms (this
// bound) one run in 25 had 0.25 s.
func pullHeartbeat(d time.Duration, serverVersion string) time.Duration {
	var major, minor int
	if _, err := fmt.Sscanf(serverVersion, "%d.%d", &major, &minor); err != nil || major < 2 || major == 2 && minor < 9 {
		return 0
	}
	return min(d/4, maxPullHeartbeat)
}

// pullSilence is how long the inbox may be silent while requests are open
// before they count as gone: two heartbeats and a half.
func pullSilence(hb time.Duration) time.Duration { return 2*hb + hb/2 }

// ackPayloads are JetStream's ack protocol bodies.
var (
	ackAck        = []byte("+ACK")
	ackNak        = []byte("-NAK")
	ackInProgress = []byte("+WPI")
	ackTerm       = []byte("+TERM")
)

// pullSize is how many messages one pull request asks for: pullBatches
// of the core's batches (fewer round trips), at most MaxAckPending.
func (s *subscription) pullSize(max int) int {
	return min(pullBatches*max, s.d.cfg.maxAckPending)
}

// pullChanLen is the capacity of the inbox channel: two requests' worth,
// their statuses, and room for requests that outlived their reset (at most
// one and a half requests' worth: after a reset for silence, the next
// waits for those requests' expiry).
func (s *subscription) pullChanLen(max int) int {
	return 3*s.pullSize(max) + 16
}

// listen subscribes the inbox the pull requests name, once.
func (s *subscription) listen(max int) error {
	if s.inbox != nil {
		return nil
	}
	subj := s.d.nc.NewInbox()
	ch := make(chan *natsgo.Msg, s.pullChanLen(max))
	sub, err := s.d.nc.ChanSubscribe(subj, ch)
	if err != nil {
		return fmt.Errorf("nats: subscribe inbox for %s: %w", s.consumer, err)
	}
	s.inbox, s.inboxSubj, s.msgs = sub, subj, ch
	s.nextSubj = "$JS.API.CONSUMER.MSG.NEXT." + s.stream + "." + s.consumer
	return nil
}

// pull sends a pull request for size messages unless the open requests
// still ask for more than half of that (the next one goes out while the
// core works on the messages of the last).
func (s *subscription) pull(size int) error {
	s.expireRequests(time.Now())
	if s.pending > size/2 {
		return nil
	}
	if s.reqBody == nil || s.reqSize != size {
		s.reqSize = size
		s.reqBody = fmt.Appendf(nil, `{"batch":%d,"expires":%d`, size, s.d.cfg.pullWait.Nanoseconds())
		if s.hb > 0 {
			s.reqBody = fmt.Appendf(s.reqBody, `,"idle_heartbeat":%d`, s.hb.Nanoseconds())
		}
		s.reqBody = append(s.reqBody, '}')
	}
	s.fetchCount.Add(1)
	subj := s.nextSubj
	if s.d.losePulls.Load() > 0 && s.d.losePulls.Add(-1) >= 0 {
		subj = "_tradebus.lost." + s.consumer // a request no server sees, as one dropped without a status
	}
	if err := s.d.nc.PublishRequest(subj, s.inboxSubj, s.reqBody); err != nil {
		s.readErrors.Add(1)
		return fmt.Errorf("nats: pull from %s: %w", s.consumer, err)
	}
	s.pending += size
	now := time.Now()
	s.lastExpiry = now.Add(s.d.cfg.pullWait)
	s.lastHeard = now // a heartbeat at the latest one heartbeat from now
	return nil
}

// expireRequests forgets the open requests once the last one's status is
// overdue (lost with the connection), or once the inbox has been silent
// for pullSilence (the server dropped them without a status).
func (s *subscription) expireRequests(now time.Time) {
	if s.pending > 0 && !now.Before(s.requestsDone(now)) {
		if done := s.lastExpiry.Add(pullGrace); now.Before(done) {
			// Forgotten for silence: should they live after all, they
			// may still deliver until done. The channel has room for
			// them and the requests after (pullChanLen), not for a
			// second such set: no silence counts until then.
			s.silenced.Add(1)
			s.ghostUntil = done
		}
		s.pending = 0
	}
}

// requestsDone returns when, seen at now, the open requests count as
// gone: the time after which expireRequests forgets them.
func (s *subscription) requestsDone(now time.Time) time.Time {
	done := s.lastExpiry.Add(pullGrace)
	// Silence counts only with nothing unread: a message waiting in the
	// channel is the inbox speaking (the core may be slow to ask).
	if s.hb > 0 && len(s.msgs) == 0 && !now.Before(s.ghostUntil) {
		if quiet := s.lastHeard.Add(pullSilence(s.hb)); quiet.Before(done) {
			return quiet
		}
	}
	return done
}

// heard notes that the inbox just had a message (a delivery or a status),
// for the silence that ends the wait for open requests.
func (s *subscription) heard() {
	if s.hb > 0 {
		s.lastHeard = time.Now()
	}
}

// pullStatus is what a message on the inbox is.
type pullStatus int

const (
	pullMessage pullStatus = iota // a JetStream delivery
	pullEnded                     // a request expired or ended: pending adjusted
	pullFailed                    // the consumer is gone or refuses: set it up again
)

// status accounts for m, read from the inbox: a delivery takes one off
// pending; a status message ends requests.
func (s *subscription) status(m *natsgo.Msg) (pullStatus, error) {
	if m.Reply != "" || len(m.Data) > 0 || len(m.Header) == 0 {
		s.pending = max(s.pending-1, 0)
		return pullMessage, nil
	}
	code := m.Header.Get("Status")
	if code == "" {
		s.pending = max(s.pending-1, 0)
		return pullMessage, nil
	}
	left, err := strconv.Atoi(m.Header.Get("Nats-Pending-Messages"))
	if err != nil || left <= 0 || left > s.pending {
		left = s.pending // no count: every open request may have ended
	}
	descr := m.Header.Get("Description")
	switch code {
	case "408", "404", "100":
		if code != "100" {
			s.pending -= left
		}
		return pullEnded, nil
	case "409":
		s.pending -= left
		d := strings.ToLower(descr)
		switch {
		case strings.Contains(d, "consumer deleted"), strings.Contains(d, "consumer is push based"):
			s.pending = 0
			return pullFailed, fmt.Errorf("nats: pull from %s: %w", s.consumer, jetstream.ErrConsumerDeleted)
		default: // leadership change, max waiting, batch completed, …: pull again
			return pullEnded, nil
		}
	case "503":
		s.pending = 0
		return pullFailed, fmt.Errorf("nats: pull from %s: %w", s.consumer, natsgo.ErrNoResponders)
	default:
		s.pending = 0
		return pullFailed, fmt.Errorf("nats: pull from %s: status %s %s", s.consumer, code, descr)
	}
}

// settle publishes one ack-protocol body to m's ack subject.
func (s *subscription) settle(m *natsgo.Msg, body []byte) error {
	if m.Reply == "" {
		return errors.New("nats: message has no ack subject")
	}
	return s.d.nc.Publish(m.Reply, body)
}
