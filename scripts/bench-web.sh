#!/usr/bin/env bash
# resque-web benchmark: requests per second and p99 latency for Overview (and its live
# poll), Queues, one
# queue, Workers, Failed, Failed's last page, Stats and the key list, with wrk at 8 connections, against
# a seeded private redis-server (20 queues x 1,000 jobs, 30 workers of which 10 busy,
# 10,000 failures), beside redis-benchmark on the same server; then resque-web's peak RSS.
# Then the graphs and metrics pages over 20 classes x 72 hours of minutes and 90 days.
# Targets (issue #6, this 2-core machine): every page >= 3,000 req/s, p99 < 10 ms, RSS < 30 MB.
# Usage: scripts/bench-web.sh [SECONDS_PER_PAGE]   (needs wrk and python3)
# BENCH_PAGES="/overview /stats/keys" measures only those pages.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --no-nextest
command -v wrk >/dev/null || { echo "installing wrk..." >&2; apt-get install -y -qq wrk >/dev/null; }
SECS=${1:-5}
cargo build --quiet --profile bench-opt -p resque-web --bin resque-web
web="${CARGO_TARGET_DIR:-target}/bench-opt/resque-web"

dir=$(mktemp -d /tmp/resque-bench-web.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rport=$(free_port); wport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
cleanup() {
  [ -n "${web_pid:-}" ] && kill "$web_pid" 2>/dev/null
  kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done

python3 - "$rport" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def cmd(*a):
    a = [x if isinstance(x, bytes) else str(x).encode() for x in a]
    out = b"*%d\r\n" % len(a)
    for x in a:
        out += b"$%d\r\n%s\r\n" % (len(x), x)
    return out
buf = []
for q in range(20):
    buf.append(cmd("SADD", "resque:queues", "queue%d" % q))
    buf.append(cmd("RPUSH", "resque:queue:queue%d" % q,
                   *['{"class":"Archive","args":[%d,"masterbrew",{"user":%d}]}' % (i, i) for i in range(1000)]))
now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
for w in range(30):
    wid = "worker%d.example.com:%d:queue%d,queue%d" % (w % 3, 1000 + w, w % 20, (w + 1) % 20)
    buf.append(cmd("SADD", "resque:workers", wid))
    buf.append(cmd("SET", "resque:worker:%s:started" % wid, time.strftime("%Y-%m-%d %H:%M:%S +0000", time.gmtime())))
    buf.append(cmd("HSET", "resque:workers:heartbeat", wid, now.replace("Z", "+00:00")))
    buf.append(cmd("SET", "resque:stat:processed:%s" % wid, 100 + w))
    if w < 10:
        buf.append(cmd("SET", "resque:worker:%s" % wid,
                       '{"queue":"queue%d","run_at":"%s","payload":{"class":"SleepJob","args":[%d]}}' % (w % 20, now, w)))
for chunk in range(10):
    recs = []
    for i in range(1000):
        n = chunk * 1000 + i
        recs.append(('{"failed_at":"2026/11/22 17:41:42 UTC","payload":{"class":"%s","args":[%d]},'
                     '"exception":"RuntimeError","error":"failure number %d","backtrace":["app/jobs/a.rb:1","app/jobs/b.rb:2"],'
                     '"worker":"worker0.example.com:1000:queue0,queue1","queue":"queue%d"}') % (["FailJob", "OtherJob"][n % 2], n, n, n % 20))
    buf.append(cmd("RPUSH", "resque:failed", *recs))
# Job metrics as our workers write them: 20 classes in every minute and hour of the 72
# hours kept, and 90 days of history (the Metrics tab's and the Overview's worst case).
import json
t = int(time.time())
for back in range(72 * 60):
    minute = time.strftime("%Y%m%d%H%M", time.gmtime(t - back * 60))
    fields = []
    for c in range(20):
        f = json.dumps(["queue%d" % c, "Class%d" % c], separators=(",", ":"))
        fields += ["n|" + f, 30 + c, "ms|" + f, 900 + c, "b5|" + f, 20, "b50|" + f, 10 + c, "f|" + f, c % 3]
    buf.append(cmd("HSET", "resque:resque-rs:metrics:" + minute, *fields))
for back in range(73):
    hour = time.strftime("%Y%m%d%H", time.gmtime(t - back * 3600))
    fields = []
    for c in range(20):
        f = json.dumps(["queue%d" % c, "Class%d" % c], separators=(",", ":"))
        fields += ["n|" + f, 1800 + c, "ms|" + f, 54000 + c, "b5|" + f, 1200, "b50|" + f, 600 + c, "f|" + f, c % 3]
    buf.append(cmd("HSET", "resque:resque-rs:metrics-hour:" + hour, *fields))
for back in range(90):
    day = time.strftime("%Y-%m-%d", time.gmtime(t - back * 86400))
    buf.append(cmd("HSET", "resque:resque-rs:history:" + day, "processed", 40000 + back, "failed", back))
buf.append(cmd("SET", "resque:stat:processed", 123456))
buf.append(cmd("SET", "resque:stat:failed", 10000))
s.sendall(b"".join(buf))
s.sendall(cmd("PING"))
got = b""
while not got.endswith(b"+PONG\r\n"):
    got += s.recv(1 << 16)
PY

"$web" -p "$wport" -o 127.0.0.1 -r "127.0.0.1:$rport" --app-dir "$dir" >"$dir/web.out" 2>"$dir/web.log" &
web_pid=$!
for _ in $(seq 100); do grep -q listening "$dir/web.out" 2>/dev/null && break; sleep 0.05; done

rb() { redis-benchmark -h 127.0.0.1 -p "$rport" -n 100000 -t "$1" -P 1 -c "$2" --csv | awk -F, 'NR==2 {gsub(/"/,"",$2); print $2}'; }
echo "redis-benchmark on the same server: GET -c1 $(rb get 1)/s, GET -c8 $(rb get 8)/s, LRANGE_100 -c8 $(rb lrange_100 8)/s"
printf '%-28s %12s %10s %10s %8s\n' page "req/s" "p50 ms" "p99 ms" "bytes"
# BENCH_PAGES: a space-separated list of paths to measure instead of these.
pages=(/overview /overview.poll /queues /queues/queue7 /workers /workers/all /failed "/failed?start=9980"
  /stats/resque /stats/keys /stats.txt "/overview?days=90" /job-metrics "/job-metrics?minutes=480"
  "/job-metrics?minutes=4320" "/job-metrics/class?minutes=4320&queue=queue3&class=Class3" /metrics
  "/api/metrics?minutes=4320")
[ -n "${BENCH_PAGES:-}" ] && read -r -a pages <<<"$BENCH_PAGES"
for page in "${pages[@]}"; do
  bytes=$(curl -fsS -o /dev/null -w '%{size_download}' "http://127.0.0.1:$wport$page") || { echo "$page failed" >&2; exit 1; }
  out=$(wrk -t2 -c8 -d"${SECS}s" --latency "http://127.0.0.1:$wport$page")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; printf "%.2f", v}'; }
  p50=$(awk '$1=="50%" {print $2}' <<<"$out" | to_ms)
  p99=$(awk '$1=="99%" {print $2}' <<<"$out" | to_ms)
  errors=$(grep -E "Non-2xx|Socket errors" <<<"$out" || true)
  printf '%-28s %12s %10s %10s %8s %s\n' "$page" "$rps" "$p50" "$p99" "$bytes" "$errors"
done
echo "resque-web peak RSS: $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' "/proc/$web_pid/status")"
