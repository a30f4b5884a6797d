/*
 * fe.c: client connections (nghttp2 server sessions).
 *
 * An fe_conn is one accepted socket: TLS (handshake under a deadline; ALPN
 * already forced to h2 by tls.c) or h2c, then an nghttp2 server session with
 * our SETTINGS (bounded streams, windows and header list; RFC 7540
 * priorities off).  Streams get owners (calls, made by the open function
 * given at accept) that hear of them through their h2_stream_ops; fe.c
 * translates nghttp2 callbacks into those and keeps the connection's timers:
 *   - TLS handshake: timeouts.tls_handshake_ms from accept;
 *   - first request: timeouts.request_header_ms from accept until a request
 *     is authenticated; calls in progress do not stop it (a refused or
 *     never-finished request is no reason to keep a connection);
 *   - header block: timeouts.request_header_ms from a HEADERS frame to the
 *     last byte of the frame that ends its block (every stream, every
 *     block, as the bytes arrive: h2scan.c);
 *   - idle: timeouts.idle_ms without any open call -> GOAWAY, close;
 *   - output: timeouts.stall_ms with bytes for the client waiting and not
 *     one taken by the socket -> close (a client that stops reading would
 *     otherwise keep every GOAWAY above, and its slot, forever);
 *   - GOAWAY of a terminated connection not flushed within stall_ms -> close.
 * Every state in which a connection holds a slot without progress is under
 * one of these, or under a call's own stall timer (call.c).
 * Any negative return from nghttp2_session_mem_recv is fatal: we stop
 * reading and close, and never feed that session again (CVE-2026-27135).
 *
 * Ownership: a pool (one per worker) owns its fe_conns; an fe_conn owns its
 * h2io and timer; its streams are owned by their calls and listed here until
 * the call detaches (fe_stream_detached).
 */
#include "config.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "cfg.h"
#include "fe.h"
#include "h2conn.h"
#include "h2io.h"
#include "h2scan.h"
#include "log.h"
#include "sg_err.h"
#include "util.h"

#define FE_MAGIC 0x46454331u   /* "FEC1" */
#define FE_WU_PER_DATA 2.0     /* free WINDOW_UPDATEs per DATA frame sent (see glitch) */
#define FE_WU_ALLOW_MAX 4096.0 /* ... banked at most */

enum fe_state {
    FE_HANDSHAKE, /* TLS handshake in progress */
    FE_OPEN,      /* serving */
    FE_DRAINING,  /* GOAWAY sent: in-flight calls finish */
};

struct fe_conn {
    uint32_t magic;
    struct fe_pool *pool;
    uint64_t id;
    struct h2io io;
    enum fe_state state;
    bool tls;
    bool got_request;  /* a request was authenticated (fe_call_authenticated) */
    bool final_goaway; /* the GOAWAY with the real last stream id went out */
    char peer[64];
    double glitch_tokens; /* token bucket for frames that cost us and serve nobody */
    uint64_t glitch_at_ms;
    bool calmed;             /* GOAWAY(ENHANCE_YOUR_CALM) sent */
    bool terminated;         /* fe_terminate: close when flushed, or at the timer */
    double wu_allow;         /* WINDOW_UPDATEs earned by DATA frames we sent */
    struct event *hdr_timer; /* a header block is incomplete */
    struct h2scan scan;      /* header block boundaries in what the client sent */
    uint64_t req_buffered;   /* request bytes its calls buffer (call.c accounts) */
    fe_open_fn open;         /* makes a stream's owner */
    struct h2_stream_list streams;
    size_t ncalls;
    struct event *timer;
    struct event *out_timer; /* every stall_ms: did the socket take output? */
    uint64_t out_seen;       /* io.nwritten at the last tick */
    bool out_waiting;        /* output was waiting at the last tick */
    /* from the snapshot at accept: the connection keeps its SETTINGS */
    uint32_t idle_ms;
    uint32_t stall_ms;
    uint32_t auth_stream_window; /* a stream's window once its call is authenticated */
    uint32_t nauth_waiting;      /* calls waiting for signing keys (call.c) */
    uint32_t request_header_ms;
    TAILQ_ENTRY(fe_conn) link;
};

struct fe_pool {
    TAILQ_HEAD(, fe_conn) conns;
    size_t n;
    struct event_base *base;
    struct cfg *const *cfg; /* the current snapshot, for new connections and streams */
    fe_open_fn open;
    void *open_arg;
    void (*closed)(void *arg);
    void *closed_arg;
};

static uint64_t fe_next_id;

static void fe_close_now(struct fe_conn *c, const char *why);
static void fe_terminate(struct fe_conn *c, uint32_t code);
static void maybe_final_goaway(struct fe_conn *c);

void
fe_kick(struct fe_conn *c)
{
    h2io_kick(&c->io);
}

uint64_t
fe_conn_id(const struct fe_conn *c)
{
    return c->id;
}

const char *
fe_peer(const struct fe_conn *c)
{
    return c->peer;
}

bool
fe_is_tls(const struct fe_conn *c)
{
    return c->tls;
}

static void
arm_timer(struct fe_conn *c, uint32_t ms)
{
    h2conn_timer_arm(c->timer, ms);
}

void
fe_stream_detached(struct fe_conn *c, struct h2_stream *st)
{
    CHECK_MAGIC(c, FE_MAGIC);
    TAILQ_REMOVE(&c->streams, st, link);
    st->io = NULL;
    c->ncalls--;
    /* before any authenticated request the first-request timer keeps running */
    if (c->ncalls == 0 && c->state == FE_OPEN && c->got_request)
        arm_timer(c, c->idle_ms);
    if (c->state == FE_DRAINING) {
        maybe_final_goaway(c);
        h2io_kick(&c->io); /* maybe the last call: flush and close */
    }
}

void
fe_auth_open_window(struct fe_conn *c, int32_t sid)
{
    CHECK_MAGIC(c, FE_MAGIC);
    if (c->io.sess == NULL || c->auth_stream_window == 0)
        return;
    /* an absolute size: nghttp2 sends the difference as WINDOW_UPDATE */
    if (nghttp2_session_set_local_window_size(c->io.sess, NGHTTP2_FLAG_NONE, sid,
                                              (int32_t)c->auth_stream_window) == 0)
        h2io_kick(&c->io);
}

uint32_t
fe_auth_waiting(struct fe_conn *c, int delta)
{
    CHECK_MAGIC(c, FE_MAGIC);
    c->nauth_waiting = (uint32_t)((int64_t)c->nauth_waiting + delta);
    return c->nauth_waiting;
}

void
fe_abort(struct fe_conn *c, const char *why)
{
    CHECK_MAGIC(c, FE_MAGIC);
    log_info("conn=%" PRIu64 " peer=%s: %s: closing", c->id, c->peer, why);
    fe_close_now(c, why);
}

void
fe_call_authenticated(struct fe_conn *c)
{
    CHECK_MAGIC(c, FE_MAGIC);
    if (c->got_request)
        return;
    /* the first-request timer is done; the idle timer takes over when calls end */
    c->got_request = true;
    if (c->state == FE_OPEN)
        evtimer_del(c->timer);
}

uint64_t *
fe_req_buffered(struct fe_conn *c)
{
    CHECK_MAGIC(c, FE_MAGIC);
    return &c->req_buffered;
}

struct fe_pool *
fe_pool_new(struct event_base *base, struct cfg *const *cfg, fe_open_fn open_fn, void *open_arg,
            void (*closed)(void *arg), void *closed_arg)
{
    struct fe_pool *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    TAILQ_INIT(&p->conns);
    p->base = base;
    p->cfg = cfg;
    p->open = open_fn;
    p->open_arg = open_arg;
    p->closed = closed;
    p->closed_arg = closed_arg;
    return p;
}

void
fe_pool_destroy(struct fe_pool *p)
{
    free(p);
}

size_t
fe_pool_count(const struct fe_pool *p)
{
    return p->n;
}

struct h2_stream_list *
fe_streams(struct fe_conn *c)
{
    CHECK_MAGIC(c, FE_MAGIC);
    return &c->streams;
}

SSL *
fe_ssl(struct fe_conn *c)
{
    CHECK_MAGIC(c, FE_MAGIC);
    return c->io.ssl;
}

/* ---- stream verbs ---------------------------------------------------------- */

int
fe_submit_response(struct fe_conn *c, int32_t sid, const h2_nv *nv, size_t nvlen,
                   struct h2_stream *body)
{
    CHECK_MAGIC(c, FE_MAGIC);
    return h2conn_submit(&c->io, sid, nv, nvlen, body, NULL) < 0 ? SG_ERR_INTERNAL : 0;
}

int
fe_submit_trailers(struct fe_conn *c, int32_t sid, const h2_nv *nv, size_t nvlen)
{
    CHECK_MAGIC(c, FE_MAGIC);
    return h2conn_submit_trailers(&c->io, sid, nv, nvlen);
}

/* ---- nghttp2 callbacks (server session; user data: the h2io) -------------- */

static int
on_send_data(nghttp2_session *s, nghttp2_frame *frame, const uint8_t *framehd, size_t length,
             nghttp2_data_source *src, void *arg)
{
    struct fe_conn *c = h2conn_owner(arg);

    if (h2conn_stream(&c->io, frame->hd.stream_id) == NULL)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    c->wu_allow += FE_WU_PER_DATA;
    if (c->wu_allow > FE_WU_ALLOW_MAX)
        c->wu_allow = FE_WU_ALLOW_MAX;
    return h2conn_send_data(s, frame, framehd, length, src, arg);
}

static int
on_begin_headers(nghttp2_session *s, const nghttp2_frame *frame, void *arg)
{
    struct fe_conn *c = h2conn_owner(arg);
    struct h2_stream *st;

    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    st = c->open(c->pool->open_arg, c, frame->hd.stream_id, *c->pool->cfg);
    if (st == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    st->sid = frame->hd.stream_id;
    st->io = &c->io;
    TAILQ_INSERT_TAIL(&c->streams, st, link);
    nghttp2_session_set_stream_user_data(s, frame->hd.stream_id, st);
    c->ncalls++;
    /* the idle timer stops while a call is open; the first-request timer
     * runs on until a request is authenticated (fe_call_authenticated), the
     * close deadline of a terminated connection always */
    if (c->got_request && !c->terminated)
        evtimer_del(c->timer);
    return 0;
}

static int
on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
          const uint8_t *value, size_t valuelen, uint8_t flags, void *arg)
{
    struct h2_stream *st;

    (void)flags;
    (void)arg;
    /* request trailers never carry anything we act on or forward (docs/security.md I06) */
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    st = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
    if (st == NULL)
        return 0;
    if (st->ops->on_header(st, false, name, namelen, value, valuelen) != 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return 0;
}

/*
 * Frames that cost work and carry nothing for a call - PING, SETTINGS,
 * PRIORITY, empty DATA without END_STREAM, RST_STREAM, and frames nghttp2
 * found invalid - draw from a per-connection token bucket (burst
 * FE_GLITCH_BURST, refilled FE_GLITCH_RATE per second).  Empty, the
 * connection gets GOAWAY(ENHANCE_YOUR_CALM): nghttp2 1.52 limits rapid
 * resets and SETTINGS/PING ACK queues but not these floods
 * (docs/security.md H02, H07, H08, H13).  Legitimate gRPC clients send a
 * few keepalive and BDP pings a second.
 *
 * WINDOW_UPDATE is counted too, but a client that reads what we send
 * answers our DATA with updates (one for the stream, one for the
 * connection, per frame or less often): each DATA frame sent earns
 * FE_WU_PER_DATA free updates, up to FE_WU_ALLOW_MAX banked.  Only updates beyond that
 * draw from the bucket, so a download of any size is never cut while a
 * stream of updates nobody asked for is.
 */
#define FE_GLITCH_BURST 1000.0
#define FE_GLITCH_RATE 200.0

static void
glitch(struct fe_conn *c, nghttp2_session *s, double cost)
{
    uint64_t now = util_now_ms();

    if (c->glitch_at_ms == 0) {
        c->glitch_tokens = FE_GLITCH_BURST;
    } else {
        c->glitch_tokens += (double)(now - c->glitch_at_ms) * FE_GLITCH_RATE / 1000.0;
        if (c->glitch_tokens > FE_GLITCH_BURST)
            c->glitch_tokens = FE_GLITCH_BURST;
    }
    c->glitch_at_ms = now;
    c->glitch_tokens -= cost;
    (void)s;
    if (c->glitch_tokens < 0 && !c->calmed) {
        c->calmed = true;
        log_info("conn=%" PRIu64 " peer=%s: too many control or empty frames: GOAWAY", c->id,
                 c->peer);
        fe_terminate(c, NGHTTP2_ENHANCE_YOUR_CALM);
    }
}

/*
 * h2io: bytes from the client, before nghttp2 sees them.  A header block
 * (HEADERS + CONTINUATIONs, requests and trailers alike) must be whole
 * within request_header_ms of its first frame header, up to the last byte
 * of the frame carrying END_HEADERS.  Until it is, RFC 9113 section 6.10
 * allows no other frame on the connection, so a stalled block stalls every
 * call on it: the timer closes the connection.  Kept from the wire, not
 * from nghttp2's callbacks, so blocks nghttp2 ignores (refused or closed
 * streams) and a last frame dribbled byte by byte are covered alike.
 */
static void
on_io_input(void *arg, const uint8_t *data, size_t n)
{
    struct fe_conn *c = arg;
    uint64_t blocks = c->scan.blocks;
    struct timeval tv;

    CHECK_MAGIC(c, FE_MAGIC);
    h2scan_feed(&c->scan, data, n);
    if (!c->scan.in_block) {
        evtimer_del(c->hdr_timer);
        return;
    }
    if (c->scan.blocks == blocks)
        return; /* the same block goes on: its timer runs */
    tv.tv_sec = (time_t)(c->request_header_ms / 1000u);
    tv.tv_usec = (suseconds_t)((c->request_header_ms % 1000u) * 1000u);
    evtimer_add(c->hdr_timer, &tv);
}

/*
 * Counted at the frame header: with SETTINGS_NO_RFC7540_PRIORITIES nghttp2
 * never reports PRIORITY frames to on_frame_recv, but every frame begins.
 */
static int
on_begin_frame(nghttp2_session *s, const nghttp2_frame_hd *hd, void *arg)
{
    struct fe_conn *c = h2conn_owner(arg);

    switch (hd->type) {
    case NGHTTP2_PING:
    case NGHTTP2_SETTINGS:
        if (!(hd->flags & NGHTTP2_FLAG_ACK))
            glitch(c, s, 1.0);
        break;
    case NGHTTP2_PRIORITY:
    case NGHTTP2_RST_STREAM:
        glitch(c, s, 1.0);
        break;
    case NGHTTP2_DATA:
        if (hd->length == 0 && !(hd->flags & NGHTTP2_FLAG_END_STREAM))
            glitch(c, s, 1.0);
        break;
    case NGHTTP2_WINDOW_UPDATE:
        if (c->wu_allow >= 1.0)
            c->wu_allow -= 1.0;
        else
            glitch(c, s, 1.0);
        break;
    default:
        break;
    }
    return 0;
}

static int
on_invalid_frame(nghttp2_session *s, const nghttp2_frame *frame, int err, void *arg)
{
    (void)frame;
    (void)err;
    glitch(h2conn_owner(arg), s, 10.0);
    return 0;
}

static int
on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *arg)
{
    struct h2_stream *st;
    bool eos = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;

    (void)arg;
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    st = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
    if (st == NULL)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
        st->ops->on_headers_done(st, false, eos);
    if (eos)
        st->ops->on_end_stream(st);
    return 0;
}

/* ---- connection ---------------------------------------------------------- */

static int
start_h2(struct fe_conn *c)
{
    static const struct h2conn_cbs cbs = {
        .begin_headers = on_begin_headers,
        .header = on_header,
        .frame_recv = on_frame_recv,
        .invalid_frame = on_invalid_frame,
        .begin_frame = on_begin_frame,
        .send_data = on_send_data,
    };
    const struct cfg_limits *lim = &(*c->pool->cfg)->limits;
    nghttp2_settings_entry iv[4];

    iv[0].settings_id = NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS;
    iv[0].value = lim->max_concurrent_streams;
    /*
     * Small until authenticated: a stream whose call waits for signing keys
     * (or is refused) holds at most this much of the client's body; the
     * connection window stays large, bounded in practice by
     * max_auth_waiting_per_connection x this window.
     */
    iv[1].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
    iv[1].value = lim->unauthenticated_stream_window_size < lim->stream_window_size
                      ? lim->unauthenticated_stream_window_size
                      : lim->stream_window_size;
    c->auth_stream_window = lim->stream_window_size > iv[1].value ? lim->stream_window_size : 0;
    iv[2].settings_id = NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE;
    iv[2].value = lim->max_header_list_size;
    /* RFC 9218: priority signals carry no weight here (docs/security.md H13) */
    iv[3].settings_id = NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES;
    iv[3].value = 1;
    return h2conn_session_new(&c->io, true, &cbs, iv, 4, lim->connection_window_size);
}

/* No call left on a draining connection: the final GOAWAY can go now. */
static void
maybe_final_goaway(struct fe_conn *c)
{
    if (c->state != FE_DRAINING || c->final_goaway || c->ncalls > 0 || c->io.sess == NULL)
        return;
    nghttp2_submit_goaway(c->io.sess, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(c->io.sess), NGHTTP2_NO_ERROR,
                          NULL, 0);
    c->final_goaway = true;
}

/* h2io: transport up (after the TLS handshake, or at once for h2c). */
static int
on_io_ready(void *arg)
{
    struct fe_conn *c = arg;

    CHECK_MAGIC(c, FE_MAGIC);
    /* tls.c refuses other protocols in the handshake; check anyway */
    if (c->tls && !h2conn_alpn_ok(c->io.ssl, false))
        return -1;
    if (start_h2(c) != 0)
        return -1;
    c->state = FE_OPEN;
    evtimer_del(c->timer);
    arm_timer(c, (*c->pool->cfg)->timeouts.request_header_ms);
    return 0;
}

/* h2io: the connection is over. */
static void
on_io_close(void *arg, const char *why, bool error)
{
    struct fe_conn *c = arg;

    CHECK_MAGIC(c, FE_MAGIC);
    (void)error;
    fe_close_now(c, why);
}

static const struct h2io_ops fe_io_ops = {
    .on_ready = on_io_ready,
    .on_close = on_io_close,
    .on_input = on_io_input,
};

/*
 * GOAWAY(|code|) at once, no more reading; closes when flushed (calls are
 * cut), or stall_ms later whatever is left: a client that reads slowly
 * must not keep a connection we want gone.
 */
static void
fe_terminate(struct fe_conn *c, uint32_t code)
{
    if (c->io.sess == NULL) {
        fe_close_now(c, "timeout");
        return;
    }
    if (c->terminated)
        return;
    nghttp2_session_terminate_session(c->io.sess, code);
    c->state = FE_DRAINING;
    c->final_goaway = true;
    c->terminated = true;
    arm_timer(c, c->stall_ms);
    h2io_kick(&c->io);
}

/*
 * Every stall_ms: output that waited at the last tick still waits and the
 * socket took no byte since -> the client does not read; close.  Between
 * one and two periods of no progress; a slow reader that takes a byte now
 * and then is bounded by the call timers and fe_terminate's deadline.
 */
static void
on_out_timer(evutil_socket_t fd, short what, void *arg)
{
    struct fe_conn *c = arg;
    bool waiting;

    (void)fd;
    (void)what;
    CHECK_MAGIC(c, FE_MAGIC);
    waiting = h2io_outlen(&c->io) > 0 ||
              (c->io.sess != NULL && nghttp2_session_want_write(c->io.sess));
    if (waiting && c->out_waiting && c->io.nwritten == c->out_seen) {
        log_info("conn=%" PRIu64 " peer=%s: the client read nothing for timeouts.stall_ms "
                 "(%" PRIu32 " ms) with output waiting: closing",
                 c->id, c->peer, c->stall_ms);
        fe_close_now(c, "client not reading");
        return;
    }
    c->out_waiting = waiting;
    c->out_seen = c->io.nwritten;
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct fe_conn *c = arg;

    (void)fd;
    (void)what;
    CHECK_MAGIC(c, FE_MAGIC);
    if (c->state == FE_HANDSHAKE) {
        fe_close_now(c, "TLS handshake timeout");
        return;
    }
    if (c->terminated) {
        log_info("conn=%" PRIu64 " peer=%s: GOAWAY not flushed within timeouts.stall_ms: closing",
                 c->id, c->peer);
        fe_close_now(c, "GOAWAY not flushed");
        return;
    }
    /* serving: the idle timer starts again when the last call ends */
    if (c->got_request && c->ncalls > 0)
        return;
    /* no request in time (calls in progress or not: none was authenticated),
     * or idle: say goodbye properly, then close when flushed */
    log_debug("conn=%" PRIu64 " peer=%s: %s", c->id, c->peer,
              c->got_request ? "idle timeout" : "no authenticated request in time");
    fe_terminate(c, NGHTTP2_NO_ERROR);
}

static void
on_hdr_timer(evutil_socket_t fd, short what, void *arg)
{
    struct fe_conn *c = arg;

    (void)fd;
    (void)what;
    CHECK_MAGIC(c, FE_MAGIC);
    log_info("conn=%" PRIu64 " peer=%s: request header block not complete within "
             "timeouts.request_header_ms (%" PRIu32 " ms): closing",
             c->id, c->peer, c->request_header_ms);
    fe_terminate(c, NGHTTP2_PROTOCOL_ERROR);
}

void
fe_accept(struct fe_pool *p, evutil_socket_t fd, const struct sockaddr *sa, int salen, size_t lidx)
{
    const struct cfg *cfg = *p->cfg;
    const struct cfg_listener *l = &cfg->listeners[lidx];
    struct fe_conn *c = NULL;
    SSL *ssl = NULL;
    int one = 1;

    (void)salen;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    evutil_make_socket_nonblocking(fd);
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        goto fail;
    c->magic = FE_MAGIC;
    c->pool = p;
    c->open = p->open;
    c->id = __atomic_add_fetch(&fe_next_id, 1, __ATOMIC_RELAXED);
    c->tls = l->tls;
    c->idle_ms = cfg->timeouts.idle_ms;
    c->request_header_ms = cfg->timeouts.request_header_ms;
    c->stall_ms = cfg->timeouts.stall_ms;
    c->state = l->tls ? FE_HANDSHAKE : FE_OPEN;
    TAILQ_INIT(&c->streams);
    h2scan_init(&c->scan);
    util_sockaddr_str(sa, c->peer, sizeof(c->peer));
    c->timer = evtimer_new(p->base, on_timer, c);
    c->hdr_timer = evtimer_new(p->base, on_hdr_timer, c);
    c->out_timer = event_new(p->base, -1, EV_PERSIST, on_out_timer, c);
    if (c->timer == NULL || c->hdr_timer == NULL || c->out_timer == NULL)
        goto fail;
    if (l->tls) {
        ssl = SSL_new(l->ssl_ctx);
        if (ssl == NULL)
            goto fail;
        SSL_set_accept_state(ssl);
    }
    /* from here the io owns fd and ssl, also on failure */
    if (h2io_init(&c->io, p->base, fd, ssl, false, &fe_io_ops, c) != 0) {
        fd = -1;
        goto fail_io;
    }
    fd = -1;
    TAILQ_INSERT_TAIL(&p->conns, c, link);
    p->n++;
    arm_timer(c, l->tls ? cfg->timeouts.tls_handshake_ms : cfg->timeouts.request_header_ms);
    {
        struct timeval tv = {.tv_sec = (time_t)(c->stall_ms / 1000u),
                             .tv_usec = (suseconds_t)((c->stall_ms % 1000u) * 1000u)};

        evtimer_add(c->out_timer, &tv);
    }
    /* for h2c this runs on_io_ready (which may refuse) before returning */
    h2io_start(&c->io);
    return;
fail_io:
    h2io_free(&c->io);
fail:
    log_warn("cannot set up connection: out of memory");
    if (fd >= 0)
        evutil_closesocket(fd);
    if (c != NULL) {
        if (c->timer != NULL)
            event_free(c->timer);
        if (c->hdr_timer != NULL)
            event_free(c->hdr_timer);
        if (c->out_timer != NULL)
            event_free(c->out_timer);
        free(c);
    }
    p->closed(p->closed_arg); /* the connection the worker counted is gone */
}

static void
fe_conn_drain(struct fe_conn *c)
{
    CHECK_MAGIC(c, FE_MAGIC);
    if (c->state == FE_HANDSHAKE) {
        fe_close_now(c, "draining");
        return;
    }
    if (c->state == FE_OPEN) {
        /* h2o style: a first GOAWAY (last id 2^31-1) announces the shutdown ... */
        nghttp2_submit_shutdown_notice(c->io.sess);
        c->state = FE_DRAINING;
        maybe_final_goaway(c);
    } else if (!c->final_goaway) {
        /* ... the second, a tick later, names the last stream we will serve */
        nghttp2_submit_goaway(c->io.sess, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(c->io.sess), NGHTTP2_NO_ERROR,
                              NULL, 0);
        c->final_goaway = true;
    }
    h2io_kick(&c->io);
}

static void
fe_close_now(struct fe_conn *c, const char *why)
{
    struct fe_pool *p = c->pool;
    struct h2_stream *st;

    CHECK_MAGIC(c, FE_MAGIC);
    log_debug("conn=%" PRIu64 " peer=%s closed: %s", c->id, c->peer, why);
    TAILQ_REMOVE(&p->conns, c, link);
    p->n--;
    /* every owner is told, and detaches (fe_stream_detached) before the next */
    while ((st = TAILQ_FIRST(&c->streams)) != NULL)
        st->ops->on_close(st, H2_RESET_CANCEL, NGHTTP2_CANCEL);
    h2io_free(&c->io);
    event_free(c->timer);
    event_free(c->hdr_timer);
    event_free(c->out_timer);
    c->magic = 0;
    free(c);
    p->closed(p->closed_arg);
}

void
fe_drain_all(struct fe_pool *p)
{
    struct fe_conn *c, *next;

    for (c = TAILQ_FIRST(&p->conns); c != NULL; c = next) {
        next = TAILQ_NEXT(c, link);
        fe_conn_drain(c);
    }
}

void
fe_close_all(struct fe_pool *p)
{
    struct fe_conn *c;

    while ((c = TAILQ_FIRST(&p->conns)) != NULL)
        fe_close_now(c, "closed by sparkgate");
}
