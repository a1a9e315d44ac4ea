import StrataModels

/// The JSON Schema of pipeline files. `schemas/pipeline.schema.json` is this text, written by
/// `strata schema pipeline`; a test keeps the two identical.
public enum PipelineSchema {
    /// The schema as JSON text.
    public static let json = #"""
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://strata.dev/schemas/pipeline.schema.json",
  "title": "Strata pipeline file",
  "description": "How `strata build` turns a dataset into a feature cache. Relative paths are resolved against the folder of the pipeline file.",
  "type": "object",
  "required": ["version", "dataset", "output"],
  "additionalProperties": false,
  "properties": {
    "version": {"description": "Pipeline file format version.", "const": 1},
    "name": {"description": "A name for the cache, shown by `strata inspect`.", "type": "string", "minLength": 1},
    "dataset": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "annotations": {
          "description": "COCO captions_*.json files.",
          "type": "array", "items": {"type": "string", "minLength": 1}
        },
        "images": {
          "description": "Image folder; a sub-folder named for each annotation file's split (val2017/) is used when present.",
          "type": "string", "minLength": 1
        },
        "instances": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "karpathy": {"description": "Karpathy's dataset_coco.json; its splits replace the files' own.", "type": "string", "minLength": 1},
        "splits": {"description": "Keep only these splits.", "type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
        "limit": {"description": "Keep only the first N images (by id), e.g. for a quick sample.", "type": "integer", "minimum": 1},
        "extra_images": {
          "description": "Further image folders whose files are added without captions (every file becomes an image).",
          "type": "array", "items": {"type": "string", "minLength": 1}
        }
      },
      "required": ["images"]
    },
    "preprocess": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "resize": {
          "description": "An integer resizes the shorter side (torchvision Resize(n)); [height, width] resizes to that size.",
          "type": ["integer", "array"], "minimum": 1,
          "items": {"type": "integer", "minimum": 1}, "minItems": 2, "maxItems": 2
        },
        "crop": {
          "description": "Center crop: an integer for a square, or [height, width].",
          "type": ["integer", "array"], "minimum": 1,
          "items": {"type": "integer", "minimum": 1}, "minItems": 2, "maxItems": 2
        },
        "interpolation": {"enum": ["bilinear", "bicubic"]},
        "mode": {"description": "exact matches Pillow + torchvision; fast decodes JPEGs at a reduced DCT scale first.", "enum": ["exact", "fast"]},
        "exif_transpose": {"type": "boolean"},
        "mean": {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3},
        "std": {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0}, "minItems": 3, "maxItems": 3},
        "max_pixels": {"description": "Larger images are refused before decoding.", "type": "integer", "minimum": 1}
      }
    },
    "tokenizer": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "path": {"description": "A folder with vocab.txt (and tokenizer.json / tokenizer_config.json), or a vocab.txt file.", "type": "string", "minLength": 1},
        "max_length": {"type": "integer", "minimum": 2, "maximum": 8192}
      }
    },
    "encoders": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "image": {"$ref": "#/$defs/encoder"},
        "text": {"$ref": "#/$defs/encoder"}
      }
    },
    "batch": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "images": {"type": "integer", "minimum": 1, "maximum": 4096},
        "captions": {"type": "integer", "minimum": 1, "maximum": 4096},
        "commit_every": {"description": "Samples per LMDB write transaction.", "type": "integer", "minimum": 1}
      }
    },
    "workers": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "decode": {"type": "integer", "minimum": 1, "maximum": 256},
        "tokenize": {"type": "integer", "minimum": 1, "maximum": 256},
        "image_encoder": {"type": "integer", "minimum": 1, "maximum": 64},
        "text_encoder": {"type": "integer", "minimum": 1, "maximum": 64},
        "blas_threads": {"description": "Threads per matrix product (default 1). Strata's AVX-512 kernels give the same bits with any count; with OpenBLAS, counts above 1 may change results in their last bits between runs, so the cache is no longer byte-identical.", "type": "integer", "minimum": 1, "maximum": 256},
        "queue_depth": {"type": "integer", "minimum": 1, "maximum": 1024}
      }
    },
    "output": {
      "type": "object",
      "additionalProperties": false,
      "required": ["cache"],
      "properties": {
        "cache": {"description": "The cache directory (an LMDB environment).", "type": "string", "minLength": 1}
      }
    }
  },
  "$defs": {
    "encoder": {
      "type": "object",
      "additionalProperties": false,
      "required": ["model", "levels"],
      "properties": {
        "model": {"description": "A model family of StrataModels' registry.", "enum": [\#(ModelRegistry.names.map { "\"\($0)\"" }.joined(separator: ", "))]},
        "checkpoint": {
          "description": "A weights file (.safetensors, or a torch.save .pth/.pt/.bin) for a ResNet, or a Hugging Face folder with config.json and model.safetensors, pytorch_model.bin or a sharded *.index.json (ViT, BERT); or a name resolved offline in the local caches: torchvision/resnet50 (torch hub) or ORG/NAME such as google/vit-base-patch16-224 (Hugging Face hub). Without it the encoder is initialised from `seed` and the manifest says so.",
          "type": "string", "minLength": 1
        },
        "config": {
          "description": "Sizes for a seeded encoder without a checkpoint (hidden_size, num_hidden_layers, ...), as in a Hugging Face config.json.",
          "type": "object"
        },
        "seed": {"type": "integer", "minimum": 0},
        "levels": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/level"}}
      }
    },
    "level": {
      "type": "object",
      "additionalProperties": false,
      "required": ["output"],
      "properties": {
        "name": {"description": "Column name suffix; defaults to the output's name.", "type": "string", "pattern": "^[A-Za-z0-9_.-]+$"},
        "output": {
          "description": "layer1..layer4, avgpool, fc (ResNet-50); stage2..stage5, head, avgpool, fc (EfficientNet-Lite); hidden_state_K, last_hidden_state, pooler_output (ViT, BERT).",
          "type": "string", "pattern": "^(layer[1-4]|stage[2-5]|head|avgpool|fc|hidden_state_[0-9]+|last_hidden_state|pooler_output)$"
        },
        "pool": {
          "description": "Adaptive average pool of a feature map (ResNet layer1..layer4, EfficientNet-Lite stage2..stage5 and head) or of ViT patch tokens (reduce: patches) to [height, width].",
          "type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 2, "maxItems": 2
        },
        "reduce": {"description": "Token reduction for transformer outputs.", "enum": ["none", "cls", "mean", "patches"]},
        "dtype": {"enum": ["f32", "f16", "bf16"]}
      }
    }
  }
}
"""#
}
