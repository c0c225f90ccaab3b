package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Scheme is the URL scheme Open accepts.
const Scheme = "kafka"

// Open returns a Transport for the cluster named by a kafka:// URL and
// pings it within ctx. The host lists the seed brokers, comma-separated:
//
//	kafka://broker1:9092,broker2:9092?prefix=prod.&partitions=32
//	kafka://user:secret@broker:9093?tls=true&sasl=scram-sha-512
//
// The user and password authenticate with SASL (sasl=plain by default when
// they are given). Query parameters map to options:
//
//	prefix=P                       WithTopicPrefix(P)
//	partitions=N                   WithPartitions(N)
//	replication=N                  WithReplicationFactor(N)
//	create_topics=true|false       false: WithoutTopicCreation()
//	concurrency=N                  WithConcurrency(N)
//	commit_interval=D              WithCommitInterval(D)
//	redelivery_backoff=D           WithRedeliveryBackoff(D, max)
//	redelivery_backoff_max=D       WithRedeliveryBackoff(initial, D)
//	close_timeout=D                WithCloseTimeout(D)
//	join_timeout=D                 WithJoinTimeout(D)
//	session_timeout=D              WithGroupTimeouts(D, heartbeat)
//	heartbeat_interval=D           WithGroupTimeouts(session, D)
//	linger=D                       WithLinger(D)
//	delivery_timeout=D             WithDeliveryTimeout(D)
//	client_id=S                    WithClientID(S)
//	tls=true|false                 WithTLS (system roots, server name from the host)
//	tls_ca=PATH                    WithTLS trusting the PEM certificates in PATH
//	sasl=plain|scram-sha-256|scram-sha-512
//
// Durations use time.ParseDuration syntax (500ms, 10s). An unknown,
// repeated or malformed parameter is an error wrapping ErrInvalidOption.
// Errors never contain the password.
func Open(ctx context.Context, u *url.URL) (*Transport, error) {
	if u == nil {
		return nil, fmt.Errorf("%w: nil URL", ErrInvalidOption)
	}
	red := u.Redacted()
	if u.Scheme != Scheme {
		return nil, fmt.Errorf("%w: URL %s: scheme %q, want %q", ErrInvalidOption, red, u.Scheme, Scheme)
	}
	if u.Host == "" || u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return nil, fmt.Errorf("%w: URL %s: want kafka://host:port[,host:port][?params]", ErrInvalidOption, red)
	}
	brokers := strings.Split(u.Host, ",")
	opts, err := parseQuery(u)
	if err != nil {
		return nil, fmt.Errorf("kafka: open %s: %w", red, err)
	}
	t, err := New(brokers, opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: open %s: %w", red, err)
	}
	if err := t.Ping(ctx); err != nil {
		_ = t.Close(context.Background())
		return nil, fmt.Errorf("kafka: open %s: %w", red, err)
	}
	return t, nil
}

func parseQuery(u *url.URL) ([]Option, error) {
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("%w: query: %w", ErrInvalidOption, err)
	}
	var (
		opts                []Option
		backoff, backoffMax = DefaultRedeliveryBackoff, DefaultRedeliveryBackoffMax
		backoffSet          bool
		session, heartbeat  = DefaultSessionTimeout, DefaultHeartbeatInterval
		groupSet            bool
		useTLS              bool
		tlsCA               string
		saslMech            string
	)
	for name, values := range query {
		if len(values) != 1 {
			return nil, fmt.Errorf("%w: URL parameter %q given %d times", ErrInvalidOption, name, len(values))
		}
		v := values[0]
		intValue := func() (int, error) {
			n, err := strconv.Atoi(v)
			if err != nil {
				return 0, fmt.Errorf("%w: URL parameter %s=%q: not an integer", ErrInvalidOption, name, v)
			}
			return n, nil
		}
		durValue := func() (time.Duration, error) {
			d, err := time.ParseDuration(v)
			if err != nil {
				return 0, fmt.Errorf("%w: URL parameter %s=%q: not a duration", ErrInvalidOption, name, v)
			}
			return d, nil
		}
		boolValue := func() (bool, error) {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return false, fmt.Errorf("%w: URL parameter %s=%q: want true or false", ErrInvalidOption, name, v)
			}
			return b, nil
		}
		var (
			n   int
			d   time.Duration
			b   bool
			err error
		)
		switch name {
		case "prefix":
			opts = append(opts, WithTopicPrefix(v))
		case "client_id":
			opts = append(opts, WithClientID(v))
		case "partitions", "replication", "concurrency":
			if n, err = intValue(); err != nil {
				return nil, err
			}
			switch name {
			case "partitions":
				opts = append(opts, WithPartitions(n))
			case "replication":
				opts = append(opts, WithReplicationFactor(n))
			default:
				opts = append(opts, WithConcurrency(n))
			}
		case "create_topics", "tls":
			if b, err = boolValue(); err != nil {
				return nil, err
			}
			if name == "tls" {
				useTLS = b
			} else if !b {
				opts = append(opts, WithoutTopicCreation())
			}
		case "commit_interval", "redelivery_backoff", "redelivery_backoff_max", "close_timeout", "join_timeout",
			"session_timeout", "heartbeat_interval", "linger", "delivery_timeout":
			if d, err = durValue(); err != nil {
				return nil, err
			}
			switch name {
			case "commit_interval":
				opts = append(opts, WithCommitInterval(d))
			case "redelivery_backoff":
				backoff, backoffSet = d, true
			case "redelivery_backoff_max":
				backoffMax, backoffSet = d, true
			case "close_timeout":
				opts = append(opts, WithCloseTimeout(d))
			case "join_timeout":
				opts = append(opts, WithJoinTimeout(d))
			case "session_timeout":
				session, groupSet = d, true
			case "heartbeat_interval":
				heartbeat, groupSet = d, true
			case "linger":
				opts = append(opts, WithLinger(d))
			default:
				opts = append(opts, WithDeliveryTimeout(d))
			}
		case "tls_ca":
			tlsCA, useTLS = v, true
		case "sasl":
			saslMech = strings.ToLower(v)
		default:
			return nil, fmt.Errorf("%w: unknown URL parameter %q", ErrInvalidOption, name)
		}
	}
	if backoffSet {
		opts = append(opts, WithRedeliveryBackoff(backoff, backoffMax))
	}
	if groupSet {
		opts = append(opts, WithGroupTimeouts(session, heartbeat))
	}
	if useTLS {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if tlsCA != "" {
			pem, err := os.ReadFile(tlsCA)
			if err != nil {
				return nil, fmt.Errorf("%w: URL parameter tls_ca: %w", ErrInvalidOption, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%w: URL parameter tls_ca=%q: no PEM certificate", ErrInvalidOption, tlsCA)
			}
			cfg.RootCAs = pool
		}
		opts = append(opts, WithTLS(cfg))
	}
	user, pass := "", ""
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
	}
	switch {
	case saslMech == "" && user == "":
	case saslMech == "" || saslMech == "plain":
		opts = append(opts, WithSASLPlain(user, pass))
	case saslMech == "scram-sha-256":
		opts = append(opts, WithSASLScram(ScramSHA256, user, pass))
	case saslMech == "scram-sha-512":
		opts = append(opts, WithSASLScram(ScramSHA512, user, pass))
	default:
		return nil, fmt.Errorf("%w: URL parameter sasl=%q, want plain, scram-sha-256 or scram-sha-512", ErrInvalidOption, saslMech)
	}
	return opts, nil
}
