#!/usr/bin/env bash
# GPU smoke run: (1) one training of a small random BERT (2 layers, hidden 128, hashing tokenizer) on
# CUDA in bf16 over the built-in demo corpus, printing the loss of every step, the validation
# scores and examples/s; (2) a short COSINE run (stage 1 + 2 rounds of stage 2) of the same model
# on CUDA, printing each round. For a machine with torch 2.11 (CUDA) installed: the weaksup binary built
# on the CPU machine links libtorch 2.11, and LD_LIBRARY_PATH points it at this machine's own
# CUDA-enabled copy.
#   usage: scripts/gpu_smoke.sh [path/to/weaksup]   (default: ./weaksup, else target/release/weaksup)
set -euo pipefail
bin="${1:-./weaksup}"
[ -x "$bin" ] || bin="${CARGO_TARGET_DIR:-target}/release/weaksup"
py="$(command -v python3 || command -v python)"
torch_lib="$("$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')"
export LD_LIBRARY_PATH="$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "devices", torch.cuda.device_count(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
out="$(mktemp -d)"
RUST_LOG="warn,weaksup=debug" "$bin" train --model tiny-bert --targets gold --device cuda --precision bf16 \
    --max-len 64 --batch-size 64 --max-steps 120 --eval-every 20 --patience 100 --lr 1e-3 --out "$out" 2>&1 \
    | grep -E "train step|validation|trained|accuracy|error" | sed -E 's/\x1b\[[0-9;]*m//g'
echo "== COSINE on CUDA =="
"$bin" cosine --model tiny-bert --device cuda --precision bf16 --max-len 64 --batch-size 64 --max-steps 60 \
    --eval-every 20 --patience 100 --lr 1e-3 --t2 40 --t3 20 --out "$out/cosine" 2>&1 \
    | grep -E "round|COSINE|stage 1|accuracy|error" | sed -E 's/\x1b\[[0-9;]*m//g'
