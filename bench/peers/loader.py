"""Peer of `bench/run loader`: a PyTorch DataLoader (2 workers) over strata_cache.PairDataset (py-lmdb +
numpy), one epoch of one random caption per image, default collate into float32 tensors.

usage: loader.py CACHE BATCH MAX_TEXT WORKERS   (prints one JSON line)
"""
import json
import os
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import strata_cache  # noqa: E402

IMAGE, TOKENS = "image/resnet50/c5", "text/bert/tokens"


def main():
    path, batch, max_text, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    dataset = strata_cache.PairDataset(path, split="train", image_columns=[IMAGE], text_columns=[TOKENS], max_text_length=max_text)
    rng = np.random.default_rng(1)
    starts = np.searchsorted(dataset.caption_image, np.arange(len(dataset.image_ids) + 1))
    indices = [int(rng.integers(starts[i], starts[i + 1])) for i in range(len(dataset.image_ids))]
    sampler = torch.utils.data.SubsetRandomSampler(indices, generator=torch.Generator().manual_seed(1))
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, sampler=sampler, num_workers=workers)
    out_bytes, pairs = 0, 0
    start = time.perf_counter()
    for item in loader:
        pairs += len(item["caption_id"])
        out_bytes += sum(v.numel() * v.element_size() for v in item.values() if v.dtype == torch.float32)
    seconds = time.perf_counter() - start
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) * 1024
    print(json.dumps({"gb_s": out_bytes / seconds / 1e9, "pairs_s": pairs / seconds, "peak_rss": peak, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
