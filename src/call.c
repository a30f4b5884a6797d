/*
 * call.c: one RPC, both sides.  This is the only module that sees the
 * client stream (fe.c) and the backend stream (be.c) of a call together; it
 * decides what crosses from one to the other and when.
 *
 * What a call owns: its request headers to forward (copies), the deframer
 * and the request message being assembled, two byte queues (req: framed
 * messages for the backend; resp: response bytes for the client), response
 * headers/trailers, a deadline timer and a cfg reference.  It never touches
 * sockets: fe.c and be.c move bytes between these queues and the wire.
 *
 * Memory bound per call, whatever the result size:
 *   request  <= max_request_message_size (one message being assembled)
 *             + stream_buffer_size + client stream window
 *   response <= stream_buffer_size + backend stream window
 * because credit (h2conn_credit) is given back to a sender only
 * while the queue toward the other side is below stream_buffer_size.
 * Request bytes are also counted per client connection and per process
 * (budget_sync): past limits.connection_request_buffer or
 * limits.process_request_buffer no client gets credit, so the sum is
 * bounded by the budgets plus the connection windows already granted.  A
 * message is stored as its bytes arrive (never reserved at its declared
 * length).  A call that cannot move its client's bytes (zero window, no
 * data) for timeouts.stall_ms is reset on both sides (on_stall).
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "sg_err.h"
#include "auth.h"
#include "be.h"
#include "call.h"
#include "call_int.h"
#include "calllog.h"
#include "cfg.h"
#include "fe.h"
#include "grpc.h"
#include "h2conn.h"
#include "hdrs.h"
#include "ident.h"
#include "log.h"
#include "pb.h"
#include "req_stage.h"
#include "reqbody.h"
#include "resp_filter.h"
#include "sc.h"
#include "util.h"

#define CALL_BUDGET_RETRY_MS 50  /* a call out of budget re-checks this often ... */
#define CALL_BUDGET_WAIT_MS 2000 /* ... and its partial message is refused after this */

static uint64_t calls_live;

/*
 * Process-wide request bytes buffered by calls (assembling or queued for a
 * backend), added and subtracted with relaxed atomics and checked against
 * limits.process_request_buffer before granting clients credit.
 */
static uint64_t call_req_buffered;
/* Connections (all workers) whose calls buffer any request bytes: how many
 * share the process budget (on_budget_timer). */
static uint64_t call_conns_buffering;

void
call_ctx_init(struct call_ctx *x, struct event_base *base, struct auth_cache *cache,
              struct be_pool *be_pool)
{
    memset(x, 0, sizeof(*x));
    x->base = base;
    x->auth_cache = cache;
    x->be_pool = be_pool;
    TAILQ_INIT(&x->auth_waiting);
}

struct call_ctx *
call_ctx_new(struct event_base *base, struct auth_cache *cache, struct be_pool *be_pool)
{
    struct call_ctx *x = malloc(sizeof(*x));

    if (x != NULL)
        call_ctx_init(x, base, cache, be_pool);
    return x;
}

void
call_ctx_free(struct call_ctx *x)
{
    free(x);
}

bool
call_ctx_idle_after_busy(struct call_ctx *x)
{
    if (x->ncalls > 0 || !x->busy)
        return false;
    x->busy = false;
    return true;
}

static void call_fail(struct call *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void call_fail_backend(struct call *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void call_maybe_free(struct call *c);
static void call_fe_data(struct call *c, const uint8_t *data, size_t len);
static void call_fe_end_stream(struct call *c);

uint64_t
call_live_count(void)
{
    return __atomic_load_n(&calls_live, __ATOMIC_RELAXED);
}

/* The call that owns a client / backend stream. */
#define FE_CALL(st) ((struct call *)(void *)((char *)(st)-offsetof(struct call, fst)))
#define BE_CALL(st) ((struct call *)(void *)((char *)(st)-offsetof(struct call, bst)))

static const struct h2_stream_ops call_fe_ops, call_be_ops;

/* ---- lifecycle ----------------------------------------------------------- */

struct h2_stream *
call_open(void *ctx, struct fe_conn *fe, int32_t sid, struct cfg *cfg)
{
    struct call_ctx *w = ctx;
    struct call *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->magic = CALL_MAGIC;
    c->w = w;
    c->fe = fe;
    c->fe_sid = sid;
    c->state = CALL_ST_HEADERS;
    c->status = -1;
    c->t_start_us = util_now_us();
    c->msg = evbuffer_new();
    c->req = evbuffer_new();
    c->resp = evbuffer_new();
    if (c->msg == NULL || c->req == NULL || c->resp == NULL)
        goto fail;
    c->cfg = cfg_ref(cfg);
    grpc_deframer_init(&c->df, cfg->limits.max_request_message_size);
    c->fst.ops = &call_fe_ops;
    c->fst.out = c->resp;
    c->bst.ops = &call_be_ops;
    c->bst.out = c->req;
    __atomic_add_fetch(&calls_live, 1, __ATOMIC_RELAXED);
    w->ncalls++;
    w->busy = true;
    return &c->fst;
fail:
    if (c->msg != NULL)
        evbuffer_free(c->msg);
    if (c->req != NULL)
        evbuffer_free(c->req);
    if (c->resp != NULL)
        evbuffer_free(c->resp);
    free(c);
    return NULL;
}

/*
 * The access line (calllog.c), written when the client stream closes: the
 * record is also what per-call metrics would be fed.
 */
static void
call_access_log(struct call *c)
{
    struct calllog_access a;

    if (!c->cfg->access_log)
        return;
    a.conn = c->fe != NULL ? fe_conn_id(c->fe) : 0;
    a.peer = c->fe != NULL ? fe_peer(c->fe) : "-";
    a.stream = c->fe_sid;
    a.user = c->authed ? c->id.principal : "-";
    a.profile = c->authed && c->id.profile[0] != '\0' ? c->id.profile : "-";
    a.auth = c->authed ? auth_via_name(c->id.via) : "none";
    a.token_id = c->authed ? c->id.token_id : "";
    a.method = c->m != NULL ? c->m->name : "-";
    a.backend = c->routed ? c->cfg->backends[c->backend_idx].name : "-";
    a.status = c->status;
    a.reason = c->local ? c->reason : NULL;
    a.req_bytes = c->bytes_in;
    a.resp_bytes = c->bytes_out;
    a.ms = (double)(util_now_us() - c->t_start_us) / 1000.0;
    calllog_access(&a);
}

/*
 * Calls waiting for signing keys are listed on their worker (re-checked when
 * a JWKS fetch ends) and counted on their connection (caps).  Leaving the
 * list is idempotent.
 */
static void
auth_wait_unlist(struct call *c)
{
    if (!c->auth_listed)
        return;
    TAILQ_REMOVE(&c->w->auth_waiting, c, auth_link);
    c->w->nauth_waiting--;
    if (c->fe != NULL)
        fe_auth_waiting(c->fe, -1);
    c->auth_listed = false;
    if (c->auth_timer != NULL)
        event_del(c->auth_timer);
}

static void
call_maybe_free(struct call *c)
{
    if (c->fe != NULL || c->be != NULL)
        return;
    auth_wait_unlist(c);
    if (c->deadline != NULL)
        event_free(c->deadline);
    if (c->auth_timer != NULL)
        event_free(c->auth_timer);
    if (c->budget_timer != NULL)
        event_free(c->budget_timer);
    if (c->stall_timer != NULL)
        event_free(c->stall_timer);
    free(c->mbuf);
    __atomic_sub_fetch(&call_req_buffered, c->buffered, __ATOMIC_RELAXED);
    if (c->held != NULL)
        evbuffer_free(c->held);
    resp_filter_free(c);
    auth_cred_clear(&c->cred);
    hdrs_clear(&c->fwd);
    hdrs_clear(&c->rhdr);
    hdrs_clear(&c->trl);
    evbuffer_free(c->msg);
    evbuffer_free(c->req);
    evbuffer_free(c->resp);
    cfg_unref(c->cfg);
    c->w->ncalls--;
    c->magic = 0;
    free(c);
    __atomic_sub_fetch(&calls_live, 1, __ATOMIC_RELAXED);
}

/* ---- request buffer budgets ------------------------------------------------ */

/* Adds |delta| (wrapping: may subtract) to a connection's buffered request bytes. */
static void
conn_budget_add(struct fe_conn *fe, uint64_t delta)
{
    uint64_t *b = fe_req_buffered(fe), before = *b;

    *b += delta;
    /* how many connections share the process budget (on_budget_timer) */
    if (before == 0 && *b != 0)
        __atomic_add_fetch(&call_conns_buffering, 1, __ATOMIC_RELAXED);
    else if (before != 0 && *b == 0)
        __atomic_sub_fetch(&call_conns_buffering, 1, __ATOMIC_RELAXED);
}

/*
 * Brings the connection's and the process's count of this call's buffered
 * request bytes (message being assembled + queue for the backend) up to
 * date.  Called wherever those change; unsigned arithmetic wraps, so a
 * shrinking buffer subtracts.
 */
static void
budget_sync(struct call *c)
{
    uint64_t now = (uint64_t)c->mlen + evbuffer_get_length(c->msg) + evbuffer_get_length(c->req);
    uint64_t delta = now - c->buffered;

    if (delta == 0)
        return;
    if (c->fe != NULL)
        conn_budget_add(c->fe, delta);
    __atomic_add_fetch(&call_req_buffered, delta, __ATOMIC_RELAXED);
    c->buffered = now;
}

/* Which budget is spent, or NULL. */
static const char *
budget_full(const struct call *c)
{
    const struct cfg_limits *lim = &c->cfg->limits;

    if (c->fe != NULL && *fe_req_buffered(c->fe) >= lim->connection_request_buffer)
        return "limits.connection_request_buffer";
    if (__atomic_load_n(&call_req_buffered, __ATOMIC_RELAXED) >= lim->process_request_buffer)
        return "limits.process_request_buffer";
    return NULL;
}

static void on_budget_timer(evutil_socket_t fd, short what, void *arg);

/* Credit is withheld for the budget: come back to it (CALL_BUDGET_RETRY_MS). */
static void
budget_wait(struct call *c)
{
    struct timeval tv = {0, CALL_BUDGET_RETRY_MS * 1000};

    if (c->budget_since_ms == 0)
        c->budget_since_ms = util_now_ms();
    if (c->budget_timer == NULL &&
        (c->budget_timer = evtimer_new(c->w->base, on_budget_timer, c)) == NULL)
        return; /* the stall timer still bounds the call */
    if (!evtimer_pending(c->budget_timer, NULL))
        evtimer_add(c->budget_timer, &tv);
}

/* ---- credit (flow control) ----------------------------------------------- */

/*
 * Gives the client back credit for request bytes once the backend queue has
 * room (at once when the call is done: its input is discarded).  Always
 * kicks: callers may run outside the connection's receive/send cycle (a
 * timer, the backend's callbacks), where a queued WINDOW_UPDATE would sit.
 */
static void
credit_fe(struct call *c)
{
    if (c->fe == NULL || c->fe_unconsumed == 0)
        return;
    /* no budget holds the credit back (the queue may): the call is not
     * budget-blocked, or largest_blocked and the stall watch would think so */
    if (c->state == CALL_ST_DONE || budget_full(c) == NULL)
        c->budget_since_ms = 0;
    if (c->state != CALL_ST_DONE &&
        evbuffer_get_length(c->req) >= c->cfg->limits.stream_buffer_size)
        return;
    if (c->state != CALL_ST_DONE && budget_full(c) != NULL) {
        budget_wait(c);
        return;
    }
    c->budget_since_ms = 0;
    h2conn_credit(&c->fst, c->fe_unconsumed);
    c->fe_unconsumed = 0;
    c->fe_rx_ms = util_now_ms(); /* the client may send again: its idle time starts now */
}

/* A call that stopped waiting for keys without being authenticated: its
 * held DATA is discarded and credited like any input of a finished call. */
static void
auth_wait_drop(struct call *c)
{
    auth_wait_unlist(c);
    if (c->held == NULL)
        return;
    c->fe_unconsumed += evbuffer_get_length(c->held);
    evbuffer_free(c->held);
    c->held = NULL;
    credit_fe(c);
}

/* Gives the backend back credit for response bytes once the client queue has room. */
static void
credit_be(struct call *c)
{
    if (c->be == NULL || c->be_sid <= 0 || c->be_unconsumed == 0)
        return;
    if (evbuffer_get_length(c->resp) >= c->cfg->limits.stream_buffer_size)
        return;
    h2conn_credit(&c->bst, c->be_unconsumed);
    c->be_unconsumed = 0;
}

static void
resume_fe(struct call *c)
{
    if (c->fe == NULL || !c->resp_started)
        return;
    h2conn_resume(&c->fst);
}

static void
resume_be(struct call *c)
{
    if (c->be == NULL || c->be_sid <= 0 || c->be_closed)
        return;
    h2conn_resume(&c->bst);
}

/* ---- local answers --------------------------------------------------------- */

/* Stops the backend half: RST a submitted stream, or leave the wait queue. */
static void
cancel_backend(struct call *c)
{
    if (c->be == NULL)
        return;
    if (c->be_sid > 0) {
        /*
         * Once: if HEADERS were still queued, nghttp2 drops them on the first
         * RST; a second RST would go out for a stream the backend never saw,
         * and it answers that with GOAWAY(PROTOCOL_ERROR) - for every call
         * sharing the connection.
         */
        if (!c->be_closed && !c->be_cancelled) {
            c->be_cancelled = true;
            h2conn_reset(&c->bst, H2_RESET_CANCEL);
        }
        return; /* detaches in call_be_closed */
    }
    be_detach(c->be, &c->bst);
    c->be = NULL;
}

/*
 * A call that forwards nothing more: what it queued for the backend leaves
 * both budgets at once (the backend stream is cancelled, so the queue would
 * never drain).  Bytes nghttp2 already sized into a DATA frame stay until
 * call_be_send_data writes them; it drops the rest then.
 */
static void
drop_req(struct call *c)
{
    if (c->be != NULL && c->req_sized > 0)
        return;
    evbuffer_drain(c->req, evbuffer_get_length(c->req));
    budget_sync(c);
}

static void drop_partial(struct call *c);

/*
 * After a refusal: the queued and partial request bytes leave the budgets
 * and the credit withheld for them goes back to the client, so a call that
 * fails from a timer or the backend side keeps no part of the connection
 * window.  Inside call_fe_data the partial message may be in use (the
 * message being judged): call_fe_data drops it itself.
 */
static void
fail_release(struct call *c)
{
    drop_req(c);
    if (c->fe == NULL)
        return;
    if (c->fe_data_depth == 0)
        drop_partial(c);
    credit_fe(c);
}

/*
 * Answers the client with |status| and a message, as a trailers-only
 * response when nothing was sent yet, else as the trailers after what the
 * client already has.  The backend stream, if any, is cancelled.
 */
static void
call_fail(struct call *c, int status, const char *fmt, ...)
{
    char msg[CALL_MSG_MAX], enc[CALL_MSG_MAX * 3], st[12];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    if (c->state == CALL_ST_DONE)
        return;
    c->state = CALL_ST_DONE;
    auth_wait_drop(c);
    if (c->resp_started && c->resp_eos) {
        /* the backend's whole answer, trailers included, is already queued: it stands */
        cancel_backend(c);
        fail_release(c);
        return;
    }
    c->local = true;
    c->status = status;
    /* the access log keeps the head of the message */
    snprintf(c->reason, sizeof(c->reason), "%.*s", (int)sizeof(c->reason) - 1, msg);
    log_debug("conn=%" PRIu64 " stream=%d: %s: %s", c->fe ? fe_conn_id(c->fe) : 0, c->fe_sid,
              grpc_status_name(status), msg);
    cancel_backend(c);
    fail_release(c);
    if (c->fe == NULL)
        return;

    grpc_message_encode(msg, enc, sizeof(enc));
    snprintf(st, sizeof(st), "%d", status);
    if (!c->resp_started) {
        hdrs_clear(&c->trl);
        /* gRPC trailers-only: HTTP 200, content-type, grpc-status, grpc-message */
        if (hdrs_add_str(&c->trl, ":status", "200") != 0 ||
            hdrs_add_str(&c->trl, "content-type", "application/grpc") != 0 ||
            hdrs_add_str(&c->trl, "grpc-status", st) != 0 ||
            hdrs_add_str(&c->trl, "grpc-message", enc) != 0 ||
            fe_submit_response(c->fe, c->fe_sid, c->trl.nv, c->trl.n, NULL) != 0) {
            h2conn_reset(&c->fst, H2_RESET_INTERNAL);
        }
        c->resp_started = true;
        c->resp_eos = true;
    } else if (!c->resp_eos) {
        /* headers went out: the status follows whatever data is queued */
        hdrs_clear(&c->trl);
        if (hdrs_add_str(&c->trl, "grpc-status", st) != 0 ||
            hdrs_add_str(&c->trl, "grpc-message", enc) != 0) {
            h2conn_reset(&c->fst, H2_RESET_INTERNAL);
        }
        c->resp_eos = true;
        resume_fe(c);
    }
    fe_kick(c->fe);
}

/*
 * The backend half failed: UNAVAILABLE, with a message that names the
 * backend ("sparkgate: backend \"b1\" (10.0.0.1:15002) " then |fmt|).
 */
static void
call_fail_backend(struct call *c, const char *fmt, ...)
{
    const struct cfg_backend *b = &c->cfg->backends[c->backend_idx];
    char what[CALL_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    call_fail(c, GRPC_UNAVAILABLE, "sparkgate: backend \"%s\" (%s) %s", b->name, b->address, what);
}

/* A plain HTTP answer for requests that are not gRPC at all. */
static void
call_http_error(struct call *c, const char *status, const char *text)
{
    char len[16];

    c->state = CALL_ST_DONE;
    c->local = true;
    snprintf(c->reason, sizeof(c->reason), "HTTP %s: %s", status, text);
    evbuffer_add_printf(c->resp, "sparkgate: %s\n", text);
    snprintf(len, sizeof(len), "%zu", evbuffer_get_length(c->resp));
    hdrs_clear(&c->rhdr);
    if (hdrs_add_str(&c->rhdr, ":status", status) != 0 ||
        hdrs_add_str(&c->rhdr, "content-type", "text/plain; charset=utf-8") != 0 ||
        hdrs_add_str(&c->rhdr, "content-length", len) != 0 ||
        fe_submit_response(c->fe, c->fe_sid, c->rhdr.nv, c->rhdr.n, &c->fst) != 0) {
        h2conn_reset(&c->fst, H2_RESET_INTERNAL);
    }
    c->resp_started = true;
    c->resp_eos = true;
    fe_kick(c->fe);
}

/* Answers a stage's or a filter's verdict (the one place it becomes a status). */
static void
call_answer(struct call *c, const struct call_verdict *v)
{
    switch (v->outcome) {
    case CALL_HTTP:
        call_http_error(c, v->http, v->http_text);
        break;
    case CALL_REFUSE:
        call_fail(c, v->status, "%s", v->msg);
        break;
    case CALL_GO_ON:
    case CALL_ANSWERED:
        break;
    case CALL_WAIT: /* only header stages wait (run_header_stages) */
        call_fail(c, GRPC_INTERNAL, "sparkgate: a request stage cannot wait here");
        break;
    }
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct call *c = arg;

    (void)fd;
    (void)what;
    CHECK_MAGIC(c, CALL_MAGIC);
    call_fail(c, GRPC_DEADLINE_EXCEEDED, "sparkgate: deadline of %" PRIu64 " ms exceeded",
              c->timeout_ms);
}

/* The partial message of a call that will not forward it leaves the budget. */
static void
drop_partial(struct call *c)
{
    free(c->mbuf);
    c->mbuf = NULL;
    c->mlen = c->mcap = 0;
    evbuffer_drain(c->msg, evbuffer_get_length(c->msg));
    budget_sync(c);
}

static size_t
partial_len(const struct call *c)
{
    return c->mlen + evbuffer_get_length(c->msg);
}

/* |c| holds the largest partial message of the calls of its connection out of budget. */
static bool
largest_blocked(const struct call *c)
{
    struct h2_stream *st;
    const struct call *o;
    size_t mine = partial_len(c), theirs;

    TAILQ_FOREACH (st, fe_streams(c->fe), link) {
        o = FE_CALL(st);
        if (o == c || o->budget_since_ms == 0 || o->state == CALL_ST_DONE)
            continue;
        theirs = partial_len(o);
        if (theirs > mine || (theirs == mine && o->fe_sid > c->fe_sid))
            return false;
    }
    return true;
}

/*
 * When the process budget is the full one, only connections holding at
 * least their share of it (the budget over the connections buffering
 * anything) give way: one that fills it over a few connections must not
 * make every other connection lose its uploads.  The connection holding
 * most is at or above the share unless calls already detached from their
 * connection hold much; those leave the budget when freed.
 */
static bool
above_fair_share(const struct call *c, const char *which)
{
    uint64_t n = __atomic_load_n(&call_conns_buffering, __ATOMIC_RELAXED);

    if (strcmp(which, "limits.process_request_buffer") != 0 || n == 0)
        return true;
    return *fe_req_buffered(c->fe) >= c->cfg->limits.process_request_buffer / n;
}

static void
on_budget_timer(evutil_socket_t fd, short what, void *arg)
{
    struct call *c = arg;
    const char *which;

    (void)fd;
    (void)what;
    CHECK_MAGIC(c, CALL_MAGIC);
    if (c->fe == NULL || c->state == CALL_ST_DONE || c->budget_since_ms == 0)
        return;
    which = budget_full(c);
    if (which == NULL) {
        credit_fe(c);
        return;
    }
    /*
     * While partial messages fill the budget none of them may complete:
     * after CALL_BUDGET_WAIT_MS the largest (the newest of equals) gives
     * way, one per CALL_BUDGET_RETRY_MS, until the others get credit again.
     */
    if (util_now_ms() - c->budget_since_ms >= CALL_BUDGET_WAIT_MS &&
        !grpc_deframer_at_boundary(&c->df) && largest_blocked(c) && above_fair_share(c, which)) {
        log_info("conn=%" PRIu64 " peer=%s stream=%d: %s is full: refusing a partial request "
                 "message of %" PRIu32 " bytes",
                 fe_conn_id(c->fe), fe_peer(c->fe), c->fe_sid, which, c->df.msg_len);
        call_fail(c, GRPC_RESOURCE_EXHAUSTED,
                  "sparkgate: request buffer budget %s is full; a %" PRIu32
                  "-byte request message cannot be received now",
                  which, c->df.msg_len);
        drop_partial(c);
        credit_fe(c);
        return;
    }
    budget_wait(c);
}

static void
arm_stall(struct call *c, uint64_t ms)
{
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000u),
                         .tv_usec = (suseconds_t)((ms % 1000u) * 1000u)};

    evtimer_add(c->stall_timer, &tv);
}

/*
 * The call waits for the client's request bytes, and the client could send
 * them: it has its credit (none withheld for the backend queue or a
 * budget) and has not half-closed.
 */
static bool
waiting_for_client(const struct call *c)
{
    return !c->fe_ended && c->fe_unconsumed == 0 && c->budget_since_ms == 0 &&
           (c->state == CALL_ST_FIRST_MSG || c->state == CALL_ST_CONNECTING ||
            c->state == CALL_ST_OPEN);
}

/*
 * The client has window to send on this stream: credit sparkgate withholds
 * on the connection's other calls can leave the connection window at zero
 * while this call withholds nothing.
 */
static bool
client_may_send(const struct call *c)
{
    return h2conn_peer_may_send(&c->fst);
}

/*
 * timeouts.stall_ms without progress on the client's side of the call: a
 * response it does not read (zero window, or a socket it does not drain)
 * or a request it does not send, or the end of its side of a call that is
 * answered in full.  The client stream is reset (CANCEL; NO_ERROR for the
 * answered call) and the backend stream cancelled, so the backend releases
 * the operation.  A
 * call still attached a stall period later means even the RST_STREAM
 * could not be written: the client reads nothing at all and the
 * connection is closed.
 */
static void
on_stall(evutil_socket_t fd, short what, void *arg)
{
    struct call *c = arg;
    uint64_t ms, now, next, last;
    const char *why = NULL;
    struct fe_conn *fe;
    bool finished;

    (void)fd;
    (void)what;
    CHECK_MAGIC(c, CALL_MAGIC);
    fe = c->fe;
    if (fe == NULL)
        return;
    if (c->stalled) {
        fe_abort(fe, "stalled: the client reads nothing (timeouts.stall_ms)");
        return; /* c may be gone */
    }
    ms = c->cfg->timeouts.stall_ms;
    now = util_now_ms();
    next = ms;
    if (evbuffer_get_length(c->resp) > 0) {
        if (now - c->fe_tx_ms >= ms)
            why = "the client read no response data";
        else
            next = c->fe_tx_ms + ms - now;
    }
    if (why == NULL && waiting_for_client(c) && !client_may_send(c)) {
        /* its connection window is spent (credit withheld on other streams):
         * the client's idle time starts when it can send again */
        c->fe_rx_ms = now;
    } else if (why == NULL && waiting_for_client(c)) {
        if (now - c->fe_rx_ms >= ms)
            why = "the client sent no request data";
        else if (c->fe_rx_ms + ms - now < next)
            next = c->fe_rx_ms + ms - now;
    }
    /* answered in full, but the client never ends its side: the stream (and
     * the connection's idle timer) would wait forever */
    finished = c->state == CALL_ST_DONE && c->resp_eos && !c->fe_ended &&
               evbuffer_get_length(c->resp) == 0;
    if (why == NULL && finished) {
        last = c->fe_rx_ms > c->fe_tx_ms ? c->fe_rx_ms : c->fe_tx_ms;
        if (now - last >= ms)
            why = "the client did not end its side of an answered call";
        else if (last + ms - now < next)
            next = last + ms - now;
    }
    if (why == NULL) {
        arm_stall(c, next);
        return;
    }
    log_info("conn=%" PRIu64 " peer=%s stream=%d: stalled: %s for timeouts.stall_ms "
             "(%" PRIu64 " ms): resetting the call",
             fe_conn_id(fe), fe_peer(fe), c->fe_sid, why, ms);
    if (!finished) {
        c->local = true;
        c->status = GRPC_CANCELLED;
        snprintf(c->reason, sizeof(c->reason), "stalled: %s for %" PRIu64 " ms", why, ms);
    }
    c->state = CALL_ST_DONE;
    c->stalled = true;
    cancel_backend(c);
    drop_req(c);
    drop_partial(c);
    /* RFC 9113 section 8.1: NO_ERROR after a complete response */
    h2conn_reset(&c->fst, finished ? H2_RESET_NO_ERROR : H2_RESET_CANCEL);
    fe_kick(fe);
    arm_stall(c, ms);
}

/* ---- client side ----------------------------------------------------------- */

static int
call_fe_header(struct call *c, const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen)
{
    const struct cfg_limits *lim = &c->cfg->limits;

    CHECK_MAGIC(c, CALL_MAGIC);
    if (c->hdr_overflow)
        return 0;
    /* security-notes H05: nghttp2 advertises but does not enforce the list size */
    if (c->fwd.n + 1 > lim->max_header_count ||
        c->fwd.bytes + nlen + vlen + 32 > lim->max_header_list_size) {
        c->hdr_overflow = true;
        return 0;
    }
    if (nlen > 0 && name[0] == ':') {
        if (hdrs_name_is(name, nlen, ":method")) {
            c->has_method = true;
            c->method_post = hdrs_name_is(value, vlen, "POST");
        } else if (hdrs_name_is(name, nlen, ":path")) {
            size_t n = vlen < sizeof(c->path) - 1 ? vlen : sizeof(c->path) - 1;

            c->m = sc_method_by_path((const char *)value, vlen);
            memcpy(c->path, value, n);
            c->path[n] = '\0';
        }
        /* :scheme and :authority are rewritten for the backend */
        c->fwd.bytes += nlen + vlen + 32;
        return 0;
    }
    /*
     * Each of these is judged once and forwarded: a second copy would be
     * judged in place of the first while the backend may read the first
     * (grpc-java does), so a repeated one is refused, never forwarded.
     */
    if (hdrs_name_is(name, nlen, "content-type")) {
        /* a second one makes the type not application/grpc: HTTP 415 */
        c->ct_grpc = !c->has_ct && grpc_content_type_ok(value, vlen);
        c->has_ct = true;
    } else if (hdrs_name_is(name, nlen, "grpc-encoding")) {
        if (c->has_enc)
            c->repeated = "grpc-encoding";
        c->has_enc = true;
        c->enc_real = !hdrs_name_is(value, vlen, "identity");
    } else if (hdrs_name_is(name, nlen, "grpc-timeout")) {
        if (c->has_timeout_hdr)
            c->repeated = "grpc-timeout";
        c->has_timeout_hdr = true;
        if (grpc_timeout_parse((const char *)value, vlen, &c->timeout_ms) == 0)
            c->has_timeout = true;
    }
    if (hdrs_hop_by_hop(name, nlen))
        return 0;
    /* a Config response is read to redact secrets: ask for it uncompressed
     * (pseudo-headers, :path included, come first: c->m is known here) */
    if (c->m != NULL && c->m->id == SC_M_CONFIG && hdrs_name_is(name, nlen, "grpc-accept-encoding"))
        return 0;
    /* the body is re-framed and user_context rewritten: the client's length is stale
     * (and optional in HTTP/2: RFC 9113 section 8.1.1) */
    if (hdrs_name_is(name, nlen, "content-length"))
        return 0;
    switch (hdrs_classify(&c->cfg->auth, name, nlen)) {
    case HDRS_CREDENTIAL:
        /* kept for auth only: a client's token never reaches a backend */
        return auth_cred_add(&c->cred, value, vlen) == SG_OK ? 0 : -1;
    case HDRS_STRIP:
        /* identity is what sparkgate says, never what the client claims */
        return 0;
    case HDRS_FORWARD:
        break;
    }
    if (hdrs_add(&c->fwd, name, nlen, value, vlen) != 0)
        return -1;
    return 0;
}

static void on_auth_timer(evutil_socket_t fd, short what, void *arg);

/* The gRPC status of each kind of refusal a decider returns: the one place
 * where an auth or identity verdict becomes a status. */
int
call_refusal_status(int err)
{
    switch (err) {
    case SG_ERR_DENIED:
        return GRPC_PERMISSION_DENIED;
    case SG_ERR_AUTH:
    default:
        return GRPC_UNAUTHENTICATED;
    }
}

/*
 * A token names a key the JWKS does not have yet and a fetch will end soon:
 * the call waits for it, listed on its worker, and is re-checked when the
 * fetch ends (call_auth_keys_changed), or refused at the deadline
 * (timeouts.auth_key_wait_ms).  Waiting is capped per connection and per
 * worker (limits.max_auth_waiting_per_*): a call over a cap is refused at
 * once, as an unknown key.  Returns 0 when the call waits.
 */
static int
auth_wait_begin(struct call *c)
{
    const struct cfg *cfg = c->cfg;
    const char *cap = NULL;
    struct timeval tv;

    if (c->fe == NULL)
        return -1;
    if (fe_auth_waiting(c->fe, 0) >= cfg->limits.max_auth_waiting_per_connection)
        cap = "limits.max_auth_waiting_per_connection";
    else if (c->w->nauth_waiting >= cfg->limits.max_auth_waiting_per_worker)
        cap = "limits.max_auth_waiting_per_worker";
    if (cap != NULL) {
        log_debug("conn=%" PRIu64 " stream=%d: not waiting for signing keys: %s reached",
                  fe_conn_id(c->fe), c->fe_sid, cap);
        return -1;
    }
    if (c->held == NULL)
        c->held = evbuffer_new();
    if (c->auth_timer == NULL)
        c->auth_timer = evtimer_new(c->w->base, on_auth_timer, c);
    if (c->held == NULL || c->auth_timer == NULL)
        return -1;
    c->state = CALL_ST_AUTH_WAIT;
    c->auth_gen = c->w->auth_wake_gen;
    TAILQ_INSERT_TAIL(&c->w->auth_waiting, c, auth_link);
    c->w->nauth_waiting++;
    fe_auth_waiting(c->fe, 1);
    c->auth_listed = true;
    tv.tv_sec = (time_t)(cfg->timeouts.auth_key_wait_ms / 1000u);
    tv.tv_usec = (suseconds_t)((cfg->timeouts.auth_key_wait_ms % 1000u) * 1000u);
    evtimer_add(c->auth_timer, &tv);
    return 0;
}

void
call_authenticated(struct call *c)
{
    auth_wait_unlist(c);
    c->authed = true;
    if (c->fe != NULL)
        fe_call_authenticated(c->fe);
    c->state = CALL_ST_FIRST_MSG;
    if (c->fe != NULL)
        fe_auth_open_window(c->fe, c->fe_sid);
}

/*
 * Runs the header stages (req_stage.c) from where the call stands.  A
 * stage that waits (authentication: a token signed by a key the JWKS does
 * not have yet, a fetch under way) parks the call (auth_wait_begin) and
 * runs again when woken; a call that may not wait has the stage decide at
 * once.  Once every stage passed, DATA held while the call waited is
 * replayed; on refusal the call is answered and nothing reaches a backend.
 */
static void
run_header_stages(struct call *c)
{
    struct call_verdict v;
    struct evbuffer *held;
    enum call_outcome o;

    for (;;) {
        o = req_stage_headers(c, &v);
        if (o != CALL_WAIT)
            break;
        if (c->state == CALL_ST_AUTH_WAIT || auth_wait_begin(c) == 0)
            return;
        /* may not wait: decided now (an unknown key is refused as such) */
        c->wait_final = true;
    }
    if (o != CALL_GO_ON) {
        call_answer(c, &v);
        return;
    }
    held = c->held;
    c->held = NULL;
    if (held != NULL) {
        size_t len = evbuffer_get_length(held);

        if (len > 0)
            call_fe_data(c, evbuffer_pullup(held, -1), len);
        evbuffer_free(held);
        if (c->fe_ended && c->state != CALL_ST_DONE)
            call_fe_end_stream(c);
    }
}

/* The wait for signing keys is over: a last check, without waiting. */
static void
on_auth_timer(evutil_socket_t fd, short what, void *arg)
{
    struct call *c = arg;

    (void)fd;
    (void)what;
    CHECK_MAGIC(c, CALL_MAGIC);
    if (c->state != CALL_ST_AUTH_WAIT)
        return;
    c->wait_final = true;
    run_header_stages(c);
}

void
call_auth_keys_changed(struct call_ctx *w)
{
    uint64_t gen = ++w->auth_wake_gen;
    struct call *c;

    /*
     * Each waiting call once: a re-check may answer, refuse, or replay a
     * call into a backend, any of which can unlist calls; restarting from
     * the head after each one never follows a stale link.  At most
     * max_auth_waiting_per_worker calls, and fetches are rare.
     */
    for (;;) {
        TAILQ_FOREACH (c, &w->auth_waiting, auth_link) {
            if (c->auth_gen != gen)
                break;
        }
        if (c == NULL)
            break;
        c->auth_gen = gen;
        run_header_stages(c);
    }
}

static void
call_fe_headers_done(struct call *c)
{
    CHECK_MAGIC(c, CALL_MAGIC);
    if (c->state != CALL_ST_HEADERS)
        return;
    /* from here the client's progress is watched (before, fe.c's header timer) */
    c->fe_rx_ms = c->fe_tx_ms = util_now_ms();
    c->stall_timer = evtimer_new(c->w->base, on_stall, c);
    if (c->stall_timer == NULL) {
        call_fail(c, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
        return;
    }
    arm_stall(c, c->cfg->timeouts.stall_ms);
    /* grpc-timeout covers everything after the headers, a wait for keys included
     * (a call refused by a stage is done: its deadline finds nothing to fail) */
    if (c->has_timeout) {
        struct timeval tv;

        c->deadline = evtimer_new(c->w->base, on_deadline, c);
        if (c->deadline != NULL) {
            tv.tv_sec = (time_t)(c->timeout_ms / 1000u);
            tv.tv_usec = (suseconds_t)((c->timeout_ms % 1000u) * 1000u);
            evtimer_add(c->deadline, &tv);
        }
    }
    run_header_stages(c);
}

/* Appends the assembled message, framed, to the backend queue. */
static int
queue_message(struct call *c)
{
    uint8_t hdr[GRPC_HDR_LEN];
    size_t len = evbuffer_get_length(c->msg);

    grpc_frame_header(hdr, false, (uint32_t)len);
    if (evbuffer_add(c->req, hdr, sizeof(hdr)) != 0 || evbuffer_add_buffer(c->req, c->msg) != 0)
        return SG_ERR_NOMEM;
    return 0;
}

/* Starts (or joins) a connection to the backend the route stage chose. */
static void
attach_backend(struct call *c)
{
    const char *why = NULL;
    int err = 0;

    c->state = CALL_ST_CONNECTING;
    /* on a ready connection the stream opens before this returns (call_be_open) */
    c->be = be_open_stream(c->w->be_pool, c->cfg, c->backend_idx, &c->bst, &err, &why);
    if (c->be == NULL) {
        if (err == SG_ERR_NOMEM)
            call_fail(c, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
        else
            call_fail_backend(c, "unavailable: %s", why != NULL ? why : "cannot connect");
        return;
    }
}

/*
 * Identity binding (ident.c): the backend sees the authenticated principal
 * as the one user_context, and nothing the client claimed.  Returns 0, or
 * -1 after answering the client.
 */
int
bind_identity(struct call *c, const uint8_t *body, size_t len)
{
    struct ident_head h;
    char msg[CALL_MSG_MAX];
    int rv = ident_bind(body, len, c->id.principal, c->cfg->auth.require_match, &h, msg,
                        sizeof(msg));

    if (rv == SG_ERR_PROTO) {
        call_fail(c, GRPC_INVALID_ARGUMENT, "sparkgate: %s request message is not valid protobuf",
                  c->m->name);
        return -1;
    }
    if (rv == SG_ERR_DENIED) {
        call_fail(c, call_refusal_status(rv), "%s", msg);
        return -1;
    }
    if (rv == SG_OK) {
        /* only the head is replaced: the tail stays where it is in c->msg */
        evbuffer_drain(c->msg, h.replaced);
        if (evbuffer_prepend(c->msg, h.p, h.len) != 0)
            rv = SG_ERR_NOMEM;
        free(h.p);
    }
    if (rv != SG_OK) {
        call_fail(c, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
        return -1;
    }
    return 0;
}

/*
 * A complete request message: the message stages (req_stage.c) judge and
 * rewrite it; then it is queued for the backend, and the first one attaches
 * the call to the backend the route stage chose.
 */
static void
on_message(struct call *c)
{
    struct call_verdict v;

    if (req_stage_message(c, &v) != CALL_GO_ON) {
        call_answer(c, &v);
        return;
    }
    if (queue_message(c) != 0) {
        call_fail(c, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
        return;
    }
    if (c->df.nmsgs == 1)
        attach_backend(c);
    else
        resume_be(c);
}

static void
call_fe_data(struct call *c, const uint8_t *data, size_t len)
{
    struct call_verdict v;
    size_t off = 0;

    CHECK_MAGIC(c, CALL_MAGIC);
    if (c->state == CALL_ST_AUTH_WAIT) {
        /* held, not credited: the client's stream window bounds it */
        if (evbuffer_add(c->held, data, len) != 0)
            call_fail(c, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
        return;
    }
    c->bytes_in += len;
    /* each whole message through the stages (reqbody.c cuts them); the
     * partial message is in use until the loop ends (call_fail keeps it) */
    c->fe_data_depth++;
    while (off < len && c->state != CALL_ST_DONE && c->state != CALL_ST_HEADERS) {
        switch (reqbody_next(c, data, len, &off, &v)) {
        case REQBODY_NEED_MORE:
            break;
        case REQBODY_MESSAGE:
            on_message(c);
            break;
        case REQBODY_REFUSED:
            call_answer(c, &v);
            break;
        }
    }
    c->fe_data_depth--;
    if (c->state == CALL_ST_HEADERS) {
        /* DATA before HEADERS completed cannot happen in HTTP/2; be defensive */
        call_fail(c, GRPC_INTERNAL, "sparkgate: request data before headers");
    }
    if (c->fe == NULL)
        return;
    if (c->state == CALL_ST_DONE)
        drop_partial(c);
    else
        budget_sync(c);
    c->fe_rx_ms = util_now_ms();
    /* credit now unless the backend queue or a budget is full; then when it drains */
    c->fe_unconsumed += len;
    credit_fe(c);
}

static void
call_fe_end_stream(struct call *c)
{
    CHECK_MAGIC(c, CALL_MAGIC);
    c->fe_ended = true;
    if (c->state == CALL_ST_DONE || c->state == CALL_ST_HEADERS || c->state == CALL_ST_AUTH_WAIT)
        return; /* AUTH_WAIT: replayed after authentication */
    if (!grpc_deframer_at_boundary(&c->df)) {
        /* security-notes G07: a partial message is never forwarded */
        call_fail(c, GRPC_INTERNAL, "sparkgate: request ended inside a gRPC message");
        return;
    }
    if (c->df.nmsgs == 0) {
        if (c->m->kind != SC_CLIENT_STREAMING) {
            call_fail(c, GRPC_INVALID_ARGUMENT, "sparkgate: %s request carries no message",
                      c->m->name);
            return;
        }
        c->req_eos = true;
        req_stage_route(c);
        attach_backend(c);
        return;
    }
    c->req_eos = true;
    resume_be(c);
}

static void
call_fe_closed(struct h2_stream *st, enum h2_reset why, uint32_t error_code)
{
    struct call *c = FE_CALL(st);
    struct fe_conn *fe = c->fe;

    CHECK_MAGIC(c, CALL_MAGIC);
    if (fe == NULL)
        return;
    if (why != H2_RESET_NO_ERROR && c->status < 0) {
        c->status = GRPC_CANCELLED;
        c->local = true;
        snprintf(c->reason, sizeof(c->reason), "client stream reset (HTTP/2 error %u)", error_code);
    }
    /* the client is gone: the backend must stop working for it */
    if (!(c->be_closed && c->resp_eos))
        cancel_backend(c);
    auth_wait_unlist(c); /* while c->fe is set: the connection counts its waiters */
    if (c->held != NULL) {
        c->fe_unconsumed += evbuffer_get_length(c->held); /* held DATA was never credited */
        evbuffer_free(c->held);
        c->held = NULL;
    }
    if (c->fe_unconsumed > 0)
        h2conn_credit_conn(&c->fst, c->fe_unconsumed);
    c->fe_unconsumed = 0;
    if (c->deadline != NULL)
        event_del(c->deadline);
    if (c->stall_timer != NULL)
        event_del(c->stall_timer);
    if (c->budget_timer != NULL)
        event_del(c->budget_timer);
    /* the connection's budget forgets the call; the process's waits for the free */
    drop_partial(c);
    conn_budget_add(fe, (uint64_t)0 - c->buffered);
    call_access_log(c);
    c->fe = NULL;
    c->state = CALL_ST_DONE;
    fe_stream_detached(fe, &c->fst);
    call_maybe_free(c);
}

/* Response data source (h2_stream_ops.read): the queued response, then the end. */
static ssize_t
call_fe_read(struct h2_stream *st, size_t length, unsigned *flags)
{
    struct call *c = FE_CALL(st);
    size_t avail, n;

    CHECK_MAGIC(c, CALL_MAGIC);
    avail = evbuffer_get_length(c->resp);
    n = length < avail ? length : avail;
    if (n == avail && c->resp_eos) {
        *flags |= H2_READ_EOF;
        if (c->trl.n > 0 && c->fe != NULL) {
            *flags |= H2_READ_TRAILERS;
            if (fe_submit_trailers(c->fe, c->fe_sid, c->trl.nv, c->trl.n) != 0)
                return SG_ERR_INTERNAL;
        }
        return (ssize_t)n;
    }
    if (n == 0)
        return SG_ERR_AGAIN;
    return (ssize_t)n;
}

/* |length| response bytes went to the client's connection. */
static void
call_fe_sent(struct h2_stream *st, size_t length)
{
    struct call *c = FE_CALL(st);
    CHECK_MAGIC(c, CALL_MAGIC);
    c->fe_tx_ms = util_now_ms();
    c->bytes_out += length;
    credit_be(c);
}

/* ---- backend side ---------------------------------------------------------- */

/* Appends one field to |nv| (pointers are borrowed: the connection copies on submit). */
static void
nv_put(h2_nv *nv, size_t *n, const char *name, const char *value, size_t vlen, uint8_t flags)
{
    nv[*n].name = (uint8_t *)(uintptr_t)name;
    nv[*n].namelen = strlen(name);
    nv[*n].value = (uint8_t *)(uintptr_t)value;
    nv[*n].valuelen = vlen;
    nv[*n].flags = flags;
    (*n)++;
}

/*
 * The backend request's header block (h2_stream_ops.request_headers), into
 * |nv| when it has room for all of it: pseudo-headers first (RFC 9113
 * section 8.3), then te: trailers, the client's forwarded fields and
 * sparkgate's identity.  Returns the number of fields, or SG_ERR_INTERNAL
 * when the call no longer waits for its stream.
 */
static ssize_t
call_be_request_headers(struct h2_stream *st, h2_nv *nv, size_t cap)
{
    struct call *c = BE_CALL(st);
    const struct cfg_backend *b = &c->cfg->backends[c->backend_idx];
    const char *authority = b->authority != NULL ? b->authority : b->address;
    size_t n = 0, need = c->fwd.n + 9;

    CHECK_MAGIC(c, CALL_MAGIC);
    if (c->state != CALL_ST_CONNECTING)
        return SG_ERR_INTERNAL;
    if (need > cap)
        return (ssize_t)need;
    nv_put(nv, &n, ":method", "POST", 4, H2_NV_NONE);
    nv_put(nv, &n, ":scheme", b->tls ? "https" : "http", b->tls ? 5 : 4, H2_NV_NONE);
    nv_put(nv, &n, ":authority", authority, strlen(authority), H2_NV_NONE);
    nv_put(nv, &n, ":path", c->m->path, c->m->path_len, H2_NV_NONE);
    nv_put(nv, &n, "te", "trailers", 8, H2_NV_NONE);
    memcpy(nv + n, c->fwd.nv, c->fwd.n * sizeof(*nv));
    n += c->fwd.n;
    /* sparkgate's word on identity (clients cannot send x-sparkgate-*: stripped) */
    if (!c->cfg->auth.anonymous) {
        const char *via = auth_via_name(c->id.via);

        nv_put(nv, &n, "x-sparkgate-principal", c->id.principal, strlen(c->id.principal),
               H2_NV_NONE);
        nv_put(nv, &n, "x-sparkgate-auth", via, strlen(via), H2_NV_NONE);
        if (c->id.profile[0] != '\0')
            nv_put(nv, &n, "x-sparkgate-profile", c->id.profile, strlen(c->id.profile), H2_NV_NONE);
    }
    /* Spark 4 pre-shared key: the backend accepts only sparkgate; never in
     * the HPACK table (H2_NV_SECRET), so it stays out of any dump */
    if (b->preshared_header != NULL)
        nv_put(nv, &n, "authorization", b->preshared_header, b->preshared_header_len, H2_NV_SECRET);
    return (ssize_t)n;
}

/* The backend stream was submitted (h2_stream_ops.on_open). */
static void
call_be_open(struct h2_stream *st)
{
    struct call *c = BE_CALL(st);

    CHECK_MAGIC(c, CALL_MAGIC);
    c->be_sid = c->bst.sid;
    c->state = CALL_ST_OPEN;
}

/* The backend stream could not be opened (h2_stream_ops.on_failed). */
static void
call_be_failed(struct h2_stream *st, int err, const char *reason)
{
    struct call *c = BE_CALL(st);

    CHECK_MAGIC(c, CALL_MAGIC);
    c->be = NULL; /* be.c already removed us from its queue */
    if (err == SG_ERR_NOMEM)
        call_fail(c, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
    else
        call_fail_backend(c, "unavailable: %s", reason);
    call_maybe_free(c);
}

static int
call_be_header(struct call *c, bool trailer, const uint8_t *name, size_t nlen, const uint8_t *value,
               size_t vlen)
{
    struct hdrs *h = trailer ? &c->trl : &c->rhdr;

    CHECK_MAGIC(c, CALL_MAGIC);
    if (c->state == CALL_ST_DONE)
        return 0;
    /* security-notes H19: the backend is a peer too; bound what we keep */
    if (h->bytes + nlen + vlen + 32 > c->cfg->limits.max_header_list_size ||
        h->n + 1 > c->cfg->limits.max_header_count)
        return -1;
    if (hdrs_hop_by_hop(name, nlen))
        return 0;
    if (hdrs_name_is(name, nlen, "grpc-status")) {
        char v[8];
        size_t n = vlen < sizeof(v) - 1 ? vlen : sizeof(v) - 1;

        memcpy(v, value, n);
        v[n] = '\0';
        c->status = atoi(v);
    }
    return hdrs_add(h, name, nlen, value, vlen) == 0 ? 0 : -1;
}

static void
call_be_headers_done(struct call *c, bool trailer, bool end_stream)
{
    struct call_verdict v;

    CHECK_MAGIC(c, CALL_MAGIC);
    if (c->state == CALL_ST_DONE || c->fe == NULL)
        return;
    if (!trailer) {
        if (c->resp_started)
            return; /* a second HEADERS block (1xx) is not gRPC; ignore */
        if (fe_submit_response(c->fe, c->fe_sid, c->rhdr.nv, c->rhdr.n,
                               end_stream ? NULL : &c->fst) != 0) {
            call_fail(c, GRPC_INTERNAL, "sparkgate: cannot relay response headers");
            return;
        }
        c->resp_started = true;
        if (end_stream)
            c->resp_eos = true; /* trailers-only: the HEADERS carried the status */
        fe_kick(c->fe);
        return;
    }
    if (resp_filter_end(c, &v) != 0) {
        call_answer(c, &v);
        return;
    }
    c->resp_eos = true;
    resume_fe(c);
}

static void
call_be_data(struct call *c, const uint8_t *data, size_t len)
{
    struct call_verdict v;

    CHECK_MAGIC(c, CALL_MAGIC);
    if (c->fe == NULL || c->state == CALL_ST_DONE || !c->resp_started) {
        /* nobody to deliver to: give the credit straight back */
        h2conn_credit(&c->bst, len);
        return;
    }
    if (resp_filter_any(&c->rf)) {
        if (evbuffer_get_length(c->resp) == 0)
            c->fe_tx_ms = util_now_ms();
        /* a filter's own buffering is bounded by it (Config: the deframer's limit) */
        if (resp_filter_data(c, data, len, &v) != 0) {
            call_answer(c, &v);
            h2conn_credit(&c->bst, len);
            return;
        }
        c->be_unconsumed += len;
        credit_be(c);
        resume_fe(c);
        return;
    }
    /* the client's clock starts when it has something to read */
    if (evbuffer_get_length(c->resp) == 0)
        c->fe_tx_ms = util_now_ms();
    if (evbuffer_add(c->resp, data, len) != 0) {
        call_fail(c, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
        return;
    }
    c->be_unconsumed += len;
    credit_be(c);
    resume_fe(c);
}

static void
call_be_end_stream(struct call *c)
{
    struct call_verdict v;

    CHECK_MAGIC(c, CALL_MAGIC);
    if (c->state == CALL_ST_DONE)
        return;
    if (resp_filter_end(c, &v) != 0) {
        call_answer(c, &v);
        return;
    }
    c->resp_eos = true;
    resume_fe(c);
}

static void
call_be_closed(struct h2_stream *st, enum h2_reset why, uint32_t error_code)
{
    struct call *c = BE_CALL(st);
    struct be_conn *be = c->be;

    CHECK_MAGIC(c, CALL_MAGIC);
    if (be == NULL)
        return;
    c->be_closed = true;
    /* the stream is over: its bytes must not hold the connection window hostage */
    if (c->be_unconsumed > 0)
        h2conn_credit_conn(&c->bst, c->be_unconsumed);
    c->be_unconsumed = 0;
    if (!c->resp_eos && c->state != CALL_ST_DONE) {
        if (why == H2_RESET_REFUSED && !c->resp_started)
            call_fail_backend(c, "refused the stream");
        else
            call_fail_backend(c, "reset the stream (HTTP/2 error %u)", error_code);
    }
    be_detach(be, &c->bst);
    c->be = NULL;
    if (c->state != CALL_ST_DONE && c->resp_eos && c->fe != NULL) {
        /* the backend answered in full and left: what the client still uploads
         * has nowhere to go; discard it and give back the credit withheld so far */
        c->state = CALL_ST_DONE;
        credit_fe(c);
    }
    if (c->state == CALL_ST_DONE)
        drop_req(c); /* nothing more goes to a backend */
    call_maybe_free(c);
}

/* The backend connection died with our stream open (h2_stream_ops.on_lost). */
static void
call_be_lost(struct h2_stream *st, const char *reason)
{
    struct call *c = BE_CALL(st);

    CHECK_MAGIC(c, CALL_MAGIC);
    /* be.c took us off its lists; no stream close follows */
    c->be_closed = true;
    c->be = NULL;
    c->be_unconsumed = 0;
    if (!c->resp_eos && c->state != CALL_ST_DONE)
        call_fail_backend(c, "connection lost: %s", reason);
    if (c->state == CALL_ST_DONE)
        drop_req(c);
    call_maybe_free(c);
}

/* Request data source toward the backend (h2_stream_ops.read). */
static ssize_t
call_be_read(struct h2_stream *st, size_t length, unsigned *flags)
{
    struct call *c = BE_CALL(st);
    size_t avail, n;

    CHECK_MAGIC(c, CALL_MAGIC);
    avail = evbuffer_get_length(c->req);
    n = length < avail ? length : avail;
    if (n == avail && c->req_eos) {
        *flags |= H2_READ_EOF;
        c->req_sized = n;
        return (ssize_t)n;
    }
    if (n == 0)
        return SG_ERR_AGAIN;
    /* the connection layer moves exactly these to the wire, maybe later */
    c->req_sized = n;
    return (ssize_t)n;
}

/* |length| request bytes went to the backend's connection. */
static void
call_be_sent(struct h2_stream *st, size_t length)
{
    struct call *c = BE_CALL(st);
    CHECK_MAGIC(c, CALL_MAGIC);
    (void)length;
    c->req_sized = 0;
    if (c->state == CALL_ST_DONE)
        drop_req(c); /* refused while the frame waited: the rest goes nowhere */
    budget_sync(c);
    credit_fe(c);
}

/* ---- connection events ------------------------------------------------------ */

/* The events with a call-shaped handler above (the rest take the stream). */

static int
fe_on_header(struct h2_stream *st, bool trailer, const uint8_t *name, size_t namelen,
             const uint8_t *value, size_t valuelen)
{
    (void)trailer;
    return call_fe_header(FE_CALL(st), name, namelen, value, valuelen) == 0 ? 0 : SG_ERR_LIMIT;
}

static void
fe_on_headers_done(struct h2_stream *st, bool trailer, bool end_stream)
{
    (void)trailer;
    (void)end_stream; /* on_end_stream follows */
    call_fe_headers_done(FE_CALL(st));
}

static void
fe_on_data(struct h2_stream *st, const uint8_t *data, size_t len)
{
    call_fe_data(FE_CALL(st), data, len);
}

static void
fe_on_end_stream(struct h2_stream *st)
{
    call_fe_end_stream(FE_CALL(st));
}

static const struct h2_stream_ops call_fe_ops = {
    .on_header = fe_on_header,
    .on_headers_done = fe_on_headers_done,
    .on_data = fe_on_data,
    .on_end_stream = fe_on_end_stream,
    .on_close = call_fe_closed,
    .read = call_fe_read,
    .on_sent = call_fe_sent,
};

static int
be_on_header(struct h2_stream *st, bool trailer, const uint8_t *name, size_t namelen,
             const uint8_t *value, size_t valuelen)
{
    return call_be_header(BE_CALL(st), trailer, name, namelen, value, valuelen) == 0 ? 0
                                                                                     : SG_ERR_LIMIT;
}

static void
be_on_headers_done(struct h2_stream *st, bool trailer, bool end_stream)
{
    call_be_headers_done(BE_CALL(st), trailer, end_stream);
}

static void
be_on_data(struct h2_stream *st, const uint8_t *data, size_t len)
{
    call_be_data(BE_CALL(st), data, len);
}

static void
be_on_end_stream(struct h2_stream *st)
{
    call_be_end_stream(BE_CALL(st));
}

static const struct h2_stream_ops call_be_ops = {
    .on_header = be_on_header,
    .on_headers_done = be_on_headers_done,
    .on_data = be_on_data,
    .on_end_stream = be_on_end_stream,
    .on_close = call_be_closed,
    .read = call_be_read,
    .on_sent = call_be_sent,
    .request_headers = call_be_request_headers,
    .on_open = call_be_open,
    .on_failed = call_be_failed,
    .on_lost = call_be_lost,
};
