#ifndef STRATA_CLMDB_SHIM_H
#define STRATA_CLMDB_SHIM_H
#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>
#include <zlib.h>

/// CRC-32 (the zlib / IEEE 802.3 polynomial, the same as Python's `zlib.crc32`) of `count` bytes,
/// continuing from `crc` (0 to start). The cache stores it beside every value.
static inline uint32_t strata_crc32(uint32_t crc, const void *bytes, size_t count) {
    return (uint32_t)crc32_z((uLong)crc, (const Bytef *)bytes, (z_size_t)count);
}
#endif
