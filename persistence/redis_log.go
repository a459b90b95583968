package persistence

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
)

// SetRedisLogger sends go-redis's own log lines (one per failed dial during
// an outage, among others) to l at debug level; nil discards them. go-redis
// keeps one logger per process, so this affects every Redis client of the
// process: call it once, from main, before opening stores.
func SetRedisLogger(l *slog.Logger) {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	redis.SetLogger(redisLogger{l})
}

type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	if r.l.Enabled(ctx, slog.LevelDebug) {
		r.l.DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
	}
}
