#!/usr/bin/env bash
# The Quick start demo: a private redis-server (unless REDIS_URL is set), example jobs
# enqueued with the library and with the `resque` command, a worker that runs them, then
# what Resque sees (stats, failures).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --no-nextest
cargo build --quiet -p resque --bins --examples
bin="${CARGO_TARGET_DIR:-target}/debug"

if [ -z "${REDIS_URL:-}" ]; then
  dir=$(mktemp -d /tmp/resque-demo.XXXXXX)
  redis-server --port 0 --unixsocket "$dir/redis.sock" --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  for _ in $(seq 100); do [ -S "$dir/redis.sock" ] && break; sleep 0.05; done
  cleanup() { kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; rm -rf "$dir"; }
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
