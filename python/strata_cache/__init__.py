"""Strata feature caches from Python, with `lmdb` and `numpy` only (layout: schemas/cache-layout.md).

    import strata_cache
    cache = strata_cache.Cache("path/to/cache")
    cache.get("image/resnet50/pooled", 139)      # one sample, float32 for f16/bf16 columns
    pairs = strata_cache.PairDataset("path/to/cache", split="train",
                                     image_columns=["image/resnet50/c5"], text_columns=["text/bert/tokens"])
    torch.utils.data.DataLoader(pairs, batch_size=128, shuffle=True, num_workers=2)

`Cache` walks the B-tree pages of the cache's LMDB file first (`pagewalk`): a damaged file is refused
with a ValueError naming the file, the page and the reason, instead of crashing the process in LMDB.
"""
from .cache import METADATA_FIELDS, Cache, Column, key, metadata_to_parquet, read_metadata_jsonl, sample_id, widen
from .dataset import PairDataset

__all__ = ["METADATA_FIELDS", "Cache", "Column", "PairDataset", "key", "metadata_to_parquet", "read_metadata_jsonl",
           "sample_id", "widen"]
