#!/usr/bin/env bash
# Runs every check CI runs: formatting, lints, unit tests, end-to-end tests
# (real daemon, real PHP, collector stand-in) and the PHP test files.
# Works on a fresh Debian 12 machine with only Rust installed.
set -euo pipefail
cd "$(dirname "$0")/.."
source tests/setup-host.sh

step() { printf '\n==> %s\n' "$*"; }

step "the repository stands alone (no references to files outside it)"
tests/check-standalone.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build the daemon, the extension and the test tools used by end-to-end tests"
cargo build --workspace --locked

step "unit and end-to-end tests"
cargo test --workspace --locked

echo
echo "all checks passed"
