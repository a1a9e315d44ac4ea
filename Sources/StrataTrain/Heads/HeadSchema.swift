/// The JSON Schema of head configurations (`heads/*.yaml`). `schemas/head.schema.json` is this text,
/// written by `strata schema head`; a test keeps the two identical.
public enum HeadSchema {
    /// The schema as JSON text.
    public static let json = #"""
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://strata.dev/schemas/head.schema.json",
  "title": "Strata head configuration",
  "description": "A head `strata train` trains from a feature cache, and how (heads/*.yaml). Column names are those of the cache's manifest (`strata inspect`).",
  "type": "object",
  "required": ["kind"],
  "additionalProperties": false,
  "properties": {
    "name": {"description": "Label in tables and reports (default: the kind).", "type": "string", "minLength": 1},
    "kind": {"description": "Which head.", "enum": ["projector", "cross-attention", "decoupled", "pyramid", "concat-mlp"]},
    "image": {"description": "Image column (all heads but pyramid).", "type": "string", "minLength": 1},
    "text": {"description": "Text column (all heads but pyramid).", "type": "string", "minLength": 1},
    "levels": {
      "description": "Pyramid head only: an image column fused with a text column per level.",
      "type": "array", "minItems": 1,
      "items": {
        "type": "object", "required": ["image", "text"], "additionalProperties": false,
        "properties": {"image": {"type": "string", "minLength": 1}, "text": {"type": "string", "minLength": 1}}
      }
    },
    "dim": {"description": "Shared width.", "type": "integer", "minimum": 1},
    "attention_heads": {"description": "Attention heads (cross-attention, pyramid, decoupled); must divide dim.", "type": "integer", "minimum": 1},
    "hidden": {"description": "Hidden width of the concat-mlp head.", "type": "integer", "minimum": 1},
    "dropout": {"description": "Dropout probability, in [0, 1).", "type": "number", "minimum": 0, "exclusiveMaximum": 1},
    "loss": {
      "type": "object", "additionalProperties": false,
      "properties": {
        "contrastive": {"description": "Weight of the symmetric contrastive loss.", "type": "number", "minimum": 0},
        "itm": {"description": "Weight of the image-text matching loss (cross-attention head).", "type": "number", "minimum": 0},
        "temperature": {"description": "Initial temperature of the contrastive logits (CLIP: 0.07).", "type": "number", "exclusiveMinimum": 0},
        "learnable_temperature": {"description": "Learn the temperature as CLIP's logit scale.", "type": "boolean"}
      }
    },
    "train": {
      "type": "object", "additionalProperties": false,
      "properties": {
        "epochs": {"type": "integer", "minimum": 1},
        "batch_size": {"description": "Image-caption pairs per step.", "type": "integer", "minimum": 2},
        "learning_rate": {"description": "AdamW learning rate.", "type": "number", "exclusiveMinimum": 0},
        "weight_decay": {"description": "AdamW decoupled weight decay.", "type": "number", "minimum": 0},
        "grad_clip": {"description": "Global gradient-norm clip; 0 disables it.", "type": "number", "minimum": 0},
        "warmup_steps": {"description": "Linear warm-up steps before the cosine decay.", "type": "integer", "minimum": 0},
        "patience": {"description": "Epochs without a better validation Recall before stopping; 0 disables early stopping.", "type": "integer", "minimum": 0},
        "seed": {"description": "Seed of initial weights, epoch order, caption choice and dropout.", "type": "integer", "minimum": 0},
        "max_text_length": {"description": "Longest token sequence read from token-level text columns.", "type": "integer", "minimum": 1},
        "split": {"description": "Split trained on.", "enum": ["train", "val", "test", "restval", "unassigned"]},
        "val_split": {"description": "Split evaluated after each epoch.", "enum": ["train", "val", "test", "restval", "unassigned"]}
      }
    },
    "eval": {
      "type": "object", "additionalProperties": false,
      "properties": {
        "rerank_top_k": {"description": "Re-rank this many top candidates per query by the ITM score (0: off).", "type": "integer", "minimum": 0}
      }
    }
  }
}
"""#
}
