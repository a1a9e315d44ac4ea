/// Decoding JPEG and PNG files to RGB8 as `Image.open(p).convert("RGB")` does in Pillow.
public enum ImageDecoder {
    /// Decodes the file at `path`; throws `ImageError` naming the file and the cause.
    public static func decode(contentsOf path: String, options: DecodeOptions = DecodeOptions()) throws -> RGBImage {
        try decoder(options).pixels(contentsOf: path)
    }

    /// Decodes encoded bytes in memory; `name` appears in errors.
    public static func decode(_ bytes: UnsafeRawBufferPointer, name: String, options: DecodeOptions = DecodeOptions()) throws -> RGBImage {
        try decoder(options).pixels(decoding: bytes, name: name)
    }

    /// A preprocessor that only decodes (no resize, no crop), for repeated decoding without
    /// reallocating buffers.
    public static func decoder(_ options: DecodeOptions = DecodeOptions()) throws -> ImagePreprocessor {
        try ImagePreprocessor(options: PreprocessOptions(resize: nil, crop: nil, decode: options))
    }
}
