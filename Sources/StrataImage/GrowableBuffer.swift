/// A grow-only block of memory reused from image to image, so a worker stops allocating once it has
/// seen its largest input.
final class GrowableBuffer<Element> {
    private(set) var pointer: UnsafeMutablePointer<Element>
    private(set) var capacity: Int

    init(capacity: Int = 0) {
        self.capacity = max(capacity, 1)
        pointer = UnsafeMutablePointer<Element>.allocate(capacity: self.capacity)
    }

    /// Room for at least `count` elements (contents are not preserved when it grows).
    func reserve(_ count: Int) -> UnsafeMutablePointer<Element> {
        if count > capacity {
            pointer.deallocate()
            capacity = max(count, capacity + capacity / 2)
            pointer = UnsafeMutablePointer<Element>.allocate(capacity: capacity)
        }
        return pointer
    }

    deinit { pointer.deallocate() }
}
