/*
 * be.c: connections to Spark Connect backends (nghttp2 client sessions)
 * and each worker's pool of them.
 *
 * A be_conn serves one backend entry of one cfg snapshot; calls started
 * under a newer snapshot get new connections, and connections of an old
 * snapshot close as soon as their last call ends.  Calls wait on the
 * connection while it connects (TCP, TLS with ALPN h2, SETTINGS), then open
 * their streams.  Every failure names the backend, and every waiting or
 * active stream's owner is told (ops->on_failed / ops->on_lost): a client
 * never hangs on a backend that is gone.
 *
 * Ownership: a pool (one per worker) owns its be_conns; a be_conn owns its
 * h2io, timer and cfg reference; streams (struct h2_stream, embedded in
 * their calls) are listed, not owned.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "be.h"
#include "cfg.h"
#include "h2conn.h"
#include "h2io.h"
#include "log.h"
#include "sg_err.h"
#include "tls.h"
#include "util.h"

#define BE_MAGIC 0x42454331u /* "BEC1" */
#define BE_NV_STACK 64       /* request header fields submitted without a heap array */

enum be_state {
    BE_RESOLVING,  /* name lookup pending (names only; literals skip it) */
    BE_CONNECTING, /* TCP connect and TLS handshake */
    BE_READY,      /* HTTP/2 session up */
};

struct be_conn {
    uint32_t magic;
    struct be_pool *pool;
    struct cfg *cfg; /* reference: the snapshot whose backend we serve */
    size_t idx;      /* index into cfg->backends */
    struct h2io io;
    enum be_state state;
    bool goaway;                   /* no new streams (GOAWAY received or retiring) */
    struct h2_stream_list waiting; /* attached, stream not yet submitted (sid 0) */
    struct h2_stream_list active;  /* stream submitted */
    size_t nwaiting, nactive;
    struct event *timer; /* resolve start, connect deadline, then idle close */
    struct evdns_getaddrinfo_request *dns_req; /* pending lookup */
    char why[200];                             /* why the lookup failed (reported from the timer) */
    TAILQ_ENTRY(be_conn) link;
};

struct be_pool {
    TAILQ_HEAD(, be_conn) conns;
    size_t n;
    struct event_base *base;
    struct evdns_base *dns;
    struct cfg *const *cfg; /* the loop's current snapshot */
    const bool *draining;   /* the loop is draining: idle connections close */
};

static void be_conn_free(struct be_conn *b, const char *reason);
static void dispatch_waiting(struct be_conn *b);

const struct cfg_backend *
be_backend(const struct be_conn *b)
{
    return &b->cfg->backends[b->idx];
}

void
be_kick(struct be_conn *b)
{
    h2io_kick(&b->io);
}

/* ---- nghttp2 callbacks (client session; user data: the h2io) -------------- */

static int
on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
          const uint8_t *value, size_t valuelen, uint8_t flags, void *arg)
{
    struct h2_stream *st;

    (void)flags;
    (void)arg;
    if (frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    st = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
    if (st == NULL)
        return 0;
    if (st->ops->on_header(st, frame->headers.cat == NGHTTP2_HCAT_HEADERS, name, namelen, value,
                           valuelen) != 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return 0;
}

static int
on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *arg)
{
    struct be_conn *b = h2conn_owner(arg);
    struct h2_stream *st;
    bool eos = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;

    switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
        st = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
        if (st != NULL)
            st->ops->on_headers_done(st, frame->headers.cat == NGHTTP2_HCAT_HEADERS, eos);
        break;
    case NGHTTP2_DATA:
        st = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
        if (st != NULL && eos)
            st->ops->on_end_stream(st);
        break;
    case NGHTTP2_GOAWAY:
        /* streams above last_stream_id are closed by nghttp2 with REFUSED_STREAM */
        b->goaway = true;
        log_info("backend \"%s\" sent GOAWAY (error %u)", be_backend(b)->name,
                 frame->goaway.error_code);
        break;
    default:
        break;
    }
    return 0;
}

/* ---- connection ---------------------------------------------------------- */

static bool
be_is_idle(const struct be_conn *b)
{
    return b->nactive == 0 && b->nwaiting == 0;
}

static void
arm_timer(struct be_conn *b, uint32_t ms)
{
    h2conn_timer_arm(b->timer, ms);
}

/*
 * Schedules the close of |b| if nothing uses it and it is retired (old
 * snapshot, GOAWAY, drain), else arms the idle timer.  Never frees here: we
 * may be inside one of |b|'s own nghttp2 callbacks.
 */
static void
maybe_retire(struct be_conn *b)
{
    if (!be_is_idle(b))
        return;
    if (b->goaway || b->cfg != *b->pool->cfg || *b->pool->draining)
        arm_timer(b, 0);
    else if (b->state == BE_READY)
        arm_timer(b, b->cfg->timeouts.idle_ms);
}

/* Builds the nghttp2 client session once the transport is up. */
static int
start_h2(struct be_conn *b)
{
    static const struct h2conn_cbs cbs = {
        .header = on_header,
        .frame_recv = on_frame_recv,
    };
    const struct cfg_limits *lim = &b->cfg->limits;
    nghttp2_settings_entry iv[3];

    iv[0].settings_id = NGHTTP2_SETTINGS_ENABLE_PUSH;
    iv[0].value = 0;
    iv[1].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
    iv[1].value = lim->backend_stream_window_size;
    iv[2].settings_id = NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE;
    iv[2].value = lim->max_header_list_size;
    return h2conn_session_new(&b->io, false, &cbs, iv, 3, lim->backend_connection_window_size);
}

/*
 * Opens the stream of |st|, first on b->waiting: the owner gives the
 * header block (ops->request_headers), the stream is submitted and moves to
 * b->active, and the owner learns its id (ops->on_open).  Returns 0, or an
 * SG_ERR_* with |why| once |st| has left the connection.
 */
static int
open_stream(struct be_conn *b, struct h2_stream *st, const char **why)
{
    h2_nv stack[BE_NV_STACK], *nv = stack;
    ssize_t n;
    int32_t sid;
    int rv;

    /* nothing is copied here: nghttp2_submit_request copies the whole block */
    n = st->ops->request_headers(st, nv, BE_NV_STACK);
    if (n > BE_NV_STACK) {
        if ((nv = malloc((size_t)n * sizeof(*nv))) == NULL) {
            *why = "out of memory";
            rv = SG_ERR_NOMEM;
            goto fail;
        }
        n = st->ops->request_headers(st, nv, (size_t)n);
    }
    if (n < 0) {
        *why = "stream could not be opened";
        rv = (int)n;
        goto fail;
    }
    sid = h2conn_submit(&b->io, 0, nv, (size_t)n, st, why);
    if (nv != stack)
        free(nv);
    nv = stack;
    if (sid < 0) {
        rv = SG_ERR_INTERNAL;
        goto fail;
    }
    TAILQ_REMOVE(&b->waiting, st, link);
    b->nwaiting--;
    TAILQ_INSERT_TAIL(&b->active, st, link);
    b->nactive++;
    st->sid = sid;
    st->io = &b->io;
    st->ops->on_open(st);
    h2io_kick(&b->io);
    return 0;
fail:
    if (nv != stack)
        free(nv);
    TAILQ_REMOVE(&b->waiting, st, link);
    b->nwaiting--;
    maybe_retire(b);
    return rv;
}

/* Opens the streams of every call that waited for the connection. */
static void
dispatch_waiting(struct be_conn *b)
{
    struct h2_stream *st;
    const char *why = NULL;
    int rv;

    while ((st = TAILQ_FIRST(&b->waiting)) != NULL) {
        if ((rv = open_stream(b, st, &why)) != 0)
            st->ops->on_failed(st, rv, why);
    }
}

/* h2io: TCP (and TLS) up. */
static int
on_io_ready(void *arg)
{
    struct be_conn *b = arg;
    const struct cfg_backend *be = be_backend(b);

    CHECK_MAGIC(b, BE_MAGIC);
    /* no ALPN answer: assume prior knowledge; anything else is not HTTP/2 */
    if (be->tls && !h2conn_alpn_ok(b->io.ssl, true)) {
        snprintf(b->why, sizeof(b->why), "backend did not negotiate HTTP/2 (ALPN h2)");
        return -1;
    }
    if (start_h2(b) != 0)
        return -1;
    b->state = BE_READY;
    evtimer_del(b->timer);
    log_debug("connected to backend \"%s\" (%s)", be->name, be->address);
    dispatch_waiting(b);
    h2io_kick(&b->io);
    return 0;
}

/* h2io: the connection is over; every call on it is told why. */
static void
on_io_close(void *arg, const char *why, bool error)
{
    struct be_conn *b = arg;

    CHECK_MAGIC(b, BE_MAGIC);
    (void)error;
    if (b->why[0] != '\0')
        why = b->why;
    else if (b->state != BE_READY && strcmp(why, "connection closed by peer") == 0)
        why = "connection closed by backend during setup";
    be_conn_free(b, why);
}

static const struct h2io_ops be_io_ops = {
    .on_ready = on_io_ready,
    .on_close = on_io_close,
};

/*
 * Starts a non-blocking connect to |sa|.  Returns 0, or -1 with b->why set
 * (nothing to free: the socket is closed).
 */
static int
start_connect(struct be_conn *b, const struct sockaddr *sa, socklen_t salen)
{
    const struct cfg_backend *be = be_backend(b);
    evutil_socket_t fd;
    SSL *ssl = NULL;
    int one = 1;

    fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(b->why, sizeof(b->why), "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, sa, salen) != 0 && errno != EINPROGRESS) {
        snprintf(b->why, sizeof(b->why), "%s", strerror(errno));
        evutil_closesocket(fd);
        return -1;
    }
    if (be->tls) {
        ssl = tls_client_ssl_new(be);
        if (ssl == NULL) {
            snprintf(b->why, sizeof(b->why), "cannot create TLS session");
            evutil_closesocket(fd);
            return -1;
        }
        SSL_set_connect_state(ssl);
    }
    /* the io owns fd and ssl from here, also on failure */
    if (h2io_init(&b->io, b->pool->base, fd, ssl, true, &be_io_ops, b) != 0) {
        h2io_free(&b->io);
        snprintf(b->why, sizeof(b->why), "out of memory");
        return -1;
    }
    b->state = BE_CONNECTING;
    arm_timer(b, b->cfg->timeouts.backend_connect_ms);
    h2io_start(&b->io);
    return 0;
}

static void
on_resolved(int err, struct evutil_addrinfo *ai, void *arg)
{
    struct be_conn *b = arg;

    /* cancelled by be_conn_free: |b| may be gone already (evdns defers this) */
    if (err == EVUTIL_EAI_CANCEL)
        return;
    CHECK_MAGIC(b, BE_MAGIC);
    b->dns_req = NULL;
    if (err != 0 || ai == NULL) {
        snprintf(b->why, sizeof(b->why), "cannot resolve \"%s\": %s", be_backend(b)->host,
                 evutil_gai_strerror(err));
        arm_timer(b, 0); /* fail from the timer: we may be inside evdns_getaddrinfo */
        return;
    }
    if (start_connect(b, ai->ai_addr, (socklen_t)ai->ai_addrlen) != 0)
        arm_timer(b, 0);
    evutil_freeaddrinfo(ai);
}

/* Starts the name lookup, from the event loop (never from be_attach). */
static void
start_resolve(struct be_conn *b)
{
    const struct cfg_backend *be = be_backend(b);
    struct evutil_addrinfo hints;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
    arm_timer(b, b->cfg->timeouts.backend_connect_ms);
    /* may call on_resolved before returning (hosts file, literal): then dns_req stays NULL */
    b->dns_req = evdns_getaddrinfo(b->pool->dns, be->host, be->port, &hints, on_resolved, b);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct be_conn *b = arg;
    char why[96];

    (void)fd;
    (void)what;
    CHECK_MAGIC(b, BE_MAGIC);
    if (b->why[0] != '\0') {
        be_conn_free(b, b->why);
        return;
    }
    if (b->state == BE_RESOLVING && b->dns_req == NULL && !be_is_idle(b)) {
        start_resolve(b);
        return;
    }
    if (b->state != BE_READY && !be_is_idle(b)) {
        snprintf(why, sizeof(why), "connect timed out after %u ms",
                 b->cfg->timeouts.backend_connect_ms);
        be_conn_free(b, why);
        return;
    }
    /* idle timeout, or a retired connection whose last call ended */
    if (be_is_idle(b))
        be_conn_free(b, "idle");
}

static struct be_conn *
be_conn_new(struct be_pool *p, struct cfg *cfg, size_t idx, const char **why)
{
    const struct cfg_backend *be = &cfg->backends[idx];
    struct be_conn *b = calloc(1, sizeof(*b));
    struct sockaddr_storage ss;
    int sslen = (int)sizeof(ss);

    if (b == NULL) {
        *why = "out of memory";
        return NULL;
    }
    b->magic = BE_MAGIC;
    b->pool = p;
    b->cfg = cfg_ref(cfg);
    b->idx = idx;
    b->state = BE_RESOLVING;
    TAILQ_INIT(&b->waiting);
    TAILQ_INIT(&b->active);
    b->timer = evtimer_new(p->base, on_timer, b);
    if (b->timer == NULL) {
        *why = "out of memory";
        goto fail;
    }
    if (evutil_parse_sockaddr_port(be->address, (struct sockaddr *)&ss, &sslen) == 0) {
        /* a literal address: connect now, errors like ENETUNREACH come back at once */
        if (start_connect(b, (struct sockaddr *)&ss, (socklen_t)sslen) != 0) {
            *why = NULL;
            goto fail;
        }
    } else {
        arm_timer(b, 0); /* start_resolve from the loop */
    }
    TAILQ_INSERT_TAIL(&p->conns, b, link);
    p->n++;
    return b;
fail:
    if (*why == NULL) {
        static __thread char buf[200];

        snprintf(buf, sizeof(buf), "%s", b->why);
        *why = buf;
    }
    if (b->timer != NULL)
        event_free(b->timer);
    cfg_unref(b->cfg);
    free(b);
    return NULL;
}

static void
be_conn_free(struct be_conn *b, const char *reason)
{
    const struct cfg_backend *be = be_backend(b);
    struct h2_stream_list gone;
    struct h2_stream *st;

    CHECK_MAGIC(b, BE_MAGIC);
    if (!be_is_idle(b) || b->state == BE_CONNECTING)
        log_warn("backend \"%s\" (%s): %s", be->name, be->address, reason);
    else
        log_debug("closing connection to backend \"%s\": %s", be->name, reason);
    TAILQ_REMOVE(&b->pool->conns, b, link);
    b->pool->n--;
    /* hand every stream its failure first: nghttp2_session_del reports nothing */
    TAILQ_INIT(&gone);
    TAILQ_CONCAT(&gone, &b->active, link);
    TAILQ_CONCAT(&gone, &b->waiting, link);
    b->nactive = b->nwaiting = 0;
    if (b->dns_req != NULL) {
        struct evdns_getaddrinfo_request *req = b->dns_req;

        b->dns_req = NULL;
        evdns_getaddrinfo_cancel(req); /* on_resolved sees EVUTIL_EAI_CANCEL */
    }
    b->magic = 0; /* calls must not come back to us */
    while ((st = TAILQ_FIRST(&gone)) != NULL) {
        TAILQ_REMOVE(&gone, st, link);
        st->io = NULL;
        if (st->sid == 0)
            st->ops->on_failed(st, SG_ERR_IO, reason);
        else
            st->ops->on_lost(st, reason);
    }
    h2io_free(&b->io);
    event_free(b->timer);
    cfg_unref(b->cfg);
    free(b);
}

/* ---- pool ---------------------------------------------------------------- */

struct be_pool *
be_pool_new(struct event_base *base, struct evdns_base *dns, struct cfg *const *cfg,
            const bool *draining)
{
    struct be_pool *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    TAILQ_INIT(&p->conns);
    p->base = base;
    p->dns = dns;
    p->cfg = cfg;
    p->draining = draining;
    return p;
}

void
be_pool_destroy(struct be_pool *p)
{
    free(p);
}

size_t
be_pool_count(const struct be_pool *p)
{
    return p->n;
}

static bool
has_room(const struct be_conn *b)
{
    uint32_t max = be_backend(b)->max_streams_per_conn;

    if (b->state == BE_READY) {
        uint32_t remote = nghttp2_session_get_remote_settings(
            b->io.sess, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);

        if (remote < max)
            max = remote;
    }
    return b->nactive + b->nwaiting < max;
}

struct be_conn *
be_open_stream(struct be_pool *p, struct cfg *cfg, size_t idx, struct h2_stream *st, int *err,
               const char **why)
{
    struct be_conn *b;
    int rv;

    TAILQ_FOREACH (b, &p->conns, link) {
        if (b->cfg == cfg && b->idx == idx && !b->goaway && has_room(b))
            break;
    }
    if (b == NULL) {
        b = be_conn_new(p, cfg, idx, why);
        if (b == NULL) {
            *err = SG_ERR_IO;
            return NULL;
        }
    }
    if (b->state == BE_READY)
        evtimer_del(b->timer); /* the idle timer; a connect deadline stays */
    st->sid = 0;
    st->io = NULL;
    TAILQ_INSERT_TAIL(&b->waiting, st, link);
    b->nwaiting++;
    /* a ready connection opens the stream now: no extra loop iteration */
    if (b->state == BE_READY && (rv = open_stream(b, st, why)) != 0) {
        *err = rv;
        return NULL;
    }
    return b;
}

void
be_detach(struct be_conn *b, struct h2_stream *st)
{
    CHECK_MAGIC(b, BE_MAGIC);
    st->io = NULL;
    if (st->sid > 0) {
        TAILQ_REMOVE(&b->active, st, link);
        b->nactive--;
    } else {
        TAILQ_REMOVE(&b->waiting, st, link);
        b->nwaiting--;
    }
    maybe_retire(b);
}

void
be_pool_close_idle(struct be_pool *p, bool all)
{
    struct be_conn *b, *next;

    for (b = TAILQ_FIRST(&p->conns); b != NULL; b = next) {
        next = TAILQ_NEXT(b, link);
        if (all)
            b->goaway = true;
        maybe_retire(b);
    }
}

void
be_pool_free(struct be_pool *p)
{
    struct be_conn *b;

    while ((b = TAILQ_FIRST(&p->conns)) != NULL)
        be_conn_free(b, "worker exiting");
}
