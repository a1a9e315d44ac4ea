// Depthwise convolution of one channel plane with AVX, chosen at run time: eight output columns per
// register, every kernel tap accumulated in the register before it is stored once. The plane is first
// copied into zero-padded scratch (for a column stride of 2, split into its even and odd columns), so
// every tap is a contiguous load. Sums run in the portable kernel's order (the bias, then the taps row
// by row) with separate multiplies and adds, so both kernels give the same values.
#include "strata_kernels.h"

#include <immintrin.h>
#include <string.h>

int strata_avx_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx");
}

static long round_up8(long n) { return (n + 7) / 8 * 8; }

/// Columns of one padded scratch row (for stride 2: of each of the even and odd halves).
static long scratch_width(long kernel_width, long stride_width, long out_width) {
    long lanes = round_up8(out_width);
    return stride_width == 1 ? lanes + kernel_width - 1 : lanes + (kernel_width - 1) / 2 + 1;
}

long strata_depthwise_scratch_count(long kernel_height, long kernel_width, long stride_height, long stride_width,
                                    long out_height, long out_width) {
    long rows = (out_height - 1) * stride_height + kernel_height;
    long halves = stride_width == 1 ? 1 : 2;
    return halves * rows * scratch_width(kernel_width, stride_width, out_width);
}

/// Stores the lanes of `sum` that fall inside the row (columns `ox` up to `width`).
__attribute__((target("avx")))
static inline void store_lanes(float *row, long ox, long width, __m256 sum) {
    if (ox + 8 <= width) {
        _mm256_storeu_ps(row + ox, sum);
    } else {
        float lanes[8];
        _mm256_storeu_ps(lanes, sum);
        memcpy(row + ox, lanes, (size_t)(width - ox) * sizeof(float));
    }
}

__attribute__((target("avx")))
void strata_depthwise_plane_avx(const float *x, long height, long width, const float *w, long kernel_height,
                                long kernel_width, long stride_height, long stride_width, long top, long left,
                                float bias, float *out, long out_height, long out_width, float *scratch) {
    long rows = (out_height - 1) * stride_height + kernel_height;
    long pitch = scratch_width(kernel_width, stride_width, out_width);
    long lanes = round_up8(out_width);
    float *even = scratch, *odd = stride_width == 1 ? scratch : scratch + rows * pitch;
    for (long r = 0; r < rows; r++) {
        long source_row = r - top;
        int inside = source_row >= 0 && source_row < height;
        const float *source = inside ? x + source_row * width : x;
        if (stride_width == 1) {
            float *row = even + r * pitch;
            memset(row, 0, (size_t)pitch * sizeof(float));
            if (!inside) continue;
            long begin = left < 0 ? -left : 0;
            long end = width < pitch - left ? width : pitch - left;
            if (end > begin) memcpy(row + left + begin, source + begin, (size_t)(end - begin) * sizeof(float));
        } else {
            float *row_even = even + r * pitch, *row_odd = odd + r * pitch;
            for (long c = 0; c < pitch; c++) {
                long column = 2 * c - left;
                row_even[c] = inside && column >= 0 && column < width ? source[column] : 0.0f;
                row_odd[c] = inside && column + 1 >= 0 && column + 1 < width ? source[column + 1] : 0.0f;
            }
        }
    }
    // Four output rows at a time: four independent sums per tap hide the latency of the adds, while
    // each output's own sum keeps its order.
    long oy = 0;
    for (; oy + 4 <= out_height; oy += 4) {
        for (long ox = 0; ox < lanes; ox += 8) {
            __m256 sum[4] = {_mm256_set1_ps(bias), _mm256_set1_ps(bias), _mm256_set1_ps(bias), _mm256_set1_ps(bias)};
            for (long i = 0; i < kernel_height; i++) {
                for (long j = 0; j < kernel_width; j++) {
                    const float *column = (stride_width == 1 ? even + j : ((j & 1) ? odd : even) + j / 2) + ox;
                    __m256 tap = _mm256_set1_ps(w[i * kernel_width + j]);
                    for (int k = 0; k < 4; k++) {
                        const float *source = column + ((oy + k) * stride_height + i) * pitch;
                        sum[k] = _mm256_add_ps(sum[k], _mm256_mul_ps(tap, _mm256_loadu_ps(source)));
                    }
                }
            }
            for (int k = 0; k < 4; k++) store_lanes(out + (oy + k) * out_width, ox, out_width, sum[k]);
        }
    }
    for (; oy < out_height; oy++) {
        for (long ox = 0; ox < lanes; ox += 8) {
            __m256 sum = _mm256_set1_ps(bias);
            for (long i = 0; i < kernel_height; i++) {
                for (long j = 0; j < kernel_width; j++) {
                    const float *column = (stride_width == 1 ? even + j : ((j & 1) ? odd : even) + j / 2) + ox;
                    const float *source = column + (oy * stride_height + i) * pitch;
                    sum = _mm256_add_ps(sum, _mm256_mul_ps(_mm256_set1_ps(w[i * kernel_width + j]), _mm256_loadu_ps(source)));
                }
            }
            store_lanes(out + oy * out_width, ox, out_width, sum);
        }
    }
}
