"""Checks of the strata_cache package against caches Strata wrote, without torch (CI runs this with the
system python3 from Tests/StrataCacheTests/ExternalReaderTests.swift).

usage: check_package.py CACHE OTHER_CACHE    (two synthetic caches: SyntheticCache, 3 and 2 batches of 5)
"""
import os
import pickle
import signal
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # the package beside, if not installed
import strata_cache  # noqa: E402

IMAGE, TOKENS, IDS = "image/synthetic/f16", "text/synthetic/tokens", "text/synthetic/ids"


def expected_item(cache, dataset, index):
    caption = int(dataset.caption_ids[index])
    image = int(dataset.image_ids[dataset.caption_image[index]])
    tokens = cache.get(TOKENS, caption)
    padded = np.zeros((dataset.max_text_length, 3), dtype=np.float32)
    n = min(len(tokens), dataset.max_text_length)
    padded[:n] = tokens[:n]
    mask = (np.arange(dataset.max_text_length) < n).astype(np.float32)
    return image, caption, cache.get(IMAGE, image), padded, mask


def check_item(cache, dataset, index, item):
    image, caption, pixels, padded, mask = expected_item(cache, dataset, index)
    assert item["image_id"] == image and item["caption_id"] == caption, (index, item["image_id"], item["caption_id"])
    assert item[IMAGE].dtype == np.float32 and np.array_equal(item[IMAGE], pixels), index
    assert np.array_equal(item[TOKENS], padded), index
    assert np.array_equal(item[TOKENS + ":mask"], mask), index
    assert dataset.image_ids[item["image_index"]] == image


def forked_workers(dataset, count):
    """Items of `dataset` read by `count` processes forked as a DataLoader forks its workers (worker w
    reads the indices w, w + count, ...), returned in index order. A worker that fails or dies fails
    the check with its exit status."""
    workers = []
    for worker in range(count):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            status = 0
            try:
                items = {i: dataset[i] for i in range(worker, len(dataset), count)}
                payload = pickle.dumps(items)
            except BaseException as error:  # reported to the parent, which fails the check
                payload, status = pickle.dumps(repr(error)), 1
            with os.fdopen(write, "wb") as out:
                out.write(payload)
            os._exit(status)
        os.close(write)
        workers.append((pid, read))
    items = {}
    for pid, read in workers:
        with os.fdopen(read, "rb") as source:
            payload = source.read()
        _, status = os.waitpid(pid, 0)
        result = pickle.loads(payload) if payload else None
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"worker {pid} ended with status {status}: {result}"
        items.update(result)
    return [items[i] for i in range(len(dataset))]


def main(argv):
    signal.alarm(300)  # a hung worker fails the check (SIGALRM) instead of hanging the test run
    path, other = argv[1], argv[2]
    cache = strata_cache.Cache(path)
    # Cache walks every B-tree page of data.mdb before LMDB reads it; Strata's caches are sound.
    for sound in (path, other):
        problem = strata_cache.pagewalk.first_problem(sound)
        assert problem is None, problem
    assert strata_cache.Cache(path, check_structure=False).manifest == cache.manifest
    # The split filter: SyntheticCache puts image id i in split i % 5 (1 = train), one caption each.
    dataset = strata_cache.PairDataset(path, split="train", image_columns=[IMAGE], text_columns=[TOKENS], max_text_length=3)
    train = [i for i in range(1, 16) if i % 5 == 1]
    assert list(dataset.image_ids) == train, dataset.image_ids
    assert len(dataset) == len(train)
    for index in range(len(dataset)):
        check_item(cache, dataset, index, dataset[index])
    assert dataset[-1]["caption_id"] == dataset[len(dataset) - 1]["caption_id"]
    try:
        dataset[len(dataset)]
        raise AssertionError("no IndexError past the end")
    except IndexError:
        pass
    val = strata_cache.PairDataset(path, split="val", image_columns=[IMAGE], text_columns=[IDS])
    assert list(val.image_ids) == [i for i in range(1, 16) if i % 5 == 2]
    assert val[0][IDS].dtype == np.int32 and val[0][IDS].shape == (64,)
    # A column without values leaves every image out; unknown columns and wrong modalities are errors.
    assert len(strata_cache.PairDataset(path, split="train", image_columns=["image/synthetic/unused"])) == 0
    for bad in ([TOKENS], ["nope"]):
        try:
            strata_cache.PairDataset(path, image_columns=bad)
            raise AssertionError(f"accepted image columns {bad}")
        except (KeyError, ValueError):
            pass

    # Workers: forked after the parent read (each reopens the environment), and a pickled copy (spawn).
    val = strata_cache.PairDataset(path, split="val", image_columns=[IMAGE], text_columns=[TOKENS], max_text_length=4)
    parent = [val[i] for i in range(len(val))]
    forked = forked_workers(val, 2)
    copy = pickle.loads(pickle.dumps(val))
    for index, (a, b) in enumerate(zip(parent, forked)):
        for name in (IMAGE, TOKENS, TOKENS + ":mask"):
            assert np.array_equal(a[name], b[name]) and np.array_equal(a[name], copy[index][name]), (index, name)
        check_item(cache, val, index, a)

    # Two caches in one process, read in turn.
    second = strata_cache.PairDataset(other, split="train", image_columns=[IMAGE], text_columns=[TOKENS], max_text_length=3)
    other_cache = strata_cache.Cache(other)
    for index in range(len(second)):
        check_item(other_cache, second, index, second[index])
        check_item(cache, dataset, index % len(dataset), dataset[index % len(dataset)])
    print("package checks passed:", len(dataset), "train pairs,", len(val), "val pairs,", len(second), "pairs of the second cache")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
