#!/usr/bin/env bash
# Runs the weaksup CLI from a fresh machine: installs libtorch (once, cached), builds the release
# binary (incrementally) and runs it with the given arguments, e.g. `scripts/weaksup.sh run`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
if [ ! -x "$CARGO_TARGET_DIR/release/weaksup" ]; then
    # The first build compiles polars and torch-sys: show cargo's progress, it is a long wait.
    echo "weaksup: first build, about 15 minutes on 2 cores (later calls rebuild only what changed)" >&2
    cargo build --release --bin weaksup
else
    cargo build --release --quiet --bin weaksup
fi
exec "$CARGO_TARGET_DIR/release/weaksup" "$@"
