#ifndef STRATA_CPNG_SHIM_H
#define STRATA_CPNG_SHIM_H
#include <stddef.h>
#include <string.h>
#include <stdio.h>
#include <setjmp.h>
#include <png.h>

// libpng's classic API reports errors through an error function that must not return. Each helper below
// that can reach libpng code does its own `setjmp` on the context's jump buffer, and
// `strata_png_error` `longjmp`s back into that helper, so no jump ever crosses a Swift frame. Helpers
// return 0 on success and -1 on a libpng error, whose text is then in `message`.

/// One PNG read from memory: libpng's state, the input cursor, the jump target and the diagnostics.
typedef struct strata_png {
    png_structp png;
    png_infop info;
    const unsigned char *data;
    size_t size;
    size_t position;
    jmp_buf jump;
    int truncated;       // the data ended before libpng had what it needed
    char message[256];
    // Header, filled by strata_png_open.
    unsigned int width, height;
    int bit_depth, color_type, interlaced;
    png_colorp palette;
    int palette_count;
    const unsigned char *exif;
    unsigned int exif_length;
} strata_png;

static inline void strata_png_error(png_structp png, png_const_charp text) {
    strata_png *p = (strata_png *)png_get_error_ptr(png);
    snprintf(p->message, sizeof p->message, "%s", text);
    longjmp(p->jump, 1);
}

static inline void strata_png_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;
}

static inline void strata_png_read(png_structp png, png_bytep out, png_size_t length) {
    strata_png *p = (strata_png *)png_get_io_ptr(png);
    if (length > p->size - p->position) {
        p->truncated = 1;
        png_error(png, "unexpected end of data");
    }
    memcpy(out, p->data + p->position, length);
    p->position += length;
}

/// Sets up `p` (zeroed by the caller) to read `size` bytes at `data` and reads everything up to the
/// image data: the header, the palette and any eXIf chunk.
static inline int strata_png_open(strata_png *p, const unsigned char *data, size_t size) {
    p->data = data;
    p->size = size;
    p->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, p, strata_png_error, strata_png_warning);
    if (p->png == NULL) {
        snprintf(p->message, sizeof p->message, "out of memory");
        return -1;
    }
    if (setjmp(p->jump)) return -1;
    p->info = png_create_info_struct(p->png);
    if (p->info == NULL) png_error(p->png, "out of memory");
    png_set_read_fn(p->png, p, strata_png_read);
    // Dimensions are checked against the caller's pixel limit instead of libpng's defaults.
    png_set_user_limits(p->png, 0x7fffffff, 0x7fffffff);
    png_read_info(p->png, p->info);
    p->width = png_get_image_width(p->png, p->info);
    p->height = png_get_image_height(p->png, p->info);
    p->bit_depth = png_get_bit_depth(p->png, p->info);
    p->color_type = png_get_color_type(p->png, p->info);
    p->interlaced = png_get_interlace_type(p->png, p->info) != PNG_INTERLACE_NONE;
    if (png_get_valid(p->png, p->info, PNG_INFO_PLTE)) {
        png_get_PLTE(p->png, p->info, &p->palette, &p->palette_count);
    }
#ifdef PNG_eXIf_SUPPORTED
    if (png_get_valid(p->png, p->info, PNG_INFO_eXIf)) {
        png_bytep exif = NULL;
        png_uint_32 length = 0;
        if (png_get_eXIf_1(p->png, p->info, &length, &exif) != 0) {
            p->exif = exif;
            p->exif_length = length;
        }
    }
#endif
    return 0;
}

/// Bytes per row that `strata_png_read_rows` delivers: samples are unpacked to one byte per sample
/// for depths below 8 (gray scaled to 0-255 as Pillow does, palette indices left as indices) and kept
/// big-endian for 16-bit images.
static inline size_t strata_png_row_bytes(const strata_png *p) {
    int channels = png_get_channels(p->png, p->info);
    return (size_t)p->width * (size_t)channels * (p->bit_depth == 16 ? 2 : 1);
}

/// Number of samples per pixel in the file (1 gray or palette, 2 gray+alpha, 3 RGB, 4 RGBA).
static inline int strata_png_channels(const strata_png *p) { return png_get_channels(p->png, p->info); }

/// Decodes the whole image into `out`, rows `stride` bytes apart, deinterlacing when needed.
static inline int strata_png_read_rows(strata_png *p, unsigned char *out, size_t stride) {
    if (setjmp(p->jump)) return -1;
    if (p->bit_depth < 8) {
        if (p->color_type == PNG_COLOR_TYPE_GRAY) png_set_expand_gray_1_2_4_to_8(p->png);
        else png_set_packing(p->png);
    }
    int passes = png_set_interlace_handling(p->png);
    png_read_update_info(p->png, p->info);
    for (int pass = 0; pass < passes; pass++) {
        for (png_uint_32 y = 0; y < p->height; y++) {
            png_read_row(p->png, out + (size_t)y * stride, NULL);
        }
    }
    return 0;
}

/// Releases libpng's memory; safe after any failure.
static inline void strata_png_close(strata_png *p) {
    if (p->png != NULL) {
        png_destroy_read_struct(&p->png, p->info != NULL ? &p->info : NULL, NULL);
        p->png = NULL;
        p->info = NULL;
    }
}

#endif
