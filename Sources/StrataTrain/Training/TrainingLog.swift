import Foundation

/// One line of the training log (`log.jsonl`): a step or an epoch summary.
public struct TrainingRecord: Codable, Equatable, Sendable {
    /// `step` or `epoch`.
    public var kind: String
    /// Epoch (0-based).
    public var epoch: Int
    /// Optimiser steps taken so far.
    public var step: Int
    /// Total loss (step: this batch; epoch: mean over the epoch).
    public var loss: Double
    /// Loss parts (`contrastive`, `itm`), same averaging.
    public var parts: [String: Double]
    /// Learning rate of the step (step records).
    public var learningRate: Double?
    /// Temperature of the contrastive logits, `1/e^{logit_scale}` (when learnable).
    public var temperature: Double?
    /// Validation metrics (epoch records).
    public var validation: RetrievalMetrics?
    /// Training steps per second over the epoch, evaluation excluded (epoch records).
    public var stepsPerSecond: Double?

    enum CodingKeys: String, CodingKey {
        case kind, epoch, step, loss, parts, temperature, validation
        case learningRate = "learning_rate", stepsPerSecond = "steps_per_second"
    }
}

/// Appends JSON lines to a file (or nowhere).
public final class TrainingLog {
    let handle: FileHandle?
    let encoder: JSONEncoder
    /// Every record written so far.
    public private(set) var records: [TrainingRecord] = []

    /// A log writing to `url` (created or truncated), or only kept in memory when nil.
    public init(url: URL?) throws {
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        if let url {
            guard FileManager.default.createFile(atPath: url.path, contents: nil), let handle = try? FileHandle(forWritingTo: url) else {
                throw TrainError.checkpoint(file: url.path, reason: "cannot create the training log")
            }
            self.handle = handle
        } else {
            handle = nil
        }
    }

    /// Records and writes one line.
    public func append(_ record: TrainingRecord) {
        records.append(record)
        guard let handle, var line = try? encoder.encode(record) else { return }
        line.append(0x0A)
        handle.write(line)
    }

    /// Reads a log written by `TrainingLog`.
    public static func read(_ url: URL) throws -> [TrainingRecord] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw TrainError.checkpoint(file: url.path, reason: "cannot read the training log")
        }
        let decoder = JSONDecoder()
        return try text.split(separator: "\n").enumerated().map { index, line in
            do {
                return try decoder.decode(TrainingRecord.self, from: Data(line.utf8))
            } catch {
                throw TrainError.checkpoint(file: url.path, reason: "line \(index + 1) is not a training record: \(error)")
            }
        }
    }

    deinit { try? handle?.close() }
}
