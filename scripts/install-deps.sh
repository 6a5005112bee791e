#!/usr/bin/env bash
# Installs what the build, the demo and the tests need on a Debian machine that has only the
# Rust toolchain (rustup), each thing only if it is missing:
#   - a C compiler and linker (gcc, libc6-dev): rustc links through `cc`;
#   - redis-server and redis-tools (tests start their own server on a unix socket);
#   - procps (`ps`: the tests and the demo read process titles);
#   - with the tests (no `--demo`): chromium (the web UI's browser test), the rustfmt and
#     clippy components, and cargo-nextest.
# `--demo` installs only what the demo needs. Runs apt as root directly, or through sudo;
# fails with one line saying what is missing when neither can be had.
set -euo pipefail

demo=0
[ "${1:-}" = --demo ] && demo=1
# Older callers passed --no-nextest for the same thing.
[ "${1:-}" = --no-nextest ] && demo=1

die() { echo "install-deps: $*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "cannot install ${missing[*]}: not root and no sudo; install them as root (apt-get install ${missing[*]}) and run again"
  fi
}

missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need cc gcc
# cc alone is not enough: linking needs crt1.o and libc's headers.
compgen -G "/usr/lib/*/crt1.o" >/dev/null || compgen -G /usr/lib/crt1.o >/dev/null || missing+=(libc6-dev)
need redis-server redis-server
need redis-cli redis-tools
# The worker finds live same-host workers with `ps` (as Ruby's does).
need ps procps
[ "$demo" = 0 ] && need chromium chromium

if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 \
    || die "cannot install ${missing[*]}: no apt-get on this machine; install them by hand"
  size=""
  [[ " ${missing[*]} " == *" chromium "* ]] && size="; chromium alone is ~120 MB"
  echo "install-deps: installing ${missing[*]} (Debian packages$size)..." >&2
  as_root apt-get update \
    || die "apt-get update failed (no network or no package sources?)"
  # Progress goes to the terminal; only the interactive prompts are turned off.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    "${missing[@]}" || die "apt-get install ${missing[*]} failed (see above)"
  missing=()
  need cc gcc
  need redis-server redis-server
  [ "$demo" = 0 ] && need chromium chromium
  [ "${#missing[@]}" = 0 ] || die "still missing after apt-get: ${missing[*]}"
fi

if [ "$demo" = 0 ]; then
  for c in rustfmt clippy; do
    sub=$c; [ "$c" = rustfmt ] && sub=fmt
    if ! cargo "$sub" --version >/dev/null 2>&1; then
      command -v rustup >/dev/null 2>&1 || die "cargo $c is missing and there is no rustup to add it"
      echo "install-deps: adding the $c component (rustup)..." >&2
      rustup component add "$c" || die "rustup component add $c failed"
    fi
  done
  if ! cargo nextest --version >/dev/null 2>&1; then
    echo "install-deps: installing cargo-nextest (cargo install, a few minutes)..." >&2
    cargo install cargo-nextest --locked || die "cargo install cargo-nextest failed"
  fi
fi
