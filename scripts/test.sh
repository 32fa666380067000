#!/usr/bin/env bash
# The test suite, from a fresh machine: installs libtorch (once, cached), builds and runs every
# test. Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
cargo test --release --workspace --all-targets "$@"
