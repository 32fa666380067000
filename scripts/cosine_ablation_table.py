#!/usr/bin/env python3
"""Summarises the runs of scripts/cosine_ablation.sh (or taggers' COSINE runs laid out the same
way, OUT/CONFIG/sSEED/metrics.json, scored by span F1): per configuration, stage 1 and COSINE
(best weights of both stages) on valid, mean ± std over seeds, and the paired COSINE − stage 1
difference with its 95% t-interval. Test scores are printed only with --test, once a
configuration has been chosen on valid.

    scripts/cosine_ablation_table.py OUT [CONFIG...] [--test]
"""
import json
import statistics
import sys
from pathlib import Path

# Two-sided 95% t quantiles, df = 1..10 (scipy.stats.t.ppf(0.975, df)).
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228]


def scores(run: Path, split: str):
    m = json.loads((run / "metrics.json").read_text())
    if "stage1_splits" in m:  # a tagger (token data): span F1
        f1 = lambda rows: next(e for s, e in rows if s == split)["span"]["micro"]["f1"]
        return f1(m["stage1_splits"]), f1(m["splits"])
    metric = m["metric"]
    s1 = dict(m["stage1_scores"])[split][metric]
    final = next(s for s in m["splits"] if s["split"] == split)["scores"][metric]
    return s1, final


def fmt(xs):
    if len(xs) < 2:
        return f"{xs[0]:.3f}" if xs else "-"
    return f"{statistics.mean(xs):.3f} ± {statistics.stdev(xs):.3f}"


def paired(a, b):
    d = [y - x for x, y in zip(a, b)]
    if len(d) < 2:
        return f"{d[0]:+.3f}" if d else "-"
    m, s = statistics.mean(d), statistics.stdev(d)
    h = T975[min(len(d) - 1, len(T975)) - 1] * s / len(d) ** 0.5
    return f"{m:+.3f} [{m - h:+.3f}, {m + h:+.3f}]"


def main(argv):
    test = "--test" in argv
    args = [a for a in argv if a != "--test"]
    out = Path(args[0])
    configs = args[1:] or sorted(p.name for p in out.iterdir() if p.is_dir())
    split = "test" if test else "valid"
    print(f"| configuration | seeds | stage 1 ({split}) | COSINE ({split}) | COSINE − stage 1 (95% CI) |")
    print("|---|---|---|---|---|")
    for c in configs:
        runs = sorted((out / c).glob("s*/metrics.json"), key=lambda p: int(p.parent.name[1:]))
        pairs = [scores(r.parent, split) for r in runs]
        s1, fin = [p[0] for p in pairs], [p[1] for p in pairs]
        seeds = ",".join(r.parent.name[1:] for r in runs)
        print(f"| {c} | {seeds} | {fmt(s1)} | {fmt(fin)} | {paired(s1, fin)} |")


if __name__ == "__main__":
    main(sys.argv[1:])
