#!/usr/bin/env python3
"""A tagger's scores under the metrics papers use for MIT-R: reads <split>.predictions.parquet files
(list columns `tags`, gold, and `pred`, written by `weaksup train|cosine|predict` on token data) and
prints, per file:

  span F1          exact spans (IO tags: maximal runs of one type, as scripts/span_errors.py), micro
  token micro F1   over the tokens whose gold or predicted tag is an entity (`O` excluded), as weaksup
                   reports it
  token macro F1   scikit-learn f1_score(gold, pred, average="macro") over the token tags: over the
                   entity tags only (`labels` without `O`), and over every tag with `O`
  token weighted   f1_score(..., average="weighted") over every tag (`O` included)
  accuracy         over every token

    scripts/token_metrics.py RUN/test.predictions.parquet [MORE.parquet ...]

Needs pyarrow.
"""
import sys

import pyarrow.parquet as pq

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from span_errors import spans  # noqa: E402


def strip(t):
    return t.split("-", 1)[-1] if t[:2] in ("B-", "I-", "E-", "S-") else t


def prf(tp, npred, ngold):
    p, r = tp / max(npred, 1), tp / max(ngold, 1)
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def scores(gold, pred):
    tp = npred = ngold = 0
    for g, p in zip(gold, pred):
        gs, ps = set(spans(g)), set(spans(p))
        tp, npred, ngold = tp + len(gs & ps), npred + len(ps), ngold + len(gs)
    out = {"span F1": prf(tp, npred, ngold)}
    g = [strip(t) for s in gold for t in s]
    p = [strip(t) for s in pred for t in s]
    tags = sorted(set(g) | set(p))
    per = {}
    for t in tags:
        tp = sum(1 for a, b in zip(g, p) if a == t and b == t)
        per[t] = (prf(tp, sum(b == t for b in p), sum(a == t for a in g)), sum(a == t for a in g))
    ents = [t for t in tags if t != "O"]
    tp = sum(1 for a, b in zip(g, p) if a == b and a != "O")
    out["token micro F1"] = prf(tp, sum(b != "O" for b in p), sum(a != "O" for a in g))
    out["token macro F1 (entities)"] = sum(per[t][0] for t in ents) / len(ents)
    out["token macro F1 (with O)"] = sum(per[t][0] for t in tags) / len(tags)
    out["token weighted F1 (with O)"] = sum(f * n for f, n in per.values()) / len(g)
    out["accuracy"] = sum(a == b for a, b in zip(g, p)) / len(g)
    return out


def main():
    for path in sys.argv[1:]:
        t = pq.read_table(path, columns=["tags", "pred"]).to_pydict()
        s = scores(t["tags"], t["pred"])
        print(path + ": " + ", ".join(f"{k} {v:.4f}" for k, v in s.items()))


if __name__ == "__main__":
    main()
