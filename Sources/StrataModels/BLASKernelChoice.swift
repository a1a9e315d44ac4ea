import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Picks OpenBLAS's AVX-512 kernels on CPUs that have them but that OpenBLAS 0.3.21 does not
/// recognise (AMD Zen 4 EPYC gets the AVX2 "Haswell" kernels): measured here, ResNet-50 runs at
/// 269 GFLOP/s with `OPENBLAS_CORETYPE=SkylakeX` against 179 with the default choice, same results
/// to 3e-7. OpenBLAS reads the variable when the library loads, so the process must re-execute.
/// An explicit `OPENBLAS_CORETYPE` (these machines set `Haswell`) is always left alone. Nothing calls
/// this yet: a command opts in by calling `reexecutingWithAVX512KernelsIfUseful()` first thing.
public enum BLASKernelChoice {
    /// The environment variable OpenBLAS reads at load time.
    public static let variable = "OPENBLAS_CORETYPE"

    /// Whether `/proc/cpuinfo` lists the AVX-512 foundation, byte/word and vector-length flags.
    public static var cpuHasAVX512: Bool {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        let set = Set(flags.split(separator: " ").map(String.init))
        return ["avx512f", "avx512bw", "avx512vl", "avx512dq"].allSatisfy(set.contains)
    }

    /// The value to run with, or nil when the variable is already set or the CPU lacks AVX-512.
    public static var preferredCoreType: String? {
        guard ProcessInfo.processInfo.environment[variable] == nil, cpuHasAVX512 else { return nil }
        return "SkylakeX"
    }

    /// Re-executes this process with `OPENBLAS_CORETYPE=SkylakeX` when that helps (see above); returns
    /// normally when nothing needs to change or when re-execution is not possible.
    public static func reexecutingWithAVX512KernelsIfUseful() {
        #if os(Linux)
        guard let value = preferredCoreType else { return }
        setenv(variable, value, 1)
        let arguments = CommandLine.arguments
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", &argv)
        // execv only returns on failure: carry on with the default kernels.
        unsetenv(variable)
        #endif
    }
}
