package closeall_test

import (
	"context"
	"fmt"

	"github.com/tradebus/tradebus/transport/internal/closeall"
)

type sub struct{ name string }

func (s *sub) stop(_ context.Context) error {
	if s.name == "b" {
		return fmt.Errorf("close %s: messages still in flight", s.name)
	}
	return nil
}

func ExampleEach() {
	subs := []*sub{{"a"}, {"b"}, {"c"}}
	err := closeall.Each(context.Background(), subs, (*sub).stop)
	fmt.Println(err)
	// Output:
	// close b: messages still in flight
}
