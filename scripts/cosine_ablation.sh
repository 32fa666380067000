#!/usr/bin/env bash
# COSINE on the COSINE paper's TREC data with MiniLM: one configuration against its variants, a
# few seeds each, one run at a time (2-core machines). Prints valid scores only; test scores stay
# in each run's metrics.json until a configuration is chosen on valid
# (scripts/cosine_ablation_table.py summarises, with --test after the choice).
#   scripts/cosine_ablation.sh OUT SEEDS CONFIG...      e.g. scripts/cosine_ablation.sh runs/ablation "1 2 3" lead mu1
# WEAKSUP (the binary; default: weaksup on PATH), DATA (default: $WEAKSUP_SHARED/datasets/cosine/trec).
set -euo pipefail
out=$1; seeds=$2; shift 2
bin=${WEAKSUP:-weaksup}
data=${DATA:-${WEAKSUP_SHARED:-../shared}/datasets/cosine/trec}
[ -d "$data" ] || { echo "no dataset at $data (set WEAKSUP_SHARED or DATA)" >&2; exit 2; }
common=(--data "$data" --model minilm --precision bf16 --max-len 64 --batch-size 32 --eval-every 50 --patience 4)
# The configuration the others vary, one setting at a time (flag → value).
declare -A lead=([--lr]=5e-5 [--max-steps]=600 [--t2]=600 [--t3]=50 [--xi]=0.6 [--lambda]=0.1
    [--lambda-scale]=classes [--mu]=0 [--selection]=threshold [--class-weights]=none [--variant]=paper)
flags() {
    local -A f
    for k in "${!lead[@]}"; do f[$k]=${lead[$k]}; done
    local change
    case $1 in
        lead) change="" ;;
        balanced) change="--selection balanced" ;;
        cw) change="--class-weights valid_prior" ;;
        balanced_cw) change="--selection balanced --class-weights valid_prior" ;;
        balanced_mu1) change="--selection balanced --mu 1" ;;
        balanced_lambda_one) change="--selection balanced --lambda-scale one" ;;
        balanced_cw_mu1) change="--selection balanced --class-weights valid_prior --mu 1" ;;
        balanced_cw_lambda_one) change="--selection balanced --class-weights valid_prior --lambda-scale one" ;;
        balanced_cw_stage1_150) change="--selection balanced --class-weights valid_prior --max-steps 150" ;;
        balanced_cw_lr2e5) change="--selection balanced --class-weights valid_prior --lr 2e-5" ;;
        balanced_cw_t3_100) change="--selection balanced --class-weights valid_prior --t3 100" ;;
        balanced_cw_t2_1200) change="--selection balanced --class-weights valid_prior --t2 1200" ;;
        balanced_cw_restart) change="--selection balanced --class-weights valid_prior --student pretrained --t2 1200 --t3 300" ;;
        balanced_cw_best) change="--selection balanced --class-weights valid_prior --teacher best_in_round" ;;
        balanced_cw_restart_best) change="--selection balanced --class-weights valid_prior --student pretrained --t2 1200 --t3 300 --teacher best_in_round" ;;
        balanced_cw_power1) change="--selection balanced --class-weights valid_prior --power 1" ;;
        balanced_cw_power3) change="--selection balanced --class-weights valid_prior --power 3" ;;
        balanced_cw_xi05) change="--selection balanced --class-weights valid_prior --xi 0.5" ;;
        balanced_cw_xi07) change="--selection balanced --class-weights valid_prior --xi 0.7" ;;
        official) change="--variant official --mu 1" ;;
        *) echo "unknown configuration $1" >&2; exit 2 ;;
    esac
    # shellcheck disable=SC2086
    set -- $change
    while [ $# -gt 0 ]; do f[$1]=$2; shift 2; done
    for k in "${!f[@]}"; do printf '%s %s ' "$k" "${f[$k]}"; done
}
for seed in $seeds; do
    for cfg in "$@"; do
        dir=$out/$cfg/s$seed
        mkdir -p "$out"
        if [ -f "$dir/metrics.json" ]; then continue; fi
        # shellcheck disable=SC2046
        "$bin" cosine "${common[@]}" $(flags "$cfg") --seed "$seed" --out "$dir" > "$out/$cfg.s$seed.log" 2>&1
        echo "$cfg seed $seed: $(grep -E 'stage 1 alone: valid|best valid' "$out/$cfg.s$seed.log" | tr -s ' ' | tr '\n' ';')"
    done
done
