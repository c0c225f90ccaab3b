package kafka_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tradebus/tradebus/transport"
	"github.com/tradebus/tradebus/transport/driver"
	"github.com/tradebus/tradebus/transport/kafka"
	"github.com/tradebus/tradebus/transport/kafka/kafkatest"
)

const secret = "s3cret-Passw0rd"

func TestOpenInvalid(t *testing.T) {
	tests := []string{
		"amqp://localhost:9092",
		"kafka://",
		"kafka://localhost",             // no port
		"kafka://localhost:99999",       // bad port
		"kafka://localhost:9092/path",   // path
		"kafka://localhost:9092?nope=1", // unknown parameter
		"kafka://localhost:9092?partitions=x",
		"kafka://localhost:9092?partitions=0",
		"kafka://localhost:9092?partitions=9223372036854775807",
		"kafka://localhost:9092?partitions=1000000000",
		"kafka://localhost:9092?max_message_bytes=9223372036854775807",
		"kafka://localhost:9092?commit_interval=2562047h",
		"kafka://localhost:9092?revoke_timeout=-1s",
		"kafka://localhost:9092?linger=1000000h",
		"kafka://localhost:9092?fetch_max_bytes=9223372036854775807",
		"kafka://localhost:9092?fetch_max_bytes=1",
		"kafka://localhost:9092?delivery_timeout=1ms",
		"kafka://localhost:9092?replication=0",
		"kafka://localhost:9092?prefix=a&prefix=b",
		"kafka://localhost:9092?concurrency=1", // the core's, removed by transport.Open
		"kafka://localhost:9092?commit_interval=soon",
		"kafka://localhost:9092?prefix=a/b",
		"kafka://localhost:9092?create_topics=maybe",
		"kafka://localhost:9092?redelivery_backoff=2s&redelivery_backoff_max=1s",
		"kafka://localhost:9092?heartbeat_interval=20s",
		"kafka://localhost:9092?tls_ca=/does/not/exist",
		"kafka://u:" + secret + "@localhost:9092?sasl=gssapi",
		"kafka://u:" + secret + "@localhost:9092?sasl=scram-sha-256&nope=1",
		"kafka://u@localhost:9092?sasl=plain", // no password
	}
	for _, raw := range tests {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v", raw, err)
		}
		_, err = kafka.Open(context.Background(), u)
		if !errors.Is(err, kafka.ErrInvalidOption) {
			t.Errorf("Open(%q): %v, want an error wrapping ErrInvalidOption", u.Redacted(), err)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("Open(%q): the error contains the password: %v", u.Redacted(), err)
		}
	}
	if d, err := kafka.Open(context.Background(), nil); !errors.Is(err, kafka.ErrInvalidOption) || d != nil {
		t.Errorf("Open(nil): %v, %v", d, err)
	}
	// Through transport.Open: the core's parameters are checked too.
	for _, raw := range []string{
		"kafka://localhost:9092?concurrency=1000000000",
		"kafka://localhost:9092?batch=9223372036854775807",
		"kafka://localhost:9092?concurrency=1&concurrency=2",
		"kafka://localhost:9092?partitions=9223372036854775807",
		"kafka://u:" + secret + "@localhost:9092?nope=1",
	} {
		tt, err := transport.Open(context.Background(), raw)
		if !errors.Is(err, transport.ErrInvalidOption) || tt != nil {
			t.Errorf("transport.Open(%q): %v, want an error wrapping ErrInvalidOption", raw, err)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("transport.Open: the error contains the password: %v", err)
		}
	}
}

func TestNewInvalid(t *testing.T) {
	tests := map[string]struct {
		brokers []string
		opts    []kafka.Option
	}{
		"no brokers":          {nil, nil},
		"bad broker":          {[]string{"localhost"}, nil},
		"nil option":          {[]string{"localhost:9092"}, []kafka.Option{nil}},
		"partitions 0":        {[]string{"localhost:9092"}, []kafka.Option{kafka.WithPartitions(0)}},
		"replication 0":       {[]string{"localhost:9092"}, []kafka.Option{kafka.WithReplicationFactor(0)}},
		"commit interval 0":   {[]string{"localhost:9092"}, []kafka.Option{kafka.WithCommitInterval(0)}},
		"revoke timeout < 0":  {[]string{"localhost:9092"}, []kafka.Option{kafka.WithRevokeTimeout(-1)}},
		"revoke timeout huge": {[]string{"localhost:9092"}, []kafka.Option{kafka.WithRevokeTimeout(1 << 62)}},
		"max bytes small":     {[]string{"localhost:9092"}, []kafka.Option{kafka.WithMaxMessageBytes(10)}},
		"max bytes huge":      {[]string{"localhost:9092"}, []kafka.Option{kafka.WithMaxMessageBytes(1 << 40)}},
		"partitions huge":     {[]string{"localhost:9092"}, []kafka.Option{kafka.WithPartitions(1 << 40)}},
		"join timeout 0":      {[]string{"localhost:9092"}, []kafka.Option{kafka.WithJoinTimeout(0)}},
		"heartbeat too long":  {[]string{"localhost:9092"}, []kafka.Option{kafka.WithGroupTimeouts(6*time.Second, 3*time.Second)}},
		"linger < 0":          {[]string{"localhost:9092"}, []kafka.Option{kafka.WithLinger(-1)}},
		"fetch bytes small":   {[]string{"localhost:9092"}, []kafka.Option{kafka.WithFetchMaxBytes(10)}},
		"fetch bytes huge":    {[]string{"localhost:9092"}, []kafka.Option{kafka.WithFetchMaxBytes(1 << 40)}},
		"delivery 10ms":       {[]string{"localhost:9092"}, []kafka.Option{kafka.WithDeliveryTimeout(10 * time.Millisecond)}},
		"empty client id":     {[]string{"localhost:9092"}, []kafka.Option{kafka.WithClientID("")}},
		"nil TLS":             {[]string{"localhost:9092"}, []kafka.Option{kafka.WithTLS(nil)}},
		"plain no password":   {[]string{"localhost:9092"}, []kafka.Option{kafka.WithSASLPlain("u", "")}},
		"scram bad mech":      {[]string{"localhost:9092"}, []kafka.Option{kafka.WithSASLScram(0, "u", "p")}},
		"nil logger":          {[]string{"localhost:9092"}, []kafka.Option{kafka.WithLogger(nil)}},
		"bad prefix":          {[]string{"localhost:9092"}, []kafka.Option{kafka.WithTopicPrefix("a b")}},
	}
	for name, tc := range tests {
		if _, err := kafka.NewDriver(tc.brokers, tc.opts...); !errors.Is(err, kafka.ErrInvalidOption) {
			t.Errorf("%s: %v, want an error wrapping ErrInvalidOption", name, err)
		}
	}
}

func TestInvalidNames(t *testing.T) {
	drv, err := kafka.NewDriver([]string{"127.0.0.1:1"}) // never contacted
	if err != nil {
		t.Fatal(err)
	}
	tr, err := transport.New(drv)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tr.Close(context.Background()) }()
	var te *kafka.TopicError
	long := strings.Repeat("k", 250)
	err = drv.Prepare(context.Background(), "g", long+".#")
	if !errors.Is(err, kafka.ErrInvalidTopic) || !errors.As(err, &te) || te.Topic != "tradebus."+long {
		t.Errorf("Prepare of a 250-byte kind: %v, want a *TopicError", err)
	}
	err = drv.Topic().SendBatch(context.Background(), []*driver.Message{{Key: long + ".x", Metadata: map[string]string{}}})
	if !errors.Is(err, kafka.ErrInvalidTopic) {
		t.Errorf("SendBatch to a 250-byte kind: %v, want a *TopicError", err)
	}
	if got := drv.TopicName("trade.binance.BTCUSDT"); got != "tradebus.trade" {
		t.Errorf("TopicName = %q, want tradebus.trade", got)
	}
	for _, g := range []string{"", "a:b"} {
		if s, err := tr.Subscriber(g); !errors.Is(err, kafka.ErrInvalidGroup) || s != nil {
			t.Errorf("Subscriber(%q): %v, want ErrInvalidGroup", g, err)
		}
	}
	if got := kafka.GroupID("risk", "trade.*.BTCUSDT"); got != "risk:trade.*.BTCUSDT" {
		t.Errorf("GroupID = %q", got)
	}
	caps := drv.Capabilities()
	if caps.MaxMessageBytes <= 0 || caps.MaxMessageBytes >= kafka.DefaultMaxMessageBytes || caps.Name != "kafka" {
		t.Errorf("capabilities %+v", caps)
	}
}

// selfSigned returns a server certificate for 127.0.0.1 and the PEM file
// of its (self-signed) CA.
func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kfake"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, path
}

// TestOpenTLSAndSASL opens kafka:// URLs with TLS and each SASL mechanism
// against an embedded cluster that requires both, publishes and consumes;
// a wrong password fails Open without the password in the error.
func TestOpenTLSAndSASL(t *testing.T) {
	cert, caFile := selfSigned(t)
	cluster := kafkatest.NewCluster(t, kafkatest.WithKfakeOptions(
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}),
		kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "plainuser", secret),
		kfake.Superuser("SCRAM-SHA-256", "scram256", secret),
		kfake.Superuser("SCRAM-SHA-512", "scram512", secret),
	))
	host := strings.Join(cluster.Brokers(), ",")
	for _, mech := range []struct{ user, param string }{
		{"plainuser", ""}, // SASL PLAIN is the default with user info
		{"scram256", "&sasl=scram-sha-256"},
		{"scram512", "&sasl=SCRAM-SHA-512"},
	} {
		t.Run(mech.user, func(t *testing.T) {
			raw := "kafka://" + mech.user + ":" + secret + "@" + host + "?tls_ca=" + url.QueryEscape(caFile) +
				"&partitions=2&prefix=" + randomName("tls") + "." + mech.param
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			tt, err := transport.Open(ctx, u.String())
			if err != nil {
				t.Fatalf("Open(%s): %v", u.Redacted(), err)
			}
			tr := wrap(t, tt)
			t.Cleanup(func() { _ = tr.Close(context.Background()) })
			ch, _ := subscribe(t, tr, "g", "trade.#")
			sent := newMsg("BTCUSDT", "over TLS")
			publish(t, tr, "trade.binance.BTCUSDT", sent)
			got := recv(t, ch)
			got.Ack()
			if got.UUID != sent.UUID {
				t.Errorf("received %s, want %s", got.UUID, sent.UUID)
			}

			bad := *u
			bad.User = url.UserPassword(mech.user, "wrong-"+secret)
			ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel2()
			if tr2, err := transport.Open(ctx2, bad.String()); err == nil {
				_ = tr2.Close(context.Background())
				t.Error("Open with a wrong password succeeded")
			} else if strings.Contains(err.Error(), secret) {
				t.Errorf("the error contains the password: %v", err)
			} else {
				t.Logf("wrong password: %v", err)
			}
		})
	}
	t.Run("no TLS", func(t *testing.T) {
		u, _ := url.Parse("kafka://plainuser:" + secret + "@" + host)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if tr, err := transport.Open(ctx, u.String()); err == nil {
			_ = tr.Close(context.Background())
			t.Error("Open without TLS against a TLS listener succeeded")
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("the error contains the password: %v", err)
		}
	})
}
