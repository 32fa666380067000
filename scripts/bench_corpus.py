#!/usr/bin/env python3
"""Writes a benchmark corpus for `weaksup batch`: the 1,956 raw UCI YouTube comments
(shared/datasets/youtube_spam_raw, columns COMMENT_ID, AUTHOR, DATE, CONTENT, CLASS) repeated in
order to ROWS rows, split over FILES CSV files, with COMMENT_ID made unique (`<id>-<repeat>`).

usage: bench_corpus.py SRC_DIR OUT_DIR ROWS [FILES]
"""
import csv
import glob
import os
import sys

src, out, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
files = int(sys.argv[4]) if len(sys.argv) > 4 else 1
records = []
paths = sorted(glob.glob(os.path.join(src, "*.csv")))
if not paths:
    sys.exit(f"bench_corpus.py: no CSV files in {src} (the raw UCI YouTube comments; set WEAKSUP_SHARED)")
for path in paths:
    with open(path, encoding="utf-8-sig", newline="") as f:
        r = csv.reader(f)
        header = next(r)
        records.extend(r)
os.makedirs(out, exist_ok=True)
per_file = -(-rows // files)
written = 0
for k in range(files):
    n = min(per_file, rows - written)
    with open(os.path.join(out, f"corpus-{k:03d}.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i in range(written, written + n):
            rec = list(records[i % len(records)])
            rec[0] = f"{rec[0]}-{i // len(records)}"
            w.writerow(rec)
    written += n
print(f"{written} rows in {files} files under {out}")
