/// The EXIF orientation tag and the transposition that undoes it, as `ImageOps.exif_transpose` applies it.
enum EXIFOrientation {
    /// The orientation (1-8) in IFD0 of a TIFF-structured EXIF block; 1 when absent or malformed.
    static func read(_ exif: UnsafeRawBufferPointer) -> Int {
        guard exif.count >= 8 else { return 1 }
        let little: Bool
        switch (exif[0], exif[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return 1
        }
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= exif.count else { return nil }
            return little ? Int(exif[at]) | Int(exif[at + 1]) << 8 : Int(exif[at]) << 8 | Int(exif[at + 1])
        }
        func u32(_ at: Int) -> Int? {
            guard let a = u16(at), let b = u16(at + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return 1 }
        for index in 0..<count {
            let entry = ifd + 2 + index * 12
            guard let tag = u16(entry), let type = u16(entry + 2) else { return 1 }
            guard tag == 0x0112 else { continue }
            let value: Int?
            switch type {
            case 3: value = u16(entry + 8)      // SHORT
            case 4: value = u32(entry + 8)      // LONG
            default: value = nil
            }
            guard let orientation = value, (1...8).contains(orientation) else { return 1 }
            return orientation
        }
        return 1
    }

    /// The size of an image of `width` x `height` after undoing `orientation`.
    static func orientedSize(width: Int, height: Int, orientation: Int) -> (width: Int, height: Int) {
        orientation >= 5 ? (height, width) : (width, height)
    }

    /// Writes the pixels of `source` (a whole image) transposed to undo `orientation` into `out`,
    /// which must hold `width * height * 3` bytes; rows of the result are packed.
    static func transpose(_ source: PixelRegion, orientation: Int, into out: UnsafeMutablePointer<UInt8>) {
        let w = source.width, h = source.height
        let (outWidth, outHeight) = orientedSize(width: w, height: h, orientation: orientation)
        for oy in 0..<outHeight {
            let dst = out + oy * outWidth * 3
            for ox in 0..<outWidth {
                let sx: Int, sy: Int
                switch orientation {
                case 2: (sx, sy) = (w - 1 - ox, oy)              // FLIP_LEFT_RIGHT
                case 3: (sx, sy) = (w - 1 - ox, h - 1 - oy)      // ROTATE_180
                case 4: (sx, sy) = (ox, h - 1 - oy)              // FLIP_TOP_BOTTOM
                case 5: (sx, sy) = (oy, ox)                      // TRANSPOSE
                case 6: (sx, sy) = (oy, h - 1 - ox)              // ROTATE_270
                case 7: (sx, sy) = (w - 1 - oy, h - 1 - ox)      // TRANSVERSE
                case 8: (sx, sy) = (w - 1 - oy, ox)              // ROTATE_90
                default: (sx, sy) = (ox, oy)
                }
                let src = source.base + sy * source.stride + sx * 3
                dst[ox * 3] = src[0]
                dst[ox * 3 + 1] = src[1]
                dst[ox * 3 + 2] = src[2]
            }
        }
    }
}
