import Foundation

/// Keeps the memory map still while read transactions use it.
///
/// Growing the map (`mdb_env_set_mapsize`) unmaps and remaps the file, so no read transaction of this
/// process may be live at that moment. Read transactions enter the gate while they are live; a resize
/// waits for them to leave and holds new ones back until it is done.
final class MapGate: @unchecked Sendable {
    private let condition = NSCondition()
    private var liveReaders = 0
    private var resizing = false

    /// Called before a read transaction starts or renews.
    func enterRead() {
        condition.lock()
        while resizing { condition.wait() }
        liveReaders += 1
        condition.unlock()
    }

    /// Called after a read transaction ends or resets.
    func exitRead() {
        condition.lock()
        liveReaders -= 1
        if liveReaders == 0 { condition.broadcast() }
        condition.unlock()
    }

    /// Runs `body` with no read transaction of this process live.
    func exclusively<R>(_ body: () throws -> R) rethrows -> R {
        condition.lock()
        while resizing { condition.wait() }
        resizing = true
        while liveReaders > 0 { condition.wait() }
        condition.unlock()
        defer {
            condition.lock()
            resizing = false
            condition.broadcast()
            condition.unlock()
        }
        return try body()
    }
}
