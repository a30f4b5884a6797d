/* Unit tests for src/sc.c: exact method matching (docs/security.md I05) and the request
 * fields Spark requires. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <check.h>

#include "sg_err.h"
#include "sc.h"
#include "check_suites.h"
#include "pbenc.h"

static const struct sc_method *
by(const char *p)
{
    return sc_method_by_path(p, strlen(p));
}

START_TEST(tc_known_methods)
{
    static const char *const names[] = {
        "ExecutePlan",    "AnalyzePlan",       "Config",          "AddArtifacts",
        "ArtifactStatus", "Interrupt",         "ReattachExecute", "ReleaseExecute",
        "ReleaseSession", "FetchErrorDetails", "CloneSession",    "GetStatus",
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
    ck_assert_int_eq(by("/spark.connect.SparkConnectService/ExecutePlan")->kind,
                     SC_SERVER_STREAMING);
    ck_assert_int_eq(by("/spark.connect.SparkConnectService/AddArtifacts")->kind,
                     SC_CLIENT_STREAMING);
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

START_TEST(tc_uuid)
{
    static const char *const good[] = {
        "00112233-4455-6677-8899-aabbccddeeff",
        "00112233-4455-6677-8899-AABBCCDDEEFF",
        "aBcDeF01-2345-6789-abcd-ef0123456789",
    };
    static const char *const bad[] = {
        "",
        "00112233445566778899aabbccddeeff",
        "{00112233-4455-6677-8899-aabbccddeeff}",
        "00112233-4455-6677-8899-aabbccddeef",
        "00112233-4455-6677-8899-aabbccddeeff0",
        "0011223-34455-6677-8899-aabbccddeeff",
        "g0112233-4455-6677-8899-aabbccddeeff",
        "00112233-4455-6677-8899-aabbccddeef\n",
        "00112233_4455_6677_8899_aabbccddeeff",
        "../../../etc/passwd/aaaaaaaaaaaaaaaa",
        " 0112233-4455-6677-8899-aabbccddeeff",
    };
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(sc_uuid_valid((const uint8_t *)good[i], strlen(good[i])), "%s", good[i]);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!sc_uuid_valid((const uint8_t *)bad[i], strlen(bad[i])), "%s", bad[i]);
    /* an embedded NUL is not a digit */
    ck_assert(!sc_uuid_valid((const uint8_t *)"00112233-4455-6677-8899-aabbccddeef\0", 36));
}
END_TEST

#define SID "00112233-4455-6677-8899-aabbccddeeff"

START_TEST(tc_request_check)
{
    const char *why;
    struct buf *m;
    int i;

    /* empty: never valid, whatever the method */
    for (i = 0; i < SC_M_COUNT; i++)
        ck_assert_int_eq(sc_request_check((enum sc_method_id)i, (const uint8_t *)"", 0, &why),
                         SG_ERR_PROTO);
    ck_assert_ptr_nonnull(strstr(why, "empty"));
    /* a valid Config request */
    m = C(2, S(1, SID), F(2, S(1, "u")));
    ck_assert_int_eq(sc_request_check(SC_M_CONFIG, m->p, m->n, &why), 0);
    /* ExecutePlan needs its plan (3), present even if empty */
    ck_assert_int_eq(sc_request_check(SC_M_EXECUTE_PLAN, m->p, m->n, &why), SG_ERR_PROTO);
    ck_assert_str_eq(why, "has no plan");
    bfree(m);
    m = C(3, S(1, SID), F(2, S(1, "u")), F(3, B()));
    ck_assert_int_eq(sc_request_check(SC_M_EXECUTE_PLAN, m->p, m->n, &why), 0);
    bfree(m);
    /* session_id absent, bad, or good then bad (every occurrence counts) */
    m = F(2, S(1, "u"));
    ck_assert_int_eq(sc_request_check(SC_M_CONFIG, m->p, m->n, &why), SG_ERR_PROTO);
    ck_assert_str_eq(why, "has no session_id");
    bfree(m);
    m = C(2, S(1, SID), S(1, "../../etc/passwd"));
    ck_assert_int_eq(sc_request_check(SC_M_CONFIG, m->p, m->n, &why), SG_ERR_PROTO);
    ck_assert_ptr_nonnull(strstr(why, "not a UUID"));
    ck_assert_ptr_null(strstr(why, "passwd"));
    bfree(m);
    m = C(2, S(1, "x"), S(1, SID));
    ck_assert_int_eq(sc_request_check(SC_M_RELEASE_SESSION, m->p, m->n, &why), SG_ERR_PROTO);
    bfree(m);
    /* session_id with the wrong wire type */
    m = C(2, V(1, 7), S(1, SID));
    ck_assert_int_eq(sc_request_check(SC_M_CONFIG, m->p, m->n, &why), SG_ERR_PROTO);
    bfree(m);
    /* CloneSession: new_session_id (4) optional, a UUID when present */
    m = S(1, SID);
    ck_assert_int_eq(sc_request_check(SC_M_CLONE_SESSION, m->p, m->n, &why), 0);
    bfree(m);
    m = C(2, S(1, SID), S(4, "new"));
    ck_assert_int_eq(sc_request_check(SC_M_CLONE_SESSION, m->p, m->n, &why), SG_ERR_PROTO);
    ck_assert_ptr_nonnull(strstr(why, "new_session_id"));
    /* field 4 means something else elsewhere */
    ck_assert_int_eq(sc_request_check(SC_M_CONFIG, m->p, m->n, &why), 0);
    bfree(m);
    /* malformed */
    ck_assert_int_eq(sc_request_check(SC_M_CONFIG,
                                      (const uint8_t *)"\x0a\x05"
                                                       "ab",
                                      4, &why),
                     SG_ERR_PROTO);
    ck_assert_str_eq(why, "is not valid protobuf");
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
    tcase_add_test(tc, tc_uuid);
    tcase_add_test(tc, tc_request_check);
    suite_add_tcase(s, tc);
    return s;
}
