/*
 * route.h: chooses the backend for a call.
 *
 * Rendezvous (highest-random-weight) hashing over the backends' stable
 * names: every sparkgate replica with the same backend names sends the same
 * key to the same backend, without shared state, and removing one backend
 * moves only the keys that lived on it.  The key is the Spark Connect
 * session_id (later: principal + session_id), so every RPC of a session,
 * ReattachExecute and ReleaseExecute included, reaches the same server.
 * Pure: no I/O, no allocation.
 */
#ifndef SPARKGATE_ROUTE_H
#define SPARKGATE_ROUTE_H

#include <stddef.h>
#include <stdint.h>

struct cfg;

/* Stable 64-bit hash (FNV-1a then a splitmix64 finaliser); never seeded. */
uint64_t route_hash(const void *p, size_t len, uint64_t h);

/*
 * Index into cfg->backends of the backend for |key| (any bytes, may be
 * empty).  cfg->nbackends must be > 0.
 */
size_t route_pick(const struct cfg *c, const uint8_t *key, size_t keylen);

#endif
