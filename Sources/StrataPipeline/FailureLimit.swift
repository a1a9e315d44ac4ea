import Foundation

/// How many failed inputs a build accepts before it ends with a non-zero exit (`--max-failures`).
/// The cache keeps what was written either way.
public enum FailureLimit: Sendable, Equatable, CustomStringConvertible {
    /// Fails only when every image failed (the default: a wrong image folder).
    case everyImage
    /// Fails when more than this many inputs (images and captions) failed.
    case count(Int)
    /// Fails when more than this percentage of the inputs failed.
    case percent(Double)

    /// Parses `N` or `P%`.
    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasSuffix("%"), let value = Double(trimmed.dropLast()), value >= 0, value <= 100 {
            self = .percent(value)
        } else if let value = Int(trimmed), value >= 0 {
            self = .count(value)
        } else {
            throw PipelineError.invalidValue(file: "--max-failures", key: text, reason: "must be a count N ≥ 0 or a percentage P% (0-100)")
        }
    }

    public var description: String {
        switch self {
        case .everyImage: return "every image failed"
        case let .count(count): return "\(count)"
        case let .percent(percent): return "\(percent.rounded() == percent ? String(Int(percent)) : String(percent))%"
        }
    }

    /// Why the build failed, or nil when the failures are within the limit.
    /// - Parameters:
    ///   - failures: failed inputs (images and captions).
    ///   - imageFailures: how many of the failed inputs are images.
    ///   - images: images in the cache.
    ///   - inputs: all inputs, images and captions.
    public func exceeded(failures: Int, imageFailures: Int, images: Int, inputs: Int) -> String? {
        switch self {
        case .everyImage:
            guard images > 0, imageFailures >= images else { return nil }
            return "every image failed (\(imageFailures) of \(images)); is dataset.images the right folder?"
        case let .count(limit):
            guard failures > limit else { return nil }
            return "\(failures) inputs failed, more than --max-failures \(limit)"
        case let .percent(limit):
            let share = inputs > 0 ? 100 * Double(failures) / Double(inputs) : 0
            guard share > limit else { return nil }
            return "\(failures) of \(inputs) inputs failed (\(String(format: "%.1f", share))%), more than --max-failures \(description)"
        }
    }
}
