import Foundation
import StrataCache
import StrataImage
import StrataTensor

/// A request to stop a build after the transaction it is writing; safe to raise from a signal
/// handler's dispatch source or any thread.
public final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false
    private var handlers: [@Sendable () -> Void] = []

    /// A flag that is not raised.
    public init() {}

    /// Whether a stop was requested.
    public var isRaised: Bool { lock.lock(); defer { lock.unlock() }; return raised }

    /// Requests the stop; the handlers run once, on the calling thread.
    public func raise() {
        lock.lock()
        let run = !raised
        raised = true
        let toRun = handlers
        lock.unlock()
        if run { toRun.forEach { $0() } }
    }

    /// Runs `handler` when the flag is raised (at once if it already is).
    func onRaise(_ handler: @escaping @Sendable () -> Void) {
        lock.lock()
        if raised {
            lock.unlock()
            handler()
            return
        }
        handlers.append(handler)
        lock.unlock()
    }
}

/// Keeps the stages at most `width` shards ahead of the writer, so feature batches waiting for their
/// other half cannot pile up in memory.
final class ShardWindow: @unchecked Sendable {
    private let condition = NSCondition()
    private var committed: Int
    private var open = true
    let width: Int

    init(firstShard: Int, width: Int) {
        committed = firstShard
        self.width = max(1, width)
    }

    /// Waits until shard `index` may start; false when the build is stopping.
    func waitForTurn(_ index: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while open && index >= committed + width { condition.wait() }
        return open
    }

    /// Records that every shard below `next` is committed.
    func committed(upTo next: Int) {
        condition.lock()
        committed = next
        condition.broadcast()
        condition.unlock()
    }

    /// Releases every waiter; later waits return false.
    func close() {
        condition.lock()
        open = false
        condition.broadcast()
        condition.unlock()
    }
}

/// The pixels `[n, 3, H, W]` of one batch of a shard's images, allocated by the feeder before they are
/// decoded: each decode worker preprocesses its image straight into its own slot, so a shard whose images
/// all decode is encoded from these tensors without a copy. Slots are disjoint, so writers need no lock.
final class ImageSlots: @unchecked Sendable {
    /// The batch, one slot per image in plan order.
    let pixels: Tensor
    /// Floats in one slot.
    private let stride: Int

    /// Slots for `count` images of `size`.
    init(count: Int, size: ImageSize) {
        pixels = Tensor(zeros: [count, 3, size.height, size.width])
        stride = 3 * size.height * size.width
    }

    /// Slot `index`'s memory, for the one worker that decodes that image.
    func slot(_ index: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pixels.storage.bytes.assumingMemoryBound(to: Float.self) + index * stride, count: stride)
    }

    /// Slot `index` as read-only memory, once its worker is done.
    func filled(_ index: Int) -> UnsafeBufferPointer<Float> { UnsafeBufferPointer(slot(index)) }
}

/// One image for the decode workers, and the batch slot its pixels go to.
struct ImageJob: Sendable {
    var shard: Int
    /// Position of the image in the whole build, for putting results back in order.
    var sequence: Int
    var image: BuildPlan.Image
    var slots: ImageSlots
    var slot: Int
}

/// A decode worker's result: the image's slot holds its preprocessed pixels `[3, H, W]`, unless it failed.
struct DecodedImage: Sendable {
    var shard: Int
    var sequence: Int
    var id: UInt64
    var slots: ImageSlots
    var slot: Int
    var failure: String?
}

/// A batch for an image encoder worker.
struct ImageBatch: @unchecked Sendable {
    var shard: Int
    var ids: [UInt64]
    var pixels: Tensor
}

/// A batch of tokenized captions of equal padded length, for a text encoder worker.
struct TextBatch: @unchecked Sendable {
    var shard: Int
    var ids: [UInt64]
    var lengths: [Int]
    var inputIDs: Tensor
    var attentionMask: Tensor
    var tokenTypeIDs: Tensor
}

/// Rows of one feature column for some samples of a shard.
struct ColumnRows: @unchecked Sendable {
    var column: String
    var ids: [UInt64]
    var rows: Tensor
    var lengths: [Int]?
}

/// What the writer receives: pieces of a shard from the image side and the text side.
enum ShardPart: @unchecked Sendable {
    /// How many encoded image batches shard `shard` has, and the images that failed.
    case imagePlan(shard: Int, batches: Int, failures: [(UInt64, String)])
    /// How many encoded caption batches the shard has, the caption records (with token ids), and the
    /// captions that failed.
    case textPlan(shard: Int, batches: Int, records: [(UInt64, CaptionRecord)], failures: [(UInt64, String)])
    /// Features of one encoded batch (or the failures of a batch the encoder rejected).
    case features(shard: Int, modality: Manifest.Modality, rows: [ColumnRows], failures: [(UInt64, String)])
}

/// Collects a shard's parts until both sides are complete.
struct ShardAssembly {
    var imageBatches: Int?
    var textBatches: Int?
    var receivedImage = 0
    var receivedText = 0
    var rows: [ColumnRows] = []
    var captions: [(UInt64, CaptionRecord)] = []
    var failures: [(Manifest.Modality, UInt64, String)] = []

    /// Whether every expected part arrived.
    var isComplete: Bool {
        guard let imageBatches, let textBatches else { return false }
        return receivedImage == imageBatches && receivedText == textBatches
    }

    mutating func add(_ part: ShardPart) {
        switch part {
        case let .imagePlan(_, batches, failures):
            imageBatches = batches
            self.failures += failures.map { (.image, $0.0, $0.1) }
        case let .textPlan(_, batches, records, failures):
            textBatches = batches
            captions = records
            self.failures += failures.map { (.text, $0.0, $0.1) }
        case let .features(_, modality, rows, failures):
            if modality == .image { receivedImage += 1 } else { receivedText += 1 }
            self.rows += rows
            self.failures += failures.map { (modality, $0.0, $0.1) }
        }
    }
}
