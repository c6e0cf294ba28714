#!/usr/bin/env python3
"""Reference outputs of every supported encoder family, from `transformers`, for the parity tests.

For each family this builds a tiny, randomly initialised `*ForSequenceClassification` (hidden 32,
2-3 layers, dropout 0, float32, eager attention), runs one padded batch through it and writes
`tests/fixtures/families/<name>/`:

- `config.json`, `model.safetensors`: the model as `save_pretrained` writes it (names with the
  base-model prefix, e.g. `roberta.encoder...`, and the classification head);
- `case.safetensors`: `input_ids`, `attention_mask`, `token_type_ids` ([B, L] int64), `labels`,
  `hidden.<i>` (every hidden state transformers returns), `logits`, `loss`, `grad.<name>` (the
  gradient of every parameter), `step.<name>` (the parameter after one AdamW step);
- `case.json`: the AdamW settings and the names that get weight decay (the Trainer's rule).

Usage:
  family-fixtures.py [--out tests/fixtures/families] [--only NAME ...]
  family-fixtures.py --check-saved DIR --family NAME   # load a dps-tui checkpoint with
                                                        # transformers and compare its logits
The environment needs torch, transformers and safetensors (see the README's Encoder families).
"""

import argparse
import inspect
import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, AutoModelForSequenceClassification
from transformers.trainer_pt_utils import get_parameter_names

COMMON = dict(
    vocab_size=99,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
    max_position_embeddings=64,
    num_labels=3,
)

# name -> (model_type, config overrides, batch lengths)
FAMILIES = {
    "bert": ("bert", dict(type_vocab_size=2, pad_token_id=0), [12, 9, 5]),
    "roberta": ("roberta", dict(type_vocab_size=1, pad_token_id=1), [12, 9, 5]),
    "xlm-roberta": ("xlm-roberta", dict(type_vocab_size=1, pad_token_id=1), [12, 9, 5]),
    "electra": (
        "electra",
        dict(embedding_size=16, type_vocab_size=2, pad_token_id=0),
        [12, 9, 5],
    ),
    "distilbert": (
        "distilbert",
        dict(
            dim=32,
            n_layers=2,
            n_heads=4,
            hidden_dim=64,
            dropout=0.0,
            attention_dropout=0.0,
            seq_classif_dropout=0.0,
            activation="gelu",
            pad_token_id=0,
        ),
        [12, 9, 5],
    ),
    # DeBERTa-v3's layout: relative attention with log buckets, shared keys, LayerNorm on the
    # relative embeddings, no absolute positions, no token types. 24 tokens > 8 buckets.
    "deberta-v3": (
        "deberta-v2",
        dict(
            relative_attention=True,
            max_relative_positions=-1,
            position_buckets=8,
            norm_rel_ebd="layer_norm",
            share_att_key=True,
            pos_att_type=["p2c", "c2p"],
            position_biased_input=False,
            type_vocab_size=0,
            pad_token_id=0,
            pooler_hidden_act="gelu",
            pooler_dropout=0.0,
            layer_norm_eps=1e-7,
        ),
        [24, 17, 6],
    ),
    # DeBERTa-v2's other options: absolute positions, token types, an embedding projection,
    # separate position projections (share_att_key false), no buckets and no LayerNorm on the
    # relative embeddings; 24 tokens > 16 relative positions.
    "deberta-v2": (
        "deberta-v2",
        dict(
            relative_attention=True,
            max_relative_positions=16,
            position_buckets=-1,
            norm_rel_ebd="none",
            share_att_key=False,
            pos_att_type="p2c|c2p",
            position_biased_input=True,
            type_vocab_size=2,
            embedding_size=16,
            hidden_act="gelu_new",
            pad_token_id=0,
            pooler_hidden_act="tanh",
            pooler_dropout=0.0,
            layer_norm_eps=1e-7,
        ),
        [24, 17, 6],
    ),
    # Three layers: layer 0 global, 1 and 2 local with a window of 8 (±4) < 24 tokens.
    "modernbert": (
        "modernbert",
        dict(
            num_hidden_layers=3,
            intermediate_size=48,
            global_attn_every_n_layers=3,
            local_attention=8,
            max_position_embeddings=64,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
            cls_token_id=1,
            sep_token_id=2,
            classifier_pooling="cls",
            embedding_dropout=0.0,
            attention_dropout=0.0,
            mlp_dropout=0.0,
            classifier_dropout=0.0,
        ),
        [24, 17, 6],
    ),
    "modernbert-mean": (
        "modernbert",
        dict(
            num_hidden_layers=3,
            intermediate_size=48,
            global_attn_every_n_layers=3,
            local_attention=8,
            max_position_embeddings=64,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
            cls_token_id=1,
            sep_token_id=2,
            classifier_pooling="mean",
            embedding_dropout=0.0,
            attention_dropout=0.0,
            mlp_dropout=0.0,
            classifier_dropout=0.0,
        ),
        [24, 17, 6],
    ),    # Every optional bias on, other activations, global layers 0 and 2 around a local one with
    # a window of 6 (±3), and RoPE bases given by the legacy keys.
    "modernbert-bias": (
        "modernbert",
        dict(
            num_hidden_layers=3,
            intermediate_size=48,
            global_attn_every_n_layers=2,
            local_attention=6,
            global_rope_theta=1000.0,
            local_rope_theta=500.0,
            norm_bias=True,
            attention_bias=True,
            mlp_bias=True,
            classifier_bias=True,
            hidden_activation="gelu_pytorch_tanh",
            classifier_activation="silu",
            max_position_embeddings=64,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
            cls_token_id=1,
            sep_token_id=2,
            classifier_pooling="mean",
            embedding_dropout=0.0,
            attention_dropout=0.0,
            mlp_dropout=0.0,
            classifier_dropout=0.0,
        ),
        [24, 17, 6],
    ),
}

LR = 1e-3
WEIGHT_DECAY = 0.01


def decay_names(model):
    """The Hugging Face Trainer's weight-decay rule (`Trainer.get_decay_parameter_names`)."""
    patterns = [r"bias", r"layernorm", r"rmsnorm", r"(?:^|\.)norm(?:$|\.)", r"_norm(?:$|\.)"]
    return get_parameter_names(model, [torch.nn.LayerNorm], patterns)


def build(name, seed=1234):
    model_type, overrides, lengths = FAMILIES[name]
    kw = dict(COMMON)
    kw.update(overrides)
    cfg = AutoConfig.for_model(model_type, **kw)
    cfg._attn_implementation = "eager"
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_config(cfg, attn_implementation="eager")
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            elif "norm" in pname.lower() and pname.endswith("weight"):
                p.copy_(1 + torch.randn(p.shape, generator=g) * 0.1)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    model.eval()
    return model, lengths


def batch(model, lengths, seed=99):
    cfg = model.config
    g = torch.Generator().manual_seed(seed)
    b, l = len(lengths), max(lengths)
    pad = cfg.pad_token_id if cfg.pad_token_id is not None else 0
    ids = torch.full((b, l), pad, dtype=torch.long)
    mask = torch.zeros((b, l), dtype=torch.long)
    tt = torch.zeros((b, l), dtype=torch.long)
    for i, n in enumerate(lengths):
        # Real tokens never use the pad id (ids 3..vocab).
        ids[i, :n] = torch.randint(3, cfg.vocab_size, (n,), generator=g)
        mask[i, :n] = 1
        if getattr(cfg, "type_vocab_size", 0) and cfg.type_vocab_size > 1:
            tt[i, n // 2 : n] = 1
    labels = torch.tensor([i % cfg.num_labels for i in range(b)], dtype=torch.long)
    return ids, mask, tt, labels


def forward(model, ids, mask, tt, labels=None):
    kw = dict(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    if "token_type_ids" in inspect.signature(model.forward).parameters:
        kw["token_type_ids"] = tt
    if labels is not None:
        kw["labels"] = labels
    return model(**kw)


def make(name, out):
    model, lengths = build(name)
    ids, mask, tt, labels = batch(model, lengths)
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    out_ = forward(model, ids, mask, tt, labels)
    out_.loss.backward()
    case = {
        "input_ids": ids,
        "attention_mask": mask,
        "token_type_ids": tt,
        "labels": labels,
        "logits": out_.logits.detach(),
        "loss": out_.loss.detach().reshape(1),
    }
    for i, h in enumerate(out_.hidden_states):
        case[f"hidden.{i}"] = h.detach()
    decay = set(decay_names(model))
    params = dict(model.named_parameters())
    for pname, p in params.items():
        case[f"grad.{pname}"] = p.grad.detach().clone()
    groups = [
        {"params": [p for n, p in params.items() if n in decay], "weight_decay": WEIGHT_DECAY},
        {"params": [p for n, p in params.items() if n not in decay], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=LR, betas=(0.9, 0.999), eps=1e-8)
    opt.step()
    for pname, p in params.items():
        case[f"step.{pname}"] = p.detach().clone()
    save_file({k: v.contiguous() for k, v in case.items()}, os.path.join(folder, "case.safetensors"))
    meta = {
        "family": name,
        "model_type": model.config.model_type,
        "class": type(model).__name__,
        "lengths": lengths,
        "lr": LR,
        "weight_decay": WEIGHT_DECAY,
        "decay": sorted(decay),
        "params": sorted(params),
        "num_hidden_states": len(out_.hidden_states),
    }
    with open(os.path.join(folder, "case.json"), "w") as f:
        json.dump(meta, f, indent=1)
    if name == "deberta-v3":
        write_log_buckets(folder)
    print(f"{name}: loss {out_.loss.item():.6f}, {len(params)} parameters -> {folder}")


def write_log_buckets(folder):
    """DeBERTa-v2's log position buckets for every relative position a 1024-token input has,
    for the bucket settings of the released checkpoints and of the tiny fixture."""
    from transformers.models.deberta_v2.modeling_deberta_v2 import make_log_bucket_position

    rel = torch.arange(-1023, 1024, dtype=torch.long)
    cases = []
    for buckets, max_position in [(256, 512), (8, 64), (64, 128)]:
        b = make_log_bucket_position(rel, buckets, max_position).to(torch.long)
        cases.append({"buckets": buckets, "max_position": max_position, "first": -1023,
                      "bucket": b.tolist()})
    with open(os.path.join(folder, "log_buckets.json"), "w") as f:
        json.dump(cases, f)


def check_saved(folder, name, fixtures):
    """Load a checkpoint written by dps-tui with transformers and compare its logits."""
    model = AutoModelForSequenceClassification.from_pretrained(folder, attn_implementation="eager")
    model.eval()
    ref = load_file(os.path.join(fixtures, name, "case.safetensors"))
    out = forward(model, ref["input_ids"], ref["attention_mask"], ref["token_type_ids"])
    diff = (out.logits - ref["logits"]).abs().max().item()
    print(f"{name}: loaded {type(model).__name__} from {folder}; max |logits - reference| = {diff:.3g}")
    return diff


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join("tests", "fixtures", "families"))
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--check-saved")
    ap.add_argument("--family")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.check_saved:
        diff = check_saved(a.check_saved, a.family, a.out)
        sys.exit(0 if diff < 1e-5 else 1)
    for name in a.only or FAMILIES:
        make(name, a.out)


if __name__ == "__main__":
    main()
