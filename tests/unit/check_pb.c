/* Unit tests for src/pb.c: the protobuf wire cursor (docs/security.md P02-P05, P07). */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <check.h>

#include "sg_err.h"
#include "pb.h"
#include "check_suites.h"

START_TEST(tc_varint_roundtrip)
{
    static const uint64_t vals[] = {0,         1,          127,
                                    128,       300,        16383,
                                    16384,     UINT32_MAX, (uint64_t)1 << 63,
                                    UINT64_MAX};
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
    static const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                     0x80, 0x80, 0x80, 0x80, 0x01};
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
    static const uint8_t msg[] = {0x0a, 2, 'a', 'b', 0x10, 0x96, 0x01, 0x19, 1, 0, 0,
                                  0,    0, 0,   0,   0,    0x25, 2,    0,    0, 0};
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
        {"length near 2^64",
         {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
         11},
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
    /* docs/security.md P07: session_id twice, "A" then "B": protobuf-java keeps "B" */
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

/* protobuf-java's rules: Unicode's well-formed sequences, nothing else */
START_TEST(tc_utf8)
{
    static const struct {
        const char *s;
        size_t n;
        bool ok;
    } v[] = {
        {"", 0, true},
        {"plain ascii, longer than eight bytes", 36, true},
        {"a\0b", 3, true},             /* NUL is a code point */
        {"\xc2\x80", 2, true},         /* U+0080 */
        {"\xdf\xbf", 2, true},         /* U+07FF */
        {"\xe0\xa0\x80", 3, true},     /* U+0800 */
        {"\xed\x9f\xbf", 3, true},     /* U+D7FF */
        {"\xee\x80\x80", 3, true},     /* U+E000 */
        {"\xef\xbf\xbf", 3, true},     /* U+FFFF */
        {"\xf0\x90\x80\x80", 4, true}, /* U+10000 */
        {"\xf4\x8f\xbf\xbf", 4, true}, /* U+10FFFF */
        {"12345678\xc3\xa9"
         "12345678",
         18, true},                     /* across the 8-byte fast path */
        {"\x80", 1, false},             /* lone continuation */
        {"\xc0\x80", 2, false},         /* overlong NUL */
        {"\xc1\xbf", 2, false},         /* overlong */
        {"\xe0\x9f\xbf", 3, false},     /* overlong 3-byte */
        {"\xf0\x8f\xbf\xbf", 4, false}, /* overlong 4-byte */
        {"\xed\xa0\x80", 3, false},     /* surrogate U+D800 */
        {"\xed\xbf\xbf", 3, false},     /* surrogate U+DFFF */
        {"\xf4\x90\x80\x80", 4, false}, /* U+110000 */
        {"\xf5\x80\x80\x80", 4, false},
        {"\xff", 1, false},
        {"\xe2\x82", 2, false},     /* truncated */
        {"\xe2\x28\xa1", 3, false}, /* bad continuation */
        {"1234567\xc3", 8, false},  /* truncated at the end of a word */
    };

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        ck_assert_msg(pb_utf8_valid((const uint8_t *)v[i].s, v[i].n) == v[i].ok, "case %zu", i);
}
END_TEST

/* Every 1-, 2- and 3-byte sequence against a decoder written from the definition. */
static int
ref_utf8_len(const uint8_t *p, size_t n)
{
    uint32_t cp;
    int len;

    if (n == 0)
        return 0;
    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = p[0] & 0x1fu;
    } else if ((p[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = p[0] & 0x0fu;
    } else if ((p[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = p[0] & 0x07u;
    } else {
        return -1;
    }
    if (n < (size_t)len)
        return -1;
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return -1;
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return -1;
    return len;
}

static bool
ref_utf8_valid(const uint8_t *p, size_t n)
{
    while (n > 0) {
        int l = ref_utf8_len(p, n);

        if (l <= 0)
            return false;
        p += l;
        n -= (size_t)l;
    }
    return true;
}

START_TEST(tc_utf8_exhaustive_2_3)
{
    static const uint8_t third[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f,
                                    0xa0, 0xbf, 0xc0, 0xc2, 0xe0, 0xf0, 0xff};
    uint8_t b[3];
    unsigned bad = 0;

    for (unsigned x = 0; x < 256; x++) {
        b[0] = (uint8_t)x;
        bad += pb_utf8_valid(b, 1) != ref_utf8_valid(b, 1);
        for (unsigned y = 0; y < 256; y++) {
            b[1] = (uint8_t)y;
            bad += pb_utf8_valid(b, 2) != ref_utf8_valid(b, 2);
            for (size_t z = 0; z < sizeof(third); z++) {
                b[2] = third[z];
                bad += pb_utf8_valid(b, 3) != ref_utf8_valid(b, 3);
            }
        }
    }
    ck_assert_uint_eq(bad, 0);
}
END_TEST

START_TEST(tc_packed_varints)
{
    ck_assert(pb_packed_varints_valid((const uint8_t *)"", 0));
    ck_assert(pb_packed_varints_valid((const uint8_t *)"\x01\x96\x01\x7f", 4));
    ck_assert(!pb_packed_varints_valid((const uint8_t *)"\x01\x96", 2));
    ck_assert(
        !pb_packed_varints_valid((const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10));
}
END_TEST

/* The one length-field writer: prefix, whole field and its size agree, and read back. */
START_TEST(tc_len_field_writer)
{
    static const uint32_t nums[] = {1, 2, 15, 16, 2047, 2048, PB_MAX_FIELD};
    static const size_t lens[] = {0, 1, 127, 128, 300, 16383, 16384};
    static uint8_t payload[16384], out[16384 + PB_LEN_HDR_MAX];
    struct pb_cur cur;
    struct pb_field f;
    size_t i, j, n;

    memset(payload, 'x', sizeof(payload));
    for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        for (j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
            n = pb_put_len_field(out, nums[i], payload, lens[j]);
            ck_assert_uint_eq(n, pb_len_field_size(nums[i], lens[j]));
            ck_assert_uint_eq(pb_put_len_hdr(out, nums[i], lens[j]), n - lens[j]);
            ck_assert_uint_le(n - lens[j], PB_LEN_HDR_MAX);
            pb_cur_init(&cur, out, n);
            ck_assert_int_eq(pb_next(&cur, &f), 1);
            ck_assert_uint_eq(f.num, nums[i]);
            ck_assert_int_eq(f.wt, PB_WT_LEN);
            ck_assert_uint_eq(f.len, lens[j]);
            ck_assert_int_eq(pb_next(&cur, &f), 0);
        }
    }
    /* the widest prefix: largest field number, largest length */
    ck_assert_uint_le(pb_put_len_hdr(out, PB_MAX_FIELD, SIZE_MAX), PB_LEN_HDR_MAX);
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
    tcase_add_test(tc, tc_utf8);
    tcase_add_test(tc, tc_utf8_exhaustive_2_3);
    tcase_add_test(tc, tc_packed_varints);
    tcase_add_test(tc, tc_len_field_writer);
    suite_add_tcase(s, tc);
    return s;
}
