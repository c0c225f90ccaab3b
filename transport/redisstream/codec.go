package redisstream

import (
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
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

// Field names boxed once: appending an interface value that already holds
// a string does not allocate, converting a string does.
var (
	boxedUUID       any = fieldUUID
	boxedRoutingKey any = fieldRoutingKey
	boxedPayload    any = fieldPayload
)

// metaFields caches the boxed field name of each metadata key
// ("partitionkey" → "meta:partitionkey"). Messages carry a small, fixed
// set of keys (the CloudEvents envelope), so it stays small; it stops
// growing at maxMetaFields, after which names are built per message.
var metaFields sync.Map // string → any (string)

var metaFieldCount struct {
	sync.Mutex
	n int
}

const maxMetaFields = 1024

func metaField(k string) any {
	if f, ok := metaFields.Load(k); ok {
		return f
	}
	var f any = fieldMetaPrefix + k
	metaFieldCount.Lock()
	if metaFieldCount.n < maxMetaFields {
		if _, loaded := metaFields.LoadOrStore(k, f); !loaded {
			metaFieldCount.n++
		}
	}
	metaFieldCount.Unlock()
	return f
}

// fieldCount is the number of XADD field/value items of dm.
func fieldCount(dm *driver.Message) int { return 6 + 2*len(dm.Metadata) }

// encode appends the XADD field/value list of dm to vals: uuid, routing
// key, payload, then every metadata entry as "meta:<key>" (map order).
func encode(vals []any, dm *driver.Message) ([]any, error) {
	vals = append(vals, boxedUUID, dm.UUID, boxedRoutingKey, dm.Key, boxedPayload, dm.Payload)
	for k, v := range dm.Metadata {
		if k == "" {
			return vals, fmt.Errorf("%w: empty metadata key in message %s", ErrInvalidMetadata, dm.UUID)
		}
		vals = append(vals, metaField(k), v)
	}
	return vals, nil
}

// decode fills dm from a stream entry. An entry written by another
// producer without our fields still decodes: its UUID is the entry id and
// its routing key the stream's kind. The "routingkey" metadata is set from
// the entry when the publisher did not set it. It builds the metadata map
// once; the strings are those go-redis read.
func decode(kind string, xm *redis.XMessage, dm *driver.Message) {
	md := make(map[string]string, len(xm.Values))
	for f, v := range xm.Values {
		s, _ := v.(string)
		switch f {
		case fieldUUID:
			dm.UUID = s
		case fieldRoutingKey:
			dm.Key = s
		case fieldPayload:
			dm.Payload = []byte(s)
		default:
			if k, ok := strings.CutPrefix(f, fieldMetaPrefix); ok {
				md[k] = s
			}
		}
	}
	if dm.UUID == "" {
		dm.UUID = xm.ID
	}
	if dm.Key == "" {
		dm.Key = kind
	}
	if md[events.MetaRoutingKey] == "" {
		md[events.MetaRoutingKey] = dm.Key
	}
	dm.PartitionKey = md[events.MetaPartitionKey]
	dm.Metadata = md
}
