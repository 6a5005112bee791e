#!/usr/bin/env bash
# The test command: formatting, lints, doc tests, then every test (each starts its own
# redis-server). nextest runs last so its summary is the run's closing line.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --doc --locked --quiet
# nextest runs each test in its own process: the forking worker tests need that.
cargo nextest run --workspace --locked --no-fail-fast
