import StrataCache

/// One part of a build split into `count` parts (`strata build --part I/N`): the shards `k` of the whole
/// build with `k % count == index`, so every part gets a spread of the dataset and the parts finish
/// close together. `strata merge` joins the parts into the cache one build would have written.
public struct BuildPart: Sendable, Equatable, CustomStringConvertible {
    /// This part's number, from 0.
    public let index: Int
    /// How many parts the build is split into.
    public let count: Int

    /// Part `index` of `count`; `0 <= index < count`.
    public init(index: Int, count: Int) throws {
        guard count >= 1, index >= 0, index < count else {
            throw PipelineError.invalidPart(given: "\(index)/\(count)", reason: "needs 0 <= I < N (parts are numbered from 0)")
        }
        self.index = index
        self.count = count
    }

    /// Parses `I/N`, e.g. `0/3`.
    public init(parsing text: String) throws {
        let fields = text.split(separator: "/", omittingEmptySubsequences: false)
        guard fields.count == 2, let index = Int(fields[0]), let count = Int(fields[1]) else {
            throw PipelineError.invalidPart(given: text, reason: "expected I/N, e.g. 0/3 for the first of three parts")
        }
        try self.init(index: index, count: count)
    }

    /// The part a Slurm job-array task builds: `SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN` of
    /// `SLURM_ARRAY_TASK_COUNT` (so `--array=0-2` and `--array=1-3` both give parts 0, 1 and 2 of 3);
    /// nil outside a job array.
    public static func slurmArrayTask(_ environment: [String: String]) throws -> BuildPart? {
        guard let id = environment["SLURM_ARRAY_TASK_ID"] else { return nil }
        let given = "SLURM_ARRAY_TASK_ID=\(id) SLURM_ARRAY_TASK_COUNT=\(environment["SLURM_ARRAY_TASK_COUNT"] ?? "(unset)")"
        guard let task = Int(id), let count = environment["SLURM_ARRAY_TASK_COUNT"].flatMap({ Int($0) }) else {
            throw PipelineError.invalidPart(given: given, reason: "a job-array task needs numeric SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT")
        }
        let minimum = environment["SLURM_ARRAY_TASK_MIN"].flatMap { Int($0) } ?? 0
        if let step = environment["SLURM_ARRAY_TASK_STEP"].flatMap({ Int($0) }), step != 1 {
            throw PipelineError.invalidPart(given: given, reason: "the array has step \(step); submit it as --array=0-\(count - 1) (one task per part)")
        }
        do {
            return try BuildPart(index: task - minimum, count: count)
        } catch {
            throw PipelineError.invalidPart(given: given, reason: "task \(task) of an array starting at \(minimum) is not one of \(count) parts; submit it as --array=0-\(count - 1)")
        }
    }

    /// `I/N`.
    public var description: String { "\(index)/\(count)" }

    /// Whether shard `k` of the whole build is in this part.
    public func contains(shard: Int) -> Bool { shard % count == index }
}

extension BuildPlan {
    /// The plan of one part: its shards in build order, renumbered as the part cache's transactions,
    /// and the record its manifest keeps of them (which shard of the whole build each is).
    public func part(_ part: BuildPart) -> (plan: BuildPlan, record: Manifest.Part) {
        var shards: [Shard] = []
        var record: [Manifest.Part.Shard] = []
        for shard in self.shards where part.contains(shard: shard.index) {
            guard let first = shard.images.first?.id, let last = shard.images.last?.id else { continue }
            record.append(Manifest.Part.Shard(shard: shard.index, firstImage: first, lastImage: last,
                                              images: shard.images.count, captions: shard.captions.count))
            var renumbered = shard
            renumbered.index = shards.count
            shards.append(renumbered)
        }
        return (BuildPlan(shards: shards, problems: problems),
                Manifest.Part(index: part.index, count: part.count, totalShards: self.shards.count, shards: record))
    }
}
