/*
 * route.h: chooses the backend for a call.
 *
 * Rendezvous (highest-random-weight) hashing over the backends' stable
 * names: every sparkgate replica with the same backend names sends the same
 * key to the same backend, without shared state, and removing one backend
 * moves only the keys that lived on it.  The key is principal + session_id
 * (route_key), so every RPC of a session, ReattachExecute and
 * ReleaseExecute included, reaches the same server.
 * Pure: no I/O, no allocation, no configuration: the caller presents the
 * backends it routes over through route_name_fn.
 */
#ifndef SPARKGATE_ROUTE_H
#define SPARKGATE_ROUTE_H

#include <stddef.h>
#include <stdint.h>

/* Stable 64-bit hash (FNV-1a then a splitmix64 finaliser); never seeded. */
uint64_t route_hash(const void *p, size_t len, uint64_t h);

/* The stable name of backend |i| (0 <= i < n) of the caller's set |set|. */
typedef const char *route_name_fn(const void *set, size_t i);

/*
 * Index (0 .. n-1) of the backend of |set| for |key| (any bytes, may be
 * empty); |n| must be > 0.  Ties go to the lower index.
 */
size_t route_pick(route_name_fn *name, const void *set, size_t n, const uint8_t *key,
                  size_t keylen);

/*
 * Writes the routing key of a call into |out| (|cap| > 1 bytes): Spark keys
 * sessions by (user_id, session_id), so does routing: |principal| ("" when
 * anonymous), a NUL, then as much of the session id as fits.  Returns the
 * key's length.
 */
size_t route_key(char *out, size_t cap, const char *principal, const uint8_t *sid, size_t sidlen);

#endif
