/* Unit tests for src/grpc.c: deframer, message encoding, grpc-timeout. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "sg_err.h"
#include "grpc.h"
#include "check_suites.h"

/* Feeds |in| in slices of |step| bytes; collects bodies of complete messages. */
struct collected {
    uint8_t body[4][64];
    size_t len[4];
    int n;
    uint8_t cur[64];
    size_t curlen;
    int begins;
};

static int
feed_all(struct grpc_deframer *d, const uint8_t *in, size_t len, size_t step, struct collected *out)
{
    size_t off = 0;

    while (off < len) {
        size_t chunk = len - off < step ? len - off : step;
        size_t coff = 0;

        while (coff < chunk) {
            enum grpc_df_event ev;
            const uint8_t *piece;
            size_t plen;
            ssize_t r = grpc_deframer_feed(d, in + off + coff, chunk - coff, &ev, &piece, &plen);

            if (r < 0)
                return (int)r;
            coff += (size_t)r;
            if (ev == GRPC_DF_BEGIN)
                out->begins++;
            if ((ev == GRPC_DF_BODY || ev == GRPC_DF_END) && plen > 0) {
                memcpy(out->cur + out->curlen, piece, plen);
                out->curlen += plen;
            }
            if (ev == GRPC_DF_END) {
                if (out->curlen > 0)
                    memcpy(out->body[out->n], out->cur, out->curlen);
                out->len[out->n++] = out->curlen;
                out->curlen = 0;
            }
        }
        off += chunk;
    }
    return 0;
}

static const uint8_t two_msgs[] = {
    0, 0, 0, 0, 3, 'a', 'b', 'c', /* "abc" */
    0, 0, 0, 0, 0,                /* empty message */
};

START_TEST(tc_deframer_any_split)
{
    size_t step;

    /* every chunking, down to one byte per DATA frame, yields the same messages */
    for (step = 1; step <= sizeof(two_msgs); step++) {
        struct grpc_deframer d;
        struct collected c;

        memset(&c, 0, sizeof(c));
        grpc_deframer_init(&d, 1024);
        ck_assert_int_eq(feed_all(&d, two_msgs, sizeof(two_msgs), step, &c), 0);
        ck_assert_int_eq(c.n, 2);
        ck_assert_uint_eq(c.len[0], 3);
        ck_assert_mem_eq(c.body[0], "abc", 3);
        ck_assert_uint_eq(c.len[1], 0);
        ck_assert_int_eq(c.begins, 1); /* the empty message has no BEGIN */
        ck_assert(grpc_deframer_at_boundary(&d));
        ck_assert_uint_eq(d.nmsgs, 2);
    }
}
END_TEST

START_TEST(tc_deframer_rejects_oversize_before_body)
{
    /* docs/security.md G01: 4 GiB claimed, refused as soon as the length is known */
    static const uint8_t in[] = {0, 0xff, 0xff, 0xff, 0xff};
    struct grpc_deframer d;
    struct collected c;

    memset(&c, 0, sizeof(c));
    grpc_deframer_init(&d, 1024);
    ck_assert_int_eq(feed_all(&d, in, sizeof(in), 5, &c), SG_ERR_LIMIT);
}
END_TEST

START_TEST(tc_deframer_limit_boundary)
{
    uint8_t in[5 + 16] = {0, 0, 0, 0, 16};
    struct grpc_deframer d;
    struct collected c;

    memset(&c, 0, sizeof(c));
    grpc_deframer_init(&d, 16);
    ck_assert_int_eq(feed_all(&d, in, sizeof(in), 7, &c), 0);
    ck_assert_int_eq(c.n, 1);
    grpc_deframer_init(&d, 15);
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(feed_all(&d, in, sizeof(in), 7, &c), SG_ERR_LIMIT);
}
END_TEST

START_TEST(tc_deframer_rejects_bad_flag)
{
    static const uint8_t in[] = {2, 0, 0, 0, 1, 'x'};
    struct grpc_deframer d;
    struct collected c;

    memset(&c, 0, sizeof(c));
    grpc_deframer_init(&d, 1024);
    ck_assert_int_eq(feed_all(&d, in, sizeof(in), 6, &c), SG_ERR_PROTO);
}
END_TEST

START_TEST(tc_deframer_partial_is_not_boundary)
{
    static const uint8_t in[] = {0, 0, 0, 0, 10, 'x', 'y'};
    struct grpc_deframer d;
    struct collected c;

    memset(&c, 0, sizeof(c));
    grpc_deframer_init(&d, 1024);
    ck_assert_int_eq(feed_all(&d, in, 3, 3, &c), 0);
    ck_assert(!grpc_deframer_at_boundary(&d));
    ck_assert_int_eq(feed_all(&d, in + 3, sizeof(in) - 3, 1, &c), 0);
    ck_assert(!grpc_deframer_at_boundary(&d));
    ck_assert_int_eq(c.n, 0);
}
END_TEST

START_TEST(tc_deframer_compressed_flag_reported)
{
    static const uint8_t in[] = {1, 0, 0, 0, 1, 'z'};
    struct grpc_deframer d;
    enum grpc_df_event ev;
    const uint8_t *p;
    size_t pl;

    grpc_deframer_init(&d, 1024);
    ck_assert_int_eq(grpc_deframer_feed(&d, in, sizeof(in), &ev, &p, &pl), 5);
    ck_assert_int_eq(ev, GRPC_DF_BEGIN);
    ck_assert_uint_eq(d.flags, 1);
}
END_TEST

/*
 * Receiving a message reserves memory as its bytes arrive, never as the
 * peer declares it: whatever the declared length and however the bytes are
 * split, capacity holds what arrived, stays within the declared length and
 * within max(step, 2 * received), and grows in few steps.
 */
START_TEST(tc_msg_capacity_follows_data)
{
    static const size_t step = 4u << 20;
    static const size_t declared[] = {1, 65537, step - 1, step, step + 1, 128u << 20, 1u << 30};
    unsigned seed = 12345;
    size_t i, got, cap, ncap, need, grows, bound, n;
    int round;

    for (i = 0; i < sizeof(declared) / sizeof(declared[0]); i++) {
        for (round = 0; round < 4; round++) {
            got = cap = grows = 0;
            /* 1..16 bytes per DATA chunk (the first 100 000), or up to 1 MiB */
            for (n = 0; got < declared[i] && (round > 0 || n < 100000); n++) {
                seed = seed * 1103515245u + 12345u;
                need = got + 1 + (seed >> 8) % (round == 0 ? 16u : 1u << 20);
                if (need > declared[i])
                    need = declared[i];
                ncap = grpc_msg_capacity(cap, need, declared[i], step);

                if (ncap != cap)
                    grows++;
                cap = ncap;
                bound = 2 * need > step ? 2 * need : step;
                /* (one check per step would cost Check a write(2) each) */
                if (cap < need || cap > declared[i] || cap > bound)
                    ck_abort_msg("declared %zu, %zu received: capacity %zu", declared[i], need,
                                 cap);
                got = need;
            }
            ck_assert_uint_le(grows, 12);
        }
    }
    /* the first byte of a message declared 128 MiB reserves one step */
    ck_assert_uint_eq(grpc_msg_capacity(0, 1, 128u << 20, step), step);
    ck_assert_uint_eq(grpc_msg_capacity(0, 1, 100, step), 100);
    ck_assert_uint_eq(grpc_msg_capacity(step, step, 128u << 20, step), step);
    ck_assert_uint_eq(grpc_msg_capacity(step, step + 1, 128u << 20, step), 2 * step);
}
END_TEST

START_TEST(tc_frame_header)
{
    uint8_t h[5];

    grpc_frame_header(h, false, 0x01020304u);
    ck_assert_mem_eq(h, "\x00\x01\x02\x03\x04", 5);
    grpc_frame_header(h, true, 7);
    ck_assert_mem_eq(h, "\x01\x00\x00\x00\x07", 5);
}
END_TEST

START_TEST(tc_message_encode)
{
    char out[64];

    grpc_message_encode("ok: 100%", out, sizeof(out));
    ck_assert_str_eq(out, "ok: 100%25");
    grpc_message_encode("caf\xc3\xa9\n", out, sizeof(out));
    ck_assert_str_eq(out, "caf%C3%A9%0A");
    /* truncation never splits an escape */
    grpc_message_encode("ab\n", out, 5);
    ck_assert_str_eq(out, "ab");
    ck_assert_uint_eq(grpc_message_encode("x", out, 0), 0);
}
END_TEST

START_TEST(tc_timeout_parse)
{
    static const struct {
        const char *in;
        int rv;
        uint64_t ms;
    } cases[] = {
        {"1S", 0, 1000},
        {"100m", 0, 100},
        {"1500u", 0, 2},
        {"1n", 0, 1},
        {"2M", 0, 120000},
        {"1H", 0, 3600000},
        {"99999999H", 0, UINT32_MAX},
        {"123456789S", SG_ERR_PROTO, 0},
        {"S", SG_ERR_PROTO, 0},
        {"-1S", SG_ERR_PROTO, 0},
        {"10x", SG_ERR_PROTO, 0},
        {"", SG_ERR_PROTO, 0},
        {"1 S", SG_ERR_PROTO, 0},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t ms = 0;
        int rv = grpc_timeout_parse(cases[i].in, strlen(cases[i].in), &ms);

        ck_assert_msg(rv == cases[i].rv, "case %s: rv %d", cases[i].in, rv);
        if (rv == 0)
            ck_assert_msg(ms == cases[i].ms, "case %s: %llu ms", cases[i].in,
                          (unsigned long long)ms);
    }
}
END_TEST

START_TEST(tc_status_names)
{
    ck_assert_str_eq(grpc_status_name(14), "UNAVAILABLE");
    ck_assert_str_eq(grpc_status_name(16), "UNAUTHENTICATED");
    ck_assert_str_eq(grpc_status_name(99), "UNKNOWN");
    ck_assert_str_eq(grpc_status_name(-1), "UNKNOWN");
}
END_TEST

START_TEST(tc_content_type)
{
    static const char *const ok[] = {
        "application/grpc",
        "application/grpc+proto",
        "application/grpc;charset=utf-8",
        "application/grpc+proto; charset=utf-8",
        "application/grpc ;x=y",
    };
    static const char *const refused[] = {
        "application/grpc+json",   "application/grpc+json;charset=utf-8",
        "application/grpc-web",    "application/grpc-web+proto",
        "application/grpcx",       "application/grpc+protobuf",
        "application/grpc+proto2", "application/grpc+",
        "application/json",        "",
        "application/grp",         "Application/grpc",
        "application/grpc proto",
    };
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        ck_assert_msg(grpc_content_type_ok((const uint8_t *)ok[i], strlen(ok[i])), "%s", ok[i]);
    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        ck_assert_msg(!grpc_content_type_ok((const uint8_t *)refused[i], strlen(refused[i])), "%s",
                      refused[i]);
}
END_TEST

Suite *
grpc_suite(void)
{
    Suite *s = suite_create("grpc");
    TCase *tc = tcase_create("grpc");

    tcase_add_test(tc, tc_deframer_any_split);
    tcase_add_test(tc, tc_deframer_rejects_oversize_before_body);
    tcase_add_test(tc, tc_deframer_limit_boundary);
    tcase_add_test(tc, tc_deframer_rejects_bad_flag);
    tcase_add_test(tc, tc_deframer_partial_is_not_boundary);
    tcase_add_test(tc, tc_deframer_compressed_flag_reported);
    tcase_add_test(tc, tc_msg_capacity_follows_data);
    tcase_add_test(tc, tc_frame_header);
    tcase_add_test(tc, tc_message_encode);
    tcase_add_test(tc, tc_timeout_parse);
    tcase_add_test(tc, tc_status_names);
    tcase_add_test(tc, tc_content_type);
    suite_add_tcase(s, tc);
    return s;
}
