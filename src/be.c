/*
 * be.c: connections to Spark Connect backends (nghttp2 client sessions)
 * and each worker's pool of them.
 *
 * A be_conn serves one backend entry of one cfg snapshot; calls started
 * under a newer snapshot get new connections, and connections of an old
 * snapshot close as soon as their last call ends.  Calls wait on the
 * connection while it connects (TCP, TLS with ALPN h2, SETTINGS), then open
 * their streams.  Every failure names the backend, and every waiting or
 * active call is told (call_be_failed / call_be_abort_all): a client never
 * hangs on a backend that is gone.
 *
 * Ownership: the worker owns its be_conns (w->be_conns); a be_conn owns its
 * h2io, timer and cfg reference; calls are referenced, not owned.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "be.h"
#include "call.h"
#include "cfg.h"
#include "h2io.h"
#include "log.h"
#include "tls.h"
#include "util.h"
#include "worker.h"

#define BE_MAGIC 0x42454331u /* "BEC1" */

enum be_state {
    BE_CONNECTING,
    BE_READY,
};

struct be_conn {
    uint32_t magic;
    struct worker *w;
    struct cfg *cfg;           /* reference: the snapshot whose backend we serve */
    size_t idx;                /* index into cfg->backends */
    struct h2io io;
    enum be_state state;
    bool goaway;               /* no new streams (GOAWAY received or retiring) */
    struct call_list waiting;  /* attached, stream not yet submitted */
    struct call_list active;   /* stream submitted */
    size_t nwaiting, nactive;
    struct event *timer;       /* connect deadline, then idle close */
    TAILQ_ENTRY(be_conn) link;
};

static void be_conn_free(struct be_conn *b, const char *reason);
static void dispatch_waiting(struct be_conn *b);

const struct cfg_backend *
be_backend(const struct be_conn *b)
{
    return &b->cfg->backends[b->idx];
}

struct h2io *
be_io(struct be_conn *b)
{
    return &b->io;
}

void
be_kick(struct be_conn *b)
{
    h2io_kick(&b->io);
}

/* ---- nghttp2 callbacks (client session) ---------------------------------- */

static ssize_t
on_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *arg)
{
    struct be_conn *b = arg;

    (void)s;
    (void)flags;
    return h2io_write(&b->io, data, len);
}

static int
on_send_data(nghttp2_session *s, nghttp2_frame *frame, const uint8_t *framehd, size_t length,
             nghttp2_data_source *src, void *arg)
{
    struct call *c = src->ptr;

    (void)s;
    (void)frame;
    (void)arg;
    return call_be_send_data(c, framehd, length);
}

static ssize_t
on_read_request(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t length, uint32_t *flags,
                nghttp2_data_source *src, void *arg)
{
    (void)s;
    (void)sid;
    (void)buf;
    (void)arg;
    return call_be_read(src->ptr, length, flags);
}

static int
on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
          const uint8_t *value, size_t valuelen, uint8_t flags, void *arg)
{
    struct call *c;

    (void)flags;
    (void)arg;
    if (frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    c = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
    if (c == NULL)
        return 0;
    if (call_be_header(c, frame->headers.cat == NGHTTP2_HCAT_HEADERS, name, namelen, value,
                       valuelen) != 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return 0;
}

static int
on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *arg)
{
    struct be_conn *b = arg;
    struct call *c;
    bool eos = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;

    switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
        c = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
        if (c != NULL)
            call_be_headers_done(c, frame->headers.cat == NGHTTP2_HCAT_HEADERS, eos);
        break;
    case NGHTTP2_DATA:
        c = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
        if (c != NULL && eos)
            call_be_end_stream(c);
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

static int
on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data, size_t len,
              void *arg)
{
    struct call *c = nghttp2_session_get_stream_user_data(s, sid);

    (void)flags;
    (void)arg;
    if (c == NULL) {
        /* a stream we no longer follow: keep the connection window open */
        nghttp2_session_consume_connection(s, len);
        return 0;
    }
    call_be_data(c, data, len);
    return 0;
}

static int
on_stream_close(nghttp2_session *s, int32_t sid, uint32_t error_code, void *arg)
{
    struct call *c = nghttp2_session_get_stream_user_data(s, sid);

    (void)arg;
    /* never return an error here on a client session (CVE-2023-35945) */
    if (c != NULL)
        call_be_closed(c, error_code);
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
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000u),
                         .tv_usec = (suseconds_t)((ms % 1000u) * 1000u)};

    evtimer_add(b->timer, &tv);
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
    if (b->goaway || b->cfg != b->w->cfg || b->w->draining)
        arm_timer(b, 0);
    else if (b->state == BE_READY)
        arm_timer(b, b->cfg->timeouts.idle_ms);
}

static void
flush(struct be_conn *b)
{
    int rv;

    if (b->io.sess == NULL)
        return;
    rv = h2io_send(&b->io);
    if (rv != 0) {
        char why[128];

        snprintf(why, sizeof(why), "HTTP/2 error: %s", nghttp2_strerror(rv));
        be_conn_free(b, why);
        return;
    }
    if (h2io_finished(&b->io))
        be_conn_free(b, "connection finished (GOAWAY)");
}

static void
on_send_ev(evutil_socket_t fd, short what, void *arg)
{
    struct be_conn *b = arg;

    (void)fd;
    (void)what;
    CHECK_MAGIC(b, BE_MAGIC);
    if (b->state == BE_READY && b->nwaiting > 0)
        dispatch_waiting(b);
    flush(b);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
    struct be_conn *b = arg;
    int rv;

    (void)bev;
    CHECK_MAGIC(b, BE_MAGIC);
    if (b->io.sess == NULL)
        return;
    rv = h2io_feed(&b->io);
    if (rv != 0) {
        char why[128];

        snprintf(why, sizeof(why), "HTTP/2 error from backend: %s", nghttp2_strerror(rv));
        be_conn_free(b, why);
        return;
    }
    flush(b);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
    struct be_conn *b = arg;

    (void)bev;
    CHECK_MAGIC(b, BE_MAGIC);
    flush(b);
}

/* Builds the nghttp2 client session once the transport is up. */
static int
start_h2(struct be_conn *b)
{
    const struct cfg_limits *lim = &b->cfg->limits;
    nghttp2_session_callbacks *cbs = NULL;
    nghttp2_option *opt = NULL;
    nghttp2_settings_entry iv[3];
    int rv = -1;

    if (nghttp2_session_callbacks_new(&cbs) != 0 || nghttp2_option_new(&opt) != 0)
        goto out;
    nghttp2_session_callbacks_set_send_callback(cbs, on_send);
    nghttp2_session_callbacks_set_send_data_callback(cbs, on_send_data);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    /* credit is given back by call.c when the client has taken the bytes */
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_option_set_max_reserved_remote_streams(opt, 0);
    if (nghttp2_session_client_new2(&b->io.sess, cbs, b, opt) != 0)
        goto out;
    iv[0].settings_id = NGHTTP2_SETTINGS_ENABLE_PUSH;
    iv[0].value = 0;
    iv[1].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
    iv[1].value = lim->backend_stream_window_size;
    iv[2].settings_id = NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE;
    iv[2].value = lim->max_header_list_size;
    if (nghttp2_submit_settings(b->io.sess, NGHTTP2_FLAG_NONE, iv, 3) != 0)
        goto out;
    if (nghttp2_session_set_local_window_size(b->io.sess, NGHTTP2_FLAG_NONE, 0,
                                              (int32_t)lim->backend_connection_window_size) != 0)
        goto out;
    rv = 0;
out:
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    return rv;
}

/* Opens the streams of every call that waited for the connection. */
static void
dispatch_waiting(struct be_conn *b)
{
    struct call *c;

    while ((c = call_be_list_first(&b->waiting)) != NULL) {
        call_be_ready(c);
        if (call_be_list_first(&b->waiting) == c) {
            /* the call did not open its stream and did not leave: fail it */
            call_be_list_remove(&b->waiting, c);
            b->nwaiting--;
            call_be_failed(c, "stream could not be opened");
        }
    }
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
    struct be_conn *b = arg;
    const struct cfg_backend *be = be_backend(b);
    char why[256];
    unsigned long e;
    int dns;

    CHECK_MAGIC(b, BE_MAGIC);
    if (what & BEV_EVENT_CONNECTED) {
        int one = 1;
        evutil_socket_t fd = bufferevent_getfd(bev);

        if (fd >= 0)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (be->tls) {
            const unsigned char *alpn = NULL;
            unsigned int alpnlen = 0;

            SSL_get0_alpn_selected(bufferevent_openssl_get_ssl(bev), &alpn, &alpnlen);
            /* no ALPN answer: assume prior knowledge; anything else is not HTTP/2 */
            if (alpnlen != 0 && !(alpnlen == 2 && memcmp(alpn, "h2", 2) == 0)) {
                be_conn_free(b, "backend did not negotiate HTTP/2 (ALPN h2)");
                return;
            }
        }
        if (start_h2(b) != 0) {
            be_conn_free(b, "cannot start HTTP/2 session");
            return;
        }
        b->state = BE_READY;
        evtimer_del(b->timer);
        log_debug("connected to backend \"%s\" (%s)", be->name, be->address);
        dispatch_waiting(b);
        flush(b);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        snprintf(why, sizeof(why), "connection closed by backend");
    } else if ((dns = bufferevent_socket_get_dns_error(bev)) != 0) {
        snprintf(why, sizeof(why), "cannot resolve \"%s\": %s", be->host, evutil_gai_strerror(dns));
    } else if (be->tls && (e = bufferevent_get_openssl_error(bev)) != 0) {
        char buf[200];

        ERR_error_string_n(e, buf, sizeof(buf));
        snprintf(why, sizeof(why), "TLS: %s", buf);
        while (bufferevent_get_openssl_error(bev) != 0)
            ;
    } else {
        int err = EVUTIL_SOCKET_ERROR();

        snprintf(why, sizeof(why), "%s", err != 0 ? evutil_socket_error_to_string(err)
                                                  : "connection error");
    }
    be_conn_free(b, why);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct be_conn *b = arg;
    char why[96];

    (void)fd;
    (void)what;
    CHECK_MAGIC(b, BE_MAGIC);
    if (b->state == BE_CONNECTING && !be_is_idle(b)) {
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
be_conn_new(struct worker *w, struct cfg *cfg, size_t idx, const char **why)
{
    const struct cfg_backend *be = &cfg->backends[idx];
    struct be_conn *b = calloc(1, sizeof(*b));
    SSL *ssl = NULL;
    int port = atoi(be->port);

    if (b == NULL) {
        *why = "out of memory";
        return NULL;
    }
    b->magic = BE_MAGIC;
    b->w = w;
    b->cfg = cfg_ref(cfg);
    b->idx = idx;
    b->state = BE_CONNECTING;
    TAILQ_INIT(&b->waiting);
    TAILQ_INIT(&b->active);
    b->timer = evtimer_new(w->base, on_timer, b);
    if (b->timer == NULL || h2io_init(&b->io, w->base, on_send_ev, b) != 0) {
        *why = "out of memory";
        goto fail;
    }
    if (be->tls) {
        ssl = tls_client_ssl_new(be);
        if (ssl == NULL) {
            *why = "cannot create TLS session";
            goto fail;
        }
        b->io.bev = bufferevent_openssl_socket_new(w->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                   BEV_OPT_CLOSE_ON_FREE);
        if (b->io.bev == NULL) {
            SSL_free(ssl);
            *why = "out of memory";
            goto fail;
        }
        bufferevent_openssl_set_allow_dirty_shutdown(b->io.bev, 1);
    } else {
        b->io.bev = bufferevent_socket_new(w->base, -1, BEV_OPT_CLOSE_ON_FREE);
        if (b->io.bev == NULL) {
            *why = "out of memory";
            goto fail;
        }
    }
    bufferevent_setcb(b->io.bev, on_read, on_write, on_event, b);
    bufferevent_setwatermark(b->io.bev, EV_WRITE, H2IO_OUT_LOW, 0);
    bufferevent_enable(b->io.bev, EV_READ | EV_WRITE);
    TAILQ_INSERT_TAIL(&w->be_conns, b, link);
    arm_timer(b, cfg->timeouts.backend_connect_ms);
    if (bufferevent_socket_connect_hostname(b->io.bev, w->dns, AF_UNSPEC, be->host, port) != 0) {
        TAILQ_REMOVE(&w->be_conns, b, link);
        *why = errno != 0 ? strerror(errno) : "cannot connect";
        goto fail;
    }
    return b;
fail:
    h2io_free(&b->io);
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
    struct call_list calls;
    struct call *c;

    CHECK_MAGIC(b, BE_MAGIC);
    if (!be_is_idle(b) || b->state == BE_CONNECTING)
        log_warn("backend \"%s\" (%s): %s", be->name, be->address, reason);
    else
        log_debug("closing connection to backend \"%s\": %s", be->name, reason);
    TAILQ_REMOVE(&b->w->be_conns, b, link);
    /* hand every call its failure first: nghttp2_session_del reports nothing */
    TAILQ_INIT(&calls);
    while ((c = call_be_list_first(&b->active)) != NULL) {
        call_be_list_remove(&b->active, c);
        call_be_list_insert(&calls, c);
    }
    while ((c = call_be_list_first(&b->waiting)) != NULL) {
        call_be_list_remove(&b->waiting, c);
        call_be_list_insert(&calls, c);
    }
    b->nactive = b->nwaiting = 0;
    b->magic = 0; /* calls must not come back to us */
    call_be_abort_all(&calls, reason);
    h2io_free(&b->io);
    event_free(b->timer);
    cfg_unref(b->cfg);
    free(b);
}

/* ---- pool ---------------------------------------------------------------- */

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
be_attach(struct worker *w, struct cfg *cfg, size_t idx, struct call *call, const char **why)
{
    struct be_conn *b;

    TAILQ_FOREACH(b, &w->be_conns, link)
    {
        if (b->cfg == cfg && b->idx == idx && !b->goaway && has_room(b))
            break;
    }
    if (b == NULL) {
        b = be_conn_new(w, cfg, idx, why);
        if (b == NULL)
            return NULL;
    }
    evtimer_del(b->timer);
    if (b->state == BE_CONNECTING)
        arm_timer(b, cfg->timeouts.backend_connect_ms);
    call_be_list_insert(&b->waiting, call);
    b->nwaiting++;
    if (b->state == BE_READY) {
        /* the caller sets call->be from our return value first */
        h2io_kick(&b->io);
    }
    return b;
}

void
be_detach(struct be_conn *b, struct call *call)
{
    CHECK_MAGIC(b, BE_MAGIC);
    if (call_be_stream(call) > 0) {
        call_be_list_remove(&b->active, call);
        b->nactive--;
    } else {
        call_be_list_remove(&b->waiting, call);
        b->nwaiting--;
    }
    maybe_retire(b);
}

int32_t
be_submit_request(struct be_conn *b, const nghttp2_nv *nv, size_t nvlen, struct call *call)
{
    nghttp2_data_provider prd;
    int32_t sid;

    CHECK_MAGIC(b, BE_MAGIC);
    prd.source.ptr = call;
    prd.read_callback = on_read_request;
    sid = nghttp2_submit_request(b->io.sess, NULL, nv, nvlen, &prd, call);
    if (sid > 0) {
        call_be_list_remove(&b->waiting, call);
        b->nwaiting--;
        call_be_list_insert(&b->active, call);
        b->nactive++;
    }
    return sid;
}

void
be_pool_close_idle(struct worker *w, bool all)
{
    struct be_conn *b, *next;

    for (b = TAILQ_FIRST(&w->be_conns); b != NULL; b = next) {
        next = TAILQ_NEXT(b, link);
        if (all)
            b->goaway = true;
        maybe_retire(b);
    }
}

void
be_pool_free(struct worker *w)
{
    struct be_conn *b;

    while ((b = TAILQ_FIRST(&w->be_conns)) != NULL)
        be_conn_free(b, "worker exiting");
}
