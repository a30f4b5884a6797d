/*
 * scb_util.c - small byte helpers (see scb_util.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "scb_util.h"

void
scb_uuid4(char *out)
{
	uint8_t b[16];

	/* RAND_bytes only fails when the CSPRNG cannot be seeded; a test
	 * backend can live with a weaker fallback in that case. */
	if (RAND_bytes(b, sizeof(b)) != 1) {
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (uint8_t)rand();
	}
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, SCB_UUID_LEN + 1,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
	    b[11], b[12], b[13], b[14], b[15]);
}

uint64_t
scb_hash64(uint64_t seed, const void *p, size_t n)
{
	const uint8_t *s = p;
	uint64_t h = seed ? seed : 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

char *
scb_base64(const uint8_t *p, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out, *o;
	size_t i;

	out = malloc((n + 2) / 3 * 4 + 1);
	if (out == NULL)
		return NULL;
	o = out;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v =
		    (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = tab[v >> 6 & 63];
		*o++ = tab[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = tab[v >> 6 & 63];
	}
	*o = '\0';
	return out;
}

char *
scb_grpc_percent_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out, *o;

	out = malloc(n * 3 + 1);
	if (out == NULL)
		return NULL;
	o = out;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c < 0x20 || *c > 0x7e || *c == '%') {
			*o++ = '%';
			*o++ = hex[*c >> 4];
			*o++ = hex[*c & 15];
		} else {
			*o++ = (char)*c;
		}
	}
	*o = '\0';
	return out;
}

uint32_t
scb_crc32(const uint8_t *p, size_t n)
{
	/* Table built on first use: reflected polynomial 0xEDB88320, the one
	 * zlib and java.util.zip.CRC32 use (Spark clients compute the
	 * artifact chunk CRCs with those). */
	static uint32_t table[256];
	static bool ready;
	uint32_t c = 0xffffffffU;

	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t v = i;
			for (int k = 0; k < 8; k++)
				v = (v & 1) ? 0xedb88320U ^ (v >> 1) : v >> 1;
			table[i] = v;
		}
		ready = true;
	}
	for (size_t i = 0; i < n; i++)
		c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffU;
}

void
scb_hex(const uint8_t *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Length of the valid UTF-8 sequence starting at p[0..n), or 0. */
static size_t
utf8_seq_len(const uint8_t *p, size_t n)
{
	uint32_t cp;
	size_t len;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

bool
scb_utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t l = utf8_seq_len(p + i, n - i);
		if (l == 0)
			return false;
		i += l;
	}
	return true;
}

char *
scb_utf8_repair(const uint8_t *p, size_t n)
{
	char *out;
	size_t i = 0;

	out = malloc(n + 1);
	if (out == NULL)
		return NULL;
	while (i < n) {
		size_t l = utf8_seq_len(p + i, n - i);
		if (l == 0) {
			out[i++] = '?';
		} else {
			memcpy(out + i, p + i, l);
			i += l;
		}
	}
	out[n] = '\0';
	return out;
}

bool
scb_parse_u64(const uint8_t *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 20)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}
