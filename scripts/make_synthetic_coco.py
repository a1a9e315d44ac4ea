#!/usr/bin/env python3
"""Writes a synthetic COCO-format captions dataset for scale tests and benchmarks (not a test fixture).

    python scripts/make_synthetic_coco.py OUT --images 5000 [--seed 0] [--split train2017] [--quality 90]

OUT gets `annotations/captions_<split>.json` and `<split>/<id>.jpg`, laid out like COCO so a pipeline
reads it as it reads COCO. What is modelled on COCO train2017 (118,287 images, 591,753 captions):

- image sizes: the longer side is 640 for ~97% of images (else 320..639), and the aspect ratio is drawn
  from COCO's common shapes (4:3 landscape ~48%, 3:2 ~18%, 3:4 portrait ~14%, 2:3 ~7%, square ~4%,
  the rest 0.5..2.2), which gives COCO's mean size of ~578 x 484 pixels;
- image content: a smooth random scene (a coarse random colour grid resized bicubically) with sensor-like
  noise, saved as baseline JPEG at quality 90, so files are ~100-200 KB and decode like photos
  (~4 bits per pixel of entropy), rather than flat or pure-noise images;
- captions: 5 per image (6 or 7 for ~0.4% of images), of 8..50 words with COCO's length distribution
  (mean ~10.5 words; 8-12 words for ~88% of captions), drawn from a vocabulary of common COCO words.

Needs numpy and Pillow (the peer venv: ../peer-venv/bin/python). Deterministic for a given seed.
"""
import argparse
import json
import os
import sys

import numpy as np
from PIL import Image

# Aspect ratios (width / height) and their shares among COCO train2017 images.
ASPECTS = [(4 / 3, 0.48), (3 / 2, 0.18), (3 / 4, 0.14), (2 / 3, 0.07), (1.0, 0.04)]
# Caption lengths in words and their shares among COCO captions (the remainder spreads over 19..50).
LENGTHS = {8: 0.07, 9: 0.25, 10: 0.24, 11: 0.17, 12: 0.11, 13: 0.06, 14: 0.035, 15: 0.02, 16: 0.012,
           17: 0.008, 18: 0.005}
SUBJECTS = ["a man", "a woman", "a person", "two people", "a group of people", "a young boy", "a little girl",
            "a dog", "a cat", "a horse", "a giraffe", "an elephant", "a zebra", "a bus", "a train", "a truck",
            "a red car", "a plate of food", "a pizza", "a kitchen", "a bathroom", "a living room", "a skier",
            "a surfer", "a tennis player", "a baseball player", "a bird", "a bear", "a clock tower", "a motorcycle"]
VERBS = ["sitting on", "standing next to", "riding", "holding", "walking down", "laying on", "looking at",
         "parked near", "flying over", "eating", "playing with", "in front of", "on top of", "covered with"]
OBJECTS = ["a table", "a bench", "the street", "a field", "a beach", "the snow", "a wave", "a couch", "a bed",
           "a sidewalk", "a building", "a fence", "the grass", "a laptop", "a frisbee", "an umbrella", "a kite",
           "a skateboard", "a sandwich", "some vegetables", "a large window", "the water", "a city street"]
FILLERS = ["with", "and", "while", "near", "under", "next to", "in", "of", "some", "small", "large", "white",
           "black", "blue", "green", "wooden", "old", "busy", "sunny", "cloudy", "tall", "two", "several", "other"]


def image_size(rng):
    longer = 640 if rng.random() < 0.97 else int(rng.integers(320, 640))
    shares = np.array([share for _, share in ASPECTS])
    if rng.random() < shares.sum():
        aspect = ASPECTS[int(rng.choice(len(ASPECTS), p=shares / shares.sum()))][0]
    else:
        aspect = float(np.exp(rng.uniform(np.log(0.5), np.log(2.2))))
    if aspect >= 1:
        return longer, max(1, round(longer / aspect))
    return max(1, round(longer * aspect)), longer


def caption_length(rng):
    lengths = list(LENGTHS)
    shares = np.array([LENGTHS[n] for n in lengths])
    if rng.random() < shares.sum():
        return lengths[int(rng.choice(len(lengths), p=shares / shares.sum()))]
    return int(min(50, 19 + rng.geometric(0.25) - 1))


def caption(rng):
    words = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}".split()
    target = caption_length(rng)
    while len(words) < target:
        words.append(str(rng.choice(FILLERS + OBJECTS[:5])).split()[-1])
    words = words[:target]
    text = " ".join(words)
    return (text[0].upper() + text[1:] + ("." if rng.random() < 0.6 else ""))


def picture(rng, width, height):
    coarse = rng.integers(0, 256, size=(int(rng.integers(3, 9)), int(rng.integers(3, 9)), 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC), dtype=np.float32)
    noise = rng.normal(0, 16.0, size=smooth.shape).astype(np.float32)
    return Image.fromarray(np.clip(smooth + noise, 0, 255).astype(np.uint8))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", default="train2017")
    parser.add_argument("--quality", type=int, default=90)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    folder = os.path.join(args.out, args.split)
    os.makedirs(folder, exist_ok=True)
    os.makedirs(os.path.join(args.out, "annotations"), exist_ok=True)
    images, annotations = [], []
    caption_id = 1
    for index in range(args.images):
        image_id = 1 + index * 7  # sparse ids, as COCO's are
        width, height = image_size(rng)
        name = f"{image_id:012d}.jpg"
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            # Each picture has its own stream, so files already written can be kept on a rerun.
            picture(np.random.default_rng([args.seed, image_id]), width, height).save(path + ".tmp", format="JPEG", quality=args.quality)
            os.replace(path + ".tmp", path)
        images.append({"id": image_id, "file_name": name, "width": width, "height": height,
                       "license": 1, "coco_url": "", "flickr_url": "", "date_captured": ""})
        count = 5 if rng.random() >= 0.004 else int(rng.integers(6, 8))
        for _ in range(count):
            annotations.append({"id": caption_id, "image_id": image_id, "caption": caption(rng)})
            caption_id += 1
        if (index + 1) % 500 == 0:
            print(f"{index + 1}/{args.images} images", file=sys.stderr)
    document = {"info": {"description": f"synthetic COCO-format captions, seed {args.seed}"},
                "licenses": [{"id": 1, "name": "synthetic", "url": ""}],
                "images": images, "annotations": annotations}
    with open(os.path.join(args.out, "annotations", f"captions_{args.split}.json"), "w") as file:
        json.dump(document, file)
    sizes = np.array([[image["width"], image["height"]] for image in images], dtype=np.float64)
    words = np.array([len(a["caption"].split()) for a in annotations])
    print(json.dumps({"images": len(images), "captions": len(annotations), "mean_width": round(sizes[:, 0].mean(), 1),
                      "mean_height": round(sizes[:, 1].mean(), 1), "mean_words": round(float(words.mean()), 2)}))


if __name__ == "__main__":
    main()
