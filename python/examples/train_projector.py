"""Trains a projector head in PyTorch from a Strata cache through `strata_cache.PairDataset`, and prints
its validation Recall@K and the pairs/s the DataLoader delivered. The README's PyTorch example, runnable.

    python python/examples/train_projector.py demo-cache    # after `make demo` (EfficientNet-Lite0 + MiniLM)

Options: --image COLUMN --text COLUMN (defaults: the demo's pooled columns), --epochs N, --workers N.
Needs torch besides the package's numpy and lmdb.
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # the package beside, if not installed
import strata_cache  # noqa: E402


def embed_split(dataset, image_proj, text_proj, image_column, text_column):
    """Normalized embeddings of a split's images (one per image) and captions, and each caption's image."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=256)
    images, texts, owners = {}, [], []
    with torch.no_grad():
        for batch in loader:
            for index, value in zip(batch["image_index"].tolist(), batch[image_column]):
                images.setdefault(index, value)
            texts.append(batch[text_column])
            owners.append(batch["image_index"])
    order = sorted(images)
    image = F.normalize(image_proj(torch.stack([images[i] for i in order])), dim=-1)
    text = F.normalize(text_proj(torch.cat(texts)), dim=-1)
    position = {index: row for row, index in enumerate(order)}
    return image, text, torch.tensor([position[i] for i in torch.cat(owners).tolist()])


def recall(image, text, owner, ks=(1, 5, 10)):
    """Image-to-text (any of an image's captions) and text-to-image Recall@K, in percent."""
    scores = image @ text.T
    i2t_rank = torch.empty(len(image))
    for row in range(len(image)):
        ranked = scores[row].argsort(descending=True)
        i2t_rank[row] = (owner[ranked] == row).nonzero()[0, 0]
    t2i_rank = (scores.T.argsort(dim=1, descending=True) == owner[:, None]).float().argmax(dim=1)
    return ({k: 100 * (i2t_rank < k).float().mean().item() for k in ks},
            {k: 100 * (t2i_rank < k).float().mean().item() for k in ks})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cache")
    parser.add_argument("--image", default="image/efficientnet_lite0/pooled")
    parser.add_argument("--text", default="text/bert/mean")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    train = strata_cache.PairDataset(args.cache, split="train", image_columns=[args.image], text_columns=[args.text])
    val = strata_cache.PairDataset(args.cache, split="val", image_columns=[args.image], text_columns=[args.text])
    image_width = train.cache.columns[args.image].fixed_shape[-1]
    text_width = train.cache.columns[args.text].fixed_shape[-1]
    image_proj, text_proj = torch.nn.Linear(image_width, 256), torch.nn.Linear(text_width, 256)
    temperature = torch.nn.Parameter(torch.tensor(0.07).log())
    optimizer = torch.optim.AdamW([*image_proj.parameters(), *text_proj.parameters(), temperature], lr=1e-3)
    loader = torch.utils.data.DataLoader(train, batch_size=32, shuffle=True, drop_last=True,
                                         num_workers=args.workers, persistent_workers=args.workers > 0)
    best, pairs, seconds = None, 0, 0.0
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        for batch in loader:
            image = F.normalize(image_proj(batch[args.image]), dim=-1)
            text = F.normalize(text_proj(batch[args.text]), dim=-1)
            logits = image @ text.T / temperature.exp()
            target = torch.arange(len(logits))
            loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            pairs += len(target)
        seconds += time.perf_counter() - start
        i2t, t2i = recall(*embed_split(val, image_proj, text_proj, args.image, args.text))
        rsum = sum(i2t.values()) + sum(t2i.values())
        if best is None or rsum > best[0]:
            best = (rsum, epoch, i2t, t2i)
    rsum, epoch, i2t, t2i = best
    print(f"{len(train)} train pairs, {len(val)} val captions of {len(val.image_ids)} images; "
          f"{args.epochs} epochs at {pairs / seconds:.0f} pairs/s (training included, {args.workers} workers)")
    print(f"best epoch {epoch}: i2t R@1 {i2t[1]:.1f} R@5 {i2t[5]:.1f} R@10 {i2t[10]:.1f} · "
          f"t2i R@1 {t2i[1]:.1f} R@5 {t2i[5]:.1f} R@10 {t2i[10]:.1f} · rsum {rsum:.1f}")


if __name__ == "__main__":
    main()
