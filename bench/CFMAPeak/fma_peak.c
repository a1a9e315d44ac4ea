// FMA throughput loops: 12 independent accumulator chains hide the FMA latency, so the loop runs at the
// core's FMA issue rate.
#include "fma_peak.h"

#include <immintrin.h>
#include <time.h>

static double seconds_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

// One rate function per register width: VEC is the vector type, P the intrinsic prefix, LANES its floats.
#define RATE_FUNCTION(NAME, TARGET, VEC, P, LANES, REDUCE)                               \
    __attribute__((target(TARGET)))                                                      \
    static double NAME(long iterations) {                                                \
        VEC m = P##_set1_ps(0.999999f), d = P##_set1_ps(1e-7f), total = P##_setzero_ps(); \
        CHAINS(DECLARE)                                                                  \
        double start = seconds_now();                                                    \
        for (long it = 0; it < iterations; it++) { CHAINS(STEP) }                        \
        double elapsed = seconds_now() - start;                                          \
        CHAINS(SUM)                                                                      \
        volatile float sink = REDUCE(total);                                             \
        (void)sink;                                                                      \
        return (double)iterations * 12 * LANES * 2 / elapsed / 1e9;                      \
    }
#define DECLARE(i) VEC_T r##i = SET1((float)i);
#define STEP(i) r##i = FMADD(r##i, m, d);
#define SUM(i) total = ADD(total, r##i);

__attribute__((target("avx2")))
static float first_lane(__m256 v) { return _mm256_cvtss_f32(v); }

#define VEC_T __m512
#define SET1 _mm512_set1_ps
#define FMADD _mm512_fmadd_ps
#define ADD _mm512_add_ps
RATE_FUNCTION(avx512_rate, "avx512f", __m512, _mm512, 16, _mm512_reduce_add_ps)
#undef VEC_T
#undef SET1
#undef FMADD
#undef ADD

#define VEC_T __m256
#define SET1 _mm256_set1_ps
#define FMADD _mm256_fmadd_ps
#define ADD _mm256_add_ps
RATE_FUNCTION(avx2_rate, "avx2,fma", __m256, _mm256, 8, first_lane)

double strata_fma_gflops(int width, long iterations) {
    __builtin_cpu_init();
    if (width == 16) return __builtin_cpu_supports("avx512f") ? avx512_rate(iterations) : 0;
    if (width == 8) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? avx2_rate(iterations) : 0;
    return 0;
}
