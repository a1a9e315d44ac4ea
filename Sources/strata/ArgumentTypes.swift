import ArgumentParser
import Foundation
import StrataImage
import StrataModels
import StrataPipeline

// Typed values of the command line: ArgumentParser refuses anything else with the valid choices listed.

extension Interpolation: ExpressibleByArgument {}

extension PreprocessOptions.Mode: ExpressibleByArgument {}

/// `--progress`: how a build shows its progress.
enum ProgressChoice: String, ExpressibleByArgument, CaseIterable {
    /// A bar on a terminal, log lines otherwise.
    case auto
    /// A bar redrawn in place.
    case bar
    /// A `progress key=value` line every few seconds.
    case log
    /// Nothing.
    case none

    /// The build's progress style; nil for none.
    var style: BuildOptions.ProgressStyle? {
        switch self {
        case .auto: return BuildProgress.standardErrorIsTerminal ? .bar : .log
        case .bar: return .bar
        case .log: return .log
        case .none: return nil
        }
    }
}

/// `--model`: a family of the model registry.
struct ModelChoice: ExpressibleByArgument {
    /// The family named.
    let family: ModelFamily

    init?(argument: String) {
        guard let family = ModelRegistry.family(named: argument) else { return nil }
        self.family = family
    }

    static var allValueStrings: [String] { ModelRegistry.names }
}

/// An image size in torchvision's order, as pipeline files write it: `N` (a square, or a shorter side
/// where the option says so) or `HEIGHTxWIDTH`.
struct SizeArgument: ExpressibleByArgument {
    /// The one number given as `N`, else nil.
    let side: Int?
    /// The size: `N` read as a square.
    let size: ImageSize

    init?(argument: String) {
        let parts = argument.lowercased().split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        switch parts.count {
        case 1:
            guard let side = parts[0] else { return nil }
            self.side = side
            size = ImageSize(width: side, height: side)
        case 2:
            guard let size = ImageSize(heightWidth: parts.compactMap { $0 }) else { return nil }
            side = nil
            self.size = size
        default:
            return nil
        }
    }
}

/// Three comma-separated numbers, one per channel (R, G, B).
struct ChannelValues: ExpressibleByArgument {
    /// The values, red first.
    let values: [Float]

    init?(argument: String) {
        let parts = argument.split(separator: ",")
        let values = parts.compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 3, values.count == 3 else { return nil }
        self.values = values
    }

    init(_ values: [Float]) { self.values = values }

    var defaultValueDescription: String { values.map { "\($0)" }.joined(separator: ",") }
}
