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
#include <nghttp2/nghttp2.h>

struct worker;
struct cfg;
struct cfg_backend;
struct be_conn;
struct call;
struct h2io;

/*
 * Queues |call| on a connection to backend |idx| of |cfg|.  When the
 * connection becomes ready, call_be_ready(call) runs from the event loop;
 * if it is ready already, the caller runs be_dispatch; if it fails,
 * call_be_failed(call, reason).  Returns the connection,
 * or NULL if none could even be started (call_be_failed has then NOT been
 * called; |why| says why).
 */
struct be_conn *be_attach(struct worker *w, struct cfg *cfg, size_t idx, struct call *call,
                          const char **why);

/*
 * Opens the streams of calls waiting on |b| if it is ready (call after
 * storing be_attach's result: call_be_ready runs synchronously).
 */
void be_dispatch(struct be_conn *b);

/* Removes |call| from the waiting queue or active list of |b|. */
void be_detach(struct be_conn *b, struct call *call);

/*
 * Opens the backend stream for |call| (request data pulled through
 * call_be_read).  Returns the stream id (> 0) or a negative nghttp2 error.
 */

int32_t be_submit_request(struct be_conn *b, const nghttp2_nv *nv, size_t nvlen,
                          struct call *call);

struct h2io *be_io(struct be_conn *b);
void be_kick(struct be_conn *b);
const struct cfg_backend *be_backend(const struct be_conn *b);

/* Starts graceful close of every backend connection of |w| (drain / exit). */
void be_pool_close_idle(struct worker *w, bool all);

/* Frees every backend connection of |w| (worker exit). */
void be_pool_free(struct worker *w);

#endif
