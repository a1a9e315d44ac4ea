#ifndef STRATA_GEMM_H
#define STRATA_GEMM_H

/// Whether this CPU runs the AVX-512 single-precision gemm below (AVX-512F, checked at run time).
int strata_sgemm_avx512_available(void);

/// `C = alpha * op(A) * op(B) + beta * C` on row-major matrices, with AVX-512 packed kernels.
///
/// `op(A)` is `m x k` (`A` is stored `k x m` when `trans_a` is non-zero) with rows `lda` floats apart, `op(B)` is
/// `k x n` likewise, and `C` is `m x n` with rows `ldc` apart. When `beta` is 0, `C` is only written. Each element of
/// `C` is summed over `k` in the same order whatever the sizes of `m` and `n`, so splitting `C` into row or column
/// blocks gives the same bits. Call only when `strata_sgemm_avx512_available()` says so. Returns 0, or -1 when
/// the thread's packing buffers could not be allocated (nothing is computed then).
int strata_sgemm_avx512(int trans_a, int trans_b, long m, long n, long k, float alpha,
                        const float *a, long lda, const float *b, long ldb,
                        float beta, float *c, long ldc);

/// Whether gemms called on this thread must run on it alone (a per-thread flag; 0 at thread start).
int strata_gemm_caller_only(void);

/// Sets this thread's flag (see `strata_gemm_caller_only`).
void strata_gemm_set_caller_only(int on);

#endif
