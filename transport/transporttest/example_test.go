package transporttest_test

import (
	"fmt"
	"strings"

	"github.com/tradebus/tradebus/transport/transporttest"
)

// A driver's conformance test (in package amqp_test, say) looks like
//
//	func TestConformance(t *testing.T) {
//		transporttest.Run(t, func(t *testing.T) transport.Transport {
//			drv, err := amqp.NewDriver(url, amqp.WithExchange(transporttest.UniqueName("tbx")))
//			if err != nil {
//				t.Fatal(err)
//			}
//			tr, err := transport.New(drv) // the portable core on the driver
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { _ = tr.Close(context.Background()) /* and delete the exchange */ })
//			return tr
//		}, transporttest.Capabilities{ParallelKeys: true, OrderAfterNack: true, DurableGroups: true, URL: url})
//	}
//
// UniqueName gives the broker-side names that keep parallel tests apart.
func ExampleUniqueName() {
	name := transporttest.UniqueName("tbx")
	fmt.Println(strings.HasPrefix(name, "tbx"), len(name))
	// Output: true 15
}
