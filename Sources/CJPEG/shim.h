#ifndef STRATA_CJPEG_SHIM_H
#define STRATA_CJPEG_SHIM_H
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

// libjpeg reports fatal errors through `error_exit`, which must not return. Every helper below that can
// reach libjpeg code does its own `setjmp` on the context's jump buffer, and `strata_jpeg_error_exit`
// `longjmp`s back into that helper, so no jump ever crosses a Swift frame. Helpers return 0 on success
// and -1 on a libjpeg error, whose text is then in `message`.

/// One decompression: libjpeg's state, the error manager, the jump target and the diagnostics.
typedef struct strata_jpeg {
    struct jpeg_decompress_struct cinfo;  // first member: a `j_common_ptr` casts back to the context
    struct jpeg_error_mgr err;
    jmp_buf jump;
    int created;
    int truncated;              // libjpeg warned that the data ended early (JWRN_JPEG_EOF)
    int warnings;               // all warnings, including recoverable corrupt-data ones
    char message[JMSG_LENGTH_MAX];
} strata_jpeg;

static inline void strata_jpeg_error_exit(j_common_ptr cinfo) {
    strata_jpeg *j = (strata_jpeg *)cinfo;
    (*cinfo->err->format_message)(cinfo, j->message);
    longjmp(j->jump, 1);
}

static inline void strata_jpeg_emit_message(j_common_ptr cinfo, int level) {
    strata_jpeg *j = (strata_jpeg *)cinfo;
    if (level < 0) {
        if (cinfo->err->msg_code == JWRN_JPEG_EOF) j->truncated = 1;
        if (j->warnings == 0) (*cinfo->err->format_message)(cinfo, j->message);
        j->warnings += 1;
        cinfo->err->num_warnings += 1;
    }
}

static inline void strata_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

/// Sets up `j` (zeroed by the caller) to decode `size` bytes at `data`, and reads the header.
/// APP1 markers are kept so the EXIF orientation can be read.
static inline int strata_jpeg_open(strata_jpeg *j, const unsigned char *data, size_t size) {
    j->cinfo.err = jpeg_std_error(&j->err);
    j->err.error_exit = strata_jpeg_error_exit;
    j->err.emit_message = strata_jpeg_emit_message;
    j->err.output_message = strata_jpeg_output_message;
    if (setjmp(j->jump)) return -1;
    jpeg_CreateDecompress(&j->cinfo, JPEG_LIB_VERSION, sizeof(struct jpeg_decompress_struct));
    j->created = 1;
    jpeg_mem_src(&j->cinfo, data, (unsigned long)size);
    jpeg_save_markers(&j->cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&j->cinfo, TRUE);
    return 0;
}

/// The payload of the first APP1 marker that holds EXIF data (after the "Exif\0\0" tag), or NULL.
static inline const unsigned char *strata_jpeg_exif(strata_jpeg *j, size_t *length) {
    for (jpeg_saved_marker_ptr m = j->cinfo.marker_list; m != NULL; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && memcmp(m->data, "Exif\0\0", 6) == 0) {
            *length = m->data_length - 6;
            return m->data + 6;
        }
    }
    *length = 0;
    return NULL;
}

/// Number of components in the file (1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK).
static inline int strata_jpeg_components(const strata_jpeg *j) { return j->cinfo.num_components; }

/// Starts decompression with Pillow's settings (integer slow DCT, fancy upsampling) at a scale of
/// `scale_num`/8. Gray and three-component files come out as RGB; four-component files as CMYK.
/// When `crop_width` > 0, only columns [crop_x, crop_x + crop_width) are wanted: libjpeg widens the
/// range to iMCU boundaries and reports the columns it will deliver in `*out_x` and `*out_width`.
static inline int strata_jpeg_start(strata_jpeg *j, int scale_num, int crop_x, int crop_width,
                                    int *out_x, int *out_width, int *out_height) {
    if (setjmp(j->jump)) return -1;
    j->cinfo.scale_num = (unsigned int)scale_num;
    j->cinfo.scale_denom = 8;
    j->cinfo.dct_method = JDCT_ISLOW;
    j->cinfo.do_fancy_upsampling = TRUE;
    j->cinfo.out_color_space = j->cinfo.num_components == 4 ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&j->cinfo);
    JDIMENSION x = 0, width = j->cinfo.output_width;
    if (crop_width > 0 && (JDIMENSION)crop_width < j->cinfo.output_width) {
        x = (JDIMENSION)crop_x;
        width = (JDIMENSION)crop_width;
        jpeg_crop_scanline(&j->cinfo, &x, &width);
    }
    *out_x = (int)x;
    *out_width = (int)width;
    *out_height = (int)j->cinfo.output_height;
    return 0;
}

/// The output dimensions libjpeg will produce at a scale of `scale_num`/8, without decoding.
static inline int strata_jpeg_scaled_size(strata_jpeg *j, int scale_num, int *width, int *height) {
    if (setjmp(j->jump)) return -1;
    j->cinfo.scale_num = (unsigned int)scale_num;
    j->cinfo.scale_denom = 8;
    jpeg_calc_output_dimensions(&j->cinfo);
    *width = (int)j->cinfo.output_width;
    *height = (int)j->cinfo.output_height;
    return 0;
}

/// Skips `rows` output rows (their entropy data is still read, so truncation is still noticed).
static inline int strata_jpeg_skip(strata_jpeg *j, int rows) {
    if (setjmp(j->jump)) return -1;
    JDIMENSION left = (JDIMENSION)rows;
    while (left > 0) {
        JDIMENSION skipped = jpeg_skip_scanlines(&j->cinfo, left);
        if (skipped == 0) break;
        left -= skipped;
    }
    return 0;
}

/// Pillow's CMYK to RGB conversion of inverted (Adobe) CMYK samples, as its "CMYK;I" raw mode and
/// `convert("RGB")` do: invert, then r = 255 - k' - c'(255 - k')/255 with its rounding.
static inline void strata_cmyk_inverted_to_rgb(unsigned char *out, const unsigned char *in, int width) {
    for (int x = 0; x < width; x++) {
        int nk = in[3];  // 255 - k with k = 255 - in[3]
        for (int c = 0; c < 3; c++) {
            int cc = 255 - in[c];
            int t = cc * nk + 128;
            int v = nk - (((t >> 8) + t) >> 8);
            out[c] = (unsigned char)(v < 0 ? 0 : (v > 255 ? 255 : v));
        }
        out += 3;
        in += 4;
    }
}

/// Reads `rows` output rows into `out` (RGB, `stride` bytes apart). For CMYK files `scratch` must
/// hold one row of 4 bytes per pixel.
static inline int strata_jpeg_read_rgb(strata_jpeg *j, unsigned char *out, size_t stride, int rows,
                                       unsigned char *scratch) {
    if (setjmp(j->jump)) return -1;
    int cmyk = j->cinfo.out_color_space == JCS_CMYK;
    for (int y = 0; y < rows; y++) {
        JSAMPROW row = cmyk ? scratch : out + (size_t)y * stride;
        if (jpeg_read_scanlines(&j->cinfo, &row, 1) != 1) {
            snprintf(j->message, sizeof j->message, "decoder returned no row %d", y);
            return -1;
        }
        if (cmyk) strata_cmyk_inverted_to_rgb(out + (size_t)y * stride, scratch, (int)j->cinfo.output_width);
    }
    return 0;
}

/// Rows still to be delivered.
static inline int strata_jpeg_rows_left(const strata_jpeg *j) {
    return (int)(j->cinfo.output_height - j->cinfo.output_scanline);
}

/// Skips the remaining rows and reads to the end of the image, so a truncated tail is noticed.
static inline int strata_jpeg_finish(strata_jpeg *j) {
    if (setjmp(j->jump)) return -1;
    JDIMENSION left = j->cinfo.output_height - j->cinfo.output_scanline;
    while (left > 0) {
        JDIMENSION skipped = jpeg_skip_scanlines(&j->cinfo, left);
        if (skipped == 0) break;
        left -= skipped;
    }
    jpeg_finish_decompress(&j->cinfo);
    return 0;
}

/// Releases libjpeg's memory; safe after any failure.
static inline void strata_jpeg_close(strata_jpeg *j) {
    if (j->created) {
        if (setjmp(j->jump) == 0) jpeg_destroy_decompress(&j->cinfo);
        j->created = 0;
    }
}

#endif
