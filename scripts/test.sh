#!/usr/bin/env bash
# The test command: formatting, lints, doc tests, then every test (each starts its own
# redis-server). nextest runs last so its summary is the run's closing line.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
echo "== formatting and lints (the first build takes several minutes)"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== API docs (every public item documented, no broken links)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
echo "== doc tests (the README's examples too; the dashboard's with the facade's web feature)"
cargo test --workspace --doc --locked --quiet
cargo test -p resque-rs --features web --doc --locked --quiet
# nextest runs each test in its own process: the forking worker tests need that.
echo "== every test (each starts its own redis-server)"
cargo nextest run --workspace --locked --no-fail-fast
