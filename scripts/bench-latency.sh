#!/usr/bin/env bash
# Pickup latency and idle cost (the latency issue):
#   - enqueue to job start, p50/p99, for jobs enqueued one by one into an idle system with
#     one worker, at INTERVAL 5 (Ruby's default) and 0.1;
#   - the Redis commands per second, and the Redis CPU, that IDLE idle workers (4 queues
#     each) cost, per worker;
# for resque-rs's worker (blocking pickup, and --polling), with RESQUE_RB_SRC set (and the
# peer harness beside this checkout) Ruby Resque 3.0's (IDLE_RUBY idle workers), and with
# Debian's ruby-sidekiq Sidekiq 6.4's pickup, on the same private server, beside
# redis-benchmark.
# Usage: scripts/bench-latency.sh [JOBS_AT_5S] [JOBS_AT_0.1S] [IDLE]   (defaults 1000 1000 200;
# IDLE_RUBY defaults to 20)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --demo
SLOW_N=${1:-1000}; FAST_N=${2:-1000}; IDLE=${3:-200}; IDLE_RUBY=${IDLE_RUBY:-20}
cargo build --quiet --profile bench-opt -p resque-e2e --bin resque-test-worker
w="${CARGO_TARGET_DIR:-target}/bench-opt/resque-test-worker"
work_rb=../shared/peers/ruby/work.rb
ruby_ok() { [ -n "${RESQUE_RB_SRC:-}" ] && [ -f "$work_rb" ] && command -v ruby >/dev/null; }
sidekiq_ok() { command -v ruby >/dev/null && ruby -e 'require "sidekiq"' 2>/dev/null; }

dir=$(mktemp -d /tmp/resque-bench-latency.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -QUIT "$p" 2>/dev/null || true; done
  sleep 0.5
  kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
url="redis://127.0.0.1:$port/0"
echo "redis-benchmark -P 1 -c 1 on the same server: PING $(redis-benchmark -h 127.0.0.1 -p "$port" -n 50000 -t ping_mbulk -P 1 -c 1 --csv | awk -F, 'NR==2 {gsub(/"/,"",$2); print $2}')/s"

start_worker() { # kind interval queues log
  local kind=$1 interval=$2 queues=$3 log=$4
  if [ "$kind" = ruby ]; then
    env RESQUE_RB_SRC="$RESQUE_RB_SRC" REDIS_URL="$url" QUEUES="$queues" INTERVAL="$interval" \
      HOOK_LOG="$log" JOBS_REQUIRE=scripts/ruby/chaos_job.rb \
      ruby -I"$RESQUE_RB_SRC/lib" "$work_rb" "$queues" >/dev/null 2>&1 &
  else
    env REDIS_URL="$url" QUEUES="$queues" INTERVAL="$interval" HOOK_LOG="$log" \
      RESQUE_POLLING="$([ "$kind" = polling ] && echo 1 || echo 0)" "$w" >/dev/null 2>&1 &
  fi
  pids+=($!)
}

pickup() { # kind interval n
  local kind=$1 interval=$2 n=$3 log="$dir/pickup-$1-$2.log"
  : >"$log"
  start_worker "$kind" "$interval" latency "$log"
  local me=${pids[-1]}
  sleep 1
  python3 - "$port" "$n" "$log" "$interval" <<'PY'
import random, socket, sys, time
port, n, log, interval = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
s = socket.create_connection(("127.0.0.1", port)); f = s.makefile("rb")
def cmd(*a):
    a = [x if isinstance(x, bytes) else str(x).encode() for x in a]
    out = b"*%d\r\n" % len(a)
    for x in a:
        out += b"$%d\r\n%s\r\n" % (len(x), x)
    s.sendall(out); f.readline()
cmd("SADD", "resque:queues", "latency")
for i in range(n):
    # Into an idle system: the job before has started, then a pause of up to the interval.
    cmd("RPUSH", "resque:queue:latency", '{"class":"LatencyJob","args":[%d]}' % time.time_ns())
    deadline = time.time() + interval * 3 + 5
    while sum(1 for l in open(log) if l.startswith("pickup ")) < i + 1 and time.time() < deadline:
        time.sleep(0.001)
    time.sleep(random.uniform(0, min(interval, 0.2)))
ms = sorted(int(l.split()[1]) / 1e6 for l in open(log) if l.startswith("pickup "))
q = lambda p: ms[min(len(ms) - 1, int(p * len(ms)))]
print(f"{len(ms)} jobs: p50 {q(0.5):.2f} ms, p99 {q(0.99):.2f} ms, max {ms[-1]:.2f} ms")
PY
  kill -QUIT "$me" 2>/dev/null || true
  wait "$me" 2>/dev/null || true
}

idle_cost() { # kind n
  local kind=$1 n=$2 before=() i
  for i in $(seq "$n"); do start_worker "$kind" 5 "idle_a,idle_b,idle_c,idle_d" "$dir/idle.log"; done
  sleep $((12 + n / 10))
  redis-cli -p "$port" config resetstat >/dev/null
  local cpu0 cpu1 calls
  cpu0=$(redis-cli -p "$port" info cpu | awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {print s}')
  sleep 30
  cpu1=$(redis-cli -p "$port" info cpu | awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {print s}')
  calls=$(redis-cli -p "$port" info commandstats | awk -F'[=,]' '/^cmdstat_/ {s += $2} END {print s}')
  python3 -c "import sys; c, n, a, b = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]); print(f'{n} idle workers: {c / 30:.0f} commands/s, {c / 30 / n:.2f} per worker per second; Redis CPU {100 * (b - a) / 30:.2f}% of a core')" "$calls" "$n" "$cpu0" "$cpu1"
  for p in "${pids[@]}"; do kill -QUIT "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}

for kind in ours polling ruby; do
  [ "$kind" = ruby ] && ! ruby_ok && continue
  case $kind in
    ruby) label="Ruby Resque 3.0"; idle=$IDLE_RUBY ;;
    polling) label="resque-rs --polling"; idle=$IDLE_RUBY ;;
    *) label="resque-rs (blocking pickup)"; idle=$IDLE ;;
  esac
  echo "== $label: pickup latency, one idle worker, jobs enqueued one by one"
  slow=$SLOW_N; [ "$kind" != ours ] && slow=$(( SLOW_N < 20 ? SLOW_N : 20 ))
  echo "INTERVAL 5:   $(pickup "$kind" 5 "$slow")"
  echo "INTERVAL 0.1: $(pickup "$kind" 0.1 "$FAST_N")"
  echo "== $label: idle cost"
  idle_cost "$kind" "$idle"
done
if sidekiq_ok; then
  echo "== Sidekiq 6.4 (10 threads): pickup latency, jobs enqueued one by one"
  REDIS_URL="$url" JOBS="$FAST_N" ruby scripts/ruby/sidekiq_bench.rb pickup 2>/dev/null | tail -1
fi
