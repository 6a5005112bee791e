#!/usr/bin/env bash
# Interop check against the real Ruby Resque 3.0 (shared/peers harness), both directions:
#   1. jobs enqueued by resque-rs are read by Ruby (inspect.rb exits 0) and run by a real
#      Ruby worker (work.rb: every job done, none failed);
#   2. jobs enqueued by Ruby are read by resque-rs, and both write identical bytes;
#   3. a Ruby worker's registry entry is listed by `resque list`.
# Needs Ruby Resque's source (RESQUE_RB_SRC) and Debian's ruby gems (see shared/peers/README.md).
# Usage: RESQUE_RB_SRC=$HOME/resque-rb scripts/interop-ruby.sh [PEERS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
peers=${1:-../shared/peers}
: "${RESQUE_RB_SRC:?set RESQUE_RB_SRC to an extracted resque 3.0 tree (see shared/peers/README.md)}"
command -v ruby >/dev/null || { echo "ruby is missing: apt-get install -y ruby ruby-redis ruby-redis-namespace ruby-mono-logger ruby-multi-json" >&2; exit 2; }
cargo build --quiet -p resque --bins
resque="${CARGO_TARGET_DIR:-target}/debug/resque"

dir=$(mktemp -d /tmp/resque-interop.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
trap 'kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
export REDIS_URL="redis://127.0.0.1:$port/0" RESQUE_NS=resque
rb() { ruby -I"$RESQUE_RB_SRC/lib" "$peers/ruby/$1" "${@:2}"; }
fail() { echo "INTEROP FAILURE: $*" >&2; exit 1; }

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
echo "interop: all checks passed"
