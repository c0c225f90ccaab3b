package amqp

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/driver"
)

// MetaPriority is the metadata key whose value (0..255, decimal; empty means
// none) becomes the AMQP priority of a published message. Another value
// fails the Publish. It only has an effect on queues declared with
// WithMaxPriority.
const MetaPriority = "priority"

// maxShortStr is the AMQP limit of a short string property, in bytes.
const maxShortStr = 255

// toPublishing turns a driver message into an AMQP publishing: the
// metadata as string headers (the one copy of the metadata a publish
// makes), persistent, message_id = event id (metadata "id", else the
// message UUID), content type, correlation id, type and timestamp from the
// CloudEvents metadata. Three metadata entries that AMQP carries in a field
// of its own are not repeated as headers (see carried).
func toPublishing(dm *driver.Message) (amqp.Publishing, error) {
	md := dm.Metadata
	headers := make(amqp.Table, len(md))
	for k, v := range md {
		if len(k) > maxShortStr {
			return amqp.Publishing{}, fmt.Errorf("amqp: message %s: metadata key longer than %d bytes", dm.UUID, maxShortStr)
		}
		if !carried(k, v, dm.Key) {
			headers[k] = v
		}
	}
	id := md[events.MetaID]
	if id == "" {
		id = dm.UUID
	}
	p := amqp.Publishing{
		Headers:       headers,
		ContentType:   shortStr(md[events.MetaDataContentType]),
		DeliveryMode:  amqp.Persistent,
		MessageId:     shortStr(id),
		CorrelationId: shortStr(md[events.MetaCorrelationID]),
		Type:          shortStr(md[events.MetaType]),
		Body:          dm.Payload,
	}
	if ts, ok := md[events.MetaTime]; ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			p.Timestamp = t
		}
	}
	if p.Timestamp.IsZero() {
		p.Timestamp = time.Now()
	}
	if s := md[MetaPriority]; s != "" {
		n, err := strconv.ParseUint(s, 10, 8)
		if err != nil {
			return amqp.Publishing{}, fmt.Errorf("amqp: message %s: metadata %s=%q is not an integer in 0..255", dm.UUID, MetaPriority, s)
		}
		p.Priority = uint8(n)
	}
	return p, nil
}

// carried reports whether the metadata entry k=v of a message published
// with routing key key travels in an AMQP field rather than as a header:
// "datacontenttype" as content_type and "correlationid" as correlation_id
// (when short-string properties can hold them), "routingkey" as the
// routing key when it is the one the message is published with.
// fromDelivery puts them back into the metadata. Each header costs
// amqp091-go about ten allocations to decode and five to encode, the
// larger part of a message's cost on either side.
func carried(k, v, key string) bool {
	switch k {
	case events.MetaDataContentType, events.MetaCorrelationID:
		return v != "" && len(v) <= maxShortStr
	case events.MetaRoutingKey:
		return v == key
	}
	return false
}

// headerFrameSize is the size of the content-header frame of p as
// amqp091-go writes it (string headers only, as toPublishing makes them):
// 7 bytes of frame header, class, weight, body size and property flags
// (14), the properties toPublishing sets, and the frame end byte.
func headerFrameSize(p *amqp.Publishing) int {
	n := 7 + 14 + 1
	if len(p.Headers) > 0 {
		n += 4 // table length
		for k, v := range p.Headers {
			n += 1 + len(k) + 1 // key, type tag
			if s, ok := v.(string); ok {
				n += 4 + len(s)
			} else {
				n += 32 // not made by toPublishing; a generous bound
			}
		}
	}
	for _, s := range []string{p.ContentType, p.MessageId, p.CorrelationId, p.Type} {
		if s != "" {
			n += 1 + len(s)
		}
	}
	n += 1 + 1 + 8 // delivery mode, priority, timestamp
	return n
}

// shortStr drops values an AMQP short-string property cannot hold; the
// header keeps the full value.
func shortStr(s string) string {
	if len(s) > maxShortStr {
		return ""
	}
	return s
}

// fromDelivery fills dm from a delivery. It never fails: a header of any
// type becomes a string (see headerString), so a message from a foreign
// producer is consumed rather than rejected and redelivered. The metadata
// map is the one copy of the headers a delivery costs. The UUID is the
// AMQP message_id, else the "id" header, else a new UUIDv7. Key is the
// delivery's routing key; metadata "routingkey" is the same unless the
// message carries one; "datacontenttype" and "correlationid" are taken
// from the AMQP properties when the headers lack them (toPublishing sends
// them there only). Deliveries is the quorum queue's x-delivery-count plus
// one; on a classic queue it is 1 for a first delivery and 0 (unknown) for
// a redelivery.
func fromDelivery(d *amqp.Delivery, dm *driver.Message) {
	md := make(map[string]string, len(d.Headers)+3)
	for k, v := range d.Headers {
		if s, ok := v.(string); ok {
			md[k] = s
		} else {
			md[k] = headerString(v)
		}
	}
	if _, ok := md[events.MetaRoutingKey]; !ok {
		md[events.MetaRoutingKey] = d.RoutingKey
	}
	if _, ok := md[events.MetaDataContentType]; !ok && d.ContentType != "" {
		md[events.MetaDataContentType] = d.ContentType
	}
	if _, ok := md[events.MetaCorrelationID]; !ok && d.CorrelationId != "" {
		md[events.MetaCorrelationID] = d.CorrelationId
	}
	id := d.MessageId
	if id == "" {
		id = md[events.MetaID]
	}
	if id == "" {
		id = newUUID()
	}
	deliveries := 1
	switch c := d.Headers["x-delivery-count"].(type) {
	case int64:
		deliveries = int(c) + 1
	case int32:
		deliveries = int(c) + 1
	default:
		if d.Redelivered {
			deliveries = 0
		}
	}
	key := d.RoutingKey
	if rk := md[events.MetaRoutingKey]; d.Exchange == "" && rk != "" {
		// Sent to this queue by name (the default exchange), as Browse
		// puts messages back: the routing key is in the metadata.
		key = rk
	}
	*dm = driver.Message{
		UUID:         id,
		Key:          key,
		PartitionKey: md[events.MetaPartitionKey],
		Metadata:     md,
		Payload:      d.Body,
		Deliveries:   deliveries,
	}
}

func newUUID() string {
	if u, err := uuid.NewV7(); err == nil {
		return u.String()
	}
	return uuid.NewString()
}

// headerString renders an AMQP field value as a string: strings as they
// are, numbers and booleans in Go's shortest decimal form, timestamps as
// RFC 3339 (UTC), decimals exactly ("123.45"), byte arrays as text when they
// are UTF-8 and as standard base64 otherwise, tables and arrays as JSON, and
// a void value as "".
func headerString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return bytesString(x)
	case bool:
		return strconv.FormatBool(x)
	case int8:
		return strconv.FormatInt(int64(x), 10)
	case int16:
		return strconv.FormatInt(int64(x), 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case uint8:
		return strconv.FormatUint(uint64(x), 10)
	case uint16:
		return strconv.FormatUint(uint64(x), 10)
	case uint32:
		return strconv.FormatUint(uint64(x), 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case uint:
		return strconv.FormatUint(uint64(x), 10)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case amqp.Decimal:
		return decimalString(x)
	case amqp.Table, []any:
		b, err := json.Marshal(jsonValue(x))
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	default:
		return fmt.Sprint(x)
	}
}

func bytesString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func decimalString(d amqp.Decimal) string {
	neg := d.Value < 0
	abs := strconv.FormatInt(int64(d.Value), 10)
	if neg {
		abs = abs[1:]
	}
	if s := int(d.Scale); s > 0 {
		if len(abs) <= s {
			abs = strings.Repeat("0", s-len(abs)+1) + abs
		}
		abs = abs[:len(abs)-s] + "." + abs[len(abs)-s:]
	}
	if neg {
		return "-" + abs
	}
	return abs
}

// jsonValue converts a nested AMQP value into one encoding/json accepts
// and renders faithfully.
func jsonValue(v any) any {
	switch x := v.(type) {
	case amqp.Table:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = jsonValue(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = jsonValue(e)
		}
		return a
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return headerString(x)
		}
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return headerString(x)
		}
		return x
	case nil, string, bool, int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, uint:
		return x
	default:
		return headerString(x)
	}
}
