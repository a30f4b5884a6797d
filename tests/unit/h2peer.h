/*
 * h2peer.h: an in-memory HTTP/2 peer for the connection-layer tests
 * (check_fe.c, check_be.c).  A plain nghttp2 session on one end of a socket
 * whose other end belongs to the module under test; h2peer_pump alternates
 * the module's event loop with this session until both are quiet.  It
 * records what a test asserts: header fields, DATA, resets.
 */
#ifndef SPARKGATE_H2PEER_H
#define SPARKGATE_H2PEER_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <check.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>

struct h2peer {
    int fd;
    nghttp2_session *s;
    int nfields; /* header or trailer fields received */
    char last_name[64], last_value[128];
    char path[128];     /* :path of the last request (server peer) */
    int nblocks;        /* header blocks received */
    int32_t last_sid;   /* stream of the last HEADERS received */
    size_t ndata;       /* DATA payload bytes received */
    int32_t closed_sid; /* last stream closed, and its error code */
    uint32_t closed_code;
    int nclosed;
    char grpc_status[8]; /* last grpc-status received ("" none) */
    char grpc_message[256];
};

static ssize_t
h2peer_send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *arg)
{
    struct h2peer *p = arg;
    ssize_t n;

    (void)s;
    (void)flags;
    n = write(p->fd, data, len);
    if (n < 0 && errno == EAGAIN)
        return NGHTTP2_ERR_WOULDBLOCK;
    return n < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : n;
}

static int
h2peer_header_cb(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
                 size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *arg)
{
    struct h2peer *p = arg;

    (void)s;
    (void)frame;
    (void)flags;
    p->nfields++;
    snprintf(p->last_name, sizeof(p->last_name), "%.*s", (int)namelen, (const char *)name);
    snprintf(p->last_value, sizeof(p->last_value), "%.*s", (int)valuelen, (const char *)value);
    if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0)
        snprintf(p->grpc_status, sizeof(p->grpc_status), "%.*s", (int)valuelen,
                 (const char *)value);
    if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0)
        snprintf(p->grpc_message, sizeof(p->grpc_message), "%.*s", (int)valuelen,
                 (const char *)value);
    if (namelen == 5 && memcmp(name, ":path", 5) == 0)
        snprintf(p->path, sizeof(p->path), "%.*s", (int)valuelen, (const char *)value);
    return 0;
}

static int
h2peer_frame_cb(nghttp2_session *s, const nghttp2_frame *frame, void *arg)
{
    struct h2peer *p = arg;

    (void)s;
    if (frame->hd.type == NGHTTP2_HEADERS) {
        p->nblocks++;
        p->last_sid = frame->hd.stream_id;
    }
    return 0;
}

static int
h2peer_data_cb(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data, size_t len,
               void *arg)
{
    struct h2peer *p = arg;

    (void)flags;
    (void)data;
    p->ndata += len;
    /* the peer itself always gives credit back at once */
    nghttp2_session_consume(s, sid, len);
    return 0;
}

static int
h2peer_close_cb(nghttp2_session *s, int32_t sid, uint32_t code, void *arg)
{
    struct h2peer *p = arg;

    (void)s;
    p->closed_sid = sid;
    p->closed_code = code;
    p->nclosed++;
    return 0;
}

/* Sets |p| up as a client (or server) on socket |fd|, SETTINGS queued. */
static void
h2peer_init(struct h2peer *p, int fd, bool server)
{
    nghttp2_session_callbacks *cb;
    nghttp2_option *opt;
    int one = 1;

    memset(p, 0, sizeof(*p));
    p->fd = fd;
    /* no Nagle delay on a TCP peer (a socketpair just says no) */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ck_assert_int_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
    ck_assert_int_eq(nghttp2_session_callbacks_new(&cb), 0);
    ck_assert_int_eq(nghttp2_option_new(&opt), 0);
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_session_callbacks_set_send_callback(cb, h2peer_send_cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, h2peer_header_cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, h2peer_frame_cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2peer_data_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2peer_close_cb);
    if (server)
        ck_assert_int_eq(nghttp2_session_server_new2(&p->s, cb, p, opt), 0);
    else
        ck_assert_int_eq(nghttp2_session_client_new2(&p->s, cb, p, opt), 0);
    ck_assert_int_eq(nghttp2_submit_settings(p->s, NGHTTP2_FLAG_NONE, NULL, 0), 0);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
}

/* Runs the module's loop and the peer session in turns until nothing moves. */
static void
h2peer_pump(struct h2peer *p, struct event_base *base)
{
    uint8_t buf[16384];
    int i, quiet = 0;
    ssize_t n;

    for (i = 0; i < 400 && quiet < 3; i++) {
        bool moved = false;

        event_base_loop(base, EVLOOP_NONBLOCK);
        if (p->s != NULL) {
            if (nghttp2_session_want_write(p->s)) {
                ck_assert_int_eq(nghttp2_session_send(p->s), 0);
                moved = true;
            }
            while ((n = read(p->fd, buf, sizeof(buf))) > 0) {
                ck_assert_int_eq(nghttp2_session_mem_recv(p->s, buf, (size_t)n), n);
                moved = true;
            }
        }
        quiet = moved ? 0 : quiet + 1;
        usleep(1000);
    }
}

static void
h2peer_free(struct h2peer *p)
{
    if (p->s != NULL)
        nghttp2_session_del(p->s);
    if (p->fd >= 0)
        close(p->fd);
    p->s = NULL;
    p->fd = -1;
}

/* A request/response body the peer sends: h2peer_body_left bytes of 'x', then
 * the stream stays open (deferred) until the test ends it. */
static size_t h2peer_body_left;

static inline ssize_t
h2peer_body(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t length, uint32_t *flags,
            nghttp2_data_source *src, void *arg)
{
    size_t n = length < h2peer_body_left ? length : h2peer_body_left;

    (void)s;
    (void)sid;
    (void)flags;
    (void)src;
    (void)arg;
    if (n == 0)
        return NGHTTP2_ERR_DEFERRED;
    memset(buf, 'x', n);
    h2peer_body_left -= n;
    return (ssize_t)n;
}

#endif
