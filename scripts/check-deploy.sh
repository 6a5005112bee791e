#!/usr/bin/env bash
# Checks docs/deploy as far as this machine allows: the systemd units with
# `systemd-analyze verify` (their ExecStart pointed at the freshly built binaries), the
# Kubernetes manifests parsed and their essentials checked, the Dockerfile's COPY sources
# and binary names checked against the workspace. Building the image needs a Docker daemon,
# which this machine does not run: the script says so rather than pretending.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet -p resque-rs -p resque-worker -p resque-scheduler -p resque-web \
  --bin resque --bin resque-worker --bin resque-scheduler --bin resque-web
bin=$(cd "${CARGO_TARGET_DIR:-target}/debug" && pwd)
dir=$(mktemp -d /tmp/resque-deploy.XXXXXX); trap 'rm -rf "$dir"' EXIT
fail() { echo "check-deploy: $*" >&2; exit 1; }
echo "== systemd units"
command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing (apt-get install systemd)"
for u in docs/deploy/*.service; do
  name=$(basename "$u"); [ "$name" = "resque-worker@.service" ] && name="resque-worker@critical.service"
  sed -e "s#/usr/local/bin/#$bin/#" -e '/^User=/d' -e '/^Group=/d' "$u" > "$dir/$name"
  out=$(systemd-analyze verify "$dir/$name" 2>&1 | grep -v -e 'redis-server.service' -e 'Cannot add dependency' || true)
  [ -z "$out" ] || { echo "$out"; fail "$name"; }
  grep -q '^KillSignal=' "$u" && grep -q '^Restart=' "$u" && grep -q '^TimeoutStopSec=' "$u" || fail "$name lacks KillSignal, Restart or TimeoutStopSec"
  echo "   $name: verified ($(grep '^KillSignal=' "$u"), $(grep '^TimeoutStopSec=' "$u"), $(grep '^Restart=' "$u"))"
done
echo "== Kubernetes manifests"
python3 - docs/deploy/kubernetes.yaml <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = [(d["kind"], d["metadata"]["name"]) for d in docs]
assert ("Deployment", "resque-worker") in kinds and ("Deployment", "resque-scheduler") in kinds, kinds
for d in docs:
    if d["kind"] != "Deployment":
        continue
    spec = d["spec"]["template"]["spec"]
    assert spec["containers"][0]["command"][0] in ("resque-worker", "resque-scheduler", "resque-web"), d
    assert d["spec"]["selector"]["matchLabels"] == d["spec"]["template"]["metadata"]["labels"], d["metadata"]
w = next(d for d in docs if d["metadata"]["name"] == "resque-worker")["spec"]["template"]["spec"]
env = {e["name"]: e.get("value") for e in w["containers"][0]["env"]}
grace = w["terminationGracePeriodSeconds"]
need = int(env["RESQUE_PRE_SHUTDOWN_TIMEOUT"]) + int(env["RESQUE_TERM_TIMEOUT"])
assert need < grace, f"pre-shutdown + term timeout {need} s must fit in the grace period {grace} s"
print(f"   {len(docs)} objects parse; the worker's {need} s of shutdown fit in its {grace} s grace")
PY
echo "== Dockerfile"
for b in $(grep -o 'target/release/[a-z-]*' docs/deploy/Dockerfile | sort -u); do
  [ -x "$bin/${b#target/release/}" ] || fail "the Dockerfile copies $b, which the workspace does not build"
done
grep -q '^ENTRYPOINT \["/usr/bin/tini"' docs/deploy/Dockerfile || fail "the image needs an init (tini) as PID 1"
if docker info >/dev/null 2>&1; then
  docker build -f docs/deploy/Dockerfile -t resque-rs:check . && echo "   image built"
else
  echo "   COPY sources and binary names checked; the image itself was not built (no Docker daemon here)"
fi
echo "check-deploy: all checks passed"
