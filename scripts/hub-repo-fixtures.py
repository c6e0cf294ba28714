#!/usr/bin/env python3
"""Fixtures for checkpoints as the Hugging Face Hub ships them (`tests/hub_repos.rs`,
`tests/spm_tokenizer.rs`, `src/model/pytorch_bin.rs`).

1. `tests/fixtures/hub-repos/<org>--<name>/`: one folder per published encoder, mirroring that
   repository's file set and `config.json` (the published keys and values, scaled down: hidden
   32, 2-3 layers, a small vocabulary) with tiny random weights in the format the repository
   ships. Large weight files the loader does not read (tf_model.h5, flax_model.msgpack,
   rust_model.ot, the PyTorch copy beside model.safetensors) are left out; the file the loader
   must pick is there. The listings are written from what these repositories held in 2024
   (huggingface.co/<id>/tree/main); `repos.json` records each listing, the files the loader must
   choose from it, a sentence pair, its ids from `transformers`' own tokenizer of the folder and
   the last hidden state (`last_hidden_state`) that `transformers`'
   `AutoModel.from_pretrained(folder)` computes for it.
   - bert-large-cased: model.safetensors (LayerNorm weights named gamma/beta, as in the original
     conversion of Google's checkpoint), tokenizer.json, vocab.txt, tokenizer_config.json;
   - roberta-large: model.safetensors, tokenizer.json, vocab.json, merges.txt;
   - google/electra-large-discriminator: pytorch_model.bin only (saved in torch's legacy,
     pre-1.6 stream, as checkpoints uploaded in 2020 were), tokenizer.json, vocab.txt;
   - microsoft/deberta-v3-large: pytorch_model.bin (zip), spm.model, tokenizer_config.json and
     no tokenizer.json;
   - distilbert-base-uncased: model.safetensors, tokenizer.json, vocab.txt;
   - answerdotai/ModernBERT-large: model.safetensors, tokenizer.json, special_tokens_map.json,
     tokenizer_config.json.
   The tokenizers are trained on the GLUE training sentences of ../shared/glue (the five shared
   tasks); the SentencePiece model (unigram, 1000 pieces, nmt_nfkc normalisation, DeBERTa-v3's
   [PAD] [CLS] [SEP] [UNK] at ids 0-3) is the one DeBERTa-v3's folder holds.
2. `tests/fixtures/spm/glue-dev-ids.json`: the ids (and type ids) that `transformers`'
   `DebertaV2TokenizerFast`, converted from the slow tokenizer of that `spm.model`, gives every
   example of the GLUE dev sets of CoLA, MRPC, STS-B, RTE and WNLI (pairs where the task has
   two sentences; truncation=True, max_length=128), for tokenizer_config.json as DeBERTa-v3
   publishes it and with do_lower_case and split_by_punct on. Each example is stored as a
   64-bit FNV-1a hash of its ids and type ids (little-endian u32s, the type ids after a
   0xffffffff separator); the first examples of each task also in full.
3. `tests/fixtures/pytorch-bin/`: small state dicts written by `torch.save` (zip and legacy)
   with float32/float16/int64 tensors, a transposed (non-contiguous) one, a view at an offset
   and a shared storage, and their values in `expected.safetensors`.

Usage: hub-repo-fixtures.py [--glue ../shared/glue] [--out tests/fixtures]
Needs torch, transformers (<5), tokenizers, sentencepiece, protobuf and safetensors.
"""

import argparse
import json
import os
import shutil

import sentencepiece as spm
import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
from tokenizers import decoders
from transformers import AutoConfig, AutoModel, AutoTokenizer, DebertaV2TokenizerFast
from transformers import AutoModelForMaskedLM, AutoModelForPreTraining

# task -> (text columns, has header), as src/data/glue.rs reads the TSV files.
TASKS = {
    "CoLA": ([3], False),
    "MRPC": ([3, 4], True),
    "STS-B": ([7, 8], True),
    "RTE": ([1, 2], True),
    "WNLI": ([1, 2], True),
}
PAIR = (
    "The quick brown fox, which was hungry, jumped over the lazy dog near the river bank.",
    "A hungry fox leaps over a dog; nobody saw it happen!",
)
FULL = 8  # examples per task stored in full
MAX_LEN = 128


def rows(path, has_header):
    text = open(path, encoding="utf-8").read()
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = [l[:-1] if l.endswith("\r") else l for l in text.split("\n")]
    lines = [l for l in lines if l]
    return [l.split("\t") for l in (lines[1:] if has_header else lines)]


def examples(glue, task, split):
    cols, header = TASKS[task]
    return [tuple(r[c] for c in cols) for r in rows(os.path.join(glue, task, split), header)]


def train_texts(glue):
    out = []
    for task in TASKS:
        for ex in examples(glue, task, "train.tsv"):
            out.extend(ex)
    return out


def fnv(ids, types):
    h = 0xCBF29CE484222325
    for v in list(ids) + [0xFFFFFFFF] + list(types):
        for b in int(v).to_bytes(4, "little"):
            h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


# ---------------------------------------------------------------- tokenizers


def train_spm(texts, path):
    prefix = path[: -len(".model")]
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_prefix=prefix,
        vocab_size=1000,
        model_type="unigram",
        pad_id=0,
        pad_piece="[PAD]",
        bos_id=1,
        bos_piece="[CLS]",
        eos_id=2,
        eos_piece="[SEP]",
        unk_id=3,
        unk_piece="[UNK]",
        minloglevel=2,
    )
    os.remove(prefix + ".vocab")


def wordpiece(texts, folder, lowercase):
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lowercase
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    trainer = trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials, limit_alphabet=120)
    tok.train_from_iterator(texts, trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0",
        pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    tok.save(os.path.join(folder, "tokenizer.json"))
    vocab = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
    with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t, _ in vocab))
    return tok.get_vocab_size()


def byte_bpe(texts, folder, specials, post):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts, trainer)
    tok.post_processor = post(tok)
    tok.save(os.path.join(folder, "tokenizer.json"))
    return tok


# ---------------------------------------------------------------- models

SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)


def perturb(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            elif "norm" in name.lower() and name.endswith("weight"):
                p.copy_(1 + torch.randn(p.shape, generator=g) * 0.1)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)


def state_dict(model):
    """The state dict with every tensor in its own storage (tied weights copied)."""
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def write_config(folder, config):
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")


def make_model(folder, config, seed, pretraining=False):
    write_config(folder, config)
    cfg = AutoConfig.from_pretrained(folder)
    torch.manual_seed(seed)
    cls = AutoModelForPreTraining if pretraining else AutoModelForMaskedLM
    model = cls.from_config(cfg)
    perturb(model, seed)
    return model


def bert_large_cased(folder, texts):
    vocab = wordpiece(texts, folder, lowercase=False)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": False, "model_max_length": 512}, f)
    config = {
        "architectures": ["BertForMaskedLM"],
        "attention_probs_dropout_prob": 0.1,
        "directionality": "bidi",
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 32,
        "initializer_range": 0.02,
        "intermediate_size": 64,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 512,
        "model_type": "bert",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "pad_token_id": 0,
        "pooler_fc_size": 768,
        "pooler_num_attention_heads": 12,
        "pooler_num_fc_layers": 3,
        "pooler_size_per_head": 128,
        "pooler_type": "first_token_transform",
        "type_vocab_size": 2,
        "vocab_size": vocab,
    }
    model = make_model(folder, config, 11)
    sd = state_dict(model)
    sd = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
          for k, v in sd.items()}
    sd.pop("cls.predictions.decoder.weight")  # tied to the word embeddings
    save_file(sd, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    return ["model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt"]


def roberta_large(folder, texts):
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = byte_bpe(
        texts,
        folder,
        specials,
        lambda t: processors.RobertaProcessing(("</s>", t.token_to_id("</s>")), ("<s>", t.token_to_id("<s>"))),
    )
    tok.model.save(folder)  # vocab.json, merges.txt
    config = {
        "architectures": ["RobertaForMaskedLM"],
        "attention_probs_dropout_prob": 0.1,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 32,
        "initializer_range": 0.02,
        "intermediate_size": 64,
        "layer_norm_eps": 1e-05,
        "max_position_embeddings": 514,
        "model_type": "roberta",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "pad_token_id": 1,
        "type_vocab_size": 1,
        "vocab_size": tok.get_vocab_size(),
    }
    model = make_model(folder, config, 12)
    sd = state_dict(model)
    sd.pop("lm_head.decoder.weight")
    sd.pop("lm_head.decoder.bias", None)
    save_file(sd, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    return ["merges.txt", "model.safetensors", "tokenizer.json", "vocab.json"]


def electra_large_discriminator(folder, texts):
    vocab = wordpiece(texts, folder, lowercase=True)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True}, f)
    config = {
        "architectures": ["ElectraForPreTraining"],
        "attention_probs_dropout_prob": 0.1,
        "embedding_size": 32,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 32,
        "initializer_range": 0.02,
        "intermediate_size": 64,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 512,
        "model_type": "electra",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "pad_token_id": 0,
        "type_vocab_size": 2,
        "vocab_size": vocab,
    }
    model = make_model(folder, config, 13, pretraining=True)
    torch.save(state_dict(model), os.path.join(folder, "pytorch_model.bin"),
               _use_new_zipfile_serialization=False)
    return ["pytorch_model.bin", "tokenizer.json", "tokenizer_config.json", "vocab.txt"]


def deberta_v3_large(folder, texts, spm_path):
    shutil.copy(spm_path, os.path.join(folder, "spm.model"))
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": False, "vocab_type": "spm"}, f)
    config = {
        "model_type": "deberta-v2",
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 32,
        "initializer_range": 0.02,
        "intermediate_size": 64,
        "max_position_embeddings": 512,
        "relative_attention": True,
        "position_buckets": 8,
        "norm_rel_ebd": "layer_norm",
        "share_att_key": True,
        "pos_att_type": "p2c|c2p",
        "layer_norm_eps": 1e-7,
        "max_relative_positions": -1,
        "position_biased_input": False,
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "type_vocab_size": 0,
        "vocab_size": 1100,
    }
    write_config(folder, config)
    cfg = AutoConfig.from_pretrained(folder)
    torch.manual_seed(14)
    model = AutoModel.from_config(cfg)
    perturb(model, 14)
    sd = {"deberta." + k: v for k, v in state_dict(model).items()}
    # The published checkpoint's pre-training heads (not read by the loader).
    g = torch.Generator().manual_seed(15)
    for k, shape in [
        ("lm_predictions.lm_head.dense.weight", (32, 32)),
        ("lm_predictions.lm_head.dense.bias", (32,)),
        ("lm_predictions.lm_head.LayerNorm.weight", (32,)),
        ("lm_predictions.lm_head.LayerNorm.bias", (32,)),
        ("lm_predictions.lm_head.bias", (1100,)),
        ("mask_predictions.dense.weight", (32, 32)),
        ("mask_predictions.dense.bias", (32,)),
        ("mask_predictions.LayerNorm.weight", (32,)),
        ("mask_predictions.LayerNorm.bias", (32,)),
        ("mask_predictions.classifier.weight", (1, 32)),
        ("mask_predictions.classifier.bias", (1,)),
    ]:
        sd[k] = torch.randn(shape, generator=g)
    torch.save(sd, os.path.join(folder, "pytorch_model.bin"))
    return ["pytorch_model.bin", "spm.model", "tokenizer_config.json"]


def distilbert_base_uncased(folder, texts):
    vocab = wordpiece(texts, folder, lowercase=True)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "model_max_length": 512}, f)
    config = {
        "activation": "gelu",
        "architectures": ["DistilBertForMaskedLM"],
        "attention_dropout": 0.1,
        "dim": 32,
        "dropout": 0.1,
        "hidden_dim": 64,
        "initializer_range": 0.02,
        "max_position_embeddings": 512,
        "model_type": "distilbert",
        "n_heads": 4,
        "n_layers": 2,
        "pad_token_id": 0,
        "qa_dropout": 0.1,
        "seq_classif_dropout": 0.2,
        "sinusoidal_pos_embds": False,
        "tie_weights_": True,
        "transformers_version": "4.10.0.dev0",
        "vocab_size": vocab,
    }
    model = make_model(folder, config, 16)
    sd = state_dict(model)
    sd.pop("vocab_projector.weight")
    save_file(sd, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    return ["model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt"]


def modernbert_large(folder, texts):
    specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]

    def post(t):
        cls, sep = t.token_to_id("[CLS]"), t.token_to_id("[SEP]")
        return processors.TemplateProcessing(
            single="[CLS]:0 $A:0 [SEP]:0",
            pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
            special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
        )

    tok = byte_bpe(texts, folder, specials, post)
    ids = {s: tok.token_to_id(s) for s in specials}
    with open(os.path.join(folder, "special_tokens_map.json"), "w") as f:
        json.dump({"cls_token": "[CLS]", "mask_token": "[MASK]", "pad_token": "[PAD]",
                   "sep_token": "[SEP]", "unk_token": "[UNK]"}, f, indent=2)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"clean_up_tokenization_spaces": True, "cls_token": "[CLS]",
                   "mask_token": "[MASK]", "model_input_names": ["input_ids", "attention_mask"],
                   "model_max_length": 8192, "pad_token": "[PAD]", "sep_token": "[SEP]",
                   "tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]"}, f, indent=2)
    config = {
        "architectures": ["ModernBertForMaskedLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": ids["[CLS]"],
        "classifier_activation": "gelu",
        "classifier_bias": False,
        "classifier_dropout": 0.0,
        "classifier_pooling": "mean",
        "cls_token_id": ids["[CLS]"],
        "decoder_bias": True,
        "deterministic_flash_attn": False,
        "embedding_dropout": 0.0,
        "eos_token_id": ids["[SEP]"],
        "global_attn_every_n_layers": 3,
        "global_rope_theta": 160000.0,
        "gradient_checkpointing": False,
        "hidden_activation": "gelu",
        "hidden_size": 32,
        "initializer_cutoff_factor": 2.0,
        "initializer_range": 0.02,
        "intermediate_size": 48,
        "layer_norm_eps": 1e-05,
        "local_attention": 8,
        "local_rope_theta": 10000.0,
        "max_position_embeddings": 8192,
        "mlp_bias": False,
        "mlp_dropout": 0.0,
        "model_type": "modernbert",
        "norm_bias": False,
        "norm_eps": 1e-05,
        "num_attention_heads": 4,
        "num_hidden_layers": 3,
        "pad_token_id": ids["[PAD]"],
        "position_embedding_type": "absolute",
        "sep_token_id": ids["[SEP]"],
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "transformers_version": "4.47.0.dev0",
        "vocab_size": tok.get_vocab_size(),
    }
    model = make_model(folder, config, 17)
    sd = state_dict(model)
    sd.pop("decoder.weight")
    save_file(sd, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    return ["model.safetensors", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]


REPOS = [
    ("bert-large-cased", bert_large_cased,
     [".gitattributes", "README.md", "config.json", "flax_model.msgpack", "model.safetensors",
      "pytorch_model.bin", "rust_model.ot", "tf_model.h5", "tokenizer.json",
      "tokenizer_config.json", "vocab.txt"],
     ["config.json", "model.safetensors", "tokenizer.json"]),
    ("roberta-large", roberta_large,
     [".gitattributes", "README.md", "config.json", "dict.txt", "flax_model.msgpack",
      "merges.txt", "model.safetensors", "pytorch_model.bin", "rust_model.ot", "tf_model.h5",
      "tokenizer.json", "vocab.json"],
     ["config.json", "model.safetensors", "tokenizer.json"]),
    ("google/electra-large-discriminator", electra_large_discriminator,
     [".gitattributes", "README.md", "config.json", "pytorch_model.bin", "tf_model.h5",
      "tokenizer.json", "tokenizer_config.json", "vocab.txt"],
     ["config.json", "pytorch_model.bin", "tokenizer.json"]),
    ("microsoft/deberta-v3-large", None,
     [".gitattributes", "README.md", "config.json", "pytorch_model.bin", "spm.model",
      "tf_model.h5", "tokenizer_config.json"],
     ["config.json", "pytorch_model.bin", "spm.model", "tokenizer_config.json"]),
    ("distilbert-base-uncased", distilbert_base_uncased,
     [".gitattributes", "LICENSE", "README.md", "config.json", "flax_model.msgpack",
      "model.safetensors", "pytorch_model.bin", "rust_model.ot", "tf_model.h5",
      "tokenizer.json", "tokenizer_config.json", "vocab.txt"],
     ["config.json", "model.safetensors", "tokenizer.json"]),
    ("answerdotai/ModernBERT-large", modernbert_large,
     [".gitattributes", "README.md", "config.json", "model.safetensors",
      "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"],
     ["config.json", "model.safetensors", "tokenizer.json"]),
]


def tokenizer_of(folder):
    if os.path.exists(os.path.join(folder, "spm.model")):
        tok = DebertaV2TokenizerFast.from_pretrained(folder)
        assert not os.path.exists(os.path.join(folder, "tokenizer.json"))
        return tok
    return AutoTokenizer.from_pretrained(folder)


def expected_run(folder):
    tok = tokenizer_of(folder)
    enc = tok(*PAIR, truncation=True, max_length=MAX_LEN)
    model = AutoModel.from_pretrained(folder, attn_implementation="eager")
    model.eval()
    ids = torch.tensor([enc["input_ids"]])
    kw = dict(input_ids=ids, attention_mask=torch.ones_like(ids))
    types = enc.get("token_type_ids") or [0] * len(enc["input_ids"])
    if "token_type_ids" in model.forward.__code__.co_varnames:
        kw["token_type_ids"] = torch.tensor([types])
    with torch.no_grad():
        # The encoder's output (after ModernBERT's final norm, which transformers 4.57 leaves
        # out of hidden_states[-1]).
        h = model(**kw).last_hidden_state[0]
    return {
        "input_ids": enc["input_ids"],
        # None where the tokenizer returns no type ids (DistilBERT, ModernBERT).
        "token_type_ids": enc.get("token_type_ids"),
        "hidden_shape": list(h.shape),
        "last_hidden": [float(f"{x:.6g}") for x in h.flatten().tolist()],
        "class": type(model).__name__,
    }


def make_repos(out, texts):
    root = os.path.join(out, "hub-repos")
    records = []
    spm_path = None
    for repo, make, listing, chosen in REPOS:
        folder = os.path.join(root, repo.replace("/", "--"))
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        if make is None:
            spm_path = os.path.join(out, "spm", "spm.model")
            os.makedirs(os.path.dirname(spm_path), exist_ok=True)
            train_spm(texts, spm_path)
            present = deberta_v3_large(folder, texts, spm_path)
            os.remove(spm_path)
        else:
            present = make(folder, texts)
        present = sorted(["config.json"] + present)
        assert sorted(os.listdir(folder)) == present, (repo, os.listdir(folder))
        assert all(f in listing for f in present), repo
        run = expected_run(folder)
        print(f"{repo}: {run['class']}, {len(run['input_ids'])} tokens, files {present}")
        records.append(dict(repo=repo, folder=os.path.basename(folder), listing=listing,
                            chosen=chosen, present=present, text_a=PAIR[0], text_b=PAIR[1], **run))
    with open(os.path.join(root, "repos.json"), "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n")
    return os.path.join(root, "microsoft--deberta-v3-large", "spm.model")


# ---------------------------------------------------------------- spm ids on GLUE dev


def spm_ids(glue, out, spm_path):
    import tempfile

    configs = [
        {"do_lower_case": False, "vocab_type": "spm"},
        {"do_lower_case": True, "split_by_punct": True, "vocab_type": "spm"},
    ]
    result = {"spm_model": "hub-repos/microsoft--deberta-v3-large/spm.model",
              "max_length": MAX_LEN, "configs": []}
    for cfg in configs:
        with tempfile.TemporaryDirectory() as d:
            shutil.copy(spm_path, os.path.join(d, "spm.model"))
            with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
                json.dump(cfg, f)
            tok = DebertaV2TokenizerFast.from_pretrained(d)
            tasks = {}
            for task in TASKS:
                exs = examples(glue, task, "dev.tsv")
                hashes, full, truncated = [], [], 0
                for i, ex in enumerate(exs):
                    enc = tok(*ex, truncation=True, max_length=MAX_LEN)
                    ids, types = enc["input_ids"], enc["token_type_ids"]
                    truncated += len(ids) == MAX_LEN
                    hashes.append(fnv(ids, types))
                    if i < FULL:
                        full.append({"ids": ids, "type_ids": types})
                tasks[task] = {"count": len(exs), "hashes": " ".join(hashes), "full": full}
                print(f"spm {cfg}: {task} {len(exs)} examples, {truncated} at {MAX_LEN} tokens")
        result["configs"].append({"tokenizer_config": cfg, "tasks": tasks})
    os.makedirs(os.path.join(out, "spm"), exist_ok=True)
    with open(os.path.join(out, "spm", "glue-dev-ids.json"), "w") as f:
        json.dump(result, f)
        f.write("\n")


# ---------------------------------------------------------------- pytorch_model.bin


def pytorch_bins(out):
    folder = os.path.join(out, "pytorch-bin")
    os.makedirs(folder, exist_ok=True)
    g = torch.Generator().manual_seed(5)
    base = torch.randn(6, 4, generator=g)
    shared = torch.randn(10, generator=g)
    sd = {
        "f32": torch.randn(3, 5, generator=g),
        "f16": torch.randn(4, 2, generator=g).half(),
        "i64": torch.arange(7, dtype=torch.int64) * 3 - 5,
        "transposed": base.t(),
        "offset_view": shared[3:9].view(2, 3),
        "shared_head": shared[:4],
        "scalar": torch.tensor(2.5),
    }
    expected = {k: v.contiguous().clone() for k, v in sd.items()}
    save_file(expected, os.path.join(folder, "expected.safetensors"))
    torch.save(sd, os.path.join(folder, "zip.bin"))
    torch.save(sd, os.path.join(folder, "legacy.bin"), _use_new_zipfile_serialization=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--glue", default=os.path.join("..", "shared", "glue"))
    ap.add_argument("--out", default=os.path.join("tests", "fixtures"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    texts = train_texts(a.glue)
    pytorch_bins(a.out)
    spm_path = make_repos(a.out, texts)
    spm_ids(a.glue, a.out, spm_path)


if __name__ == "__main__":
    main()
