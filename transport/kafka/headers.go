package kafka

import (
	"strconv"
	"strings"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
)

// Record header names. Metadata travels in the CloudEvents Kafka binary
// binding (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/kafka-protocol-binding.md):
//
//   - a metadata key that is a CloudEvents attribute name (lowercase a-z
//     and 0-9: id, type, source, specversion, time, subject,
//     correlationid, causationid, traceparent, partitionkey, sequence,
//     routingkey, and any other such key) is the header "ce_" + key;
//   - "datacontenttype" is the header "content-type";
//   - any other key (e.g. "x-custom") is a header of the same name, unless
//     that name would be read back as something else (it starts with
//     "ce_" or "tb-", or is "content-type" or "_watermill_message_uuid"):
//     then it is "tb-meta-" + key.
//
// The Watermill message UUID travels as ce_id when it equals the "id"
// metadata (as for every event of package publisher), otherwise as the
// header "_watermill_message_uuid" (the name watermill-kafka uses). The
// routing key the message was published with travels as ce_routingkey; if
// the message's own "routingkey" metadata differs from it, the metadata
// wins ce_routingkey and the published key travels as "tb-route".
const (
	HeaderPrefix      = "ce_"
	HeaderContentType = "content-type"
	HeaderUUID        = "_watermill_message_uuid"
	HeaderRoute       = "tb-route"
	headerEscape      = "tb-meta-"
	headerReserved    = "tb-"
)

// isAttributeName reports whether key is a CloudEvents attribute name:
// lowercase ASCII letters and digits.
func isAttributeName(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// The metadata keys encode and decode look for while they convert.
const (
	attrOther = iota
	attrID
	attrRoutingKey
	attrPartitionKey
	attrUUID  // HeaderUUID (decode)
	attrRoute // HeaderRoute (decode)
	attrCount
)

// headerName returns the record header name of metadata key, and which
// of the keys encode looks for it is. The envelope keys are spelled out so
// that encoding an event allocates no name; a switch on the length first
// finds them with one string comparison.
func headerName(key string) (string, int) {
	switch len(key) {
	case len(events.MetaID):
		if key == events.MetaID {
			return "ce_id", attrID
		}
	case len(events.MetaType): // and MetaTime
		switch key {
		case events.MetaType:
			return "ce_type", attrOther
		case events.MetaTime:
			return "ce_time", attrOther
		}
	case len(events.MetaSource):
		if key == events.MetaSource {
			return "ce_source", attrOther
		}
	case len(events.MetaSubject):
		if key == events.MetaSubject {
			return "ce_subject", attrOther
		}
	case len(events.MetaSequence):
		if key == events.MetaSequence {
			return "ce_sequence", attrOther
		}
	case len(events.MetaRoutingKey):
		if key == events.MetaRoutingKey {
			return "ce_routingkey", attrRoutingKey
		}
	case len(events.MetaSpecVersion): // and MetaTraceParent, MetaCausationID
		switch key {
		case events.MetaSpecVersion:
			return "ce_specversion", attrOther
		case events.MetaTraceParent:
			return "ce_traceparent", attrOther
		case events.MetaCausationID:
			return "ce_causationid", attrOther
		}
	case len(events.MetaPartitionKey):
		if key == events.MetaPartitionKey {
			return "ce_partitionkey", attrPartitionKey
		}
	case len(events.MetaCorrelationID):
		if key == events.MetaCorrelationID {
			return "ce_correlationid", attrOther
		}
	case len(events.MetaDataContentType):
		if key == events.MetaDataContentType {
			return HeaderContentType, attrOther
		}
	}
	return headerNameOf(key), attrOther
}

func headerNameOf(key string) string {
	switch {
	case key == events.MetaDataContentType:
		return HeaderContentType
	case isAttributeName(key):
		return HeaderPrefix + key
	case key == HeaderContentType || key == HeaderUUID ||
		strings.HasPrefix(key, HeaderPrefix) || strings.HasPrefix(key, headerReserved):
		return headerEscape + key
	default:
		return key
	}
}

// metadataKey is the inverse of headerName; ok is false for the headers
// that are not metadata (HeaderUUID, HeaderRoute).
func metadataKey(header string) (key string, ok bool) {
	switch {
	case header == HeaderContentType:
		return events.MetaDataContentType, true
	case header == HeaderUUID || header == HeaderRoute:
		return "", false
	case strings.HasPrefix(header, headerEscape):
		return header[len(headerEscape):], true
	case strings.HasPrefix(header, HeaderPrefix):
		return header[len(HeaderPrefix):], true
	default:
		return header, true
	}
}

// encoder fills records from messages. It carves every record's headers
// out of one slab, which a producer reuses batch after batch (see
// sendState); the header values and the key are the message's strings
// themselves, not copies (see stringBytes).
type encoder struct {
	hs []kgo.RecordHeader
}

// slabHeaders is the smallest slab of headers an encoder allocates: a
// batch of 64 events of the publisher (10 metadata entries each).
const slabHeaders = 64 * 12

// stringBytes returns s as a byte slice without copying it. encode uses
// it for the header values and the key of a record: the client only reads
// them (to partition and serialise the record), and the core's messages
// are not modified while SendBatch runs (driver.Message). An empty s is a
// non-nil empty slice: kgo writes a nil value as a null header value or
// key, which other clients read differently from an empty one.
func stringBytes(s string) []byte {
	if len(s) == 0 {
		return emptyBytes
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

var emptyBytes = []byte{}

// encode fills r's key and headers from m and returns the size of m's
// metadata as the core counts it (transport.MetadataSize).
func (e *encoder) encode(r *kgo.Record, m *driver.Message) (mdSize int) {
	md := m.Metadata
	hs := e.hs // a local: appending to e.hs would reload it every time
	if need := len(md) + 2; cap(hs)-len(hs) < need {
		// A new slab: the records filled so far keep the old one.
		hs = make([]kgo.RecordHeader, 0, max(2*cap(hs), slabHeaders, need))
	}
	start := len(hs)
	var found [attrCount]string // the values encode looks for, by attr
	var seen uint
	for k, v := range md {
		mdSize += len(k) + len(v)
		name, attr := headerName(k)
		if attr != attrOther {
			found[attr] = v
			seen |= 1 << attr
		}
		hs = append(hs, kgo.RecordHeader{Key: name, Value: stringBytes(v)})
	}
	if seen&(1<<attrRoutingKey) == 0 {
		hs = append(hs, kgo.RecordHeader{Key: HeaderPrefix + events.MetaRoutingKey, Value: stringBytes(m.Key)})
	} else if found[attrRoutingKey] != m.Key {
		hs = append(hs, kgo.RecordHeader{Key: HeaderRoute, Value: stringBytes(m.Key)})
	}
	if found[attrID] != m.UUID {
		hs = append(hs, kgo.RecordHeader{Key: HeaderUUID, Value: stringBytes(m.UUID)})
	}
	r.Headers = hs[start:len(hs):len(hs)]
	e.hs = hs
	// A non-nil key, even when empty: messages without a partition key
	// are all one key and must stay on one partition, in order.
	r.Key = stringBytes(m.PartitionKey)
	return mdSize
}

// internKey returns the metadata key of header like metadataKey, spelling
// the envelope keys with the package constants (the metadata map then
// does not point into the client's per-record header name strings), and
// which of the keys decode looks for it is: attrUUID and attrRoute for
// HeaderUUID and HeaderRoute, which are no metadata. A switch on the
// length first finds the envelope's headers with one string comparison.
func internKey(header string) (string, int) {
	switch len(header) {
	case len(HeaderPrefix + events.MetaID):
		if header == HeaderPrefix+events.MetaID {
			return events.MetaID, attrID
		}
	case len(HeaderPrefix + events.MetaType): // and MetaTime
		switch header {
		case HeaderPrefix + events.MetaType:
			return events.MetaType, attrOther
		case HeaderPrefix + events.MetaTime:
			return events.MetaTime, attrOther
		}
	case len(HeaderPrefix + events.MetaSource):
		if header == HeaderPrefix+events.MetaSource {
			return events.MetaSource, attrOther
		}
	case len(HeaderPrefix + events.MetaSubject):
		if header == HeaderPrefix+events.MetaSubject {
			return events.MetaSubject, attrOther
		}
	case len(HeaderPrefix + events.MetaSequence):
		if header == HeaderPrefix+events.MetaSequence {
			return events.MetaSequence, attrOther
		}
	case len(HeaderContentType):
		if header == HeaderContentType {
			return events.MetaDataContentType, attrOther
		}
	case len(HeaderPrefix + events.MetaRoutingKey):
		if header == HeaderPrefix+events.MetaRoutingKey {
			return events.MetaRoutingKey, attrRoutingKey
		}
	case len(HeaderPrefix + events.MetaSpecVersion): // and MetaTraceParent, MetaCausationID
		switch header {
		case HeaderPrefix + events.MetaSpecVersion:
			return events.MetaSpecVersion, attrOther
		case HeaderPrefix + events.MetaTraceParent:
			return events.MetaTraceParent, attrOther
		case HeaderPrefix + events.MetaCausationID:
			return events.MetaCausationID, attrOther
		}
	case len(HeaderPrefix + events.MetaPartitionKey):
		if header == HeaderPrefix+events.MetaPartitionKey {
			return events.MetaPartitionKey, attrPartitionKey
		}
	case len(HeaderPrefix + events.MetaCorrelationID):
		if header == HeaderPrefix+events.MetaCorrelationID {
			return events.MetaCorrelationID, attrOther
		}
	}
	switch header {
	case HeaderUUID:
		return "", attrUUID
	case HeaderRoute:
		return "", attrRoute
	}
	key, _ := metadataKey(header)
	switch key {
	case events.MetaID:
		return key, attrID
	case events.MetaRoutingKey:
		return key, attrRoutingKey
	case events.MetaPartitionKey:
		return key, attrPartitionKey
	}
	return key, attrOther
}

// bytesString returns b as a string without copying it. decode uses it for
// the header values and the key of a record: like the payload (the
// record's value, not copied either), they are slices of the fetched (or
// decompressed) batch, which the client allocates per fetch and never
// writes again (no kgo buffer pools are configured).
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// decode turns a record of topic kind (the topic without its prefix) into
// m (all but AckID). It never fails: headers it does not know become
// metadata of the same name. A record without a UUID (produced by another
// client) gets "kafka:<topic>/<partition>/<offset>", stable across
// redeliveries. A record without partitionkey metadata but with a key gets
// the key as partitionkey. The payload is the record's value and the
// metadata values are the record's header values, none of them copied
// (see bytesString); the map is the one allocation of decode.
func decode(r *kgo.Record, kind string, m *driver.Message, offset string) {
	md := make(map[string]string, len(r.Headers)+1)
	// The values of the headers decode looks for, by attr (the last of
	// a name wins, as in the map); an array rather than five variables
	// keeps the loop's registers free.
	var found [attrCount]string
	var seen uint
	for i := range r.Headers {
		h := &r.Headers[i]
		v := bytesString(h.Value)
		key, attr := internKey(h.Key)
		if attr != attrOther {
			found[attr] = v
			seen |= 1 << attr
			if attr == attrUUID || attr == attrRoute {
				continue // not metadata
			}
		}
		md[key] = v
	}
	uuid, route, pk := found[attrUUID], found[attrRoute], found[attrPartitionKey]
	if uuid == "" {
		uuid = found[attrID]
	}
	if uuid == "" {
		uuid = "kafka:" + r.Topic + "/" + strconv.FormatInt(int64(r.Partition), 10) + "/" +
			strconv.FormatInt(r.Offset, 10)
	}
	rk := found[attrRoutingKey]
	if seen&(1<<attrRoutingKey) == 0 || rk == "" {
		rk = kind
		if route != "" {
			rk = route
		}
		md[events.MetaRoutingKey] = rk
	}
	if route == "" {
		route = rk
	}
	if seen&(1<<attrPartitionKey) == 0 && len(r.Key) > 0 {
		pk = bytesString(r.Key)
		md[events.MetaPartitionKey] = pk
	}
	*m = driver.Message{
		UUID:         uuid,
		Key:          route,
		PartitionKey: pk,
		Metadata:     md,
		Payload:      r.Value,
		Position:     driver.Position{Stream: r.Topic, Partition: r.Partition, Offset: offset},
	}
}
