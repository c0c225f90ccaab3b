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

// headerName returns the record header name of metadata key. The
// envelope keys are spelled out so that encoding an event allocates no
// name.
func headerName(key string) string {
	switch key {
	case events.MetaID:
		return "ce_id"
	case events.MetaSource:
		return "ce_source"
	case events.MetaSpecVersion:
		return "ce_specversion"
	case events.MetaType:
		return "ce_type"
	case events.MetaSubject:
		return "ce_subject"
	case events.MetaTime:
		return "ce_time"
	case events.MetaDataContentType:
		return HeaderContentType
	case events.MetaCorrelationID:
		return "ce_correlationid"
	case events.MetaCausationID:
		return "ce_causationid"
	case events.MetaTraceParent:
		return "ce_traceparent"
	case events.MetaPartitionKey:
		return "ce_partitionkey"
	case events.MetaSequence:
		return "ce_sequence"
	case events.MetaRoutingKey:
		return "ce_routingkey"
	}
	return headerNameOf(key)
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
// and header values out of two allocations per SendBatch call.
type encoder struct {
	hs  []kgo.RecordHeader
	buf []byte
}

// newEncoder sizes an encoder for msgs. Sizes are exact for messages whose
// UUID is their "id" metadata; when a slab fills up, append moves on to a
// new one, and the records filled so far keep pointing into the old one.
func newEncoder(msgs []*driver.Message) *encoder {
	nh, nb := 0, 0
	for _, m := range msgs {
		nh += len(m.Metadata) + 1
		for _, v := range m.Metadata {
			nb += len(v)
		}
		nb += len(m.PartitionKey)
	}
	return &encoder{hs: make([]kgo.RecordHeader, 0, nh), buf: make([]byte, 0, nb)}
}

func (e *encoder) bytes(v string) []byte {
	start := len(e.buf)
	e.buf = append(e.buf, v...)
	return e.buf[start:len(e.buf):len(e.buf)]
}

// encode fills r's key and headers from m.
func (e *encoder) encode(r *kgo.Record, m *driver.Message) {
	md := m.Metadata
	start := len(e.hs)
	for k, v := range md {
		e.hs = append(e.hs, kgo.RecordHeader{Key: headerName(k), Value: e.bytes(v)})
	}
	if rk, ok := md[events.MetaRoutingKey]; !ok {
		e.hs = append(e.hs, kgo.RecordHeader{Key: HeaderPrefix + events.MetaRoutingKey, Value: e.bytes(m.Key)})
	} else if rk != m.Key {
		e.hs = append(e.hs, kgo.RecordHeader{Key: HeaderRoute, Value: e.bytes(m.Key)})
	}
	if md[events.MetaID] != m.UUID {
		e.hs = append(e.hs, kgo.RecordHeader{Key: HeaderUUID, Value: e.bytes(m.UUID)})
	}
	r.Headers = e.hs[start:len(e.hs):len(e.hs)]
	// A non-nil key, even when empty: messages without a partition key
	// are all one key and must stay on one partition, in order.
	r.Key = e.bytes(m.PartitionKey)
}

// internKey returns the metadata key of header like metadataKey, spelling
// the envelope keys with the package constants: the metadata map then
// does not point into the client's per-record header name strings.
func internKey(header string) string {
	switch header {
	case "ce_id":
		return events.MetaID
	case "ce_source":
		return events.MetaSource
	case "ce_specversion":
		return events.MetaSpecVersion
	case "ce_type":
		return events.MetaType
	case "ce_subject":
		return events.MetaSubject
	case "ce_time":
		return events.MetaTime
	case HeaderContentType:
		return events.MetaDataContentType
	case "ce_correlationid":
		return events.MetaCorrelationID
	case "ce_causationid":
		return events.MetaCausationID
	case "ce_traceparent":
		return events.MetaTraceParent
	case "ce_partitionkey":
		return events.MetaPartitionKey
	case "ce_sequence":
		return events.MetaSequence
	case "ce_routingkey":
		return events.MetaRoutingKey
	}
	key, _ := metadataKey(header)
	return key
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
	var uuid, route string
	for _, h := range r.Headers {
		v := bytesString(h.Value)
		switch h.Key {
		case HeaderUUID:
			uuid = v
		case HeaderRoute:
			route = v
		default:
			md[internKey(h.Key)] = v
		}
	}
	if uuid == "" {
		uuid = md[events.MetaID]
	}
	if uuid == "" {
		uuid = "kafka:" + r.Topic + "/" + strconv.FormatInt(int64(r.Partition), 10) + "/" +
			strconv.FormatInt(r.Offset, 10)
	}
	rk, ok := md[events.MetaRoutingKey]
	if !ok || rk == "" {
		rk = kind
		if route != "" {
			rk = route
		}
		md[events.MetaRoutingKey] = rk
	}
	if route == "" {
		route = rk
	}
	pk, ok := md[events.MetaPartitionKey]
	if !ok && len(r.Key) > 0 {
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
