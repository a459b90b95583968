#!/usr/bin/env bash
# The investor demo: three actorhub nodes on a private Redis (AOF on), the demo's
# simulated LLM as its own process (it streams through the public worker API and
# fails over between the nodes), and the page at / of each node.
#
#   scripts/run-demo.sh                       run until Ctrl-C; open the printed URL
#   scripts/run-demo.sh --kill-after 20s      also SIGKILL, live, the node that holds the most streaming jobs after 20 s,
#                                             and restart it 20 s later
#   scripts/run-demo.sh --headless 60s        scripted users ask and watch for 60 s; exit 0 only if every
#                                             watcher's text equals its job's journal (CI, rehearsals)
#
# Environment: DEMO_PORT (first node's HTTP port, default 8081; the others follow), DEMO_USERS (headless users,
# default 9), DEMO_DIR (where Redis and the logs go, default a new temp dir). Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."

kill_after="" headless=""
while [ $# -gt 0 ]; do
  case "$1" in
    --kill-after) kill_after="$2"; shift 2 ;;
    --kill-after=*) kill_after="${1#*=}"; shift ;;
    --headless) headless="$2"; shift 2 ;;
    --headless=*) headless="${1#*=}"; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-demo: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

# seconds of a duration like 20s, 2m, 90
secs() {
  case "$1" in
    *ms) echo 1 ;;
    *s) echo "${1%s}" ;;
    *m) echo $(( ${1%m} * 60 )) ;;
    *) echo "$1" ;;
  esac
}
say() { printf '%s  %s\n' "$(date +%H:%M:%S)" "$*"; }

port=${DEMO_PORT:-8081}
users=${DEMO_USERS:-9}
dir=${DEMO_DIR:-$(mktemp -d -t actorhub-demo-XXXXXX)}
mkdir -p "$dir"
# every process it starts writes its PID to $dir/pids (a node restarted by the fault
# runs in a background subshell, whose variables the cleanup cannot see)
pidfile="$dir/pids"
: >"$pidfile"
started() { echo "$1" >>"$pidfile"; }
fault_pid=""
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$fault_pid" ]; then # first the fault, so that it starts nothing more
    kill -TERM "$fault_pid" 2>/dev/null || true
    wait "$fault_pid" 2>/dev/null || true
  fi
  local all; all=$(sort -u "$pidfile" 2>/dev/null)
  for pid in $all; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $all; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  say "stopped everything it started (logs in $dir)"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! command -v redis-server >/dev/null 2>&1; then
  say "installing redis-server"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
fi
say "building bin/actorhub"
go build -o bin/actorhub ./cmd/actorhub

redis_port=$((port + 1000))
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$dir" --appendonly yes --appendfsync everysec --save '' \
  >"$dir/redis.log" 2>&1 &
started $!
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
say "redis-server on 127.0.0.1:$redis_port (AOF on, data in $dir)"

http=() gossip=() bases=()
for i in 1 2 3; do
  http[$i]=127.0.0.1:$((port + i - 1))
  gossip[$i]=127.0.0.1:$((port + 100 + i - 1))
  bases+=("http://${http[$i]}")
done
nodes_csv=$(IFS=,; echo "${bases[*]}")
worker_addr=127.0.0.1:$((port + 200))

declare -A node_pid
start_node() {
  local i=$1 join=""
  [ "$i" != 1 ] && join="--join ${gossip[1]},${gossip[2]},${gossip[3]}"
  # shellcheck disable=SC2086
  bin/actorhub serve --node-id "node$i" --http "${http[$i]}" --gossip "${gossip[$i]}" --remote "127.0.0.1:$((port + 300 + i - 1))" \
    --store "redis://127.0.0.1:$redis_port/0" $join --demo-worker "http://$worker_addr" \
    --allowed-origins '127.0.0.1:*,localhost:*' --log-level warn >>"$dir/node$i.log" 2>&1 &
  node_pid[$i]=$!
  started $!
  disown "$!" # its kill -9 is the demo's, not news for the shell
}
wait_ready() {
  for _ in $(seq 300); do curl -fs "http://${http[$1]}/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  say "node$1 did not become ready: $(tail -5 "$dir/node$1.log")"; return 1
}
for i in 1 2 3; do start_node "$i"; wait_ready "$i"; say "node$i up: http://${http[$i]}/ (pid ${node_pid[$i]})"; done

bin/actorhub demo-worker --http "$worker_addr" --nodes "$nodes_csv" >"$dir/demo-worker.log" 2>&1 &
started $!
for _ in $(seq 100); do curl -fs "http://$worker_addr/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
say "demo worker up on $worker_addr, streaming through all three nodes"
say "open the page:   http://${http[1]}/   (any node's page works: http://${http[2]}/, http://${http[3]}/)"
say "analytics view:  http://${http[1]}/analytics   (cluster-wide: every node shows the same figures)"
say "members:         http://${http[1]}/api/cluster    metrics: http://${http[1]}/metrics"

# the node holding the most streaming jobs, by its actorhub_jobs_streaming gauge
busiest() {
  local best=1 most=-1 n
  for i in 1 2 3; do
    n=$(curl -fs "http://${http[$i]}/metrics" 2>/dev/null | awk '/^actorhub_jobs_streaming /{print int($2)}')
    n=${n:-0}
    if [ "$n" -gt "$most" ]; then best=$i most=$n; fi
  done
  echo "$best $most"
}

fault() {
  local d; d=$(secs "$1")
  sleep "$d"
  read -r victim jobs < <(busiest)
  say "FAULT: kill -9 node$victim (pid ${node_pid[$victim]}), which holds $jobs streaming jobs"
  kill -KILL "${node_pid[$victim]}" 2>/dev/null || true
  sleep "$d"
  say "restarting node$victim"
  start_node "$victim"
  wait_ready "$victim" && say "node$victim is back (pid ${node_pid[$victim]})"
}

if [ -n "$headless" ]; then
  say "headless: $users scripted users for $headless${kill_after:+, a node killed after $kill_after}"
  [ -n "$kill_after" ] && { fault "$kill_after" & fault_pid=$!; }
  set +e
  bin/actorhub demo-users --nodes "$nodes_csv" --users "$users" --duration "$headless" | while IFS= read -r line; do say "$line"; done
  status=${PIPESTATUS[0]}
  set -e
  if [ "$status" = 0 ]; then say "PASS: every watcher's text equals its job's journal"; else say "FAIL (status $status)"; fi
  exit "$status"
fi

[ -n "$kill_after" ] && { fault "$kill_after" & fault_pid=$!; }
say "running; Ctrl-C stops everything"
while true; do sleep 1; done
