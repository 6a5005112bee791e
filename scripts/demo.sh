#!/usr/bin/env bash
# The Quick start demo: a private redis-server (unless REDIS_URL is set), example jobs
# enqueued with the library and with the `resque` command, a worker that runs them, then
# what Resque sees (stats, failures), delayed and recurring jobs with resque-scheduler, and
# resque-web serving it all with a worker busy.
# DEMO_SERVE=check (CI) checks the dashboard answers and exits instead of serving until
# Ctrl-C; RESQUE_WEB_PORT picks the port (default 5678, or the next free one).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --demo
echo "== building resque-rs (resque, resque-web, resque-scheduler and the example jobs; the first build takes several minutes)"
# Every binary the demo runs: the `resque` command, resque-web, resque-scheduler, and the
# examples `enqueue` and `worker`. Cargo's own progress lines show while it builds.
cargo build -p resque-rs -p resque-web -p resque-scheduler --bin resque --bin resque-web \
  --bin resque-scheduler --example enqueue --example worker
bin="${CARGO_TARGET_DIR:-target}/debug"

# A GET over bash's /dev/tcp (no curl on a fresh machine): prints the body.
http_get() {
  local hostport=${1#http://}; hostport=${hostport%%/*}
  local path=/${1#http://*/}
  exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$path" "$hostport" >&3
  sed '1,/^\r$/d' <&3
  exec 3<&-
}

dir_log=$(mktemp /tmp/resque-scheduler-demo.XXXXXX.log)
if [ -z "${REDIS_URL:-}" ]; then
  dir=$(mktemp -d /tmp/resque-demo.XXXXXX)
  redis-server --port 0 --unixsocket "$dir/redis.sock" --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  for _ in $(seq 100); do [ -S "$dir/redis.sock" ] && break; sleep 0.05; done
  cleanup() {
    [ -n "${web_pid:-}" ] && kill "$web_pid" 2>/dev/null && wait "$web_pid" 2>/dev/null
    [ -n "${worker_pid:-}" ] && kill -TERM "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null
    [ -n "${sched_pid:-}" ] && kill -TERM "$sched_pid" 2>/dev/null && wait "$sched_pid" 2>/dev/null
    kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
    rm -rf "$dir" "$dir_log"
  }
  trap cleanup EXIT
  export REDIS_URL="unix://$dir/redis.sock"
  echo "== private redis-server at $REDIS_URL"
else
  echo "== using REDIS_URL=$REDIS_URL"
fi

echo "== enqueue with the library (typed job with hooks, any-language jobs, a batch)"
"$bin/examples/enqueue" "$REDIS_URL" 20
echo "== enqueue with the resque command"
"$bin/resque" enqueue file_serve Archive 44 masterbrew
"$bin/resque" enqueue --help >/dev/null
echo "== resque queues";  "$bin/resque" queues
echo "== resque info";    "$bin/resque" info
echo "== resque stats";   "$bin/resque" stats
echo "== the stored payloads of file_serve"
redis-cli -s "${REDIS_URL#unix://}" LRANGE resque:queue:file_serve 0 -1 2>/dev/null \
  || echo "(redis-cli not available for a TCP REDIS_URL here)"
echo "== a worker (crates/resque/examples/worker.rs) drains the queues: QUEUES='*' INTERVAL=0"
QUEUES='*' INTERVAL=0 VERBOSE=1 "$bin/examples/worker"
echo "== resque stats";   "$bin/resque" stats
echo "== resque failures list (FailJob and UnicodeFailJob fail on purpose)"
"$bin/resque" failures list

echo "== delayed and recurring jobs: resque enqueue-in, resque schedule set, and resque-scheduler"
"$bin/resque" enqueue-in 1 file_serve Archive 99 delayed
"$bin/resque" enqueue-in 3600 file_serve Archive 100 "in an hour"
"$bin/resque" schedule set nightly --cron "0 3 * * *" --class Archive --queue file_serve \
  --args '[1,"nightly"]' --description "the nightly archive"
"$bin/resque-scheduler" --redis "$REDIS_URL" -i 1 >"$dir_log" 2>&1 &
sched_pid=$!
for _ in $(seq 100); do "$bin/resque" queues | grep -q 'file_serve *1$' && break; sleep 0.1; done
echo "== resque-scheduler moved the job delayed by 1 s; the one delayed by an hour waits:"
"$bin/resque" queues
"$bin/resque" delayed
"$bin/resque" schedule

echo "== a busy worker and resque-web"
"$bin/resque" enqueue slow SleepJob 600
"$bin/resque" enqueue slow SleepJob 600
for i in 1 2 3; do "$bin/resque" enqueue file_serve Archive "$i" masterbrew; done
QUEUES=slow INTERVAL=1 "$bin/examples/worker" &
worker_pid=$!
web_dir=$(mktemp -d /tmp/resque-web-demo.XXXXXX)
port_args=()
[ -n "${RESQUE_WEB_PORT:-}" ] && port_args=(-p "$RESQUE_WEB_PORT")
"$bin/resque-web" "${port_args[@]}" -o 127.0.0.1 -r "$REDIS_URL" --app-dir "$web_dir" \
  >"$web_dir/out" 2>"$web_dir/log" &
web_pid=$!
for _ in $(seq 100); do grep -q listening "$web_dir/out" 2>/dev/null && break; sleep 0.05; done
url=$(sed -n 's/.*listening on //p' "$web_dir/out" | head -1)
[ -n "$url" ] || { cat "$web_dir/log" >&2; echo "resque-web did not start" >&2; exit 1; }
url=${url/localhost/127.0.0.1}
for _ in $(seq 100); do
  "$bin/resque" info 2>/dev/null | grep -q 'working: *1' && break; sleep 0.1
done
echo "== resque-web is serving at ${url}overview"
http_get "${url}stats.txt"; echo
if http_get "${url}overview" | grep -q "1 of 1 Workers Working"; then
  echo "== the overview shows the busy worker and its SleepJob"
else
  echo "demo: resque-web's overview does not show the busy worker" >&2
  exit 1
fi
if http_get "${url}delayed" | grep -q "in an hour"; then
  echo "== the Delayed tab shows the job delayed by an hour; the Schedule tab shows nightly"
else
  echo "demo: resque-web's Delayed tab does not show the delayed job" >&2
  exit 1
fi
if [ "${DEMO_SERVE:-}" = check ]; then
  exit 0
fi
echo "== open ${url}overview in a browser; Ctrl-C stops the demo"
wait "$web_pid"
