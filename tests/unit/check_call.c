/*
 * check_call.c: one call, both halves, without a worker: a real fe pool
 * fed by an nghttp2 client over a socketpair and a real be pool connected
 * to an nghttp2 server on loopback, joined by call.c through a call_ctx.
 * A request is forwarded and its answer relayed, an unknown method is
 * refused without a byte at the backend, a client reset cancels the
 * backend stream, and a backend that goes away answers UNAVAILABLE.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <check.h>
#include <event2/event.h>

#include "auth.h"
#include "be.h"
#include "call.h"
#include "cfg.h"
#include "check_suites.h"
#include "fe.h"
#include "h2peer.h"

#define SID_UUID "00112233-4455-6677-8899-aabbccddeeff"
#define PATH_INTERRUPT "/spark.connect.SparkConnectService/Interrupt"

static struct event_base *base;
static struct cfg *cfg;
static struct auth_cache *cache;
static struct be_pool *bpool;
static struct fe_pool *fpool;
static struct call_ctx ctx;
static bool draining;
static struct h2peer client, backend;
static int lfd = -1;

/* gRPC frame of InterruptRequest{session_id = SID_UUID} */
static uint8_t req[5 + 2 + 36];
static size_t req_left;
static bool req_end;

static void
conn_closed(void *arg)
{
    (void)arg;
}

static void
setup(void)
{
    struct sockaddr_in sin;
    socklen_t slen = sizeof(sin);
    char json[512], err[256];
    int sv[2];

    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ck_assert_int_ge(lfd, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(lfd, 4), 0);
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin, &slen), 0);
    /* loopback only, no auth section: anonymous callers, no profiles */
    snprintf(json, sizeof(json),
             "{\"listen\": [{\"address\": \"127.0.0.1:15002\", \"plaintext\": true}], "
             "\"backends\": [{\"name\": \"a\", \"address\": \"127.0.0.1:%u\"}]}",
             ntohs(sin.sin_port));
    cfg = cfg_load_buf("t.json", json, strlen(json), false, err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    cache = auth_cache_new(cfg->auth.cache_entries);
    ck_assert_ptr_nonnull(cache);
    bpool = be_pool_new(base, NULL, &cfg, &draining);
    ck_assert_ptr_nonnull(bpool);
    call_ctx_init(&ctx, base, cache, bpool);
    fpool = fe_pool_new(base, &cfg, call_open, &ctx, conn_closed, NULL);
    ck_assert_ptr_nonnull(fpool);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fe_accept(fpool, sv[0], (struct sockaddr *)&sin, (int)sizeof(sin), 0);
    h2peer_init(&client, sv[1], false);
    backend.fd = -1;
    req[0] = 0;
    req[1] = req[2] = req[3] = 0;
    req[4] = 2 + 36;
    req[5] = 0x0a; /* field 1, length-delimited */
    req[6] = 36;
    memcpy(req + 7, SID_UUID, 36);
}

static void
teardown(void)
{
    fe_close_all(fpool);
    be_pool_free(bpool);
    ck_assert_uint_eq(call_live_count(), 0);
    h2peer_free(&client);
    h2peer_free(&backend);
    if (lfd >= 0)
        close(lfd);
    fe_pool_destroy(fpool);
    be_pool_destroy(bpool);
    auth_cache_free(cache);
    event_base_free(base);
    cfg_unref(cfg);
}

/* Both peers and the loop, until quiet; the backend is accepted when it connects. */
static void
pump(void)
{
    int i, fd;

    for (i = 0; i < 4; i++) {
        h2peer_pump(&client, base);
        if (backend.s == NULL && lfd >= 0 && (fd = accept(lfd, NULL, NULL)) >= 0)
            h2peer_init(&backend, fd, true);
        h2peer_pump(&backend, base);
    }
}

static ssize_t
req_body(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t length, uint32_t *flags,
         nghttp2_data_source *src, void *arg)
{
    size_t n = length < req_left ? length : req_left;

    (void)s;
    (void)sid;
    (void)src;
    (void)arg;
    memcpy(buf, req + sizeof(req) - req_left, n);
    req_left -= n;
    if (req_left == 0 && req_end)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    else if (n == 0)
        return NGHTTP2_ERR_DEFERRED;
    return (ssize_t)n;
}

#define NV(n, v)                                                                            \
    {                                                                                       \
        (uint8_t *)(uintptr_t)(n), (uint8_t *)(uintptr_t)(v), sizeof(n) - 1, sizeof(v) - 1, \
            NGHTTP2_NV_FLAG_NONE                                                            \
    }

/* The client sends one gRPC request on |path|, ending its side if |end|. */
static int32_t
client_call(const char *path, bool end)
{
    nghttp2_nv nv[] = {
        NV(":method", "POST"),
        NV(":scheme", "http"),
        NV(":authority", "sg"),
        NV(":path", ""),
        NV("content-type", "application/grpc"),
        NV("te", "trailers"),
    };
    nghttp2_data_provider prd;
    int32_t sid;

    nv[3].value = (uint8_t *)(uintptr_t)path;
    nv[3].valuelen = strlen(path);
    req_left = sizeof(req);
    req_end = end;
    prd.source.ptr = NULL;
    prd.read_callback = req_body;
    sid = nghttp2_submit_request(client.s, NULL, nv, 6, &prd, NULL);
    ck_assert_int_gt(sid, 0);
    pump();
    return sid;
}

START_TEST(tc_forward_and_relay)
{
    nghttp2_nv rnv[] = {NV(":status", "200"), NV("content-type", "application/grpc"),
                        NV("grpc-status", "0")};
    int32_t sid = client_call(PATH_INTERRUPT, true);

    /* the request reached the backend, message and all */
    ck_assert_ptr_nonnull(backend.s);
    ck_assert_str_eq(backend.path, PATH_INTERRUPT);
    ck_assert_uint_eq(backend.ndata, sizeof(req));
    ck_assert_int_eq(nghttp2_submit_response(backend.s, backend.last_sid, rnv, 3, NULL), 0);
    pump();
    ck_assert_str_eq(client.grpc_status, "0");
    ck_assert_int_eq(client.closed_sid, sid);
    ck_assert_uint_eq(client.closed_code, NGHTTP2_NO_ERROR);
}
END_TEST

START_TEST(tc_refuse_before_backend)
{
    client_call("/spark.connect.SparkConnectService/NoSuchMethod", true);
    ck_assert_str_eq(client.grpc_status, "12"); /* UNIMPLEMENTED */
    ck_assert_msg(strstr(client.grpc_message, "sparkgate") != NULL, "%s", client.grpc_message);
    /* never a byte at the backend */
    ck_assert_ptr_null(backend.s);
}
END_TEST

START_TEST(tc_client_reset_cancels_backend)
{
    int32_t sid = client_call(PATH_INTERRUPT, false);

    ck_assert_ptr_nonnull(backend.s);
    ck_assert_int_eq(backend.nblocks, 1);
    ck_assert_int_eq(nghttp2_submit_rst_stream(client.s, NGHTTP2_FLAG_NONE, sid, NGHTTP2_CANCEL),
                     0);
    pump();
    ck_assert_int_eq(backend.nclosed, 1);
    ck_assert_uint_eq(backend.closed_code, NGHTTP2_CANCEL);
}
END_TEST

START_TEST(tc_backend_loss_is_unavailable)
{
    client_call(PATH_INTERRUPT, true);
    ck_assert_ptr_nonnull(backend.s);
    h2peer_free(&backend);
    pump();
    ck_assert_str_eq(client.grpc_status, "14"); /* UNAVAILABLE */
    ck_assert_msg(strstr(client.grpc_message, "connection") != NULL, "%s", client.grpc_message);
}
END_TEST

Suite *
call_suite(void)
{
    Suite *s = suite_create("call");
    TCase *tc = tcase_create("both halves");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, tc_forward_and_relay);
    tcase_add_test(tc, tc_refuse_before_backend);
    tcase_add_test(tc, tc_client_reset_cancels_backend);
    tcase_add_test(tc, tc_backend_loss_is_unavailable);
    suite_add_tcase(s, tc);
    return s;
}
