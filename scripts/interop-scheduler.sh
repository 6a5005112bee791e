#!/usr/bin/env bash
# Interop check of resque-rs's scheduler against the real resque-scheduler 5.0 on Ruby
# Resque 3.0 (shared/peers harness), both directions:
#   1. jobs Ruby delays are moved by our resque-scheduler, with Ruby's payload bytes;
#   2. jobs we delay (`resque enqueue-in`) are moved by Ruby's resque-scheduler;
#   3. one Ruby and one Rust scheduler on one Redis: exactly one is master, every due job
#      reaches its queue exactly once, and TERM on the master hands over to the other;
#   4. the push-while-moving race: items pushed to a due timestamp while a scheduler moves
#      it, counted for Ruby's scheduler and for ours;
#   5. Ruby's resque-web Delayed and Schedule tabs list what we wrote, and (6) ours what Ruby
#      wrote;
#   7. resque-retry across a Ruby and a Rust worker: one counter, the delayed retry and its
#      suppressed record (shown by both Retry tabs), the give-up's record (both Failed tabs).
# Needs the sources of Resque 3.0, resque-scheduler 5.0 and resque-retry 1.8 and Debian's
# gems (shared/peers/README.md, the plugin section).
# Usage: RESQUE_RB_SRC=... RESQUE_SCHEDULER_SRC=... RESQUE_RETRY_SRC=... scripts/interop-scheduler.sh [PEERS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
peers=$(cd "${1:-../shared/peers}" && pwd)
: "${RESQUE_RB_SRC:?set RESQUE_RB_SRC to an extracted resque 3.0 tree}"
: "${RESQUE_SCHEDULER_SRC:?set RESQUE_SCHEDULER_SRC to an extracted resque-scheduler 5.0 tree}"
: "${RESQUE_RETRY_SRC:?set RESQUE_RETRY_SRC to an extracted resque-retry 1.8 tree}"
command -v ruby >/dev/null || { echo "ruby is missing (see shared/peers/README.md)" >&2; exit 2; }
cargo build --quiet -p resque-rs --bins
cargo build --quiet -p resque-scheduler --bins
cargo build --quiet -p resque-e2e --bin resque-delay-proxy --bin resque-test-worker
target="${CARGO_TARGET_DIR:-target}/debug"
resque="$target/resque"
rssched="$target/resque-scheduler"

dir=$(mktemp -d /tmp/resque-sched-interop.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
cleanup() { kill $(jobs -p) 2>/dev/null || true; kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; [ -n "${KEEP_LOGS:-}" ] || rm -rf "$dir"; }
trap cleanup EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
export REDIS_URL="redis://127.0.0.1:$port/0" RESQUE_NS=resque
rbi="-I$RESQUE_RB_SRC/lib -I$RESQUE_SCHEDULER_SRC/lib -I$RESQUE_RETRY_SRC/lib"
rb() { ruby $rbi -e "require '$peers/ruby/peer_common.rb'; Peer.connect!; require 'resque-scheduler'; $1"; }
rbsched() { RESQUE_SCHEDULER_INTERVAL="${INTERVAL:-1}" VERBOSE=1 exec ruby $rbi "$RESQUE_SCHEDULER_SRC/exe/resque-scheduler" -I "$peers/ruby/scheduler_init.rb"; }
fail() { echo "INTEROP FAILURE: $*" >&2; exit 1; }
rcli() { redis-cli -p "$port" "$@"; }
wait_for() { # wait_for SECONDS COMMAND...: until the command succeeds
  local n=$(( $1 * 10 )); shift
  for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }
llen_is() { [ "$(rcli llen "$1")" = "$2" ]; }

echo "== 1. Ruby delays, our scheduler moves"
rb '
  [[1], [44, "masterbrew"], [{"b" => 1, "a" => [nil, 1.5]}], ["café ☃", 2**64, 1.0e20]].each do |a|
    Resque.enqueue_in_with_queue("from_rb", 1, "Archive", *a)
  end
  Resque.delayed_push(Time.now - 30, {"class" => "Archive", "args" => [5], "queue" => "from_rb"})'
ruby $rbi -e "require '$peers/ruby/peer_common.rb'; Peer.connect!
  args = [[1], [44, 'masterbrew'], [{'b' => 1, 'a' => [nil, 1.5]}], ['café ☃', 2**64, 1.0e20], [5]]
  puts args.map { |a| Resque.encode({'class' => 'Archive', 'args' => a}) }.sort" > "$dir/expected1"
"$rssched" --redis "$REDIS_URL" -i 0.2 > "$dir/rs1.log" 2>&1 & rs=$!
wait_for 10 llen_is resque:queue:from_rb 5 || fail "our scheduler moved $(rcli llen resque:queue:from_rb) of Ruby's 5 delayed jobs"
kill -TERM "$rs"; wait "$rs" || fail "our scheduler did not exit 0 on TERM"
rcli lrange resque:queue:from_rb 0 -1 | sort > "$dir/got1"
cmp -s "$dir/expected1" "$dir/got1" || { diff "$dir/expected1" "$dir/got1"; fail "payload bytes differ from Ruby's"; }
[ "$(rcli exists resque:resque:resque_scheduler_master_lock)" = 0 ] || fail "our TERM left the lock"
[ -z "$(rcli keys 'resque:timestamps:*')" ] || fail "stale timestamps: sets left"
echo "   our scheduler moved Ruby's 5 delayed jobs (one already overdue), byte for byte Ruby's payloads; TERM released the lock"

echo "== 2. we delay, Ruby's scheduler moves"
"$resque" enqueue-in 1 from_rs Archive 44 masterbrew > /dev/null
"$resque" enqueue-in 1 from_rs Archive --args '[{"user_id":7},1.5,null,"é"]' > /dev/null
"$resque" enqueue-at "$(( $(date +%s) - 60 ))" from_rs Archive 3 > /dev/null # past: at once
ts=$(( $(date +%s) + 1 ))
"$resque" enqueue-at "$ts" from_rs Archive 4 > /dev/null
rbsched > "$dir/rb2.log" 2>&1 & rbs=$!
wait_for 15 llen_is resque:queue:from_rs 4 || fail "Ruby moved $(rcli llen resque:queue:from_rs) of our 4 jobs"
kill -TERM "$rbs"; wait "$rbs" 2>/dev/null || true
rcli lrange resque:queue:from_rs 0 -1 > "$dir/got2"
grep -qxF '{"class":"Archive","args":[{"user_id":7},1.5,null,"é"]}' "$dir/got2" || { cat "$dir/got2"; fail "Ruby's move changed our bytes"; }
[ -z "$(rcli keys 'resque:timestamps:*')" ] || fail "Ruby left timestamps: sets for our items"
echo "   Ruby's resque-scheduler moved our 3 delayed jobs (and the past one went at once): $(tr '\n' ' ' < "$dir/got2")"

echo "== 3. one Ruby and one Rust scheduler: one master, every job once, TERM hands over"
rcli del resque:queue:both > /dev/null
INTERVAL=0.5 rbsched > "$dir/rb3.log" 2>&1 & rbs=$!
"$rssched" --redis "$REDIS_URL" -i 0.2 -v > "$dir/rs3.log" 2>&1 & rs=$!
wait_for 10 bash -c "grep -q 'Master scheduler' '$dir/rb3.log' || grep -q 'Master scheduler' '$dir/rs3.log'" || fail "no master"
sleep 1
masters=$( (grep -l "Master scheduler" "$dir/rb3.log" "$dir/rs3.log" 2>/dev/null || true) | wc -l)
[ "$masters" = 1 ] || fail "$masters masters"
holder=$(rcli get resque:resque:resque_scheduler_master_lock)
first=$([ "${holder##*:}" = "$rbs" ] && echo ruby || echo rust)
echo "   master: $first ($holder)"
total=0
push() { # push N jobs due now, half delayed by Ruby, half by us
  local from=$1 n=$2
  ruby $rbi -e "require '$peers/ruby/peer_common.rb'; Peer.connect!; require 'resque-scheduler'
    ($from...($from + $n / 2)).each { |i| Resque.enqueue_at_with_queue('both', Time.now + 1, 'Archive', i) }"
  for i in $(seq $(( from + n / 2 )) $(( from + n - 1 ))); do "$resque" enqueue-in 1 both Archive "$i" > /dev/null; done
  total=$(( total + n ))
}
push 0 40
wait_for 15 llen_is resque:queue:both "$total" || fail "$(rcli llen resque:queue:both) of $total arrived"
if [ "$first" = ruby ]; then kill -TERM "$rbs"; wait "$rbs" 2>/dev/null || true; else kill -TERM "$rs"; wait "$rs" || true; fi
t0=$(date +%s.%N)
wait_for 10 bash -c "[ -n \"\$(redis-cli -p $port get resque:resque:resque_scheduler_master_lock)\" ]" || fail "nobody took over"
t1=$(date +%s.%N)
echo "   after TERM on the $first master, the other took the lock in $(python3 -c "print(f'{$t1-$t0:.2f}')") s: $(rcli get resque:resque:resque_scheduler_master_lock)"
push 40 40
wait_for 15 llen_is resque:queue:both "$total" || fail "$(rcli llen resque:queue:both) of $total arrived after the handover"
# And back: the stopped side starts again as a child, the master stops, it takes over.
if [ "$first" = ruby ]; then
  INTERVAL=0.5 rbsched > "$dir/rb3b.log" 2>&1 & rbs=$!; newer=$rbs; other=$rs; second=rust
else
  "$rssched" --redis "$REDIS_URL" -i 0.2 -v > "$dir/rs3b.log" 2>&1 & rs=$!; newer=$rs; other=$rbs; second=ruby
fi
sleep 2
kill -TERM "$other"; wait "$other" 2>/dev/null || true
wait_for 10 bash -c "[ \"\$(redis-cli -p $port get resque:resque:resque_scheduler_master_lock)\" != '' ] && redis-cli -p $port get resque:resque:resque_scheduler_master_lock | grep -q ':$newer\$'" || fail "the restarted scheduler did not take over"
echo "   after TERM on the $second master, the restarted $first scheduler took the lock: $(rcli get resque:resque:resque_scheduler_master_lock)"
push 80 40
wait_for 15 llen_is resque:queue:both "$total" || fail "$(rcli llen resque:queue:both) of $total arrived after the second handover"
sleep 1.5
n=$(rcli llen resque:queue:both); u=$(rcli lrange resque:queue:both 0 -1 | sort -u | wc -l)
[ "$n" = "$total" ] && [ "$u" = "$total" ] || fail "$n jobs, $u distinct, of $total"
echo "   $total jobs delayed by both sides reached the queue exactly once ($u distinct)"
kill -TERM "$rbs" "$rs" 2>/dev/null; wait 2>/dev/null || true

echo "== 4. the push-while-moving race (items pushed to a due timestamp while it is moved)"
# Each scheduler talks to Redis through a proxy adding 2 ms a round trip (a Redis in
# another zone), which widens Ruby's window between its LRANGE and its WATCH; the pushes go
# straight to Redis.
"$target/resque-delay-proxy" --upstream "127.0.0.1:$port" --delay-ms 2 > "$dir/proxy.port" & proxy=$!
wait_for 5 test -s "$dir/proxy.port" || fail "the delay proxy did not start"
slow="redis://127.0.0.1:$(head -1 "$dir/proxy.port" | grep -o '[0-9]*$')/0"
race() { # race NAME: start scheduler NAME, push N items to one due timestamp, count arrivals
  local who=$1 n=5000
  rcli del resque:queue:race > /dev/null
  local due=$(( $(date +%s) - 1 ))
  if [ "$who" = ruby ]; then REDIS_URL=$slow INTERVAL=0.05 DELAYED_REQUEUE_BATCH_SIZE=50 rbsched > "$dir/race_rb.log" 2>&1 & sp=$!
  else "$rssched" --redis "$slow" -i 0.05 --batch-size 50 > "$dir/race_rs.log" 2>&1 & sp=$!; fi
  sleep 2
  # One script per item (the same three writes as delayed_push), 20 at a time with a short
  # pause, so items keep arriving over a few seconds while the scheduler reads and trims.
  python3 - "$port" "$due" "$n" <<'PY'
import socket, sys, time
port, due, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port))
lua = ("for i = 2, #ARGV do redis.call('RPUSH', 'resque:delayed:' .. ARGV[1], ARGV[i]); "
       "redis.call('SADD', 'resque:timestamps:' .. ARGV[i], 'delayed:' .. ARGV[1]) end; "
       "redis.call('ZADD', 'resque:delayed_queue_schedule', ARGV[1], ARGV[1])")
def cmd(*a):
    out = b"*%d\r\n" % len(a)
    for x in a:
        x = x.encode() if isinstance(x, str) else x
        out += b"$%d\r\n%s\r\n" % (len(x), x)
    return out
buf = s.makefile("rb")
for start in range(0, n, 20):
    s.sendall(b"".join(cmd("EVAL", lua, "0", due, '{"class":"Archive","args":[%d],"queue":"race"}' % i)
                       for i in range(start, start + 20)))
    for _ in range(20):
        buf.readline()
    time.sleep(0.02)
PY
  # Until the queue stops growing.
  local last=-1 now_n
  while now_n=$(rcli llen resque:queue:race); [ "$now_n" != "$last" ]; do last=$now_n; sleep 2; done
  kill -TERM "$sp"; wait "$sp" 2>/dev/null || true
  local got; got=$(rcli llen resque:queue:race)
  local left; left=$(rcli llen "resque:delayed:$due")
  echo "$got $left"
}
read -r rb_got rb_left <<<"$(race ruby)"
read -r rs_got rs_left <<<"$(race rust)"
echo "   Ruby's resque-scheduler: $rb_got of 5000 enqueued, $rb_left still delayed, $(( 5000 - rb_got - rb_left )) lost"
echo "   ours:                    $rs_got of 5000 enqueued, $rs_left still delayed, $(( 5000 - rs_got - rs_left )) lost"
[ "$rs_got" = 5000 ] || fail "ours lost or kept items: $rs_got enqueued, $rs_left left"
kill "$proxy" 2>/dev/null || true
# The same race made certain: Ruby's own handle_delayed_items, in process, with another
# client's delayed_push injected right after its LRANGE (before its WATCH), which is where a
# concurrent push must land to be lost. Ours: crates/store/tests/delayed.rs pushes between
# due_batch and commit_moves and asserts the item stays.
lost=$(ruby $rbi -e "require '$peers/ruby/peer_common.rb'; Peer.connect!; require 'resque-scheduler'
  ts = Time.now.to_i - 1
  3.times { |i| Resque.delayed_push(Time.at(ts), {'class' => 'Archive', 'args' => [i], 'queue' => 'inj'}) }
  inner = Resque.redis.instance_variable_get(:@redis); injected = false
  Resque.redis.define_singleton_method(:lrange) do |*a|
    r = inner.lrange(*a)
    unless injected
      injected = true
      Resque.delayed_push(Time.at(ts), {'class' => 'Archive', 'args' => [99], 'queue' => 'inj'})
    end
    r
  end
  Resque::Scheduler.handle_delayed_items
  Resque::Scheduler.release_master_lock
  print \"\\n\", 4 - Resque.size('inj') - Resque.delayed_timestamp_size(ts)" 2>/dev/null | tail -n 1)
echo "   Ruby with one push injected between its LRANGE and WATCH: $lost of 4 lost (enqueued $(rcli llen resque:queue:inj))"
[ "$lost" -ge 1 ] || fail "expected Ruby's scheduler to lose the injected item"

echo "== 5. Ruby's resque-web Delayed and Schedule tabs list what we wrote"
rcli --scan --pattern 'resque:*' | while read -r k; do rcli del "$k" > /dev/null; done
later=$(( $(date +%s) + 3600 ))
"$resque" enqueue-at "$later" web_q WebDelayedJob 7 > /dev/null
"$resque" schedule set rs_hourly --every 1h --class WebScheduledJob --queue web_q --description "set by resque-rs" > /dev/null
ruby $rbi -e "require '$peers/ruby/peer_common.rb'; Peer.connect!
  require 'resque/server'; require 'resque-scheduler'; require 'resque/scheduler/server'; require 'rack/mock'
  app = Rack::MockRequest.new(Resque::Server.new)
  d = app.get('/delayed'); s = app.get('/schedule')
  abort \"delayed: #{d.status}\" unless d.status == 200 && d.body.include?('WebDelayedJob')
  abort 'delayed timestamp' unless d.body.include?(Time.at($later).strftime('%Y-%m-%d %H:%M:%S'))
  abort \"schedule: #{s.status}\" unless s.status == 200 && s.body.include?('rs_hourly') && s.body.include?('set by resque-rs') && s.body.include?('WebScheduledJob')
  puts '   Ruby /delayed lists WebDelayedJob at ' + Time.at($later).strftime('%Y-%m-%d %H:%M:%S %z') + '; /schedule lists rs_hourly (every: 1h, WebScheduledJob)'
" || fail "Ruby's tabs do not show what we wrote"
echo "== 6. our resque-web's Delayed and Schedule tabs list what Ruby wrote"
ruby $rbi -e "require '$peers/ruby/peer_common.rb'; Peer.connect!; require 'resque-scheduler'
  Resque.enqueue_at_with_queue('rb_q', Time.at($later + 60), 'RubyDelayedJob', 7, 'x')
  Resque.set_schedule('rb_nightly', {'class' => 'RubyNightly', 'cron' => '0 3 * * *', 'queue' => 'rb_q', 'description' => 'set by Ruby', 'persist' => true})" > /dev/null 2>&1
cargo build --quiet -p resque-web --bin resque-web
wport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$target/resque-web" -p "$wport" -o 127.0.0.1 -r "$REDIS_URL" --app-dir "$dir" > "$dir/web.log" 2>&1 & web=$!
wait_for 20 curl -sf "http://127.0.0.1:$wport/overview" -o /dev/null || fail "our resque-web did not start"
curl -sf "http://127.0.0.1:$wport/delayed" > "$dir/our_delayed.html" || fail "GET /delayed"
curl -sf "http://127.0.0.1:$wport/schedule" > "$dir/our_schedule.html" || fail "GET /schedule"
kill "$web" 2>/dev/null || true
grep -q "RubyDelayedJob" "$dir/our_delayed.html" && grep -q "WebDelayedJob" "$dir/our_delayed.html" || fail "our /delayed does not list Ruby's job"
grep -q "rb_nightly" "$dir/our_schedule.html" && grep -q "set by Ruby" "$dir/our_schedule.html" && grep -q "cron: 0 3 \* \* \*" "$dir/our_schedule.html" || fail "our /schedule does not list Ruby's schedule"
echo "   our /delayed lists Ruby's RubyDelayedJob (and ours); /schedule lists Ruby's rb_nightly (cron: 0 3 * * *, set by Ruby)"
echo "== 7. resque-retry: one counter across a Ruby and a Rust worker"
# RetryOnceDelayedJob (retry_limit 1, retry_delay 60) in the peer harness and in our test
# worker, both with MultipleWithRetrySuppression. The first worker runs attempt 0 and delays
# the retry; `resque delayed queue-now` brings it forward; the other worker runs attempt 1.
rbwork() { PEER_RETRY_BACKEND=1 JOBS_REQUIRE="$peers/ruby/plugin_jobs.rb" INTERVAL=0 \
  ruby $rbi "$peers/ruby/work.rb" retry > "$dir/rbwork.log" 2>&1; }
rswork() { REDIS_URL="$REDIS_URL" QUEUES=retry INTERVAL=0 VERBOSE=1 \
  FAILURE_BACKEND=multiple_with_retry_suppression "$target/resque-test-worker" > "$dir/rswork.log" 2>&1; }
"$target/resque-web" -p "$wport" -o 127.0.0.1 -r "$REDIS_URL" --app-dir "$dir" > "$dir/web7.log" 2>&1 & web=$!
wait_for 20 curl -sf "http://127.0.0.1:$wport/overview" -o /dev/null || fail "our resque-web did not start again"
key=resque:resque-retry:RetryOnceDelayedJob:356a192b7913b04c54574d18c28d46e6395428ab
fkey=resque:failure-resque-retry:RetryOnceDelayedJob:356a192b7913b04c54574d18c28d46e6395428ab
for first in rust ruby; do
  rcli del resque:queue:retry resque:failed "$key" "$fkey" > /dev/null
  "$resque" delayed clear > /dev/null
  ruby $rbi -e "require '$peers/ruby/peer_common.rb'; Peer.connect!; Resque.enqueue_to('retry', 'RetryOnceDelayedJob', 1)"
  if [ "$first" = rust ]; then rswork; else rbwork; fi
  [ "$(rcli get "$key")" = 0 ] || fail "after the $first worker's attempt the counter reads '$(rcli get "$key")', not 0"
  [ "$(rcli zcard resque:delayed_queue_schedule)" = 1 ] || fail "the $first worker did not delay the retry"
  [ "$(rcli llen resque:failed)" = 0 ] || fail "the $first worker recorded a failure for a pending retry"
  ttl=$(rcli ttl "$fkey"); [ "$ttl" -gt 100 ] && [ "$ttl" -le 120 ] || fail "the suppressed record's TTL is $ttl"
  # Both Retry tabs read the pending retry's suppressed record, whoever wrote it.
  rts=$(rcli zrange resque:delayed_queue_schedule 0 0)
  ruby $rbi -e "require '$peers/ruby/peer_common.rb'; Peer.connect!
    require 'resque/server'; require 'resque-scheduler'; require 'resque/scheduler/server'; require 'resque-retry'; require 'resque-retry/server'; require 'rack/mock'
    require '$peers/ruby/plugin_jobs.rb'
    b = Rack::MockRequest.new(Resque::Server.new).get('/retry/$rts').body
    abort 'Ruby /retry/$rts: no record' unless b.include?('RuntimeError') && b.include?('RetryOnceDelayedJob failed')" 2>/dev/null \
    || fail "Ruby's Retry tab does not show the $first worker's suppressed record"
  curl -sf "http://127.0.0.1:$wport/retry/$rts" > "$dir/our_retry.html" || fail "our GET /retry/$rts"
  grep -q "RuntimeError" "$dir/our_retry.html" && grep -q "RetryOnceDelayedJob failed" "$dir/our_retry.html" \
    || fail "our Retry tab does not show the $first worker's suppressed record"
  "$resque" delayed queue-now "$rts" > /dev/null
  if [ "$first" = rust ]; then rbwork; else rswork; fi
  [ "$(rcli exists "$key")" = 0 ] || fail "the counter outlived the give-up"
  [ "$(rcli exists "$fkey")" = 0 ] || fail "the suppressed record outlived the give-up"
  [ "$(rcli llen resque:failed)" = 1 ] || fail "no final failure record"
  rec=$(rcli lindex resque:failed 0)
  echo "$rec" | grep -q '"exception":"RuntimeError","error":"RetryOnceDelayedJob failed: \[1\]"' || fail "final record: $rec"
  # The final record reads the same in both resque-webs' Failed tabs.
  ruby $rbi -e "require '$peers/ruby/peer_common.rb'; Peer.connect!; require 'resque/server'; require 'rack/mock'
    b = Rack::MockRequest.new(Resque::Server.new).get('/failed').body
    abort 'Ruby /failed' unless b.include?('RetryOnceDelayedJob failed: [1]') && b.include?('RuntimeError')" 2>/dev/null \
    || fail "Ruby's Failed tab does not show the final record"
  curl -sf "http://127.0.0.1:$wport/failed" | grep -q "RetryOnceDelayedJob failed: \[1\]" || fail "our Failed tab does not show the final record"
  other=$([ "$first" = rust ] && echo ruby || echo rust)
  echo "   the $first worker ran attempt 0 (counter 0, retry delayed 60 s, failure-<key> for ${ttl} s, nothing in failed); the $other worker ran attempt 1, gave up and recorded it"
done
kill "$web" 2>/dev/null || true
echo "interop-scheduler: all checks passed"
