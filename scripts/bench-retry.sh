#!/usr/bin/env bash
# Retrying jobs beside plain ones (the retries issue): jobs per second draining N no-op jobs
# of a class without a retry policy (NoopJob) and of one with a policy that succeeds
# (RetryOkJob: one DEL of its counter a job), with fork per job and with FORK_PER_JOB=false,
# beside redis-benchmark on the same private server.
# Usage: scripts/bench-retry.sh [FORK_JOBS] [NOFORK_JOBS]   (defaults 2000 20000)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --no-nextest
FORK_N=${1:-2000}; NOFORK_N=${2:-20000}
cargo build --quiet --profile bench-opt -p resque-e2e --bin resque-test-worker
w="${CARGO_TARGET_DIR:-target}/bench-opt/resque-test-worker"
dir=$(mktemp -d /tmp/resque-bench-retry.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
trap 'kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
rcli() { redis-cli -p "$port" "$@"; }
echo "redis-benchmark -P 1 -c 1 on the same server: LPOP $(redis-benchmark -h 127.0.0.1 -p "$port" -n 100000 -t lpop -P 1 -c 1 --csv | awk -F, 'NR==2 {gsub(/"/,"",$2); print $2}')/s"
run() { # class n fork -> jobs/s
  local class=$1 n=$2 fork=$3
  rcli del resque:queue:bench > /dev/null
  rcli eval "for i = 1, tonumber(ARGV[1]) do redis.call('RPUSH', KEYS[1], '{\"class\":\"' .. ARGV[2] .. '\",\"args\":[\"/dev/null\",' .. i .. ']}') end" 1 resque:queue:bench "$n" "$class" > /dev/null
  rcli sadd resque:queues bench > /dev/null
  local t0 t1
  t0=$(date +%s.%N)
  REDIS_URL="127.0.0.1:$port" QUEUES=bench INTERVAL=0 FORK_PER_JOB="$fork" "$w" > /dev/null 2>&1
  t1=$(date +%s.%N)
  python3 -c "print(f'{$n / ($t1 - $t0):,.0f}')"
}
for fork in true false; do
  n=$([ "$fork" = true ] && echo "$FORK_N" || echo "$NOFORK_N")
  plain=$(run NoopJob "$n" "$fork"); ok=$(run RetryOkJob "$n" "$fork")
  echo "FORK_PER_JOB=$fork, $n jobs: no policy ${plain}/s, a policy that succeeds ${ok}/s ($(python3 -c "print(f'{${ok//,/} / ${plain//,/}:.2f}')")x)"
done
