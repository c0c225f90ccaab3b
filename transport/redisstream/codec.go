package redisstream

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/events"
)

// Stream entry fields. Metadata entries are stored one field each, named
// fieldMetaPrefix+key, so that redis-cli and non-Go consumers can read the
// CloudEvents attributes directly.
const (
	fieldUUID       = "uuid"
	fieldRoutingKey = "routingkey"
	fieldPayload    = "payload"
	fieldMetaPrefix = "meta:"
)

// encode returns the XADD field/value list for msg published under key, in
// a stable order (uuid, routingkey, payload, metadata sorted by key).
func encode(key string, msg *message.Message) ([]any, error) {
	vals := make([]any, 0, 6+2*len(msg.Metadata))
	vals = append(vals, fieldUUID, msg.UUID, fieldRoutingKey, key, fieldPayload, []byte(msg.Payload))
	keys := make([]string, 0, len(msg.Metadata))
	for k := range msg.Metadata {
		if k == "" {
			return nil, fmt.Errorf("%w: empty metadata key in message %s", ErrInvalidMetadata, msg.UUID)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		vals = append(vals, fieldMetaPrefix+k, msg.Metadata[k])
	}
	return vals, nil
}

// decoded is one stream entry turned back into a Watermill message.
type decoded struct {
	id  string // stream entry id
	key string // routing key
	msg *message.Message
}

// decode turns a stream entry into a message. An entry written by another
// producer without our fields still decodes: its UUID is the entry id and
// its routing key the stream's kind. The "routingkey" metadata is set from
// the entry when the publisher did not set it.
func decode(kind string, xm redis.XMessage) decoded {
	str := func(f string) string {
		s, _ := xm.Values[f].(string)
		return s
	}
	uuid := str(fieldUUID)
	if uuid == "" {
		uuid = xm.ID
	}
	key := str(fieldRoutingKey)
	if key == "" {
		key = kind
	}
	msg := message.NewMessage(uuid, []byte(str(fieldPayload)))
	for f, v := range xm.Values {
		if k, ok := strings.CutPrefix(f, fieldMetaPrefix); ok {
			s, _ := v.(string)
			msg.Metadata[k] = s
		}
	}
	if msg.Metadata[events.MetaRoutingKey] == "" {
		msg.Metadata[events.MetaRoutingKey] = key
	}
	return decoded{id: xm.ID, key: key, msg: msg}
}
