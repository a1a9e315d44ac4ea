#!/usr/bin/env python3
"""Peer for the "image" benchmark: Pillow + torchvision on one core.

    image.py time FILE...          decode + Resize(256) + CenterCrop(224) + ToTensor + Normalize;
                                   prints {"seconds_per_image": best of 3 passes}
    image.py make-large DIR N      writes N JPEGs of at least 2000 px (coco-mini photos upscaled 4x,
                                   quality 90) into DIR; prints {"files": [...]}
"""
import json
import os
import sys
import time

import torch
from PIL import Image
from torchvision import transforms as T

torch.set_num_threads(1)
SHARED = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))


def time_files(files):
    transform = T.Compose([
        T.Resize(256), T.CenterCrop(224), T.ToTensor(),
        T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ])

    def one_pass():
        for path in files:
            with Image.open(path) as im:
                transform(im.convert("RGB"))

    one_pass()
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        one_pass()
        best = min(best, time.perf_counter() - start)
    return {"seconds_per_image": best / len(files), "images": len(files)}


def make_large(directory, count):
    source = os.path.join(SHARED, "data", "coco-mini", "val2017")
    os.makedirs(directory, exist_ok=True)
    files = []
    for name in sorted(os.listdir(source))[:count]:
        with Image.open(os.path.join(source, name)) as im:
            rgb = im.convert("RGB")
            large = rgb.resize((rgb.width * 4, rgb.height * 4), Image.BICUBIC)
            path = os.path.join(directory, name)
            large.save(path, quality=90)
            files.append(path)
    return {"files": files}


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "time":
        print(json.dumps(time_files(sys.argv[2:])))
    elif command == "make-large":
        print(json.dumps(make_large(sys.argv[2], int(sys.argv[3]))))
    else:
        sys.exit(f"unknown command {command}")
