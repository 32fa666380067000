#!/usr/bin/env bash
# Run the OFFICIAL COSINE implementation (Yu et al., NAACL 2021, github.com/yueyu1030/COSINE)
# on the COSINE-format TREC data with a local BERT-architecture backbone (MiniLM) on CPU,
# as a reference measurement.
#
# usage: scripts/official_cosine.sh CHECKOUT_DIR DATA_DIR OUT_DIR SEED [extra main.py args...]
#
#   CHECKOUT_DIR  official code (main.py, trainer.py, model.py, modeling_roberta.py,
#                 data_loader_new.py, utils.py); it is copied to OUT_DIR/src and patched
#                 there by scripts/official_cosine_patch.py (compatibility edits only).
#   DATA_DIR      directory with {train,dev,test,unlabeled}_data.json (read-only is fine:
#                 the files are symlinked into OUT_DIR/data, where the feature cache goes).
#   OUT_DIR       run directory (outside the repository): src/, data/, eval/, model/,
#                 log.txt, result.json.
#   SEED          --seed for main.py.
#   extra args    appended to main.py's command line (argparse: the last value wins), e.g.
#                 --max_seq_len 64 --learning_rate 2e-5.
#
# Hyper-parameters are those of the official run_agnews.sh (task switched to trec);
# learning_rate is main.py's default (1e-5).
#
# environment:
#   COSINE_THREADS     torch threads (default 2)
#   COSINE_MODEL_PATH  backbone dir (default $WEAKSUP_SHARED/models/all-minilm-l6-v2, $WEAKSUP_SHARED
#                      defaulting to ../shared beside the checkout)
#   COSINE_PYTHON      python (default the venv scripts/setup.sh made: $WEAKSUP_CACHE/torch-2.11.0/bin/python)
#   COSINE_PYDEPS      extra site dir for scikit-learn, which the official utils.py imports
#                      (default $WEAKSUP_CACHE/cosine-pydeps; installed there with
#                      pip --target on first use if the python cannot import sklearn)
#   COSINE_HEAD        v2 (default): the official TC head (RobertaForSequenceClassification_v2)
#                      on the BERT encoder; stock: transformers' BertForSequenceClassification
#                      (see official_cosine_patch.py for why v2 is the faithful one)
#
# At the end one RESULT line is printed (and appended to log.txt; details in result.json).
set -euo pipefail

if [ $# -lt 4 ]; then
    sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
CHECKOUT_DIR=$(cd "$1" && pwd)
DATA_DIR=$(cd "$2" && pwd)
OUT_DIR=$3
SEED=$4
shift 4

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
_cache=${WEAKSUP_CACHE:-$HOME/.cache/weaksup}
_shared=${WEAKSUP_SHARED:-$(cd "$(dirname "$0")/.." && pwd)/../shared}
PY=${COSINE_PYTHON:-$_cache/torch-2.11.0/bin/python}
export COSINE_MODEL_PATH=${COSINE_MODEL_PATH:-$_shared/models/all-minilm-l6-v2}
export COSINE_THREADS=${COSINE_THREADS:-2}
export COSINE_HEAD=${COSINE_HEAD:-v2}
PYDEPS=${COSINE_PYDEPS:-$_cache/cosine-pydeps}

mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
case "$OUT_DIR/" in
    "$REPO"/*) echo "OUT_DIR must be outside the repository ($REPO): it holds data symlinks, feature caches and checkpoints" >&2; exit 2 ;;
esac
for f in main.py trainer.py model.py modeling_roberta.py data_loader_new.py utils.py; do
    [ -f "$CHECKOUT_DIR/$f" ] || { echo "missing $CHECKOUT_DIR/$f" >&2; exit 2; }
done
for s in train dev test unlabeled; do
    [ -f "$DATA_DIR/${s}_data.json" ] || { echo "missing $DATA_DIR/${s}_data.json" >&2; exit 2; }
done

# threads: torch.set_num_threads(COSINE_THREADS) is also patched into main.py
export OMP_NUM_THREADS=$COSINE_THREADS MKL_NUM_THREADS=$COSINE_THREADS
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

# scikit-learn (official requirements.txt) is not in the torch env; keep it in a side dir.
export PYTHONPATH="$PYDEPS${PYTHONPATH:+:$PYTHONPATH}"
if ! "$PY" -c 'import sklearn.metrics' >/dev/null 2>&1; then
    echo "installing scikit-learn into $PYDEPS (pip --target, no deps of the torch env touched)" >&2
    "$PY" -m pip install -q --no-deps --target "$PYDEPS" \
        scikit-learn scipy joblib threadpoolctl cloudpickle narwhals >&2
    "$PY" -c 'import sklearn.metrics'
fi

# fresh copy of the official code + compatibility patch
rm -rf "$OUT_DIR/src" "$OUT_DIR/eval"
mkdir -p "$OUT_DIR/src" "$OUT_DIR/data" "$OUT_DIR/eval/pred" "$OUT_DIR/model"
cp "$CHECKOUT_DIR"/*.py "$OUT_DIR/src/"
"$PY" "$HERE/official_cosine_patch.py" "$OUT_DIR/src" > "$OUT_DIR/patch.txt"

# data: symlinks (never copies); drop stale feature caches of earlier runs
rm -f "$OUT_DIR"/data/cached_*   # (a reused cache would also need torch.load(weights_only=False) under torch>=2.6)
for s in train dev test unlabeled; do
    ln -sfn "$DATA_DIR/${s}_data.json" "$OUT_DIR/data/${s}_data.json"
done

# official run_agnews.sh settings, task=trec; max_seq_len 128 as there (override via extra args)
cd "$OUT_DIR/src"
set +e
"$PY" main.py \
    --do_train \
    --do_eval \
    --task=trec \
    --train_file=train_data.json \
    --dev_file=dev_data.json \
    --test_file=test_data.json \
    --unlabel_file=unlabeled_data.json \
    --task_type=tc \
    --data_dir="$OUT_DIR/data" \
    --eval_dir="$OUT_DIR/eval" \
    --model_dir="$OUT_DIR/model" \
    --model_type=bert \
    --no_cuda \
    --rule=1 \
    --logging_steps=100 \
    --self_train_logging_steps=100 \
    --gpu=0 \
    --num_train_epochs=3 \
    --weight_decay=1e-4 \
    --method=selftrain \
    --batch_size=32 \
    --max_seq_len=128 \
    --auto_load=1 \
    --self_training_eps=0.6 \
    --self_training_update_period=250 \
    --max_steps=150 \
    --self_training_max_step=2500 \
    --self_training_power=2 \
    --self_training_confreg=0.1 \
    --self_training_contrastive_weight=1 \
    --distmetric=cos \
    --seed="$SEED" \
    "$@" > "$OUT_DIR/log.txt" 2>&1
rc=$?
set -e
if [ $rc -ne 0 ]; then
    echo "main.py failed (rc=$rc); last lines of $OUT_DIR/log.txt:" >&2
    tail -n 30 "$OUT_DIR/log.txt" >&2
    exit $rc
fi

# The official code does no model selection: it appends one line per evaluation
# ('... Global Step:N Macro_F1:x, Micro_F1:y') to eval/pred_trec_{dev,test}_1.txt, every
# logging_steps of the weak-label phase, every self_train_logging_steps of self-training
# (step counter restarts), and finally one test evaluation of the final model (step -1).
# Micro-F1 equals accuracy here (single-label, all classes); log.txt also prints 'Accu'.
"$PY" - "$OUT_DIR" "$SEED" <<'EOF' | tee -a "$OUT_DIR/log.txt"
import json, os, re, sys
out, seed = sys.argv[1], sys.argv[2]
pat = re.compile(r"Global Step:(-?\d+) Macro_F1:([0-9.]+), Micro_F1:([0-9.]+)")
def read(mode):
    rows, phase, prev = [], 0, None
    for line in open(os.path.join(out, "eval", "pred_trec_%s_1.txt" % mode)):
        m = pat.search(line)
        step, maf1, acc = int(m.group(1)), float(m.group(2)), float(m.group(3))
        if step == -1:
            ph = "final"
        else:
            if prev is not None and step <= prev:
                phase += 1
            prev = step
            ph = ["init", "selftrain"][min(phase, 1)]
        rows.append({"phase": ph, "step": step, "acc": acc, "macro_f1": maf1})
    return rows
dev, test = read("dev"), read("test")
accu = [float(x) for x in re.findall(r"Accu: ([0-9.]+)", open(os.path.join(out, "log.txt")).read())]
final = [r for r in test if r["phase"] == "final"]
paired = [(d, t) for d, t in zip(dev, test) if d["phase"] != "final"]
st = [(d, t) for d, t in paired if d["phase"] == "selftrain"]
init = [(d, t) for d, t in paired if d["phase"] == "init"]
res = {"seed": int(seed), "evals": [{"phase": d["phase"], "step": d["step"], "dev_acc": d["acc"], "test_acc": t["acc"],
        "dev_macro_f1": d["macro_f1"], "test_macro_f1": t["macro_f1"]} for d, t in paired],
       "final_test_acc": final[-1]["acc"] if final else None,
       "final_test_macro_f1": final[-1]["macro_f1"] if final else None}
def fmt(p):
    return "dev=%.4f test=%.4f @%s step %d" % (p[0]["acc"], p[1]["acc"], p[0]["phase"], p[0]["step"])
parts = ["RESULT official-COSINE trec seed=%s" % seed,
         "final test=%s (model after last self-train step)" % ("%.4f" % res["final_test_acc"] if final else "n/a")]
if st:
    best = max(st, key=lambda p: p[0]["acc"])  # first maximum = earliest step
    res["best_dev_selftrain"] = {"step": best[0]["step"], "dev_acc": best[0]["acc"], "test_acc": best[1]["acc"]}
    res["last_selftrain"] = {"step": st[-1][0]["step"], "dev_acc": st[-1][0]["acc"], "test_acc": st[-1][1]["acc"]}
    parts += ["last logged " + fmt(st[-1]), "best dev " + fmt(best)]
if init:
    res["init_last"] = {"step": init[-1][0]["step"], "dev_acc": init[-1][0]["acc"], "test_acc": init[-1][1]["acc"]}
    parts.append("weak-label init " + fmt(init[-1]))
res["log_accu_matches_micro_f1"] = len(accu) == len(dev) + len(test) and all(
    abs(a - b) < 1e-4 for a, b in zip(accu, [r["acc"] for pair in zip(dev, test) for r in pair] + [r["acc"] for r in test[len(dev):]]))
json.dump(res, open(os.path.join(out, "result.json"), "w"), indent=1)
print(" | ".join(parts))
EOF
