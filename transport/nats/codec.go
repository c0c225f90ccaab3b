package nats

import (
	"fmt"
	"strconv"
	"strings"

	natsgo "github.com/nats-io/nats.go"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
)

// The header codec: every metadata entry travels as one header of the same
// (case-sensitive) name, the message UUID as header Tradebus-Uuid.
const (
	headerUUID  = "Tradebus-Uuid"
	headerMsgID = "Nats-Msg-Id"
	// Headers beginning with this belong to JetStream.
	reservedHeaderPrefix = "Nats-"

	// headerReserve is what Capabilities keeps from max_payload for the
	// header framing the core's size check does not count: "NATS/1.0\r\n",
	// the UUID (and Nats-Msg-Id) header names and ": \r\n" around each of
	// the first 40 entries. encode checks the exact size.
	headerReserve = 12 + len(headerUUID) + len(headerMsgID) + 4*42

	// MaxHeaderBytes is JetStream's bound on the encoded header block of a
	// stored message ("NATS/1.0\r\n", every "Name: value\r\n", the blank
	// line): a stream refuses a longer one (API error 10097, "header size
	// exceeds maximum allowed of 64k"), whatever max_payload is.
	MaxHeaderBytes = 1<<16 - 1
)

// encode fills m with dm published under subject subj and returns the
// encoded size of its header block and of headers and payload together.
// One map and one backing array of values per message: the header values
// are slices of vals.
func encode(m *natsgo.Msg, subj string, dm *driver.Message, msgID bool) (hdr, size int, err error) {
	n := len(dm.Metadata) + 1
	if msgID {
		n++
	}
	h := make(natsgo.Header, n)
	vals := make([]string, 0, n)
	size = len("NATS/1.0\r\n") + 2
	for k, v := range dm.Metadata {
		if err := validHeader(k, v); err != nil {
			return 0, 0, fmt.Errorf("%w: message %s: %w", ErrInvalidMetadata, dm.UUID, err)
		}
		vals = append(vals, v)
		h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
		size += len(k) + len(v) + 4
	}
	vals = append(vals, dm.UUID)
	h[headerUUID] = vals[len(vals)-1 : len(vals) : len(vals)]
	size += len(headerUUID) + len(dm.UUID) + 4
	if msgID {
		vals = append(vals, dm.UUID)
		h[headerMsgID] = vals[len(vals)-1 : len(vals) : len(vals)]
		size += len(headerMsgID) + len(dm.UUID) + 4
	}
	*m = natsgo.Msg{Subject: subj, Header: h, Data: dm.Payload}
	return size, size + len(dm.Payload), nil
}

func validHeader(k, v string) error {
	if k == "" {
		return fmt.Errorf("empty metadata key")
	}
	if k == headerUUID || strings.HasPrefix(k, reservedHeaderPrefix) {
		return fmt.Errorf("metadata key %q is reserved", k)
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c <= ' ' || c == ':' || c == 0x7f {
			return fmt.Errorf("metadata key %q: character %q cannot be in a header name", k, c)
		}
	}
	if strings.ContainsAny(v, "\r\n") {
		return fmt.Errorf("metadata %q: value has a line break", k)
	}
	return nil
}

// tooLarge is the error of a message whose encoded size exceeds the
// server's max_payload, or whose header block exceeds MaxHeaderBytes.
func tooLarge(dm *driver.Message, what string, size int, limit int64) error {
	return &transport.TooLargeError{Driver: "nats", Key: dm.Key, UUID: dm.UUID, What: what, Size: size, Limit: int(limit)}
}

// decode fills dm from a delivered JetStream message: the routing key is
// the subject without the prefix, the metadata every header but ours and
// JetStream's. A message without our UUID header (from another producer)
// gets "<stream>-<sequence>". The metadata is the one copy made of the
// headers.
func decode(dm *driver.Message, prefix, stream, subj string, h natsgo.Header, data []byte, seq, delivered uint64, offset string) {
	key := subj
	if len(subj) > len(prefix) && subj[len(prefix)] == '.' && subj[:len(prefix)] == prefix {
		key = subj[len(prefix)+1:]
	}
	md := make(map[string]string, len(h))
	var uuid string
	for k, vs := range h {
		if len(vs) == 0 {
			continue
		}
		if k == headerUUID {
			uuid = vs[0]
			continue
		}
		if strings.HasPrefix(k, reservedHeaderPrefix) {
			continue
		}
		md[k] = vs[0]
	}
	if uuid == "" {
		uuid = stream + "-" + strconv.FormatUint(seq, 10)
	}
	if md[events.MetaRoutingKey] == "" {
		md[events.MetaRoutingKey] = key
	}
	*dm = driver.Message{
		UUID:         uuid,
		Key:          key,
		PartitionKey: md[events.MetaPartitionKey],
		Metadata:     md,
		Payload:      data,
		Deliveries:   int(min(delivered, uint64(1<<31-1))),
		Position:     driver.Position{Stream: stream, Offset: offset},
	}
}

// ackInfo parses the stream sequence and the delivery count out of a
// JetStream ack subject without allocating: $JS.ACK.<stream>.<consumer>.
// <delivered>.<sseq>.<cseq>.<ts>.<pending> (9 tokens) or, with domain and
// account hash, $JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.
// <sseq>.… (11 or more tokens).
func ackInfo(reply string) (seq, delivered uint64, ok bool) {
	var toks [12]string
	n := 0
	for n < len(toks) {
		i := strings.IndexByte(reply, '.')
		if i < 0 {
			toks[n] = reply
			n++
			break
		}
		toks[n] = reply[:i]
		reply = reply[i+1:]
		n++
	}
	if n < 2 || toks[0] != "$JS" || toks[1] != "ACK" {
		return 0, 0, false
	}
	var d, s string
	switch {
	case n == 9:
		d, s = toks[4], toks[5]
	case n >= 11:
		d, s = toks[6], toks[7]
	default:
		return 0, 0, false
	}
	delivered, err1 := strconv.ParseUint(d, 10, 64)
	seq, err2 := strconv.ParseUint(s, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return seq, delivered, true
}
