package outbox_test

import (
	"os"
	"strings"
	"testing"
)

// The README's outbox snippet is the source of placeOrder and
// runRelayExample in example_test.go, which compile.
func TestReadmeShowsTheExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"func placeOrder(", "func runRelayExample("} {
		i := strings.Index(string(src), name)
		if i < 0 {
			t.Fatalf("example_test.go has no %s", name)
		}
		j := strings.Index(string(src[i:]), "\n}\n")
		fn := string(src[i : i+j+2])
		if !strings.Contains(string(readme), fn) {
			t.Errorf("README does not show, verbatim:\n%s", fn)
		}
	}
}
