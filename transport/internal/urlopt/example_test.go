package urlopt_test

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/tradebus/tradebus/transport/internal/urlopt"
)

func Example() {
	errInvalidOption := errors.New("invalid option")
	q, _ := url.ParseQuery("concurrency=8&pull_wait=soon")
	n, _ := urlopt.Int(errInvalidOption, "concurrency", q.Get("concurrency"))
	fmt.Println(n)
	_, err := urlopt.Duration(errInvalidOption, "pull_wait", q.Get("pull_wait"))
	fmt.Println(errors.Is(err, errInvalidOption))
	// Output:
	// 8
	// true
}
