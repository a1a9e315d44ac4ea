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

__attribute__((target("avx512f")))
static double avx512_rate(long iterations) {
    __m512 m = _mm512_set1_ps(0.999999f), d = _mm512_set1_ps(1e-7f);
#define DECLARE(i) __m512 r##i = _mm512_set1_ps((float)i);
#define STEP(i) r##i = _mm512_fmadd_ps(r##i, m, d);
#define SUM(i) total = _mm512_add_ps(total, r##i);
    CHAINS(DECLARE)
    double start = seconds_now();
    for (long it = 0; it < iterations; it++) { CHAINS(STEP) }
    double elapsed = seconds_now() - start;
    __m512 total = _mm512_setzero_ps();
    CHAINS(SUM)
    volatile float sink = _mm512_reduce_add_ps(total);
    (void)sink;
    return (double)iterations * 12 * 16 * 2 / elapsed / 1e9;
#undef DECLARE
#undef STEP
#undef SUM
}

__attribute__((target("avx2,fma")))
static double avx2_rate(long iterations) {
    __m256 m = _mm256_set1_ps(0.999999f), d = _mm256_set1_ps(1e-7f);
#define DECLARE(i) __m256 r##i = _mm256_set1_ps((float)i);
#define STEP(i) r##i = _mm256_fmadd_ps(r##i, m, d);
#define SUM(i) total = _mm256_add_ps(total, r##i);
    CHAINS(DECLARE)
    double start = seconds_now();
    for (long it = 0; it < iterations; it++) { CHAINS(STEP) }
    double elapsed = seconds_now() - start;
    __m256 total = _mm256_setzero_ps();
    CHAINS(SUM)
    float lanes[8];
    _mm256_storeu_ps(lanes, total);
    volatile float sink = lanes[0];
    (void)sink;
    return (double)iterations * 12 * 8 * 2 / elapsed / 1e9;
#undef DECLARE
#undef STEP
#undef SUM
}

double strata_fma_gflops(int width, long iterations) {
    __builtin_cpu_init();
    if (width == 16) return __builtin_cpu_supports("avx512f") ? avx512_rate(iterations) : 0;
    if (width == 8) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? avx2_rate(iterations) : 0;
    return 0;
}
