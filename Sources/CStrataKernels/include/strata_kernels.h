#ifndef STRATA_KERNELS_H
#define STRATA_KERNELS_H

/// Whether this CPU runs the AVX-512 single-precision gemm below (AVX-512F, checked at run time).
int strata_sgemm_avx512_available(void);

/// Floats that `strata_sgemm_pack_a` writes for an `m x k` op(A), and `strata_sgemm_pack_b` for a `k x n` op(B).
long strata_sgemm_packed_a_count(long m, long k);
long strata_sgemm_packed_b_count(long k, long n);

/// Packs op(A) (`m x k`, stored as for `strata_sgemm_avx512`) once, for operands many products reuse (weights).
void strata_sgemm_pack_a(int trans_a, long m, long k, const float *a, long lda, float *packed);

/// Packs op(B) (`k x n`) once, likewise.
void strata_sgemm_pack_b(int trans_b, long k, long n, const float *b, long ldb, float *packed);

/// `C = alpha * op(A) * op(B) + beta * C` on row-major matrices, with AVX-512 packed kernels.
///
/// `op(A)` is `m x k` (`A` is stored `k x m` when `trans_a` is non-zero) with rows `lda` floats apart, `op(B)` is
/// `k x n` likewise, and `C` is `m x n` with rows `ldc` apart. When `beta` is 0, `C` is only written. Each element of
/// `C` is summed over `k` in the same order whatever the sizes of `m` and `n`, so splitting `C` into row or column
/// blocks gives the same bits. Call only when `strata_sgemm_avx512_available()` says so. Returns 0, or -1 when
/// the thread's packing buffers could not be allocated (nothing is computed then).
///
/// Either operand may come packed: with `packed_a` non-null, op(A) is rows
/// `row0 ..< row0 + m` of a packed `packed_a_rows x k` matrix (`row0` a multiple of 12) and `a` is not read;
/// with `packed_b`, op(B) is columns `col0 ..< col0 + n` of a packed `k x packed_b_columns` matrix (`col0` a
/// multiple of 32). The result is bit for bit the one the unpacked operands give.
int strata_sgemm_avx512_packed(int trans_a, const float *a, long lda, const float *packed_a, long packed_a_rows,
                               long row0, int trans_b, const float *b, long ldb, const float *packed_b,
                               long packed_b_columns, long col0, long m, long n, long k, float alpha, float beta,
                               float *c, long ldc);

/// Whether gemms called on this thread must run on it alone (a per-thread flag; 0 at thread start).
int strata_gemm_caller_only(void);

/// Sets this thread's flag (see `strata_gemm_caller_only`).
void strata_gemm_set_caller_only(int on);

/// `x = 0.5 * x * (1 + erf(x / sqrt(2)))` (exact GELU, erf to within 5e-7) over `count` floats, on AVX-512
/// registers. Call only when `strata_sgemm_avx512_available()` says so.
void strata_gelu_avx512(float *x, long count);

/// Whether this CPU has AVX2 and F16C, which the half-precision widening below needs (checked at run time).
int strata_f16c_available(void);

/// `destination[i] = source[i]` for `count` IEEE halves (bit patterns), exactly (a NaN stays a NaN, with its
/// quiet bit set). Call only when `strata_f16c_available()` says so.
void strata_f16_to_f32_f16c(const unsigned short *source, float *destination, long count);

/// `destination[p * channels + c] = source[c * positions + p]`: a channels-first `[channels, positions]` half
/// map widened into a positions-first float map, exactly as above. Call only when `strata_f16c_available()`
/// says so.
void strata_f16_to_f32_transposed_f16c(const unsigned short *source, long channels, long positions, float *destination);

/// Whether the CPU has AVX (for the depthwise convolution kernel).
int strata_avx_available(void);

/// Floats of scratch `strata_depthwise_plane_avx` needs for one plane of this geometry.
long strata_depthwise_scratch_count(long kernel_height, long kernel_width, long stride_height, long stride_width,
                                    long out_height, long out_width);

/// One channel plane of a depthwise convolution (`height x width` in, `out_height x out_width` out), column
/// stride 1 or 2, padded by `top` and `left` (the far sides follow from the sizes), plus `bias`, no
/// activation: the same values as the portable kernel. Call only when `strata_avx_available()` says so.
void strata_depthwise_plane_avx(const float *x, long height, long width, const float *w, long kernel_height,
                                long kernel_width, long stride_height, long stride_width, long top, long left,
                                float bias, float *out, long out_height, long out_width, float *scratch);

#endif
