package nats

import (
	"fmt"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tradebus/tradebus/events"
)

// Header names besides the metadata, which travels one header per entry
// under its own (CloudEvents) name.
const (
	headerUUID  = "Tradebus-Uuid"
	headerMsgID = "Nats-Msg-Id"
	// Headers beginning with this belong to JetStream.
	reservedHeaderPrefix = "Nats-"
)

// encode returns the NATS message for msg published under routing key key.
func encode(prefix, key string, msg *message.Message, msgID bool) (*natsgo.Msg, error) {
	m := natsgo.NewMsg(subject(prefix, key))
	m.Data = msg.Payload
	for k, v := range msg.Metadata {
		if err := validHeader(k, v); err != nil {
			return nil, fmt.Errorf("%w: message %s: %w", ErrInvalidMetadata, msg.UUID, err)
		}
		m.Header.Set(k, v)
	}
	m.Header.Set(headerUUID, msg.UUID)
	if msgID {
		m.Header.Set(headerMsgID, msg.UUID)
	}
	return m, nil
}

func validHeader(k, v string) error {
	if k == "" {
		return fmt.Errorf("empty metadata key")
	}
	if k == headerUUID || strings.HasPrefix(k, reservedHeaderPrefix) {
		return fmt.Errorf("metadata key %q is reserved", k)
	}
	for _, r := range k {
		if r <= ' ' || r == ':' || r == 0x7f {
			return fmt.Errorf("metadata key %q: character %q cannot be in a header name", k, r)
		}
	}
	if strings.ContainsAny(v, "\r\n") {
		return fmt.Errorf("metadata %q: value has a line break", k)
	}
	return nil
}

// decode turns a delivered JetStream message into a Watermill message and
// its routing key (the subject without the prefix). A message without our
// UUID header (from another producer) gets "<stream>-<sequence>".
func decode(prefix string, m jetstream.Msg, seq uint64, stream string) (string, *message.Message) {
	key := strings.TrimPrefix(m.Subject(), prefix+".")
	h := m.Headers()
	uuid := h.Get(headerUUID)
	if uuid == "" {
		uuid = fmt.Sprintf("%s-%d", stream, seq)
	}
	msg := message.NewMessage(uuid, m.Data())
	for k, vs := range h {
		if k == headerUUID || strings.HasPrefix(k, reservedHeaderPrefix) || len(vs) == 0 {
			continue
		}
		msg.Metadata[k] = vs[0]
	}
	if msg.Metadata[events.MetaRoutingKey] == "" {
		msg.Metadata[events.MetaRoutingKey] = key
	}
	return key, msg
}
