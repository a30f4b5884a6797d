/*
 * call.h: one RPC, as the connection layer sees it.  call.c is the only
 * module that knows both sides of a call: the client's stream on an
 * fe_conn and the backend's stream on a be_conn.  fe.c and be.c translate
 * nghttp2 callbacks into the call_fe_* and call_be_* events below; the
 * stream layer behind them decides what crosses:
 *
 *   call.c         the glue: lifecycle, flow-control credit, budgets, stall
 *                  and deadline timers, call_fail (every local answer)
 *   req_stage.c    the request stages, one declared list run in order
 *   resp_filter.c  the response filters (today: Config redaction)
 *   reqbody.c      request DATA cut into whole messages
 *   hdrs.c         header lists and which fields cross; calllog.c the
 *                  access and audit lines
 *
 * Lifecycle: created when the client's HEADERS begin (call_new); freed when
 * both halves have detached (client stream closed AND backend stream closed
 * or never opened).  A call holds a reference to the cfg snapshot it started
 * with, so a reload never changes a call in flight.
 *
 * Request path:  header fields -> kept (:path, content-type, grpc-timeout),
 *                  credential set aside, identity and hop-by-hop dropped,
 *                  the rest copied for the backend
 *                headers done -> validate -> authenticate (an unknown
 *                  signing key: wait for the JWKS fetch under way, capped;
 *                  the stream's window stays at
 *                  limits.unauthenticated_stream_window_size until then)
 *                  -> admit (response filters, profile, method allowed)
 *                each message, buffered whole (<= max_request_message_size)
 *                  -> message checks -> Config credential scrub -> session
 *                  -> judge (policy.c) -> response filters see it
 *                  -> bind identity -> route (first message)
 *                  -> queued; the first opens the backend stream, later ones
 *                  (client streaming) are forwarded as they complete.
 * Response path: backend bytes pass through unparsed unless a response
 *                filter applies; trailers relayed.
 * Flow control:  each side grants the peer credit only while the other
 *                side's buffer is below limits.stream_buffer_size; so
 *                memory per call is bounded whatever the result size.
 */
#ifndef SPARKGATE_CALL_H
#define SPARKGATE_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

struct call;
struct cfg;
struct worker;
struct fe_conn;
struct be_conn;
struct evbuffer;

/* A list of calls, kept by a connection (TAILQ of opaque calls). */
TAILQ_HEAD(call_list, call);

/*
 * Creates the call for client stream |sid| on |fe|.  Takes a reference to
 * |cfg|.  The call is appended to |fe_list|.  Returns NULL on allocation
 * failure.
 */
struct call *call_new(struct worker *w, struct fe_conn *fe, struct call_list *fe_list,
                      int32_t sid, struct cfg *cfg);

/* --- client side events (fe.c) ------------------------------------------ */

/* A request header field.  Returns 0, or -1 to reset the stream. */
int call_fe_header(struct call *c, const uint8_t *name, size_t namelen, const uint8_t *value,
                   size_t valuelen);
/* Request headers complete. */
void call_fe_headers_done(struct call *c);
/* A chunk of request DATA payload. */
void call_fe_data(struct call *c, const uint8_t *data, size_t len);
/* The client half-closed its side. */
void call_fe_end_stream(struct call *c);
/* The client stream closed (|error_code| from RST_STREAM or 0). Detaches. */
void call_fe_closed(struct call *c, uint32_t error_code);
/* The client connection is going away: detach every call in |list|. */
void call_fe_abort_all(struct call_list *list);
/* Response data source: see nghttp2_data_source_read_callback. */
ssize_t call_fe_read(struct call *c, size_t length, uint32_t *flags);
/* Moves |length| response bytes behind |framehd| into the client's output. */
int call_fe_send_data(struct call *c, const uint8_t *framehd, size_t length);

/* --- backend side events (be.c) ----------------------------------------- */

/* The backend connection is up: open the backend stream. */
void call_be_ready(struct call *c);
/* The backend connection failed before the stream opened. */
void call_be_failed(struct call *c, const char *reason);
/* A response header or trailer field.  Returns 0, or -1 to reset. */
int call_be_header(struct call *c, bool trailer, const uint8_t *name, size_t namelen,
                   const uint8_t *value, size_t valuelen);
/* Response headers (or trailers) complete. */
void call_be_headers_done(struct call *c, bool trailer, bool end_stream);
/* A chunk of response DATA payload. */
void call_be_data(struct call *c, const uint8_t *data, size_t len);
/* The backend finished sending (END_STREAM on DATA). */
void call_be_end_stream(struct call *c);
/* The backend stream closed. Detaches. */
void call_be_closed(struct call *c, uint32_t error_code);
/* The backend connection died: fail or detach every call in |list|. */
void call_be_abort_all(struct call_list *list, const char *reason);
/* Request data source toward the backend. */
ssize_t call_be_read(struct call *c, size_t length, uint32_t *flags);
/* Moves |length| request bytes behind |framehd| into the backend's output. */
int call_be_send_data(struct call *c, const uint8_t *framehd, size_t length);

/* Intrusive list helpers for be.c (waiting and active calls of a backend
 * connection); a call is on at most one backend list at a time. */
void call_be_list_insert(struct call_list *l, struct call *c);
void call_be_list_remove(struct call_list *l, struct call *c);
struct call *call_be_list_first(struct call_list *l);
/* The backend stream id of |c| (0 until be_submit_request succeeded). */
int32_t call_be_stream(const struct call *c);

/* A JWKS fetch ended (worker.c, on |w|'s thread): every call of |w| waiting
 * for a signing key is checked again - authenticated, refused, or waiting
 * on for a fetch still to end. */
void call_auth_keys_changed(struct worker *w);

/* Number of calls alive in this process (all workers). */
uint64_t call_live_count(void);

#endif
