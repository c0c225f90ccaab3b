package subscriber_test

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeQuickstartIsExampleGroup: the README's Quickstart is the body
// of ExampleGroup (which go test compiles and runs), line for line.
func TestReadmeQuickstartIsExampleGroup(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	quick := string(readme)[strings.Index(string(readme), "## Quickstart"):]
	blocks := strings.Split(quick, "```go\n")
	if len(blocks) < 3 {
		t.Fatal("README Quickstart: no second go block")
	}
	snippet := blocks[2][:strings.Index(blocks[2], "```")]
	body := string(src)[strings.Index(string(src), "func ExampleGroup() {"):]
	body = body[strings.Index(body, "\n")+1 : strings.Index(body, "\t// Output:")]
	var want []string
	for _, l := range strings.Split(body, "\n") {
		want = append(want, strings.TrimPrefix(l, "\t"))
	}
	if got := strings.TrimSpace(snippet); got != strings.TrimSpace(strings.Join(want, "\n")) {
		t.Errorf("README Quickstart differs from ExampleGroup:\n--- README\n%s\n--- ExampleGroup\n%s", got, strings.Join(want, "\n"))
	}
}
