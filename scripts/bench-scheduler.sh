#!/usr/bin/env bash
# The scheduler's figures (the scheduler issue), on a private server beside redis-benchmark:
#   1. moved per second: a backlog of BACKLOG due delayed items (over 1,000 timestamps, and
#      all at one timestamp) moved to their queue by our resque-scheduler (release build),
#      and, with RESQUE_RB_SRC / RESQUE_SCHEDULER_SRC / RESQUE_RETRY_SRC set, by Ruby's
#      resque-scheduler 5.0 in the same sitting;
#   2. lateness: LATE_N jobs delayed one by one to the coming seconds (each to now + 1..20
#      s, as an application's enqueue_in does), the time each lands in its queue minus its
#      due second, p50/p99/max, with the default interval (5 s) and with 1 s.
# Usage: scripts/bench-scheduler.sh [BACKLOG] [LATE_N]   (defaults 100000 300)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --demo
BACKLOG=${1:-100000}; LATE_N=${2:-300}
cargo build --quiet --profile bench-opt -p resque-scheduler --bin resque-scheduler
sched="${CARGO_TARGET_DIR:-target}/bench-opt/resque-scheduler"
ruby_ok() { [ -n "${RESQUE_RB_SRC:-}" ] && [ -n "${RESQUE_SCHEDULER_SRC:-}" ] && [ -n "${RESQUE_RETRY_SRC:-}" ] && command -v ruby >/dev/null; }

dir=$(mktemp -d /tmp/resque-bench-scheduler.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
sp=""
cleanup() { [ -n "$sp" ] && kill "$sp" 2>/dev/null; kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
url="redis://127.0.0.1:$port/0"
rcli() { redis-cli -p "$port" "$@"; }
rb_sched() { # Ruby's resque-scheduler in the foreground of a subshell (exec: $! is ruby)
  REDIS_URL="$url" RESQUE_NS=resque RESQUE_SCHEDULER_INTERVAL="$1" DELAYED_REQUEUE_BATCH_SIZE=100 \
    exec ruby -I"$RESQUE_RB_SRC/lib" -I"$RESQUE_SCHEDULER_SRC/lib" -I"$RESQUE_RETRY_SRC/lib" \
    "$RESQUE_SCHEDULER_SRC/exe/resque-scheduler" -I ../shared/peers/ruby/scheduler_init.rb; }
bench() { redis-benchmark -h 127.0.0.1 -p "$port" -n 200000 -t "$1" -P "$2" -c 1 --csv | awk -F, 'NR==2 {gsub(/"/,"",$2); print $2}'; }
rpush1=$(bench rpush 1); rpush16=$(bench rpush 16)
rcli del mylist > /dev/null
echo "redis-benchmark -c 1 on the same server: RPUSH -P 1 ${rpush1}/s, RPUSH -P 16 ${rpush16}/s"

fill() { # fill N TIMESTAMPS: N due items (Ruby's bytes and bookkeeping) over TIMESTAMPS past seconds
  python3 - "$port" "$1" "$2" <<'PY'
import socket, sys, time
port, n, spread = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port)); f = s.makefile("rb")
lua = ("for i = 2, #ARGV do redis.call('RPUSH', 'resque:delayed:' .. ARGV[1], ARGV[i]); "
       "redis.call('SADD', 'resque:timestamps:' .. ARGV[i], 'delayed:' .. ARGV[1]) end; "
       "redis.call('ZADD', 'resque:delayed_queue_schedule', ARGV[1], ARGV[1])")
def cmd(*a):
    out = b"*%d\r\n" % len(a)
    for x in a:
        x = x.encode() if isinstance(x, str) else x
        out += b"$%d\r\n%s\r\n" % (len(x), x)
    return out
base = int(time.time()) - spread - 60
per = n // spread
for t in range(spread):
    items = ['{"class":"Archive","args":[%d,"masterbrew"],"queue":"bulk"}' % (t * per + i) for i in range(per)]
    for c in range(0, len(items), 500):
        s.sendall(cmd("EVAL", lua, "0", str(base + t), *items[c:c + 500])); f.readline()
PY
}

moved_rate() { # who spread: fills, runs a scheduler until the queue holds BACKLOG, prints items/s
  local who=$1 spread=$2
  rcli del resque:queue:bulk resque:queues > /dev/null
  fill "$BACKLOG" "$spread"
  local t0 t1
  t0=$(date +%s.%N)
  if [ "$who" = ruby ]; then rb_sched 1 > "$dir/rb.log" 2>&1 & sp=$!
  else "$sched" --redis "$url" -i 1 -q & sp=$!; fi
  while [ "$(rcli llen resque:queue:bulk)" -lt "$BACKLOG" ]; do sleep 0.01; done
  t1=$(date +%s.%N)
  kill -TERM "$sp"; wait "$sp" 2>/dev/null || true; sp=""
  [ "$(rcli zcard resque:delayed_queue_schedule)" = 0 ] || echo "   (warning: timestamps left)" >&2
  python3 -c "print(f'{$BACKLOG / ($t1 - $t0):,.0f}')"
}

echo "== 1. moving a backlog of $BACKLOG due items (includes start-up; one scheduler, -i 1)"
for spread in 1000 1; do
  ours=$(moved_rate rust "$spread")
  line="   over $spread timestamp(s): ours ${ours} items/s"
  if ruby_ok; then line="$line, Ruby's resque-scheduler $(moved_rate ruby "$spread") items/s"; fi
  echo "$line  (RPUSH -P 1 ${rpush1}/s, -P 16 ${rpush16}/s)"
done

echo "== 2. lateness: $LATE_N jobs delayed one by one to now + 1..20 s, landed minus due"
lateness() { # interval
  rcli del resque:queue:late > /dev/null
  "$sched" --redis "$url" -i "$1" -q & sp=$!
  sleep 1
  python3 - "$port" "$LATE_N" <<'PY'
import random, socket, sys, threading, time
port, n = int(sys.argv[1]), int(sys.argv[2])
def conn():
    s = socket.create_connection(("127.0.0.1", port)); return s, s.makefile("rb")
def cmd(*a):
    out = b"*%d\r\n" % len(a)
    for x in a:
        x = x.encode() if isinstance(x, str) else x
        out += b"$%d\r\n%s\r\n" % (len(x), x)
    return out
def reply(f):
    line = f.readline()
    if line[:1] == b"*":
        k = int(line[1:])
        return [reply(f) for _ in range(k)] if k >= 0 else None
    if line[:1] == b"$":
        k = int(line[1:])
        if k < 0: return None
        data = f.read(k + 2); return data[:-2]
    return line.strip()
lua = ("redis.call('RPUSH', 'resque:delayed:' .. ARGV[1], ARGV[2]); "
       "redis.call('SADD', 'resque:timestamps:' .. ARGV[2], 'delayed:' .. ARGV[1]); "
       "redis.call('ZADD', 'resque:delayed_queue_schedule', ARGV[1], ARGV[1])")
late = []
def consume():
    s, f = conn()
    while len(late) < n:
        s.sendall(cmd("BLPOP", "resque:queue:late", "30"))
        r = reply(f)
        if not r: break
        due = int(r[1].split(b'"args":[')[1].split(b",")[0])
        late.append(time.time() - due)
t = threading.Thread(target=consume); t.start()
s, f = conn()
end = time.time() + 20
for i in range(n):
    due = int(time.time()) + random.randint(1, 20)
    s.sendall(cmd("EVAL", lua, "0", str(due), '{"class":"Late","args":[%d,%d],"queue":"late"}' % (due, i))); reply(f)
    time.sleep(20.0 / n)
t.join(60)
late.sort()
q = lambda p: late[min(len(late) - 1, int(p * len(late)))] * 1000
print(f"p50 {q(0.5):.0f} ms, p99 {q(0.99):.0f} ms, max {late[-1]*1000:.0f} ms over {len(late)} jobs")
PY
  kill -TERM "$sp"; wait "$sp" 2>/dev/null || true; sp=""
}
echo "   default interval (5 s): $(lateness 5)"
echo "   -i 1:                   $(lateness 1)"
