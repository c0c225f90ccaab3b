package kafka_test

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/transport/kafka"
	"github.com/tradebus/tradebus/transport/kafka/kafkatest"
)

// TestPublishCallIsOneRequest: without WithLinger, the records of one
// publish call reach the broker together, once the call has buffered the
// last of them: one produce request (one broker), one record batch per
// partition holding all the call's records of that partition — not the
// first record of a partition alone and the rest behind it. The linger
// is set to one the calls cannot outlast, so that only the calls' end
// sends their records (the first publish, to a topic the producer does
// not know yet, waits it out once).
func TestPublishCallIsOneRequest(t *testing.T) {
	c := kafkatest.NewCluster(t, kafkatest.WithBrokers(1))
	tr := newTransport(t, c.Brokers(), kafka.WithLingerCut(time.Second))
	key := randomName("one") + ".x"
	if err := tr.Publisher().Publish(key, message.NewMessage("warm", []byte("{}"))); err != nil {
		t.Fatal(err)
	}

	type batch struct {
		partition int32
		records   int32
	}
	var (
		mu   sync.Mutex
		reqs [][]batch // the produce requests, each as its record batches
	)
	c.Kfake().ControlKey(int16(kmsg.Produce), func(r kmsg.Request) (kmsg.Response, error, bool) {
		c.Kfake().KeepControl()
		var bs []batch
		for _, rt := range r.(*kmsg.ProduceRequest).Topics {
			for _, rp := range rt.Partitions {
				for raw := rp.Records; len(raw) > 0; {
					var rb kmsg.RecordBatch
					if err := rb.ReadFrom(raw); err != nil {
						t.Errorf("record batch: %v", err)
						break
					}
					bs = append(bs, batch{rp.Partition, rb.NumRecords})
					raw = raw[12+int(rb.Length):] // base offset, length, then the rest
				}
			}
		}
		mu.Lock()
		reqs = append(reqs, bs)
		mu.Unlock()
		return nil, nil, false
	})

	const keys, perKey = 16, 32
	for call := range 3 {
		msgs := make([]*message.Message, 0, keys*perKey)
		for i := range keys * perKey {
			msg := message.NewMessage(strconv.Itoa(call)+"-"+strconv.Itoa(i), []byte("{}"))
			msg.Metadata.Set(events.MetaPartitionKey, "K"+strconv.Itoa(i%keys))
			msgs = append(msgs, msg)
		}
		mu.Lock()
		before := len(reqs)
		mu.Unlock()
		if err := tr.Publisher().Publish(key, msgs...); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		got := reqs[before:]
		mu.Unlock()
		if len(got) != 1 {
			t.Fatalf("call %d: %d produce requests %v, want 1", call, len(got), got)
		}
		seen := map[int32]bool{}
		var n int32
		for _, b := range got[0] {
			if seen[b.partition] {
				t.Fatalf("call %d: partition %d has more than one record batch: %v", call, b.partition, got[0])
			}
			seen[b.partition] = true
			n += b.records
		}
		if n != keys*perKey {
			t.Fatalf("call %d: %d records in the request, want %d", call, n, keys*perKey)
		}
	}
}
