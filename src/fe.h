/*
 * fe.h: client-facing HTTP/2 connections (the server side of nghttp2).
 * One fe_conn per accepted socket: TLS (ALPN h2) or h2c, SETTINGS from the
 * cfg limits, per-connection timers (handshake, first request, idle), and
 * graceful GOAWAY on drain.  Each request stream is handed to an owner
 * (a call) made by the open function given at accept; the owner hears of
 * the stream through its h2_stream_ops (h2conn.h) and acts on it through
 * the verbs below.  nghttp2 stays inside this module and h2conn.c.
 */
#ifndef SPARKGATE_FE_H
#define SPARKGATE_FE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <event2/util.h>
#include <openssl/ssl.h>

#include "h2conn.h"

struct cfg;
struct fe_conn;
struct fe_pool;
struct event_base;

/*
 * Makes the owner of client stream |sid| of |c| (a call, under snapshot
 * |cfg|; |arg| as given to fe_pool_new) and returns its stream with ops and
 * out set, or NULL to refuse the stream.  The connection lists it until the
 * owner calls fe_stream_detached.
 */
typedef struct h2_stream *(*fe_open_fn)(void *arg, struct fe_conn *c, int32_t sid, struct cfg *cfg);

/*
 * The client connections of one event loop (a worker's).  |cfg| points at
 * the loop's current snapshot (read for each new connection and stream);
 * streams are opened with |open_fn|(|open_arg|, ...); |closed|(|closed_arg|)
 * runs once per connection that fe_accept took, when it is gone.  The pool
 * is changed only by fe.c.
 */
struct fe_pool *fe_pool_new(struct event_base *base, struct cfg *const *cfg, fe_open_fn open_fn,
                            void *open_arg, void (*closed)(void *arg), void *closed_arg);
/* Frees an empty pool (after fe_close_all); NULL is fine. */
void fe_pool_destroy(struct fe_pool *p);
/* Open connections in |p|. */
size_t fe_pool_count(const struct fe_pool *p);

/*
 * Takes ownership of accepted socket |fd| from listener |lidx| of the
 * current snapshot.  Closes it on any failure.
 */
void fe_accept(struct fe_pool *p, evutil_socket_t fd, const struct sockaddr *sa, int salen,
               size_t lidx);

/*
 * Graceful shutdown of every connection of |p|: the first call sends a
 * GOAWAY announcing shutdown, the next (a tick later) the final GOAWAY with
 * the last stream served.  In-flight streams continue; a connection closes
 * once its last stream is done.
 */
void fe_drain_all(struct fe_pool *p);

/* Closes every connection of |p| now (drain deadline, worker exit). */
void fe_close_all(struct fe_pool *p);

/* ---- stream verbs ---- */

/*
 * Submits response HEADERS for stream |sid|; with |body| the response data
 * is pulled from that stream (ops->read, then its out), without it the
 * HEADERS end the stream (a trailers-only response).  Returns 0 or SG_ERR_*.
 */
int fe_submit_response(struct fe_conn *c, int32_t sid, const h2_nv *nv, size_t nvlen,
                       struct h2_stream *body);
/* Submits trailers for |sid| (from inside its ops->read, with H2_READ_TRAILERS). */
int fe_submit_trailers(struct fe_conn *c, int32_t sid, const h2_nv *nv, size_t nvlen);
/* Credit, resume and reset: the h2conn_* stream verbs (h2conn.h). */

/* Schedules a flush of pending frames. */
void fe_kick(struct fe_conn *c);

/* The owner of |st| is done with it (the stream closed): it leaves the
 * connection's list (idle timer and drain bookkeeping). */
void fe_stream_detached(struct fe_conn *c, struct h2_stream *st);

/*
 * Authentication and flow control: a stream starts with the small
 * limits.unauthenticated_stream_window_size window (all an unauthenticated
 * client can make sparkgate hold); once its call is authenticated,
 * fe_auth_open_window raises that stream's window to
 * limits.stream_window_size (a WINDOW_UPDATE).
 */
void fe_auth_open_window(struct fe_conn *c, int32_t sid);
/* Calls of this connection waiting for signing keys: adds |delta|, returns the count. */
uint32_t fe_auth_waiting(struct fe_conn *c, int delta);
/* Closes |c| now (a connection that makes no progress at all). */
void fe_abort(struct fe_conn *c, const char *why);

/* A call on this connection was authenticated: the first-request timer stops. */
void fe_call_authenticated(struct fe_conn *c);

/* Request bytes buffered by the connection's calls (call.c keeps it). */
uint64_t *fe_req_buffered(struct fe_conn *c);

/* The connection's streams (their owners may walk them). */
struct h2_stream_list *fe_streams(struct fe_conn *c);
/* The TLS session (client certificate), or NULL for h2c. */
SSL *fe_ssl(struct fe_conn *c);

uint64_t fe_conn_id(const struct fe_conn *c);
const char *fe_peer(const struct fe_conn *c);
bool fe_is_tls(const struct fe_conn *c);

#endif
