/* Unit tests for src/h2scan.c: header block boundaries in a client's bytes. */
#include "config.h"

#include <string.h>
#include <check.h>

#include "h2scan.h"
#include "check_suites.h"

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/* Appends a frame with |len| zero payload bytes; returns the new length. */
static size_t
put_frame(uint8_t *buf, size_t off, uint8_t type, uint8_t flags, uint32_t sid, uint32_t len)
{
    buf[off + 0] = (uint8_t)(len >> 16);
    buf[off + 1] = (uint8_t)(len >> 8);
    buf[off + 2] = (uint8_t)len;
    buf[off + 3] = type;
    buf[off + 4] = flags;
    buf[off + 5] = (uint8_t)(sid >> 24);
    buf[off + 6] = (uint8_t)(sid >> 16);
    buf[off + 7] = (uint8_t)(sid >> 8);
    buf[off + 8] = (uint8_t)sid;
    memset(buf + off + 9, 0, len);
    return off + 9 + len;
}

/*
 * preface, SETTINGS, HEADERS(no END_HEADERS), CONTINUATION(END_HEADERS),
 * DATA, HEADERS(END_HEADERS, empty), HEADERS(END_HEADERS) with 300 bytes.
 * in_block must be true exactly from the 9th byte of each HEADERS frame
 * header to the last payload byte of its END_HEADERS frame, whatever the
 * slicing.
 */
START_TEST(tc_blocks_any_split)
{
    static uint8_t buf[2048];
    bool expect[2048];
    size_t len = sizeof(preface) - 1, i, step, b1, e1, b2, b3, e3;
    struct h2scan s;

    memcpy(buf, preface, len);
    len = put_frame(buf, len, 0x4, 0, 0, 6);
    b1 = len + 9;
    len = put_frame(buf, len, 0x1, 0, 1, 20);
    len = put_frame(buf, len, 0x9, 0x4, 1, 30);
    e1 = len;
    len = put_frame(buf, len, 0x0, 0x1, 1, 40);
    b2 = len + 9; /* empty END_HEADERS frame: begins and ends at once */
    len = put_frame(buf, len, 0x1, 0x4, 3, 0);
    b3 = len + 9;
    len = put_frame(buf, len, 0x1, 0x4 | 0x1, 5, 300);
    e3 = len;
    for (i = 0; i < len; i++)
        expect[i] = (i + 1 >= b1 && i + 1 < e1) || (i + 1 >= b3 && i + 1 < e3);
    (void)b2;
    for (step = 1; step <= len; step++) {
        size_t off;

        h2scan_init(&s);
        for (off = 0; off < len; off += step) {
            size_t n = len - off < step ? len - off : step;

            h2scan_feed(&s, buf + off, n);
            ck_assert_msg(s.in_block == expect[off + n - 1], "step %zu off %zu", step, off);
        }
        ck_assert(!s.in_block);
        ck_assert_uint_eq(s.blocks, 3);
    }
}
END_TEST

/* A last frame that stops one byte short keeps the block open. */
START_TEST(tc_cut_last_frame_is_open)
{
    static uint8_t buf[512];
    size_t len = sizeof(preface) - 1;
    struct h2scan s;

    memcpy(buf, preface, len);
    len = put_frame(buf, len, 0x1, 0x4, 1, 100);
    h2scan_init(&s);
    h2scan_feed(&s, buf, len - 1);
    ck_assert(s.in_block);
    h2scan_feed(&s, buf + len - 1, 1);
    ck_assert(!s.in_block);
}
END_TEST

Suite *
h2scan_suite(void)
{
    Suite *s = suite_create("h2scan");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, tc_blocks_any_split);
    tcase_add_test(tc, tc_cut_last_frame_is_open);
    suite_add_tcase(s, tc);
    return s;
}
