#!/usr/bin/env bash
# Runs the weaksup CLI from a fresh machine: installs libtorch (once, cached), builds the release
# binary (incrementally) and runs it with the given arguments, e.g. `scripts/weaksup.sh run`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
cargo build --release --quiet --bin weaksup
exec "$CARGO_TARGET_DIR/release/weaksup" "$@"
