// Half to single precision widening with F16C (and AVX for the 8x8 transposes), chosen at run time.
#include "strata_kernels.h"

#include <immintrin.h>

int strata_f16c_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
}

__attribute__((target("avx2,f16c")))
void strata_f16_to_f32_f16c(const unsigned short *source, float *destination, long count) {
    long i = 0;
    for (; i + 8 <= count; i += 8) {
        __m128i half = _mm_loadu_si128((const __m128i *)(source + i));
        _mm256_storeu_ps(destination + i, _mm256_cvtph_ps(half));
    }
    for (; i < count; i++) destination[i] = _cvtsh_ss(source[i]);
}

/// Rows r0..r7 (8 floats each) become columns: out[j][i] = in[i][j].
__attribute__((target("avx2,f16c")))
static inline void transpose8(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

__attribute__((target("avx2,f16c")))
void strata_f16_to_f32_transposed_f16c(const unsigned short *source, long channels, long positions, float *destination) {
    long c0 = 0;
    for (; c0 + 8 <= channels; c0 += 8) {
        long p0 = 0;
        for (; p0 + 8 <= positions; p0 += 8) {
            __m256 rows[8];
            for (int r = 0; r < 8; r++) {
                rows[r] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(source + (c0 + r) * positions + p0)));
            }
            transpose8(rows);
            for (int j = 0; j < 8; j++) _mm256_storeu_ps(destination + (p0 + j) * channels + c0, rows[j]);
        }
        for (; p0 < positions; p0++) {
            for (long c = c0; c < c0 + 8; c++) destination[p0 * channels + c] = _cvtsh_ss(source[c * positions + p0]);
        }
    }
    for (; c0 < channels; c0++) {
        for (long p = 0; p < positions; p++) destination[p * channels + c0] = _cvtsh_ss(source[c0 * positions + p]);
    }
}
