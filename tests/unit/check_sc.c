/* Unit tests for src/sc.c: exact method matching (security-notes I05). */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <check.h>

#include "sg_err.h"
#include "sc.h"
#include "check_suites.h"

static const struct sc_method *
by(const char *p)
{
    return sc_method_by_path(p, strlen(p));
}

START_TEST(tc_known_methods)
{
    static const char *const names[] = {
        "ExecutePlan",    "AnalyzePlan",     "Config",         "AddArtifacts",
        "ArtifactStatus", "Interrupt",       "ReattachExecute", "ReleaseExecute",
        "ReleaseSession", "FetchErrorDetails", "CloneSession",   "GetStatus",
    };
    char path[128];
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const struct sc_method *m;

        snprintf(path, sizeof(path), "/spark.connect.SparkConnectService/%s", names[i]);
        m = by(path);
        ck_assert_ptr_nonnull(m);
        ck_assert_str_eq(m->name, names[i]);
        ck_assert_ptr_eq(sc_method_get(m->id), m);
    }
    ck_assert_int_eq(by("/spark.connect.SparkConnectService/ExecutePlan")->kind, SC_SERVER_STREAMING);
    ck_assert_int_eq(by("/spark.connect.SparkConnectService/AddArtifacts")->kind, SC_CLIENT_STREAMING);
    ck_assert_int_eq(by("/spark.connect.SparkConnectService/Config")->kind, SC_UNARY);
}
END_TEST

START_TEST(tc_path_confusion_refused)
{
    static const char *const bad[] = {
        "//spark.connect.SparkConnectService/ExecutePlan",
        "/spark.connect.SparkConnectService/ExecutePlan/",
        "/Spark.Connect.SparkConnectService/ExecutePlan",
        "/spark.connect.SparkConnectService%2FExecutePlan",
        "/spark.connect.SparkConnectService/ExecutePlan?x=1",
        "/./spark.connect.SparkConnectService/ExecutePlan",
        "/spark.connect.SparkConnectService/executeplan",
        "/spark.connect.SparkConnectService/",
        "spark.connect.SparkConnectService/ExecutePlan",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "/grpc.health.v1.Health/Check",
        "",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(by(bad[i]) == NULL, "%s matched", bad[i]);
    /* embedded NUL: length-based compare must not stop early */
    ck_assert_ptr_null(sc_method_by_path("/spark.connect.SparkConnectService/Config\0x", 43));
}
END_TEST

START_TEST(tc_session_id)
{
    /* session_id "s1", user_context {user_id "u"}, session_id "s2": last wins */
    static const uint8_t msg[] = {0x0a, 2, 's', '1', 0x12, 3, 0x0a, 1, 'u', 0x0a, 2, 's', '2'};
    const uint8_t *sid;
    size_t n;

    ck_assert_int_eq(sc_request_session_id(msg, sizeof(msg), &sid, &n), 1);
    ck_assert_uint_eq(n, 2);
    ck_assert_mem_eq(sid, "s2", 2);
    ck_assert_int_eq(sc_request_session_id(msg, 4, &sid, &n), 1);
    ck_assert_int_eq(sc_request_session_id(msg + 4, 5, &sid, &n), 0);
    ck_assert_int_eq(sc_request_session_id(msg, 3, &sid, &n), SG_ERR_PROTO);
}
END_TEST

Suite *
sc_suite(void)
{
    Suite *s = suite_create("sc");
    TCase *tc = tcase_create("sc");

    tcase_add_test(tc, tc_known_methods);
    tcase_add_test(tc, tc_path_confusion_refused);
    tcase_add_test(tc, tc_session_id);
    suite_add_tcase(s, tc);
    return s;
}
