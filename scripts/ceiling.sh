#!/usr/bin/env bash
# The ceiling sweep (issue 11, goal 4): the highest delivered rate ONE node sustains with p99 <= 50 ms,
# for J = 100 (many clients on each job) and J = C (one job per client), against the peers, with the
# peer harness's own load generator (../shared/peers/socketio: same clients, worker, windows and CPU
# accounting as its run.sh; each node on GOMAXPROCS=1). Per system and shape it raises the offered rate
# until two rates in a row miss the bar, halves the interval where the curve crossed it (REFINE times),
# then writes table.md and ceiling.svg (p99 against rate). A ceiling the table marks "≥" is a lower bound: no
# higher rate was tried, or at the next rate the load generator or the worker (one core each) ran out of CPU
# while the server had some left; the table says which, and where the box's CPU went at that rate.
#
#   scripts/ceiling.sh                                   # socketio + actorhub, C=1000, ~15-25 min
#   TARGETS='actorhub' RATES='10000 20000' scripts/ceiling.sh
#   TARGETS='socketio actorhub centrifugo' scripts/ceiling.sh   # builds the harness's bin/centrifugo if needed
#
# Knobs: TARGETS, CONNS (1000), JOBS ("100 $CONNS"), RATES (offered msg/s, ascending), P99_MAX (50),
# MIN_DELIVERED (0.97), DURATION (20 s of emission per run), ACTORHUB_BIN (default: make build),
# PEERS (the harness folder), WORK (a writable copy of it), OUT (results/ceiling-<stamp>),
# REDIS_PORT (6397), BASE_PORT (4601), FOREIGN_MAX (0.3 cores; a run above it is tried again, twice),
# REFINE (2 halvings of the interval where a curve crosses the bar), STEP (rates rounded to 1000 msg/s).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=${PEERS:-$ROOT/../shared/peers/socketio}
WORK=${WORK:-${TMPDIR:-/tmp}/actorhub-ceiling-peer}
OUT=${OUT:-$ROOT/results/ceiling-$(date +%Y%m%d-%H%M%S)}
TARGETS=${TARGETS:-socketio actorhub}
CONNS=${CONNS:-1000}
JOBS=${JOBS:-100 $CONNS}
RATES=${RATES:-10000 20000 30000 40000 50000 60000 80000 100000 130000 160000 200000 260000}
P99_MAX=${P99_MAX:-50}
MIN_DELIVERED=${MIN_DELIVERED:-0.97}
DURATION=${DURATION:-20}
REDIS_PORT=${REDIS_PORT:-6397}
BASE_PORT=${BASE_PORT:-4601}
FOREIGN_MAX=${FOREIGN_MAX:-0.3}
REFINE=${REFINE:-2}
STEP=${STEP:-1000}

log() { echo "[ceiling $(date +%H:%M:%S)] $*" >&2; }
[ -f "$PEERS/run.sh" ] || { echo "ceiling.sh: no peer harness at $PEERS (set PEERS)" >&2; exit 1; }
for t in $TARGETS; do
  case $t in socketio|actorhub|centrifugo) ;; *) echo "ceiling.sh: TARGETS: $t is not socketio, actorhub or centrifugo" >&2; exit 1 ;; esac
done
command -v jq >/dev/null || { echo "ceiling.sh: jq is needed (apt-get install jq)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "ceiling.sh: redis-server is needed (apt-get install redis-server)" >&2; exit 1; }
mkdir -p "$OUT" "$WORK"
OUT=$(cd "$OUT" && pwd)

# The tools: actorhub, the judge of a run, and a writable copy of the harness with its generator built.
if [[ " $TARGETS " == *" actorhub "* ]]; then
  if [ -z "${ACTORHUB_BIN:-}" ]; then (cd "$ROOT" && make -s build); ACTORHUB_BIN=$ROOT/bin/actorhub; fi
  ACTORHUB_BIN=$(realpath "$ACTORHUB_BIN")
fi
(cd "$ROOT" && go build -o "$OUT/ceiling" ./internal/ceiling)
cp -r "$PEERS"/. "$WORK"/ && chmod -R u+w "$WORK"
cd "$WORK"
if [[ " $TARGETS " == *" socketio "* ]] && [ ! -f node_modules/socket.io/package.json ]; then
  log "installing the harness's npm dependencies"; npm ci --no-audit --no-fund >/dev/null
fi
(cd loadgen && go build -o ../bin/loadgen .)
if [[ " $TARGETS " == *" centrifugo "* ]] && [ -z "${CENTRIFUGO_BIN:-}" ]; then
  log "building the harness's bin/centrifugo (a few minutes the first time)"
  TARGET=centrifugo ONLY=none REPS=1 OUT="$OUT/centrifugo-build" REDIS_PORT=$((REDIS_PORT + 1)) ./run.sh >/dev/null 2>&1 || true
  CENTRIFUGO_BIN=$WORK/bin/centrifugo
fi

# A private Redis, emptied around every run that keeps state in it.
rdir=$(mktemp -d)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$rdir/redis.pid" --logfile "$rdir/redis.log" --dir "$rdir" >/dev/null
trap 'kill "$(cat "$rdir/redis.pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$rdir"' EXIT
for _ in $(seq 1 50); do [ -s "$rdir/redis.pid" ] && redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
REDIS_PID=$(cat "$rdir/redis.pid")
flush() { redis-cli -p "$REDIS_PORT" flushall >/dev/null 2>&1 || true; }

run_one() { # target jobs rate -> one JSON line
  local target=$1 jobs=$2 rate=$3 args
  args=(--conns "$CONNS" --nodes 1 --jobs "$jobs" --delivered "$rate" --duration "$DURATION" --base-port "$BASE_PORT"
    --redis-url "redis://127.0.0.1:$REDIS_PORT" --redis-pid "$REDIS_PID" --label "C$CONNS-N1-J$jobs-$((rate / 1000))k" --dir "$WORK")
  case $target in
    actorhub) args+=(--target actorhub --actorhub-bin "$ACTORHUB_BIN" --actorhub-store redis --actorhub-worker ws) ;;
    centrifugo) args+=(--target centrifugo --centrifugo-bin "$CENTRIFUGO_BIN") ;;
  esac
  flush
  GOMAXPROCS=1 timeout -k 5 $((DURATION + 45)) ./bin/loadgen "${args[@]}" 2>>"$OUT/log.txt" | tail -n 1 || true
  flush
}

: >"$OUT/results.jsonl"
{ echo "date: $(date -Is); $(nproc) cpus; redis-server $(redis-server --version | awk '{print $3}')"
  echo "targets: $TARGETS; conns $CONNS; jobs $JOBS; rates $RATES; p99 <= $P99_MAX ms; delivered >= $MIN_DELIVERED x offered; $DURATION s per run"
  [ -n "${ACTORHUB_BIN:-}" ] && echo "actorhub: $ACTORHUB_BIN (sha256 $(sha256sum "$ACTORHUB_BIN" | cut -c1-16)) $(cd "$ROOT" && git describe --always --dirty 2>/dev/null)"
} >"$OUT/versions.txt"
# try TARGET JOBS RATE: one run (again while foreign load spoils it), appended to results.jsonl;
# exit 0 when it meets the bar.
try() {
  local target=$1 jobs=$2 rate=$3 line="" foreign verdict rc=0
  for _ in 0 1 2; do
    "$WORK/quiet.sh" 60 85 >/dev/null || true
    line=$(run_one "$target" "$jobs" "$rate")
    [ -n "$line" ] || line="{\"target\":\"$target\",\"conns\":$CONNS,\"jobs\":$jobs,\"offered_msgs_s\":$rate,\"error\":\"no output\"}"
    foreign=$(jq -r '.cpu.foreign_cores // 0' <<<"$line" 2>/dev/null || echo 0)
    awk -v f="$foreign" -v m="$FOREIGN_MAX" 'BEGIN { exit !(f > m) }' || break
    log "   $target J=$jobs $rate/s: $foreign foreign cores, trying again"
  done
  echo "$line" >>"$OUT/results.jsonl"
  verdict=$("$OUT/ceiling" -p99 "$P99_MAX" -min-delivered "$MIN_DELIVERED" pass "$line") || rc=1
  log "$target J=$jobs offered $rate/s: p99 $(jq -r '.lat_p99_ms // "-"' <<<"$line") ms, delivered $(jq -r '.delivered_msgs_s // "-"' <<<"$line")/s: $verdict"
  return $rc
}

# Per curve: up the rate list until two misses in a row, then REFINE halvings between the highest rate
# that met the bar and the lowest above it that did not.
for jobs in $JOBS; do
  for target in $TARGETS; do
    misses=0 lo=0 hi=0
    for rate in $RATES; do
      if try "$target" "$jobs" "$rate"; then
        misses=0 lo=$rate hi=0
      else
        misses=$((misses + 1))
        [ "$hi" -gt 0 ] || hi=$rate
      fi
      [ "$misses" -lt 2 ] || break
    done
    for _ in $(seq 1 "$REFINE"); do
      [ "$hi" -gt 0 ] || break
      mid=$(( (lo + hi) / 2 / STEP * STEP ))
      { [ "$mid" -gt "$lo" ] && [ "$mid" -lt "$hi" ]; } || break
      if try "$target" "$jobs" "$mid"; then lo=$mid; else hi=$mid; fi
    done
  done
done
"$OUT/ceiling" -p99 "$P99_MAX" -min-delivered "$MIN_DELIVERED" report "$OUT"
cat "$OUT/table.md"
log "results in $OUT (table.md, ceiling.svg, results.jsonl, log.txt)"
