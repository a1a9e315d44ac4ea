"""PyTorch peer of `bench/run heads`: trains the projector or cross-attention head like `strata train`.

Reads the cache through the strata_cache package (python/), the head configuration Strata wrote (YAML), the
initial weights Strata saved (safetensors, the same state_dict names) and the plan of image and caption
ids per step. Same losses, AdamW (no decay on tensors of rank <= 1), warm-up + cosine learning rate,
gradient clipping, logit-scale clamp, and best-epoch selection by validation Recall sum. fp32 on the CPU
with torch.set_num_threads(THREADS). With --extra-seeds K it also trains K runs from PyTorch's own
initialisation (seeds 1..K) to measure the seed-to-seed spread. Prints one JSON line.
"""
import os
import sys


import argparse
import json
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml
from safetensors.torch import load_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import strata_cache


class Projector(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.projection = nn.Sequential(nn.Linear(d_in, d_out), nn.ReLU(), nn.LayerNorm(d_out))

    def forward(self, x):
        return self.projection(x)


class CrossAttentionBlock(nn.Module):
    def __init__(self, dim, heads, dropout):
        super().__init__()
        self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.layer_norm = nn.LayerNorm(dim)

    def forward(self, query, context, padding=None):
        attended, _ = self.attention(query, context, context, key_padding_mask=padding, need_weights=False)
        return self.layer_norm(query + attended)


def pooled(x, mask):
    if x.shape[1] == 1:
        return x[:, 0]
    if mask is None:
        return x.mean(1)
    return (x * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp_min(1e-9)


def symmetric_contrastive(scores, logit_scale):
    logits = scores * logit_scale.exp()
    targets = torch.arange(scores.shape[0])
    return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.t(), targets))


class ProjectorHead(nn.Module):
    def __init__(self, cfg, wi, wt):
        super().__init__()
        self.cfg = cfg
        self.image_projector = Projector(wi, cfg["dim"])
        self.text_projector = Projector(wt, cfg["dim"])
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / cfg["loss"]["temperature"])))

    def scores(self, image, image_mask, text, text_mask):
        p = self.cfg["dropout"]
        i = F.dropout(self.image_projector(pooled(image, image_mask)), p, self.training)
        t = F.dropout(self.text_projector(pooled(text, text_mask)), p, self.training)
        return F.normalize(i, dim=-1) @ F.normalize(t, dim=-1).t()

    def loss(self, image, image_mask, text, text_mask):
        c = symmetric_contrastive(self.scores(image, image_mask, text, text_mask), self.logit_scale)
        return c, {"contrastive": c.item()}


class CrossAttentionHead(nn.Module):
    def __init__(self, cfg, wi, wt):
        super().__init__()
        self.cfg = cfg
        d, h, p = cfg["dim"], cfg["attention_heads"], cfg["dropout"]
        self.image_projector = Projector(wi, d)
        self.text_projector = Projector(wt, d)
        self.text_to_image = CrossAttentionBlock(d, h, p)
        self.image_to_text = CrossAttentionBlock(d, h, p)
        self.itm_head = nn.Sequential(nn.Linear(4 * d, d), nn.ReLU(), nn.Linear(d, 1))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / cfg["loss"]["temperature"])))

    def project(self, image, text):
        p = self.cfg["dropout"]
        return (F.dropout(self.image_projector(image), p, self.training),
                F.dropout(self.text_projector(text), p, self.training))

    def contrastive_scores(self, pi, image_mask, pt, text_mask):
        return F.normalize(pooled(pi, image_mask), dim=-1) @ F.normalize(pooled(pt, text_mask), dim=-1).t()

    def match(self, pi, image_mask, pt, text_mask):
        image_pad = None if image_mask is None else image_mask == 0
        text_pad = None if text_mask is None else text_mask == 0
        fused_text = self.text_to_image(pt, pi, image_pad)
        fused_image = self.image_to_text(pi, pt, text_pad)
        u, v = pooled(fused_image, image_mask), pooled(fused_text, text_mask)
        return self.itm_head(torch.cat([u, v, u * v, (u - v).abs()], 1))[:, 0]

    def scores(self, image, image_mask, text, text_mask):
        pi, pt = self.project(image, text)
        return self.contrastive_scores(pi, image_mask, pt, text_mask)

    def loss(self, image, image_mask, text, text_mask):
        w = self.cfg["loss"]
        pi, pt = self.project(image, text)
        s = self.contrastive_scores(pi, image_mask, pt, text_mask)
        parts, total = {}, 0
        if w["contrastive"] > 0:
            c = symmetric_contrastive(s, self.logit_scale)
            parts["contrastive"], total = c.item(), total + w["contrastive"] * c
        if w["itm"] > 0:
            n = s.shape[0]
            masked = s.detach().clone()
            masked.fill_diagonal_(-float("inf"))
            hard_text = masked.argmax(1)   # per image, the most similar other caption
            hard_image = masked.argmax(0)  # per caption, the most similar other image
            rows_i = torch.cat([torch.arange(n), hard_image])
            rows_t = torch.cat([hard_text, torch.arange(n)])
            ni, nt = self.project(image[rows_i], text[rows_t])
            nmi = None if image_mask is None else image_mask[rows_i]
            nmt = None if text_mask is None else text_mask[rows_t]
            logits = torch.cat([self.match(pi, image_mask, pt, text_mask), self.match(ni, nmi, nt, nmt)])
            targets = torch.cat([torch.ones(n), torch.zeros(2 * n)])
            itm = F.binary_cross_entropy_with_logits(logits, targets)
            parts["itm"], total = itm.item(), total + w["itm"] * itm
        return total, parts


def text_to_image_scores(text, text_mask, query, key, value, image_mask, heads):
    """[Bi, Bt]: each text token's query attends over an image's keys (scaled dot product, `heads`
    heads) and gathers values; a pair scores the mean over real tokens of cos(gathered, token)."""
    bt, length, d = text.shape
    bi, n, _ = key.shape
    hd = d // heads
    q = query.reshape(bt * length, heads, hd)
    k = key.reshape(bi, n, heads, hd)
    v = value.reshape(bi, n, heads, hd)
    logits = torch.einsum("qhd,inhd->ihqn", q, k) / math.sqrt(hd)
    if image_mask is not None:
        logits = logits.masked_fill((image_mask == 0)[:, None, None, :], -float("inf"))
    gathered = torch.einsum("ihqn,inhd->iqhd", logits.softmax(-1), v).reshape(bi, bt * length, d)
    flat = F.normalize(text.reshape(1, bt * length, d), dim=-1, eps=1e-8)
    cos = (F.normalize(gathered, dim=-1, eps=1e-8) * flat).sum(-1)
    mask = torch.ones(bt, length) if text_mask is None else text_mask
    weights = (mask / mask.sum(1, keepdim=True).clamp_min(1)).reshape(1, bt * length)
    return (cos * weights).reshape(bi, bt, length).sum(-1)


class DecoupledHead(nn.Module):
    """Head 3: text queries attend to image features only."""

    def __init__(self, cfg, wi, wt):
        super().__init__()
        self.cfg = cfg
        d = cfg["dim"]
        self.image_projector = Projector(wi, d)
        self.text_projector = Projector(wt, d)
        self.query = nn.Linear(d, d)
        self.key = nn.Linear(d, d)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / cfg["loss"]["temperature"])))

    def scores(self, image, image_mask, text, text_mask):
        p = self.cfg["dropout"]
        v = F.dropout(self.image_projector(image), p, self.training)
        t = F.dropout(self.text_projector(text), p, self.training)
        return text_to_image_scores(t, text_mask, self.query(t), self.key(v), v, image_mask, 1)

    def loss(self, image, image_mask, text, text_mask):
        c = symmetric_contrastive(self.scores(image, image_mask, text, text_mask), self.logit_scale)
        return c, {"contrastive": c.item()}


class PyramidLevel(nn.Module):
    def __init__(self, wi, wt, d):
        super().__init__()
        self.image = nn.Sequential(nn.Linear(wi, d), nn.LayerNorm(d))
        self.text = nn.Sequential(nn.Linear(wt, d), nn.LayerNorm(d))


class PyramidHead(nn.Module):
    """Head 4: per level, projection to a common width, LayerNorm, text->image attention; learned level weights.
    `scores` takes lists of (features, mask), one entry per level."""

    def __init__(self, cfg, widths):
        super().__init__()
        self.cfg = cfg
        self.levels = nn.ModuleList([PyramidLevel(wi, wt, cfg["dim"]) for wi, wt in widths])
        self.level_logits = nn.Parameter(torch.zeros(len(widths)))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / cfg["loss"]["temperature"])))

    def scores(self, images, texts):
        p = self.cfg["dropout"]
        weights = self.level_logits.softmax(0)
        total = 0
        for k, (level, (image, image_mask), (text, text_mask)) in enumerate(zip(self.levels, images, texts)):
            v = F.dropout(level.image(image), p, self.training)
            t = F.dropout(level.text(text), p, self.training)
            total = total + weights[k] * text_to_image_scores(t, text_mask, t, v, v, image_mask, self.cfg["attention_heads"])
        return total

    def loss(self, images, texts):
        c = symmetric_contrastive(self.scores(images, texts), self.logit_scale)
        return c, {"contrastive": c.item()}


class ConcatMLPHead(nn.Module):
    """Head 5: MLP on [LayerNorm(pooled image), LayerNorm(pooled text)], every pair scored; the first
    Linear of the concatenation is stored as its image part (with the bias) and its text part."""

    def __init__(self, cfg, wi, wt):
        super().__init__()
        self.cfg = cfg
        h = cfg["hidden"]
        self.image_norm = nn.LayerNorm(wi)
        self.text_norm = nn.LayerNorm(wt)
        self.image_in = nn.Linear(wi, h)
        self.text_in = nn.Linear(wt, h, bias=False)
        self.hidden = nn.Linear(h, h)
        self.output = nn.Linear(h, 1)

    def scores(self, image, image_mask, text, text_mask):
        p = self.cfg["dropout"]
        a = self.image_in(self.image_norm(pooled(image, image_mask)))[:, None, :]
        b = self.text_in(self.text_norm(pooled(text, text_mask)))[None, :, :]
        x = F.dropout(F.relu(a + b), p, self.training)
        x = F.dropout(F.relu(self.hidden(x)), p, self.training)
        return self.output(x)[..., 0]

    def loss(self, image, image_mask, text, text_mask):
        s = self.scores(image, image_mask, text, text_mask)
        targets = torch.arange(s.shape[0])
        c = 0.5 * (F.cross_entropy(s, targets) + F.cross_entropy(s.t(), targets))
        return c, {"contrastive": c.item()}


def tokens(value):
    """A value as [tokens, width]: [C] -> 1 token, [C,H,W] -> H*W tokens, [L,H] as is."""
    if value.ndim == 1:
        return value[None, :]
    if value.ndim == 3:
        return value.reshape(value.shape[0], -1).T
    return value


class Features:
    """One column in memory: id -> [tokens, width] float32."""

    def __init__(self, cache, column, max_length=None):
        col = cache.columns[column]
        ids, values, lengths = cache.column_arrays(column)
        self.values = {}
        if col.variable:
            offsets = np.concatenate([[0], np.cumsum(lengths)])
            for k, i in enumerate(ids):
                v = values[offsets[k]:offsets[k + 1]]
                self.values[int(i)] = v[:max_length] if max_length else v
        else:
            for k, i in enumerate(ids):
                self.values[int(i)] = tokens(values[k])
        self.width = next(iter(self.values.values())).shape[-1]

    def batch(self, ids):
        rows = [self.values[int(i)] for i in ids]
        longest = max(r.shape[0] for r in rows)
        out = np.zeros((len(rows), longest, self.width), dtype=np.float32)
        mask = np.zeros((len(rows), longest), dtype=np.float32)
        for k, r in enumerate(rows):
            out[k, :r.shape[0]] = r
            mask[k, :r.shape[0]] = 1
        ragged = any(r.shape[0] != longest for r in rows)
        return torch.from_numpy(out), (torch.from_numpy(mask) if ragged else None)


def multiplier(step, warmup, total):
    if step < warmup:
        return step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    return max(0.0, 0.5 * (1 + math.cos(math.pi * progress)))


def ranks(scores, caption_image):
    """COCO ranks: best rank of any own caption per image; rank of the own image per caption (ties count against)."""
    images, captions = scores.shape
    own_t = scores[caption_image, np.arange(captions)]
    text_ranks = (scores >= own_t[None, :]).sum(0)  # includes the own image itself
    image_ranks = np.full(images, captions, dtype=np.int64)
    other = caption_image[None, :] != np.arange(images)[:, None]  # [images, captions]
    for t in range(captions):
        i = caption_image[t]
        above = int(((scores[i] >= scores[i, t]) & other[i]).sum())
        image_ranks[i] = min(image_ranks[i], above + 1)
    return image_ranks, text_ranks


def metrics(scores, caption_image, epoch):
    ir, tr = ranks(scores, caption_image)
    out = {"epoch": epoch}
    for k in (1, 5, 10):
        out[f"i2t_r{k}"] = 100.0 * float((ir <= k).mean())
        out[f"t2i_r{k}"] = 100.0 * float((tr <= k).mean())
    out["rsum"] = sum(out[f"{d}_r{k}"] for d in ("i2t", "t2i") for k in (1, 5, 10))
    out["i2t_mean_rank"], out["t2i_mean_rank"] = float(ir.mean()), float(tr.mean())
    return out


def train(cfg, head, data, plan, val):
    t = cfg["train"]
    decay = [p for p in head.parameters() if p.ndim >= 2]
    no_decay = [p for p in head.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": t["weight_decay"]},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=t["learning_rate"])
    image_col, text_col = data
    total_steps = sum(len(e) for e in plan["epochs"])
    step, seconds, best = 0, 0.0, None
    for epoch, batches in enumerate(plan["epochs"]):
        head.train()
        start = time.perf_counter()
        for batch in batches:
            image, image_mask = image_col.batch(batch["images"])
            text, text_mask = text_col.batch(batch["captions"])
            optimizer.zero_grad(set_to_none=False)
            loss, _ = head.loss(image, image_mask, text, text_mask)
            if not torch.isfinite(loss):
                raise RuntimeError(f"step {step}: loss {loss.item()}")
            loss.backward()
            if t["grad_clip"] > 0:
                torch.nn.utils.clip_grad_norm_(head.parameters(), t["grad_clip"])
            for group in optimizer.param_groups:
                group["lr"] = t["learning_rate"] * multiplier(step, t["warmup_steps"], total_steps)
            optimizer.step()
            with torch.no_grad():
                head.logit_scale.clamp_(0, math.log(100))
            step += 1
        seconds += time.perf_counter() - start
        m = evaluate(head, data, val, epoch)
        if best is None or m["rsum"] > best["rsum"]:
            best = m
    return best, step / seconds


@torch.no_grad()
def evaluate(head, data, val, epoch, block=256):
    head.eval()
    image_col, text_col = data
    images, captions = val["val_images"], val["val_captions"]
    scores = np.zeros((len(images), len(captions)), dtype=np.float32)
    for i0 in range(0, len(images), 128):
        image, image_mask = image_col.batch(images[i0:i0 + 128])
        for t0 in range(0, len(captions), block):
            text, text_mask = text_col.batch(captions[t0:t0 + block])
            scores[i0:i0 + 128, t0:t0 + block] = head.scores(image, image_mask, text, text_mask).numpy()
    return metrics(scores, np.array(val["val_caption_image"]), epoch)


def main():
    parser = argparse.ArgumentParser()
    for name in ("--cache", "--config", "--plan", "--initial"):
        parser.add_argument(name, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--extra-seeds", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with open(args.config) as f:
        cfg = yaml.safe_load(f)
    # Swift's YAML writes floats such as 1e+0, which YAML 1.1 (PyYAML) reads as strings.
    cfg["dropout"] = float(cfg["dropout"])
    for key in ("contrastive", "itm", "temperature"):
        cfg["loss"][key] = float(cfg["loss"][key])
    for key in ("learning_rate", "weight_decay", "grad_clip"):
        cfg["train"][key] = float(cfg["train"][key])
    with open(args.plan) as f:
        plan = json.load(f)
    cache = strata_cache.Cache(args.cache)
    max_length = cfg["train"]["max_text_length"]
    data = (Features(cache, cfg["image"]), Features(cache, cfg["text"], max_length))
    kinds = {"projector": ProjectorHead, "cross-attention": CrossAttentionHead}

    def make(seed):
        torch.manual_seed(seed)
        return kinds[cfg["kind"]](cfg, data[0].width, data[1].width)

    head = make(0)
    head.load_state_dict(load_file(args.initial), strict=True)
    best, speed = train(cfg, head, data, plan, plan)
    extras = []
    for seed in range(1, args.extra_seeds + 1):
        extra, _ = train(cfg, make(seed), data, plan, plan)
        extras.append(extra)
    r1 = [(m["i2t_r1"] + m["t2i_r1"]) / 2 for m in [best] + extras]
    spread = (max(r1) - min(r1)) / 2 if len(r1) > 1 else None
    print(json.dumps({"best": best, "steps_per_second": speed, "extra_seeds": extras, "seed_spread_r1": spread,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
