import CPNG

/// Decodes PNG files with libpng to RGB8 exactly as Pillow's `Image.open(p).convert("RGB")` does:
/// gray of 1, 2 and 4 bits scaled to 0-255, 16-bit samples reduced to their high byte, except 16-bit
/// gray, which Pillow opens as "I;16" and clips to 255 when converting; alpha and tRNS dropped;
/// palette indices without a palette entry map to gray (i, i, i) like Pillow's default palette.
/// Every libpng error path runs inside the C helpers of `CPNG`.
final class PNGDecoder {
    private let context = UnsafeMutablePointer<strata_png>.allocate(capacity: 1)
    private let raw = GrowableBuffer<UInt8>()
    private let pixels = GrowableBuffer<UInt8>()

    deinit { context.deallocate() }

    /// Decodes the whole image; the returned region points into this decoder's buffer and stays valid
    /// until the next call. Also returns the EXIF orientation (1 when absent).
    func decode(_ bytes: UnsafeRawBufferPointer, file: String, options: DecodeOptions) throws -> (region: PixelRegion, orientation: Int) {
        guard let data = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw ImageError.empty(file: file)
        }
        let p = context
        UnsafeMutableRawPointer(p).initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<strata_png>.size)
        defer { strata_png_close(p) }

        guard strata_png_open(p, data, bytes.count) == 0 else { throw failure(file) }
        let width = Int(p.pointee.width), height = Int(p.pointee.height)
        try checkPixelLimit(file: file, width: width, height: height, limit: options.maxPixels)
        var orientation = 1
        if let exif = p.pointee.exif {
            orientation = EXIFOrientation.read(UnsafeRawBufferPointer(start: exif, count: Int(p.pointee.exif_length)))
        }
        let channels = Int(strata_png_channels(p))
        let depth = Int(p.pointee.bit_depth)
        let colorType = Int(p.pointee.color_type)
        let rowBytes = strata_png_row_bytes(p)
        let stride = width * 3
        let out = pixels.reserve(stride * height)
        let direct = colorType == PNG_COLOR_TYPE_RGB && depth == 8
        let source = direct ? out : raw.reserve(rowBytes * height)
        guard strata_png_read_rows(p, source, direct ? stride : rowBytes) == 0 else { throw failure(file) }

        if !direct {
            var palette = [UInt8](repeating: 0, count: 256 * 3)
            for i in 0..<256 { palette[i * 3] = UInt8(i); palette[i * 3 + 1] = UInt8(i); palette[i * 3 + 2] = UInt8(i) }
            if let entries = p.pointee.palette {
                for i in 0..<min(Int(p.pointee.palette_count), 256) {
                    palette[i * 3] = entries[i].red
                    palette[i * 3 + 1] = entries[i].green
                    palette[i * 3 + 2] = entries[i].blue
                }
            }
            for y in 0..<height {
                PNGDecoder.convertRow(source + y * rowBytes, to: out + y * stride, width: width,
                                      channels: channels, depth: depth, colorType: colorType, palette: palette)
            }
        }
        let region = PixelRegion(imageWidth: width, imageHeight: height, x: 0, y: 0, width: width, height: height,
                                 base: out, stride: stride)
        return (region, orientation)
    }

    private static func convertRow(_ src: UnsafeMutablePointer<UInt8>, to dst: UnsafeMutablePointer<UInt8>, width: Int,
                                   channels: Int, depth: Int, colorType: Int, palette: [UInt8]) {
        let bytes = depth == 16 ? 2 : 1
        let pixelBytes = channels * bytes
        if colorType == PNG_COLOR_TYPE_PALETTE {
            palette.withUnsafeBufferPointer { table in
                for x in 0..<width {
                    let i = Int(src[x]) * 3
                    dst[x * 3] = table[i]; dst[x * 3 + 1] = table[i + 1]; dst[x * 3 + 2] = table[i + 2]
                }
            }
        } else if colorType == PNG_COLOR_TYPE_GRAY || colorType == PNG_COLOR_TYPE_GRAY_ALPHA {
            for x in 0..<width {
                let s = src + x * pixelBytes
                let v: UInt8
                if depth == 16 && colorType == PNG_COLOR_TYPE_GRAY {
                    v = s[0] == 0 ? s[1] : 255   // Pillow's I;16 -> RGB clips at 255
                } else {
                    v = s[0]                     // 8-bit value, or the high byte of a 16-bit one
                }
                dst[x * 3] = v; dst[x * 3 + 1] = v; dst[x * 3 + 2] = v
            }
        } else {
            for x in 0..<width {
                let s = src + x * pixelBytes
                dst[x * 3] = s[0]; dst[x * 3 + 1] = s[bytes]; dst[x * 3 + 2] = s[2 * bytes]
            }
        }
    }

    private func message() -> String {
        withUnsafeBytes(of: &context.pointee.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    private func failure(_ file: String) -> ImageError {
        if context.pointee.truncated != 0 {
            return .truncated(file: file, detail: "the PNG data ends early (libpng: \(message()))")
        }
        return .corrupt(file: file, detail: "libpng: \(message())")
    }
}
