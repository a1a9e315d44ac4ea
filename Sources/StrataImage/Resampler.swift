/// A rectangle in pixel coordinates.
public struct PixelWindow: Equatable, Sendable {
    /// Left column and top row; may be negative when the window reaches past the image (padding).
    public var x: Int
    public var y: Int
    /// Size in pixels.
    public var width: Int
    public var height: Int

    /// A window at (`x`, `y`) of `width` x `height`.
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// The part of the window inside an image of `width` x `height`, as column and row ranges.
    func clipped(width imageWidth: Int, height imageHeight: Int) -> (columns: Range<Int>, rows: Range<Int>) {
        let c0 = min(max(x, 0), imageWidth), c1 = max(min(x + width, imageWidth), c0)
        let r0 = min(max(y, 0), imageHeight), r1 = max(min(y + height, imageHeight), r0)
        return (c0..<c1, r0..<r1)
    }
}

/// Pillow's 8-bit `ImagingResample` (two separable passes in the order Pillow takes, fixed-point coefficients,
/// rounding by adding half and shifting, clipping to 0-255), evaluated only for the output pixels a
/// window (the later crop) keeps: each output pixel depends only on its own coefficients, so the
/// pixels are the ones Pillow computes for the whole image. Keeps its buffers and coefficient tables
/// between calls; one per worker.
final class Resampler {
    private struct KernelKey: Hashable {
        var inSize: Int
        var outSize: Int
        var interpolation: Interpolation
    }

    private var kernels: [KernelKey: ResampleKernel] = [:]
    private let intermediate = GrowableBuffer<UInt8>()
    private let accumulator = GrowableBuffer<Int32>()

    private func kernel(_ inSize: Int, _ outSize: Int, _ interpolation: Interpolation) -> ResampleKernel {
        let key = KernelKey(inSize: inSize, outSize: outSize, interpolation: interpolation)
        if let cached = kernels[key] { return cached }
        if kernels.count > 64 { kernels.removeAll(keepingCapacity: true) }
        let made = ResampleKernel(inSize: inSize, outSize: outSize, interpolation: interpolation)
        kernels[key] = made
        return made
    }

    /// The columns and rows of an `imageWidth` x `imageHeight` source that resizing to
    /// `outWidth` x `outHeight` reads for the pixels inside `window`.
    func requiredInput(imageWidth: Int, imageHeight: Int, outWidth: Int, outHeight: Int, window: PixelWindow,
                       interpolation: Interpolation) -> (columns: Range<Int>, rows: Range<Int>) {
        let valid = window.clipped(width: outWidth, height: outHeight)
        let columns = outWidth == imageWidth ? valid.columns
            : kernel(imageWidth, outWidth, interpolation).inputRange(for: valid.columns)
        let rows = outHeight == imageHeight ? valid.rows
            : kernel(imageHeight, outHeight, interpolation).inputRange(for: valid.rows)
        return (columns, rows)
    }

    /// Resizes `source` to `outWidth` x `outHeight` and writes the pixels of `window` to `out`
    /// (packed RGB rows of `window.width` pixels); window pixels outside the resized image are 0.
    /// `source` must hold the rows and columns `requiredInput` names.
    func resample(_ source: PixelRegion, outWidth: Int, outHeight: Int, window: PixelWindow,
                  interpolation: Interpolation, into out: UnsafeMutablePointer<UInt8>) {
        let valid = window.clipped(width: outWidth, height: outHeight)
        let outStride = window.width * 3
        if valid.columns.count != window.width || valid.rows.count != window.height {
            out.initialize(repeating: 0, count: outStride * window.height)
        }
        guard !valid.columns.isEmpty, !valid.rows.isEmpty else { return }
        let needHorizontal = outWidth != source.imageWidth
        let needVertical = outHeight != source.imageHeight
        let target = out + (valid.rows.lowerBound - window.y) * outStride + (valid.columns.lowerBound - window.x) * 3
        let rowLength = valid.columns.count * 3

        if needHorizontal && needVertical
            && Resampler.verticalFirst(inWidth: source.imageWidth, inHeight: source.imageHeight,
                                       outWidth: outWidth, outHeight: outHeight) {
            // Intermediate image: rows `valid.rows` of the output height, the source columns read later.
            let horizontal = kernel(source.imageWidth, outWidth, interpolation)
            let vertical = kernel(source.imageHeight, outHeight, interpolation)
            let columns = horizontal.inputRange(for: valid.columns)
            let rows = vertical.inputRange(for: valid.rows)
            let midStride = columns.count * 3
            let mid = intermediate.reserve(midStride * valid.rows.count)
            let acc = accumulator.reserve(midStride)
            let first = source.row(rows.lowerBound) + columns.lowerBound * 3
            for yy in valid.rows {
                let midRow = mid + (yy - valid.rows.lowerBound) * midStride
                Resampler.verticalPass(first, stride: source.stride, firstRow: rows.lowerBound, kernel: vertical, output: yy,
                                       accumulator: acc, length: midStride, into: midRow)
                Resampler.horizontalPass(midRow, firstColumn: columns.lowerBound, kernel: horizontal,
                                         columns: valid.columns, into: target + (yy - valid.rows.lowerBound) * outStride)
            }
            return
        }

        let vertical = needVertical ? kernel(source.imageHeight, outHeight, interpolation) : nil
        let rows = vertical?.inputRange(for: valid.rows) ?? valid.rows
        // Intermediate image: rows `rows` of the source, columns `valid.columns` of the output width.
        var mid: UnsafeMutablePointer<UInt8>
        var midStride: Int
        if needHorizontal {
            let horizontal = kernel(source.imageWidth, outWidth, interpolation)
            midStride = rowLength
            mid = intermediate.reserve(midStride * rows.count)
            for y in rows {
                Resampler.horizontalPass(source.row(y), firstColumn: 0, kernel: horizontal, columns: valid.columns,
                                         into: mid + (y - rows.lowerBound) * midStride)
            }
        } else {
            mid = source.row(rows.lowerBound) + valid.columns.lowerBound * 3
            midStride = source.stride
        }

        if let vertical {
            let acc = accumulator.reserve(rowLength)
            for yy in valid.rows {
                Resampler.verticalPass(mid, stride: midStride, firstRow: rows.lowerBound, kernel: vertical, output: yy,
                                       accumulator: acc, length: rowLength,
                                       into: target + (yy - valid.rows.lowerBound) * outStride)
            }
        } else {
            for yy in valid.rows {
                (target + (yy - valid.rows.lowerBound) * outStride)
                    .update(from: mid + (yy - rows.lowerBound) * midStride, count: rowLength)
            }
        }
    }

    /// Whether the Pillow build torchvision runs (Pillow 13) resamples vertically first for this
    /// size change. Its 8-bit results match a vertical-first pass order exactly when the height shrinks
    /// by more than twice as many pixels as the width (measured on random images of all size pairs;
    /// the order changes the rounding of the intermediate image, so it matters for bit-exactness).
    static func verticalFirst(inWidth: Int, inHeight: Int, outWidth: Int, outHeight: Int) -> Bool {
        inHeight > outHeight && inHeight - outHeight > 2 * (inWidth - outWidth)
    }

    @inline(__always) private static func clip8(_ value: Int32) -> UInt8 {
        let shifted = value >> ResampleKernel.precisionBits
        return shifted < 0 ? 0 : (shifted > 255 ? 255 : UInt8(truncatingIfNeeded: shifted))
    }

    /// One row of Pillow's `ImagingResampleHorizontal_8bpc` for output columns `columns`.
    /// `row` holds source columns from `firstColumn` on.
    private static func horizontalPass(_ row: UnsafeMutablePointer<UInt8>, firstColumn: Int, kernel: ResampleKernel,
                                       columns: Range<Int>, into out: UnsafeMutablePointer<UInt8>) {
        let half: Int32 = 1 << (ResampleKernel.precisionBits - 1)
        kernel.weights.withUnsafeBufferPointer { weights in
            kernel.first.withUnsafeBufferPointer { first in
                kernel.count.withUnsafeBufferPointer { count in
                    var o = out
                    for xx in columns {
                        let k = weights.baseAddress.unsafelyUnwrapped + xx * kernel.taps
                        var p = row + (Int(first[xx]) - firstColumn) * 3
                        var s0 = half, s1 = half, s2 = half
                        for i in 0..<Int(count[xx]) {
                            let w = k[i]
                            s0 &+= Int32(p[0]) &* w
                            s1 &+= Int32(p[1]) &* w
                            s2 &+= Int32(p[2]) &* w
                            p += 3
                        }
                        o[0] = clip8(s0)
                        o[1] = clip8(s1)
                        o[2] = clip8(s2)
                        o += 3
                    }
                }
            }
        }
    }

    /// One output row of Pillow's `ImagingResampleVertical_8bpc`.
    private static func verticalPass(_ mid: UnsafeMutablePointer<UInt8>, stride: Int, firstRow: Int, kernel: ResampleKernel,
                                     output yy: Int, accumulator acc: UnsafeMutablePointer<Int32>, length: Int,
                                     into out: UnsafeMutablePointer<UInt8>) {
        let half: Int32 = 1 << (ResampleKernel.precisionBits - 1)
        acc.initialize(repeating: half, count: length)
        let start = Int(kernel.first[yy]) - firstRow
        kernel.weights.withUnsafeBufferPointer { weights in
            for i in 0..<Int(kernel.count[yy]) {
                let w = weights[yy * kernel.taps + i]
                let src = mid + (start + i) * stride
                for j in 0..<length { acc[j] &+= Int32(src[j]) &* w }
            }
        }
        for j in 0..<length { out[j] = clip8(acc[j]) }
    }
}
