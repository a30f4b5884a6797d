/*
 * hdrs.h: header lists of a call, and the rules for which request and
 * response fields cross the proxy.
 *
 * A list keeps its h2_nv array pointing into one growing byte arena,
 * so it costs two allocations however many fields it has (one malloc per
 * header was half of a unary call's allocations).  nghttp2 copies a header
 * block when it is submitted, so the arena only has to live until then.
 * Only the h2_nv type (h2conn.h) is used here: the list is handed to the
 * connection layer, which submits it.
 */
#ifndef SPARKGATE_HDRS_H
#define SPARKGATE_HDRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "h2conn.h"

struct cfg_auth;

struct hdrs {
    h2_nv *nv;
    size_t n, cap;
    uint8_t *buf; /* names and values, NUL-terminated */
    size_t blen, bcap;
    size_t bytes; /* RFC 9113 section 6.5.2 size: name + value + 32 each */
};

/* Appends a copy of one field.  0 or SG_ERR_NOMEM (the list is unchanged). */
int hdrs_add(struct hdrs *h, const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen);
int hdrs_add_str(struct hdrs *h, const char *name, const char *value);
/* Frees the list's memory and empties it (a zeroed list is empty). */
void hdrs_clear(struct hdrs *h);

/* |name| (|len| bytes, not NUL-terminated) is exactly |lit|. */
static inline bool
hdrs_name_is(const uint8_t *name, size_t len, const char *lit)
{
    return strlen(lit) == len && memcmp(name, lit, len) == 0;
}

/* RFC 9113 section 8.2.2: connection-specific fields never cross a hop. */
bool hdrs_hop_by_hop(const uint8_t *name, size_t len);

enum hdrs_class {
    HDRS_FORWARD,
    HDRS_CREDENTIAL, /* one of auth.header_names */
    HDRS_STRIP,      /* auth.identity.strip_headers / strip_header_prefixes, identity */
};

/* What becomes of a client's request field |name| (not a pseudo-header). */
enum hdrs_class hdrs_classify(const struct cfg_auth *a, const uint8_t *name, size_t len);

#endif
