#!/usr/bin/env python3
"""Minimal compatibility edits to the official COSINE code (github.com/yueyu1030/COSINE).

Usage: official_cosine_patch.py SRC_DIR

SRC_DIR is a *copy* of the official checkout (official_cosine.sh makes it).  Every edit
is a literal string replacement of one line (or a single import statement), and each
one must match exactly the expected number of times, otherwise the script aborts, so a
different upstream revision cannot be patched silently.

The edits only adapt the code to torch 2.x / transformers 5 on CPU and to a local BERT
(MiniLM) backbone.  Nothing in the algorithm is touched: calc_loss, contrastive_loss,
soft_frequency, the teacher refresh (update_period), the thresholds, the optimiser
schedule and the train/selftrain loops are exactly the official ones.
"""
import os
import sys

EDITS = [
    # ---------------------------------------------------------------- main.py
    ("main.py",
     # torch.set_num_threads from an env var, so runs can share a small CPU.
     "from trainer import Trainer\n",
     "import torch; torch.set_num_threads(int(os.environ.get('COSINE_THREADS', '2')))  # [patch] CPU threads from env\n"
     "from trainer import Trainer\n",
     1),
    ("main.py",
     # MODEL_PATH_MAP only knows hub names ('bert-base-uncased', ...); point it at the
     # local MiniLM directory instead (no network, and it is the backbone under test).
     "    args.model_name_or_path = MODEL_PATH_MAP[args.model_type]\n",
     "    args.model_name_or_path = os.environ.get('COSINE_MODEL_PATH', MODEL_PATH_MAP[args.model_type])  # [patch] local backbone dir\n",
     1),
    # --------------------------------------------------------------- model.py
    # transformers >= 4 moved modeling_* into transformers.models.<name>.  These three
    # heads are imported but unused on the TC path; only the module path changes.
    ("model.py",
     "from transformers.modeling_roberta import RobertaLMHead\n",
     "from transformers.models.roberta.modeling_roberta import RobertaLMHead  # [patch] transformers>=4 module path\n",
     1),
    ("model.py",
     "from transformers.modeling_bert import BertOnlyMLMHead\n",
     "from transformers.models.bert.modeling_bert import BertOnlyMLMHead  # [patch] transformers>=4 module path\n",
     1),
    ("model.py",
     "from transformers.modeling_albert import AlbertMLMHead\n",
     "from transformers.models.albert.modeling_albert import AlbertMLMHead  # [patch] transformers>=4 module path\n",
     1),
    # -------------------------------------------------------- modeling_roberta.py
    ("modeling_roberta.py",
     "from transformers.modeling_roberta import RobertaClassificationHead\n",
     "from transformers.models.roberta.modeling_roberta import RobertaClassificationHead  # [patch] transformers>=4 module path\n",
     1),
    # ------------------------------------------------------------- trainer.py
    ("trainer.py",
     # transformers.AdamW was removed (v4.x deprecation, gone in v5).  torch.optim.AdamW
     # is the same decoupled-weight-decay Adam with bias correction (transformers'
     # correct_bias=True default); lr / eps / per-group weight_decay are passed as before.
     "from transformers import BertConfig, AdamW, get_linear_schedule_with_warmup\n",
     "from transformers import BertConfig, get_linear_schedule_with_warmup\n"
     "from torch.optim import AdamW  # [patch] transformers.AdamW no longer exists\n",
     1),
]

# The official TC runs use model_type=roberta, i.e. RobertaForSequenceClassification_v2
# (modeling_roberta.py): a RobertaClassificationHead on the first token, returning
# (logits, ..., first-token hidden state); the self-training loop uses outputs[-1] as the
# feature of the contrastive term.  The stock BertForSequenceClassification that
# model_type=bert maps to returns only (logits,), so outputs[-1] would be the logits and
# the contrastive term would silently act on 6-d logits.  With COSINE_HEAD=v2 (default)
# the BERT backbone is therefore put under the official v2 head: the class is reused
# unchanged except that its encoder is BertModel when the config is a BERT config
# (RobertaModel would shift position ids by padding_idx+1 and mis-load BERT weights).
# COSINE_HEAD=stock keeps the literal model_type=bert mapping instead.
V2_HEAD_EDITS = [
    ("modeling_roberta.py",
     "from transformers import RobertaModel, BertPreTrainedModel, RobertaConfig\n",
     "from transformers import RobertaModel, BertPreTrainedModel, RobertaConfig, BertModel  # [patch] BERT encoder for the v2 head\n",
     1),
    ("modeling_roberta.py",
     "        self.roberta = RobertaModel(config)\n",
     "        self.roberta = (BertModel if config.model_type == 'bert' else RobertaModel)(config)  # [patch] BERT/MiniLM encoder\n",
     1),
    ("modeling_roberta.py",
     # transformers 5 removed head_mask from the encoders' forward(); it was always None here.
     "            head_mask=head_mask,\n",
     "            # head_mask=head_mask,  # [patch] argument removed in transformers 5 (always None here)\n",
     1),
    ("modeling_roberta.py",
     # transformers 5 builds from_pretrained models on the meta device and needs post_init()
     # (it registers all_tied_weights_keys etc.); without it from_pretrained raises.
     "        self.classifier = RobertaClassificationHead(config)\n",
     "        self.classifier = RobertaClassificationHead(config)\n"
     "        self.post_init()  # [patch] required by transformers 5 from_pretrained\n",
     1),
    ("model.py",
     # Under transformers 2.8 the v2 class never called init_weights() and from_pretrained
     # did not re-initialise missing keys, so the (not pretrained) classification head kept
     # PyTorch's default nn.Linear init.  transformers 5 instead initialises missing keys
     # with _init_weights (normal(0, 0.02), zero bias); reset the head's Linear layers to
     # restore the official (PyTorch-default) initialisation.
     "            self.bert = PRETRAINED_MODEL_MAP_SeqClass[args.model_type].from_pretrained(args.model_name_or_path, config=bert_config)  # Load pretrained bert\n",
     "            self.bert = PRETRAINED_MODEL_MAP_SeqClass[args.model_type].from_pretrained(args.model_name_or_path, config=bert_config)  # Load pretrained bert\n"
     "            [m.reset_parameters() for m in self.bert.classifier.modules() if isinstance(m, nn.Linear)]  # [patch] head init as in transformers 2.8\n",
     1),
    ("model.py",
     "    'bert': BertForSequenceClassification,\n",
     "    'bert': RobertaForSequenceClassification_v2,  # [patch] official TC head (returns [CLS] feature last)\n",
     1),
]


def apply(src_dir, edits):
    for fname, old, new, count in edits:
        path = os.path.join(src_dir, fname)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        n = text.count(old)
        if n != count:
            sys.exit("patch failed: %s: expected %d occurrence(s) of %r, found %d" % (fname, count, old, n))
        text = text.replace(old, new)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        print("patched %-20s %s" % (fname, old.strip()[:70]))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    src = sys.argv[1]
    head = os.environ.get("COSINE_HEAD", "v2")
    if head not in ("v2", "stock"):
        sys.exit("COSINE_HEAD must be v2 or stock")
    apply(src, EDITS + (V2_HEAD_EDITS if head == "v2" else []))
    print("head: %s" % head)


if __name__ == "__main__":
    main()
