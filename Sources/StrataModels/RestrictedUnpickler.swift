import Foundation

/// A storage a tensor views: the persistent id `('storage', torch.XStorage, key, location, numel)`.
struct TorchStorageRef: Equatable {
    let key: String
    let dtype: TorchDType
    let count: Int
}

/// A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage.
struct TorchTensorRef: Equatable {
    let storage: TorchStorageRef
    let offset: Int
    let shape: [Int]
    let strides: [Int]
}

/// A value built by the restricted unpickler. Lists and dicts are boxes, as pickle's memo shares them.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    case global(PickleGlobal)
    case storage(TorchStorageRef)
    case tensor(TorchTensorRef)

    var kind: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case let .global(global): return global.qualifiedName
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

/// A mutable list shared through the memo.
final class PickleList {
    var items: [PickleValue] = []
}

/// A mutable dict shared through the memo; string keys in insertion order (others are kept unnamed).
final class PickleDict {
    private(set) var keys: [String] = []
    private(set) var values: [String: PickleValue] = [:]

    func set(_ key: PickleValue, _ value: PickleValue) {
        let name: String
        switch key {
        case let .string(text): name = text
        case let .int(number): name = String(number)
        default: return
        }
        if values[name] == nil { keys.append(name) }
        values[name] = value
    }
}

/// The only globals a checkpoint may name: what `torch.save` of a state dict writes.
enum PickleGlobal: Equatable {
    case orderedDict
    case rebuildTensor
    case rebuildParameter
    case storageType(TorchDType)

    var qualifiedName: String {
        switch self {
        case .orderedDict: return "collections.OrderedDict"
        case .rebuildTensor: return "torch._utils._rebuild_tensor_v2"
        case .rebuildParameter: return "torch._utils._rebuild_parameter"
        case let .storageType(dtype): return "torch.\(dtype.rawValue)"
        }
    }

    /// The allowed global of this name, or nil.
    static func allowed(module: String, name: String) -> PickleGlobal? {
        switch (module, name) {
        case ("collections", "OrderedDict"): return .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensor
        case ("torch._utils", "_rebuild_parameter"): return .rebuildParameter
        case ("torch", _): return TorchDType(rawValue: name).map { .storageType($0) }
        default: return nil
        }
    }
}

/// A pickle reader that understands only what a PyTorch state dict is made of (protocols 2 to 5) and
/// never runs code: it builds values itself, and a global other than `collections.OrderedDict`,
/// `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_parameter` and the `torch.*Storage` types is
/// refused the moment the stream names it, with an error naming it.
struct RestrictedUnpickler {
    let path: String
    private let bytes: UnsafeRawBufferPointer
    /// The offset of the next byte to read: after `load()`, the first byte past its STOP.
    private(set) var position = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    /// A reader of the pickle `bytes` (from the file at `path`, named in errors).
    init(bytes: UnsafeRawBufferPointer, path: String) {
        self.bytes = bytes
        self.path = path
    }

    /// Reads the stream up to STOP and returns its value.
    mutating func load() throws -> PickleValue {
        while true {
            let at = position
            let opcode = try byte()
            if opcode == 0x2e { // STOP
                guard let value = stack.popLast() else { throw fail("STOP with an empty stack", at) }
                return value
            }
            try step(opcode, at: at)
        }
    }

    private func fail(_ reason: String, _ at: Int) -> ModelError {
        ModelError.badPickle(file: path, reason: "\(reason) (byte \(at))")
    }

    private mutating func step(_ opcode: UInt8, at: Int) throws {
        switch opcode {
        case 0x80: // PROTO
            let version = try byte()
            guard version >= 2, version <= 5 else { throw fail("pickle protocol \(version) is not supported (2 to 5 are)", at) }
        case 0x95: _ = try take(8) // FRAME: frames are transparent here
        case 0x28: marks.append(stack.count) // MARK
        case 0x7d: stack.append(.dict(PickleDict())) // EMPTY_DICT
        case 0x5d: stack.append(.list(PickleList())) // EMPTY_LIST
        case 0x29: stack.append(.tuple([])) // EMPTY_TUPLE
        case 0x74: stack.append(.tuple(try popMark(at))) // TUPLE
        case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
            let count = Int(opcode - 0x84)
            guard stack.count >= count else { throw fail("tuple of \(count) from a stack of \(stack.count)", at) }
            stack.append(.tuple(Array(stack.suffix(count))))
            stack.removeSubrange((stack.count - count - 1)..<(stack.count - 1))
        case 0x6c: // LIST
            let list = PickleList()
            list.items = try popMark(at)
            stack.append(.list(list))
        case 0x64: // DICT
            let dict = PickleDict()
            try setItems(dict, try popMark(at), at)
            stack.append(.dict(dict))
        case 0x4e: stack.append(.none) // NONE
        case 0x88: stack.append(.bool(true)) // NEWTRUE
        case 0x89: stack.append(.bool(false)) // NEWFALSE
        case 0x4b: stack.append(.int(Int(try byte()))) // BININT1
        case 0x4d: stack.append(.int(Int(try littleEndian(2)))) // BININT2
        case 0x4a: stack.append(.int(Int(Int32(truncatingIfNeeded: try littleEndian(4))))) // BININT
        case 0x8a: stack.append(.int(try long(count: Int(try byte()), at))) // LONG1
        case 0x8b: stack.append(.int(try long(count: try length(4, at), at))) // LONG4
        case 0x47: // BINFLOAT (big-endian)
            stack.append(.float(Double(bitPattern: UInt64(bigEndian: UInt64(truncatingIfNeeded: try littleEndian(8))))))
        case 0x58: stack.append(.string(try text(try length(4, at)))) // BINUNICODE
        case 0x8c: stack.append(.string(try text(Int(try byte())))) // SHORT_BINUNICODE
        case 0x8d: stack.append(.string(try text(try length(8, at)))) // BINUNICODE8
        case 0x55: stack.append(.string(try text(Int(try byte())))) // SHORT_BINSTRING
        case 0x54: stack.append(.string(try text(try length(4, at)))) // BINSTRING
        case 0x43: stack.append(.bytes(Array(try take(Int(try byte()))))) // SHORT_BINBYTES
        case 0x42: stack.append(.bytes(Array(try take(try length(4, at))))) // BINBYTES
        case 0x8e: stack.append(.bytes(Array(try take(try length(8, at))))) // BINBYTES8
        case 0x71: try memoize(Int(try byte()), at) // BINPUT
        case 0x72: try memoize(try length(4, at), at) // LONG_BINPUT
        case 0x94: try memoize(memo.count, at) // MEMOIZE
        case 0x68: try recall(Int(try byte()), at) // BINGET
        case 0x6a: try recall(try length(4, at), at) // LONG_BINGET
        case 0x30: try pop(at) // POP
        case 0x31: _ = try popMark(at) // POP_MARK
        case 0x32: // DUP
            guard let top = stack.last else { throw fail("DUP on an empty stack", at) }
            stack.append(top)
        case 0x63: // GLOBAL: "module\nname\n"
            let module = try line()
            let name = try line()
            stack.append(.global(try global(module: module, name: name, at)))
        case 0x93: // STACK_GLOBAL
            let name = try pop(at)
            let module = try pop(at)
            guard case let .string(moduleText) = module, case let .string(nameText) = name else {
                throw fail("STACK_GLOBAL needs two strings, got \(module.kind) and \(name.kind)", at)
            }
            stack.append(.global(try global(module: moduleText, name: nameText, at)))
        case 0x51: // BINPERSID
            stack.append(try persistent(try pop(at), at))
        case 0x52: // REDUCE
            let arguments = try pop(at)
            let callable = try pop(at)
            stack.append(try reduce(callable, arguments, at))
        case 0x62: // BUILD: object state; a state dict's `_metadata` attribute, dropped
            let state = try pop(at)
            guard let target = stack.last else { throw fail("BUILD on an empty stack", at) }
            guard case .dict = target else {
                throw fail("BUILD on a \(target.kind) with a \(state.kind) state", at)
            }
        case 0x73: // SETITEM
            let value = try pop(at)
            let key = try pop(at)
            guard case let .dict(dict)? = stack.last else { throw fail("SETITEM on a non-dict", at) }
            dict.set(key, value)
        case 0x75: // SETITEMS
            let items = try popMark(at)
            guard case let .dict(dict)? = stack.last else { throw fail("SETITEMS on a non-dict", at) }
            try setItems(dict, items, at)
        case 0x61: // APPEND
            let value = try pop(at)
            guard case let .list(list)? = stack.last else { throw fail("APPEND on a non-list", at) }
            list.items.append(value)
        case 0x65: // APPENDS
            let items = try popMark(at)
            guard case let .list(list)? = stack.last else { throw fail("APPENDS on a non-list", at) }
            list.items.append(contentsOf: items)
        case 0x69, 0x6f, 0x81, 0x92, 0x82, 0x83, 0x84: // INST, OBJ, NEWOBJ, NEWOBJ_EX, EXT1, EXT2, EXT4
            throw fail(String(format: "opcode 0x%02x builds arbitrary objects; a state dict does not use it", opcode), at)
        default:
            throw fail(String(format: "opcode 0x%02x is not one a state dict uses", opcode), at)
        }
    }

    // MARK: Reading bytes

    private mutating func byte() throws -> UInt8 {
        guard position < bytes.count else { throw fail("the pickle ends before STOP", position) }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func take(_ count: Int) throws -> UnsafeRawBufferPointer.SubSequence {
        guard count >= 0, count <= bytes.count - position else {
            throw fail("\(count) bytes announced, \(bytes.count - position) remain", position)
        }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    private mutating func littleEndian(_ count: Int) throws -> UInt64 {
        var value: UInt64 = 0
        for (shift, byte) in try take(count).enumerated() { value |= UInt64(byte) << (8 * shift) }
        return value
    }

    private mutating func length(_ count: Int, _ at: Int) throws -> Int {
        let value = try littleEndian(count)
        guard value <= UInt64(bytes.count) else { throw fail("length \(value) exceeds the pickle", at) }
        return Int(value)
    }

    /// A little-endian two's-complement integer of `count` bytes (LONG1, LONG4).
    private mutating func long(count: Int, _ at: Int) throws -> Int {
        let raw = try take(count)
        guard count <= 8 else { throw fail("integer of \(count) bytes is too large", at) }
        guard count > 0 else { return 0 }
        var value: UInt64 = 0
        for (shift, byte) in raw.enumerated() { value |= UInt64(byte) << (8 * shift) }
        if count < 8, raw[raw.endIndex - 1] & 0x80 != 0 { value |= ~0 << (8 * count) }
        return Int(Int64(bitPattern: value))
    }

    private mutating func text(_ count: Int) throws -> String {
        String(decoding: try take(count), as: UTF8.self)
    }

    private mutating func line() throws -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0a) else { throw fail("GLOBAL without a newline", position) }
        defer { position = end + 1 }
        return String(decoding: bytes[position..<end], as: UTF8.self)
    }

    // MARK: Stack and memo

    @discardableResult
    private mutating func pop(_ at: Int) throws -> PickleValue {
        guard let value = stack.popLast() else { throw fail("pop from an empty stack", at) }
        return value
    }

    private mutating func popMark(_ at: Int) throws -> [PickleValue] {
        guard let mark = marks.popLast(), mark <= stack.count else { throw fail("no MARK on the stack", at) }
        defer { stack.removeSubrange(mark...) }
        return Array(stack[mark...])
    }

    private mutating func memoize(_ index: Int, _ at: Int) throws {
        guard let top = stack.last else { throw fail("memoize with an empty stack", at) }
        memo[index] = top
    }

    private mutating func recall(_ index: Int, _ at: Int) throws {
        guard let value = memo[index] else { throw fail("memo \(index) was never stored", at) }
        stack.append(value)
    }

    private func setItems(_ dict: PickleDict, _ items: [PickleValue], _ at: Int) throws {
        guard items.count % 2 == 0 else { throw fail("odd number of dict items", at) }
        for index in stride(from: 0, to: items.count, by: 2) { dict.set(items[index], items[index + 1]) }
    }

    // MARK: The allowed constructions

    private func global(module: String, name: String, _ at: Int) throws -> PickleGlobal {
        guard let allowed = PickleGlobal.allowed(module: module, name: name) else {
            throw ModelError.unsafePickle(file: path, global: "\(module).\(name)")
        }
        return allowed
    }

    /// `('storage', torch.XStorage, key, location, numel)`, or in legacy files the same with a sixth field,
    /// the view metadata, which `torch.save` has written as `None` since PyTorch 0.4.
    private func persistent(_ id: PickleValue, _ at: Int) throws -> PickleValue {
        if case let .tuple(fields) = id, fields.count == 6 {
            guard case .none = fields[5] else {
                throw fail("a legacy storage view (persistent id with view metadata) is not supported", at)
            }
            return try persistent(.tuple(Array(fields.prefix(5))), at)
        }
        guard case let .tuple(fields) = id, fields.count == 5, case .string("storage") = fields[0],
              case let .global(.storageType(dtype)) = fields[1], case let .string(key) = fields[2],
              case let .int(count) = fields[4], count >= 0 else {
            throw fail("persistent id is not ('storage', torch.XStorage, key, location, numel)", at)
        }
        return .storage(TorchStorageRef(key: key, dtype: dtype, count: count))
    }

    private func reduce(_ callable: PickleValue, _ arguments: PickleValue, _ at: Int) throws -> PickleValue {
        guard case let .global(global) = callable, case let .tuple(args) = arguments else {
            throw fail("REDUCE of a \(callable.kind) with \(arguments.kind) arguments", at)
        }
        switch global {
        case .orderedDict:
            let dict = PickleDict()
            if case let .list(pairs)? = args.first {
                for pair in pairs.items {
                    guard case let .tuple(item) = pair, item.count == 2 else { throw fail("OrderedDict item is not a pair", at) }
                    dict.set(item[0], item[1])
                }
            }
            return .dict(dict)
        case .rebuildTensor:
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            guard args.count >= 4, case let .storage(storage) = args[0], case let .int(offset) = args[1],
                  let shape = integers(args[2]), let strides = integers(args[3]) else {
                throw fail("_rebuild_tensor_v2 arguments are not (storage, offset, size, stride, ...)", at)
            }
            guard offset >= 0, shape.count == strides.count, shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }) else {
                throw fail("tensor with offset \(offset), size \(shape), stride \(strides) is not a valid view", at)
            }
            return .tensor(TorchTensorRef(storage: storage, offset: offset, shape: shape, strides: strides))
        case .rebuildParameter:
            guard case .tensor? = args.first else { throw fail("_rebuild_parameter of a non-tensor", at) }
            return args[0]
        case .storageType:
            throw fail("\(global.qualifiedName) is only valid in a persistent id", at)
        }
    }

    private func integers(_ value: PickleValue) -> [Int]? {
        guard case let .tuple(items) = value else { return nil }
        var result: [Int] = []
        for item in items {
            guard case let .int(number) = item else { return nil }
            result.append(number)
        }
        return result
    }
}
