/// Reusable scratch memory for kernels that need it (im2col columns, attention scores).
///
/// It grows to the largest request and never shrinks; a pointer it returns is valid until the next
/// request. Not thread-safe: keep one per worker thread.
public final class Workspace: @unchecked Sendable {
    private var buffer: UnsafeMutablePointer<Float>
    /// Number of floats currently allocated.
    public private(set) var capacity: Int

    /// A workspace holding `capacity` floats to start with.
    public init(capacity: Int = 0) {
        self.capacity = max(capacity, 16)
        buffer = Workspace.allocate(self.capacity)
    }

    deinit { buffer.deallocate() }

    /// Scratch space for at least `count` floats (contents unspecified).
    public func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            buffer.deallocate()
            capacity = count
            buffer = Workspace.allocate(count)
        }
        return buffer
    }

    private static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
        return raw.bindMemory(to: Float.self, capacity: count)
    }
}
