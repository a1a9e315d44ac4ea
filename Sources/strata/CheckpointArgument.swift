import ArgumentParser
import Foundation
import StrataModels

/// A checkpoint given on the command line: a path, or when no such path exists a hub name resolved in the
/// local caches (an error lists every place looked at).
enum CheckpointArgument {
    static func url(_ text: String) throws -> URL {
        let path = URL(fileURLWithPath: (text as NSString).expandingTildeInPath)
        guard !FileManager.default.fileExists(atPath: path.path), CheckpointResolver.looksLikeName(text) else { return path }
        do {
            return try CheckpointResolver().resolve(text)
        } catch let error as ModelError {
            throw ValidationError(error.description)
        }
    }
}
