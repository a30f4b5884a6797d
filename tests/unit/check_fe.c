/*
 * check_fe.c: the client connection layer (fe.c) driven by a real nghttp2
 * client over a socketpair, with a test owner in place of call.c: the
 * stream events reach the owner's ops, credit goes back only when the owner
 * asks (h2conn_credit), responses and resets reach the peer, and a connection
 * that goes away closes every stream it carried.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <check.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "cfg.h"
#include "check_suites.h"
#include "fe.h"
#include "h2conn.h"
#include "h2peer.h"
#include "sg_err.h"

#define BODY_LEN 40000 /* above half the 65535 window: its credit shows as a WINDOW_UPDATE */

struct owner {
    struct h2_stream st;
    struct fe_conn *conn;
    int nfields, nblocks, nend, nclose;
    size_t ndata;
    enum h2_reset why;
    bool eof; /* out holds the whole response */
};

static struct owner owners[4];
static int nowners;
static struct event_base *base;
static struct fe_pool *pool;
static int nclosed_conns;
static struct cfg *cfg;
static struct h2peer peer;

#define O_OF(s) ((struct owner *)(void *)(s))

static int
o_header(struct h2_stream *st, bool trailer, const uint8_t *name, size_t namelen,
         const uint8_t *value, size_t valuelen)
{
    (void)trailer;
    (void)name;
    (void)namelen;
    (void)value;
    (void)valuelen;
    O_OF(st)->nfields++;
    return 0;
}

static void
o_headers_done(struct h2_stream *st, bool trailer, bool end_stream)
{
    (void)trailer;
    (void)end_stream;
    O_OF(st)->nblocks++;
}

static void
o_data(struct h2_stream *st, const uint8_t *data, size_t len)
{
    (void)data;
    O_OF(st)->ndata += len; /* no credit: the test gives it */
}

static void
o_end(struct h2_stream *st)
{
    O_OF(st)->nend++;
}

static void
o_close(struct h2_stream *st, enum h2_reset why, uint32_t h2_error)
{
    struct owner *o = O_OF(st);

    (void)h2_error;
    o->nclose++;
    o->why = why;
    fe_stream_detached(o->conn, st);
}

static ssize_t
o_read(struct h2_stream *st, size_t length, unsigned *flags)
{
    struct owner *o = O_OF(st);
    size_t avail = evbuffer_get_length(st->out), n = length < avail ? length : avail;

    if (n == avail && o->eof) {
        *flags |= H2_READ_EOF;
        return (ssize_t)n;
    }
    return n == 0 ? SG_ERR_AGAIN : (ssize_t)n;
}

static void
o_sent(struct h2_stream *st, size_t length)
{
    (void)st;
    (void)length;
}

static const struct h2_stream_ops o_ops = {
    .on_header = o_header,
    .on_headers_done = o_headers_done,
    .on_data = o_data,
    .on_end_stream = o_end,
    .on_close = o_close,
    .read = o_read,
    .on_sent = o_sent,
};

static struct h2_stream *
o_open(void *arg, struct fe_conn *c, int32_t sid, struct cfg *snap)
{
    struct owner *o;

    (void)arg;
    (void)sid;
    (void)snap;
    if (nowners == (int)(sizeof(owners) / sizeof(owners[0])))
        return NULL;
    o = &owners[nowners++];
    memset(o, 0, sizeof(*o));
    o->conn = c;
    o->st.ops = &o_ops;
    o->st.out = evbuffer_new();
    ck_assert_ptr_nonnull(o->st.out);
    return &o->st;
}

static void
conn_closed(void *arg)
{
    (void)arg;
    nclosed_conns++;
}

static void
setup(void)
{
    static const char json[] =
        "{\"listen\": [{\"address\": \"127.0.0.1:15002\", \"plaintext\": true}], "
        "\"backends\": [{\"name\": \"a\", \"address\": \"127.0.0.1:15003\"}]}";
    struct sockaddr_in sin;
    char err[256];
    int sv[2];

    cfg = cfg_load_buf("t.json", json, strlen(json), false, err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    pool = fe_pool_new(base, &cfg, o_open, NULL, conn_closed, NULL);
    ck_assert_ptr_nonnull(pool);
    nclosed_conns = 0;
    nowners = 0;
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fe_accept(pool, sv[0], (struct sockaddr *)&sin, (int)sizeof(sin), 0);
    ck_assert_uint_eq(fe_pool_count(pool), 1);
    h2peer_init(&peer, sv[1], false);
    h2peer_pump(&peer, base);
}

static void
teardown(void)
{
    int i;

    fe_close_all(pool);
    h2peer_free(&peer);
    for (i = 0; i < nowners; i++)
        evbuffer_free(owners[i].st.out);
    fe_pool_destroy(pool);
    event_base_free(base);
    cfg_unref(cfg);
}

#define NV(n, v)                                                                            \
    {                                                                                       \
        (uint8_t *)(uintptr_t)(n), (uint8_t *)(uintptr_t)(v), sizeof(n) - 1, sizeof(v) - 1, \
            NGHTTP2_NV_FLAG_NONE                                                            \
    }

/* A request from the peer: with |body| bytes and the stream left open, or ended at once. */
static int32_t
peer_request(size_t body, bool end)
{
    nghttp2_nv nv[] = {
        NV(":method", "POST"),
        NV(":scheme", "http"),
        NV(":authority", "sg"),
        NV(":path", "/spark.connect.SparkConnectService/Config"),
        NV("content-type", "application/grpc"),
    };
    nghttp2_data_provider prd;
    int32_t sid;

    h2peer_body_left = body;
    prd.source.ptr = NULL;
    prd.read_callback = h2peer_body;
    sid = nghttp2_submit_request(peer.s, NULL, nv, 5, end ? NULL : &prd, NULL);
    ck_assert_int_gt(sid, 0);
    h2peer_pump(&peer, base);
    return sid;
}

START_TEST(tc_headers_data_credit_on_request)
{
    int32_t sid = peer_request(BODY_LEN, false);

    ck_assert_int_eq(nowners, 1);
    ck_assert_int_eq(owners[0].st.sid, sid);
    ck_assert_int_eq(owners[0].nfields, 5);
    ck_assert_int_eq(owners[0].nblocks, 1);
    ck_assert_uint_eq(owners[0].ndata, BODY_LEN);
    ck_assert_int_eq(owners[0].nend, 0);
    /* nothing credited yet: the client's window for the stream stays spent */
    ck_assert_int_eq(nghttp2_session_get_stream_remote_window_size(peer.s, sid), 65535 - BODY_LEN);
    h2conn_credit(&owners[0].st, BODY_LEN);
    h2peer_pump(&peer, base);
    ck_assert_int_eq(nghttp2_session_get_stream_remote_window_size(peer.s, sid), 65535);
}
END_TEST

START_TEST(tc_response_reaches_peer)
{
    const nghttp2_nv rnv[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
    int32_t sid = peer_request(0, true);
    struct owner *o = &owners[0];

    ck_assert_int_eq(o->nend, 1);
    ck_assert_int_eq(evbuffer_add(o->st.out, "hello", 5), 0);
    o->eof = true;
    ck_assert_int_eq(fe_submit_response(o->conn, sid, rnv, 2, &o->st), 0);
    fe_kick(o->conn);
    h2peer_pump(&peer, base);
    ck_assert_int_eq(peer.nblocks, 1);
    ck_assert_uint_eq(peer.ndata, 5);
    ck_assert_int_eq(peer.nclosed, 1);
    ck_assert_uint_eq(peer.closed_code, NGHTTP2_NO_ERROR);
    ck_assert_int_eq(o->nclose, 1);
    ck_assert_int_eq(o->why, H2_RESET_NO_ERROR);
}
END_TEST

START_TEST(tc_reset_reaches_peer)
{
    int32_t sid = peer_request(10, false);
    struct owner *o = &owners[0];

    h2conn_reset(&o->st, H2_RESET_CANCEL);
    h2peer_pump(&peer, base);
    ck_assert_int_eq(peer.closed_sid, sid);
    ck_assert_uint_eq(peer.closed_code, NGHTTP2_CANCEL);
    ck_assert_int_eq(o->nclose, 1);
    ck_assert_int_eq(o->why, H2_RESET_CANCEL);
}
END_TEST

START_TEST(tc_peer_reset_reaches_owner)
{
    int32_t sid = peer_request(10, false);

    ck_assert_int_eq(nghttp2_submit_rst_stream(peer.s, NGHTTP2_FLAG_NONE, sid,
                                               NGHTTP2_REFUSED_STREAM),
                     0);
    h2peer_pump(&peer, base);
    ck_assert_int_eq(owners[0].nclose, 1);
    ck_assert_int_eq(owners[0].why, H2_RESET_REFUSED);
}
END_TEST

START_TEST(tc_connection_loss_closes_streams)
{
    peer_request(10, false);
    peer_request(10, false);
    ck_assert_int_eq(nowners, 2);
    h2peer_free(&peer);
    h2peer_pump(&peer, base);
    ck_assert_uint_eq(fe_pool_count(pool), 0);
    ck_assert_int_eq(nclosed_conns, 1);
    ck_assert_int_eq(owners[0].nclose, 1);
    ck_assert_int_eq(owners[0].why, H2_RESET_CANCEL);
    ck_assert_int_eq(owners[1].nclose, 1);
}
END_TEST

Suite *
fe_suite(void)
{
    Suite *s = suite_create("fe");
    TCase *tc = tcase_create("streams");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, tc_headers_data_credit_on_request);
    tcase_add_test(tc, tc_response_reaches_peer);
    tcase_add_test(tc, tc_reset_reaches_peer);
    tcase_add_test(tc, tc_peer_reset_reaches_owner);
    tcase_add_test(tc, tc_connection_loss_closes_streams);
    suite_add_tcase(s, tc);
    return s;
}
