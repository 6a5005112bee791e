#!/usr/bin/env bash
# Failure API benchmark: with RECORDS failure records (default 100,000) in one list, the
# time to fetch a page (newest and oldest), to count, and to fetch a filtered page, beside
# redis-benchmark on the same private server. Targets (issue #5): a page and a count under
# 5 ms, a filtered page under 100 ms.
# Usage: scripts/bench-failures.sh [RECORDS]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --no-nextest
N=${1:-100000}
cargo build --quiet --profile bench-opt -p resque-failure --example bench_failures
bin="${CARGO_TARGET_DIR:-target}/bench-opt/examples/bench_failures"

dir=$(mktemp -d /tmp/resque-bench.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
trap 'kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done

rb() { redis-benchmark -h 127.0.0.1 -p "$port" -n "$2" -t "$1" -P 1 -c 1 --csv | awk -F, 'NR==2 {gsub(/"/,"",$2); print $2}'; }
rb_ping=$(rb ping 50000); rb_lrange=$(rb lrange_100 20000)
ours=$("$bin" "127.0.0.1:$port" "$N")
python3 - "$ours" "$rb_ping" "$rb_lrange" <<'PY'
import json, sys
d = json.loads(sys.argv[1]); ping, lr = float(sys.argv[2]), float(sys.argv[3])
print(f"redis-benchmark -P 1 -c 1: PING {ping:,.0f}/s ({1000/ping:.3f} ms), LRANGE_100 {lr:,.0f}/s ({1000/lr:.3f} ms)")
print(f"failure list length: {d['records']:,} records")
def row(label, ms, target):
    verdict = "meets" if ms < target else "ABOVE"
    print(f"{label:<46} {ms:8.2f} ms  = {ms/(1000/ping):6.1f} PING round trips   (target < {target} ms: {verdict})")
row("count (LLEN)", d["count_ms"], 5)
row("page 1, newest first (20 records)", d["first_page_ms"], 5)
row("last page, newest first", d["last_page_ms"], 5)
row("filtered page by class (1 in 10 records)", d["filtered_page_ms"], 100)
row("filtered page, worst case (matches at the far end)", d["filtered_page_worst_ms"], 100)
print(f"{'filtered count by class (index)':<46} {d['filtered_count_ms']:8.2f} ms  ({d['archive_records']:,} matches)")
row("first filtered page of a new process (shared index)", d["filtered_page_cold_ms"], 100)
print(f"{'building the index the very first time':<46} {d['index_first_build_ms']:8.2f} ms  (once per list; then shared)")
print(f"{'text search, full scan inside Redis':<46} {d['text_search_ms']:8.2f} ms  ({d['text_matches']} matches)")
PY
