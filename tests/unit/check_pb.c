/* Unit tests for src/pb.c: the protobuf wire cursor (security-notes P02-P05, P07). */
#include "config.h"

#include <string.h>
#include <check.h>

#include "sg_err.h"
#include "pb.h"
#include "check_suites.h"

START_TEST(tc_varint_roundtrip)
{
    static const uint64_t vals[] = {0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX,
                                    (uint64_t)1 << 63, UINT64_MAX};
    size_t i;

    for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        uint8_t buf[10];
        const uint8_t *p = buf;
        uint64_t out = 0;
        size_t n = pb_put_varint(buf, vals[i]);

        ck_assert_uint_eq(n, pb_varint_size(vals[i]));
        ck_assert_int_eq(pb_read_varint(&p, buf + n, &out), 0);
        ck_assert(out == vals[i]);
        ck_assert_ptr_eq(p, buf + n);
    }
}
END_TEST

START_TEST(tc_varint_rejects_overlong)
{
    /* 11 bytes; 10 bytes with the last > 1; truncated */
    static const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    static const uint8_t tenbig[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    static const uint8_t trunc[] = {0x80, 0x80};
    const uint8_t *p;
    uint64_t v;

    p = eleven;
    ck_assert_int_eq(pb_read_varint(&p, eleven + sizeof(eleven), &v), SG_ERR_PROTO);
    p = tenbig;
    ck_assert_int_eq(pb_read_varint(&p, tenbig + sizeof(tenbig), &v), SG_ERR_PROTO);
    p = trunc;
    ck_assert_int_eq(pb_read_varint(&p, trunc + sizeof(trunc), &v), SG_ERR_PROTO);
}
END_TEST

START_TEST(tc_next_fields)
{
    /* 1: "ab", 2: varint 150, 3: fixed64, 4: fixed32 */
    static const uint8_t msg[] = {0x0a, 2,    'a',  'b',  0x10, 0x96, 0x01, 0x19, 1, 0, 0, 0,
                                  0,    0,    0,    0,    0x25, 2,    0,    0,    0};
    struct pb_cur c;
    struct pb_field f;

    pb_cur_init(&c, msg, sizeof(msg));
    ck_assert_int_eq(pb_next(&c, &f), 1);
    ck_assert_uint_eq(f.num, 1);
    ck_assert_int_eq(f.wt, PB_WT_LEN);
    ck_assert_uint_eq(f.len, 2);
    ck_assert_mem_eq(f.data, "ab", 2);
    ck_assert_int_eq(pb_next(&c, &f), 1);
    ck_assert_uint_eq(f.num, 2);
    ck_assert(f.v == 150);
    ck_assert_int_eq(pb_next(&c, &f), 1);
    ck_assert(f.wt == PB_WT_I64 && f.v == 1);
    ck_assert_int_eq(pb_next(&c, &f), 1);
    ck_assert(f.wt == PB_WT_I32 && f.v == 2);
    ck_assert_int_eq(pb_next(&c, &f), 0);
}
END_TEST

START_TEST(tc_rejects_bad_input)
{
    static const struct {
        const char *name;
        uint8_t b[12];
        size_t n;
    } cases[] = {
        {"length beyond buffer", {0x0a, 0x7f, 'x'}, 3},
        {"length near 2^64", {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 11},
        {"field 0", {0x02, 0x00}, 2},
        {"wire type 3 (group)", {0x0b}, 1},
        {"wire type 4", {0x0c}, 1},
        {"wire type 6", {0x0e, 0}, 2},
        {"wire type 7", {0x0f, 0}, 2},
        {"truncated fixed64", {0x09, 1, 2, 3}, 4},
        {"truncated fixed32", {0x0d, 1, 2}, 3},
        {"truncated tag", {0x80}, 1},
        {"field above 2^29-1", {0xf8, 0xff, 0xff, 0xff, 0x1f, 0}, 6},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_msg(pb_validate(cases[i].b, cases[i].n) == SG_ERR_PROTO, "%s accepted",
                      cases[i].name);
    ck_assert_int_eq(pb_validate((const uint8_t *)"", 0), 0);
}
END_TEST

START_TEST(tc_find_last_wins)
{
    /* security-notes P07: session_id twice, "A" then "B": protobuf-java keeps "B" */
    static const uint8_t msg[] = {0x0a, 1, 'A', 0x12, 0, 0x0a, 1, 'B'};
    const uint8_t *v;
    size_t n;

    ck_assert_int_eq(pb_find_last_len(msg, sizeof(msg), 1, &v, &n), 1);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(v[0], 'B');
    ck_assert_int_eq(pb_find_last_len(msg, sizeof(msg), 3, &v, &n), 0);
    /* field 1 as a varint is a type error, not a miss */
    ck_assert_int_eq(pb_find_last_len((const uint8_t *)"\x08\x01", 2, 1, &v, &n), SG_ERR_PROTO);
}
END_TEST

Suite *
pb_suite(void)
{
    Suite *s = suite_create("pb");
    TCase *tc = tcase_create("pb");

    tcase_add_test(tc, tc_varint_roundtrip);
    tcase_add_test(tc, tc_varint_rejects_overlong);
    tcase_add_test(tc, tc_next_fields);
    tcase_add_test(tc, tc_rejects_bad_input);
    tcase_add_test(tc, tc_find_last_wins);
    suite_add_tcase(s, tc);
    return s;
}
