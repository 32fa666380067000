"""Checks a weaksup tagger's Hugging Face export with `transformers`: the model folder loads as
AutoModelForTokenClassification (trained head included) and tags the words of a predictions file
as `weaksup predict` did (each word read at its first piece).

    python scripts/check_token_export.py runs/mitr_weak/model preds/test.predictions.parquet 64

Needs torch, transformers and pyarrow.
"""
import sys

import pyarrow.parquet as pq
import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer

model_dir, predictions, max_len = sys.argv[1], sys.argv[2], int(sys.argv[3])
model = AutoModelForTokenClassification.from_pretrained(model_dir).eval()
tok = AutoTokenizer.from_pretrained(model_dir)
names = model.config.id2label
table = pq.read_table(predictions).to_pydict()
same = total = 0
with torch.no_grad():
    for words, pred in zip(table["tokens"], table["pred"]):
        enc = tok(words, is_split_into_words=True, truncation=True, max_length=max_len, return_tensors="pt")
        logits = model(**enc).logits[0]
        tags, seen = ["O"] * len(words), set()
        for pos, w in enumerate(enc.word_ids()):
            if w is not None and w not in seen:
                seen.add(w)
                tags[w] = names[int(logits[pos].argmax())]
        total += len(words)
        same += sum(a == b for a, b in zip(tags, pred))
print(f"{same}/{total} word tags agree ({same / max(total, 1):.5f})")
