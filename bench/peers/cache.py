"""Peer of `bench/run cache`: py-lmdb writing the same values as Strata, and a py-lmdb + numpy loader.

usage: cache.py STRATA_CACHE PEER_DIR WRITE_BATCH LOAD_BATCH   (prints one JSON line)
"""
import json
import struct
import sys
import time

import lmdb
import numpy as np

COLUMNS = [("image/resnet50/pool", 2048), ("text/bert/pooled", 768)]


def main():
    source, peer_dir, write_batch, load_batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    src = lmdb.open(source, readonly=True, max_dbs=512)
    values = {}
    with src.begin() as txn:
        for name, _ in COLUMNS:
            values[name] = list(txn.cursor(db=src.open_db(name.encode(), txn=txn, create=False)))
    total = sum(len(v) for items in values.values() for _, v in items)
    n = len(values[COLUMNS[0][0]])

    # Write: the same keys and values, same batch size, appended in key order, map large enough upfront.
    start = time.perf_counter()
    env = lmdb.open(peer_dir, map_size=4 << 30, max_dbs=8)
    dbs = {name: env.open_db(name.encode()) for name, _ in COLUMNS}
    for lo in range(0, n, write_batch):
        with env.begin(write=True) as txn:
            for name, _ in COLUMNS:
                db = dbs[name]
                for key, value in values[name][lo:lo + write_batch]:
                    txn.put(key, value, db=db, append=True)
    env.sync(True)
    write_seconds = time.perf_counter() - start
    env.close()
    del values

    # Load: shuffled batches of both columns, f16 -> contiguous f32, one read transaction per batch.
    dbs = {name: src.open_db(name.encode(), create=False) for name, _ in COLUMNS}
    ids = np.arange(1, n + 1, dtype=np.uint64)

    def epoch(seed):
        order = np.random.default_rng(seed).permutation(ids)
        count, out_bytes = 0, 0
        for lo in range(0, n, load_batch):
            keys = [struct.pack(">Q", int(i)) for i in order[lo:lo + load_batch]]
            with src.begin(buffers=True) as txn:
                for name, width in COLUMNS:
                    db = dbs[name]
                    batch = np.empty((len(keys), width), dtype=np.float32)
                    for row, key in enumerate(keys):
                        batch[row] = np.frombuffer(txn.get(key, db=db), dtype="<f2")
                    out_bytes += batch.nbytes
            count += 1
        return count, out_bytes

    epoch(0)
    start, cpu_start = time.perf_counter(), time.process_time()
    count, out_bytes = epoch(1)
    load_seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    print(json.dumps({
        "write_mb_s": total / write_seconds / 1e6,
        "loader_batches_s": count / load_seconds,
        "loader_gb_s": out_bytes / load_seconds / 1e9,
        "loader_gb_per_cpu_s": out_bytes / cpu_seconds / 1e9,
    }))


if __name__ == "__main__":
    main()
