package dlqcli

import (
	"io"
	"strings"
	"testing"
)

// The flag and environment names are those of every tradebus program:
// -url / TRADEBUS_URL; -group is the failing group, -reader the reading one.
func TestFlagNames(t *testing.T) {
	t.Setenv("TRADEBUS_URL", "mem://")
	o, err := parseFlags("list", []string{"-group", "portfolio"}, io.Discard)
	if err != nil || o.url != "mem://" || o.q.Topic != "deadletter.portfolio" || o.q.group() != "dlq" {
		t.Fatalf("%+v %v", o, err)
	}
	o, err = parseFlags("init", []string{"-url", "amqp://h/", "-group", "risk", "-reader", "ops"}, io.Discard)
	if err != nil || o.url != "amqp://h/" || o.q.Topic != "deadletter.risk" || o.q.group() != "ops" {
		t.Fatalf("%+v %v", o, err)
	}
	o, err = parseFlags("replay", []string{"-topic", "deadletter.exec"}, io.Discard)
	if err != nil || o.q.Topic != "deadletter.exec" || o.q.group() != "dlq" {
		t.Fatalf("%+v %v", o, err)
	}
	// -group with the topic it implies is fine; with another one it is the
	// old meaning of -group (the reading group), refused with a pointer.
	if _, err := parseFlags("list", []string{"-group", "exec", "-topic", "deadletter.exec"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	_, err = parseFlags("list", []string{"-topic", "deadletter.exec", "-group", "dlq"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "-reader") {
		t.Fatalf("old -group usage: %v", err)
	}
	for _, args := range [][]string{{}, {"-group", "a.b"}, {"-group", "x", "-reader", "a b"}} {
		if _, err := parseFlags("list", args, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	t.Setenv("TRADEBUS_URL", "")
	if _, err := parseFlags("list", []string{"-group", "x"}, io.Discard); err == nil || !strings.Contains(err.Error(), "TRADEBUS_URL") {
		t.Fatalf("no URL: %v", err)
	}
}

func TestUsageNamesTheFlags(t *testing.T) {
	code, _, errOut := cli(nil)
	if code != 2 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"-url URL -group GROUP [-reader dlq]", "deadletter.GROUP", "$TRADEBUS_URL"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("usage lacks %q:\n%s", want, errOut)
		}
	}
}
