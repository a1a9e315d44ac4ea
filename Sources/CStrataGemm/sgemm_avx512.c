// Packed single-precision gemm for AVX-512 CPUs.
//
// The loops follow the usual blocked scheme: K in blocks of KC, N in blocks of NC whose B block is packed
// into NR-wide panels (it stays in L2), M in MR-row panels of A (packed, they stay in L1), and a 12 x 32
// register-tile kernel that keeps 24 zmm accumulators and broadcasts A from memory.
#include "strata_gemm.h"

#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#ifndef STRATA_KC
#define STRATA_KC 256
#endif
#ifndef STRATA_NC
#define STRATA_NC 512
#endif
enum { MR = 12, NR = 32, KC = STRATA_KC, NC = STRATA_NC };

int strata_sgemm_avx512_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

static _Thread_local int caller_only;

int strata_gemm_caller_only(void) { return caller_only; }

void strata_gemm_set_caller_only(int on) { caller_only = on; }

// Packing buffers, one pair per thread, kept for the thread's lifetime. A's grows to the largest `m` seen.
static _Thread_local float *pack_a_buffer;
static _Thread_local long pack_a_capacity;
static _Thread_local float *pack_b_buffer;

// Room for every MR-row panel of an m-row, KC-deep block of A.
static int ensure_buffers(long m) {
    long panels = (m + MR - 1) / MR;
    long needed = panels * MR * KC;
    if (needed > pack_a_capacity) {
        float *grown = aligned_alloc(64, sizeof(float) * (size_t)needed);
        if (!grown) return 0;
        free(pack_a_buffer);
        pack_a_buffer = grown;
        pack_a_capacity = needed;
    }
    if (!pack_b_buffer) pack_b_buffer = aligned_alloc(64, sizeof(float) * KC * NC);
    return pack_b_buffer != 0;
}

static inline __mmask16 column_mask(long count) {
    return count >= 16 ? (__mmask16)0xFFFF : count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1);
}

// Rows i0..i0+mr of op(A), columns p0..p0+kc, as kc groups of MR floats (rows past mr are zero).
__attribute__((target("avx512f")))
static void pack_a(int trans, const float *a, long lda, long i0, long mr, long p0, long kc, float *dst) {
    if (trans) {
        for (long p = 0; p < kc; p++) {
            const float *src = a + (p0 + p) * lda + i0;
            float *row = dst + p * MR;
            long i = 0;
            for (; i < mr; i++) row[i] = src[i];
            for (; i < MR; i++) row[i] = 0;
        }
        return;
    }
    const float *rows[MR];
    for (long i = 0; i < MR; i++) rows[i] = a + (i0 + (i < mr ? i : 0)) * lda + p0;
    for (long p = 0; p < kc; p++) {
        float *group = dst + p * MR;
        for (long i = 0; i < MR; i++) group[i] = i < mr ? rows[i][p] : 0;
    }
}

// Rows p0..p0+kc of op(B), columns j0..j0+nc, as NR-wide panels of kc rows each (columns past nc are zero).
__attribute__((target("avx512f")))
static void pack_b(int trans, const float *b, long ldb, long p0, long kc, long j0, long nc, float *dst) {
    for (long jr = 0; jr < nc; jr += NR) {
        long nr = nc - jr < NR ? nc - jr : NR;
        float *panel = dst + (jr / NR) * kc * NR;
        if (trans) {
            for (long j = 0; j < nr; j++) {
                const float *src = b + (j0 + jr + j) * ldb + p0;
                for (long p = 0; p < kc; p++) panel[p * NR + j] = src[p];
            }
            for (long j = nr; j < NR; j++) {
                for (long p = 0; p < kc; p++) panel[p * NR + j] = 0;
            }
            continue;
        }
        __mmask16 m0 = column_mask(nr), m1 = column_mask(nr - 16);
        for (long p = 0; p < kc; p++) {
            const float *src = b + (p0 + p) * ldb + j0 + jr;
            _mm512_store_ps(panel + p * NR, _mm512_maskz_loadu_ps(m0, src));
            _mm512_store_ps(panel + p * NR + 16, _mm512_maskz_loadu_ps(m1, src + 16));
        }
    }
}

#define ROW_DECLARE(i) __m512 c##i##_0 = _mm512_setzero_ps(), c##i##_1 = _mm512_setzero_ps();
#define ROW_FMA(i) { __m512 ai = _mm512_set1_ps(ap[i]); \
    c##i##_0 = _mm512_fmadd_ps(ai, b0, c##i##_0); c##i##_1 = _mm512_fmadd_ps(ai, b1, c##i##_1); }
#define ROW_STORE(i) if (i < mr) { store_row(c + i * ldc, c##i##_0, c##i##_1, alpha, beta, m0, m1); }
#define ALL_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

__attribute__((target("avx512f"), always_inline))
static inline void store_row(float *row, __m512 acc0, __m512 acc1, float alpha, float beta,
                             __mmask16 m0, __mmask16 m1) {
    __m512 va = _mm512_set1_ps(alpha);
    __m512 v0 = _mm512_mul_ps(va, acc0), v1 = _mm512_mul_ps(va, acc1);
    if (beta != 0) {
        __m512 vb = _mm512_set1_ps(beta);
        v0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, row), v0);
        v1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, row + 16), v1);
    }
    _mm512_mask_storeu_ps(row, m0, v0);
    _mm512_mask_storeu_ps(row + 16, m1, v1);
}

// C[0..mr, 0..nr] = alpha * (packed A panel x packed B panel) + beta * C.
__attribute__((target("avx512f")))
static void kernel_12x32(long kc, const float *restrict ap, const float *restrict bp, float *c, long ldc,
                         float alpha, float beta, long mr, long nr) {
    ALL_ROWS(ROW_DECLARE)
    for (long p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
        ALL_ROWS(ROW_FMA)
        ap += MR;
        bp += NR;
    }
    __mmask16 m0 = column_mask(nr), m1 = column_mask(nr - 16);
    ALL_ROWS(ROW_STORE)
}

__attribute__((target("avx512f")))
static void scale_c(long m, long n, float beta, float *c, long ldc) {
    for (long i = 0; i < m; i++) {
        float *row = c + i * ldc;
        if (beta == 0) memset(row, 0, sizeof(float) * (size_t)n);
        else for (long j = 0; j < n; j++) row[j] *= beta;
    }
}

__attribute__((target("avx512f")))
int strata_sgemm_avx512(int trans_a, int trans_b, long m, long n, long k, float alpha,
                        const float *a, long lda, const float *b, long ldb,
                        float beta, float *c, long ldc) {
    if (m <= 0 || n <= 0) return 0;
    if (!ensure_buffers(m)) return -1;
    if (k <= 0 || alpha == 0) { scale_c(m, n, beta, c, ldc); return 0; }
    float *pa = pack_a_buffer, *pb = pack_b_buffer;
    for (long p0 = 0; p0 < k; p0 += KC) {
        long kc = k - p0 < KC ? k - p0 : KC;
        float block_beta = p0 == 0 ? beta : 1.0f;
        // Every row panel of A for this depth block, packed once and used by every column block.
        for (long i0 = 0; i0 < m; i0 += MR) {
            pack_a(trans_a, a, lda, i0, m - i0 < MR ? m - i0 : MR, p0, kc, pa + (i0 / MR) * MR * kc);
        }
        for (long j0 = 0; j0 < n; j0 += NC) {
            long nc = n - j0 < NC ? n - j0 : NC;
            pack_b(trans_b, b, ldb, p0, kc, j0, nc, pb);
            for (long i0 = 0; i0 < m; i0 += MR) {
                long mr = m - i0 < MR ? m - i0 : MR;
                const float *panel_a = pa + (i0 / MR) * MR * kc;
                for (long jr = 0; jr < nc; jr += NR) {
                    long nr = nc - jr < NR ? nc - jr : NR;
                    kernel_12x32(kc, panel_a, pb + (jr / NR) * kc * NR, c + i0 * ldc + j0 + jr, ldc,
                                 alpha, block_beta, mr, nr);
                }
            }
        }
    }
    return 0;
}
