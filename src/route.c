/*
 * route.c: rendezvous hashing over backend names.  O(backends) per pick,
 * which at the configured maximum (256) is a few hundred nanoseconds and
 * needs no ring to rebuild on reload.
 */
#include "config.h"

#include <string.h>

#include "cfg.h"
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
route_pick(const struct cfg *c, const uint8_t *key, size_t keylen)
{
    uint64_t kh = route_hash(key, keylen, 0), best = 0, score;
    size_t i, besti = 0;

    for (i = 0; i < c->nbackends; i++) {
        const char *name = c->backends[i].name;

        /* score = H(name, H(key)); ties go to the lower index, deterministically */
        score = route_hash(name, strlen(name), kh ^ FNV_OFFSET);
        if (i == 0 || score > best) {
            best = score;
            besti = i;
        }
    }
    return besti;
}
