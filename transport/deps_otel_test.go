package transport_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestInstrumentationLinksOnlyTheAPI: the core's tracing and metrics link
// the OpenTelemetry API alone — no SDK, no exporter, no Prometheus client,
// and not net/http (which OpenTelemetry's propagation package would bring:
// +2.4 MB in a mem-only binary). The application picks and links those.
func TestInstrumentationLinksOnlyTheAPI(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/tradebus/tradebus/transport/mem",
		"github.com/tradebus/tradebus/middleware", "github.com/tradebus/tradebus/subscriber",
		"github.com/tradebus/tradebus/publisher").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	var api bool
	for _, p := range deps {
		switch {
		case p == "go.opentelemetry.io/otel/trace":
			api = true
		case p == "net/http", strings.HasPrefix(p, "go.opentelemetry.io/otel/sdk"),
			strings.HasPrefix(p, "go.opentelemetry.io/otel/exporters"), strings.HasPrefix(p, "go.opentelemetry.io/otel/propagation"),
			strings.HasPrefix(p, "github.com/prometheus/"):
			t.Errorf("a mem-only service links %s", p)
		}
	}
	if !api {
		t.Error("go.opentelemetry.io/otel/trace not linked: is the core still instrumented?")
	}
}
