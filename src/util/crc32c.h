/*
 * crc32c.h — CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of TFRecord framing (TensorBoard event files, TFRecord training
 * data), plus the "masked" form those formats store.
 *
 * Computed with slicing-by-8 tables built once on first use (thread-safe
 * through pthread_once), which runs at several bytes per cycle without
 * depending on SSE4.2 being present.
 */
#ifndef UTIL_CRC32C_H
#define UTIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: crc32c_update(0, ...) starts one; chaining calls over
 * consecutive pieces gives the CRC of their concatenation. */
uint32_t crc32c_update(uint32_t crc, const void *data, size_t len);
/* The CRC-32C of one buffer ("123456789" gives 0xE3069283). */
uint32_t crc32c(const void *data, size_t len);
/* TFRecord's mask: ((crc >> 15) | (crc << 17)) + 0xa282ead8, and its inverse. */
uint32_t crc32c_mask(uint32_t crc);
uint32_t crc32c_unmask(uint32_t masked);

#endif
