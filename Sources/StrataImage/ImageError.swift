/// Why an image could not be decoded or preprocessed. Every case names the file it is about.
public enum ImageError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be read from disk (missing, a directory, no permission...).
    case unreadable(file: String, reason: String)
    /// The file holds no bytes at all.
    case empty(file: String)
    /// The bytes are an image format Strata does not decode (GIF, TIFF, WebP, BMP...) or no image.
    case unsupportedFormat(file: String, format: String)
    /// The data ends before the image does.
    case truncated(file: String, detail: String)
    /// The decoder rejected the data.
    case corrupt(file: String, detail: String)
    /// The header announces more pixels than the configured limit (a decompression bomb guard);
    /// nothing was allocated for the pixels.
    case tooManyPixels(file: String, width: Int, height: Int, limit: Int)
    /// A preprocessing parameter is out of range (a zero size, a non-positive std...).
    case invalidParameter(name: String, value: String, reason: String)

    /// The short name of the cause, stable across releases (used in failure records and fixtures).
    public var kind: String {
        switch self {
        case .unreadable: return "unreadable"
        case .empty: return "empty"
        case .unsupportedFormat: return "unsupported"
        case .truncated: return "truncated"
        case .corrupt: return "corrupt"
        case .tooManyPixels: return "too_many_pixels"
        case .invalidParameter: return "invalid_parameter"
        }
    }

    /// The `kind` of the error whose `description` is `text` (as failure records store it, possibly
    /// behind a file name), or nil when `text` describes no image error.
    public static func kind(describedBy text: String) -> String? {
        let phrases: [(phrase: String, kind: String)] = [
            (": cannot read the file: ", "unreadable"), (": the file is empty (0 bytes)", "empty"),
            (": unsupported image format ", "unsupported"), (": truncated image data (", "truncated"),
            (": corrupt image data: ", "corrupt"), (" pixels exceeds the limit of ", "too_many_pixels"),
        ]
        if let match = phrases.first(where: { text.contains($0.phrase) }) { return match.kind }
        return text.hasPrefix("invalid ") || text.contains(": invalid ") ? "invalid_parameter" : nil
    }

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "\(file): cannot read the file: \(reason)"
        case let .empty(file):
            return "\(file): the file is empty (0 bytes)"
        case let .unsupportedFormat(file, format):
            return "\(file): unsupported image format \(format) (Strata decodes JPEG and PNG)"
        case let .truncated(file, detail):
            return "\(file): truncated image data (\(detail))"
        case let .corrupt(file, detail):
            return "\(file): corrupt image data: \(detail)"
        case let .tooManyPixels(file, width, height, limit):
            return "\(file): \(width)x\(height) = \(width * height) pixels exceeds the limit of \(limit) (possible decompression bomb)"
        case let .invalidParameter(name, value, reason):
            return "invalid \(name) \(value): \(reason)"
        }
    }
}
