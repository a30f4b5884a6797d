/*
 * check_jpos.c: unit tests for jpos.c (JSON positions, comment stripping).
 *
 * Columns count characters (UTF-8 code points), as jansson's do; the
 * tc_agrees_with_jansson case holds both to that.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>
#include <jansson.h>

#include "jpos.h"
#include "check_suites.h"

/* ---- jpos_strip_comments ------------------------------------------------- */

struct strip_case {
    const char *in;
    const char *out;  /* NULL: error expected */
    size_t line, col; /* error position */
};

static const struct strip_case strip_cases[] = {
    /* comment markers inside strings are string bytes */
    {"{\"a\": \"//x\"}", "{\"a\": \"//x\"}", 0, 0},
    {"{\"a\": \"/*x*/\"}", "{\"a\": \"/*x*/\"}", 0, 0},
    {"{\"a\": \"/*\"}", "{\"a\": \"/*\"}", 0, 0},
    /* an escaped quote does not end the string; an escaped backslash does not escape it */
    {"{\"a\": \"\\\"//\"} // c", "{\"a\": \"\\\"//\"}     ", 0, 0},
    {"{\"a\": \"\\\\\"} // c", "{\"a\": \"\\\\\"}     ", 0, 0},
    /* line comments keep their newline, CRLF's '\r' becomes a space */
    {"// c\n{}", "    \n{}", 0, 0},
    {"//\r\n{}", "   \n{}", 0, 0},
    {"{\"a\": 1 // x\n}", "{\"a\": 1     \n}", 0, 0},
    /* block comments keep their newlines */
    {"/* a\nb */{}", "    \n    {}", 0, 0},
    /* "*" "/" at the very end */
    {"{} /* c */", "{}        ", 0, 0},
    {"{}/**/", "{}    ", 0, 0},
    /* the '*' of the opener does not close it */
    {"/*/ x */{}", "        {}", 0, 0},
    {"/***/{}", "     {}", 0, 0},
    /* a comment at column 1 of the last line, without a final newline */
    {"{}\n// end", "{}\n      ", 0, 0},
    {"{}\n//", "{}\n  ", 0, 0},
    /* one space per character: columns after the comment do not move */
    {"/* \xc3\xa9\xe2\x98\x95 */{}", "        {}", 0, 0},
    {"// \xf0\x9f\x98\x80\n{}", "    \n{}", 0, 0},
    /* a byte order mark is dropped */
    {"\xef\xbb\xbf{}", "{}", 0, 0},
    /* not comments: copied for jansson to refuse */
    {"{} / x", "{} / x", 0, 0},
    {"{} */", "{} */", 0, 0},
    {"{\"a\": \"x // y", "{\"a\": \"x // y", 0, 0},
    {"", "", 0, 0},
    /* unterminated block comments: position of the opener */
    {"{} /* x", NULL, 1, 4},
    {"/*", NULL, 1, 1},
    {"{}/*/", NULL, 1, 3},
    {"{\n  \"a\": 1, // ok\n  /* \xc3\xa9 */ /* never closed\n}", NULL, 3, 11},
    {"{\r\n/* x */\r\n\t/* x *\r\n", NULL, 3, 2},
};

START_TEST(tc_strip_table)
{
    const struct strip_case *t = &strip_cases[_i];
    size_t len = strlen(t->in), outlen = 12345;
    struct jpos_loc where = {0, 0, 0};
    char *out = malloc(len + 1);
    int rc;

    ck_assert_ptr_nonnull(out);
    rc = jpos_strip_comments(t->in, len, out, &outlen, &where);
    if (t->out == NULL) {
        ck_assert_int_eq(rc, -1);
        ck_assert_uint_eq(where.line, t->line);
        ck_assert_uint_eq(where.col, t->col);
        ck_assert(memcmp(t->in + where.off, "/*", 2) == 0);
    } else {
        ck_assert_int_eq(rc, 0);
        ck_assert_uint_eq(outlen, strlen(t->out));
        ck_assert_mem_eq(out, t->out, outlen);
    }
    free(out);
}
END_TEST

/* out == in is allowed: the output never overtakes the input */
START_TEST(tc_strip_in_place)
{
    char buf[] = "\xef\xbb\xbf{ /* \xc3\xa9 */ \"a\": \"//\\\"\" // \xe2\x98\x95\n}";
    const char want[] = "{         \"a\": \"//\\\"\"     \n}";
    size_t outlen;

    ck_assert_int_eq(jpos_strip_comments(buf, strlen(buf), buf, &outlen, NULL), 0);
    ck_assert_uint_eq(outlen, strlen(want));
    ck_assert_mem_eq(buf, want, outlen);
}
END_TEST

/* the input need not be NUL-terminated: nothing past |len| is read */
START_TEST(tc_strip_exact_length)
{
    const char in[] = {'{', '}', '/', '*'}; /* no NUL after it */
    char out[sizeof(in)];
    size_t outlen;

    ck_assert_int_eq(jpos_strip_comments(in, 2, out, &outlen, NULL), 0);
    ck_assert_uint_eq(outlen, 2);
    ck_assert_int_eq(jpos_strip_comments(in, sizeof(in), out, &outlen, NULL), -1);
}
END_TEST

/* ---- jpos_find ----------------------------------------------------------- */

/*
 * One document with nesting, CRLF on line 2, a tab, multi-byte UTF-8 and
 * comments before the targets.  Columns below are in characters.
 */
static const char doc[] =
    "{ /* top */\r\n"                                                     /* line 1 */
    "  \"listen\": [ {\"address\": \"0.0.0.0:1\"},\r\n"                   /* 2 */
    "\t{\"address\": \"[::1]:2\", \"tls\": {\"ca\": \"\xc3\xa9\"}} ],\n"  /* 3 */
    "  // \"backends\": \"commented out\",\n"                             /* 4 */
    "  \"caf\xc3\xa9\": 1, \"x\": [1, [2, 3], {\"y\": \"]}\\\"\"}, 4],\n" /* 5 */
    "  \"a.b\": {\"c[0]\": true, \"tab\\tkey\": null},\n"                 /* 6 */
    "  \"\\u00e9t\\u00e9\": 1, \"\\ud83d\\ude00\": 2,\n"                  /* 7 */
    "  \"backends\": /* x */ {}\n"                                        /* 8 */
    "}\n";

struct find_case {
    const char *path;
    enum jpos_what what;
    int rc;
    size_t line, col;
};

static const struct find_case find_cases[] = {
    {"", JPOS_KEY, 0, 1, 1},
    {"", JPOS_VALUE, 0, 1, 1},
    {"listen", JPOS_KEY, 0, 2, 3},
    {"listen", JPOS_VALUE, 0, 2, 13},
    {"listen[0]", JPOS_KEY, 0, 2, 15},
    {"listen[0].address", JPOS_KEY, 0, 2, 16},
    {"listen[0].address", JPOS_VALUE, 0, 2, 27},
    {"listen[1]", JPOS_KEY, 0, 3, 2},
    {"listen[1].tls", JPOS_KEY, 0, 3, 25},
    {"listen[1].tls.ca", JPOS_KEY, 0, 3, 33},
    {"listen[1].tls.ca", JPOS_VALUE, 0, 3, 39},
    /* the commented-out key does not exist; the real one is found */
    {"backends", JPOS_KEY, 0, 8, 3},
    {"backends", JPOS_VALUE, 0, 8, 23},
    /* column after multi-byte characters counts characters */
    {"x", JPOS_KEY, 0, 5, 14},
    {"x[0]", JPOS_KEY, 0, 5, 20},
    {"x[1][1]", JPOS_KEY, 0, 5, 27},
    {"x[2].y", JPOS_KEY, 0, 5, 32},
    {"x[3]", JPOS_VALUE, 0, 5, 46},
    {"caf\xc3\xa9", JPOS_KEY, 0, 5, 3},
    /* escaped path names; JSON escapes in the text are decoded */
    {"a\\.b", JPOS_KEY, 0, 6, 3},
    {"a\\.b.c\\[0\\]", JPOS_KEY, 0, 6, 11},
    {"a\\.b.tab\\x09key", JPOS_VALUE, 0, 6, 37},
    {"\xc3\xa9t\xc3\xa9", JPOS_KEY, 0, 7, 3},
    {"\xf0\x9f\x98\x80", JPOS_VALUE, 0, 7, 39},
    /* absent or malformed */
    {"listen[2]", JPOS_KEY, -1, 0, 0},
    {"nope", JPOS_KEY, -1, 0, 0},
    {"listen.address", JPOS_KEY, -1, 0, 0},
    {"[0]", JPOS_KEY, -1, 0, 0},
    {"listen[0", JPOS_KEY, -1, 0, 0},
    {"listen[]", JPOS_KEY, -1, 0, 0},
    {"listen[x]", JPOS_KEY, -1, 0, 0},
    {"listen[0]address", JPOS_KEY, -1, 0, 0},
    {"a\\x0", JPOS_KEY, -1, 0, 0},
    {"cafe", JPOS_KEY, -1, 0, 0},
    {"x[99999999999999999999999]", JPOS_KEY, -1, 0, 0},
};

START_TEST(tc_find_table)
{
    const struct find_case *t = &find_cases[_i];
    struct jpos_loc loc = {0, 0, 0};
    int rc;

    rc = jpos_find(doc, strlen(doc), t->path, t->what, &loc);
    ck_assert_msg(rc == t->rc, "path %s: rc %d", t->path, rc);
    if (rc == 0) {
        ck_assert_msg(loc.line == t->line && loc.col == t->col, "path %s: %zu:%zu, want %zu:%zu",
                      t->path, loc.line, loc.col, t->line, t->col);
    }
}
END_TEST

/* the stripped text gives the same positions as the raw one */
START_TEST(tc_find_after_strip)
{
    size_t len = strlen(doc), outlen, i;
    char *out = malloc(len);
    struct jpos_loc a, b;

    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(jpos_strip_comments(doc, len, out, &outlen, NULL), 0);
    for (i = 0; i < sizeof(find_cases) / sizeof(find_cases[0]); i++) {
        if (find_cases[i].rc != 0)
            continue;
        ck_assert_int_eq(jpos_find(doc, len, find_cases[i].path, find_cases[i].what, &a), 0);
        ck_assert_int_eq(jpos_find(out, outlen, find_cases[i].path, find_cases[i].what, &b), 0);
        ck_assert_uint_eq(a.line, b.line);
        ck_assert_uint_eq(a.col, b.col);
    }
    free(out);
}
END_TEST

START_TEST(tc_find_top_array_and_bom)
{
    const char *t = "\xef\xbb\xbf[1, [2, 3],\n {\"k\": [\"v\"]}]";
    struct jpos_loc loc;

    ck_assert_int_eq(jpos_find(t, strlen(t), "", JPOS_VALUE, &loc), 0);
    ck_assert_uint_eq(loc.off, 3);
    ck_assert_uint_eq(loc.col, 1);
    ck_assert_int_eq(jpos_find(t, strlen(t), "[1][1]", JPOS_VALUE, &loc), 0);
    ck_assert_uint_eq(loc.line, 1);
    ck_assert_uint_eq(loc.col, 9);
    ck_assert_int_eq(jpos_find(t, strlen(t), "[2].k[0]", JPOS_VALUE, &loc), 0);
    ck_assert_uint_eq(loc.line, 2);
    ck_assert_uint_eq(loc.col, 9);
    ck_assert_int_eq(jpos_find(t, strlen(t), "k", JPOS_KEY, &loc), -1);
    /* empty and truncated texts */
    ck_assert_int_eq(jpos_find("", 0, "", JPOS_VALUE, &loc), -1);
    ck_assert_int_eq(jpos_find("{\"a\": [1, 2", 11, "a[2]", JPOS_VALUE, &loc), -1);
    ck_assert_int_eq(jpos_find("{\"a\": \"x", 8, "b", JPOS_VALUE, &loc), -1);
    ck_assert_int_eq(jpos_find("{\"a\": 1 /* x", 12, "b", JPOS_VALUE, &loc), -1);
}
END_TEST

/*
 * jansson and jpos count the same way: an invalid character put where a
 * valid value was is reported by jansson at the column jpos gives for
 * that value.
 */
struct agree_case {
    const char *valid, *invalid, *path;
};

static const struct agree_case agree_cases[] = {
    {"{\"\xc3\xa9\xe2\x98\x95\": [1, 2]}", "{\"\xc3\xa9\xe2\x98\x95\": [1, ,]}",
     "\xc3\xa9\xe2\x98\x95[1]"},
    {"{\r\n\t\"a\": {\"b\": 1}}", "{\r\n\t\"a\": {\"b\": }}", "a.b"},
    {"{\"a\": \"\xf0\x9f\x98\x80\",\n \"b\":\n\t\t[true]}",
     "{\"a\": \"\xf0\x9f\x98\x80\",\n \"b\":\n\t\t[:]}", "b[0]"},
    {"{\"s\": \"\\u00e9\\\"\", \"t\": 2}", "{\"s\": \"\\u00e9\\\"\", \"t\": ]}", "t"},
};

START_TEST(tc_agrees_with_jansson)
{
    const struct agree_case *t = &agree_cases[_i];
    struct jpos_loc loc;
    json_error_t e;
    json_t *j;

    j = json_loadb(t->valid, strlen(t->valid), 0, &e);
    ck_assert_msg(j != NULL, "valid text refused: %s", e.text);
    json_decref(j);
    ck_assert_int_eq(jpos_find(t->valid, strlen(t->valid), t->path, JPOS_VALUE, &loc), 0);
    ck_assert_ptr_null(json_loadb(t->invalid, strlen(t->invalid), 0, &e));
    ck_assert_int_eq(e.line, (int)loc.line);
    ck_assert_int_eq(e.column, (int)loc.col);
    ck_assert_int_eq(e.position, (int)loc.off + 1); /* jansson: bytes read so far */
}
END_TEST

/* ---- jpos_path_at, jpos_string_at ---------------------------------------- */

struct at_case {
    const char *text;
    const char *mark; /* offset = first occurrence of this in text */
    const char *path;
    size_t line, col;
    bool dup; /* jpos_find finds the first of two equal names, not this one */
};

static const struct at_case at_cases[] = {
    /* a duplicate: jansson's offset is just after the second name */
    {"{\"a\": 1, \"b\": {\"c\": 1,\n \"c\": 2}}", "\": 2", "b.c", 2, 2, true},
    {"{\"x\": [1, {\"y\": 2}]}", "2}", "x[1].y", 1, 12, false},
    {"{\"x\": [1, {\"y\": 2}]}", "1,", "x[0]", 1, 8, false},
    /* between members: the enclosing member */
    {"{\"x\": {\"p\": 1,  \"q\": 2}}", "  \"q", "x", 1, 2, false},
    {"{\"x\": 1 ,\"y\": 2}", " ,", "", 1, 1, false},
    /* names are written back escaped */
    {"{\"a.b\": {\"[i]\\\\\": {\"t\\tu\": 0}}}", "0}", "a\\.b.\\[i\\]\\\\.t\\x09u", 1, 20, false},
    {"{\"\\u00e9\": [[true]]}", "true", "\xc3\xa9[0][0]", 1, 14, false},
    /* outside every member */
    {"  {\"a\": 1}  ", "  ", "", 1, 3, false},
    {"[1, 2]", "[", "", 1, 1, false},
};

START_TEST(tc_path_at_table)
{
    const struct at_case *t = &at_cases[_i];
    size_t off = (size_t)(strstr(t->text, t->mark) - t->text);
    struct jpos_loc loc;
    char path[64];

    ck_assert_int_eq(jpos_path_at(t->text, strlen(t->text), off, path, sizeof(path), &loc), 0);
    ck_assert_str_eq(path, t->path);
    ck_assert_uint_eq(loc.line, t->line);
    ck_assert_uint_eq(loc.col, t->col);
    if (t->dup)
        return;
    /* and the path leads back to the same place */
    ck_assert_int_eq(jpos_find(t->text, strlen(t->text), path, JPOS_KEY, &loc), 0);
    ck_assert_uint_eq(loc.line, t->line);
    ck_assert_uint_eq(loc.col, t->col);
}
END_TEST

START_TEST(tc_path_at_small_buffer)
{
    const char *t = "{\"abcdef\": {\"ghijkl\": 1}}";
    struct jpos_loc loc;
    char path[10];

    ck_assert_int_eq(jpos_path_at(t, strlen(t), 22, path, sizeof(path), &loc), -1);
    ck_assert_str_eq(path, "abcdef"); /* the prefix that fit */
    ck_assert_int_eq(jpos_path_at(t, strlen(t), 22, path, 0, &loc), -1);
}
END_TEST

START_TEST(tc_string_at)
{
    const char *t = "{\"k\": \"a\\nb\\u00e9\\ud83d\\ude00\\\"\", \"z\": \"x\\u0000y\"}";
    char buf[32];

    ck_assert_int_eq(jpos_string_at(t, strlen(t), 1, buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "k");
    ck_assert_int_eq(jpos_string_at(t, strlen(t), 6, buf, sizeof(buf)), 10);
    ck_assert_str_eq(buf, "a\nb\xc3\xa9\xf0\x9f\x98\x80\"");
    /* too small: truncated, NUL-terminated, -1 */
    ck_assert_int_eq(jpos_string_at(t, strlen(t), 6, buf, 3), -1);
    ck_assert_str_eq(buf, "a\n");
    /* \u0000 ends it */
    ck_assert_int_eq(jpos_string_at(t, strlen(t), 39, buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "x");
    /* not a string, unterminated, bad escapes */
    ck_assert_int_eq(jpos_string_at(t, strlen(t), 0, buf, sizeof(buf)), -1);
    ck_assert_int_eq(jpos_string_at("\"abc", 4, 0, buf, sizeof(buf)), -1);
    ck_assert_int_eq(jpos_string_at("\"\\u12\"", 6, 0, buf, sizeof(buf)), -1);
    ck_assert_int_eq(jpos_string_at("\"\\udc00\"", 8, 0, buf, sizeof(buf)), -1);
    ck_assert_int_eq(jpos_string_at("\"\\ud800x\"", 9, 0, buf, sizeof(buf)), -1);
    ck_assert_int_eq(jpos_string_at("\"\"", 2, 5, buf, sizeof(buf)), -1);
}
END_TEST

/* ---- jpos_path_key, jpos_path_index -------------------------------------- */

START_TEST(tc_path_build)
{
    char p[24];
    size_t n = 0;

    p[0] = '\0';
    ck_assert_int_eq(jpos_path_key(p, sizeof(p), &n, "backends"), 0);
    ck_assert_int_eq(jpos_path_index(p, sizeof(p), &n, 12), 0);
    ck_assert_int_eq(jpos_path_key(p, sizeof(p), &n, "a.b"), 0);
    ck_assert_str_eq(p, "backends[12].a\\.b");
    ck_assert_uint_eq(n, strlen(p));
    /* does not fit: unchanged */
    ck_assert_int_eq(jpos_path_key(p, sizeof(p), &n, "toolong"), -1);
    ck_assert_str_eq(p, "backends[12].a\\.b");
    ck_assert_int_eq(jpos_path_index(p, sizeof(p), &n, 123456), -1);
    ck_assert_str_eq(p, "backends[12].a\\.b");
    ck_assert_int_eq(jpos_path_index(p, sizeof(p), &n, 0), 0);
    ck_assert_str_eq(p, "backends[12].a\\.b[0]");
    ck_assert_uint_eq(n, 20);

    n = 0;
    p[0] = '\0';
    ck_assert_int_eq(jpos_path_key(p, sizeof(p), &n, "\x01[]\\\x7f"), 0);
    ck_assert_str_eq(p, "\\x01\\[\\]\\\\\\x7f");
    /* exactly full: 23 characters and the NUL */
    n = 0;
    ck_assert_int_eq(jpos_path_key(p, sizeof(p), &n, "abcdefghijklmnopqrstuvw"), 0);
    ck_assert_uint_eq(n, 23);
    n = 0;
    ck_assert_int_eq(jpos_path_key(p, sizeof(p), &n, "abcdefghijklmnopqrstuvwx"), -1);
    ck_assert_uint_eq(n, 0);
    ck_assert_str_eq(p, "");
}
END_TEST

Suite *
jpos_suite(void)
{
    Suite *s = suite_create("jpos");
    TCase *tc = tcase_create("jpos");

    tcase_add_loop_test(tc, tc_strip_table, 0, (int)(sizeof(strip_cases) / sizeof(strip_cases[0])));
    tcase_add_test(tc, tc_strip_in_place);
    tcase_add_test(tc, tc_strip_exact_length);
    tcase_add_loop_test(tc, tc_find_table, 0, (int)(sizeof(find_cases) / sizeof(find_cases[0])));
    tcase_add_test(tc, tc_find_after_strip);
    tcase_add_test(tc, tc_find_top_array_and_bom);
    tcase_add_loop_test(tc, tc_agrees_with_jansson, 0,
                        (int)(sizeof(agree_cases) / sizeof(agree_cases[0])));
    tcase_add_loop_test(tc, tc_path_at_table, 0, (int)(sizeof(at_cases) / sizeof(at_cases[0])));
    tcase_add_test(tc, tc_path_at_small_buffer);
    tcase_add_test(tc, tc_string_at);
    tcase_add_test(tc, tc_path_build);
    suite_add_tcase(s, tc);
    return s;
}
