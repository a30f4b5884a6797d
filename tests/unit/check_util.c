/* Unit tests for src/util.c. */
#include "config.h"

#include <string.h>
#include <netinet/in.h>
#include <check.h>

#include "util.h"
#include "check_suites.h"

START_TEST(tc_split_hostport)
{
    static const struct {
        const char *in, *host, *port;
    } ok[] = {
        {"127.0.0.1:15002", "127.0.0.1", "15002"},
        {"[::1]:443", "::1", "443"},
        {"spark.internal:15002", "spark.internal", "15002"},
        {"h:0", "h", "0"},
    };
    static const char *const bad[] = {"",      "nohost",  ":15002",   "h:",      "h:99999",
                                      "h:12a", "::1:443", "[::1]443", "h:123456"};
    char host[64], port[8];
    const char *why;
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        ck_assert_int_eq(util_split_hostport(ok[i].in, host, sizeof(host), port, sizeof(port),
                                             &why),
                         0);
        ck_assert_str_eq(host, ok[i].host);
        ck_assert_str_eq(port, ok[i].port);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(util_split_hostport(bad[i], host, sizeof(host), port, sizeof(port), &why) !=
                          0,
                      "%s accepted", bad[i]);
}
END_TEST

START_TEST(tc_parse_sockaddr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    const char *why;
    char buf[80];

    ck_assert_int_eq(util_parse_sockaddr("127.0.0.1:8080", &ss, &len, &why), 0);
    ck_assert_int_eq(ss.ss_family, AF_INET);
    ck_assert_str_eq(util_sockaddr_str((struct sockaddr *)&ss, buf, sizeof(buf)), "127.0.0.1:8080");
    ck_assert_int_eq(util_parse_sockaddr("[::1]:1", &ss, &len, &why), 0);
    ck_assert_int_eq(ss.ss_family, AF_INET6);
    ck_assert_str_eq(util_sockaddr_str((struct sockaddr *)&ss, buf, sizeof(buf)), "[::1]:1");
    ck_assert_int_ne(util_parse_sockaddr("localhost:1", &ss, &len, &why), 0);
    ck_assert_ptr_nonnull(strstr(why, "numeric"));
}
END_TEST

START_TEST(tc_hex)
{
    char out[9];

    util_hex((const uint8_t *)"\x00\x9f\xff\x10", 4, out);
    ck_assert_str_eq(out, "009fff10");
}
END_TEST

Suite *
util_suite(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("util");

    tcase_add_test(tc, tc_split_hostport);
    tcase_add_test(tc, tc_parse_sockaddr);
    tcase_add_test(tc, tc_hex);
    suite_add_tcase(s, tc);
    return s;
}
