package transport_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tradebus/tradebus/transport"
	_ "github.com/tradebus/tradebus/transport/all"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestOpenMem(t *testing.T) {
	ctx := context.Background()
	tr, err := transport.Open(ctx, "mem://")
	require.NoError(t, err)
	require.NotNil(t, tr.Publisher())
	sub, err := tr.Subscriber("g")
	require.NoError(t, err)
	require.NotNil(t, sub)
	require.NoError(t, tr.Close(ctx))
	require.NoError(t, tr.Close(ctx), "Close is idempotent")
}

func TestOpenRejectsBadURLs(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		url  string
		want error
	}{
		"unknown scheme":        {"carrier-pigeon://coop:4/", transport.ErrUnknownScheme},
		"no scheme":             {"localhost:5672", transport.ErrInvalidURL},
		"empty":                 {"", transport.ErrInvalidURL},
		"malformed":             {"amqp://user:s3cret@[::1", transport.ErrInvalidURL},
		"unknown with password": {"zmq://user:s3cret@host/", transport.ErrUnknownScheme},
		"no slashes, password":  {"amqp//user:s3cret@host", transport.ErrInvalidURL},
		"opaque, password":      {"amqp:user:s3cret@host", transport.ErrInvalidURL},
	} {
		t.Run(name, func(t *testing.T) {
			tr, err := transport.Open(ctx, tc.url)
			require.Nil(t, tr)
			require.ErrorIs(t, err, tc.want)
			require.NotContains(t, err.Error(), "s3cret", "credentials never appear in errors")
		})
	}
}

func TestOpenMemRejectsUnknownParameter(t *testing.T) {
	_, err := transport.Open(context.Background(), "mem://?colour=blue")
	require.Error(t, err)
	require.Contains(t, err.Error(), "colour")
}
