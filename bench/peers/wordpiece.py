"""Peer of `strata-bench tokenize`: captions/s of Hugging Face tokenizers on one thread.

usage: wordpiece.py VOCAB_TXT CAPTIONS_TXT REPEATS
Encodes the captions (one per line) with BertWordPieceTokenizer.encode_batch, best of REPEATS runs,
and prints one JSON object: captions per second and the sum of all ids (to check both sides agree).
"""
import json
import os
import sys
import time

os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers.implementations import BertWordPieceTokenizer  # noqa: E402

vocab, captions_file, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(captions_file, encoding="utf-8") as f:
    captions = f.read().split("\n")[:-1]
tokenizer = BertWordPieceTokenizer(vocab, lowercase=True)
encodings = tokenizer.encode_batch(captions)  # warm-up
id_sum = sum(sum(e.ids) for e in encodings)
token_count = sum(len(e.ids) for e in encodings)
best = float("inf")
for _ in range(repeats):
    start = time.perf_counter()
    tokenizer.encode_batch(captions)
    best = min(best, time.perf_counter() - start)
print(json.dumps({"captions_per_second": len(captions) / best, "id_sum": id_sum, "tokens": token_count}))
