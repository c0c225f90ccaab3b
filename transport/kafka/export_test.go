package kafka

import "time"

// WithLingerCut sets the producer's linger without WithLinger (default
// defaultLingerCut), for tests that must not see it run out.
func WithLingerCut(d time.Duration) Option {
	return func(c *config) error {
		c.lingerCut = d
		return nil
	}
}
