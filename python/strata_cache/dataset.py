"""A map-style dataset of a cache's image-caption pairs, for `torch.utils.data.DataLoader`.

Item `i` is the `i`-th caption of the split with its image. Values are numpy arrays (float32 for f16,
bf16 and f32 columns, int32 for i32 ones), which the default collate turns into tensors. The LMDB
environment is opened lazily in each process, so the dataset is safe with `num_workers > 0`.
"""
import struct

import numpy as np

from .cache import Cache, key, sample_id, widen

SPLIT_CODES = {"unassigned": 0, "train": 1, "val": 2, "test": 3, "restval": 4}


class PairDataset:
    """The captions of one split paired with their images, reading only the chosen columns.

    Each item is a dict: `image_id`, `caption_id`, `image_index` (the image's position in
    `image_ids`, for retrieval metrics), and one array per column under its name: image columns with
    their stored per-sample shape (`[C, H, W]`, `[C]`); text columns likewise, except that
    variable-length ones (`[n, W]`) are cut or zero-padded to `max_text_length` tokens, with a float32
    mask `[max_text_length]` under `<name>:mask` (1 at real tokens). Images or captions missing a value
    in a chosen column are left out, as Strata's own loader does. The cache's pages are walked once,
    when the dataset is made (`Cache`'s `check_structure`), not again in each worker.
    """

    def __init__(self, path, split="train", image_columns=(), text_columns=(), max_text_length=64, check_structure=True):
        if split not in SPLIT_CODES:
            raise ValueError(f"unknown split '{split}' ({', '.join(SPLIT_CODES)})")
        self.path = path
        self.split = split
        self.image_columns = list(dict.fromkeys(image_columns))
        self.text_columns = list(dict.fromkeys(text_columns))
        self.max_text_length = int(max_text_length)
        self.cache = Cache(path, check_structure=check_structure)
        for name, modality in [(n, "image") for n in self.image_columns] + [(n, "text") for n in self.text_columns]:
            column = self.cache.columns.get(name)
            if column is None:
                raise KeyError(f"{path}: no column named '{name}' in the manifest")
            if column.modality != modality:
                raise ValueError(f"{path}: column '{name}' holds {column.modality} features, not {modality} features")
        self.image_ids, self.caption_ids, self.caption_image = self._index()

    def _index(self):
        env = self.cache.env
        code = SPLIT_CODES[self.split]
        images, captions = self.cache._db("images"), self.cache._db("captions")
        image_dbs = [self.cache._db(n) for n in self.image_columns]
        text_dbs = [self.cache._db(n) for n in self.text_columns]
        with env.begin(buffers=True) as txn:
            kept = []
            for k, v in txn.cursor(db=images):
                if v[8] == code:
                    kb = bytes(k)
                    if all(txn.get(kb, db=db) is not None for db in image_dbs):
                        kept.append(sample_id(kb))
            position = {image: i for i, image in enumerate(kept)}
            by_image = [[] for _ in kept]
            for k, v in txn.cursor(db=captions):
                index = position.get(struct.unpack_from("<Q", v, 0)[0])
                if index is not None:
                    kb = bytes(k)
                    if all(txn.get(kb, db=db) is not None for db in text_dbs):
                        by_image[index].append(sample_id(kb))
        image_ids, caption_ids, caption_image = [], [], []
        for image, found in zip(kept, by_image):
            if found:
                caption_ids += found
                caption_image += [len(image_ids)] * len(found)
                image_ids.append(image)
        return (np.array(image_ids, dtype=np.uint64), np.array(caption_ids, dtype=np.uint64),
                np.array(caption_image, dtype=np.int64))

    def __len__(self):
        return len(self.caption_ids)

    def _value(self, txn, dbs, name, sample):
        raw = txn.get(key(sample), db=dbs[name])
        if raw is None:
            raise KeyError(f"{self.path}: column '{name}' has no value for sample {sample}")
        column = self.cache.columns[name]
        return widen(raw, column.dtype).reshape(column.sample_shape(len(raw))), column

    def __getitem__(self, index):
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        caption = int(self.caption_ids[index])
        image_index = int(self.caption_image[index])
        image = int(self.image_ids[image_index])
        item = {"image_id": image, "caption_id": caption, "image_index": image_index}
        # Handles first: a database opened after a transaction began is unknown to that transaction.
        dbs = {name: self.cache._db(name) for name in self.image_columns + self.text_columns}
        with self.cache.env.begin(buffers=True) as txn:
            for name in self.image_columns:
                item[name] = self._value(txn, dbs, name, image)[0]
            for name in self.text_columns:
                value, column = self._value(txn, dbs, name, caption)
                if column.variable:
                    n = min(len(value), self.max_text_length)
                    padded = np.zeros([self.max_text_length] + column.fixed_shape, dtype=value.dtype)
                    padded[:n] = value[:n]
                    mask = np.zeros(self.max_text_length, dtype=np.float32)
                    mask[:n] = 1
                    item[name], item[name + ":mask"] = padded, mask
                else:
                    item[name] = value
        return item
