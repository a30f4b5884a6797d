/*
 * fe.h: client-facing HTTP/2 connections (the server side of nghttp2).
 * One fe_conn per accepted socket: TLS (ALPN h2) or h2c, SETTINGS from the
 * cfg limits, per-connection timers (handshake, first request, idle), and
 * graceful GOAWAY on drain.  Streams are handed to call.c.
 */
#ifndef SPARKGATE_FE_H
#define SPARKGATE_FE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <nghttp2/nghttp2.h>
#include <sys/socket.h>
#include <event2/util.h>

struct worker;
struct fe_conn;
struct call_list;
struct h2io;

/*
 * Takes ownership of accepted socket |fd| from listener |lidx| of the
 * worker's snapshot.  Closes it on any failure.
 */
void fe_accept(struct worker *w, evutil_socket_t fd, const struct sockaddr *sa, int salen,
               size_t lidx);

/*
 * Graceful shutdown of every connection of |w|: the first call sends a
 * GOAWAY announcing shutdown, the next (a tick later) the final GOAWAY with
 * the last stream served.  In-flight streams continue; a connection closes
 * once its last stream is done.
 */
void fe_drain_all(struct worker *w);

/* Closes every connection of |w| now (drain deadline, worker exit). */
void fe_close_all(struct worker *w);

/* The connection's nghttp2 plumbing (call.c submits responses through it). */
struct h2io *fe_io(struct fe_conn *c);

/*
 * Submits response HEADERS for stream |sid|; with |body| the response data
 * is pulled from the call (call_fe_read), without it the HEADERS end the
 * stream (a trailers-only response).  Returns 0 or an nghttp2 error.
 */

int fe_submit_response(struct fe_conn *c, int32_t sid, const nghttp2_nv *nv, size_t nvlen,
                       bool body);

/* Schedules a flush of pending frames. */
void fe_kick(struct fe_conn *c);

/* A call on this connection ended (idle timer bookkeeping). */
void fe_call_detached(struct fe_conn *c);

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

/* The connection's calls. */
struct call_list *fe_calls(struct fe_conn *c);

uint64_t fe_conn_id(const struct fe_conn *c);
const char *fe_peer(const struct fe_conn *c);
bool fe_is_tls(const struct fe_conn *c);

#endif
