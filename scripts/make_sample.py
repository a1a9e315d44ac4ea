"""Builds the bundled samples from ../shared/data/coco-mini, in COCO's official format, each with a
notice naming every image's license. Run from the repository root (Pillow is needed for the second):
    python3 scripts/make_sample.py

- sample/coco-sample: twelve images under CC BY / CC BY-SA licenses, as they are (the tests' sample).
- sample/coco-mini: all 159 captioned images (80 train, 79 val, as in coco-mini), downscaled so the
  shorter side is 320 px (JPEG quality 85), with the annotation files' sizes updated (`strata demo`).
"""
import json
import os
import shutil
import sys

SOURCE = os.path.join("..", "shared", "data", "coco-mini")
TARGET = os.path.join("sample", "coco-sample")
PICK = {
    "train2017": [84284, 159269, 256353, 408805, 231460, 196393],
    "val2017": [205401, 229358, 349860, 126107, 165518, 183709],
}
MINI = os.path.join("sample", "coco-mini")
SHORTER_SIDE = 320


def main():
    notice = [
        "# coco-sample",
        "",
        "Twelve images of MS-COCO 2017 and their captions, for `strata demo`. The caption annotations are",
        "COCO's (CC BY 4.0, COCO Consortium, https://cocodataset.org). Each image keeps its Flickr license:",
        "",
        "| file | license | Flickr source |",
        "|---|---|---|",
    ]
    for split, ids in PICK.items():
        with open(os.path.join(SOURCE, "annotations", f"captions_{split}.json")) as f:
            data = json.load(f)
        licenses = {entry["id"]: entry for entry in data["licenses"]}
        images = [image for image in data["images"] if image["id"] in ids]
        wanted = {image["id"] for image in images}
        annotations = [a for a in data["annotations"] if a["image_id"] in wanted]
        os.makedirs(os.path.join(TARGET, split), exist_ok=True)
        os.makedirs(os.path.join(TARGET, "annotations"), exist_ok=True)
        for image in sorted(images, key=lambda i: i["id"]):
            shutil.copyfile(os.path.join(SOURCE, split, image["file_name"]),
                            os.path.join(TARGET, split, image["file_name"]))
            license = licenses[image["license"]]
            notice.append(f"| {split}/{image['file_name']} | [{license['name']}]({license['url']}) | {image['flickr_url']} |")
        subset = {"info": data["info"], "licenses": data["licenses"], "images": images, "annotations": annotations}
        with open(os.path.join(TARGET, "annotations", f"captions_{split}.json"), "w") as f:
            json.dump(subset, f, indent=1)
            f.write("\n")
    notice += [
        "",
        "`vocab.txt` in ../bert-base-uncased-vocab is the bert-base-uncased WordPiece vocabulary",
        "(Apache License 2.0, Google Research).",
    ]
    with open(os.path.join(TARGET, "LICENSE.md"), "w") as f:
        f.write("\n".join(notice) + "\n")


def downscaled():
    """sample/coco-mini: every captioned image, shorter side SHORTER_SIDE px, and its license."""
    from PIL import Image

    notice = [
        "# coco-mini (downscaled)",
        "",
        "The 159 captioned images of coco-mini (MS-COCO 2017: 80 from train2017, 79 from val2017) and their",
        f"captions, for `strata demo`. Images are downscaled so the shorter side is {SHORTER_SIDE} px. The caption",
        "annotations are COCO's (CC BY 4.0, COCO Consortium, https://cocodataset.org). Each image keeps its",
        "Flickr license, named below; some are non-commercial (NC) licenses:",
        "",
        "| file | license | Flickr source |",
        "|---|---|---|",
    ]
    for split in ["train2017", "val2017"]:
        with open(os.path.join(SOURCE, "annotations", f"captions_{split}.json")) as f:
            data = json.load(f)
        licenses = {entry["id"]: entry for entry in data["licenses"]}
        captioned = {a["image_id"] for a in data["annotations"]}
        images = sorted((image for image in data["images"] if image["id"] in captioned), key=lambda i: i["id"])
        os.makedirs(os.path.join(MINI, split), exist_ok=True)
        os.makedirs(os.path.join(MINI, "annotations"), exist_ok=True)
        for image in images:
            with Image.open(os.path.join(SOURCE, split, image["file_name"])) as photo:
                photo = photo.convert("RGB")
                scale = SHORTER_SIDE / min(photo.size)
                if scale < 1:
                    photo = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.LANCZOS)
                photo.save(os.path.join(MINI, split, image["file_name"]), quality=85)
                image["width"], image["height"] = photo.size
            license = licenses[image["license"]]
            notice.append(f"| {split}/{image['file_name']} | [{license['name']}]({license['url']}) | {image['flickr_url']} |")
        subset = {"info": data["info"], "licenses": data["licenses"], "images": images,
                  "annotations": [a for a in data["annotations"] if a["image_id"] in captioned]}
        with open(os.path.join(MINI, "annotations", f"captions_{split}.json"), "w") as f:
            json.dump(subset, f, indent=1)
            f.write("\n")
        print(f"{MINI}/{split}: {len(images)} images, {len(subset['annotations'])} captions")
    with open(os.path.join(MINI, "LICENSE.md"), "w") as f:
        f.write("\n".join(notice) + "\n")


if __name__ == "__main__":
    main()
    try:
        downscaled()
    except ImportError:
        sys.exit("make_sample.py: sample/coco-mini needs Pillow (pip install pillow)")
