import Foundation

/// The process's peak resident size, as the kernel counts it: anonymous memory and every mapped file
/// page the process touched.
public enum PeakMemory {
    /// Peak resident bytes of this process's memory map (`VmHWM` of `/proc/self/status`); unlike
    /// `getrusage`, not inherited through the `vfork` + `exec` that started the process. NaN where the
    /// file is missing.
    public static var residentBytes: Double {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return line.split(separator: " ").dropFirst().first.flatMap { Double($0) }.map { $0 * 1024 } ?? .nan
        }
        return .nan
    }

    /// Starts the peak over from the current resident size (Linux: `/proc/self/clear_refs`).
    public static func reset() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }
}
