"""Peer of `bench/run checkpoints`: writes random torchvision ResNet-50 (`torch.save(model.state_dict())`,
resnet50-random.pth) and Hugging Face BERT-base (`pytorch_model.bin` + config.json) checkpoints into WORK
when missing, then times reading them as PyTorch users do: `torch.load(weights_only=True)` alone, and
`torch.load` + `load_state_dict` into a model built beforehand (construction not timed).

usage: checkpoints.py WORK REPEATS  ->  prints one JSON object of best-of-REPEATS seconds.
"""
import json
import pathlib
import sys
import time

import torch
import torchvision
import transformers

work = pathlib.Path(sys.argv[1])
repeats = int(sys.argv[2])
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
work.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)

resnet_path = work / "resnet50-random.pth"
resnet = torchvision.models.resnet50(weights=None).eval()
if not resnet_path.exists():
    torch.save(resnet.state_dict(), resnet_path)

bert_folder = work / "bert-base"
bert = transformers.BertModel(transformers.BertConfig()).eval()
if not (bert_folder / "pytorch_model.bin").exists():
    bert_folder.mkdir(exist_ok=True)
    bert.config.to_json_file(bert_folder / "config.json")
    torch.save(bert.state_dict(), bert_folder / "pytorch_model.bin")


def best(body):
    body()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        body()
        times.append(time.perf_counter() - start)
    return min(times)


def load(path):
    return torch.load(path, map_location="cpu", weights_only=True)


result = {
    "resnet50_torch_load": best(lambda: load(resnet_path)),
    "resnet50_load_state_dict": best(lambda: resnet.load_state_dict(load(resnet_path))),
    "bert_torch_load": best(lambda: load(bert_folder / "pytorch_model.bin")),
    "bert_load_state_dict": best(lambda: bert.load_state_dict(load(bert_folder / "pytorch_model.bin"), strict=False)),
    "torch": torch.__version__,
}
print(json.dumps(result))
