// Package brokerns gives a run its own namespace on a shared broker and
// removes everything created under it afterwards. Tests, the trading
// example's cross-transport test and the benchmark tool use it, so that
// nothing is left behind on the shared brokers.
package brokerns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Subscription is a (consumer group, pattern) pair a run subscribed; on
// RabbitMQ it names a queue.
type Subscription struct{ Group, Pattern string }

// Unique returns a fresh namespace name ("tbns" + 8 hex digits), valid as
// an exchange, prefix and stream-name part on every transport.
func Unique() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "tbns" + hex.EncodeToString(b)
}

// Apply returns rawURL with the transport's namespace parameter set: the
// exchange on RabbitMQ, the topic/stream/subject prefix elsewhere. mem://
// needs none.
func Apply(rawURL, ns string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", errors.New("brokerns: cannot parse URL")
	}
	q := u.Query()
	switch u.Scheme {
	case "mem":
		return rawURL, nil
	case "amqp", "amqps":
		q.Set("exchange", ns)
	case "redis", "rediss":
		q.Set("prefix", ns+":")
	case "nats", "tls":
		q.Set("prefix", ns)
	case "kafka":
		q.Set("prefix", ns+".")
	default:
		return "", fmt.Errorf("brokerns: unknown scheme %q", u.Scheme)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Remove deletes what a run under namespace ns created on the broker of
// rawURL (the URL without the namespace parameter): RabbitMQ queues of subs
// and the exchange, Redis streams, JetStream streams, Kafka topics.
func Remove(ctx context.Context, rawURL, ns string, subs []Subscription) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return errors.New("brokerns: cannot parse URL")
	}
	base := *u
	base.RawQuery = ""
	switch u.Scheme {
	case "mem":
		return nil
	case "amqp", "amqps":
		conn, err := amqp091.Dial(base.String())
		if err != nil {
			return fmt.Errorf("brokerns: amqp dial %s: %w", base.Redacted(), err)
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			return err
		}
		defer ch.Close()
		var errs []error
		for _, s := range subs {
			if _, err := ch.QueueDelete(ns+"."+s.Group+"."+s.Pattern, false, false, false); err != nil {
				errs = append(errs, err)
			}
		}
		if err := ch.ExchangeDelete(ns, false, false); err != nil {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	case "redis", "rediss":
		opt, err := redis.ParseURL(base.String())
		if err != nil {
			return errors.New("brokerns: bad redis URL")
		}
		c := redis.NewClient(opt)
		defer c.Close()
		var keys []string
		iter := c.Scan(ctx, 0, ns+":*", 100).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			return err
		}
		if len(keys) == 0 {
			return nil
		}
		return c.Del(ctx, keys...).Err()
	case "nats", "tls":
		nc, err := natsgo.Connect(base.String())
		if err != nil {
			return fmt.Errorf("brokerns: nats connect %s: %w", base.Redacted(), err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return err
		}
		names := js.StreamNames(ctx)
		var del []string
		for n := range names.Name() {
			if strings.HasPrefix(n, ns+"_") {
				del = append(del, n)
			}
		}
		if err := names.Err(); err != nil {
			return err
		}
		var errs []error
		for _, n := range del {
			errs = append(errs, js.DeleteStream(ctx, n))
		}
		return errors.Join(errs...)
	case "kafka":
		cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(u.Host, ",")...))
		if err != nil {
			return err
		}
		defer cl.Close()
		adm := kadm.NewClient(cl)
		topics, err := adm.ListTopics(ctx)
		if err != nil {
			return err
		}
		var del []string
		for _, name := range topics.Names() {
			if strings.HasPrefix(name, ns+".") {
				del = append(del, name)
			}
		}
		if len(del) == 0 {
			return nil
		}
		_, err = adm.DeleteTopics(ctx, del...)
		return err
	}
	return fmt.Errorf("brokerns: unknown scheme %q", u.Scheme)
}
