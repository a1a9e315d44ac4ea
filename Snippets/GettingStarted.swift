// Build a cache from a pipeline file, read it, and train a head on it: the library calls behind
// `strata build`, `strata inspect` and `strata train`, in the order the getting-started article shows
// them. Run from the repository root after `make demo` has fetched the pretrained encoders.

// snippet.hide
import Foundation
import StrataCache
import StrataModels
import StrataPipeline
import StrataTrain
// snippet.show

// snippet.build
// Parse and validate the pipeline file; its relative paths resolve against the file's folder.
var config = try PipelineConfig.load(contentsOf: URL(fileURLWithPath: "pipelines/demo.yaml"))
// The demo pipeline names no checkpoints: give it the encoders `make demo` fetched.
config.imageEncoder?.checkpoint = PretrainedModels.efficientNetLite0
config.textEncoder?.checkpoint = PretrainedModels.miniLM

var options = BuildOptions()
options.cache = URL(fileURLWithPath: "caches/demo")   // instead of the file's output.cache
let summary = try BuildRunner(config: config, provider: .standard, options: options).run()
print(summary.report)   // counts, failures, per-stage throughput; summary.statsJSON() is stats.json

// snippet.read
// Open the cache: the manifest says how every column was made.
let reader = try CacheReader(path: summary.cache)
for column in reader.manifest.columns {
    let shape = column.shape.map { $0.map(String.init) ?? "tokens" }.joined(separator: "x")
    print(column.name, column.dtype, shape, column.count)
}
// One value by id, as stored (here a pooled image feature, [1280] f32).
if let id = try reader.ids(column: "image/efficientnet_lite0/pooled").first,
   let feature = try reader.value(column: "image/efficientnet_lite0/pooled", id: id) {
    print(id, feature.shape)
}

// Batches of a split's pairs, streamed from the memory map and widened to f32.
let columns = ["image/efficientnet_lite0/pooled", "text/bert/tokens"]
let pairs = try PairIndex(reader: reader, split: "train", imageColumns: [columns[0]], textColumns: [columns[1]])
let loader = try StreamingLoader(reader: reader, columns: columns)
let firstImages = Array(pairs.imageIDs.prefix(32))
let firstCaptions = Array(pairs.captionIDs[0..<pairs.captionStarts[firstImages.count]])
let run = loader.run([LoaderRequest(imageIDs: firstImages, captionIDs: firstCaptions)])
while let batch = try run.next() {
    let tokens = try batch.column("text/bert/tokens")   // values [B, L, W], mask [B, L]
    print(try batch.column(columns[0]).values.shape, tokens.values.shape, tokens.lengths.prefix(4))
}

// snippet.train
// A head configuration (heads/*.yaml), pointed at this cache's columns.
var head = try HeadConfig.load(path: "heads/projector.yaml")
head.image = "image/efficientnet_lite0/pooled"
head.text = "text/bert/mean"
head.train.epochs = 10
try head.validate(file: "heads/projector.yaml")

let trainer = try HeadTrainer(config: head, cachePath: summary.cache,
                              outputDirectory: URL(fileURLWithPath: "runs/projector"))
trainer.progress = { print($0) }   // one line per epoch: loss and validation Recall
let result = try trainer.run()      // writes best.safetensors and log.jsonl
print(ComparisonTable.render([(head.name, result.best)]))
// snippet.end
