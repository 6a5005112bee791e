#!/usr/bin/env bash
# Worker benchmark: no-op jobs per second for one worker process with fork per job and with
# FORK_PER_JOB=false, and for 2 processes, beside redis-benchmark on the same private
# server, plus the parent's peak RSS; each single-process figure also in reliable mode
# (RESQUE_RELIABLE=1; target: within 10% of default mode). Targets (issue #4, this 2-core machine): fork per job
# >= 1,500 jobs/s, FORK_PER_JOB=false >= 8,000 jobs/s, parent RSS <= 8 MB. Ruby Resque 3.0
# does about 176 and 1,300 here (shared/peers/BASELINES.md).
# Usage: scripts/bench-worker.sh [FORK_JOBS] [NOFORK_JOBS]
# Each figure is the median of BENCH_RUNS runs (default 3; this machine's speed varies by
# 10-20% from one run to the next), with every run's figure after it.
# BENCH_STATIC=1 benchmarks a statically linked worker instead (glibc static-pie, as README
# "Building a worker for throughput" describes): fewer mappings make every fork cheaper.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --no-nextest
FORK_N=${1:-5000}; NOFORK_N=${2:-50000}; RUNS=${BENCH_RUNS:-3}
target_dir=${CARGO_TARGET_DIR:-target}
if [ "${BENCH_STATIC:-0}" = 1 ]; then
  # --target keeps the flag off build scripts and proc-macros (they cannot be static).
  host=$(rustc -vV | sed -n 's/^host: //p')
  RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR="$target_dir/static" \
    cargo build --quiet --profile bench-opt --target "$host" -p resque-rs --example worker
  w="$target_dir/static/$host/bench-opt/examples/worker"
  echo "worker: statically linked ($(file -b "$w" | cut -d, -f1-2))"
else
  cargo build --quiet --profile bench-opt -p resque-rs --example worker
  w="$target_dir/bench-opt/examples/worker"
fi

dir=$(mktemp -d /tmp/resque-bench.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
trap 'kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
export REDIS_URL="127.0.0.1:$port"

# PIN, when set, is a taskset prefix every client process runs under (see the end).
PIN=()
rb() { "${PIN[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -n 100000 -t "$1" -P 1 -c 1 --csv | awk -F, 'NR==2 {gsub(/"/,"",$2); print $2}'; }

seed() { # N
  python3 - "$1" "$port" <<'PY'
import socket, sys
n, port = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
item = b'{"class":"NoopJob","args":[]}'
def cmd(*a):
    out = b"*%d\r\n" % len(a)
    for x in a:
        out += b"$%d\r\n%s\r\n" % (len(x), x)
    return out
s.sendall(cmd(b"DEL", b"resque:stat:processed", b"resque:queue:noop") + cmd(b"SADD", b"resque:queues", b"noop"))
batch = 1000
for i in range(0, n, batch):
    s.sendall(cmd(b"RPUSH", b"resque:queue:noop", *([item] * min(batch, n - i))))
s.sendall(cmd(b"LLEN", b"resque:queue:noop"))
buf = b""
while buf.count(b"\r\n") < 2 + (n + batch - 1) // batch + 1:
    buf += s.recv(65536)
PY
}

run() { # label N procs env...: the median of $RUNS runs, and each run's figure
  local label=$1 n=$2 procs=$3; shift 3
  local rates=() peak=0 out
  for _ in $(seq "$RUNS"); do
    out=$(run_once "$n" "$procs" "$@")
    rates+=("${out% *}")
    peak=$(( ${out#* } > peak ? ${out#* } : peak ))
  done
  python3 - "$label" "$rb_lpop" "$peak" "${rates[@]}" <<'PY'
import statistics, sys
label, rb, peak, rates = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), [float(r) for r in sys.argv[4:]]
m = statistics.median(rates)
runs = " ".join(f"{r:,.0f}" for r in rates)
print(f"{label:<44} {m:9,.0f} jobs/s ({m / rb:4.2f}x LPOP round trips)   parent peak RSS {peak/1024:5.1f} MB   runs: {runs}")
PY
}

run_once() { # N procs env...: prints "<jobs/s> <peak RSS kB>"
  local n=$1 procs=$2; shift 2
  seed "$n"
  local pids=()
  local start; start=$(python3 -c 'import time; print(time.time())')
  for _ in $(seq "$procs"); do env QUEUES=noop INTERVAL=0.05 "$@" "${PIN[@]}" "$w" >>"$dir/worker.log" 2>&1 & pids+=($!); done
  # Wait for the last job on one persistent connection (spawning redis-cli every few ms
  # would steal CPU from the workers on a 2-core machine), then read the parents' peak RSS.
  python3 - "$port" "$n" "$start" "${pids[@]}" <<'PY'
import socket, sys, time
port, n, start, pids = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]
s = socket.create_connection(("127.0.0.1", port)); f = s.makefile("rb")
while True:
    s.sendall(b"*2\r\n$3\r\nGET\r\n$21\r\nresque:stat:processed\r\n")
    line = f.readline()
    val = f.readline().strip() if line.startswith(b"$") and line.strip() != b"$-1" else b"0"
    if int(val or 0) >= n:
        end = time.time(); break
    time.sleep(0.02)
peak = 0
for p in pids:
    try:
        for l in open(f"/proc/{p}/status"):
            if l.startswith("VmHWM:"): peak = max(peak, int(l.split()[1]))
    except OSError: pass
print(f"{n / (end - start):.1f} {peak}")
PY
  for p in "${pids[@]}"; do kill -QUIT "$p"; done
  wait
}

# The same sitting's Ruby Resque 3.0, when its source is at hand (shared/peers harness).
peers=../shared/peers
ruby_runs() { # label suffix
  if [ -n "${RESQUE_RB_SRC:-}" ] && [ -f "$peers/ruby/work.rb" ] && command -v ruby >/dev/null; then
    for mode in fork nofork; do
      n=$([ $mode = fork ] && echo 1000 || echo 10000)
      seed "$n"
      extra=$([ $mode = nofork ] && echo "FORK_PER_JOB=false" || echo "X=1")
      out=$(env $extra INTERVAL=0 REDIS_URL="redis://127.0.0.1:$port/0" "${PIN[@]}" ruby -I"$RESQUE_RB_SRC/lib" "$peers/ruby/work.rb" noop | tail -1)
      echo "Ruby Resque 3.0 worker, $mode, 1 process$1: $(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("{:,.0f} jobs/s".format(d["jobs_per_s"]))')"
    done
  fi
}
echo "== all cores shared (the scheduler places redis-server, the worker and its children)"
rb_lpop=$(rb lpop); rb_incr=$(rb incr)
echo "redis-benchmark -P 1 -c 1: LPOP ${rb_lpop}/s, INCR ${rb_incr}/s"
run "fork per job, 1 process" "$FORK_N" 1
run "FORK_PER_JOB=false, 1 process" "$NOFORK_N" 1 FORK_PER_JOB=false
run "reliable (RESQUE_RELIABLE=1), fork per job, 1 process" "$FORK_N" 1 RESQUE_RELIABLE=1
run "reliable, FORK_PER_JOB=false, 1 process" "$NOFORK_N" 1 FORK_PER_JOB=false RESQUE_RELIABLE=1
run "fork per job, 2 processes" "$FORK_N" 2
run "FORK_PER_JOB=false, 2 processes" "$NOFORK_N" 2 FORK_PER_JOB=false
ruby_runs ""
# On some VMs (this one among them, some days) a wake-up across cores costs 100-200 us, so
# one round trip between two processes on different cores is 5x one on the same core and
# redis-benchmark itself drops from ~25k to ~5k round trips/s. Pinning redis-server, the
# client and the worker to one core shows the figures a machine with cheap wake-ups gives.
if command -v taskset >/dev/null && [ "${BENCH_PINNED:-1}" = 1 ]; then
  echo "== one core: redis-server, redis-benchmark and the worker (with its children) on CPU 0"
  taskset -pc 0 "$(cat "$dir/redis.pid")" >/dev/null
  PIN=(taskset -c 0)
  rb_lpop=$(rb lpop); rb_incr=$(rb incr)
  echo "redis-benchmark -P 1 -c 1: LPOP ${rb_lpop}/s, INCR ${rb_incr}/s"
  run "fork per job, 1 process, one core" "$FORK_N" 1
  run "FORK_PER_JOB=false, 1 process, one core" "$NOFORK_N" 1 FORK_PER_JOB=false
  run "reliable, fork per job, 1 process, one core" "$FORK_N" 1 RESQUE_RELIABLE=1
  run "reliable, FORK_PER_JOB=false, 1 process, one core" "$NOFORK_N" 1 FORK_PER_JOB=false RESQUE_RELIABLE=1
  ruby_runs ", one core"
  PIN=()
  taskset -pc 0-$(($(nproc) - 1)) "$(cat "$dir/redis.pid")" >/dev/null
fi
echo "targets: fork >= 1,500 jobs/s, no fork >= 8,000 jobs/s, parent RSS <= 8 MB (Ruby here on 2026-11-22: 176 / 1,317 jobs/s, 26 MB)"
