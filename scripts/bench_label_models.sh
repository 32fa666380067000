#!/usr/bin/env bash
# Reproduces the label-model table of docs/results.md: every label model on WRENCH youtube, sms and trec
# (votes stored in the files), hyper-parameters chosen on valid, scored on test two ways.
# Usage: scripts/bench_label_models.sh [extra `label-model compare` flags, e.g. --uncovered model]
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${WEAKSUP_SHARED:-../shared}"
# The table's random tie / uncovered-row draws use policy seeds 0-9: `--seed 0` unless given.
case " $* " in *" --seed "* | *" --seed="*) seed=() ;; *) seed=(--seed 0) ;; esac
for d in youtube:accuracy sms:binary_f1 trec:accuracy; do
    name="${d%%:*}"
    metric="${d##*:}"
    bash scripts/weaksup.sh -q label-model compare --data "$shared/datasets/wrench_$name" --metric "$metric" --out "runs/label_models/$name" "${seed[@]}" "$@"
    echo "### wrench_$name"
    cat "runs/label_models/$name/compare.md"
    echo
done
