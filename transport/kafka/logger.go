package kafka

import (
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kslog"
)

// clientLogger is the franz-go client's logger: the driver's slog logger
// (kslog), at most at warning level — the client's info and debug lines
// (every connection, metadata refresh and rebalance step) would drown a
// service's log.
type clientLogger struct{ *kslog.Logger }

func (l clientLogger) Level() kgo.LogLevel { return min(l.Logger.Level(), kgo.LogLevelWarn) }
