package urlopt_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tradebus/tradebus/transport/internal/urlopt"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errInvalid = errors.New("invalid option")

func TestOnce(t *testing.T) {
	if err := urlopt.Once(errInvalid, "a", []string{"1"}); err != nil {
		t.Errorf("one value: %v", err)
	}
	for _, vs := range [][]string{nil, {"1", "2"}} {
		err := urlopt.Once(errInvalid, "a", vs)
		if !errors.Is(err, errInvalid) {
			t.Errorf("%d values: %v, want %v", len(vs), err, errInvalid)
		}
	}
}

func TestParse(t *testing.T) {
	if n, err := urlopt.Int(errInvalid, "n", "-12"); err != nil || n != -12 {
		t.Errorf("Int: %d, %v", n, err)
	}
	if n, err := urlopt.Int64(errInvalid, "n", "9000000000"); err != nil || n != 9_000_000_000 {
		t.Errorf("Int64: %d, %v", n, err)
	}
	if d, err := urlopt.Duration(errInvalid, "d", "1m30s"); err != nil || d != 90*time.Second {
		t.Errorf("Duration: %s, %v", d, err)
	}
	for name, err := range map[string]error{
		"Int":      second(urlopt.Int(errInvalid, "n", "1.5")),
		"Int64":    second(urlopt.Int64(errInvalid, "n", "x")),
		"Duration": second(urlopt.Duration(errInvalid, "d", "10")),
	} {
		if !errors.Is(err, errInvalid) {
			t.Errorf("%s: %v does not wrap %v", name, err, errInvalid)
		}
	}
	var numErr *strconv.NumError
	if err := second(urlopt.Int(errInvalid, "n", "x")); !errors.As(err, &numErr) || numErr.Num != "x" {
		t.Errorf("Int: %v does not wrap the parse error", err)
	}
	if err := second(urlopt.Duration(errInvalid, "d", "x")); err.Error() != `invalid option: d="x": time: invalid duration "x"` {
		t.Errorf("Duration error %q", err)
	}
}

func second[T any](_ T, err error) error { return err }

func TestBackoff(t *testing.T) {
	const defI, defM = 10 * time.Millisecond, time.Second
	for _, tc := range []struct {
		initial, max, wantI, wantM time.Duration
		ok                         bool
	}{
		{0, 0, 0, 0, false},
		{time.Millisecond, 0, time.Millisecond, defM, true},
		{5 * time.Second, 0, 5 * time.Second, 5 * time.Second, true},
		{0, 2 * time.Second, defI, 2 * time.Second, true},
		{0, time.Millisecond, defI, time.Millisecond, true}, // New rejects it
		{time.Millisecond, 3 * time.Millisecond, time.Millisecond, 3 * time.Millisecond, true},
	} {
		i, m, ok := urlopt.Backoff(tc.initial, tc.max, defI, defM)
		if i != tc.wantI || m != tc.wantM || ok != tc.ok {
			t.Errorf("Backoff(%s, %s) = %s, %s, %v; want %s, %s, %v",
				tc.initial, tc.max, i, m, ok, tc.wantI, tc.wantM, tc.ok)
		}
	}
}
