/*
 * check_be.c: the backend connection layer (be.c) against a real nghttp2
 * server on a loopback socket, with a test owner in place of call.c: one
 * verb opens a stream (the owner gives its header block and learns the
 * stream id), responses reach the owner, credit goes back only when the
 * owner asks (h2conn_credit), a reset reaches the backend, and a backend that
 * goes away or cannot be reached is reported to the owner.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <check.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "be.h"
#include "cfg.h"
#include "check_suites.h"
#include "h2conn.h"
#include "h2peer.h"
#include "sg_err.h"

#define BODY_LEN 40000 /* above half the 65535 window: its credit shows as a WINDOW_UPDATE */

struct owner {
    struct h2_stream st;
    struct be_conn *conn;
    int nblocks, nend, nclose, nopen, nfailed, nlost;
    size_t ndata;
    enum h2_reset why;
    int err;
    char reason[200];
};

static struct owner o;
static struct event_base *base;
static struct be_pool *pool;
static bool draining;
static struct cfg *cfg;
static struct h2peer peer;
static int lfd = -1;

static int
o_header(struct h2_stream *st, bool trailer, const uint8_t *name, size_t namelen,
         const uint8_t *value, size_t valuelen)
{
    (void)st;
    (void)trailer;
    (void)name;
    (void)namelen;
    (void)value;
    (void)valuelen;
    return 0;
}

static void
o_headers_done(struct h2_stream *st, bool trailer, bool end_stream)
{
    (void)st;
    (void)trailer;
    (void)end_stream;
    o.nblocks++;
}

static void
o_data(struct h2_stream *st, const uint8_t *data, size_t len)
{
    (void)st;
    (void)data;
    o.ndata += len; /* no credit: the test gives it */
}

static void
o_end(struct h2_stream *st)
{
    (void)st;
    o.nend++;
}

static void
o_close(struct h2_stream *st, enum h2_reset why, uint32_t h2_error)
{
    (void)h2_error;
    o.nclose++;
    o.why = why;
    be_detach(o.conn, st);
    o.conn = NULL;
}

static ssize_t
o_read(struct h2_stream *st, size_t length, unsigned *flags)
{
    (void)st;
    (void)length;
    (void)flags;
    return SG_ERR_AGAIN; /* the request stays open, with no body yet */
}

static void
o_sent(struct h2_stream *st, size_t length)
{
    (void)st;
    (void)length;
}

static void
put(h2_nv *nv, const char *n, const char *v)
{
    nv->name = (uint8_t *)(uintptr_t)n;
    nv->namelen = strlen(n);
    nv->value = (uint8_t *)(uintptr_t)v;
    nv->valuelen = strlen(v);
    nv->flags = H2_NV_NONE;
}

static ssize_t
o_request_headers(struct h2_stream *st, h2_nv *nv, size_t cap)
{
    (void)st;
    if (cap < 4)
        return 4;
    put(&nv[0], ":method", "POST");
    put(&nv[1], ":scheme", "http");
    put(&nv[2], ":authority", "backend");
    put(&nv[3], ":path", "/spark.connect.SparkConnectService/Config");
    return 4;
}

static void
o_open(struct h2_stream *st)
{
    (void)st;
    o.nopen++;
}

static void
o_failed(struct h2_stream *st, int err, const char *why)
{
    (void)st;
    o.nfailed++;
    o.err = err;
    snprintf(o.reason, sizeof(o.reason), "%s", why);
    o.conn = NULL;
}

static void
o_lost(struct h2_stream *st, const char *why)
{
    (void)st;
    o.nlost++;
    snprintf(o.reason, sizeof(o.reason), "%s", why);
    o.conn = NULL;
}

static const struct h2_stream_ops o_ops = {
    .on_header = o_header,
    .on_headers_done = o_headers_done,
    .on_data = o_data,
    .on_end_stream = o_end,
    .on_close = o_close,
    .read = o_read,
    .on_sent = o_sent,
    .request_headers = o_request_headers,
    .on_open = o_open,
    .on_failed = o_failed,
    .on_lost = o_lost,
};

/* A cfg whose one backend is 127.0.0.1:|port| with 65535-byte windows. */
static void
load_cfg(unsigned port)
{
    char json[512], err[256];

    snprintf(json, sizeof(json),
             "{\"listen\": [{\"address\": \"127.0.0.1:15002\", \"plaintext\": true}], "
             "\"backends\": [{\"name\": \"a\", \"address\": \"127.0.0.1:%u\"}], "
             "\"limits\": {\"backend_stream_window_size\": 65535}}",
             port);
    cfg = cfg_load_buf("t.json", json, strlen(json), false, err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
}

static void
setup(void)
{
    struct sockaddr_in sin;
    socklen_t slen = sizeof(sin);

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ck_assert_int_ge(lfd, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(lfd, 4), 0);
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin, &slen), 0);
    load_cfg(ntohs(sin.sin_port));
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    /* literal addresses only: no resolver */
    pool = be_pool_new(base, NULL, &cfg, &draining);
    ck_assert_ptr_nonnull(pool);
    memset(&o, 0, sizeof(o));
    o.st.ops = &o_ops;
    o.st.out = evbuffer_new();
    ck_assert_ptr_nonnull(o.st.out);
    peer.fd = -1;
}

static void
teardown(void)
{
    be_pool_free(pool);
    h2peer_free(&peer);
    if (lfd >= 0)
        close(lfd);
    evbuffer_free(o.st.out);
    be_pool_destroy(pool);
    event_base_free(base);
    cfg_unref(cfg);
}

/* Opens the owner's stream and accepts the connection as the backend. */
static void
open_and_accept(void)
{
    const char *why = NULL;
    int err = 0, fd = -1, i;

    o.conn = be_open_stream(pool, cfg, 0, &o.st, &err, &why);
    ck_assert_msg(o.conn != NULL, "%s", why != NULL ? why : "?");
    for (i = 0; i < 1000 && fd < 0; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            usleep(1000);
    }
    ck_assert_int_ge(fd, 0);
    h2peer_init(&peer, fd, true);
    h2peer_pump(&peer, base);
}

START_TEST(tc_open_stream_one_verb)
{
    open_and_accept();
    ck_assert_int_eq(o.nopen, 1);
    ck_assert_int_eq(o.st.sid, 1);
    ck_assert_int_eq(peer.nblocks, 1);
    ck_assert_str_eq(peer.path, "/spark.connect.SparkConnectService/Config");
}
END_TEST

START_TEST(tc_response_and_credit_on_request)
{
    nghttp2_nv nv[1];
    nghttp2_data_provider prd;
    int32_t sid;

    open_and_accept();
    sid = o.st.sid;
    put(&nv[0], ":status", "200");
    prd.source.ptr = NULL;
    prd.read_callback = h2peer_body;
    h2peer_body_left = BODY_LEN;
    ck_assert_int_eq(nghttp2_submit_response(peer.s, sid, nv, 1, &prd), 0);
    h2peer_pump(&peer, base);
    ck_assert_int_eq(o.nblocks, 1);
    ck_assert_uint_eq(o.ndata, BODY_LEN);
    /* nothing credited yet: the backend's window for the stream stays spent */
    ck_assert_int_eq(nghttp2_session_get_stream_remote_window_size(peer.s, sid), 65535 - BODY_LEN);
    h2conn_credit(&o.st, BODY_LEN);
    h2peer_pump(&peer, base);
    ck_assert_int_eq(nghttp2_session_get_stream_remote_window_size(peer.s, sid), 65535);
}
END_TEST

START_TEST(tc_reset_reaches_backend)
{
    int32_t sid;

    open_and_accept();
    sid = o.st.sid;
    h2conn_reset(&o.st, H2_RESET_CANCEL);
    h2peer_pump(&peer, base);
    ck_assert_int_eq(peer.closed_sid, sid);
    ck_assert_uint_eq(peer.closed_code, NGHTTP2_CANCEL);
    ck_assert_int_eq(o.nclose, 1);
    ck_assert_int_eq(o.why, H2_RESET_CANCEL);
}
END_TEST

START_TEST(tc_backend_refuses_stream)
{
    open_and_accept();
    ck_assert_int_eq(nghttp2_submit_rst_stream(peer.s, NGHTTP2_FLAG_NONE, o.st.sid,
                                               NGHTTP2_REFUSED_STREAM),
                     0);
    h2peer_pump(&peer, base);
    ck_assert_int_eq(o.nclose, 1);
    ck_assert_int_eq(o.why, H2_RESET_REFUSED);
}
END_TEST

START_TEST(tc_backend_loss_reaches_owner)
{
    open_and_accept();
    h2peer_free(&peer);
    h2peer_pump(&peer, base);
    ck_assert_int_eq(o.nlost, 1);
    ck_assert_int_eq(o.nclose, 0);
    ck_assert_uint_eq(be_pool_count(pool), 0);
}
END_TEST

START_TEST(tc_backend_unreachable)
{
    const char *why = NULL;
    int err = 0;

    /* nothing listens any more: refused at once or from the loop, never silently */
    close(lfd);
    lfd = -1;
    o.conn = be_open_stream(pool, cfg, 0, &o.st, &err, &why);
    if (o.conn == NULL) {
        ck_assert_int_eq(err, SG_ERR_IO);
        ck_assert_ptr_nonnull(why);
        ck_assert_int_eq(o.nfailed, 0);
        return;
    }
    h2peer_pump(&peer, base);
    ck_assert_int_eq(o.nfailed, 1);
    ck_assert_int_eq(o.err, SG_ERR_IO);
    ck_assert_int_eq(o.nopen, 0);
}
END_TEST

Suite *
be_suite(void)
{
    Suite *s = suite_create("be");
    TCase *tc = tcase_create("streams");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, tc_open_stream_one_verb);
    tcase_add_test(tc, tc_response_and_credit_on_request);
    tcase_add_test(tc, tc_reset_reaches_backend);
    tcase_add_test(tc, tc_backend_refuses_stream);
    tcase_add_test(tc, tc_backend_loss_reaches_owner);
    tcase_add_test(tc, tc_backend_unreachable);
    suite_add_tcase(s, tc);
    return s;
}
