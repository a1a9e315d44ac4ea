import Foundation
import StrataTensor

/// The legacy (pre-1.6, non-zip) `torch.save` format, as older checkpoints still on PyPI and model zoos
/// were written: five pickles one after the other (the magic number 0x1950a86a20f9469cfc6c, the format
/// version 1001, a dict of system information, the object, the sorted list of storage keys), then each
/// storage in that order as a little-endian 8-byte element count followed by its raw elements.
///
/// Every pickle goes through `RestrictedUnpickler`, so a legacy file runs no code either. The storages
/// are not copied: they point into the caller's mapping of the file.
struct LegacyTorchFile {
    /// The unpickled object (a state dict, or a dict holding one).
    let root: PickleValue
    /// Storage key → its bytes inside the mapped file.
    let storages: [String: UnsafeRawBufferPointer]

    /// The format version `torch.save` writes after the magic number.
    static let protocolVersion = 1001

    /// Reads the legacy file mapped as `file` (named `path` in errors).
    init(file: MappedFile, path: String) throws {
        guard let base = file.bytes else { throw ModelError.badPickle(file: path, reason: "the file is empty") }
        let bytes = UnsafeRawBufferPointer(start: base, count: file.count)
        // The magic number's pickle is the 14 bytes `TorchCheckpoint.isLegacy` checked (its 80-bit integer
        // does not fit the unpickler's Int) and a STOP.
        guard bytes.count > TorchCheckpoint.legacyMagic.count, bytes[TorchCheckpoint.legacyMagic.count] == 0x2e else {
            throw ModelError.badPickle(file: path, reason: "the legacy magic number is not followed by STOP")
        }
        var offset = TorchCheckpoint.legacyMagic.count + 1
        func nextPickle() throws -> PickleValue {
            var unpickler = RestrictedUnpickler(bytes: UnsafeRawBufferPointer(rebasing: bytes[offset...]), path: path)
            let value = try unpickler.load()
            offset += unpickler.position
            return value
        }
        guard case .int(LegacyTorchFile.protocolVersion) = try nextPickle() else {
            throw ModelError.badPickle(file: path, reason: "legacy torch.save format version is not \(LegacyTorchFile.protocolVersion)")
        }
        if case let .dict(info) = try nextPickle(), case .bool(false)? = info.values["little_endian"] {
            throw ModelError.badArchive(file: path, reason: "a big-endian legacy torch.save file is not supported")
        }
        let root = try nextPickle()
        guard case let .list(keyList) = try nextPickle() else {
            throw ModelError.badPickle(file: path, reason: "the legacy storage key list is missing")
        }
        let dtypes = LegacyTorchFile.storageTypes(in: root)
        var storages: [String: UnsafeRawBufferPointer] = [:]
        for item in keyList.items {
            guard case let .string(key) = item else {
                throw ModelError.badPickle(file: path, reason: "a legacy storage key is a \(item.kind), not a string")
            }
            guard let dtype = dtypes[key] else {
                throw ModelError.badArchive(file: path, reason: "storage \(key) is listed but no tensor names its type")
            }
            guard bytes.count - offset >= 8 else {
                throw ModelError.badArchive(file: path, reason: "storage \(key): the file ends at byte \(bytes.count), before its size")
            }
            let count = Int(Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: Int64.self)))
            offset += 8
            let (size, overflow) = count.multipliedReportingOverflow(by: dtype.size)
            guard count >= 0, !overflow, size <= bytes.count - offset else {
                throw ModelError.badArchive(file: path, reason: "storage \(key): \(count) \(dtype.name) elements do not fit in the \(bytes.count - offset) bytes left")
            }
            storages[key] = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + size)])
            offset += size
        }
        self.root = root
        self.storages = storages
    }

    /// Storage key → element type, from every tensor the object holds.
    private static func storageTypes(in value: PickleValue) -> [String: TorchDType] {
        var types: [String: TorchDType] = [:]
        func visit(_ value: PickleValue) {
            switch value {
            case let .tensor(tensor): types[tensor.storage.key] = tensor.storage.dtype
            case let .storage(storage): types[storage.key] = storage.dtype
            case let .dict(dict): dict.keys.forEach { dict.values[$0].map(visit) }
            case let .list(list): list.items.forEach(visit)
            case let .tuple(items): items.forEach(visit)
            default: break
            }
        }
        visit(value)
        return types
    }
}
