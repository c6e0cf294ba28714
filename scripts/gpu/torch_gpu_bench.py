"""The PyTorch baseline's training-step bench (torch_finetune.py --bench) on a CUDA GPU.

Same step as the baseline (forward, backward, DPS hooks, clipping, AdamW, schedule), with two
changes: the model is built from the folder's config.json with random weights (no weight file
needed), and everything runs on cuda:0 (the batch is copied there each step; the step ends with
torch.cuda.synchronize(), so the time covers the GPU work).

Usage: DPS_BASELINE=<folder with torch_finetune.py and dps.py> python3 torch_gpu_bench.py
       --model <folder with config.json> --bench [torch_finetune.py --bench options]
"""
import os
import sys

sys.path.insert(0, os.environ["DPS_BASELINE"])
import torch  # noqa: E402
import torch_finetune as tf  # noqa: E402


def load_model(model_dir, num_labels, dropout, attn, seed):
    from transformers import BertConfig, BertForSequenceClassification, logging as hf_logging
    hf_logging.set_verbosity_error()
    torch.manual_seed(seed)
    kw = dict(num_labels=num_labels, attn_implementation=attn)
    if dropout is not None:
        kw.update(hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    cfg = BertConfig.from_pretrained(model_dir, **kw)
    return BertForSequenceClassification(cfg).cuda()


_train_step = tf.train_step


def train_step(model, batch, *rest):
    batch = tuple(t.cuda(non_blocking=True) for t in batch)
    loss = _train_step(model, batch, *rest)
    torch.cuda.synchronize()
    return loss


tf.load_model = load_model
tf.train_step = train_step
sys.argv = ["torch_finetune.py"] + sys.argv[1:]
tf.main()
