extension Kernels {
    /// Unfolds one image (`[channels, height, width]`) into the columns of a convolution.
    ///
    /// Writes `[channels · kh · kw, outHeight · outWidth]` floats to `columns`: row `(c, i, j)` holds, for
    /// every output position `(y, x)`, the input value at `(y·sh - ph + i·dh, x·sw - pw + j·dw)` of
    /// channel `c`, or 0 where that falls in the padding. The output size is the convolution's
    /// (`conv2dOutputShape`); the caller checks the geometry. Rows of `columns` are `rowStride` floats apart
    /// (default `outHeight · outWidth`), so the columns of several images can sit side by side.
    public static func im2col(_ image: UnsafePointer<Float>, channels: Int, height: Int, width: Int,
                              kernel: Size2D, stride: Size2D, padding: Size2D, dilation: Size2D,
                              outHeight: Int, outWidth: Int, rowStride: Int? = nil,
                              into columns: UnsafeMutablePointer<Float>) {
        let plane = outHeight * outWidth
        let rowStride = rowStride ?? plane
        if kernel == 1, stride == 1, padding == 0, outHeight == height, outWidth == width {
            for c in 0..<channels { (columns + c * rowStride).update(from: image + c * plane, count: plane) }
            return
        }
        var row = columns
        for c in 0..<channels {
            let channel = image + c * height * width
            for i in 0..<kernel.height {
                for j in 0..<kernel.width {
                    let xOffset = j * dilation.width - padding.width
                    // Output columns x with 0 <= x·sw + xOffset < width.
                    let xStart = min(outWidth, xOffset >= 0 ? 0 : (-xOffset + stride.width - 1) / stride.width)
                    let xEnd = max(xStart, min(outWidth, width - xOffset <= 0 ? 0 : (width - xOffset - 1) / stride.width + 1))
                    for y in 0..<outHeight {
                        let dst = row + y * outWidth
                        let iy = y * stride.height - padding.height + i * dilation.height
                        if iy < 0 || iy >= height {
                            dst.update(repeating: 0, count: outWidth)
                            continue
                        }
                        let src = channel + iy * width + xOffset
                        if xStart > 0 { dst.update(repeating: 0, count: xStart) }
                        if stride.width == 1 {
                            (dst + xStart).update(from: src + xStart, count: xEnd - xStart)
                        } else {
                            let sw = stride.width
                            for x in xStart..<xEnd { dst[x] = src[x * sw] }
                        }
                        if xEnd < outWidth { (dst + xEnd).update(repeating: 0, count: outWidth - xEnd) }
                    }
                    row += rowStride
                }
            }
        }
    }
}
