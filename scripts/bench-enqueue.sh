#!/usr/bin/env bash
# Enqueue benchmark: single-job and batch enqueue rates beside redis-benchmark RPUSH on the
# same private redis-server (loopback TCP), with the ratios issue #3 targets:
#   single >= 0.8 x `redis-benchmark -P 1 -c 1 -t rpush`
#   batch  >= 0.5 x `redis-benchmark -P 16 -c 1 -t rpush`
# Usage: scripts/bench-enqueue.sh [SINGLE_JOBS] [BATCH_JOBS] [BATCH_SIZE]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --no-nextest
SINGLE=${1:-50000}; BATCH=${2:-500000}; BSIZE=${3:-1000}
cargo build --quiet --profile bench-opt -p resque-rs --example bench_enqueue
bin="${CARGO_TARGET_DIR:-target}/bench-opt/examples/bench_enqueue"

dir=$(mktemp -d /tmp/resque-bench.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
trap 'kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done

rb() { # P C -> requests per second of RPUSH
  redis-benchmark -h 127.0.0.1 -p "$port" -n 200000 -t rpush -P "$1" -c "$2" --csv \
    | awk -F, '/RPUSH/ {gsub(/"/,"",$2); print $2}'
}
rb_p1=$(rb 1 1); rb_p16=$(rb 16 1)
redis-cli -p "$port" del mylist >/dev/null
ours=$("$bin" "127.0.0.1:$port" "$SINGLE" "$BATCH" "$BSIZE")
single=$(echo "$ours" | python3 -c 'import json,sys; print(json.load(sys.stdin)["single_jobs_per_s"])')
batch=$(echo "$ours" | python3 -c 'import json,sys; print(json.load(sys.stdin)["batch_jobs_per_s"])')
rb_p1_after=$(rb 1 1)

python3 - "$rb_p1" "$rb_p16" "$rb_p1_after" "$single" "$batch" "$BSIZE" <<'PY'
import sys
p1, p16, p1b, single, batch, bsize = map(float, sys.argv[1:])
def row(name, value, base, target):
    ratio = value / base
    verdict = "meets" if ratio >= target else "BELOW"
    print(f"{name:<44} {value:>10,.0f}/s   {ratio:5.2f}x   (target {target}x: {verdict})")
print(f"redis-benchmark RPUSH -P 1 -c 1 (before/after) {p1:>10,.0f}/s / {p1b:,.0f}/s")
print(f"redis-benchmark RPUSH -P 16 -c 1               {p16:>10,.0f}/s")
row("resque-rs enqueue_to, one job per round trip", single, p1, 0.8)
row(f"resque-rs enqueue_batch, {int(bsize)} jobs per round trip", batch, p16, 0.5)
PY
