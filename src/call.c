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
 * because credit (nghttp2_session_consume) is given back to a sender only
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
#include <nghttp2/nghttp2.h>
#include <openssl/evp.h>

#include "sg_err.h"
#include "auth.h"
#include "be.h"
#include "call.h"
#include "cfg.h"
#include "fe.h"
#include "grpc.h"
#include "h2io.h"
#include "log.h"
#include "pb.h"
#include "policy.h"
#include "redact.h"
#include "route.h"
#include "sc.h"
#include "util.h"
#include "worker.h"

#define CALL_MAGIC 0x43414c4cu /* "CALL" */
#define CALL_PATH_MAX 256      /* longest :path we keep for messages */
#define CALL_MSG_MAX 512       /* longest grpc-message we produce */
#define CALL_CRED_MAX (16384 + 16) /* "Bearer " + AUTH_JWT_MAX_TOKEN, with slack */
#define CALL_CONTIG_MIN (64u * 1024u) /* messages above this are received into one chain */
#define CALL_MSG_STEP (4u << 20)      /* ... which starts this big and doubles as data comes */
#define CALL_BUDGET_RETRY_MS 50       /* a call out of budget re-checks this often ... */
#define CALL_BUDGET_WAIT_MS 2000      /* ... and its partial message is refused after this */

enum call_state {
    CALL_ST_HEADERS,    /* request headers arriving */
    CALL_ST_AUTH_WAIT,  /* token names an unknown key: waiting for a JWKS fetch to end */
    CALL_ST_FIRST_MSG,  /* headers accepted; waiting for the first message */
    CALL_ST_CONNECTING, /* routed; waiting for the backend connection */
    CALL_ST_OPEN,       /* backend stream submitted */
    CALL_ST_DONE,       /* answered locally or failed: client input is discarded */
};

/*
 * A header list: the nghttp2_nv array points into one growing byte arena,
 * so a list costs two allocations however many fields it has (the unary
 * profile showed one malloc per header as half of a call's allocations).
 * nghttp2 copies header blocks when they are submitted, so the arena only
 * has to live until then.
 */
struct call_hdrs {
    nghttp2_nv *nv;
    size_t n, cap;
    uint8_t *buf;  /* names and values, NUL-terminated */
    size_t blen, bcap;
    size_t bytes;  /* RFC 9113 section 6.5.2 size: name + value + 32 each */
};

struct call {
    uint32_t magic;
    struct worker *w;
    struct cfg *cfg; /* reference held for the call's lifetime */
    enum call_state state;

    /* client side */
    struct fe_conn *fe; /* NULL once detached */
    struct call_list *fe_list;
    TAILQ_ENTRY(call) fe_link;
    int32_t fe_sid;
    bool fe_ended;      /* client half-closed */

    /* backend side */
    struct be_conn *be; /* NULL when not attached */
    TAILQ_ENTRY(call) be_link;
    int32_t be_sid;     /* 0 until submitted */
    bool be_closed;     /* backend stream closed */
    bool be_cancelled;  /* RST_STREAM(CANCEL) submitted */
    size_t req_sized;   /* bytes of c->req call_be_read promised nghttp2, not yet written */
    unsigned fe_data_depth; /* inside call_fe_data: the partial message is in use */
    size_t backend_idx;
    bool routed;
    char route_key[AUTH_PRINCIPAL_MAX + 1 + 128]; /* principal NUL session_id */
    size_t route_key_len;

    /* request */
    const struct sc_method *m;
    char path[CALL_PATH_MAX];
    bool method_post, has_method, ct_grpc, has_ct, hdr_overflow;
    bool enc_real;          /* grpc-encoding names a compression other than identity */
    uint64_t timeout_ms;
    bool has_timeout;
    bool has_enc, has_timeout_hdr;
    const char *repeated;   /* a header we judge that came twice: refused */
    struct call_hdrs fwd;   /* headers forwarded to the backend */
    char *cred;             /* credential header value (secret: wiped on free) */
    size_t credlen;
    unsigned ncred;         /* credential headers seen */
    bool cred_too_long;     /* a credential header above CALL_CRED_MAX */
    struct auth_ident id;   /* who is calling, once authenticated */
    bool authed;
    struct event *auth_timer;   /* AUTH_WAIT: timeouts.auth_key_wait_ms deadline */
    TAILQ_ENTRY(call) auth_link; /* on w->auth_waiting while auth_listed */
    bool auth_listed;
    uint64_t auth_gen;      /* last w->auth_wake_gen this call was re-checked for */
    struct evbuffer *held;  /* client DATA that arrived during AUTH_WAIT (uncredited;
                               the unauthenticated stream window bounds it) */
    struct grpc_deframer df;
    struct evbuffer *msg;   /* message being assembled */
    uint8_t *mbuf;          /* ... a large one: contiguous, grown as it arrives */
    size_t mlen, mcap;
    uint64_t buffered;      /* request bytes counted in the connection's and process's budget */
    struct event *budget_timer; /* out of budget: re-check, then refuse */
    uint64_t budget_since_ms;   /* credit withheld for the budget since (0: not) */
    struct event *stall_timer;  /* timeouts.stall_ms watch over the client's progress */
    uint64_t fe_rx_ms;      /* last request byte from, or credit to, the client */
    uint64_t fe_tx_ms;      /* last response byte to the client (or resp became non-empty) */
    bool stalled;           /* reset for a stall; still attached a stall later: conn is stuck */
    struct evbuffer *req;   /* framed messages for the backend */
    bool req_eos;           /* no more request data will be queued */
    size_t fe_unconsumed;   /* client bytes not yet credited back */

    /* plan policy (issue #4): judged in on_message, before anything is queued */
    const struct policy_profile *prof; /* NULL: not inspected (no profiles) */
    struct policy_art_state art;       /* AddArtifacts: the chunked artifact in progress */
    /* Config responses: configured secrets are redacted (redact.c) */
    bool redact;
    struct grpc_deframer rdf;          /* response messages, re-assembled */
    struct evbuffer *rmsg;
    uint8_t *cfg_prefix;               /* the request's get_all prefix (copy) */
    size_t cfg_prefix_len;

    /* response */
    struct call_hdrs rhdr;  /* response headers from the backend */
    struct call_hdrs trl;   /* trailers (backend's or ours) */
    struct evbuffer *resp;  /* response bytes for the client */
    bool resp_started;      /* response HEADERS submitted to the client */
    bool resp_eos;          /* resp holds the end of the response */
    size_t be_unconsumed;   /* backend bytes not yet credited back */

    /* accounting */
    struct event *deadline;
    uint64_t t_start_us;
    uint64_t bytes_in, bytes_out;
    int status;             /* grpc-status sent to the client, -1 unknown */
    bool local;             /* status produced by sparkgate */
    char reason[160];       /* sparkgate's reason, for the access log */
};

static uint64_t calls_live;

static void call_fail(struct call *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void call_maybe_free(struct call *c);

uint64_t
call_live_count(void)
{
    return __atomic_load_n(&calls_live, __ATOMIC_RELAXED);
}

/* ---- header lists -------------------------------------------------------- */

static int
hdrs_add(struct call_hdrs *h, const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen)
{
    size_t need = nlen + vlen + 2, i;
    uint8_t *p;

    if (h->n == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 16;
        nghttp2_nv *nv = realloc(h->nv, ncap * sizeof(*nv));

        if (nv == NULL)
            return SG_ERR_NOMEM;
        h->nv = nv;
        h->cap = ncap;
    }
    if (h->blen + need > h->bcap) {
        size_t ncap = h->bcap ? h->bcap * 2 : 1024;
        uint8_t *nb;

        while (ncap < h->blen + need)
            ncap *= 2;
        nb = malloc(ncap);
        if (nb == NULL)
            return SG_ERR_NOMEM;
        if (h->blen > 0)
            memcpy(nb, h->buf, h->blen);
        for (i = 0; i < h->n; i++) {
            h->nv[i].name = nb + (h->nv[i].name - h->buf);
            h->nv[i].value = nb + (h->nv[i].value - h->buf);
        }
        free(h->buf);
        h->buf = nb;
        h->bcap = ncap;
    }
    p = h->buf + h->blen;
    memcpy(p, name, nlen);
    p[nlen] = '\0';
    memcpy(p + nlen + 1, value, vlen);
    p[nlen + 1 + vlen] = '\0';
    h->blen += need;
    h->nv[h->n].name = p;
    h->nv[h->n].namelen = nlen;
    h->nv[h->n].value = p + nlen + 1;
    h->nv[h->n].valuelen = vlen;
    h->nv[h->n].flags = NGHTTP2_NV_FLAG_NONE;
    h->n++;
    h->bytes += nlen + vlen + 32;
    return 0;
}

static int
hdrs_add_str(struct call_hdrs *h, const char *name, const char *value)
{
    return hdrs_add(h, (const uint8_t *)name, strlen(name), (const uint8_t *)value, strlen(value));
}

static void
hdrs_clear(struct call_hdrs *h)
{
    free(h->buf);
    free(h->nv);
    memset(h, 0, sizeof(*h));
}

static bool
name_is(const uint8_t *name, size_t len, const char *lit)
{
    return strlen(lit) == len && memcmp(name, lit, len) == 0;
}

/* RFC 9113 section 8.2.2: connection-specific fields never cross a hop. */
static bool
is_hop_by_hop(const uint8_t *name, size_t len)
{
    return name_is(name, len, "connection") || name_is(name, len, "keep-alive") ||
           name_is(name, len, "proxy-connection") || name_is(name, len, "transfer-encoding") ||
           name_is(name, len, "upgrade") || name_is(name, len, "te") ||
           name_is(name, len, "host") || name_is(name, len, "http2-settings");
}

enum hdr_class {
    HDR_FORWARD,
    HDR_CREDENTIAL, /* one of auth.header_names */
    HDR_STRIP,      /* auth.identity.strip_headers / strip_header_prefixes */
};

static enum hdr_class
classify_header(const struct cfg_auth *a, const uint8_t *name, size_t len)
{
    size_t i, pl;

    for (i = 0; i < a->nheader_names; i++) {
        if (name_is(name, len, a->header_names[i]))
            return HDR_CREDENTIAL;
    }
    /* never forwarded, whatever auth.header_names says: the backend's own check
     * (Spark 4 pre-shared key) reads authorization */
    if (name_is(name, len, "authorization") || name_is(name, len, "authentication"))
        return HDR_STRIP;
    /* sparkgate's own identity headers: whatever strip_header_prefixes says */
    if (len >= 12 && memcmp(name, "x-sparkgate-", 12) == 0)
        return HDR_STRIP;
    for (i = 0; i < a->nstrip_headers; i++) {
        if (name_is(name, len, a->strip_headers[i]))
            return HDR_STRIP;
    }
    for (i = 0; i < a->nstrip_prefixes; i++) {
        pl = strlen(a->strip_prefixes[i]);
        if (len >= pl && memcmp(name, a->strip_prefixes[i], pl) == 0)
            return HDR_STRIP;
    }
    return HDR_FORWARD;
}

/* ---- lists --------------------------------------------------------------- */

void
call_be_list_insert(struct call_list *l, struct call *c)
{
    TAILQ_INSERT_TAIL(l, c, be_link);
}

void
call_be_list_remove(struct call_list *l, struct call *c)
{
    TAILQ_REMOVE(l, c, be_link);
}

struct call *
call_be_list_first(struct call_list *l)
{
    return TAILQ_FIRST(l);
}

int32_t
call_be_stream(const struct call *c)
{
    return c->be_sid;
}

/* ---- lifecycle ----------------------------------------------------------- */

struct call *
call_new(struct worker *w, struct fe_conn *fe, struct call_list *fe_list, int32_t sid,
         struct cfg *cfg)
{
    struct call *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->magic = CALL_MAGIC;
    c->w = w;
    c->fe = fe;
    c->fe_list = fe_list;
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
    TAILQ_INSERT_TAIL(fe_list, c, fe_link);
    __atomic_add_fetch(&calls_live, 1, __ATOMIC_RELAXED);
    w->ncalls++;
    w->busy_since_trim = true;
    return c;
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

static void
call_access_log(struct call *c)
{
    const char *backend = c->routed ? c->cfg->backends[c->backend_idx].name : "-";
    double ms = (double)(util_now_us() - c->t_start_us) / 1000.0;

    if (!c->cfg->access_log)
        return;
    log_info("access conn=%" PRIu64 " peer=%s stream=%d user=%s profile=%s auth=%s%s%s "
             "method=%s backend=%s status=%d(%s)%s%s%s "
             "req_bytes=%" PRIu64 " resp_bytes=%" PRIu64 " ms=%.1f",
             c->fe != NULL ? fe_conn_id(c->fe) : 0, c->fe != NULL ? fe_peer(c->fe) : "-",
             c->fe_sid, c->authed ? c->id.principal : "-",
             c->authed && c->id.profile[0] != '\0' ? c->id.profile : "-",
             c->authed ? auth_via_name(c->id.via) : "none",
             c->authed && c->id.token_id[0] != '\0' ? " token=" : "",
             c->authed ? c->id.token_id : "", c->m != NULL ? c->m->name : "-",
             backend, c->status, c->status >= 0 ? grpc_status_name(c->status) : "none",
             c->local ? " by=sparkgate reason=\"" : "", c->local ? c->reason : "",
             c->local ? "\"" : "", c->bytes_in, c->bytes_out, ms);
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
    __atomic_sub_fetch(&worker_req_buffered, c->buffered, __ATOMIC_RELAXED);
    if (c->held != NULL)
        evbuffer_free(c->held);
    if (c->rmsg != NULL)
        evbuffer_free(c->rmsg);
    free(c->cfg_prefix);
    util_free_secret(c->cred, c->credlen + 1);
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
        __atomic_add_fetch(&worker_conns_buffering, 1, __ATOMIC_RELAXED);
    else if (before != 0 && *b == 0)
        __atomic_sub_fetch(&worker_conns_buffering, 1, __ATOMIC_RELAXED);
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
    __atomic_add_fetch(&worker_req_buffered, delta, __ATOMIC_RELAXED);
    c->buffered = now;
}

/* Which budget is spent, or NULL. */
static const char *
budget_full(const struct call *c)
{
    const struct cfg_limits *lim = &c->cfg->limits;

    if (c->fe != NULL && *fe_req_buffered(c->fe) >= lim->connection_request_buffer)
        return "limits.connection_request_buffer";
    if (__atomic_load_n(&worker_req_buffered, __ATOMIC_RELAXED) >= lim->process_request_buffer)
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
    nghttp2_session_consume(fe_io(c->fe)->sess, c->fe_sid, c->fe_unconsumed);
    c->fe_unconsumed = 0;
    c->fe_rx_ms = util_now_ms(); /* the client may send again: its idle time starts now */
    fe_kick(c->fe);
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
    nghttp2_session_consume(be_io(c->be)->sess, c->be_sid, c->be_unconsumed);
    c->be_unconsumed = 0;
    be_kick(c->be);
}

static void
resume_fe(struct call *c)
{
    if (c->fe == NULL || !c->resp_started)
        return;
    nghttp2_session_resume_data(fe_io(c->fe)->sess, c->fe_sid);
    fe_kick(c->fe);
}

static void
resume_be(struct call *c)
{
    if (c->be == NULL || c->be_sid <= 0 || c->be_closed)
        return;
    nghttp2_session_resume_data(be_io(c->be)->sess, c->be_sid);
    be_kick(c->be);
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
            nghttp2_submit_rst_stream(be_io(c->be)->sess, NGHTTP2_FLAG_NONE, c->be_sid,
                                      NGHTTP2_CANCEL);
            be_kick(c->be);
        }
        return; /* detaches in call_be_closed */
    }
    be_detach(c->be, c);
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
            fe_submit_response(c->fe, c->fe_sid, c->trl.nv, c->trl.n, false) != 0) {
            nghttp2_submit_rst_stream(fe_io(c->fe)->sess, NGHTTP2_FLAG_NONE, c->fe_sid,
                                      NGHTTP2_INTERNAL_ERROR);
        }
        c->resp_started = true;
        c->resp_eos = true;
    } else if (!c->resp_eos) {
        /* headers went out: the status follows whatever data is queued */
        hdrs_clear(&c->trl);
        if (hdrs_add_str(&c->trl, "grpc-status", st) != 0 ||
            hdrs_add_str(&c->trl, "grpc-message", enc) != 0) {
            nghttp2_submit_rst_stream(fe_io(c->fe)->sess, NGHTTP2_FLAG_NONE, c->fe_sid,
                                      NGHTTP2_INTERNAL_ERROR);
        }
        c->resp_eos = true;
        resume_fe(c);
    }
    fe_kick(c->fe);
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
        fe_submit_response(c->fe, c->fe_sid, c->rhdr.nv, c->rhdr.n, true) != 0) {
        nghttp2_submit_rst_stream(fe_io(c->fe)->sess, NGHTTP2_FLAG_NONE, c->fe_sid,
                                  NGHTTP2_INTERNAL_ERROR);
    }
    c->resp_started = true;
    c->resp_eos = true;
    fe_kick(c->fe);
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
    const struct call *o;
    size_t mine = partial_len(c), theirs;

    TAILQ_FOREACH(o, fe_calls(c->fe), fe_link) {
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
    uint64_t n = __atomic_load_n(&worker_conns_buffering, __ATOMIC_RELAXED);

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
    nghttp2_session *s = fe_io(c->fe)->sess;

    return nghttp2_session_get_local_window_size(s) > 0 &&
           nghttp2_session_get_stream_local_window_size(s, c->fe_sid) > 0;
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
             "(%" PRIu64 " ms): resetting the call", fe_conn_id(fe), fe_peer(fe), c->fe_sid,
             why, ms);
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
    nghttp2_submit_rst_stream(fe_io(fe)->sess, NGHTTP2_FLAG_NONE, c->fe_sid,
                              finished ? NGHTTP2_NO_ERROR : NGHTTP2_CANCEL);
    fe_kick(fe);
    arm_stall(c, ms);
}

/* ---- client side ----------------------------------------------------------- */

int
call_fe_header(struct call *c, const uint8_t *name, size_t nlen, const uint8_t *value,
               size_t vlen)
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
        if (name_is(name, nlen, ":method")) {
            c->has_method = true;
            c->method_post = name_is(value, vlen, "POST");
        } else if (name_is(name, nlen, ":path")) {
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
    if (name_is(name, nlen, "content-type")) {
        /* a second one makes the type not application/grpc: HTTP 415 */
        c->ct_grpc = !c->has_ct && grpc_content_type_ok(value, vlen);
        c->has_ct = true;
    } else if (name_is(name, nlen, "grpc-encoding")) {
        if (c->has_enc)
            c->repeated = "grpc-encoding";
        c->has_enc = true;
        c->enc_real = !name_is(value, vlen, "identity");
    } else if (name_is(name, nlen, "grpc-timeout")) {
        if (c->has_timeout_hdr)
            c->repeated = "grpc-timeout";
        c->has_timeout_hdr = true;
        if (grpc_timeout_parse((const char *)value, vlen, &c->timeout_ms) == 0)
            c->has_timeout = true;
    }
    if (is_hop_by_hop(name, nlen))
        return 0;
    /* a Config response is read to redact secrets: ask for it uncompressed
     * (pseudo-headers, :path included, come first: c->m is known here) */
    if (c->m != NULL && c->m->id == SC_M_CONFIG && name_is(name, nlen, "grpc-accept-encoding"))
        return 0;
    /* the body is re-framed and user_context rewritten: the client's length is stale
     * (and optional in HTTP/2: RFC 9113 section 8.1.1) */
    if (name_is(name, nlen, "content-length"))
        return 0;
    switch (classify_header(&c->cfg->auth, name, nlen)) {
    case HDR_CREDENTIAL:
        /* kept for auth only: a client's token never reaches a backend */
        c->ncred++;
        if (vlen >= CALL_CRED_MAX) {
            c->cred_too_long = true; /* refused as malformed, not as missing */
            return 0;
        }
        if (c->cred == NULL) {
            if ((c->cred = malloc(vlen + 1)) == NULL)
                return -1;
            memcpy(c->cred, value, vlen);
            c->cred[vlen] = '\0';
            c->credlen = vlen;
        }
        return 0;
    case HDR_STRIP:
        /* identity is what sparkgate says, never what the client claims */
        return 0;
    case HDR_FORWARD:
        break;
    }
    if (hdrs_add(&c->fwd, name, nlen, value, vlen) != 0)
        return -1;
    return 0;
}

static void on_auth_timer(evutil_socket_t fd, short what, void *arg);

/* ---- policy (issue #4) ------------------------------------------------------ */

/* Copy of untrusted bytes safe inside a log line: printable ASCII, no blanks or quotes. */
static void
log_safe(char *out, size_t size, const uint8_t *s, size_t len, bool keep_spaces)
{
    size_t i, n = len < size - 1 ? len : size - 1;

    if (s == NULL || len == 0) {
        snprintf(out, size, "-");
        return;
    }
    for (i = 0; i < n; i++) {
        uint8_t ch = s[i];

        out[i] = ch > 0x20 && ch < 0x7f && ch != '"' ? (char)ch
                 : ch == '"' ? '\''
                 : keep_spaces && ch == ' ' ? ' ' : '?';
    }
    out[n] = '\0';
}

/*
 * First 16 hex digits of SHA-256 over the request message without its
 * session_id (1) and user_context (2): the same plan from two users or two
 * sessions has the same digest.
 */
static void
plan_digest(const uint8_t *body, size_t len, char hex[17])
{
    static const char digits[] = "0123456789abcdef";
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    struct pb_cur cur;
    struct pb_field f;
    int i;

    snprintf(hex, 17, "-");
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        goto out;
    pb_cur_init(&cur, body, len);
    while (pb_next(&cur, &f) == 1) {
        if (f.num == SC_FIELD_SESSION_ID || f.num == SC_FIELD_USER_CONTEXT)
            continue;
        if (EVP_DigestUpdate(md, f.start, (size_t)(f.end - f.start)) != 1)
            goto out;
    }
    if (EVP_DigestFinal_ex(md, d, &dl) != 1 || dl < 8)
        goto out;
    for (i = 0; i < 8; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[16] = '\0';
out:
    EVP_MD_CTX_free(md);
}

/* One audit line per decision (docs/policy.md, "Audit log"). */
static void
call_audit(struct call *c, const struct policy_verdict *v, bool refused, const uint8_t *body,
           size_t len, const uint8_t *sid, size_t sidlen)
{
    char session[72], op[72], reason[POLICY_MSG_MAX], digest[17];

    /* the digest of a 64 MiB plan costs ~40 ms: not for a line nobody logs */
    if (!c->cfg->audit_log || log_get_level() < LOG_LVL_INFO)
        return;
    log_safe(session, sizeof(session), sid, sidlen, false);
    log_safe(op, sizeof(op), v->operation_id, v->operation_id_len, false);
    if (body != NULL)
        plan_digest(body, len, digest);
    else
        snprintf(digest, sizeof(digest), "-");
    log_safe(reason, sizeof(reason), (const uint8_t *)v->msg, strlen(v->msg), true);
    log_info("audit decision=%s principal=%s profile=%s session=%s operation=%s method=%s "
             "plan_sha256=%s nodes=%zu depth=%u kinds=%s rule=%s conn=%" PRIu64
             " stream=%d%s%s%s",
             refused ? "deny" : "allow", c->id.principal, c->prof != NULL ? c->prof->name : "-",
             session, op, c->m->name, digest, v->nodes, v->depth,
             v->kinds[0] != '\0' ? v->kinds : "-", v->rule != NULL ? v->rule : "-",
             c->fe != NULL ? fe_conn_id(c->fe) : 0, c->fe_sid, refused ? " reason=\"" : "",
             refused ? reason : "", refused ? "\"" : "");
}

/*
 * Right after authentication: the caller's profile, and whether it may call
 * this method at all (refused before a body byte is read).  Config calls
 * get their responses redacted whatever the profile.
 */
static void
call_policy_start(struct call *c)
{
    struct policy_verdict v;

    if (c->m->id == SC_M_CONFIG) {
        c->redact = true;
        grpc_deframer_init(&c->rdf, c->cfg->limits.max_request_message_size);
        if ((c->rmsg = evbuffer_new()) == NULL) {
            call_fail(c, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
            return;
        }
    }
    /* anonymous callers too, under auth.default_profile */
    if (c->cfg->nprofiles == 0)
        return;
    c->prof = cfg_profile(c->cfg, c->id.profile);
    if (c->prof == NULL && c->id.profile[0] == '\0') {
        /* anonymous without auth.default_profile (cfg_auth.c warned) */
        call_fail(c, GRPC_PERMISSION_DENIED,
                  "sparkgate: anonymous callers have no profile (auth.default_profile)");
        return;
    }
    if (c->prof == NULL) {
        /* auth hands out configured names only (cfg_policy.c checks): be safe anyway */
        call_fail(c, GRPC_PERMISSION_DENIED, "sparkgate: profile \"%s\" is not defined",
                  c->id.profile);
        return;
    }
    if (policy_check_method(c->prof, c->m->id, &v) == POLICY_REFUSED) {
        call_audit(c, &v, true, NULL, 0, NULL, 0);
        call_fail(c, v.status, "%s", v.msg);
    }
}

/* Judges one request message; 0 to go on, -1 after answering the client. */
static int
call_policy_message(struct call *c, const uint8_t *body, size_t len, const uint8_t *sid,
                    size_t sidlen)
{
    const struct cfg_limits *cl = &c->cfg->limits;
    struct policy_limits lim;
    struct policy_verdict v;
    int rv;

    lim.max_depth = cl->max_plan_depth;
    lim.max_nodes = cl->max_plan_nodes;
    lim.max_decompressed = cl->max_decompressed_plan_size;
    lim.max_ratio = cl->max_decompression_ratio;
    if (c->m->id == SC_M_ADD_ARTIFACTS)
        rv = policy_check_artifacts(c->prof, &c->art, body, len, &v);
    else
        rv = policy_check_request(c->prof, c->m->id, body, len, &lim, &v);
    if (rv < 0) {
        call_fail(c, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
        return -1;
    }
    /* AddArtifacts: one line per named artifact, not per chunk */
    if (rv == POLICY_REFUSED || c->m->id != SC_M_ADD_ARTIFACTS || v.nodes > 0)
        call_audit(c, &v, rv == POLICY_REFUSED, body, len, sid, sidlen);
    if (rv == POLICY_REFUSED) {
        call_fail(c, v.status, "%s", v.msg);
        return -1;
    }
    return 0;
}

/* Forgets the client's credential as soon as it is judged. */
static void
drop_cred(struct call *c)
{
    util_free_secret(c->cred, c->credlen + 1);
    c->cred = NULL;
    c->credlen = 0;
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

/*
 * Authenticates the call (auth.c).  On success the stream's window opens
 * (fe_auth_open_window) and the call moves on to its first message,
 * replaying DATA held while it waited; on refusal it is answered
 * UNAUTHENTICATED / PERMISSION_DENIED and nothing reaches a backend;
 * AUTH_RETRY (a token signed by a key the JWKS does not have yet, a fetch
 * under way) waits for the fetch to end (auth_wait_begin).
 */
static void
authenticate(struct call *c, bool may_retry)
{
    char msg[CALL_MSG_MAX];
    struct evbuffer *held;
    enum auth_result r;
    int status = GRPC_UNAUTHENTICATED;

    if (c->cred_too_long && c->ncred == 1) {
        call_fail(c, GRPC_UNAUTHENTICATED, AUTH_TOO_LARGE_FMT, c->cfg->auth.max_token_bytes);
        return;
    }
    r = auth_check(c->cfg, c->w->auth_cache, c->cred, c->credlen, c->ncred,
                   c->fe != NULL ? fe_io(c->fe)->ssl : NULL, time(NULL), may_retry, &c->id,
                   &status, msg, sizeof(msg));
    if (r == AUTH_RETRY) {
        if (c->state == CALL_ST_AUTH_WAIT || auth_wait_begin(c) == 0)
            return;
        /* may not wait: refused now, as the unknown key it is */
        r = auth_check(c->cfg, c->w->auth_cache, c->cred, c->credlen, c->ncred,
                       c->fe != NULL ? fe_io(c->fe)->ssl : NULL, time(NULL), false, &c->id,
                       &status, msg, sizeof(msg));
    }
    drop_cred(c);
    if (r != AUTH_OK) {
        call_fail(c, status, "%s", msg);
        return;
    }
    auth_wait_unlist(c);
    c->authed = true;
    if (c->fe != NULL)
        fe_call_authenticated(c->fe);
    c->state = CALL_ST_FIRST_MSG;
    if (c->fe != NULL)
        fe_auth_open_window(c->fe, c->fe_sid);
    call_policy_start(c);
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
    authenticate(c, false);
}

void
call_auth_keys_changed(struct worker *w)
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
        TAILQ_FOREACH(c, &w->auth_waiting, auth_link) {
            if (c->auth_gen != gen)
                break;
        }
        if (c == NULL)
            break;
        c->auth_gen = gen;
        authenticate(c, true);
    }
}

void
call_fe_headers_done(struct call *c)
{
    char safe[CALL_PATH_MAX];
    size_t i;

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
    if (c->hdr_overflow) {
        call_fail(c, GRPC_RESOURCE_EXHAUSTED,
                  "sparkgate: request headers exceed limits.max_header_count (%u) or "
                  "limits.max_header_list_size (%u bytes)",
                  c->cfg->limits.max_header_count, c->cfg->limits.max_header_list_size);
        return;
    }
    if (!c->has_method || !c->method_post) {
        call_http_error(c, "405", "only gRPC (POST) requests are served here");
        return;
    }
    if (!c->ct_grpc) {
        /* gRPC PROTOCOL-HTTP2: a server SHOULD answer 415 to other content types */
        call_http_error(c, "415", "content-type must be application/grpc, once");
        return;
    }
    if (c->repeated != NULL) {
        call_fail(c, GRPC_INVALID_ARGUMENT, "sparkgate: request header %s repeated: send it once",
                  c->repeated);
        return;
    }
    if (c->m == NULL) {
        for (i = 0; c->path[i] != '\0'; i++)
            safe[i] = (c->path[i] >= 0x20 && c->path[i] < 0x7f) ? c->path[i] : '?';
        safe[i] = '\0';
        call_fail(c, GRPC_UNIMPLEMENTED, "sparkgate: unknown method %s", safe);
        return;
    }
    if (c->has_timeout) {
        struct timeval tv;

        c->deadline = evtimer_new(c->w->base, on_deadline, c);
        if (c->deadline != NULL) {
            tv.tv_sec = (time_t)(c->timeout_ms / 1000u);
            tv.tv_usec = (suseconds_t)((c->timeout_ms % 1000u) * 1000u);
            evtimer_add(c->deadline, &tv);
        }
    }
    /* from the headers alone, before any body byte is read or a backend is chosen */
    authenticate(c, true);
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

/* Picks the backend from the first message and starts (or joins) a connection. */
static void
route_and_attach(struct call *c, const uint8_t *key, size_t keylen)
{
    const struct cfg_backend *b;
    const char *why = NULL;

    c->backend_idx = route_pick(c->cfg, key, keylen);
    c->routed = true;
    c->state = CALL_ST_CONNECTING;
    b = &c->cfg->backends[c->backend_idx];
    c->be = be_attach(c->w, c->cfg, c->backend_idx, c, &why);
    if (c->be == NULL) {
        call_fail(c, GRPC_UNAVAILABLE, "sparkgate: backend \"%s\" (%s) unavailable: %s", b->name,
                  b->address, why != NULL ? why : "cannot connect");
        return;
    }
    /* a ready connection opens the stream now: no extra loop iteration */
    be_dispatch(c->be);
}

/* Appends a length-delimited field. */
static int
put_len_field(struct evbuffer *out, uint32_t num, const void *p, size_t len)
{
    uint8_t hdr[20];
    size_t n = pb_put_varint(hdr, (uint64_t)num << 3 | PB_WT_LEN);

    n += pb_put_varint(hdr + n, len);
    if (evbuffer_add(out, hdr, n) != 0 || (len > 0 && evbuffer_add(out, p, len) != 0))
        return SG_ERR_NOMEM;
    return 0;
}

/*
 * Identity binding: the backend must see the authenticated principal and
 * nothing else.  Every user_context (field 2) of the message - duplicates
 * included, with their user_name and extensions - is removed and one
 * UserContext{user_id = user_name = principal} is put first.  In
 * require_match mode a user_id that differs from the principal (the last
 * one, as protobuf-java merges) is refused instead.  Returns 0, or -1 after
 * answering the client.
 *
 * Only the head of the message, up to the end of its last user_context
 * (clients put it second, after session_id), is rewritten; the rest - a
 * 64 MiB LocalRelation, say - stays where it is in c->msg, uncopied.
 */
static int
bind_identity(struct call *c, const uint8_t *body, size_t len)
{
    const char *who = c->id.principal;
    size_t wlen = strlen(who);
    const uint8_t *claimed = NULL;
    size_t claimed_len = 0, head_end = 0;
    struct evbuffer *out = NULL;
    struct pb_cur cur, sub;
    struct pb_field f, g;
    uint8_t uc[2 * (AUTH_PRINCIPAL_MAX + 12)];
    size_t ucl;
    int rv = -1, r;

    out = evbuffer_new();
    if (out == NULL)
        goto nomem;
    /* first pass: validate, find the claimed user_id and where the last user_context ends */
    pb_cur_init(&cur, body, len);
    while ((r = pb_next(&cur, &f)) == 1) {
        if (f.num != SC_FIELD_USER_CONTEXT)
            continue;
        if (f.wt != PB_WT_LEN) {
            r = SG_ERR_PROTO;
            break;
        }
        head_end = (size_t)(f.end - body);
        pb_sub(&f, &sub);
        while ((r = pb_next(&sub, &g)) == 1) {
            if (g.num == 1 && g.wt == PB_WT_LEN) {
                claimed = g.data;
                claimed_len = g.len;
            }
        }
        if (r < 0)
            break;
    }
    if (r < 0) {
        call_fail(c, GRPC_INVALID_ARGUMENT,
                  "sparkgate: %s request message is not valid protobuf", c->m->name);
        goto out;
    }
    if (c->cfg->auth.require_match && claimed != NULL &&
        (claimed_len != wlen || memcmp(claimed, who, wlen) != 0)) {
        char shown[101];
        size_t i, n = claimed_len < 100 ? claimed_len : 100;

        for (i = 0; i < n; i++)
            shown[i] = claimed[i] >= 0x20 && claimed[i] < 0x7f ? (char)claimed[i] : '?';
        shown[n] = '\0';
        call_fail(c, GRPC_PERMISSION_DENIED,
                  "sparkgate: user_id \"%s\" does not match the authenticated principal \"%s\"",
                  shown, who);
        goto out;
    }
    /* UserContext{user_id = 1, user_name = 2}: principal < AUTH_PRINCIPAL_MAX, so it fits */
    ucl = 0;
    uc[ucl++] = 1 << 3 | PB_WT_LEN;
    ucl += pb_put_varint(uc + ucl, wlen);
    memcpy(uc + ucl, who, wlen);
    ucl += wlen;
    uc[ucl++] = 2 << 3 | PB_WT_LEN;
    ucl += pb_put_varint(uc + ucl, wlen);
    memcpy(uc + ucl, who, wlen);
    ucl += wlen;
    if (put_len_field(out, SC_FIELD_USER_CONTEXT, uc, ucl) != 0)
        goto nomem;
    /* the head's other fields (session_id, ...) follow; the tail is not touched */
    pb_cur_init(&cur, body, head_end);
    while (pb_next(&cur, &f) == 1) {
        if (f.num != SC_FIELD_USER_CONTEXT &&
            evbuffer_add(out, f.start, (size_t)(f.end - f.start)) != 0)
            goto nomem;
    }
    evbuffer_drain(c->msg, head_end);
    if (evbuffer_prepend_buffer(c->msg, out) != 0)
        goto nomem;
    rv = 0;
    goto out;
nomem:
    call_fail(c, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
out:
    if (out != NULL)
        evbuffer_free(out);
    return rv;
}

/*
 * A client's credentials never reach a backend inside a Config value
 * either: PySpark sends its whole connection string, token included, as
 * spark.remote when a session starts (redact_config_request).  Replaces
 * the message in c->msg and updates |body| and |len|; 0, or -1 after
 * answering the client.
 */
static int
scrub_config_request(struct call *c, const uint8_t **body, size_t *len)
{
    uint8_t *out = NULL;
    size_t outlen = 0;
    int n = redact_config_request(*body, *len, &out, &outlen);

    if (n == 0)
        return 0;
    if (n == SG_ERR_NOMEM)
        goto nomem;
    if (n < 0) {
        call_fail(c, GRPC_INVALID_ARGUMENT, "sparkgate: %s request message is not valid protobuf",
                  c->m->name);
        return -1;
    }
    evbuffer_drain(c->msg, *len);
    if (evbuffer_add(c->msg, out, outlen) != 0) {
        free(out);
        goto nomem;
    }
    free(out);
    *len = outlen;
    *body = outlen > 0 ? evbuffer_pullup(c->msg, -1) : (const uint8_t *)"";
    if (*body == NULL)
        goto nomem;
    log_info("conn=%" PRIu64 " stream=%d: removed %d credential(s) from a connection string "
             "in a Config request of %s", c->fe != NULL ? fe_conn_id(c->fe) : 0, c->fe_sid, n,
             c->authed ? c->id.principal : "-");
    return 0;
nomem:
    call_fail(c, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
    return -1;
}

static void
on_message(struct call *c)
{
    const uint8_t *body, *sid = NULL;
    size_t len = evbuffer_get_length(c->msg), sidlen = 0;
    const char *why;
    int rv;

    if (c->df.nmsgs > 1 && c->m->kind != SC_CLIENT_STREAMING) {
        /* security-notes G08: never judge one message and pass the next */
        call_fail(c, GRPC_INVALID_ARGUMENT,
                  "sparkgate: %s takes exactly one request message, got more", c->m->name);
        return;
    }
    /* an empty message is valid protobuf; pullup of nothing is NULL */
    body = len > 0 ? evbuffer_pullup(c->msg, -1) : (const uint8_t *)"";
    if (body == NULL) {
        call_fail(c, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
        return;
    }
    /* what Spark would refuse is refused here, before it is routed, logged or judged;
     * the message never quotes the value (a session_id can be anything, of any size) */
    if (sc_request_check(c->m->id, body, len, &why) != 0) {
        call_fail(c, GRPC_INVALID_ARGUMENT, "sparkgate: %s request message %s", c->m->name, why);
        return;
    }
    if (c->m->id == SC_M_CONFIG && scrub_config_request(c, &body, &len) != 0)
        return;
    rv = sc_request_session_id(body, len, &sid, &sidlen);
    if (rv < 0) {
        call_fail(c, GRPC_INVALID_ARGUMENT,
                  "sparkgate: %s request message is not valid protobuf", c->m->name);
        return;
    }
    /* the plan is judged before anything is queued or a backend chosen */
    if (c->prof != NULL && call_policy_message(c, body, len, sid, sidlen) != 0)
        return;
    if (c->redact && c->df.nmsgs == 1) {
        const uint8_t *pfx;
        size_t plen;

        if (redact_config_prefix(body, len, &pfx, &plen) == 1 && plen > 0) {
            if ((c->cfg_prefix = malloc(plen)) == NULL) {
                call_fail(c, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
                return;
            }
            memcpy(c->cfg_prefix, pfx, plen);
            c->cfg_prefix_len = plen;
        }
    }
    if (c->df.nmsgs == 1) {
        /* Spark keys sessions by (user_id, session_id): so does routing */
        size_t plen = c->cfg->auth.anonymous ? 0 : strlen(c->id.principal);

        if (plen + 1 + sidlen > sizeof(c->route_key))
            sidlen = sizeof(c->route_key) - plen - 1;
        memcpy(c->route_key, c->id.principal, plen);
        c->route_key[plen] = '\0';
        if (sidlen > 0)
            memcpy(c->route_key + plen + 1, sid, sidlen);
        c->route_key_len = plen + 1 + sidlen;
    }
    if (!c->cfg->auth.anonymous && bind_identity(c, body, len) != 0)
        return; /* answered; body is gone with the old message bytes */
    if (queue_message(c) != 0) {
        call_fail(c, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
        return;
    }
    if (c->df.nmsgs == 1)
        route_and_attach(c, (const uint8_t *)c->route_key, c->route_key_len);
    else
        resume_be(c);
}

/*
 * Appends to the large message being received, growing its buffer as the
 * bytes arrive (CALL_MSG_STEP, doubling, never past the declared length):
 * a declared length reserves nothing, and above the mmap threshold
 * realloc moves pages instead of copying them.
 */
static int
msg_append(struct call *c, const uint8_t *p, size_t len)
{
    size_t want = grpc_msg_capacity(c->mcap, c->mlen + len, c->df.msg_len, CALL_MSG_STEP);

    if (want > c->mcap) {
        uint8_t *nb;

        if ((nb = realloc(c->mbuf, want)) == NULL)
            return SG_ERR_NOMEM;
        c->mbuf = nb;
        c->mcap = want;
    }
    memcpy(c->mbuf + c->mlen, p, len);
    c->mlen += len;
    return 0;
}

static void
msg_buf_free(const void *data, size_t len, void *arg)
{
    (void)len;
    (void)arg;
    free((void *)(uintptr_t)data);
}

/* A complete large message: its buffer becomes c->msg's one chain, uncopied. */
static int
msg_seal(struct call *c)
{
    if (c->mbuf == NULL)
        return 0;
    if (evbuffer_add_reference(c->msg, c->mbuf, c->mlen, msg_buf_free, NULL) != 0)
        return SG_ERR_NOMEM;
    c->mbuf = NULL;
    c->mlen = c->mcap = 0;
    return 0;
}

void
call_fe_data(struct call *c, const uint8_t *data, size_t len)
{
    enum grpc_df_event ev;
    const uint8_t *piece;
    size_t off = 0, plen;
    ssize_t r;

    CHECK_MAGIC(c, CALL_MAGIC);
    if (c->state == CALL_ST_AUTH_WAIT) {
        /* held, not credited: the client's stream window bounds it */
        if (evbuffer_add(c->held, data, len) != 0)
            call_fail(c, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
        return;
    }
    c->bytes_in += len;
    c->fe_data_depth++;
    while (off < len && c->state != CALL_ST_DONE && c->state != CALL_ST_HEADERS) {
        r = grpc_deframer_feed(&c->df, data + off, len - off, &ev, &piece, &plen);
        if (r == SG_ERR_LIMIT) {
            call_fail(c, GRPC_RESOURCE_EXHAUSTED,
                      "sparkgate: request message of %" PRIu32 " bytes exceeds "
                      "limits.max_request_message_size (%" PRIu32 ")",
                      c->df.msg_len, c->cfg->limits.max_request_message_size);
            break;
        }
        if (r < 0) {
            call_fail(c, GRPC_INTERNAL, "sparkgate: invalid gRPC framing (flag byte %u)",
                      (unsigned)c->df.hdr[0]);
            break;
        }
        off += (size_t)r;
        if (ev == GRPC_DF_NONE)
            continue;
        if (c->df.flags != 0 && !c->enc_real) {
            /* gRPC compression spec: the flag without an encoding is a protocol error */
            call_fail(c, GRPC_INTERNAL,
                      "sparkgate: compressed flag set on a request message without a "
                      "grpc-encoding (absent or identity)");
            break;
        }
        if (c->df.flags != 0) {
            /* the plan must be read to be judged; fail closed (security-notes G03-G05) */
            call_fail(c, GRPC_UNIMPLEMENTED,
                      "sparkgate: compressed request messages are not supported; "
                      "disable request compression in the client");
            break;
        }
        /*
         * A large message is judged whole, so it must end up contiguous:
         * it is received into one buffer of its own (msg_append) that
         * becomes the single chain of c->msg, so the pullup in on_message
         * is free instead of a second full copy.
         */
        if (plen > 0 && (c->df.msg_len > CALL_CONTIG_MIN ? msg_append(c, piece, plen)
                                                         : evbuffer_add(c->msg, piece, plen)) != 0) {
            call_fail(c, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
            break;
        }
        if (ev == GRPC_DF_END) {
            if (msg_seal(c) != 0) {
                call_fail(c, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
                break;
            }
            on_message(c);
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

void
call_fe_end_stream(struct call *c)
{
    CHECK_MAGIC(c, CALL_MAGIC);
    c->fe_ended = true;
    if (c->state == CALL_ST_DONE || c->state == CALL_ST_HEADERS ||
        c->state == CALL_ST_AUTH_WAIT)
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
        route_and_attach(c, NULL, 0);
        return;
    }
    c->req_eos = true;
    resume_be(c);
}

void
call_fe_closed(struct call *c, uint32_t error_code)
{
    struct fe_conn *fe = c->fe;

    CHECK_MAGIC(c, CALL_MAGIC);
    if (fe == NULL)
        return;
    if (error_code != NGHTTP2_NO_ERROR && c->status < 0) {
        c->status = GRPC_CANCELLED;
        c->local = true;
        snprintf(c->reason, sizeof(c->reason), "client stream reset (HTTP/2 error %u)",
                 error_code);
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
        nghttp2_session_consume_connection(fe_io(fe)->sess, c->fe_unconsumed);
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
    TAILQ_REMOVE(c->fe_list, c, fe_link);
    c->fe = NULL;
    c->state = CALL_ST_DONE;
    fe_call_detached(fe);
    call_maybe_free(c);
}

void
call_fe_abort_all(struct call_list *list)
{
    struct call *c;

    while ((c = TAILQ_FIRST(list)) != NULL)
        call_fe_closed(c, NGHTTP2_CANCEL);
}

ssize_t
call_fe_read(struct call *c, size_t length, uint32_t *flags)
{
    size_t avail, n;

    CHECK_MAGIC(c, CALL_MAGIC);
    avail = evbuffer_get_length(c->resp);
    n = length < avail ? length : avail;
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (n == avail && c->resp_eos) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (c->trl.n > 0 && c->fe != NULL) {
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            if (nghttp2_submit_trailer(fe_io(c->fe)->sess, c->fe_sid, c->trl.nv, c->trl.n) != 0)
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
        return (ssize_t)n;
    }
    if (n == 0)
        return NGHTTP2_ERR_DEFERRED;
    return (ssize_t)n;
}

int
call_fe_send_data(struct call *c, const uint8_t *framehd, size_t length)
{
    int rv;

    CHECK_MAGIC(c, CALL_MAGIC);
    rv = h2io_write_data(fe_io(c->fe), framehd, c->resp, length);
    if (rv == 0) {
        c->fe_tx_ms = util_now_ms();
        c->bytes_out += length;
        credit_be(c);
    }
    return rv;
}

/* ---- backend side ---------------------------------------------------------- */

/* Appends one field to |nv| (pointers are borrowed: nghttp2 copies on submit). */
static void
nv_put(nghttp2_nv *nv, size_t *n, const char *name, const char *value, size_t vlen,
       uint8_t flags)
{
    nv[*n].name = (uint8_t *)(uintptr_t)name;
    nv[*n].namelen = strlen(name);
    nv[*n].value = (uint8_t *)(uintptr_t)value;
    nv[*n].valuelen = vlen;
    nv[*n].flags = flags;
    (*n)++;
}

#define CALL_NV_STACK 64 /* header fields submitted without a heap array */

void
call_be_ready(struct call *c)
{
    const struct cfg_backend *b = &c->cfg->backends[c->backend_idx];
    nghttp2_nv stack[CALL_NV_STACK], *nv = stack;
    const char *authority = b->authority != NULL ? b->authority : b->address;
    size_t n = 0, cap = c->fwd.n + 9;
    int32_t sid;

    CHECK_MAGIC(c, CALL_MAGIC);
    if (c->state != CALL_ST_CONNECTING)
        return;
    /* nothing is copied here: nghttp2_submit_request copies the whole block */
    if (cap > CALL_NV_STACK && (nv = malloc(cap * sizeof(*nv))) == NULL) {
        call_fail(c, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
        return;
    }
    /* pseudo-headers first (RFC 9113 section 8.3), then te: trailers, then the client's */
    nv_put(nv, &n, ":method", "POST", 4, NGHTTP2_NV_FLAG_NONE);
    nv_put(nv, &n, ":scheme", b->tls ? "https" : "http", b->tls ? 5 : 4, NGHTTP2_NV_FLAG_NONE);
    nv_put(nv, &n, ":authority", authority, strlen(authority), NGHTTP2_NV_FLAG_NONE);
    nv_put(nv, &n, ":path", c->m->path, c->m->path_len, NGHTTP2_NV_FLAG_NONE);
    nv_put(nv, &n, "te", "trailers", 8, NGHTTP2_NV_FLAG_NONE);
    memcpy(nv + n, c->fwd.nv, c->fwd.n * sizeof(*nv));
    n += c->fwd.n;
    /* sparkgate's word on identity (clients cannot send x-sparkgate-*: stripped) */
    if (!c->cfg->auth.anonymous) {
        const char *via = auth_via_name(c->id.via);

        nv_put(nv, &n, "x-sparkgate-principal", c->id.principal, strlen(c->id.principal),
               NGHTTP2_NV_FLAG_NONE);
        nv_put(nv, &n, "x-sparkgate-auth", via, strlen(via), NGHTTP2_NV_FLAG_NONE);
        if (c->id.profile[0] != '\0')
            nv_put(nv, &n, "x-sparkgate-profile", c->id.profile, strlen(c->id.profile),
                   NGHTTP2_NV_FLAG_NONE);
    }
    /* Spark 4 pre-shared key: the backend accepts only sparkgate; never in
     * nghttp2's HPACK table (NO_INDEX), so it stays out of any dump */
    if (b->preshared_header != NULL)
        nv_put(nv, &n, "authorization", b->preshared_header, b->preshared_header_len,
               NGHTTP2_NV_FLAG_NO_INDEX);
    sid = be_submit_request(c->be, nv, n, c);
    if (nv != stack)
        free(nv);
    if (sid < 0) {
        call_fail(c, GRPC_UNAVAILABLE, "sparkgate: backend \"%s\" (%s) unavailable: %s", b->name,
                  b->address, nghttp2_strerror(sid));
        return;
    }
    c->be_sid = sid;
    c->state = CALL_ST_OPEN;
    be_kick(c->be);
}

void
call_be_failed(struct call *c, const char *reason)
{
    const struct cfg_backend *b = &c->cfg->backends[c->backend_idx];

    CHECK_MAGIC(c, CALL_MAGIC);
    c->be = NULL; /* be.c already removed us from its queue */
    call_fail(c, GRPC_UNAVAILABLE, "sparkgate: backend \"%s\" (%s) unavailable: %s", b->name,
              b->address, reason);
    call_maybe_free(c);
}

int
call_be_header(struct call *c, bool trailer, const uint8_t *name, size_t nlen,
               const uint8_t *value, size_t vlen)
{
    struct call_hdrs *h = trailer ? &c->trl : &c->rhdr;

    CHECK_MAGIC(c, CALL_MAGIC);
    if (c->state == CALL_ST_DONE)
        return 0;
    /* security-notes H19: the backend is a peer too; bound what we keep */
    if (h->bytes + nlen + vlen + 32 > c->cfg->limits.max_header_list_size ||
        h->n + 1 > c->cfg->limits.max_header_count)
        return -1;
    if (is_hop_by_hop(name, nlen))
        return 0;
    if (name_is(name, nlen, "grpc-status")) {
        char v[8];
        size_t n = vlen < sizeof(v) - 1 ? vlen : sizeof(v) - 1;

        memcpy(v, value, n);
        v[n] = '\0';
        c->status = atoi(v);
    }
    return hdrs_add(h, name, nlen, value, vlen) == 0 ? 0 : -1;
}

void
call_be_headers_done(struct call *c, bool trailer, bool end_stream)
{
    CHECK_MAGIC(c, CALL_MAGIC);
    if (c->state == CALL_ST_DONE || c->fe == NULL)
        return;
    if (!trailer) {
        if (c->resp_started)
            return; /* a second HEADERS block (1xx) is not gRPC; ignore */
        if (fe_submit_response(c->fe, c->fe_sid, c->rhdr.nv, c->rhdr.n, !end_stream) != 0) {
            call_fail(c, GRPC_INTERNAL, "sparkgate: cannot relay response headers");
            return;
        }
        c->resp_started = true;
        if (end_stream)
            c->resp_eos = true; /* trailers-only: the HEADERS carried the status */
        fe_kick(c->fe);
        return;
    }
    if (c->redact && !grpc_deframer_at_boundary(&c->rdf)) {
        /* never pass on part of a message we could not read whole */
        call_fail(c, GRPC_INTERNAL, "sparkgate: backend ended inside a Config response message");
        return;
    }
    c->resp_eos = true;
    resume_fe(c);
}

/*
 * Collects Config response messages and queues them for the client with
 * every configured secret redacted.  0, or -1 after failing the call.
 */
static int
config_response_data(struct call *c, const uint8_t *data, size_t len)
{
    const struct cfg *cfg = c->cfg;
    struct redact_secret secrets[CFG_MAX_BACKENDS];
    struct redact_rules rules;
    enum grpc_df_event ev;
    const uint8_t *piece, *body;
    uint8_t *out = NULL, hdr[GRPC_HDR_LEN];
    size_t off = 0, plen, blen, outlen = 0, i, ns = 0;
    ssize_t r;
    int n;

    while (off < len) {
        r = grpc_deframer_feed(&c->rdf, data + off, len - off, &ev, &piece, &plen);
        if (r < 0) {
            call_fail(c, GRPC_INTERNAL, "sparkgate: backend sent an invalid or oversized "
                                        "Config response message");
            return -1;
        }
        off += (size_t)r;
        if (ev == GRPC_DF_NONE)
            continue;
        if (c->rdf.flags != 0) {
            call_fail(c, GRPC_INTERNAL, "sparkgate: backend compressed a Config response, "
                                        "which sparkgate must read to redact secrets");
            return -1;
        }
        if (plen > 0 && evbuffer_add(c->rmsg, piece, plen) != 0)
            goto nomem;
        if (ev != GRPC_DF_END)
            continue;
        blen = evbuffer_get_length(c->rmsg);
        body = blen > 0 ? evbuffer_pullup(c->rmsg, -1) : (const uint8_t *)"";
        if (body == NULL)
            goto nomem;
        for (i = 0; i < cfg->nbackends; i++) {
            if (cfg->backends[i].preshared_token != NULL) {
                secrets[ns].p = (const uint8_t *)cfg->backends[i].preshared_token;
                secrets[ns++].len = cfg->backends[i].preshared_token_len;
            }
        }
        rules.keys = &cfg->redact_keys;
        rules.secrets = secrets;
        rules.nsecrets = ns;
        rules.prefix = c->cfg_prefix;
        rules.prefix_len = c->cfg_prefix_len;
        n = redact_config_response(body, blen, &rules, &out, &outlen);
        if (n == SG_ERR_NOMEM)
            goto nomem;
        if (n < 0) {
            call_fail(c, GRPC_INTERNAL, "sparkgate: backend sent a Config response that is "
                                        "not valid protobuf");
            return -1;
        }
        if (n > 0)
            log_info("conn=%" PRIu64 " stream=%d: redacted %d value(s) in a Config response "
                     "for %s", c->fe != NULL ? fe_conn_id(c->fe) : 0, c->fe_sid, n,
                     c->authed ? c->id.principal : "-");
        grpc_frame_header(hdr, false, (uint32_t)(n > 0 ? outlen : blen));
        if (evbuffer_add(c->resp, hdr, sizeof(hdr)) != 0 ||
            (n > 0 ? evbuffer_add(c->resp, out, outlen) : evbuffer_add_buffer(c->resp, c->rmsg)) != 0) {
            free(out);
            goto nomem;
        }
        free(out);
        out = NULL;
        evbuffer_drain(c->rmsg, evbuffer_get_length(c->rmsg));
    }
    return 0;
nomem:
    call_fail(c, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
    return -1;
}

void
call_be_data(struct call *c, const uint8_t *data, size_t len)
{
    CHECK_MAGIC(c, CALL_MAGIC);
    if (c->fe == NULL || c->state == CALL_ST_DONE || !c->resp_started) {
        /* nobody to deliver to: give the credit straight back */
        nghttp2_session_consume(be_io(c->be)->sess, c->be_sid, len);
        return;
    }
    if (c->redact) {
        if (evbuffer_get_length(c->resp) == 0)
            c->fe_tx_ms = util_now_ms();
        /* bounded by the deframer's limit; the bytes are consumed from the backend now */
        if (config_response_data(c, data, len) != 0) {
            nghttp2_session_consume(be_io(c->be)->sess, c->be_sid, len);
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

void
call_be_end_stream(struct call *c)
{
    CHECK_MAGIC(c, CALL_MAGIC);
    if (c->state == CALL_ST_DONE)
        return;
    if (c->redact && !grpc_deframer_at_boundary(&c->rdf)) {
        call_fail(c, GRPC_INTERNAL, "sparkgate: backend ended inside a Config response message");
        return;
    }
    c->resp_eos = true;
    resume_fe(c);
}

void
call_be_closed(struct call *c, uint32_t error_code)
{
    const struct cfg_backend *b = &c->cfg->backends[c->backend_idx];
    struct be_conn *be = c->be;

    CHECK_MAGIC(c, CALL_MAGIC);
    if (be == NULL)
        return;
    c->be_closed = true;
    /* the stream is over: its bytes must not hold the connection window hostage */
    if (c->be_unconsumed > 0)
        nghttp2_session_consume_connection(be_io(be)->sess, c->be_unconsumed);
    c->be_unconsumed = 0;
    if (!c->resp_eos && c->state != CALL_ST_DONE) {
        if (error_code == NGHTTP2_REFUSED_STREAM && !c->resp_started)
            call_fail(c, GRPC_UNAVAILABLE, "sparkgate: backend \"%s\" (%s) refused the stream",
                      b->name, b->address);
        else
            call_fail(c, GRPC_UNAVAILABLE,
                      "sparkgate: backend \"%s\" (%s) reset the stream (HTTP/2 error %u)",
                      b->name, b->address, error_code);
    }
    be_detach(be, c);
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

void
call_be_abort_all(struct call_list *list, const char *reason)
{
    const struct cfg_backend *b;
    struct call *c;

    /* nghttp2_session_del reports no stream closes: every call is told here */
    while ((c = TAILQ_FIRST(list)) != NULL) {
        TAILQ_REMOVE(list, c, be_link);
        if (c->be_sid == 0) {
            call_be_failed(c, reason);
            continue;
        }
        c->be_closed = true;
        c->be = NULL;
        c->be_unconsumed = 0;
        if (!c->resp_eos && c->state != CALL_ST_DONE) {
            b = &c->cfg->backends[c->backend_idx];
            call_fail(c, GRPC_UNAVAILABLE, "sparkgate: backend \"%s\" (%s) connection lost: %s",
                      b->name, b->address, reason);
        }
        if (c->state == CALL_ST_DONE)
            drop_req(c);
        call_maybe_free(c);
    }
}

ssize_t
call_be_read(struct call *c, size_t length, uint32_t *flags)
{
    size_t avail, n;

    CHECK_MAGIC(c, CALL_MAGIC);
    avail = evbuffer_get_length(c->req);
    n = length < avail ? length : avail;
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (n == avail && c->req_eos) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        c->req_sized = n;
        return (ssize_t)n;
    }
    if (n == 0)
        return NGHTTP2_ERR_DEFERRED;
    /* nghttp2 will ask call_be_send_data for exactly these, maybe later */
    c->req_sized = n;
    return (ssize_t)n;
}

int
call_be_send_data(struct call *c, const uint8_t *framehd, size_t length)
{
    int rv;

    CHECK_MAGIC(c, CALL_MAGIC);
    rv = h2io_write_data(be_io(c->be), framehd, c->req, length);
    if (rv == 0) {
        c->req_sized = 0;
        if (c->state == CALL_ST_DONE)
            drop_req(c); /* refused while the frame waited: the rest goes nowhere */
        budget_sync(c);
        credit_fe(c);
    }
    return rv;
}
