/// Problems found while reading a dataset's annotation files.
///
/// Every case names the file and, where it applies, the JSON path of the offending value
/// (e.g. `annotations[17].caption`), so a user can go straight to it.
public enum DataError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be read.
    case unreadable(file: String, reason: String)
    /// The file is not valid JSON.
    case invalidJSON(file: String, reason: String)
    /// A required key is absent.
    case missingKey(file: String, path: String)
    /// A value has the wrong JSON type.
    case wrongType(file: String, path: String, expected: String, found: String)
    /// Two records share an id that must be unique.
    case duplicateID(file: String, path: String, id: Int64)
    /// A caption points at an image the dataset does not list.
    case unknownImage(file: String, path: String, imageID: Int64)
    /// A caption is empty or only whitespace.
    case emptyCaption(file: String, path: String, captionID: Int64)
    /// An image file name is absolute or climbs out of the image folder.
    case unsafeFileName(file: String, path: String, fileName: String)
    /// A listed image is not on disk.
    case missingImageFile(file: String, path: String, imagePath: String)
    /// A value outside what a record may hold (an id outside the cache's key range, a size that is
    /// not a positive pixel count, an overlong or control-character file name); `value` is its text.
    case invalidValue(file: String, path: String, value: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "\(file): cannot read: \(reason)"
        case let .invalidJSON(file, reason):
            return "\(file): not valid JSON: \(reason)"
        case let .missingKey(file, path):
            return "\(file): \(path) is missing"
        case let .wrongType(file, path, expected, found):
            return "\(file): \(path) should be \(expected), found \(found)"
        case let .duplicateID(file, path, id):
            return "\(file): \(path) repeats id \(id)"
        case let .unknownImage(file, path, imageID):
            return "\(file): \(path) refers to image \(imageID), which the dataset does not list"
        case let .emptyCaption(file, path, captionID):
            return "\(file): \(path) (caption \(captionID)) is empty"
        case let .unsafeFileName(file, path, fileName):
            return "\(file): \(path) file name '\(fileName)' leaves the image folder"
        case let .missingImageFile(file, path, imagePath):
            return "\(file): \(path) names \(imagePath), which does not exist"
        case let .invalidValue(file, path, value, reason):
            return "\(file): \(path) = \(value): \(reason)"
        }
    }

    /// Whether the problem concerns one record (which can be dropped) rather than the whole file.
    public var isRecordLevel: Bool {
        switch self {
        case .unreadable, .invalidJSON, .missingKey, .wrongType: return false
        case .duplicateID, .unknownImage, .emptyCaption, .unsafeFileName, .missingImageFile, .invalidValue: return true
        }
    }
}
