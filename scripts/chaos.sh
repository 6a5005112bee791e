#!/usr/bin/env bash
# The chaos run at full size (the no-job-lost issue): 3,000 jobs; 3 forking workers and 1
# in-process; worker parents and forked children SIGKILLed and workers SIGSTOPped past a
# heartbeat interval, at random every 0.5-2 s for 45 s; redis-server (append-only,
# appendfsync always) killed and started once half-way; then a fresh worker drains and
# reaps. Each run prints its figures and any broken invariant (no worker ends by itself, no
# job lost, nothing counted twice, nothing started twice without reliable mode, no more
# jobs run twice than workers killed or stopped); the exit status says whether all held.
# Usage: scripts/chaos.sh [--reliable] [--runs N] [--jobs N] [--seconds N] [--seed N] ...
# (`--help` lists every option). Default mode, then reliable mode, when no option is given;
# then, when RESQUE_RB_SRC names an extracted Resque 3.0 source tree and the peer harness is
# beside this checkout (../shared/peers), Ruby Resque's own worker under the same chaos
# (drained by ours), for comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --demo
echo "== building the chaos run (release)"
cargo build --quiet --release --locked -p resque-e2e --bins
chaos="${CARGO_TARGET_DIR:-target}/release/resque-chaos"
if [ $# -gt 0 ]; then
  exec "$chaos" "$@"
fi
echo "== default mode"
"$chaos" --runs 5 || status=$?
echo "== reliable mode (RESQUE_RELIABLE=1)"
"$chaos" --runs 5 --reliable || status=$?
work_rb=../shared/peers/ruby/work.rb
if [ -n "${RESQUE_RB_SRC:-}" ] && [ -f "$work_rb" ] && command -v ruby >/dev/null; then
  echo "== Ruby Resque 3.0's worker under the same chaos (for comparison; it is expected to lose jobs)"
  "$chaos" --runs 5 --ruby-resque-src "$RESQUE_RB_SRC" --ruby-work-rb "$work_rb" \
    --ruby-job-rb scripts/ruby/chaos_job.rb || true
fi
exit "${status:-0}"
