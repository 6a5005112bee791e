#!/usr/bin/env bash
# Interop check of resque-rs against node-resque 9 (npm), the most used non-Ruby Resque
# client, on one private Redis:
#   1. node-resque enqueues, our worker runs (its payloads carry "queue": kept whole);
#   2. we enqueue (`resque enqueue`), node-resque's worker runs, with our argument bytes;
#   3. node-resque delays, our resque-scheduler moves; we delay, node-resque's scheduler moves;
#   4. both schedulers at once (each takes its own lock, so both act): every due job reaches
#      its queue exactly once;
#   5. our `resque delayed remove` removes node-resque's delayed items (its key order and
#      number format), and node-resque's delDelayed its own;
#   6. node-resque's failure records, read by our CLI and our resque-web;
#   7. a live node-resque worker, listed by our resque-web and left alone by our reaper.
# node-resque is installed with npm into NODE_PEER_DIR (default ~/.cache/resque-rs/node-peer),
# never into this repository. Needs node and npm (Debian: nodejs, npm).
# Usage: scripts/interop-node.sh      (KEEP_LOGS=1 keeps the logs)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "node and npm are needed (Debian: apt-get install nodejs npm)" >&2; exit 2; }
peer_dir=${NODE_PEER_DIR:-$HOME/.cache/resque-rs/node-peer}
if [ ! -f "$peer_dir/node_modules/node-resque/package.json" ]; then
  mkdir -p "$peer_dir"
  (cd "$peer_dir" && { [ -f package.json ] || npm init -y >/dev/null; } && npm install --no-audit --no-fund node-resque@9 >/dev/null)
fi
echo "node-resque $(node -p "require('$peer_dir/node_modules/node-resque/package.json').version"), node $(node --version)"
cargo build --quiet -p resque-rs --bins
cargo build --quiet -p resque-scheduler --bins
cargo build --quiet -p resque-web --bins
cargo build --quiet -p resque-e2e --bin resque-test-worker
target="${CARGO_TARGET_DIR:-target}/debug"
resque="$target/resque"

dir=$(mktemp -d /tmp/resque-node-interop.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
cleanup() { kill $(jobs -p) 2>/dev/null || true; kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; [ -n "${KEEP_LOGS:-}" ] && echo "logs in $dir" || rm -rf "$dir"; }
trap cleanup EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
export REDIS_URL="redis://127.0.0.1:$port/0" REDIS_PORT="$port"
nd() { NODE_PATH="$peer_dir/node_modules" node scripts/node/peer.js "$@"; }
fail() { echo "INTEROP FAILURE: $*" >&2; exit 1; }
rcli() { redis-cli -p "$port" "$@"; }
wait_for() { # wait_for SECONDS COMMAND...: until the command succeeds
  local n=$(( $1 * 10 )); shift
  for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }
llen_is() { [ "$(rcli llen "$1")" = "$2" ]; }
work() { # our test worker drains QUEUE
  QUEUES="$1" INTERVAL=0 "$target/resque-test-worker" >> "$dir/worker.log" 2>&1 || fail "our worker failed on $1"; }

echo "== 1. node-resque enqueues, our worker runs"
nd enqueue from_node NoopJob '[1, "two", {"b": 1, "a": [null, 1.5]}]' 20
nd enqueue from_node FailJob '[44, "masterbrew"]'
item=$(rcli lindex resque:queue:from_node 0)
[ "$item" = '{"class":"NoopJob","queue":"from_node","args":[1,"two",{"b":1,"a":[null,1.5]}]}' ] ||
  fail "node-resque's payload is not what docs/compat.md says: $item"
work from_node
[ "$(rcli get resque:stat:processed)" = 21 ] || fail "processed $(rcli get resque:stat:processed) of node's 21"
[ "$(rcli get resque:stat:failed)" = 1 ] || fail "failed count $(rcli get resque:stat:failed)"
rec=$(rcli lindex resque:failed 0)
python3 - "$rec" <<'PY' || fail "our failure record of node's job: $rec"
import json, sys
r = json.loads(sys.argv[1])
assert r["payload"] == {"class": "FailJob", "queue": "from_node", "args": [44, "masterbrew"]}, r["payload"]
assert r["exception"] == "RuntimeError" and r["queue"] == "from_node", r
PY
echo "   our worker ran node-resque's 21 jobs; the failure record keeps node's payload whole, \"queue\" key included"

echo "== 2. we enqueue, node-resque's worker runs"
"$resque" enqueue from_rs Archive 44 masterbrew > /dev/null
"$resque" enqueue from_rs Archive --args '[{"user_id":7},1.5,null,"café ☃",[1,[2]]]' > /dev/null
"$resque" enqueue from_rs FailJob 3 > /dev/null
out=$(nd work from_rs)
[ "$out" = '{"failures":1}' ] || fail "node's worker: $out"
got=$(rcli lrange resque:node:ran 0 -1)
want=$'[44,"masterbrew"]\n[{"user_id":7},1.5,null,"café ☃",[1,[2]]]'
[ "$got" = "$want" ] || fail "node-resque ran our jobs with other arguments: $got"
echo "   node-resque's worker ran our 3 jobs with our arguments (one failed, as meant)"

echo "== 3. delayed jobs both ways"
rcli del resque:node:ran > /dev/null
nd enqueue-in 800 node_delayed NoopJob '[7]'
nd enqueue-in 800 node_delayed NoopJob '[8, 1.5]'
"$target/resque-scheduler" --redis "$REDIS_URL" -i 0.2 > "$dir/rs3.log" 2>&1 & rs=$!
wait_for 10 llen_is resque:queue:node_delayed 2 || fail "our scheduler moved $(rcli llen resque:queue:node_delayed) of node's 2 delayed jobs"
kill -TERM "$rs"; wait "$rs" || fail "our scheduler did not exit 0"
[ -z "$(rcli keys 'resque:timestamps:*')" ] || fail "our scheduler left node's timestamps: sets"
work node_delayed
"$resque" enqueue-in 1 rs_delayed Archive 5 > /dev/null
"$resque" enqueue-in 1 rs_delayed Archive --args '[{"x":"y"}]' > /dev/null
nd scheduler 4 > "$dir/node3.log" 2>&1
llen_is resque:queue:rs_delayed 2 || fail "node's scheduler moved $(rcli llen resque:queue:rs_delayed) of our 2 delayed jobs"
[ -z "$(rcli keys 'resque:timestamps:*')" ] || fail "node's scheduler left our timestamps: sets"
nd work rs_delayed > /dev/null
[ "$(rcli lrange resque:node:ran 0 -1 | sort | tr '\n' ' ')" = '[5] [{"x":"y"}] ' ] || fail "node ran $(rcli lrange resque:node:ran 0 -1)"
echo "   our scheduler moved node-resque's delayed jobs and our worker ran them; node-resque's scheduler moved ours and its worker ran them"

echo "== 4. both schedulers at once"
now=$(date +%s)
for i in $(seq 1 100); do
  "$resque" enqueue-at "$(( now + 2 + i % 3 ))" both Archive "$i" > /dev/null &
  [ $(( i % 20 )) = 0 ] && wait
done
for i in $(seq 101 150); do nd enqueue-at "$(( (now + 2 + i % 3) * 1000 ))" both Archive "[$i]" & [ $(( i % 10 )) = 0 ] && wait; done
wait
"$target/resque-scheduler" --redis "$REDIS_URL" -i 0.1 > "$dir/rs4.log" 2>&1 & rs=$!
nd scheduler 8 > "$dir/node4.log" 2>&1
kill -TERM "$rs"; wait "$rs" || fail "our scheduler did not exit 0"
[ "$(rcli exists resque:resque_scheduler_leader_lock)" = 0 ] || fail "node left its leader lock"
n=$(rcli llen resque:queue:both)
distinct=$(rcli lrange resque:queue:both 0 -1 | python3 -c 'import json,sys; print(len({json.loads(l)["args"][0] for l in sys.stdin}))')
[ "$n" = 150 ] && [ "$distinct" = 150 ] || fail "both schedulers: $n items, $distinct distinct, of 150"
[ "$(rcli zcard resque:delayed_queue_schedule)" = 0 ] || fail "timestamps left in the schedule"
echo "   our scheduler (resque-scheduler's lock) and node-resque's (its leader lock) both moved: 150 of 150 due jobs queued once each"

echo "== 5. removals"
later=$(( ($(date +%s) + 3600) * 1000 ))
nd enqueue-at "$later" mail Archive '[1.0, "é", {"2": 1, "1": 2}]'
nd enqueue-at "$(( later + 60000 ))" mail Archive '[1.0, "é", {"2": 1, "1": 2}]'
nd enqueue-at "$later" mail Archive '[9]'
removed=$("$resque" delayed remove mail Archive --args '[1.0, "é", {"2": 1, "1": 2}]')
[ "$(rcli zcard resque:delayed_queue_schedule)" = 1 ] || fail "after our removal: $(rcli zcard resque:delayed_queue_schedule) timestamps ($removed)"
[ -z "$(rcli keys 'resque:timestamps:*1.0*')" ] || fail "timestamps: set left"
out=$(nd del-delayed mail Archive '[9]')
[ -z "$(rcli keys 'resque:delayed:[0-9]*')" ] || fail "node's own removal left $(rcli keys 'resque:delayed:[0-9]*') ($out)"
# node-resque, like Ruby, leaves the emptied timestamp in the schedule (a scheduler drops
# it when it falls due); ours takes it out in the same step.
[ "$(rcli zcard resque:delayed_queue_schedule)" = 1 ] || fail "schedule after node's removal: $(rcli zcard resque:delayed_queue_schedule)"
echo "   our 'resque delayed remove' removed node-resque's 2 copies ($removed); node's delDelayed removed its own (leaving its emptied timestamp, as Ruby does)"

echo "== 6. node-resque's failures, read by our CLI and resque-web"
rcli del resque:failed > /dev/null
nd enqueue node_fail FailJob '[1, "<b>x</b>"]'
nd work node_fail > /dev/null
[ "$(rcli llen resque:failed)" = 1 ] || fail "node wrote $(rcli llen resque:failed) records"
"$resque" failures list > "$dir/failures.txt" || fail "our CLI could not list node's failure"
grep -q "FailJob" "$dir/failures.txt" && grep -q "node_fail" "$dir/failures.txt" || { cat "$dir/failures.txt"; fail "our CLI's list"; }
"$resque" failures show 0 > "$dir/failure.txt" || fail "our CLI could not show node's failure"
grep -q 'FailJob failed: \[1,"<b>x</b>"\]' "$dir/failure.txt" || { cat "$dir/failure.txt"; fail "our CLI's record"; }
wport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$target/resque-web" -p "$wport" -F -r "$REDIS_URL" > "$dir/web.log" 2>&1 & web=$!
wait_for 10 curl -sf "http://127.0.0.1:$wport/overview" -o /dev/null || fail "resque-web did not start"
curl -sf "http://127.0.0.1:$wport/failed" > "$dir/failed.html" || fail "our /failed page did not load node's record"
grep -q "FailJob" "$dir/failed.html" && grep -q "&#60;b&#62;x&#60;/b&#62;" "$dir/failed.html" ||
  fail "our /failed page: node's record missing or not escaped"
echo "   our 'resque failures list/show' and resque-web's /failed read node-resque's record (its failed_at is JavaScript's Date string)"

echo "== 7. a live node-resque worker beside ours"
nd idle-worker idle_q 6 > "$dir/idle.txt" 2>&1 & idle=$!
wait_for 10 test -s "$dir/idle.txt" || fail "node's worker did not start"
name=$(head -1 "$dir/idle.txt")
QUEUES=idle_q INTERVAL=0 RESQUE_HEARTBEAT_INTERVAL=1 "$target/resque-test-worker" >> "$dir/worker.log" 2>&1 || fail "our worker"
rcli smembers resque:workers | grep -q "^$name:idle_q$" || fail "our worker's reaper removed node's live worker ($(rcli smembers resque:workers))"
curl -sf "http://127.0.0.1:$wport/workers" | grep -q "idle_q" || fail "our /workers does not list node's worker"
wait "$idle" || fail "node's idle worker"
kill -TERM "$web"; wait "$web" 2>/dev/null || true
echo "   our reaper left node-resque's live worker registered, and resque-web listed it"
echo "node-resque interop: all 7 sections passed"
