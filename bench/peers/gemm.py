#!/usr/bin/env python3
"""Peer for `bench/run gemm`: torch.matmul GFLOP/s and torch conv2d milliseconds on the same shapes.

Usage: gemm.py SPEC_JSON, where SPEC_JSON is
  {"threads": [1, 2], "seconds": 0.25,
   "gemm": [{"name": ..., "m": M, "n": N, "k": K, "transB": bool, "batch": B}, ...],
   "conv": [{"name": ..., "input": [N, C, H, W], "weight": [O, C, kh, kw], "stride": s, "padding": p}, ...]}
Prints one JSON object: {"gemm": {"name@threads": gflops}, "conv": {"name@threads": ms}}.
"""
import json
import sys
import time

import torch
import torch.nn.functional as F


def best_seconds(fn, budget, thread_time):
    """Best of repeated runs; in CPU time of this thread when thread_time (torch at 1 thread runs here)."""
    clock = time.thread_time if thread_time else time.perf_counter
    fn()
    best, spent, runs = float("inf"), 0.0, 0
    while spent < budget or runs < 3:
        start = clock()
        fn()
        took = clock() - start
        best, spent, runs = min(best, took), spent + took, runs + 1
    return best


def main():
    spec = json.loads(sys.argv[1])
    budget = spec.get("seconds", 0.25)
    gemm, conv = {}, {}
    torch.manual_seed(0)
    with torch.inference_mode():
        for threads in spec["threads"]:
            torch.set_num_threads(threads)
            for case in spec.get("gemm", []):
                b, m, n, k = case.get("batch", 1), case["m"], case["n"], case["k"]
                a = torch.randn(b, m, k) if b > 1 else torch.randn(m, k)
                w = torch.randn(*(([b] if b > 1 else []) + ([n, k] if case["transB"] else [k, n])))
                rhs = w.transpose(-1, -2) if case["transB"] else w
                out = torch.empty(*(([b] if b > 1 else []) + [m, n]))
                seconds = best_seconds(lambda: torch.matmul(a, rhs, out=out), budget, threads == 1)
                gemm[f"{case['name']}@{threads}"] = 2.0 * b * m * n * k / seconds / 1e9
            for case in spec.get("conv", []):
                x, w = torch.randn(*case["input"]), torch.randn(*case["weight"])
                bias = torch.randn(case["weight"][0])
                seconds = best_seconds(
                    lambda: F.conv2d(x, w, bias, stride=case["stride"], padding=case["padding"]).relu_(), budget,
                    threads == 1)
                conv[f"{case['name']}@{threads}"] = seconds * 1e3
    print(json.dumps({"gemm": gemm, "conv": conv, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
