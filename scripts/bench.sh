#!/usr/bin/env bash
# `actorhub bench` at the Socket.IO baseline's one-node loads (../shared/peers/socketio/baseline/table.md),
# against a private redis-server (store redis) and the embedded store (bolt). Prints one markdown table.
#   scripts/bench.sh                      # all four loads, both stores, 20 s each (~4 min)
#   DURATION=10s STORES=redis scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/actorhub}
DURATION=${DURATION:-20s}
STORES=${STORES:-redis bolt}
PORT=${REDIS_PORT:-6393}
[ -x "$BIN" ] || make build >/dev/null
command -v redis-server >/dev/null || { echo "bench.sh: redis-server is needed (apt-get install redis-server)" >&2; exit 1; }
dir=$(mktemp -d)
redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" >/dev/null
trap 'kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
loads=("1000 10000" "5000 10000" "10000 10000" "5000 20000")
header=1
for store in $STORES; do
  for load in "${loads[@]}"; do
    read -r conns delivered <<<"$load"
    args=(--conns "$conns" --jobs 100 --delivered "$delivered" --duration "$DURATION")
    if [ "$store" = redis ]; then
      redis-cli -p "$PORT" flushall >/dev/null
      args+=(--store "redis://127.0.0.1:$PORT/0")
    fi
    echo "bench.sh: store $store, $conns conns, $delivered msg/s delivered" >&2
    out=$("$BIN" bench "${args[@]}" 2>/dev/null)
    if [ $header = 1 ]; then
      echo "$out" | sed -n 1,2p | sed 's/^| config |/| store | config |/; s/^| --- |/| --- | --- |/'
      header=0
    fi
    echo "$out" | sed -n 3p | sed "s/^|/| $store |/"
  done
done
