/*
 * call.h: one RPC.  call.c is the only module that knows both sides of a
 * call: the client's stream on an fe_conn and the backend's stream on a
 * be_conn.  A call embeds one struct h2_stream per side; fe.c and be.c
 * report the streams' events through the call's two h2_stream_ops tables
 * (h2conn.h), and the call acts on them only through the fe_* / be_*
 * stream verbs.  The stream layer decides what crosses:
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
struct fe_conn;
struct h2_stream;
struct event_base;
struct auth_cache;
struct be_pool;

TAILQ_HEAD(call_list, call);

/*
 * What one event loop (a worker) lends its calls: the loop, the token
 * cache, the backend pool, and the loop's call bookkeeping.  The worker
 * holds it (call_ctx_new); only call.c changes it.
 */
struct call_ctx {
    struct event_base *base;
    struct auth_cache *auth_cache; /* verified tokens; this thread only */
    struct be_pool *be_pool;
    struct call_list auth_waiting; /* calls waiting for signing keys */
    size_t nauth_waiting;
    uint64_t auth_wake_gen; /* one re-check per call per wake */
    size_t ncalls;          /* calls alive on this loop */
    bool busy;              /* calls ran since call_ctx_idle_after_busy said so */
};

void call_ctx_init(struct call_ctx *x, struct event_base *base, struct auth_cache *cache,
                   struct be_pool *be_pool);
/* The same, allocated (NULL when out of memory); call_ctx_free(NULL) is fine. */
struct call_ctx *call_ctx_new(struct event_base *base, struct auth_cache *cache,
                              struct be_pool *be_pool);
void call_ctx_free(struct call_ctx *x);

/* True once when no call is alive and some ran since the last true (memory trim). */
bool call_ctx_idle_after_busy(struct call_ctx *x);

/*
 * Creates the call for client stream |sid| on |fe| under the struct call_ctx
 * |ctx| (an fe_open_fn: fe.c calls it when a request's HEADERS begin) and
 * returns its client stream.  Takes a reference to |cfg|.  Returns NULL on
 * allocation failure.
 */
struct h2_stream *call_open(void *ctx, struct fe_conn *fe, int32_t sid, struct cfg *cfg);

/* A JWKS fetch ended (worker.c, on |w|'s thread): every call of |w| waiting
 * for a signing key is checked again - authenticated, refused, or waiting
 * on for a fetch still to end. */
void call_auth_keys_changed(struct call_ctx *w);

/* Number of calls alive in this process (all workers). */
uint64_t call_live_count(void);

#endif
