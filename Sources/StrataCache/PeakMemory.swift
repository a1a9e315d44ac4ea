import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The process's peak resident size, as the kernel counts it (`getrusage`: anonymous memory and every
/// mapped file page the process touched).
public enum PeakMemory {
    /// Peak resident bytes of this process so far.
    public static var residentBytes: Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) * 1024
    }

}
