/*
 * scb_util.h - small byte helpers for the Spark Connect test backend:
 * UUIDs, base64, gRPC percent-encoding, CRC-32, hex, UTF-8 repair.
 */
#ifndef SCB_UTIL_H
#define SCB_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCB_UUID_LEN 36

/* Writes a random (version 4) UUID and a NUL into out[SCB_UUID_LEN + 1]. */
void scb_uuid4(char *out);

/* 64-bit FNV-1a over p[0..n), chained through seed (use 0 to start). */
uint64_t scb_hash64(uint64_t seed, const void *p, size_t n);

/* Standard-alphabet base64 without padding (gRPC accepts unpadded -bin
 * values).  Returns a malloc'd NUL-terminated string, or NULL on ENOMEM. */
char *scb_base64(const uint8_t *p, size_t n);

/* Percent-encodes a grpc-message value as the gRPC spec asks: every byte
 * outside 0x20..0x7e, and '%' itself, becomes %XX.  Returns a malloc'd
 * string or NULL. */
char *scb_grpc_percent_encode(const char *s);

/* CRC-32 (the zlib / java.util.zip.CRC32 polynomial), one shot. */
uint32_t scb_crc32(const uint8_t *p, size_t n);

/* Lower-case hex of p[0..n) into out (2n + 1 bytes). */
void scb_hex(const uint8_t *p, size_t n, char *out);

/* Copy of p[0..n) with every byte that does not start a valid UTF-8
 * sequence replaced by '?', so that JSON encoders accept it.  Returns a
 * malloc'd buffer (NUL-terminated, length n) or NULL. */
char *scb_utf8_repair(const uint8_t *p, size_t n);

/* True when p[0..n) is valid UTF-8 (no overlongs, no surrogates). */
bool scb_utf8_valid(const uint8_t *p, size_t n);

/* Parses a decimal unsigned integer that fills all of s[0..n).  Returns
 * false on empty input, junk or overflow above max. */
bool scb_parse_u64(const uint8_t *s, size_t n, uint64_t max, uint64_t *out);

#endif /* SCB_UTIL_H */
