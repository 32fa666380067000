#!/usr/bin/env python3
"""The peer a PyTorch user would pick, measured like `cargo bench --bench end_models`: MiniLM
(all-MiniLM-L6-v2) training steps and inference batches over the WRENCH YouTube train texts,
batch 32, max length 64, length-bucketed batches, in fp32 and in bf16 autocast
(`torch.autocast("cpu", dtype=torch.bfloat16)`, fp32 master weights), plus the CPU's matmul limit
(torch.matmul GFLOP/s in bf16 and fp32, square and MiniLM-shaped products).

The same work as the Rust bench: mean pooling and a linear head over 2 classes, soft cross-entropy
against uniform targets, gradient-norm clipping at 1, AdamW (lr 2e-5, weight decay 0.01); batches
of 32 rows drawn by weaksup's bucketing (windows of 50 batches sorted by length, seeded order).

usage: python3 scripts/peer_throughput.py [--threads 2] [--seconds 10] [--max-len 64] [--repeat 2]

Run it with set-up's venv ($WEAKSUP_CACHE/torch-2.11.0/bin/python), which has torch and
transformers; without transformers it prints a message and exits 0. Alternate it with the Rust
bench at least twice on a quiet machine and compare the lower ratio:

    for i in 1 2; do
        "$WEAKSUP_CACHE/torch-2.11.0/bin/python" scripts/peer_throughput.py
        cargo bench --bench end_models -- "minilm/(train|infer)/(fp32|bf16)_len64_bucketed"
    done
"""
import argparse
import json
import os
import random
import sys
import time


def shared_dir():
    env = os.environ.get("WEAKSUP_SHARED")
    if env:
        return env
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared")


def bucketed_batches(lengths, batch, seed):
    """weaksup's `epoch_batches` with `Padding::Bucketed` (not bit-identical: Python's shuffle)."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    for w in range(0, len(order), batch * 50):
        window = sorted(order[w:w + batch * 50], key=lambda i: lengths[i])
        batches += [window[k:k + batch] for k in range(0, len(window), batch)]
    rng.shuffle(batches)
    return batches


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=10.0, help="timed seconds per cell")
    ap.add_argument("--max-len", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=2, help="timed runs per cell (the best is reported)")
    ap.add_argument("--model", default=None, help="MiniLM folder (default: shared models/all-minilm-l6-v2)")
    ap.add_argument("--texts", default=None, help="WRENCH train.json (default: shared wrench_youtube)")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()
    try:
        import torch
        import transformers
    except ImportError as e:
        print(f"SKIPPED peer_throughput: {e} (run with set-up's venv: $WEAKSUP_CACHE/torch-2.11.0/bin/python)")
        return 0
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model_dir = args.model or os.path.join(shared_dir(), "models", "all-minilm-l6-v2")
    texts_path = args.texts or os.path.join(shared_dir(), "datasets", "wrench_youtube", "train.json")
    if not os.path.isdir(model_dir) or not os.path.isfile(texts_path):
        print(f"SKIPPED peer_throughput: {model_dir} or {texts_path} is missing")
        return 0
    rows = json.load(open(texts_path))
    texts = [r["data"]["text"] for r in (rows.values() if isinstance(rows, dict) else rows)]
    tok = transformers.AutoTokenizer.from_pretrained(model_dir)
    ids = tok(texts, truncation=True, max_length=args.max_len)["input_ids"]
    lengths = [len(x) for x in ids]

    def collate(idx):
        width = max(lengths[i] for i in idx)
        input_ids = torch.full((len(idx), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for r, i in enumerate(idx):
            input_ids[r, :lengths[i]] = torch.tensor(ids[i])
            mask[r, :lengths[i]] = 1
        return input_ids, mask

    encoder = transformers.AutoModel.from_pretrained(model_dir, attn_implementation="sdpa")
    head = torch.nn.Linear(encoder.config.hidden_size, 2)
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=2e-5, weight_decay=0.01)

    def forward(input_ids, mask):
        h = encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).to(h.dtype)
        return head((h * m).sum(1) / m.sum(1).clamp_min(1.0))

    def train_step(idx, bf16):
        input_ids, mask = collate(idx)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = forward(input_ids, mask)
        target = torch.full((len(idx), 2), 0.5)
        loss = -(target * logits.float().log_softmax(-1)).sum(-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    def infer_step(idx, bf16):
        input_ids, mask = collate(idx)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            forward(input_ids, mask)

    train_batches = bucketed_batches(lengths, args.batch, 1)
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    infer_batches = [order[k:k + args.batch] for k in range(0, len(order), args.batch)]

    def rate(step, batches, bf16):
        encoder.train(step is train_step)
        for k in range(3):  # warm-up
            step(batches[k % len(batches)], bf16)
        best = 0.0
        for _ in range(args.repeat):
            n, k, t0 = 0, 0, time.perf_counter()
            while time.perf_counter() - t0 < args.seconds:
                idx = batches[k % len(batches)]
                step(idx, bf16)
                n += len(idx)
                k += 1
            best = max(best, n / (time.perf_counter() - t0))
        return best

    results = {"torch": torch.__version__, "transformers": transformers.__version__, "threads": args.threads,
               "max_len": args.max_len, "batch": args.batch,
               "mean_padded_length": sum(max(lengths[i] for i in b) for b in train_batches) / len(train_batches)}
    for name, bf16 in [("fp32", False), ("bf16_autocast", True)]:
        results[f"train_{name}"] = rate(train_step, train_batches, bf16)
        results[f"infer_{name}"] = rate(infer_step, infer_batches, bf16)

    # The matmul limit: GFLOP/s of torch.matmul, square and MiniLM-shaped (762 tokens x 384 -> 1536).
    def gflops(m, k, n, dtype):
        a, b = torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)
        for _ in range(3):
            a @ b
        reps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 2.0:
            a @ b
            reps += 1
        return 2 * m * k * n * reps / (time.perf_counter() - t0) / 1e9

    for dtype, tag in [(torch.bfloat16, "bf16"), (torch.float32, "fp32")]:
        results[f"matmul_{tag}_gflops"] = {
            "1024^3": gflops(1024, 1024, 1024, dtype),
            "2048^3": gflops(2048, 2048, 2048, dtype),
            "762x384x1536": gflops(762, 384, 1536, dtype),
        }
    print(json.dumps(results, indent=1))
    if args.json:
        json.dump(results, open(args.json, "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
