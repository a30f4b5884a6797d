/*
 * be.h: backend HTTP/2 connections (the client side of nghttp2) and the
 * per-worker pool.  Connections are reused and multiplexed: a call gets an
 * existing connection to its backend (same cfg snapshot) with a free stream
 * slot, or a new one.  A connection that cannot be established fails every
 * call waiting on it with a reason that names the backend.
 */
#ifndef SPARKGATE_BE_H
#define SPARKGATE_BE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "h2conn.h"

struct cfg;
struct cfg_backend;
struct be_conn;
struct be_pool;
struct event_base;
struct evdns_base;

/*
 * The backend connections of one event loop (a worker's).  |cfg| points at
 * the loop's current snapshot and |draining| at its drain flag: a
 * connection of an older snapshot, or any idle one while draining, closes.
 * |dns| resolves backend names.  The pool is changed only by be.c.
 */
struct be_pool *be_pool_new(struct event_base *base, struct evdns_base *dns, struct cfg *const *cfg,
                            const bool *draining);
/* Frees an empty pool (after be_pool_free); NULL is fine. */
void be_pool_destroy(struct be_pool *p);
/* Connections in |p|. */
size_t be_pool_count(const struct be_pool *p);

/*
 * Opens a stream for |st| (its owner sets ops and out) on a connection to
 * backend |idx| of |cfg|: an existing one with room, or a new one.  On a
 * ready connection the stream opens before this returns; otherwise when
 * the connection is up, from the event loop.  Opening asks the owner for
 * the header block (ops->request_headers) and reports ops->on_open; a
 * connection that fails first reports ops->on_failed, one that dies with
 * the stream open ops->on_lost.  Returns the connection, or NULL with an
 * SG_ERR_* in |err| and the cause in |why| (no op has then been called and
 * |st| is on no connection).
 */
struct be_conn *be_open_stream(struct be_pool *p, struct cfg *cfg, size_t idx, struct h2_stream *st,
                               int *err, const char **why);

/* Takes |st| off |b| (waiting or open; an open stream must have closed or be reset). */
void be_detach(struct be_conn *b, struct h2_stream *st);

/* Credit, resume and reset: the h2conn_* stream verbs (h2conn.h). */

void be_kick(struct be_conn *b);
const struct cfg_backend *be_backend(const struct be_conn *b);

/* Closes the idle connections of |p| that are retired; |all|: every one is
 * retired (drain / exit). */
void be_pool_close_idle(struct be_pool *p, bool all);

/* Frees every backend connection of |p| (worker exit). */
void be_pool_free(struct be_pool *p);

#endif
