#ifndef STRATA_FMA_PEAK_H
#define STRATA_FMA_PEAK_H

/// Single-precision FMA throughput of the calling thread in GFLOP/s, from `iterations` rounds of 12 independent
/// fused multiply-adds on registers `width` floats wide (16: AVX-512, 8: AVX2). Returns 0 when the CPU lacks the
/// instructions.
double strata_fma_gflops(int width, long iterations);

#endif
