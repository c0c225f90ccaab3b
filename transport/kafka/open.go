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

	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/internal/urlopt"
)

// Scheme is the URL scheme Open accepts.
const Scheme = "kafka"

// Open returns the Driver for the cluster named by a kafka:// URL and
// pings it within ctx; it is the opener transport.Open uses for the kafka
// scheme (import this package, or transport/all). The host lists the seed
// brokers, comma-separated:
//
//	kafka://broker1:9092,broker2:9092?prefix=prod.&partitions=32
//	kafka://user:secret@broker:9093?tls=true&sasl=scram-sha-512
//
// The user and password authenticate with SASL (sasl=plain by default when
// they are given). The core's parameters (concurrency, batch,
// redelivery_backoff, redelivery_backoff_max, close_timeout) are parsed by
// transport.Open; the driver's own map to options:
//
//	prefix=P                       WithTopicPrefix(P)
//	partitions=N                   WithPartitions(N)
//	replication=N                  WithReplicationFactor(N)
//	create_topics=true|false       false: WithoutTopicCreation()
//	commit_interval=D              WithCommitInterval(D)
//	revoke_timeout=D               WithRevokeTimeout(D)
//	join_timeout=D                 WithJoinTimeout(D)
//	session_timeout=D              WithGroupTimeouts(D, heartbeat)
//	heartbeat_interval=D           WithGroupTimeouts(session, D)
//	linger=D                       WithLinger(D)
//	delivery_timeout=D             WithDeliveryTimeout(D)
//	max_message_bytes=N            WithMaxMessageBytes(N)
//	fetch_max_bytes=N              WithFetchMaxBytes(N)
//	client_id=S                    WithClientID(S)
//	tls=true|false                 WithTLS (system roots, server name from the host)
//	tls_ca=PATH                    WithTLS trusting the PEM certificates in PATH
//	sasl=plain|scram-sha-256|scram-sha-512
//
// Durations use time.ParseDuration syntax (500ms, 10s). An unknown,
// repeated, malformed or out-of-bounds parameter is an error wrapping
// transport.ErrInvalidOption. Errors never contain the password.
func Open(ctx context.Context, u *url.URL) (driver.Driver, error) {
	d, err := OpenDriver(ctx, u)
	if err != nil {
		return nil, err // never a non-nil interface holding a nil pointer
	}
	return d, nil
}

// OpenDriver is Open returning the concrete type.
func OpenDriver(ctx context.Context, u *url.URL) (*Driver, error) {
	return openDriver(ctx, u, nil)
}

// openDriver is OpenDriver with extra options after the URL's.
func openDriver(ctx context.Context, u *url.URL, extra []Option) (*Driver, error) {
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
	d, err := NewDriver(brokers, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka: open %s: %w", red, err)
	}
	if err := d.Ping(ctx); err != nil {
		_ = d.Close(context.Background())
		return nil, fmt.Errorf("kafka: open %s: %w", red, err)
	}
	return d, nil
}

func parseQuery(u *url.URL) ([]Option, error) {
	query, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("%w: query: %w", ErrInvalidOption, err)
	}
	var (
		opts               []Option
		session, heartbeat = DefaultSessionTimeout, DefaultHeartbeatInterval
		groupSet           bool
		useTLS             bool
		tlsCA              string
		saslMech           string
	)
	inv := ErrInvalidOption
	for name, values := range query {
		if err := urlopt.Once(inv, name, values); err != nil {
			return nil, err
		}
		v := values[0]
		boolValue := func() (bool, error) {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return false, urlopt.Invalid(inv, name, v, err)
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
		case "partitions":
			if n, err = urlopt.IntIn(inv, name, v, 1, MaxPartitions); err == nil {
				opts = append(opts, WithPartitions(n))
			}
		case "replication":
			if n, err = urlopt.IntIn(inv, name, v, -1, 32767); err == nil {
				opts = append(opts, WithReplicationFactor(n))
			}
		case "max_message_bytes":
			if n, err = urlopt.IntIn(inv, name, v, MinMessageBytes, MaxMessageBytes); err == nil {
				opts = append(opts, WithMaxMessageBytes(n))
			}
		case "fetch_max_bytes":
			if n, err = urlopt.IntIn(inv, name, v, MinFetchBytes, MaxFetchBytes); err == nil {
				opts = append(opts, WithFetchMaxBytes(n))
			}
		case "create_topics":
			if b, err = boolValue(); err == nil && !b {
				opts = append(opts, WithoutTopicCreation())
			}
		case "tls":
			useTLS, err = boolValue()
		case "commit_interval":
			if d, err = urlopt.DurationIn(inv, name, v, time.Millisecond, MaxTimeout); err == nil {
				opts = append(opts, WithCommitInterval(d))
			}
		case "revoke_timeout":
			if d, err = urlopt.DurationIn(inv, name, v, 0, MaxTimeout); err == nil {
				opts = append(opts, WithRevokeTimeout(d))
			}
		case "join_timeout":
			if d, err = urlopt.DurationIn(inv, name, v, time.Millisecond, MaxTimeout); err == nil {
				opts = append(opts, WithJoinTimeout(d))
			}
		case "session_timeout":
			session, err = urlopt.DurationIn(inv, name, v, time.Millisecond, MaxTimeout)
			groupSet = true
		case "heartbeat_interval":
			heartbeat, err = urlopt.DurationIn(inv, name, v, time.Millisecond, MaxTimeout)
			groupSet = true
		case "linger":
			if d, err = urlopt.DurationIn(inv, name, v, 0, time.Minute); err == nil {
				opts = append(opts, WithLinger(d))
			}
		case "delivery_timeout":
			if d, err = urlopt.Duration(inv, name, v); err == nil {
				opts = append(opts, WithDeliveryTimeout(d))
			}
		case "tls_ca":
			tlsCA, useTLS = v, true
		case "sasl":
			saslMech = strings.ToLower(v)
		default:
			return nil, fmt.Errorf("%w: unknown URL parameter %q", inv, name)
		}
		if err != nil {
			return nil, err
		}
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
