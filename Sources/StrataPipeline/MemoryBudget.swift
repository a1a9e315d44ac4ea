import Foundation
import StrataImage

/// Checks encoder worker counts against the memory the machine has: each worker holds its own copy
/// of the model (measured as the resident memory the first one took to load) and the activations of
/// a batch (estimated from the batch's input size), so `workers × per worker` must fit what is available.
struct MemoryBudget {
    /// One encoder's cost per worker.
    struct Side {
        var name: String
        var workers: Int
        /// Resident bytes one loaded encoder took (at least its weights).
        var model: Int
        /// Estimated working memory of one batch.
        var activations: Int
        var perWorker: Int { model + activations }
    }

    /// Working memory per input byte of a batch, measured on ResNet-50, ViT-B/16 and BERT-base at
    /// their usual sizes (intermediate maps, im2col and attention buffers): about 40× the input.
    static let activationFactor = 40

    /// The process's resident memory in bytes (`/proc/self/statm`), or nil where it is not readable.
    static func residentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Memory available to new allocations (`MemAvailable` of `/proc/meminfo`), or nil.
    static func availableBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let number = line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
            return number.map { $0 * 1024 }
        }
        return nil
    }

    /// Throws `PipelineError.buildFailed` with the numbers when the workers beyond the first (already
    /// loaded) need more than `available` bytes.
    static func check(_ sides: [Side], available: Int?) throws {
        guard let available else { return }
        let needed = sides.reduce(0) { $0 + max(0, $1.workers - 1) * $1.model + $1.workers * $1.activations }
        guard needed > available else { return }
        let parts = sides.map { side in
            "\(side.name)=\(side.workers) needs about \(mebibytes(side.perWorker)) per worker (model \(mebibytes(side.model)), batch \(mebibytes(side.activations)))"
        }
        let fitting = sides.map { side -> String in
            let others = sides.filter { $0.name != side.name }.reduce(0) { $0 + $1.workers * $1.perWorker }
            let most = max(1, (available - others + side.model) / max(1, side.perWorker))
            return "\(side.name)=\(min(most, side.workers))"
        }
        throw PipelineError.buildFailed(reason: "too many encoder workers for this machine's memory: \(parts.joined(separator: "; ")), "
            + "\(mebibytes(needed)) more in all, but \(mebibytes(available)) are available; try --workers \(fitting.joined(separator: ","))")
    }

    static func mebibytes(_ bytes: Int) -> String { "\(bytes >> 20) MiB" }

    /// Checks the pipeline's encoder workers, given the resident bytes the first image and text
    /// encoders took to load (nil for a side the pipeline does not have).
    static func check(config: PipelineConfig, image: Int?, text: Int?, available: Int? = availableBytes()) throws {
        var sides: [Side] = []
        if let image {
            let size = config.preprocess.outputSize ?? ImageSize(width: 224, height: 224)
            let input = config.batch.images * 3 * size.width * size.height * 4
            sides.append(Side(name: "image_encoder", workers: config.workers.imageEncoder, model: max(image, 0),
                              activations: input * activationFactor))
        }
        if let text {
            // Token states of a batch: captions × tokens × a BERT-base-sized hidden and feed-forward width.
            let input = config.batch.captions * config.tokenizer.maxLength * 4 * 1024
            sides.append(Side(name: "text_encoder", workers: config.workers.textEncoder, model: max(text, 0),
                              activations: input * 4))
        }
        try check(sides, available: available)
    }
}
