// Packed single-precision gemm for AVX-512 CPUs.
//
// The loops follow the usual blocked scheme: K in blocks of KC, N in blocks of NC whose B block is packed
// into NR-wide panels (it stays in L2), M in MR-row panels of A (packed, they stay in L1), and a 12 x 32
// register-tile kernel that keeps 24 zmm accumulators and broadcasts A from memory.
#include "strata_kernels.h"

#include <immintrin.h>
#include <pthread.h>
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

// Packing buffers, one set per thread, freed when the thread exits (a thread-specific key's destructor).
// A's grows to the largest `m` seen.
struct packing_buffers {
    float *a, *b;
    long a_capacity;
};
static pthread_key_t buffers_key;
static pthread_once_t buffers_key_once = PTHREAD_ONCE_INIT;

static void free_buffers(void *value) {
    struct packing_buffers *buffers = value;
    free(buffers->a);
    free(buffers->b);
    free(buffers);
}

static void make_buffers_key(void) { pthread_key_create(&buffers_key, free_buffers); }

// This thread's buffers, with room for every MR-row panel of an m-row, KC-deep block of A and for one KC x NC
// block of B; NULL when they cannot be allocated.
static struct packing_buffers *thread_buffers(long m) {
    pthread_once(&buffers_key_once, make_buffers_key);
    struct packing_buffers *buffers = pthread_getspecific(buffers_key);
    if (!buffers) {
        buffers = calloc(1, sizeof *buffers);
        if (!buffers || pthread_setspecific(buffers_key, buffers) != 0) {
            free(buffers);
            return 0;
        }
    }
    long needed = (m + MR - 1) / MR * MR * KC;
    if (needed > buffers->a_capacity) {
        float *grown = aligned_alloc(64, sizeof(float) * (size_t)needed);
        if (!grown) return 0;
        free(buffers->a);
        buffers->a = grown;
        buffers->a_capacity = needed;
    }
    if (!buffers->b) buffers->b = aligned_alloc(64, sizeof(float) * KC * NC);
    return buffers->b ? buffers : 0;
}

static inline __mmask16 column_mask(long count) {
    return count >= 16 ? (__mmask16)0xFFFF : count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1);
}

// out[c] = column c of the 16 x 16 matrix whose rows are r[0..16].
__attribute__((target("avx512f"), always_inline))
static inline void transpose_16x16(const __m512 r[16], __m512 out[16]) {
    __m512 t[16], q[16];
    // Within each 128-bit lane: pairs of rows interleaved, then quads of rows gathered per column.
    for (int g = 0; g < 16; g += 2) {
        t[g] = _mm512_unpacklo_ps(r[g], r[g + 1]);
        t[g + 1] = _mm512_unpackhi_ps(r[g], r[g + 1]);
    }
    for (int g = 0; g < 16; g += 4) {
        q[g] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[g]), _mm512_castps_pd(t[g + 2])));
        q[g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[g]), _mm512_castps_pd(t[g + 2])));
        q[g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[g + 1]), _mm512_castps_pd(t[g + 3])));
        q[g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[g + 1]), _mm512_castps_pd(t[g + 3])));
    }
    // q[4g + c] holds rows 4g..4g+3 of columns c, c+4, c+8, c+12 (one per lane); regroup the lanes.
    for (int c = 0; c < 4; c++) {
        __m512 low_even = _mm512_shuffle_f32x4(q[c], q[4 + c], 0x88), low_odd = _mm512_shuffle_f32x4(q[c], q[4 + c], 0xDD);
        __m512 high_even = _mm512_shuffle_f32x4(q[8 + c], q[12 + c], 0x88);
        __m512 high_odd = _mm512_shuffle_f32x4(q[8 + c], q[12 + c], 0xDD);
        out[c] = _mm512_shuffle_f32x4(low_even, high_even, 0x88);
        out[c + 8] = _mm512_shuffle_f32x4(low_even, high_even, 0xDD);
        out[c + 4] = _mm512_shuffle_f32x4(low_odd, high_odd, 0x88);
        out[c + 12] = _mm512_shuffle_f32x4(low_odd, high_odd, 0xDD);
    }
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
    // 16 columns at a time: one load per row, a 16 x 16 transpose in registers (rows past mr are zero),
    // then one 12-float store per column.
    for (long p = 0; p < kc; p += 16) {
        __mmask16 columns = column_mask(kc - p);
        __m512 r[16];
        for (long i = 0; i < 16; i++) {
            r[i] = i < mr ? _mm512_maskz_loadu_ps(columns, a + (i0 + i) * lda + p0 + p) : _mm512_setzero_ps();
        }
        __m512 cols[16];
        transpose_16x16(r, cols);
        long count = kc - p < 16 ? kc - p : 16;
        for (long j = 0; j < count; j++) _mm512_mask_storeu_ps(dst + (p + j) * MR, (__mmask16)0x0FFF, cols[j]);
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

#define HALF_DECLARE(i) __m512 c##i##_0 = _mm512_setzero_ps();
#define HALF_FMA(i) c##i##_0 = _mm512_fmadd_ps(_mm512_set1_ps(ap[i]), b0, c##i##_0);
#define HALF_STORE(i) if (i < mr) { store_half_row(c + i * ldc, c##i##_0, alpha, beta, m0); }

__attribute__((target("avx512f"), always_inline))
static inline void store_half_row(float *row, __m512 acc, float alpha, float beta, __mmask16 m0) {
    __m512 v = _mm512_mul_ps(_mm512_set1_ps(alpha), acc);
    if (beta != 0) v = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(m0, row), v);
    _mm512_mask_storeu_ps(row, m0, v);
}

// The 12 x 32 kernel for a panel whose columns past 16 are all padding (nr <= 16): half the FMAs. Each element
// is summed in the same order as in kernel_12x32.
__attribute__((target("avx512f")))
static void kernel_12x16(long kc, const float *restrict ap, const float *restrict bp, float *c, long ldc,
                         float alpha, float beta, long mr, long nr) {
    ALL_ROWS(HALF_DECLARE)
    for (long p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(bp);
        ALL_ROWS(HALF_FMA)
        ap += MR;
        bp += NR;
    }
    __mmask16 m0 = column_mask(nr);
    ALL_ROWS(HALF_STORE)
}

__attribute__((target("avx512f")))
static void scale_c(long m, long n, float beta, float *c, long ldc) {
    for (long i = 0; i < m; i++) {
        float *row = c + i * ldc;
        if (beta == 0) memset(row, 0, sizeof(float) * (size_t)n);
        else for (long j = 0; j < n; j++) row[j] *= beta;
    }
}

long strata_sgemm_packed_a_count(long m, long k) { return (m + MR - 1) / MR * MR * (k > 0 ? k : 0); }

long strata_sgemm_packed_b_count(long k, long n) { return (n + NR - 1) / NR * NR * (k > 0 ? k : 0); }

// Depth block p0 of a packed A starts after p0 rows of every panel; panel r of the block after r panels of kc.
__attribute__((target("avx512f")))
void strata_sgemm_pack_a(int trans_a, long m, long k, const float *a, long lda, float *packed) {
    long padded = (m + MR - 1) / MR * MR;
    for (long p0 = 0; p0 < k; p0 += KC) {
        long kc = k - p0 < KC ? k - p0 : KC;
        for (long i0 = 0; i0 < m; i0 += MR) {
            pack_a(trans_a, a, lda, i0, m - i0 < MR ? m - i0 : MR, p0, kc, packed + p0 * padded + (i0 / MR) * MR * kc);
        }
    }
}

__attribute__((target("avx512f")))
void strata_sgemm_pack_b(int trans_b, long k, long n, const float *b, long ldb, float *packed) {
    long padded = (n + NR - 1) / NR * NR;
    for (long p0 = 0; p0 < k; p0 += KC) {
        long kc = k - p0 < KC ? k - p0 : KC;
        pack_b(trans_b, b, ldb, p0, kc, 0, n, packed + p0 * padded);
    }
}

__attribute__((target("avx512f")))
int strata_sgemm_avx512_packed(int trans_a, const float *a, long lda, const float *packed_a, long packed_a_rows,
                               long row0, int trans_b, const float *b, long ldb, const float *packed_b,
                               long packed_b_columns, long col0, long m, long n, long k, float alpha, float beta,
                               float *c, long ldc) {
    if (m <= 0 || n <= 0) return 0;
    struct packing_buffers *buffers = thread_buffers(packed_a ? 0 : m);
    if (!buffers) return -1;
    if (k <= 0 || alpha == 0) { scale_c(m, n, beta, c, ldc); return 0; }
    long a_padded = (packed_a_rows + MR - 1) / MR * MR, b_padded = (packed_b_columns + NR - 1) / NR * NR;
    for (long p0 = 0; p0 < k; p0 += KC) {
        long kc = k - p0 < KC ? k - p0 : KC;
        float block_beta = p0 == 0 ? beta : 1.0f;
        // Every row panel of A for this depth block, packed once and used by every column block.
        const float *pa = packed_a ? packed_a + p0 * a_padded + (row0 / MR) * MR * kc : buffers->a;
        if (!packed_a) {
            for (long i0 = 0; i0 < m; i0 += MR) {
                pack_a(trans_a, a, lda, i0, m - i0 < MR ? m - i0 : MR, p0, kc, buffers->a + (i0 / MR) * MR * kc);
            }
        }
        for (long j0 = 0; j0 < n; j0 += NC) {
            long nc = n - j0 < NC ? n - j0 : NC;
            const float *pb = packed_b ? packed_b + p0 * b_padded + ((col0 + j0) / NR) * NR * kc : buffers->b;
            if (!packed_b) pack_b(trans_b, b, ldb, p0, kc, j0, nc, buffers->b);
            for (long i0 = 0; i0 < m; i0 += MR) {
                long mr = m - i0 < MR ? m - i0 : MR;
                for (long jr = 0; jr < nc; jr += NR) {
                    long nr = nc - jr < NR ? nc - jr : NR;
                    if (nr <= 16) {
                        kernel_12x16(kc, pa + (i0 / MR) * MR * kc, pb + (jr / NR) * kc * NR, c + i0 * ldc + j0 + jr,
                                     ldc, alpha, block_beta, mr, nr);
                    } else {
                        kernel_12x32(kc, pa + (i0 / MR) * MR * kc, pb + (jr / NR) * kc * NR, c + i0 * ldc + j0 + jr,
                                     ldc, alpha, block_beta, mr, nr);
                    }
                }
            }
        }
    }
    return 0;
}
