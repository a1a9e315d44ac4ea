"""The cache a user would build with PyTorch: DataLoader (2 workers) + torchvision transforms for images,
a Hugging Face fast tokenizer for captions, the same ResNet-50 (torchvision) or EfficientNet-Lite
(efficientnet_lite_pytorch, the reference package, with TensorFlow "SAME" padding) and BERT weights, py-lmdb
writes of the same levels. Reads the same pipeline YAML as `strata build`; prints one JSON line with its
timings."""
import json
import os
import struct
import sys
import time

import lmdb
import numpy as np
import torch
import torch.nn.functional as F
import torchvision
import yaml
from PIL import Image
from safetensors.torch import load_file
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms
from transformers import BertModel, BertTokenizerFast


class CocoImages(Dataset):
    def __init__(self, items, transform):
        self.items, self.transform = items, transform

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        image_id, path = self.items[index]
        with Image.open(path) as image:
            return image_id, self.transform(image.convert("RGB"))


def load_dataset(config, base):
    data = config["dataset"]
    root = os.path.join(base, data["images"])
    images, captions = [], []
    for annotation_file in data["annotations"]:
        path = os.path.join(base, annotation_file)
        split = os.path.basename(path)[len("captions_"):-len(".json")]
        folder = os.path.join(root, split) if os.path.isdir(os.path.join(root, split)) else root
        with open(path) as handle:
            document = json.load(handle)
        images += [(image["id"], os.path.join(folder, image["file_name"])) for image in document["images"]]
        captions += [(caption["id"], caption["image_id"], caption["caption"]) for caption in document["annotations"]]
    images.sort()
    return images, sorted(captions, key=lambda c: (c[1], c[0]))


def resnet_levels(model, x, levels):
    x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    outputs = {}
    for name in ["layer1", "layer2", "layer3", "layer4"]:
        x = getattr(model, name)(x)
        outputs[name] = x
    outputs["avgpool"] = torch.flatten(model.avgpool(x), 1)
    return select(outputs, levels)


def select(outputs, levels):
    """The pipeline's levels from an encoder's outputs, maps adaptively pooled where a level asks."""
    result = []
    for level in levels:
        value = outputs[level["output"]]
        if "pool" in level:
            value = F.adaptive_avg_pool2d(value, level["pool"])
        result.append(value)
    return result


# Blocks whose outputs are EfficientNet-Lite's stride-4, 8, 16 and 32 stages, by variant.
LITE_STAGES = {"efficientnet_lite0": [2, 4, 10, 15], "efficientnet_lite1": [3, 6, 14, 20],
               "efficientnet_lite2": [3, 6, 14, 20], "efficientnet_lite3": [3, 6, 16, 23],
               "efficientnet_lite4": [4, 8, 20, 29]}


def efficientnet_levels(model, stages, x, levels):
    x = model._swish(model._bn0(model._conv_stem(x)))
    outputs = {}
    for index, block in enumerate(model._blocks):
        x = block(x)
        if index in stages:
            outputs[f"stage{stages.index(index) + 2}"] = x
    outputs["head"] = model._swish(model._bn1(model._conv_head(x)))
    outputs["avgpool"] = outputs["head"].mean(dim=(2, 3))
    outputs["fc"] = model._fc(outputs["avgpool"])
    return select(outputs, levels)


def image_model(image_cfg, base):
    """The image encoder and a function from pixels to the pipeline's levels."""
    checkpoint = os.path.join(base, os.path.expanduser(image_cfg["checkpoint"]))
    if image_cfg["model"].startswith("efficientnet_lite"):
        from efficientnet_lite_pytorch import EfficientNet
        model = EfficientNet.from_name(image_cfg["model"].replace("_", "-"), image_size=None)
        model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True))
        model.eval()
        stages = LITE_STAGES[image_cfg["model"]]
        return lambda x, levels: efficientnet_levels(model, stages, x, levels)
    model = torchvision.models.resnet50()
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(checkpoint).items()}
    model.load_state_dict(state)
    model.eval()
    return lambda x, levels: resnet_levels(model, x, levels)


def main():
    pipeline, out = sys.argv[1], sys.argv[2]
    torch.set_num_threads(2)
    started = time.perf_counter()
    base = os.path.dirname(os.path.abspath(pipeline))
    with open(pipeline) as handle:
        config = yaml.safe_load(handle)
    images, captions = load_dataset(config, base)
    pre = config.get("preprocess", {})
    resize, crop = pre.get("resize", 256), pre.get("crop", 224)
    transform = transforms.Compose([
        transforms.Resize(resize, interpolation=transforms.InterpolationMode.BILINEAR),
        transforms.CenterCrop(crop),
        transforms.ToTensor(),
        transforms.Normalize(mean=pre.get("mean", [0.485, 0.456, 0.406]), std=pre.get("std", [0.229, 0.224, 0.225])),
    ])
    batch = config.get("batch", {})
    image_batch, caption_batch = batch.get("images", 16), batch.get("captions", 64)
    commit_every = batch.get("commit_every", 256)
    image_cfg, text_cfg = config["encoders"]["image"], config["encoders"]["text"]

    encode_images = image_model(image_cfg, base)
    image_name = image_cfg["model"]
    text_folder = os.path.join(base, os.path.expanduser(text_cfg["checkpoint"]))
    bert = BertModel.from_pretrained(text_folder, add_pooling_layer=True).eval()
    tokenizer = BertTokenizerFast.from_pretrained(text_folder)
    max_length = config.get("tokenizer", {}).get("max_length", 128)
    dtypes = {"f32": np.float32, "f16": np.float16, "bf16": np.float32}

    env = lmdb.open(out, map_size=1 << 36, max_dbs=64)
    names = [f"image/{image_name}/" + level["name"] for level in image_cfg["levels"]]
    names += ["text/bert/" + level["name"] for level in text_cfg["levels"]]
    tables = {name: env.open_db(name.encode()) for name in names}

    def table(name):
        return tables[name]

    loader = DataLoader(CocoImages(images, transform), batch_size=image_batch, num_workers=2, shuffle=False)
    pending = []
    with torch.inference_mode():
        image_count = 0
        txn = env.begin(write=True)
        for ids, pixels in loader:
            outputs = encode_images(pixels, image_cfg["levels"])
            for level, value in zip(image_cfg["levels"], outputs):
                array = value.numpy().astype(dtypes[level.get("dtype", "f32")])
                db = table(f"image/{image_name}/" + level["name"])
                for row, image_id in enumerate(ids.tolist()):
                    txn.put(struct.pack(">Q", image_id), array[row].tobytes(), db=db)
            image_count += len(ids)
            if image_count % commit_every < image_batch:
                txn.commit()
                txn = env.begin(write=True)
        txn.commit()
        image_seconds = time.perf_counter() - started

        text_started = time.perf_counter()
        txn = env.begin(write=True)
        for start in range(0, len(captions), caption_batch):
            chunk = captions[start:start + caption_batch]
            tokens = tokenizer([c[2] for c in chunk], padding="longest", truncation=True, max_length=max_length, return_tensors="pt")
            result = bert(**tokens, output_hidden_states=True)
            lengths = tokens["attention_mask"].sum(1).tolist()
            mask = tokens["attention_mask"].unsqueeze(-1).float()
            for level in text_cfg["levels"]:
                output = level["output"]
                if output == "last_hidden_state":
                    value = result.last_hidden_state
                elif output == "pooler_output":
                    value = result.pooler_output
                else:
                    value = result.hidden_states[int(output.rsplit("_", 1)[1])]
                reduce = level.get("reduce", "none")
                if reduce == "mean":
                    value = (value * mask).sum(1) / mask.sum(1)
                elif reduce == "cls":
                    value = value[:, 0]
                array = value.numpy().astype(dtypes[level.get("dtype", "f32")])
                db = table("text/bert/" + level["name"])
                for row, caption in enumerate(chunk):
                    row_value = array[row, :lengths[row]] if array.ndim == 3 else array[row]
                    txn.put(struct.pack(">Q", caption[0]), row_value.tobytes(), db=db)
            if (start // caption_batch) % 8 == 7:
                txn.commit()
                txn = env.begin(write=True)
        txn.commit()
    env.close()
    total = time.perf_counter() - started
    print(json.dumps({"seconds": total, "image_seconds": image_seconds, "text_seconds": time.perf_counter() - text_started,
                      "images": len(images), "captions": len(captions)}))


if __name__ == "__main__":
    main()
