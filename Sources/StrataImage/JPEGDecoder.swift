import CJPEG

/// What the caller wants decoded from a JPEG, chosen once the header is known.
struct JPEGRequest {
    /// Decode at `scaleNumerator`/8 of the full size (libjpeg-turbo's DCT-domain scaling); 8 = full size.
    var scaleNumerator = 8
    /// Columns and rows of the (scaled) image that are needed; `nil` means all. libjpeg may deliver a
    /// wider column range (aligned to its iMCU blocks); rows outside the range are skipped.
    var columns: Range<Int>? = nil
    var rows: Range<Int>? = nil
}

/// The facts about a JPEG that decide how to decode it.
struct JPEGHeader {
    var width: Int
    var height: Int
    /// The EXIF orientation (1-8), 1 when absent or unreadable.
    var orientation: Int

    /// The size libjpeg produces at `numerator`/8 scale.
    func scaledSize(_ numerator: Int) -> (width: Int, height: Int) {
        ((width * numerator + 7) / 8, (height * numerator + 7) / 8)
    }
}

/// Decodes JPEG files with libjpeg-turbo as Pillow does (JDCT_ISLOW, fancy upsampling, gray replicated
/// to RGB, four-component files read as inverted Adobe CMYK and converted with Pillow's formula).
/// Every libjpeg error path runs inside the C helpers of `CJPEG`.
final class JPEGDecoder {
    private let context = UnsafeMutablePointer<strata_jpeg>.allocate(capacity: 1)
    private let pixels = GrowableBuffer<UInt8>()
    private let scratch = GrowableBuffer<UInt8>()

    deinit { context.deallocate() }

    /// Decodes `bytes`, calling `plan` with the header to learn what to decode. The returned region
    /// points into this decoder's buffer and stays valid until the next call.
    func decode(_ bytes: UnsafeRawBufferPointer, file: String, options: DecodeOptions,
                plan: (JPEGHeader) throws -> JPEGRequest) throws -> (region: PixelRegion, header: JPEGHeader) {
        guard let data = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw ImageError.empty(file: file)
        }
        let j = context
        UnsafeMutableRawPointer(j).initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<strata_jpeg>.size)
        defer { strata_jpeg_close(j) }

        guard strata_jpeg_open(j, data, bytes.count) == 0 else { throw failure(file) }
        let width = Int(j.pointee.cinfo.image_width), height = Int(j.pointee.cinfo.image_height)
        try checkPixelLimit(file: file, width: width, height: height, limit: options.maxPixels)
        var orientation = 1
        var exifLength = 0
        if let exif = strata_jpeg_exif(j, &exifLength) {
            orientation = EXIFOrientation.read(UnsafeRawBufferPointer(start: exif, count: exifLength))
        }
        let header = JPEGHeader(width: width, height: height, orientation: orientation)
        let request = try plan(header)
        let scaled = header.scaledSize(request.scaleNumerator)

        var cropX: Int32 = 0, cropWidth: Int32 = 0
        if let columns = request.columns, columns.count < scaled.width {
            cropX = Int32(columns.lowerBound)
            cropWidth = Int32(columns.count)
        }
        var outX: Int32 = 0, outWidth: Int32 = 0, outHeight: Int32 = 0
        guard strata_jpeg_start(j, Int32(request.scaleNumerator), cropX, cropWidth, &outX, &outWidth, &outHeight) == 0 else {
            throw failure(file)
        }
        let rows = request.rows ?? 0..<Int(outHeight)
        let stride = Int(outWidth) * 3
        let base = pixels.reserve(max(stride * rows.count, 1))
        let row = scratch.reserve(Int(outWidth) * 4)
        if rows.lowerBound > 0 {
            guard strata_jpeg_skip(j, Int32(rows.lowerBound)) == 0 else { throw failure(file) }
        }
        guard strata_jpeg_read_rgb(j, base, stride, Int32(rows.count), row) == 0,
              strata_jpeg_finish(j) == 0 else { throw failure(file) }
        if j.pointee.truncated != 0 && !options.allowTruncated {
            throw ImageError.truncated(file: file, detail: "the JPEG data ends before the last scan (libjpeg: \(message(j)))")
        }
        let region = PixelRegion(imageWidth: scaled.width, imageHeight: Int(outHeight), x: Int(outX), y: rows.lowerBound,
                                 width: Int(outWidth), height: rows.count, base: base, stride: stride)
        return (region, header)
    }

    private func message(_ j: UnsafeMutablePointer<strata_jpeg>) -> String {
        withUnsafeBytes(of: &j.pointee.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    private func failure(_ file: String) -> ImageError {
        if context.pointee.truncated != 0 {
            return .truncated(file: file, detail: "the JPEG data ends early (libjpeg: \(message(context)))")
        }
        return .corrupt(file: file, detail: "libjpeg: \(message(context))")
    }
}

/// Refuses images whose header announces more than `limit` pixels, before anything is allocated.
func checkPixelLimit(file: String, width: Int, height: Int, limit: Int) throws {
    if width <= 0 || height <= 0 {
        throw ImageError.corrupt(file: file, detail: "image size \(width)x\(height)")
    }
    if width.multipliedReportingOverflow(by: height).partialValue > limit || width > limit || height > limit {
        throw ImageError.tooManyPixels(file: file, width: width, height: height, limit: limit)
    }
}
