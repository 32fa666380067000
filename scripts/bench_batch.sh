#!/usr/bin/env bash
# The `weaksup batch` benchmark of docs/batch.md. Generates a ROWS-row CSV corpus on the fly from
# the raw UCI YouTube comments (shared/datasets/youtube_spam_raw; one file per million rows, not
# committed), then measures
#   1. `batch label` with labeling_functions/youtube_spam.toml + a majority-vote label model:
#      rows/s and peak RSS (/usr/bin/time -v and the run's own VmHWM);
#   2. `batch predict` with an n-gram model on the first 1,000,000 rows (PREDICT_ROWS);
#   3. `batch predict` with MiniLM ($WEAKSUP_MINILM, one training step) on MINILM_ROWS rows.
# usage: scripts/bench_batch.sh [ROWS=10000000] [WORK=a new temp folder]
# Set SKIP_PREDICT=1 to run step 1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-10000000}
WORK=${2:-$(mktemp -d)}
PREDICT_ROWS=${PREDICT_ROWS:-1000000}
MINILM_ROWS=${MINILM_ROWS:-2000}
SHARED=${WEAKSUP_SHARED:-../shared}
RAW=$SHARED/datasets/youtube_spam_raw
LFS=labeling_functions/youtube_spam.toml
. scripts/setup.sh
# libtorch's OpenMP threads spin while waiting; on 2 cores shared with the reader and writer
# threads (and anything else) that costs up to 10x on the n-gram model (docs/batch.md).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
cargo build --release --quiet
W=$CARGO_TARGET_DIR/release/weaksup
echo "== work folder $WORK; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

files=$(( (ROWS + 999999) / 1000000 ))
[ -d "$WORK/corpus" ] || python3 scripts/bench_corpus.py "$RAW" "$WORK/corpus" "$ROWS" "$files"
du -sh "$WORK/corpus"
[ -f "$WORK/lm/label_model.json" ] || "$W" label-model fit --model mv --data "$RAW/Youtube01-Psy.csv" \
    --text-col CONTENT --label-col CLASS --lfs "$LFS" --out "$WORK/lm" -q

run() { # label and command...: prints the run's summary and /usr/bin/time's wall clock and peak RSS
    local what=$1; shift
    /usr/bin/time -v "$@" 2> "$WORK/$what.time" | sed "s/^/  /"
    grep -E "Elapsed \(wall|Maximum resident|User time|System time" "$WORK/$what.time" | sed "s/^\s*/  /"
}

echo "== batch label: $ROWS rows, $LFS + MV"
rm -rf "$WORK/label"
run label "$W" batch label --lfs "$LFS" --label-model "$WORK/lm" --input "$WORK/corpus" \
    --text-col CONTENT --out "$WORK/label"

[ "${SKIP_PREDICT:-0}" = 1 ] && exit 0

echo "== batch predict, n-gram: $PREDICT_ROWS rows"
[ -f "$WORK/ngram/model/weaksup.json" ] || "$W" train --model ngram --data "$RAW/Youtube01-Psy.csv" --text-col CONTENT \
    --label-col CLASS --lfs "$LFS" --max-steps 200 --device cpu --out "$WORK/ngram" -q
[ -d "$WORK/predict_corpus" ] || python3 scripts/bench_corpus.py "$RAW" "$WORK/predict_corpus" "$PREDICT_ROWS"
rm -rf "$WORK/ngram_out"
run ngram "$W" batch predict --model "$WORK/ngram" --input "$WORK/predict_corpus" --text-col CONTENT \
    --out "$WORK/ngram_out" --device cpu

echo "== batch predict, MiniLM: $MINILM_ROWS rows"
[ -f "$WORK/minilm/model/weaksup.json" ] || "$W" train --model minilm --data "$RAW/Youtube01-Psy.csv" --text-col CONTENT \
    --label-col CLASS --lfs "$LFS" --max-steps 1 --device cpu --out "$WORK/minilm" -q
[ -d "$WORK/minilm_corpus" ] || python3 scripts/bench_corpus.py "$RAW" "$WORK/minilm_corpus" "$MINILM_ROWS"
rm -rf "$WORK/minilm_out"
run minilm "$W" batch predict --model "$WORK/minilm" --input "$WORK/minilm_corpus" --text-col CONTENT \
    --out "$WORK/minilm_out" --device "${DEVICE:-cpu}" --batch-size 64
