"""Builds sample/coco-sample: a small slice of coco-mini (images under CC BY / CC BY-SA licenses only)
in COCO's official format, with a notice naming each image's license. Run from the repository root:
    python3 scripts/make_sample.py
"""
import json
import os
import shutil

SOURCE = os.path.join("..", "shared", "data", "coco-mini")
TARGET = os.path.join("sample", "coco-sample")
PICK = {
    "train2017": [84284, 159269, 256353, 408805, 231460, 196393],
    "val2017": [205401, 229358, 349860, 126107, 165518, 183709],
}


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


if __name__ == "__main__":
    main()
