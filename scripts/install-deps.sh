#!/usr/bin/env bash
# Installs what the tests and the demo need on a fresh Debian machine, only if missing:
# redis-server (tests start their own, on a unix socket), cargo-nextest and chromium (the
# web UI's browser test). `--no-nextest` (the demo) installs redis-server only.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-benchmark >/dev/null 2>&1; then
  echo "installing redis-server (Debian package)..." >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null
fi

if [ "${1:-}" != "--no-nextest" ] && ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing cargo-nextest..." >&2
  cargo install cargo-nextest --locked
fi

if [ "${1:-}" != "--no-nextest" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium (Debian package, for the browser test)..." >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
