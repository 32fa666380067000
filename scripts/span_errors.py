#!/usr/bin/env python3
"""Where a tagger's span errors come from: reads <split>.predictions.parquet files (written by
`weaksup train|cosine|run` on token data: list columns `tokens`, `tags`, `pred`) and sorts every
predicted and gold span of IO tags (maximal runs of one type; BIO/BIOES prefixes are stripped, so use
it on IO data such as MIT-R) into:

  exact      same words, same type (a true positive)
  boundary   same type, overlapping, other words (a false positive and a false negative)
  type       same words, another type
  spurious   a predicted span that overlaps no gold span
  missed     a gold span no predicted span overlaps
  other      the rest (overlaps of another type with other words)

    scripts/span_errors.py RUN/valid.predictions.parquet [MORE.parquet ...]

Needs pyarrow.
"""
import sys

import pyarrow.parquet as pq


def spans(tags):
    out, start = [], None
    for i, t in enumerate(list(tags) + ["O"]):
        t = t.split("-", 1)[-1] if t[:2] in ("B-", "I-", "E-", "S-") else t
        if start is not None and t != out_type:
            out.append((start, i, out_type))
            start = None
        if start is None and t != "O":
            start, out_type = i, t
    return out


def classify(gold, pred):
    counts = dict.fromkeys(["exact", "boundary", "type", "spurious", "missed", "other"], 0)
    for s, e, t in pred:
        overlaps = [(gs, ge, gt) for gs, ge, gt in gold if gs < e and s < ge]
        if (s, e, t) in gold:
            counts["exact"] += 1
        elif not overlaps:
            counts["spurious"] += 1
        elif any(gt == t for _, _, gt in overlaps):
            counts["boundary"] += 1
        elif any((gs, ge) == (s, e) for gs, ge, _ in overlaps):
            counts["type"] += 1
        else:
            counts["other"] += 1
    for gs, ge, _ in gold:
        if not any(s < ge and gs < e for s, e, _ in pred):
            counts["missed"] += 1
    return counts


def main(paths):
    print("| file | gold spans | predicted | exact | boundary | type | spurious | missed | other |")
    print("|---|---|---|---|---|---|---|---|---|")
    for path in paths:
        total = dict.fromkeys(["exact", "boundary", "type", "spurious", "missed", "other"], 0)
        n_gold = n_pred = 0
        for row in pq.read_table(path, columns=["tags", "pred"]).to_pylist():
            g, p = spans(row["tags"]), spans(row["pred"])
            n_gold, n_pred = n_gold + len(g), n_pred + len(p)
            for k, v in classify(g, p).items():
                total[k] += v
        cells = " | ".join(str(total[k]) for k in ["exact", "boundary", "type", "spurious", "missed", "other"])
        print(f"| {path} | {n_gold} | {n_pred} | {cells} |")


if __name__ == "__main__":
    main(sys.argv[1:])
