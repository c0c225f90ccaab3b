package main

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/tradebus/tradebus/events"
	"github.com/tradebus/tradebus/internal/brokerns"
	"github.com/tradebus/tradebus/transport"
	_ "github.com/tradebus/tradebus/transport/all"
	"github.com/tradebus/tradebus/transport/kafka/kafkatest"
)

// openBroker opens the transport named by raw and returns a func that
// closes it (and anything started for it).
//
// "kafka://" without a host starts an embedded, in-process Kafka cluster
// (kfake, the real wire protocol) for the run.
func openBroker(ctx context.Context, raw string, opts ...transport.Option) (*broker, func(), error) {
	stop := func() {}
	if u, err := url.Parse(raw); err == nil && u.Scheme == "kafka" && u.Host == "" {
		cluster, err := kafkatest.Start()
		if err != nil {
			return nil, nil, fmt.Errorf("embedded kafka: %w", err)
		}
		stop = cluster.Close
		raw = cluster.URL()
		if u.RawQuery != "" {
			raw += "?" + u.RawQuery
		}
	}
	tr, err := transport.Open(ctx, raw, opts...)
	if err != nil {
		stop()
		return nil, nil, err
	}
	name := raw
	if u, err := url.Parse(raw); err == nil {
		name = u.Scheme
	}
	closeFn := func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tr.Close(cctx)
		stop()
	}
	return &broker{Transport: tr, Name: name}, closeFn, nil
}

// namespaceParam is, per URL scheme, the parameter that gives a run its
// own names on a shared broker: the exchange on RabbitMQ (queues are
// "<exchange>.<group>.<pattern>"), the stream, subject or topic prefix
// elsewhere. mem:// has none.
var namespaceParam = map[string]string{
	"amqp": "exchange", "amqps": "exchange",
	"redis": "prefix", "rediss": "prefix",
	"nats": "prefix", "tls": "prefix",
	"kafka": "prefix",
}

// namespaced returns raw with the run's namespace ns set, unless ns is ""
// or the URL sets the parameter itself.
func namespaced(raw, ns string) (string, error) {
	if ns == "" {
		return raw, nil
	}
	if err := events.ValidateSegment(ns); err != nil {
		return "", fmt.Errorf("namespace %q: %w", ns, err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return raw, nil // transport.Open says what is wrong with it
	}
	param := namespaceParam[u.Scheme]
	if param == "" || u.Query().Has(param) {
		return raw, nil
	}
	return brokerns.Apply(raw, ns)
}
