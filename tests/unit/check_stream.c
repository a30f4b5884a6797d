/*
 * Unit tests for the stream layer's small modules: util_printable()
 * (util_str.c), header lists and crossing rules (hdrs.c), the log line
 * helpers (calllog.c) and the request stages' header checks (req_stage.c,
 * on a call built by hand: no connection).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <check.h>
#include <event2/buffer.h>

#include "call_int.h"
#include "calllog.h"
#include "cfg.h"
#include "grpc.h"
#include "hdrs.h"
#include "redact.h"
#include "req_stage.h"
#include "resp_filter.h"
#include "route.h"
#include "sc.h"
#include "util.h"
#include "check_suites.h"
#include "pbenc.h"

START_TEST(tc_printable)
{
    char out[8];

    ck_assert_uint_eq(util_printable(out, sizeof(out), "a\"b\\c\n", 6, "\"\\"), 6);
    ck_assert_str_eq(out, "a?b?c?");
    /* NUL and bytes above 0x7e are replaced; |unsafe| may be empty */
    ck_assert_uint_eq(util_printable(out, sizeof(out), "x\0\xff\x7f\"", 5, ""), 5);
    ck_assert_str_eq(out, "x???\"");
    /* truncated to size - 1 */
    ck_assert_uint_eq(util_printable(out, sizeof(out), "0123456789", 10, ""), 7);
    ck_assert_str_eq(out, "0123456");
    ck_assert_uint_eq(util_printable(out, 1, "abc", 3, ""), 0);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(tc_hdrs_arena)
{
    struct hdrs h;
    char name[16], value[200];
    size_t i;

    memset(&h, 0, sizeof(h));
    /* enough fields and bytes to grow both the array and the arena several times */
    for (i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "x-h%zu", i);
        memset(value, 'a' + (int)(i % 26), sizeof(value) - 1);
        value[sizeof(value) - 1] = '\0';
        ck_assert_int_eq(hdrs_add_str(&h, name, value), 0);
    }
    ck_assert_uint_eq(h.n, 100);
    for (i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "x-h%zu", i);
        ck_assert(hdrs_name_is(h.nv[i].name, h.nv[i].namelen, name));
        ck_assert_uint_eq(h.nv[i].valuelen, sizeof(value) - 1);
        ck_assert_int_eq(h.nv[i].value[0], 'a' + (int)(i % 26));
        ck_assert_int_eq(h.nv[i].value[h.nv[i].valuelen], '\0');
        ck_assert_uint_eq(h.nv[i].flags, NGHTTP2_NV_FLAG_NONE);
    }
    ck_assert_uint_gt(h.bytes, 100 * (sizeof(value) - 1 + 32));
    hdrs_clear(&h);
    ck_assert_uint_eq(h.n, 0);
    ck_assert_ptr_null(h.buf);
    hdrs_clear(&h); /* a cleared list clears again */
}
END_TEST

#define N(s) (const uint8_t *)(s), strlen(s)

START_TEST(tc_hdrs_rules)
{
    char n0[] = "x-token", s0[] = "x-user", p0[] = "x-remote-";
    char *names[] = {n0}, *strip[] = {s0}, *prefixes[] = {p0};
    struct cfg_auth a;

    memset(&a, 0, sizeof(a));
    ck_assert(hdrs_hop_by_hop(N("connection")));
    ck_assert(hdrs_hop_by_hop(N("te")));
    ck_assert(hdrs_hop_by_hop(N("host")));
    ck_assert(!hdrs_hop_by_hop(N("tea")));
    ck_assert(!hdrs_hop_by_hop(N("content-type")));

    a.header_names = names;
    a.nheader_names = 1;
    a.strip_headers = strip;
    a.nstrip_headers = 1;
    a.strip_prefixes = prefixes;
    a.nstrip_prefixes = 1;
    ck_assert_int_eq(hdrs_classify(&a, N("x-token")), HDRS_CREDENTIAL);
    /* never forwarded, whatever the configuration says */
    ck_assert_int_eq(hdrs_classify(&a, N("authorization")), HDRS_STRIP);
    ck_assert_int_eq(hdrs_classify(&a, N("x-sparkgate-principal")), HDRS_STRIP);
    ck_assert_int_eq(hdrs_classify(&a, N("x-user")), HDRS_STRIP);
    ck_assert_int_eq(hdrs_classify(&a, N("x-remote-group")), HDRS_STRIP);
    ck_assert_int_eq(hdrs_classify(&a, N("x-users")), HDRS_FORWARD);
    ck_assert_int_eq(hdrs_classify(&a, N("x-remote")), HDRS_FORWARD);
    ck_assert_int_eq(hdrs_classify(&a, N("user-agent")), HDRS_FORWARD);
}
END_TEST

START_TEST(tc_calllog_safe)
{
    char out[16];

    calllog_safe(out, sizeof(out), NULL, 0, false);
    ck_assert_str_eq(out, "-");
    calllog_safe(out, sizeof(out), N("a b\"c\n"), false);
    ck_assert_str_eq(out, "a?b'c?");
    calllog_safe(out, sizeof(out), N("a b\"c\n"), true);
    ck_assert_str_eq(out, "a b'c?");
}
END_TEST

START_TEST(tc_plan_digest)
{
    /* session_id (1) and user_context (2) do not count; the plan (3) does */
    static const uint8_t a[] = {0x0a, 1, 's', 0x12, 2, 0x0a, 0, 0x1a, 1, 'p'};
    static const uint8_t b[] = {0x0a, 2, 's', 't', 0x1a, 1, 'p'};
    static const uint8_t c[] = {0x0a, 1, 's', 0x1a, 1, 'q'};
    char da[17], db[17], dc[17];

    calllog_plan_digest(a, sizeof(a), da);
    calllog_plan_digest(b, sizeof(b), db);
    calllog_plan_digest(c, sizeof(c), dc);
    ck_assert_uint_eq(strlen(da), 16);
    ck_assert_str_eq(da, db);
    ck_assert_str_ne(da, dc);
}
END_TEST

/* A call as the request headers leave it, with a configuration of defaults. */
static struct call *
header_call(struct cfg *cfg, const char *path)
{
    struct call *c = calloc(1, sizeof(*c));

    ck_assert_ptr_nonnull(c);
    c->magic = CALL_MAGIC;
    c->cfg = cfg;
    c->has_method = c->method_post = true;
    c->has_ct = c->ct_grpc = true;
    snprintf(c->path, sizeof(c->path), "%s", path);
    c->m = sc_method_by_path(path, strlen(path));
    return c;
}

START_TEST(tc_stage_validate)
{
    struct cfg *cfg = calloc(1, sizeof(*cfg));
    struct call_verdict v;
    struct call *c;

    ck_assert_ptr_nonnull(cfg);
    cfg->limits.max_header_count = 7;
    cfg->limits.max_header_list_size = 99;

    c = header_call(cfg, "/x/\x01y");
    ck_assert_int_eq(req_stage_headers(c, &v), CALL_REFUSE);
    ck_assert_int_eq(v.status, GRPC_UNIMPLEMENTED);
    ck_assert_str_eq(v.msg, "sparkgate: unknown method /x/?y");
    ck_assert_uint_eq(c->stage_next, 0); /* stopped at validate */
    free(c);

    c = header_call(cfg, "/spark.connect.SparkConnectService/ExecutePlan");
    c->method_post = false;
    ck_assert_int_eq(req_stage_headers(c, &v), CALL_HTTP);
    ck_assert_str_eq(v.http, "405");
    c->method_post = true;
    c->ct_grpc = false;
    ck_assert_int_eq(req_stage_headers(c, &v), CALL_HTTP);
    ck_assert_str_eq(v.http, "415");
    c->hdr_overflow = true;
    ck_assert_int_eq(req_stage_headers(c, &v), CALL_REFUSE);
    ck_assert_int_eq(v.status, GRPC_RESOURCE_EXHAUSTED);
    ck_assert_ptr_nonnull(strstr(v.msg, "limits.max_header_count (7)"));
    ck_assert_ptr_nonnull(strstr(v.msg, "(99 bytes)"));
    free(c);

    /* a token past auth.max_token_bytes is refused by the next stage, unread */
    c = header_call(cfg, "/spark.connect.SparkConnectService/ExecutePlan");
    cfg->auth.max_token_bytes = 123;
    c->cred.too_long = true;
    c->cred.n = 1;
    ck_assert_int_eq(req_stage_headers(c, &v), CALL_REFUSE);
    ck_assert_int_eq(v.status, GRPC_UNAUTHENTICATED);
    ck_assert_ptr_nonnull(strstr(v.msg, "123"));
    ck_assert_uint_eq(c->stage_next, 1); /* validate passed */
    free(c);
    free(cfg);
}
END_TEST

/* A gRPC frame around |m| (consumed). */
static struct buf *
framed(struct buf *m)
{
    struct buf *b = B();
    uint8_t hdr[GRPC_HDR_LEN];

    grpc_frame_header(hdr, false, (uint32_t)m->n);
    put(b, hdr, sizeof(hdr));
    put(b, m->p, m->n);
    bfree(m);
    return b;
}

static bool
resp_has(struct call *c, const char *s)
{
    size_t n = evbuffer_get_length(c->resp);
    const uint8_t *p = evbuffer_pullup(c->resp, -1);

    return n > 0 && memmem(p, n, s, strlen(s)) != NULL;
}

/* The Config redaction, driven through the filter list on a call built by hand. */
START_TEST(tc_filter_config)
{
    struct cfg *cfg = calloc(1, sizeof(*cfg));
    struct cfg_backend be;
    struct call_verdict v;
    struct call *c = calloc(1, sizeof(*c));
    struct buf *req, *one, *two;
    uint8_t hdr[GRPC_HDR_LEN];

    ck_assert_ptr_nonnull(cfg);
    ck_assert_ptr_nonnull(c);
    memset(&be, 0, sizeof(be));
    be.preshared_token = (char *)(uintptr_t) "s3cr3t";
    be.preshared_token_len = 6;
    cfg->backends = &be;
    cfg->nbackends = 1;
    cfg->limits.max_request_message_size = 1u << 20;
    c->magic = CALL_MAGIC;
    c->cfg = cfg;
    c->resp = evbuffer_new();
    ck_assert_ptr_nonnull(c->resp);

    /* not a Config call: no filter, the response passes unparsed */
    c->m = sc_method_get(SC_M_EXECUTE_PLAN);
    ck_assert_int_eq(resp_filter_start(c, &v), 0);
    ck_assert(!resp_filter_any(&c->rf));

    c->m = sc_method_get(SC_M_CONFIG);
    ck_assert_int_eq(resp_filter_start(c, &v), 0);
    ck_assert(resp_filter_any(&c->rf));
    c->df.nmsgs = 1;
    req = C(2, S(1, "s"), F(3, F(5, S(1, "spark."))));
    ck_assert_int_eq(resp_filter_request(c, req->p, req->n, &v), 0);
    bfree(req);

    /* one message split over two chunks: nothing reaches the client before it is whole */
    one = framed(C(2, S(1, "sess"), F(2, C(2, S(1, "app.k"), S(2, "x-s3cr3t")))));
    ck_assert_int_eq(resp_filter_data(c, one->p, 7, &v), 0);
    ck_assert_uint_eq(evbuffer_get_length(c->resp), 0);
    ck_assert_int_eq(resp_filter_end(c, &v), CALL_REFUSE); /* ended inside a message */
    ck_assert_int_eq(v.status, GRPC_INTERNAL);
    ck_assert_int_eq(resp_filter_data(c, one->p + 7, one->n - 7, &v), 0);
    ck_assert(resp_has(c, REDACT_VALUE));
    ck_assert(!resp_has(c, "s3cr3t"));
    /* re-framed at the new length */
    ck_assert_int_eq(evbuffer_remove(c->resp, hdr, sizeof(hdr)), (int)sizeof(hdr));
    ck_assert_uint_eq(((uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 8 |
                       hdr[4]),
                      evbuffer_get_length(c->resp));
    evbuffer_drain(c->resp, evbuffer_get_length(c->resp));
    ck_assert_int_eq(resp_filter_end(c, &v), 0);

    /* several messages in one chunk: each redacted, none left behind */
    two = framed(C(2, S(1, "sess"), F(2, C(2, S(1, "a"), S(2, "s3cr3t")))));
    put(two, one->p, one->n);
    put(two, one->p, one->n);
    ck_assert_int_eq(resp_filter_data(c, two->p, two->n, &v), 0);
    ck_assert(!resp_has(c, "s3cr3t"));
    ck_assert_int_eq(resp_filter_end(c, &v), 0);
    evbuffer_drain(c->resp, evbuffer_get_length(c->resp));
    bfree(two);

    /*
     * More messages in one chunk than there can be backends: the secrets
     * are gathered afresh for each message (they once piled up past
     * CFG_MAX_BACKENDS, a stack overflow a backend could trigger).
     */
    {
        struct buf *many = B(), *small = framed(C(1, F(2, C(2, S(1, "k"), S(2, "s3cr3t")))));
        int i;

        for (i = 0; i < CFG_MAX_BACKENDS + 8; i++)
            put(many, small->p, small->n);
        ck_assert_int_eq(resp_filter_data(c, many->p, many->n, &v), 0);
        ck_assert(!resp_has(c, "s3cr3t"));
        ck_assert(resp_has(c, REDACT_VALUE));
        evbuffer_drain(c->resp, evbuffer_get_length(c->resp));
        bfree(small);
        bfree(many);
    }

    /* a compressed message cannot be read, so it is refused */
    one->p[0] = 1;
    ck_assert_int_eq(resp_filter_data(c, one->p, one->n, &v), CALL_REFUSE);
    ck_assert_int_eq(v.status, GRPC_INTERNAL);
    ck_assert_ptr_nonnull(strstr(v.msg, "compressed"));
    ck_assert_uint_eq(evbuffer_get_length(c->resp), 0);
    bfree(one);

    resp_filter_free(c);
    ck_assert(!resp_filter_any(&c->rf));
    evbuffer_free(c->resp);
    free(c);
    free(cfg);
}
END_TEST

#define UUID "00112233-4455-6677-8899-aabbccddeeff"

/*
 * The message stages on a call built by hand (anonymous, no profiles): a
 * valid message goes through every stage and the first one picks the
 * backend from its session; what Spark would refuse stops at the first
 * stage, before anything is routed.
 */
static const char *
stream_backend_name(const void *set, size_t i)
{
    return ((const struct cfg_backend *)set)[i].name;
}

START_TEST(tc_stage_message)
{
    struct cfg *cfg = calloc(1, sizeof(*cfg));
    struct cfg_backend be[3];
    struct call_verdict v;
    struct call *c = calloc(1, sizeof(*c));
    struct buf *m;
    size_t want;

    ck_assert_ptr_nonnull(cfg);
    ck_assert_ptr_nonnull(c);
    memset(be, 0, sizeof(be));
    be[0].name = (char *)(uintptr_t) "b0";
    be[1].name = (char *)(uintptr_t) "b1";
    be[2].name = (char *)(uintptr_t) "b2";
    cfg->backends = be;
    cfg->nbackends = 3;
    cfg->auth.anonymous = true;
    c->magic = CALL_MAGIC;
    c->cfg = cfg;
    c->m = sc_method_get(SC_M_EXECUTE_PLAN);
    c->msg = evbuffer_new();
    ck_assert_ptr_nonnull(c->msg);

    /* no plan: refused by the first stage, nothing routed */
    m = C(2, S(1, UUID), F(2, S(1, "u")));
    evbuffer_add(c->msg, m->p, m->n);
    bfree(m);
    c->df.nmsgs = 1;
    ck_assert_int_eq(req_stage_message(c, &v), CALL_REFUSE);
    ck_assert_int_eq(v.status, GRPC_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(v.msg, "ExecutePlan request message"));
    ck_assert(!c->routed);
    evbuffer_drain(c->msg, evbuffer_get_length(c->msg));

    /* a plan: every stage passes; the routing key is (no principal, session_id) */
    m = C(3, S(1, UUID), F(2, S(1, "u")), F(3, F(1, F(1, S(1, "x")))));
    evbuffer_add(c->msg, m->p, m->n);
    bfree(m);
    ck_assert_int_eq(req_stage_message(c, &v), CALL_GO_ON);
    ck_assert(c->routed);
    ck_assert_uint_eq(c->route_key_len, 1 + strlen(UUID));
    ck_assert_int_eq(c->route_key[0], '\0');
    ck_assert(memcmp(c->route_key + 1, UUID, strlen(UUID)) == 0);
    want = route_pick(stream_backend_name, cfg->backends, cfg->nbackends,
                      (const uint8_t *)c->route_key, c->route_key_len);
    ck_assert_uint_eq(c->backend_idx, want);

    /* a second message on a unary call is never judged or passed */
    c->df.nmsgs = 2;
    ck_assert_int_eq(req_stage_message(c, &v), CALL_REFUSE);
    ck_assert_int_eq(v.status, GRPC_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(v.msg, "exactly one request message"));

    evbuffer_free(c->msg);
    free(c);
    free(cfg);
}
END_TEST

Suite *
stream_suite(void)
{
    Suite *s = suite_create("stream");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, tc_printable);
    tcase_add_test(tc, tc_hdrs_arena);
    tcase_add_test(tc, tc_hdrs_rules);
    tcase_add_test(tc, tc_calllog_safe);
    tcase_add_test(tc, tc_plan_digest);
    tcase_add_test(tc, tc_stage_validate);
    tcase_add_test(tc, tc_filter_config);
    tcase_add_test(tc, tc_stage_message);
    suite_add_tcase(s, tc);
    return s;
}
