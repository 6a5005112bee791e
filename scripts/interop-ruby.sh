#!/usr/bin/env bash
# Interop check against the real Ruby Resque 3.0 (shared/peers harness), both directions:
#   1. jobs enqueued by resque-rs are read by Ruby (inspect.rb exits 0) and run by a real
#      Ruby worker (work.rb: every job done, none failed);
#   2. jobs enqueued by Ruby are read by resque-rs, and both write identical bytes;
#   3. a Ruby worker's registry entry is listed by `resque list`;
#   then failures both ways, our workers and job slots as Ruby sees and prunes them, a
#   prefetching worker (6c: Ruby's jobs run once, Ruby's view, a Ruby pruner and our reaper),
#   and both resque-webs on one Redis.
# Needs Ruby Resque's source (RESQUE_RB_SRC) and Debian's ruby gems (see shared/peers/README.md).
# Usage: RESQUE_RB_SRC=$HOME/resque-rb scripts/interop-ruby.sh [PEERS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
peers=${1:-../shared/peers}
: "${RESQUE_RB_SRC:?set RESQUE_RB_SRC to an extracted resque 3.0 tree (see shared/peers/README.md)}"
command -v ruby >/dev/null || { echo "ruby is missing: apt-get install -y ruby ruby-redis ruby-redis-namespace ruby-mono-logger ruby-multi-json" >&2; exit 2; }
cargo build --quiet -p resque-rs --bins
cargo build --quiet -p resque-failure --example record_failure
cargo build --quiet -p resque-rs --example worker
cargo build --quiet -p resque-web --bin resque-web
rsworker="${CARGO_TARGET_DIR:-target}/debug/examples/worker"
resque="${CARGO_TARGET_DIR:-target}/debug/resque"
record="${CARGO_TARGET_DIR:-target}/debug/examples/record_failure"
rsweb="${CARGO_TARGET_DIR:-target}/debug/resque-web"

dir=$(mktemp -d /tmp/resque-interop.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
trap 'kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
export REDIS_URL="redis://127.0.0.1:$port/0" RESQUE_NS=resque
rb() { ruby -I"$RESQUE_RB_SRC/lib" "$peers/ruby/$1" "${@:2}"; }
fail() { echo "INTEROP FAILURE: $*" >&2; kill $(jobs -p) 2>/dev/null; exit 1; }

echo "== 1. resque-rs enqueues, Ruby reads and works"
"$resque" enqueue file_serve Archive 44 masterbrew >/dev/null
"$resque" enqueue noop NoopJob --args '[1,-7,18446744073709551616,1.5,10.0,1.0e+20,1.0e-07,null,true,"café ☃ 😀","</script> & \"q\"",{"b":1,"a":[null]}]' >/dev/null
for i in $(seq 1 100); do "$resque" enqueue noop NoopJob "$i" >/dev/null; done
rb inspect.rb > "$dir/inspect1.json" || fail "Ruby's inspect.rb could not read what resque-rs wrote"
python3 - "$dir/inspect1.json" <<'PY' || fail "Ruby does not see our jobs"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["info"]["pending"] == 102, d["info"]
fs = d["queues"]["file_serve"]
assert fs["size"] == 1 and fs["peek"][0] == {"class": "Archive", "args": [44, "masterbrew"]}, fs
print("   Ruby sees", d["info"]["pending"], "pending jobs in", sorted(d["queues"]))
PY
INTERVAL=0 rb work.rb noop,file_serve > "$dir/work1.json" || fail "Ruby worker failed"
python3 - "$dir/work1.json" <<'PY' || fail "Ruby worker did not run every job"
import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
assert d["jobs"] == 102 and d["failed"] == 0, d
print("   Ruby worker ran", d["jobs"], "jobs, failed", d["failed"])
PY
[ "$("$resque" stats | grep processed)" = "resque.processed+=102" ] || fail "stat:processed"

echo "== 2. Ruby enqueues, resque-rs reads; identical bytes"
rb enqueue.rb -q noop -c NoopJob -a '[44,"masterbrew"]' -n 500 > /dev/null
[ "$("$resque" queues --json)" = '{"file_serve":0,"noop":500}' ] || fail "resque-rs does not see Ruby's jobs: $("$resque" queues --json)"
ruby -I"$RESQUE_RB_SRC/lib" -e '
  require File.expand_path(ARGV[0] + "/ruby/peer_common.rb"); Peer.connect!
  Resque.enqueue_to("bytes_rb", "Archive", 44, "masterbrew", 1.0e20, 10.0, 2**64, "é", {"b"=>1, "a"=>[nil]})' "$peers"
"$resque" enqueue bytes_rs Archive --args '[44,"masterbrew",1e20,10.0,18446744073709551616,"é",{"b":1,"a":[null]}]' >/dev/null
a=$(redis-cli -p "$port" --no-raw lrange resque:queue:bytes_rb 0 -1)
b=$(redis-cli -p "$port" --no-raw lrange resque:queue:bytes_rs 0 -1)
[ "$a" = "$b" ] || fail "bytes differ: Ruby $a, resque-rs $b"
echo "   identical: $a"

echo "== 3. a Ruby worker is visible to resque-rs"
INTERVAL=5 ruby -I"$RESQUE_RB_SRC/lib" "$peers/ruby/work.rb" idleq > "$dir/work2.json" &
rbpid=$!
for _ in $(seq 100); do "$resque" list | grep -q ":idleq (idle)" && break; sleep 0.1; done
"$resque" list | grep -q ":idleq (idle)" || fail "resque list does not show the Ruby worker"
echo "   $("$resque" list | grep idleq)"
kill -QUIT "$rbpid"; wait "$rbpid" || true
[ "$("$resque" list)" = "None" ] || fail "Ruby worker did not unregister"
echo "== 4. failures resque-rs wrote: Ruby reads, requeues and removes them"
for b in redis redis_multi_queue; do
  "$record" "$REDIS_URL" "$b" file_serve Archive "boom é" 44 '"masterbrew"'
  "$record" "$REDIS_URL" "$b" low NoopJob "second" 1
done
FAILURE_BACKEND=redis rb inspect.rb > "$dir/inspect4.json" || fail "Ruby cannot read our failure records"
python3 - "$dir/inspect4.json" <<'PY' || fail "Ruby sees our failure records wrongly"
import json, sys
d = json.load(open(sys.argv[1]))
items = d["failure"]["all"] if "all" in d["failure"] else d["failure"]["items"]
assert d["failure"]["count"] == 2, d["failure"]
assert items[0]["payload"] == {"class": "Archive", "args": [44, "masterbrew"]} and items[0]["error"] == "boom é", items[0]
print("   Ruby's Failure.all reads", d["failure"]["count"], "records we wrote")
PY
ruby -I"$RESQUE_RB_SRC/lib" -e '
  require File.expand_path(ARGV[0] + "/ruby/peer_common.rb"); Peer.connect!
  Resque::Failure.requeue(0); Resque::Failure.remove(1)
  require "resque/failure/redis_multi_queue"; Resque::Failure.backend = Resque::Failure::RedisMultiQueue
  Resque::Failure.requeue(0, "file_serve_failed"); Resque::Failure.remove(0, "low_failed")' "$peers"
"$resque" failures list | grep -q "Archive  RuntimeError: boom é  \[retried " || fail "our view of Ruby's requeue"
[ "$("$resque" failures count)" = 1 ] || fail "Ruby's remove of our record"
[ "$("$resque" failures --backend redis_multi_queue count)" = 1 ] || fail "multi-queue remove"
"$resque" failures --backend redis_multi_queue list | grep -q "\[retried " || fail "multi-queue requeue"
[ "$("$resque" queues --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["file_serve"])')" = 2 ] || fail "Ruby's requeue pushed our jobs"
echo "   Ruby requeued and removed our records (both backends)"

echo "== 5. failures Ruby wrote: resque-rs lists, requeues and removes them"
"$resque" failures clear
"$resque" enqueue fail FailJob 1 >/dev/null; "$resque" enqueue fail UnicodeFailJob x >/dev/null
INTERVAL=0 rb work.rb fail > /dev/null
[ "$("$resque" failures count)" = 2 ] || fail "Ruby's failures not seen"
"$resque" failures list | grep -q "CustomError: boom é☃" || fail "Ruby's unicode failure"
"$resque" failures requeue 0 >/dev/null && "$resque" failures remove 1 >/dev/null
rb inspect.rb > "$dir/inspect5.json" || fail "Ruby cannot read the list after our changes"
python3 - "$dir/inspect5.json" <<'PY' || fail "Ruby's view after our requeue/remove"
import json, sys
d = json.load(open(sys.argv[1]))
items = d["failure"]["all"] if "all" in d["failure"] else d["failure"]["items"]
assert d["failure"]["count"] == 1 and "retried_at" in items[0], d["failure"]
print("   Ruby sees our requeue (retried_at) and remove")
PY
echo "== 6. the resque-rs worker: runs Ruby's jobs, Ruby sees it, Ruby does not prune it"
"$resque" failures clear; redis-cli -p "$port" del resque:stat:processed resque:stat:failed >/dev/null
rb enqueue.rb -q noop -c NoopJob -n 200 --clear > /dev/null
rb enqueue.rb -q noop -c FailJob -a '[44,"masterbrew"]' -n 1 > /dev/null
QUEUES=noop INTERVAL=0 "$rsworker" || fail "our worker failed on Ruby's jobs"
[ "$("$resque" stats | grep processed)" = "resque.processed+=201" ] || fail "processed: $("$resque" stats)"
rb inspect.rb > "$dir/inspect6.json" || fail "Ruby cannot read our worker's failure record"
python3 - "$dir/inspect6.json" <<'PY' || fail "Ruby's view of our failure record"
import json, sys
d = json.load(open(sys.argv[1]))
f = d["failure"]["all"][0]
assert f["exception"] == "RuntimeError" and f["error"] == 'FailJob failed: [44, "masterbrew"]', f
print("   our worker ran 200 Ruby-enqueued jobs; Ruby's Failure.all reads its record:", f["error"])
PY
"$resque" enqueue sleep SleepJob 20 >/dev/null
QUEUES=sleep INTERVAL=0.2 "$rsworker" &
rspid=$!
for _ in $(seq 100); do [ -n "$("$resque" list | grep working)" ] && break; sleep 0.1; done
rb inspect.rb > "$dir/inspect7.json" || fail "Ruby cannot read our busy worker"
python3 - "$dir/inspect7.json" "$rspid" <<'PY' || fail "Ruby's view of our busy worker"
import json, sys
d, pid = json.load(open(sys.argv[1])), sys.argv[2]
w = [w for w in d["workers"] if w["id"].split(":")[1] == pid]
assert w and w[0]["state"] == "working" and w[0]["job"]["payload"]["class"] == "SleepJob", d["workers"]
assert w[0]["started"] and w[0]["heartbeat"], w[0]
assert d["info"]["working"] == 1 and len(d["working"]) == 1, d["info"]
print("   Ruby sees our worker", w[0]["id"], "working on", w[0]["job"]["payload"]["class"], "heartbeat", w[0]["heartbeat"])
PY
# Ruby's resque-web shows our busy worker and its job.
webport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$peers/ruby/web.sh" "$webport" 127.0.0.1 > "$dir/web.log" 2>&1 &
webpid=$!
for _ in $(seq 150); do curl -sf "http://127.0.0.1:$webport/overview" >/dev/null 2>&1 && break; sleep 0.2; done
workers_html=$(curl -sf "http://127.0.0.1:$webport/workers" || true)
working_html=$(curl -sf "http://127.0.0.1:$webport/working" || true)
overview_html=$(curl -sf "http://127.0.0.1:$webport/overview" || true)
kill -INT "$webpid" 2>/dev/null; wait "$webpid" 2>/dev/null || true
echo "$workers_html" | grep -q ":$rspid:sleep" || fail "Ruby's resque-web /workers does not list our worker"
echo "$working_html" | grep -q "SleepJob" || fail "Ruby's resque-web /working does not show our job"
echo "$working_html" | grep -q "1 of 1 Workers Working" || fail "Ruby's resque-web counts our worker as working"
echo "$overview_html" | grep -q ":$rspid:sleep" || fail "Ruby's resque-web /overview does not show our worker"
echo "   Ruby's resque-web lists our worker on /workers, /working (1 of 1 Workers Working, SleepJob) and /overview"
# A Ruby worker starting on this host with the same queue prunes dead workers first. Free
# the pruning lock (ours took it at start-up) so Ruby really prunes, and register a dead
# same-host worker as a control: Ruby must prune that one and keep ours.
host=$(hostname)
redis-cli -p "$port" del resque:pruning_dead_workers_in_progress >/dev/null
redis-cli -p "$port" sadd resque:workers "$host:999999:sleep" >/dev/null
INTERVAL=0 rb work.rb sleep > /dev/null
"$resque" list | grep -q ":$rspid:sleep (working)" || fail "a Ruby worker pruned our live worker"
"$resque" list | grep -q ":999999:sleep" && fail "control: Ruby did not prune the dead worker"
echo "   a Ruby worker started with the same queue pruned a dead worker and left ours alone"
kill -QUIT "$rspid"; wait "$rspid" || fail "our worker's exit status"
[ "$("$resque" list)" = "None" ] || fail "our worker did not unregister"
echo "== 6b. job slots (CONCURRENCY=3): three workers to Ruby, busy together, none pruned"
for _ in 1 2 3; do "$resque" enqueue slots SleepJob 20 >/dev/null; done
QUEUES=slots INTERVAL=0.2 FORK_PER_JOB=false CONCURRENCY=3 "$rsworker" &
slotpid=$!
for _ in $(seq 100); do [ "$("$resque" list | grep -c ":$slotpid:slots.*(working)")" = 3 ] && break; sleep 0.1; done
rb inspect.rb > "$dir/inspect_slots.json" || fail "Ruby cannot read our job slots"
python3 - "$dir/inspect_slots.json" "$slotpid" <<'PY' || fail "Ruby's view of our job slots"
import json, sys
d, pid = json.load(open(sys.argv[1])), sys.argv[2]
w = [w for w in d["workers"] if w["id"].split(":")[1] == pid]
assert len(w) == 3 and all(x["state"] == "working" for x in w), w
assert all(x["job"]["payload"]["class"] == "SleepJob" for x in w), w
print("   Ruby sees 3 workers of pid", pid, "all working:", ", ".join(sorted(x["id"] for x in w)))
PY
# Ruby workers on the same host, with the same queue and with `*`, prune before they start.
for qs in slots '*'; do
  redis-cli -p "$port" del resque:pruning_dead_workers_in_progress >/dev/null
  redis-cli -p "$port" sadd resque:workers "$host:999998:slots" >/dev/null
  INTERVAL=0 rb work.rb "$qs" > /dev/null
  [ "$("$resque" list | grep -c ":$slotpid:slots")" = 3 ] || fail "a Ruby '$qs' worker pruned a live job slot"
  "$resque" list | grep -q ":999998:slots" && fail "control: Ruby ('$qs') did not prune the dead worker"
done
echo "   Ruby workers (queue slots, and *) pruned a dead worker and left all 3 slots alone"
kill -QUIT "$slotpid"; wait "$slotpid" || fail "our slotted worker's exit status"
[ "$("$resque" list | grep -c ":$slotpid:")" = 0 ] || fail "our slots left registrations behind"

echo "== 6c. reserving ahead (RESQUE_PREFETCH): Ruby's jobs, Ruby's view, Ruby's pruner"
"$resque" failures clear; redis-cli -p "$port" del resque:stat:processed resque:stat:failed >/dev/null
rb enqueue.rb -q ahead -c NoopJob -n 300 --clear > /dev/null
QUEUES=ahead INTERVAL=0 FORK_PER_JOB=false RESQUE_PREFETCH=20 "$rsworker" || fail "our prefetching worker failed"
[ "$("$resque" stats | grep processed)" = "resque.processed+=300" ] || fail "processed: $("$resque" stats)"
[ -z "$(redis-cli -p "$port" --scan --pattern 'resque:resque-rs:held:*')" ] || fail "a held list was left behind"
echo "   our prefetching worker ran Ruby's 300 jobs, each counted once, nothing left held"
# Quick jobs, one that takes 20 s, quick ones: killed while it runs, our worker holds jobs.
redis-cli -p "$port" del resque:stat:processed >/dev/null
rb enqueue.rb -q ahead -c NoopJob -n 5 > /dev/null
"$resque" enqueue ahead SleepJob 20 >/dev/null
rb enqueue.rb -q ahead -c NoopJob -n 5 > /dev/null
QUEUES=ahead INTERVAL=0.2 FORK_PER_JOB=false RESQUE_PREFETCH=20 RESQUE_HEARTBEAT_INTERVAL=1 "$rsworker" &
aheadpid=$!
for _ in $(seq 100); do [ -n "$(redis-cli -p "$port" --scan --pattern 'resque:resque-rs:held:*')" ] && \
  [ "$(redis-cli -p "$port" llen resque:queue:ahead)" = 0 ] && break; sleep 0.1; done
[ "$(redis-cli -p "$port" llen resque:queue:ahead)" = 0 ] || fail "our worker holds nothing ahead"
rb inspect.rb > "$dir/inspect_ahead.json" || fail "Ruby cannot read our holding worker"
python3 - "$dir/inspect_ahead.json" "$aheadpid" <<'PY' || fail "Ruby's view of our holding worker"
import json, sys
d, pid = json.load(open(sys.argv[1])), sys.argv[2]
w = [w for w in d["workers"] if w["id"].split(":")[1] == pid]
assert w and w[0]["state"] == "working", d["workers"]
assert d["queues"]["ahead"]["size"] == 0, d["queues"]
print("   Ruby sees our holding worker working on", w[0]["job"]["payload"]["class"], "and queue ahead empty (the rest held)")
PY
kill -KILL "$aheadpid"; wait "$aheadpid" 2>/dev/null || true
# A Ruby worker on this host and queue prunes ours (no such process) with Ruby's
# unregister_worker, which knows nothing of held lists; our next reaper pass returns them.
redis-cli -p "$port" del resque:pruning_dead_workers_in_progress >/dev/null
INTERVAL=0 rb work.rb ahead > /dev/null
"$resque" list | grep -q ":$aheadpid:" && fail "Ruby did not prune our killed worker"
[ -n "$(redis-cli -p "$port" --scan --pattern 'resque:resque-rs:held:*')" ] || fail "the held list went with Ruby's prune?"
echo "   a Ruby worker pruned our killed worker; its held list is still there (Ruby does not know it)"
redis-cli -p "$port" del resque:pruning_dead_workers_in_progress >/dev/null
QUEUES=elsewhere INTERVAL=0.2 RESQUE_HEARTBEAT_INTERVAL=1 "$rsworker" &
reaperpid=$!
for _ in $(seq 100); do [ -z "$(redis-cli -p "$port" --scan --pattern 'resque:resque-rs:held:*')" ] && break; sleep 0.1; done
kill -QUIT "$reaperpid"; wait "$reaperpid" || fail "our reaper's exit status"
[ -z "$(redis-cli -p "$port" --scan --pattern 'resque:resque-rs:held:*')" ] || fail "our reaper did not return the held list"
rb inspect.rb --peek 20 > "$dir/inspect_back.json" || fail "Ruby cannot read the returned jobs"
python3 - "$dir/inspect_back.json" <<'PY' || fail "Ruby's view of the returned jobs"
import json, sys
d = json.load(open(sys.argv[1]))
q = d["queues"]["ahead"]
processed = int(d["stats"].get("processed") or 0) if isinstance(d["stats"], dict) else 0
failed = d["failure"]["count"]
# Every one of the 11 jobs: run and counted, a DirtyExit record, or back in the queue.
assert processed + failed + q["size"] == 11, (processed, failed, q["size"])
assert any(j["class"] == "SleepJob" for j in q["peek"]) or failed == 1, q["peek"]
print(f"   our reaper put {q['size']} held jobs back; Ruby's Resque.peek reads them "
      f"({processed} counted, {failed} DirtyExit records, {q['size']} queued: none lost)")
PY
redis-cli -p "$port" del resque:queue:ahead >/dev/null; "$resque" failures clear

echo "== 7. Ruby's resque-web and ours, side by side on the same Redis"
# State written by both: a busy Ruby worker and a busy resque-rs worker, queues from both,
# failure records from both.
"$resque" enqueue sleep SleepJob 20
"$resque" enqueue sleep SleepJob 20
for i in 1 2 3; do "$resque" enqueue side_by_side Archive "$i" masterbrew; done
rb enqueue.rb NoopJob 5 > /dev/null 2>&1 || true
QUEUES=sleep INTERVAL=1 "$rsworker" & rs2=$!
INTERVAL=1 rb work.rb sleep > "$dir/rbwork.log" 2>&1 & rb2=$!
for _ in $(seq 100); do [ "$("$resque" info --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["working"])')" = 2 ] && break; sleep 0.2; done
[ "$("$resque" info --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["working"])')" = 2 ] || fail "both workers should be working"
"$record" "$REDIS_URL" > /dev/null 2>&1 || true
rbport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rsport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$peers/ruby/web.sh" "$rbport" 127.0.0.1 > "$dir/web.log" 2>&1 & rbweb=$!
"$rsweb" -p "$rsport" -o 127.0.0.1 -r "$REDIS_URL" --app-dir "$dir" > "$dir/rsweb.log" 2>&1 & rsweb_pid=$!
for _ in $(seq 150); do curl -sf "http://127.0.0.1:$rbport/overview" >/dev/null 2>&1 && curl -sf "http://127.0.0.1:$rsport/overview" >/dev/null 2>&1 && break; sleep 0.2; done
page() { curl -sf "http://127.0.0.1:$1$2" || fail "GET $2 on port $1"; }
facts() { # what a page says, markup aside: counts, queue links, worker ids, failure classes
  sed -e 's/<[^>]*>/ /g' -e 's/&#39;/'"'"'/g' | tr -s ' \n' ' ' ; }
for p in /overview /working /workers /queues /failed /stats.txt; do
  page "$rbport" "$p" > "$dir/rb$(echo "$p" | tr / _)"
  page "$rsport" "$p" > "$dir/rs$(echo "$p" | tr / _)"
done
# Ruby lists queues in SMEMBERS order, ours sorted: the same lines.
sort "$dir/rb_stats.txt" > "$dir/rb_stats.sorted"; sort "$dir/rs_stats.txt" > "$dir/rs_stats.sorted"
cmp -s "$dir/rb_stats.sorted" "$dir/rs_stats.sorted" || { diff "$dir/rb_stats.sorted" "$dir/rs_stats.sorted"; fail "/stats.txt differs"; }
echo "   /stats.txt: the same lines: $(tr '\n' ' ' < "$dir/rs_stats.sorted")"
w_rb=$(facts < "$dir/rb_working" | grep -o '[0-9]* of [0-9]* Workers Working')
w_rs=$(facts < "$dir/rs_working" | grep -o '[0-9]* of [0-9]* Workers Working')
[ "$w_rb" = "$w_rs" ] && [ "$w_rs" = "2 of 2 Workers Working" ] || fail "working: Ruby '$w_rb', ours '$w_rs'"
echo "   /working: both say '$w_rs'"
ids() { grep -o 'href="[^"]*/workers/[^"]*"' | sed 's/.*\/workers\///; s/"$//' | sort -u; }
ids < "$dir/rb_workers" > "$dir/ids_rb"; ids < "$dir/rs_workers" > "$dir/ids_rs"
cmp -s "$dir/ids_rb" "$dir/ids_rs" || { diff "$dir/ids_rb" "$dir/ids_rs"; fail "/workers lists different workers"; }
echo "   /workers: both list $(wc -l < "$dir/ids_rs") workers (one Ruby, one resque-rs): $(tr '\n' ' ' < "$dir/ids_rs")"
qs() { grep -o 'href="[^"]*/queues/[^"?]*"' | sed 's/.*\/queues\///; s/"$//' | sort -u; }
qs < "$dir/rb_queues" > "$dir/q_rb"; qs < "$dir/rs_queues" > "$dir/q_rs"
cmp -s "$dir/q_rb" "$dir/q_rs" || { diff "$dir/q_rb" "$dir/q_rs"; fail "/queues lists different queues"; }
echo "   /queues: both list $(tr '\n' ' ' < "$dir/q_rs")"
# The totals. Ruby writes "Showing 0 to 3 jobs" for four (counting from 0, no total) and
# "Showing 0-19 of 57 jobs" past a page; ours "Showing 1 to 4 of 4 jobs".
total() { facts | python3 -c '
import re, sys
t = sys.stdin.read()
m = re.search(r"of (\d+) jobs", t) or re.search(r"Showing \d+ to (\d+) jobs", t)
if m:
    n = int(m.group(1)) + (0 if "of" in m.group(0) else 1)
elif "Showing 1 job" in t:
    n = 1
else:
    n = 0
print(n)'; }
for f in rb rs; do total < "$dir/${f}_failed" > "$dir/fc_$f"; done
cmp -s "$dir/fc_rb" "$dir/fc_rs" || fail "/failed counts: Ruby '$(cat "$dir/fc_rb")', ours '$(cat "$dir/fc_rs")'"
for c in $(grep -o '<code>[A-Za-z:]*</code>' "$dir/rb_failed" | sort -u | sed 's/<[^>]*>//g'); do
  grep -q "<code>$c</code>" "$dir/rs_failed" || fail "/failed: class $c shown by Ruby, not by us"
done
echo "   /failed: both count $(cat "$dir/fc_rs") records, with the same job classes and exceptions"
kill -INT "$rbweb" "$rsweb_pid" 2>/dev/null; wait "$rbweb" "$rsweb_pid" 2>/dev/null || true
kill -TERM "$rs2" 2>/dev/null; kill -TERM "$rb2" 2>/dev/null; wait "$rs2" "$rb2" 2>/dev/null || true
echo "interop: all checks passed"
