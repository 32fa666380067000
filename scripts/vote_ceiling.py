#!/usr/bin/env python3
"""A supervised ceiling for label models on a WRENCH vote matrix (README, "Label models on WRENCH").

Fits naive Bayes over the votes *with the gold train labels* (per LF and class, the distribution of
its C + 1 outcomes, abstain included; add-one smoothing), which no label model may use, then
  - binary tasks: predicts the positive class where P(pos | votes) >= t, with t chosen on valid for the
    positive class's F1 and also reported at the best t on test (an oracle);
  - otherwise: predicts the argmax.
Usage: python3 scripts/vote_ceiling.py ../shared/datasets/wrench_sms   (needs numpy)
"""
import json
import sys

import numpy as np


def load(d, split):
    rows = json.load(open(f"{d}/{split}.json")).values()
    return np.array([r["weak_labels"] for r in rows]), np.array([r["label"] for r in rows])


def f1(pred, y, pos=1):
    tp = ((pred == pos) & (y == pos)).sum()
    fp = ((pred == pos) & (y != pos)).sum()
    fn = ((pred != pos) & (y == pos)).sum()
    return 2 * tp / max(2 * tp + fp + fn, 1)


def main(d):
    (ltr, ytr), (lva, yva), (lte, yte) = (load(d, s) for s in ("train", "valid", "test"))
    c = len(json.load(open(f"{d}/label.json")))
    m = ltr.shape[1]
    prior = np.bincount(ytr, minlength=c) / len(ytr)
    cond = np.zeros((m, c, c + 1))  # cond[j, y, o] = P(LF j outputs o - 1 | Y = y)
    for y in range(c):
        ly = ltr[ytr == y]
        for o in range(c + 1):
            cond[:, y, o] = ((ly == o - 1).sum(0) + 1) / (len(ly) + c + 1)

    def posterior(votes):
        lp = np.log(prior)[None, :] + sum(np.log(cond[j][:, votes[:, j] + 1]).T for j in range(m))
        p = np.exp(lp - lp.max(1, keepdims=True))
        return p / p.sum(1, keepdims=True)

    pva, pte = posterior(lva), posterior(lte)
    if c == 2:
        t = max((f1((pva[:, 1] >= t).astype(int), yva), t) for t in np.unique(pva[:, 1]))[1]
        oracle = max(f1((pte[:, 1] >= t).astype(int), yte) for t in np.unique(pte[:, 1]))
        print(f"{d}: supervised naive Bayes over votes, threshold {t:.4f} chosen on valid: "
              f"test F1 {f1((pte[:, 1] >= t).astype(int), yte):.4f} (best threshold on test: {oracle:.4f})")
    else:
        print(f"{d}: supervised naive Bayes over votes: test accuracy {(pte.argmax(1) == yte).mean():.4f}")


if __name__ == "__main__":
    main(sys.argv[1])
