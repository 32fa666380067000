#!/usr/bin/env python3
"""Would structured decoding fix a tagger's span edges? Reads a tagger's <split>.predictions.parquet
with its `prob_<tag>` columns (written by `weaksup predict` on token data) and a token HMM label model
(`label_model.json` of `weaksup label-model fit --token-model hmm`: `start`, row-major `transitions`),
and scores span F1 (IO tags: maximal runs of one type, as scripts/span_errors.py) of the argmax tags
and of Viterbi decoding of

    sum_t log p(y_t | x) + w * (log start(y_0) + sum_t log A(y_{t-1}, y_t))

for each weight w given (the tagger's marginals with the HMM's transitions as a prior on tag
sequences; w = 0 is the argmax). Choose w on valid, then read test once.

    scripts/viterbi_decode.py RUN/valid.predictions.parquet LM/label_model.json 0.25 0.5 1

Needs pyarrow and numpy.
"""
import json
import sys

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from span_errors import spans  # noqa: E402


def viterbi(logp, log_start, log_a, w):
    n, t = logp.shape
    score = logp[0] + w * log_start
    back = np.zeros((n, t), dtype=int)
    for i in range(1, n):
        cand = score[:, None] + w * log_a  # previous tag × tag
        back[i] = cand.argmax(0)
        score = cand.max(0) + logp[i]
    out = [int(score.argmax())]
    for i in range(n - 1, 0, -1):
        out.append(int(back[i][out[-1]]))
    return out[::-1]


def f1(golds, preds):
    tp = npred = ngold = 0
    for g, p in zip(golds, preds):
        gs, ps = set(spans(g)), set(spans(p))
        tp += len(gs & ps)
        npred += len(ps)
        ngold += len(gs)
    prec, rec = tp / max(npred, 1), tp / max(ngold, 1)
    return 2 * prec * rec / max(prec + rec, 1e-12), prec, rec


def main():
    path, lm_path, weights = sys.argv[1], sys.argv[2], [float(x) for x in sys.argv[3:]] or [0.5, 1.0]
    table = pq.read_table(path).to_pydict()
    names = [c[len("prob_"):] for c in table if c.startswith("prob_")]
    lm = json.load(open(lm_path))
    if lm.get("model") != "hmm":
        sys.exit(f"{lm_path}: a `{lm.get('model')}` model, not an HMM")
    t = len(names)
    eps = 1e-6
    log_start = np.log(np.asarray(lm["start"]) + eps)
    log_a = np.log(np.asarray(lm["transitions"]).reshape(t, t) + eps)
    golds = table["tags"]
    rows = []
    for s in range(len(golds)):
        p = np.array(
            [[np.nan if x is None else x for x in table[f"prob_{n}"][s]] for n in names], dtype=float
        ).T  # words × tags
        p = np.where(np.isnan(p), 1.0 / t, p)  # a word the model's length cut: no evidence
        rows.append(np.log(p + 1e-12))
    print(f"{path}: {len(golds)} sentences, tags {names}")
    for w in [0.0] + weights:
        preds = [[names[k] for k in viterbi(lp, log_start, log_a, w)] for lp in rows]
        f, prec, rec = f1(golds, preds)
        print(f"w = {w:<5} span F1 {f:.4f} (P {prec:.4f} / R {rec:.4f})")


if __name__ == "__main__":
    main()
