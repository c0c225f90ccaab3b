package transport_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDriversLinkOnlyTheirClient: importing package transport and one
// driver links that driver's broker client and no other (drivers register
// themselves; transport/all imports them all). A mem-only service binary
// went from 18.4 MB (every client linked) to 3.8 MB.
func TestDriversLinkOnlyTheirClient(t *testing.T) {
	clients := map[string]string{
		"amqp":        "github.com/rabbitmq/amqp091-go",
		"kafka":       "github.com/twmb/franz-go/pkg/kgo",
		"redisstream": "github.com/redis/go-redis/v9",
		"nats":        "github.com/nats-io/nats.go",
	}
	for _, drv := range []string{"mem", "amqp", "kafka", "redisstream", "nats"} {
		out, err := exec.Command("go", "list", "-deps", "github.com/tradebus/tradebus/transport/"+drv).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps transport/%s: %v\n%s", drv, err, out)
		}
		deps := map[string]bool{}
		for _, p := range strings.Fields(string(out)) {
			deps[p] = true
		}
		for other, client := range clients {
			if got, want := deps[client], other == drv; got != want {
				t.Errorf("transport/%s links %s: %v, want %v", drv, client, got, want)
			}
		}
	}
}
