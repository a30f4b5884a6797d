/*
 * route.c: rendezvous hashing over backend names.  O(backends) per pick,
 * which at the configured maximum (256) is a few hundred nanoseconds and
 * needs no ring to rebuild on reload.
 */
#include "config.h"

#include <string.h>

#include "route.h"

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t
mix64(uint64_t z)
{
    /* splitmix64 finaliser: spreads FNV's weak low bits over the whole word */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t
route_hash(const void *p, size_t len, uint64_t h)
{
    const unsigned char *s = p;
    size_t i;

    if (h == 0)
        h = FNV_OFFSET;
    for (i = 0; i < len; i++) {
        h ^= s[i];
        h *= FNV_PRIME;
    }
    return mix64(h);
}

size_t
route_pick(route_name_fn *name, const void *set, size_t n, const uint8_t *key, size_t keylen)
{
    uint64_t kh = route_hash(key, keylen, 0), best = 0, score;
    size_t i, besti = 0;

    for (i = 0; i < n; i++) {
        const char *nm = name(set, i);

        /* score = H(name, H(key)); ties go to the lower index, deterministically */
        score = route_hash(nm, strlen(nm), kh ^ FNV_OFFSET);
        if (i == 0 || score > best) {
            best = score;
            besti = i;
        }
    }
    return besti;
}

size_t
route_key(char *out, size_t cap, const char *principal, const uint8_t *sid, size_t sidlen)
{
    size_t plen = strlen(principal);

    if (plen > cap - 1)
        plen = cap - 1;
    if (plen + 1 + sidlen > cap)
        sidlen = cap - plen - 1;
    memcpy(out, principal, plen);
    out[plen] = '\0';
    if (sidlen > 0)
        memcpy(out + plen + 1, sid, sidlen);
    return plen + 1 + sidlen;
}
