"""Reads a Strata feature cache with `lmdb` and `numpy` only (layout: schemas/cache-layout.md).

    import strata_cache
    cache = strata_cache.Cache("path/to/cache")
    cache.columns                      # the manifest's catalog
    cache.get("image/resnet50/pool", 139)   # one sample, float32 for f16/bf16 columns
    ids, values, lengths = cache.column_arrays("text/bert/layer12")
    cache.verify()                     # [] when every checksum and size is right

`python3 -m strata_cache CACHE` prints the manifest's columns with their counts;
`python3 -m strata_cache to-parquet DIR` turns the metadata tables of `strata export --to DIR/`
into metadata_N.parquet (needs pyarrow).
"""
import json
import os
import struct
import sys
import zlib

import lmdb
import numpy as np

from . import pagewalk

FORMAT_VERSION = 1
CHECKSUM_SUFFIX = "#crc"
SPLITS = {0: "unassigned", 1: "train", 2: "val", 3: "test", 4: "restval"}
NUMPY_DTYPES = {"f32": np.dtype("<f4"), "f16": np.dtype("<f2"), "bf16": np.dtype("<u2"), "i32": np.dtype("<i4")}
ITEM_SIZES = {"f32": 4, "f16": 2, "bf16": 2, "i32": 4}


def key(sample_id):
    """The LMDB key of a sample id: 8 bytes, big-endian."""
    return struct.pack(">Q", sample_id)


def sample_id(key_bytes):
    return struct.unpack(">Q", bytes(key_bytes))[0]


def widen(raw, dtype):
    """Stored little-endian bytes as a numpy array: f16 and bf16 become float32, f32/i32 stay."""
    array = np.frombuffer(raw, dtype=NUMPY_DTYPES[dtype])
    if dtype == "bf16":
        return (array.astype(np.uint32) << 16).view(np.float32)
    if dtype == "f16":
        return array.astype(np.float32)
    return array.copy()


class Column:
    """One entry of the manifest's catalog."""

    def __init__(self, entry):
        self.entry = entry
        self.name = entry["name"]
        self.modality = entry["modality"]
        self.dtype = entry["dtype"]
        self.shape = entry["shape"]          # a leading None means variable length
        self.count = entry["count"]
        self.variable = len(self.shape) > 0 and self.shape[0] is None
        self.fixed_shape = [d for d in self.shape if d is not None]
        self.row_bytes = int(np.prod(self.fixed_shape, dtype=np.int64)) * ITEM_SIZES[self.dtype]

    def sample_shape(self, nbytes):
        if self.variable:
            if self.row_bytes == 0:
                if nbytes != 0:
                    raise ValueError(f"{self.name}: {nbytes} bytes for zero-sized rows")
                return [0] + self.fixed_shape
            if nbytes % self.row_bytes:
                raise ValueError(f"{self.name}: {nbytes} bytes is not a multiple of {self.row_bytes}")
            return [nbytes // self.row_bytes] + self.fixed_shape
        if nbytes != self.row_bytes:
            raise ValueError(f"{self.name}: {nbytes} bytes, expected {self.row_bytes}")
        return list(self.fixed_shape)

    def __repr__(self):
        shape = ", ".join("n" if d is None else str(d) for d in self.shape)
        return f"Column({self.name}, {self.modality}, {self.dtype} [{shape}], {self.count} samples)"


def check_data_file(path):
    """Refuses a damaged `data.mdb` before LMDB maps it (LMDB would die of SIGBUS reading past the end
    of a truncated file): both meta pages must be LMDB 0.9 meta pages, and the newer one's pages and
    roots must lie inside the file (`pagewalk.DataFile`)."""
    with pagewalk.DataFile(pagewalk.data_file_name(path)) as data:
        data.check_bounds(data.current)


class _Opened:
    """An environment opened by this process, with the database handles opened in it."""

    def __init__(self, env):
        self.env = env
        self.dbs = {}


_OPENED = {}


def _opened(path):
    real = os.path.realpath(path)
    entry = _OPENED.get(real)
    if entry is not None and entry[0] == os.getpid():
        return entry[1]
    check_data_file(real)
    try:
        # With the lock file, a writer running at the same time never reuses pages this reader sees.
        env = lmdb.open(real, readonly=True, max_dbs=512, subdir=True)
    except lmdb.Error:
        # A cache on read-only media: nobody can be writing it.
        env = lmdb.open(real, readonly=True, lock=False, max_dbs=512, subdir=True)
    opened = _Opened(env)
    _OPENED[real] = (os.getpid(), opened)
    return opened


def environment(path):
    """The read-only LMDB environment of `path` for this process, opened on first use.

    LMDB allows one environment per file and process, and none may be used across `fork()`: readers of
    the same cache in one process share it, and every process opens its own. Environments are closed
    before this process forks (they reopen on next use), so a forked child such as a DataLoader worker
    never inherits one and opens its own.
    """
    return _opened(path).env


def _close_before_fork():
    for pid, opened in list(_OPENED.values()):
        if pid == os.getpid():
            opened.env.close()
    _OPENED.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_close_before_fork)


class Cache:
    """A read-only view of a cache directory. Safe to pickle: a copy in another process opens the
    environment again there."""

    def __init__(self, path, check_structure=True):
        """Opens the cache at `path`. With `check_structure` (the default), every B-tree page of its
        `data.mdb` is walked first without LMDB (`pagewalk`), so that a damaged tree is refused with a
        `ValueError` naming the file, the page and the reason instead of crashing or hanging this
        process when LMDB reads it; opening reads no tree page, and the read transaction held during
        the walk keeps a writer from reusing the pages being walked."""
        self.path = path
        if check_structure:
            with self.env.begin() as txn:
                transaction = txn.id() if hasattr(txn, "id") else None
                pagewalk.check_structure(os.path.realpath(path), transaction)
        meta = self._db("meta")
        with self.env.begin() as txn:
            raw = txn.get(b"manifest", db=meta)
        if raw is None:
            raise ValueError(f"{path}: no manifest in the 'meta' table")
        with self.env.begin() as txn:
            stored = txn.get(b"manifest#crc", db=meta)
        if stored is not None and struct.unpack("<I", bytes(stored))[0] != zlib.crc32(bytes(raw)):
            raise ValueError(f"{path}: the manifest does not match its stored CRC-32 (edited or damaged)")
        self.manifest = json.loads(bytes(raw))
        if self.manifest["formatVersion"] != FORMAT_VERSION:
            raise ValueError(f"{path}: format version {self.manifest['formatVersion']}, this reader reads {FORMAT_VERSION}")
        self.columns = {entry["name"]: Column(entry) for entry in self.manifest["columns"]}

    @property
    def env(self):
        """This process's environment of the cache (opened on first use, again after a fork)."""
        return environment(self.path)

    def _db(self, name):
        opened = _opened(self.path)
        db = opened.dbs.get(name)
        if db is None:
            db = opened.dbs[name] = opened.env.open_db(name.encode(), create=False)
        return db

    def close(self):
        """Closes the environment for every reader of this cache in this process (reopened on next use)."""
        entry = _OPENED.pop(os.path.realpath(self.path), None)
        if entry is not None and entry[0] == os.getpid():
            entry[1].env.close()

    def ids(self, column):
        """The sample ids of a column, ascending, as uint64."""
        with self.env.begin(db=self._db(column)) as txn:
            return np.array([sample_id(k) for k in txn.cursor().iternext(keys=True, values=False)], dtype=np.uint64)

    def get(self, column, sample):
        """One sample's value with its per-sample shape (float32 for f16/bf16), or None."""
        col = self.columns[column]
        with self.env.begin(db=self._db(column), buffers=True) as txn:
            raw = txn.get(key(sample))
            if raw is None:
                return None
            return widen(raw, col.dtype).reshape(col.sample_shape(len(raw)))

    def column_arrays(self, column):
        """(ids, values, lengths): values stacked [N, ...] (variable-length columns concatenated
        [sum(lengths), ...]); lengths is None for fixed-shape columns. f16/bf16 become float32."""
        col = self.columns[column]
        ids, chunks, lengths = [], [], []
        with self.env.begin(db=self._db(column), buffers=True) as txn:
            for k, v in txn.cursor():
                shape = col.sample_shape(len(v))
                ids.append(sample_id(k))
                chunks.append(bytes(v))
                if col.variable:
                    lengths.append(shape[0])
        leading = sum(lengths) if col.variable else len(ids)
        values = widen(b"".join(chunks), col.dtype).reshape([leading] + col.fixed_shape)
        return np.array(ids, dtype=np.uint64), values, (np.array(lengths, dtype=np.int64) if col.variable else None)

    def image(self, image_id):
        """The `images` record: dict with width, height, split, file_name; or None."""
        with self.env.begin(db=self._db("images"), buffers=True) as txn:
            raw = txn.get(key(image_id))
            if raw is None:
                return None
            raw = bytes(raw)
            width, height, split, _, n = struct.unpack_from("<IIBBH", raw, 0)
            return {"width": width, "height": height, "split": SPLITS.get(split, split),
                    "file_name": raw[12:12 + n].decode("utf-8")}

    def caption(self, caption_id):
        """The `captions` record: dict with image_id, token_ids, text; or None."""
        with self.env.begin(db=self._db("captions"), buffers=True) as txn:
            raw = txn.get(key(caption_id))
            if raw is None:
                return None
            raw = bytes(raw)
            image_id, t, n = struct.unpack_from("<QII", raw, 0)
            tokens = np.frombuffer(raw, dtype="<i4", count=t, offset=16).copy()
            return {"image_id": image_id, "token_ids": tokens, "text": raw[16 + 4 * t:16 + 4 * t + n].decode("utf-8")}

    def failures(self):
        """[(modality, id, reason)] for every input that could not be processed."""
        result = []
        with self.env.begin(db=self._db("failures")) as txn:
            for k, v in txn.cursor():
                modality = "image" if k[0] == 0 else "text"
                result.append((modality, struct.unpack(">Q", k[1:9])[0], bytes(v).decode("utf-8")))
        return result

    def verify(self):
        """Problems found by recomputing every value's CRC-32 (zlib.crc32) and checking its size."""
        problems = []
        tables = [(name, None) for name in ("images", "captions")] + [(c.name, c) for c in self.columns.values()]
        for name, col in tables:
            values, sums = self._db(name), self._db(name + CHECKSUM_SUFFIX)
            with self.env.begin(buffers=True) as txn:
                for k, v in txn.cursor(db=values):
                    stored = txn.get(bytes(k), db=sums)
                    if stored is None or struct.unpack("<I", bytes(stored))[0] != zlib.crc32(v):
                        problems.append(f"{name} [{sample_id(k)}]: checksum mismatch")
                    if col is not None:
                        try:
                            col.sample_shape(len(v))
                        except ValueError as error:
                            problems.append(str(error))
        return problems


# The metadata tables `strata export --column C --to DIR/` writes beside each embedding shard
# (DIR/metadata/metadata_N.jsonl, one JSON object per embedding row), with their Arrow types.
METADATA_FIELDS = (("id", "uint64"), ("image_id", "uint64"), ("file_name", "string"),
                   ("split", "string"), ("caption_id", "uint64"), ("caption", "string"))


def read_metadata_jsonl(path):
    """The rows of one metadata_N.jsonl table as columns: {field: [value per row]}, in row order."""
    columns = {name: [] for name, _ in METADATA_FIELDS}
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            missing = [name for name in columns if name not in row]
            if missing:
                raise ValueError(f"{path}:{number}: no {', '.join(missing)}")
            for name, values in columns.items():
                values.append(row[name])
    return columns


def metadata_to_parquet(jsonl_path, parquet_path=None):
    """Writes metadata_N.parquet beside metadata_N.jsonl (or to parquet_path) and returns its path.

    Needs pyarrow (`pip install pyarrow`); the rest of this module does not."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as error:
        raise ImportError("metadata_to_parquet needs pyarrow: pip install pyarrow") from error
    schema = pyarrow.schema([(name, getattr(pyarrow, kind)()) for name, kind in METADATA_FIELDS])
    table = pyarrow.Table.from_pydict(read_metadata_jsonl(jsonl_path), schema=schema)
    parquet_path = parquet_path or os.path.splitext(jsonl_path)[0] + ".parquet"
    pyarrow.parquet.write_table(table, parquet_path)
    return parquet_path


def main(argv):
    if len(argv) == 3 and argv[1] == "to-parquet":
        folder = os.path.join(argv[2], "metadata")
        for name in sorted(os.listdir(folder)):
            if name.startswith("metadata_") and name.endswith(".jsonl"):
                print(metadata_to_parquet(os.path.join(folder, name)))
        return 0
    if len(argv) != 2:
        print("usage: python3 -m strata_cache CACHE | python3 -m strata_cache to-parquet EXPORT_DIR", file=sys.stderr)
        return 2
    cache = Cache(argv[1])
    counts = cache.manifest["counts"]
    print(f"{argv[1]}: format {cache.manifest['formatVersion']}, {counts['images']} images, "
          f"{counts['captions']} captions, {counts['failures']} failures")
    for column in cache.columns.values():
        shape = ", ".join("n" if d is None else str(d) for d in column.shape)
        print(f"{column.name}\t{column.modality}\t{column.dtype}\t[{shape}]\t{column.count}")
    return 0


def cli():
    """Entry point of the `strata-cache` command."""
    sys.exit(main(sys.argv))
