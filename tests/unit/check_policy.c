/*
 * Unit tests for src/policy.c (the plan policy), src/cfg_policy.c (profiles
 * in the configuration) and src/redact.c (Config response redaction).
 * Plans are built with pbenc.h; profiles are loaded from JSON exactly as
 * the daemon loads them, so the tests cover parsing and judging together.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>
#include <zstd.h>

#include "sg_err.h"
#include "cfg.h"
#include "grpc.h"
#include "pb.h"
#include "policy.h"
#include "redact.h"
#include "check_suites.h"
#include "pbenc.h"

#define HEAD                                                               \
    "{\"listen\": [{\"address\": \"127.0.0.1:1\", \"plaintext\": true}], " \
    "\"backends\": [{\"name\": \"b\", \"address\": \"127.0.0.1:2\"}], "

/* The shipped profiles' shape, small enough to read in one glance. */
static const char *const profiles_json = HEAD
    "\"profiles\": {"
    "\"sql-only\": {\"methods\": [\"ExecutePlan\", \"AnalyzePlan\", \"Config\"],"
    "  \"commands\": {\"allow\": [\"sql_command\", \"create_dataframe_view\"]},"
    "  \"user_code\": {\"languages\": []}, \"sql\": [\"query\"], \"conf\": {\"allow\": []},"
    "  \"artifacts\": {}},"
    "\"analyst\": {\"relations\": {\"deny\": [\"map_partitions\"]},"
    "  \"user_code\": {\"languages\": []}, \"sql\": [\"query\", \"dml\", \"ddl\"],"
    "  \"conf\": {\"allow\": [\"spark.sql.*\"], \"deny\": [\"spark.sql.catalog.*\"]}},"
    "\"ds\": {\"user_code\": {\"languages\": [\"python\"], \"python_eval_types\": [100, 200, 205]},"
    "  \"artifacts\": {\"pyfiles\": {\"max_bytes\": 100}, \"cache\": {}},"
    "  \"extensions\": [\"type.googleapis.com/delta.*\"]},"
    "\"open-unknown\": {\"user_code\": {\"languages\": []}, \"unknown\": \"allow\"},"
    "\"admin\": {}"
    "}}";

static struct cfg *cfg;

static void
setup(void)
{
    char err[512];

    cfg = cfg_load_buf("test.json", profiles_json, strlen(profiles_json), false, err, sizeof(err));
    ck_assert_msg(cfg != NULL, "%s", err);
}

static void
teardown(void)
{
    cfg_unref(cfg);
    cfg = NULL;
}

static const struct policy_profile *
P(const char *name)
{
    const struct policy_profile *p = cfg_profile(cfg, name);

    ck_assert_msg(p != NULL, "no profile %s", name);
    return p;
}

/* Judges |b| (consumed) as an ExecutePlanRequest; returns the verdict code. */
static int
judge(const char *profile, enum sc_method_id m, struct buf *b, struct policy_verdict *v)
{
    struct policy_limits lim;
    int rv;

    policy_limits_default(&lim);
    rv = policy_check_request(profile != NULL ? P(profile) : NULL, m, b->p, b->n, &lim, v);
    bfree(b);
    return rv;
}

/* ExecutePlanRequest{session_id, plan{root = rel}} */
static struct buf *
exec_root(struct buf *rel)
{
    return C(2, S(1, "sess"), F(3, F(1, rel)));
}

/* ExecutePlanRequest{plan{command = cmd}} */
static struct buf *
exec_cmd(struct buf *cmd)
{
    return C(2, S(1, "sess"), F(3, F(2, cmd)));
}

static struct buf *
read_t(void)
{
    return F(2, F(1, S(1, "t"))); /* Relation.read{named_table{unparsed_identifier}} */
}

static struct buf *
py_udf(int eval)
{
    /* Expression.common_inline_user_defined_function{function_name, python_udf{eval, cmd}} */
    return F(15, C(2, S(1, "f"), F(4, C(2, V(2, (uint64_t)eval), S(3, "pickle")))));
}

static struct buf *
attr(const char *n)
{
    return F(2, S(1, n));
}

/* Relation.project{input, expressions = expr} */
static struct buf *
project(struct buf *input, struct buf *expr)
{
    return F(3, C(2, F(1, input), F(3, expr)));
}

/* Relation.project{input, expressions = e1, expressions = e2} */
static struct buf *
project2(struct buf *input, struct buf *e1, struct buf *e2)
{
    return F(3, C(3, F(1, input), F(3, e1), F(3, e2)));
}

static struct buf *
sql_rel(const char *q)
{
    return F(10, S(1, q));
}

#define ALLOWED(x) ck_assert_int_eq((x), POLICY_ALLOWED)
#define REFUSED(x) ck_assert_int_eq((x), POLICY_REFUSED)

/* ---- tests ------------------------------------------------------------------ */

START_TEST(tc_udf_message_and_facts)
{
    struct policy_verdict v;
    /* not through judge(): operation_id points into the message, which must outlive v */
    struct buf *b = C(2, exec_root(project2(read_t(), attr("a"), py_udf(200))), S(6, "op-7"));

    REFUSED(policy_check_request(P("sql-only"), SC_M_EXECUTE_PLAN, b->p, b->n, NULL, &v));
    ck_assert_int_eq(v.status, GRPC_PERMISSION_DENIED);
    ck_assert_str_eq(v.rule, "user_code.languages");
    ck_assert_str_eq(v.msg, "sparkgate: profile \"sql-only\" does not allow python_udf (python, "
                            "eval_type 200 SQL_SCALAR_PANDAS_UDF) at plan.root.project."
                            "expressions[1].common_inline_user_defined_function.python_udf "
                            "(rule user_code.languages)");
    /* audit facts */
    ck_assert_ptr_nonnull(v.operation_id);
    ck_assert_int_eq((int)v.operation_id_len, 4);
    ck_assert(memcmp(v.operation_id, "op-7", 4) == 0);
    ck_assert(v.operation_id >= b->p && v.operation_id + 4 <= b->p + b->n);
    bfree(b);
    ck_assert_str_eq(v.kinds, "project,read,unresolved_attribute,"
                              "common_inline_user_defined_function,python_udf");
    ck_assert_uint_eq(v.nodes, 5);
    /* the same plan: allowed where Python is */
    ALLOWED(judge("ds", SC_M_EXECUTE_PLAN, exec_root(project(read_t(), py_udf(200))), &v));
    ck_assert_int_eq(v.status, 0);
    ck_assert_ptr_null(v.rule);
    ALLOWED(judge("admin", SC_M_EXECUTE_PLAN, exec_root(project(read_t(), py_udf(200))), &v));
    ALLOWED(judge(NULL, SC_M_EXECUTE_PLAN, exec_root(project(read_t(), py_udf(200))), &v));
    /* an eval type outside python_eval_types */
    REFUSED(judge("ds", SC_M_EXECUTE_PLAN, exec_root(project(read_t(), py_udf(207))), &v));
    ck_assert_str_eq(v.rule, "user_code.python_eval_types");
    ck_assert_ptr_nonnull(strstr(v.msg, "eval_type 207 SQL_MAP_ARROW_ITER_UDF"));
}
END_TEST

/* A denied node hidden in each kind of nesting is found (deny wins). */
START_TEST(tc_hidden_udf)
{
    struct policy_verdict v;
    struct buf *cases[8];
    const char *where[8];
    int i, n = 0;

    /* join: right side */
    cases[n] = exec_root(F(5, C(2, F(1, read_t()), F(2, project(read_t(), py_udf(100))))));
    where[n++] = "plan.root.join.right.project";
    /* with_relations: a referenced subquery */
    cases[n] = exec_root(F(41, C(2, F(1, read_t()), F(2, project(read_t(), py_udf(100))))));
    where[n++] = "plan.root.with_relations.references[0]";
    /* lambda function body inside an unresolved function */
    cases[n] = exec_root(
        project(read_t(), F(3, C(2, S(1, "transform"), F(2, F(10, F(1, py_udf(100))))))));
    where[n++] = "lambda_function.function";
    /* sort order */
    cases[n] = exec_root(F(7, C(2, F(1, read_t()), F(2, F(1, py_udf(100))))));
    where[n++] = "plan.root.sort.order[0].child";
    /* window partition spec */
    cases[n] = exec_root(project(read_t(), F(11, C(2, F(1, attr("x")), F(2, py_udf(100))))));
    where[n++] = "window.partition_spec[0]";
    /* write input */
    cases[n] = exec_cmd(F(2, C(2, F(1, project(read_t(), py_udf(100))), S(3, "/p"))));
    where[n++] = "plan.command.write_operation.input";
    /* streaming foreachBatch */
    cases[n] = exec_cmd(F(6, C(2, F(1, read_t()), F(14, F(1, C(1, V(2, 100)))))));
    where[n++] = "foreach_batch.python_function";
    /* filter condition, two levels down */
    cases[n] = exec_root(F(4, C(2, F(1, read_t()), F(2, F(6, F(1, py_udf(100)))))));
    where[n++] = "plan.root.filter.condition.alias.expr";
    for (i = 0; i < n; i++) {
        REFUSED(judge("analyst", SC_M_EXECUTE_PLAN, cases[i], &v));
        ck_assert_msg(strstr(v.msg, where[i]) != NULL, "case %d: %s", i, v.msg);
        ck_assert_str_eq(v.rule, "user_code.languages");
    }
}
END_TEST

/* protobuf-java merges duplicates and keeps the last oneof member: judge them all. */
START_TEST(tc_smuggling)
{
    struct policy_verdict v;

    /* project twice in one Relation: the second carries the UDF */
    REFUSED(judge("analyst", SC_M_EXECUTE_PLAN,
                  exec_root(C(2, project(read_t(), attr("a")), project(read_t(), py_udf(100)))),
                  &v));
    /* oneof twice: read, then map_partitions (the one Spark keeps) */
    REFUSED(
        judge("analyst", SC_M_EXECUTE_PLAN, exec_root(C(2, read_t(), F(28, F(1, read_t())))), &v));
    ck_assert_str_eq(v.rule, "relations.deny");
    ck_assert_ptr_nonnull(strstr(v.msg, "relation map_partitions at plan.root.map_partitions"));
    /* ... and the other order */
    REFUSED(
        judge("analyst", SC_M_EXECUTE_PLAN, exec_root(C(2, F(28, F(1, read_t())), read_t())), &v));
    /* plan twice: the second plan has the UDF */
    REFUSED(judge("analyst", SC_M_EXECUTE_PLAN,
                  C(2, exec_root(read_t()), exec_root(project(read_t(), py_udf(100)))), &v));
}
END_TEST

START_TEST(tc_methods_and_kinds)
{
    struct policy_verdict v;

    REFUSED(policy_check_method(P("sql-only"), SC_M_ADD_ARTIFACTS, &v));
    ck_assert_str_eq(v.msg, "sparkgate: profile \"sql-only\" does not allow method AddArtifacts "
                            "(rule methods)");
    ALLOWED(policy_check_method(P("sql-only"), SC_M_CONFIG, &v));
    ALLOWED(policy_check_method(NULL, SC_M_ADD_ARTIFACTS, &v));
    /* commands.allow */
    REFUSED(
        judge("sql-only", SC_M_EXECUTE_PLAN, exec_cmd(F(2, C(2, F(1, read_t()), S(3, "/p")))), &v));
    ck_assert_str_eq(v.rule, "commands.allow");
    ck_assert_ptr_nonnull(strstr(v.msg, "does not allow command write_operation at "
                                        "plan.command.write_operation"));
    ALLOWED(
        judge("analyst", SC_M_EXECUTE_PLAN, exec_cmd(F(2, C(2, F(1, read_t()), S(3, "/p")))), &v));
    /* AnalyzePlan carries plans too: schema{plan{root}} */
    REFUSED(judge("analyst", SC_M_ANALYZE_PLAN,
                  C(2, S(1, "s"), F(4, F(1, F(1, F(28, F(1, read_t())))))), &v));
}
END_TEST

START_TEST(tc_sql_classes)
{
    static const struct {
        const char *profile, *sql;
        bool ok;
    } t[] = {
        {"sql-only", "SELECT * FROM t", true},
        {"sql-only", "  -- comment\n  select 1; ", true},
        {"sql-only", "/* x */ dRoP table t", false},
        {"sql-only", "-- c\nADD JAR /tmp/x.jar", false},
        {"sql-only", "SET spark.sql.x=1", false},
        {"sql-only", "INSERT INTO t VALUES (1)", false},
        {"sql-only", "SELECT 1; DROP TABLE t", false},
        {"sql-only", "BEGIN SELECT 1; DROP TABLE t; END", false},
        {"sql-only", "SELECT '${x}'", false},
        {"sql-only", "", true}, /* EMPTY: Spark refuses it itself */
        {"analyst", "INSERT INTO t SELECT * FROM s", true},
        {"analyst", "CREATE TABLE t (a INT)", true},
        {"analyst", "ADD JAR x.jar", false},
        {"analyst", "CREATE FUNCTION f AS 'com.x.F' USING JAR 'x.jar'", false},
        {"admin", "ADD JAR x.jar", true},
    };
    struct policy_verdict v;
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        /* 4.0 style: sql_command{input = Relation.sql} ... */
        int rv = judge(t[i].profile, SC_M_EXECUTE_PLAN, exec_cmd(F(5, F(6, sql_rel(t[i].sql)))),
                       &v);

        ck_assert_msg(rv == (t[i].ok ? POLICY_ALLOWED : POLICY_REFUSED), "%zu %s: %s", i, t[i].sql,
                      v.msg);
        if (!t[i].ok)
            ck_assert_str_eq(v.rule, "sql");
        /* ... 3.5 style: sql_command{sql} ... */
        rv = judge(t[i].profile, SC_M_EXECUTE_PLAN, exec_cmd(F(5, S(1, t[i].sql))), &v);
        ck_assert_msg(rv == (t[i].ok ? POLICY_ALLOWED : POLICY_REFUSED), "%zu (3.5)", i);
        /* ... and a lazy DataFrame over spark.sql() */
        rv = judge(t[i].profile, SC_M_EXECUTE_PLAN,
                   exec_root(project(sql_rel(t[i].sql), attr("a"))), &v);
        ck_assert_msg(rv == (t[i].ok ? POLICY_ALLOWED : POLICY_REFUSED), "%zu (root)", i);
    }
    judge("sql-only", SC_M_EXECUTE_PLAN, exec_cmd(F(5, S(1, "/* x */ dRoP table t"))), &v);
    ck_assert_str_eq(v.msg, "sparkgate: profile \"sql-only\" does not allow DDL SQL (DROP) at "
                            "plan.command.sql_command (rule sql)");
}
END_TEST

/* ConfigRequest{operation{set{pairs{key,value}}}} / unset{keys} */
static struct buf *
conf_set(const char *k)
{
    return C(2, S(1, "s"), F(3, F(1, F(1, C(2, S(1, k), S(2, "v"))))));
}

START_TEST(tc_config_keys)
{
    struct policy_verdict v;

    ALLOWED(judge("analyst", SC_M_CONFIG, conf_set("spark.sql.shuffle.partitions"), &v));
    REFUSED(judge("analyst", SC_M_CONFIG, conf_set("spark.sql.catalog.evil"), &v));
    ck_assert_str_eq(v.rule, "conf.deny");
    ck_assert_str_eq(v.msg, "sparkgate: profile \"analyst\" does not allow Config set of "
                            "\"spark.sql.catalog.evil\" (rule conf.deny)");
    REFUSED(judge("analyst", SC_M_CONFIG, conf_set("spark.executor.memory"), &v));
    ck_assert_str_eq(v.rule, "conf.allow");
    REFUSED(judge("sql-only", SC_M_CONFIG, conf_set("spark.sql.shuffle.partitions"), &v));
    /* unset */
    REFUSED(judge("analyst", SC_M_CONFIG, C(2, S(1, "s"), F(3, F(6, S(1, "spark.x")))), &v));
    ck_assert_ptr_nonnull(strstr(v.msg, "Config unset of \"spark.x\""));
    /* reads are always allowed: get, get_all, get_with_default, get_option */
    ALLOWED(judge("sql-only", SC_M_CONFIG, C(2, S(1, "s"), F(3, F(2, S(1, "spark.x")))), &v));
    ALLOWED(judge("sql-only", SC_M_CONFIG, C(2, S(1, "s"), F(3, F(5, S(1, "spark.")))), &v));
    ALLOWED(judge("sql-only", SC_M_CONFIG,
                  C(2, S(1, "s"), F(3, F(3, F(1, C(2, S(1, "k"), S(2, "d")))))), &v));
    /* a get, then a set merged into the same operation: the set is judged */
    REFUSED(
        judge("analyst", SC_M_CONFIG,
              C(3, S(1, "s"), F(3, F(2, S(1, "spark.x"))), F(3, F(1, F(1, S(1, "spark.evil"))))),
              &v));
    /* a pair with the key twice: both judged */
    REFUSED(judge("analyst", SC_M_CONFIG,
                  C(2, S(1, "s"), F(3, F(1, F(1, C(2, S(1, "spark.sql.ok"), S(1, "spark.evil")))))),
                  &v));
}
END_TEST

/* AddArtifactsRequest builders */
static struct buf *
art_batch(const char *name, size_t n)
{
    char *data = calloc(1, n + 1);
    struct buf *b;

    memset(data, 'x', n);
    b = C(2, S(1, "s"), F(3, F(1, C(2, S(1, name), F(2, S(1, data))))));
    free(data);
    return b;
}

static int
art(const char *profile, struct policy_art_state *st, struct buf *b, struct policy_verdict *v)
{
    int rv = policy_check_artifacts(P(profile), st, b->p, b->n, v);

    bfree(b);
    return rv;
}

/* Field 15 with wire type 7 (undefined), then 8 bytes. */
static struct buf *
B7(void)
{
    struct buf *b = B();

    put(b, "\x7f\0\0\0\0\0\0\0\0", 9);
    return b;
}

START_TEST(tc_artifacts)
{
    struct policy_art_state st;
    struct policy_verdict v;
    char data[64];

    memset(&st, 0, sizeof(st));
    ALLOWED(art("ds", &st, art_batch("pyfiles/a.py", 10), &v));
    ck_assert_uint_eq(v.nodes, 1);
    ck_assert_str_eq(v.kinds, "pyfiles");
    ALLOWED(art("ds", &st, art_batch("cache/abc", 5000), &v));
    REFUSED(art("ds", &st, art_batch("jars/evil.jar", 10), &v));
    ck_assert_str_eq(v.msg, "sparkgate: profile \"ds\" does not allow artifact "
                            "\"jars/evil.jar\" (kind jars) (rule artifacts)");
    REFUSED(art("ds", &st, art_batch("pyfiles/big.zip", 101), &v));
    ck_assert_ptr_nonnull(strstr(v.msg, "of 101 bytes: artifacts.pyfiles.max_bytes is 100"));
    REFUSED(art("ds", &st, art_batch("pyfiles/../../etc/x", 1), &v));
    ck_assert_int_eq(v.status, GRPC_INVALID_ARGUMENT);
    REFUSED(art("ds", &st, art_batch("/abs/x", 1), &v));
    REFUSED(art("ds", &st, art_batch("nokind", 1), &v));
    REFUSED(art("ds", &st, art_batch("weird/x", 1), &v));
    ck_assert_int_eq(v.status, GRPC_PERMISSION_DENIED);
    REFUSED(art("sql-only", &st, art_batch("pyfiles/a.py", 1), &v)); /* method */
    ALLOWED(art("admin", &st, art_batch("jars/any.jar", 10), &v));
    /* a batch with an allowed artifact and a denied one */
    REFUSED(art("ds", &st,
                C(2, S(1, "s"),
                  F(3, C(2, F(1, C(2, S(1, "pyfiles/ok.py"), F(2, S(1, "x")))),
                         F(1, C(2, S(1, "jars/no.jar"), F(2, S(1, "x"))))))),
                &v));
    /* chunked: begin (declares 60), chunks push the real size past the cap */
    memset(data, 'y', 40);
    data[40] = '\0';
    memset(&st, 0, sizeof(st));
    ALLOWED(art("ds", &st,
                C(2, S(1, "s"), F(4, C(3, S(1, "pyfiles/c.zip"), V(2, 60), F(4, S(1, data))))),
                &v));
    ALLOWED(art("ds", &st, C(2, S(1, "s"), F(5, S(1, data))), &v));
    ck_assert_uint_eq(v.nodes, 0); /* a chunk names no artifact: no audit line */
    REFUSED(art("ds", &st, C(2, S(1, "s"), F(5, S(1, data))), &v));
    ck_assert_ptr_nonnull(strstr(v.msg, "\"pyfiles/c.zip\" of 120 bytes"));
    /* a lying total_bytes is judged too */
    memset(&st, 0, sizeof(st));
    REFUSED(art("ds", &st, C(2, S(1, "s"), F(4, C(2, S(1, "pyfiles/d.zip"), V(2, 1000)))), &v));
    /* a chunk without begin_chunk */
    memset(&st, 0, sizeof(st));
    REFUSED(art("ds", &st, C(2, S(1, "s"), F(5, S(1, data))), &v));
    ck_assert_int_eq(v.status, GRPC_INVALID_ARGUMENT);
}
END_TEST

/* Plan{compressed_operation{data = zstd(rel), op_type, codec}} in an ExecutePlanRequest */
static struct buf *
compressed(const uint8_t *p, size_t n, int op, int codec)
{
    size_t cap = ZSTD_compressBound(n), clen;
    uint8_t *out = malloc(cap);
    struct buf *d = B();

    ck_assert_ptr_nonnull(out);
    clen = ZSTD_compress(out, cap, p, n, 3);
    ck_assert(!ZSTD_isError(clen));
    put_varint(d, 1 << 3 | PB_WT_LEN);
    put_varint(d, clen);
    put(d, out, clen);
    free(out);
    return C(2, S(1, "s"), F(3, F(3, C(3, d, V(2, (uint64_t)op), V(3, (uint64_t)codec)))));
}

START_TEST(tc_compressed)
{
    struct policy_verdict v;
    struct buf *rel;
    uint8_t *zeros;

    /* allowed inside */
    rel = project(read_t(), attr("a"));
    ALLOWED(judge("sql-only", SC_M_EXECUTE_PLAN, compressed(rel->p, rel->n, 1, 1), &v));
    ck_assert_ptr_nonnull(strstr(v.kinds, "project"));
    bfree(rel);
    /* a denied UDF inside: the path names the compressed node first */
    rel = project(read_t(), py_udf(100));
    /* rel is "Relation.project" as a field of Relation: strip nothing, it is a Relation body */
    REFUSED(judge("sql-only", SC_M_EXECUTE_PLAN, compressed(rel->p, rel->n, 1, 1), &v));
    ck_assert_ptr_nonnull(strstr(v.msg, "at plan.compressed_operation:root.project."
                                        "expressions[0].common_inline_user_defined_function."
                                        "python_udf"));
    bfree(rel);
    /* a command */
    rel = F(5, S(1, "DROP TABLE t"));
    REFUSED(judge("sql-only", SC_M_EXECUTE_PLAN, compressed(rel->p, rel->n, 2, 1), &v));
    ck_assert_str_eq(v.rule, "sql");
    bfree(rel);
    /* unknown codec / op type */
    REFUSED(judge(NULL, SC_M_EXECUTE_PLAN, compressed((const uint8_t *)"", 0, 1, 2), &v));
    ck_assert_int_eq(v.status, GRPC_INVALID_ARGUMENT);
    REFUSED(judge(NULL, SC_M_EXECUTE_PLAN, compressed((const uint8_t *)"", 0, 7, 1), &v));
    /* not zstd at all */
    REFUSED(judge(NULL, SC_M_EXECUTE_PLAN,
                  C(2, S(1, "s"), F(3, F(3, C(3, S(1, "garbage!"), V(2, 1), V(3, 1))))), &v));
    ck_assert_int_eq(v.status, GRPC_INVALID_ARGUMENT);
    /* a bomb: 64 MiB of zeros compress to a few KiB: beyond the ratio cap */
    zeros = calloc(1, 64u << 20);
    ck_assert_ptr_nonnull(zeros);
    REFUSED(judge(NULL, SC_M_EXECUTE_PLAN, compressed(zeros, 64u << 20, 1, 1), &v));
    free(zeros);
    ck_assert_int_eq(v.status, GRPC_RESOURCE_EXHAUSTED);
    ck_assert_str_eq(v.rule, "limits.max_decompressed_plan_size");
}
END_TEST

/* A chain of |n| Relation.filter nodes around a read: depth 2n + 3 or so. */
static struct buf *
deep_filters(unsigned n)
{
    struct buf *r = read_t();
    unsigned i;

    for (i = 0; i < n; i++)
        r = F(4, F(1, r));
    return r;
}

START_TEST(tc_depth)
{
    struct policy_verdict v;
    unsigned n;

    /* ExecutePlanRequest > plan(1) > root Relation(2) > filter(3) > input Relation(4) ... :
     * n filters put the innermost Read at depth 2n + 3, its NamedTable at 2n + 4 */
    n = (1024 - 4) / 2; /* 510: deepest message at 1024, Spark's limit, accepted */
    ALLOWED(judge("sql-only", SC_M_EXECUTE_PLAN, exec_root(deep_filters(n)), &v));
    ck_assert_uint_eq(v.depth, 1024);
    /* one level more is refused cleanly */
    REFUSED(judge("sql-only", SC_M_EXECUTE_PLAN, exec_root(F(3, C(1, F(1, deep_filters(n))))), &v));
    ck_assert_int_eq(v.status, GRPC_RESOURCE_EXHAUSTED);
    ck_assert_str_eq(v.rule, "limits.max_plan_depth");
    /* without a profile too */
    REFUSED(judge(NULL, SC_M_EXECUTE_PLAN, exec_root(deep_filters(600)), &v));
}
END_TEST

START_TEST(tc_malformed)
{
    static const uint8_t bad[][8] = {
        {0x1a, 0x05, 0x0a},       /* plan: length past the end */
        {0x1b},                   /* field 3, wire type 3 (group) */
        {0x1a, 0x02, 0x0a, 0x80}, /* truncated varint length inside plan.root */
    };
    static const size_t lens[] = {3, 1, 4};
    struct policy_verdict v;
    size_t i;

    for (i = 0; i < 3; i++) {
        REFUSED(policy_check_request(P("admin"), SC_M_EXECUTE_PLAN, bad[i], lens[i], NULL, &v));
        ck_assert_int_eq(v.status, GRPC_INVALID_ARGUMENT);
        ck_assert_str_eq(v.rule, "proto");
    }
}
END_TEST

START_TEST(tc_unknown_and_extensions)
{
    struct policy_verdict v;

    /* Relation field 777: a newer Spark's node */
    REFUSED(judge("sql-only", SC_M_EXECUTE_PLAN, exec_root(F(777, E())), &v));
    ck_assert_str_eq(v.rule, "unknown");
    ck_assert_ptr_nonnull(strstr(v.msg, "unknown field 777 of Relation"));
    ALLOWED(judge("open-unknown", SC_M_EXECUTE_PLAN, exec_root(F(777, E())), &v));
    ALLOWED(judge("admin", SC_M_EXECUTE_PLAN, exec_root(F(777, E())), &v));
    /* Relation.extension (Any): by type_url glob */
    ALLOWED(judge("ds", SC_M_EXECUTE_PLAN,
                  exec_root(F(998, S(1, "type.googleapis.com/delta.connect.X"))), &v));
    REFUSED(
        judge("ds", SC_M_EXECUTE_PLAN, exec_root(F(998, S(1, "type.googleapis.com/evil.Y"))), &v));
    ck_assert_str_eq(v.rule, "extensions");
    REFUSED(judge("sql-only", SC_M_EXECUTE_PLAN,
                  exec_root(F(998, S(1, "type.googleapis.com/delta.connect.X"))), &v));
    ck_assert_str_eq(v.rule, "unknown");
}
END_TEST

/* Every field of every judged message against the schema. */
START_TEST(tc_schema_strict)
{
    static const char *const bad_names[] = {
        "files/x#..",
        "archives/a.zip#../../etc",
        "files/%2E%2e/x",
        "files/x%2f..",
        "pyfiles\\x.py",
        "pyfiles/x\x01.py",
        "pyfiles/x\x7f.py",
        "pyfiles/x%0a.py",
        "files/x#/etc/passwd",
        "/abs",
        "%2fabs",
        "pyfiles/..",
        "",
    };
    static const char *const good_names[] = {
        "pyfiles/a..b.py", "archives/env.zip#env", "files/.x", "files/a%20b", "files/100%",
    };
    struct policy_art_state st;
    struct policy_verdict v;
    struct buf *rel;

    /* an unknown field outside the node oneofs: INVALID_ARGUMENT unless "unknown" allows */
    REFUSED(judge("sql-only", SC_M_EXECUTE_PLAN,
                  C(2, S(1, "s"), F(3, C(2, F(1, read_t()), S(15, "x")))), &v));
    ck_assert_int_eq(v.status, GRPC_INVALID_ARGUMENT);
    ck_assert_str_eq(v.rule, "unknown");
    ck_assert_str_eq(v.msg, "sparkgate: invalid request: unknown field 15 of Plan at plan.#15: "
                            "profile \"sql-only\" does not allow unknown fields (rule unknown)");
    ALLOWED(judge("admin", SC_M_EXECUTE_PLAN,
                  C(2, S(1, "s"), F(3, C(2, F(1, read_t()), S(15, "x")))), &v));
    ALLOWED(judge("open-unknown", SC_M_EXECUTE_PLAN,
                  C(2, S(1, "s"), F(3, C(2, F(1, read_t()), S(15, "x")))), &v));
    /* wire type 7 inside Read: malformed for every profile */
    REFUSED(judge("admin", SC_M_EXECUTE_PLAN, exec_root(F(2, C(2, F(1, S(1, "t")), B7()))), &v));
    ck_assert_int_eq(v.status, GRPC_INVALID_ARGUMENT);
    ck_assert_str_eq(v.rule, "proto");
    ck_assert_str_eq(v.msg, "sparkgate: invalid request: field 15 (wire type 7) at plan.root.read "
                            "(Read): group or undefined wire type; the ExecutePlan request "
                            "message is not valid protobuf");
    REFUSED(judge(NULL, SC_M_EXECUTE_PLAN, exec_root(F(2, C(2, F(1, S(1, "t")), B7()))), &v));
    /* ... and inside a decompressed plan, named after the compressed node */
    rel = F(2, C(2, F(1, S(1, "t")), B7()));
    REFUSED(judge("admin", SC_M_EXECUTE_PLAN, compressed(rel->p, rel->n, 1, 1), &v));
    bfree(rel);
    ck_assert_ptr_nonnull(strstr(v.msg, "at plan.compressed_operation:root.read (Read)"));
    /* invalid UTF-8 in a string field */
    REFUSED(judge("admin", SC_M_EXECUTE_PLAN, exec_root(F(2, F(1, S(1, "t\xc0\xaf")))), &v));
    ck_assert_ptr_nonnull(strstr(v.msg, "field 1 unparsed_identifier (wire type 2) at "
                                        "plan.root.read.named_table (Read.NamedTable): string "
                                        "field is not valid UTF-8"));

    /* ... also in SQL text, which is malformed before it is "unknown SQL" */
    REFUSED(judge("sql-only", SC_M_EXECUTE_PLAN, exec_root(sql_rel("SELECT '\xed\xa0\x80'")), &v));
    ck_assert_int_eq(v.status, GRPC_INVALID_ARGUMENT);
    ck_assert_str_eq(v.rule, "proto");
    ck_assert_ptr_nonnull(strstr(v.msg, "field 1 query (wire type 2) at plan.root.sql (SQL)"));

    /* AddArtifacts: unknown fields at any level follow "unknown", for every profile */
    memset(&st, 0, sizeof(st));
    REFUSED(art("ds", &st, C(2, art_batch("pyfiles/a.py", 1), F(3, F(2, S(1, "jars/x.jar")))), &v));
    ck_assert_int_eq(v.status, GRPC_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(
        strstr(v.msg, "unknown field 2 of AddArtifactsRequest.Batch at batch.#2"));
    ALLOWED(art("admin", &st, C(2, art_batch("pyfiles/a.py", 1), F(3, F(2, S(1, "x")))), &v));
    REFUSED(art("admin", &st, C(2, S(1, "s"), F(3, F(1, V(1, 1)))), &v)); /* name as varint */
    ck_assert_str_eq(v.rule, "proto");
    /* names no server should see, in every profile that may upload */
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        memset(&st, 0, sizeof(st));
        REFUSED(art("admin", &st, art_batch(bad_names[i], 1), &v));
        ck_assert_int_eq(v.status, GRPC_INVALID_ARGUMENT);
        memset(&st, 0, sizeof(st));
        REFUSED(art("ds", &st, art_batch(bad_names[i], 1), &v));
        ck_assert_int_eq(v.status, GRPC_INVALID_ARGUMENT);
    }
    for (size_t i = 0; i < sizeof(good_names) / sizeof(good_names[0]); i++) {
        memset(&st, 0, sizeof(st));
        ck_assert_msg(art("admin", &st, art_batch(good_names[i], 1), &v) == POLICY_ALLOWED,
                      "%s: %s", good_names[i], v.msg);
    }
    /* admin's audit still counts named artifacts */
    ALLOWED(art("admin", &st, art_batch("jars/x.jar", 1), &v));
    ck_assert_uint_eq(v.nodes, 1);
    ck_assert_str_eq(v.kinds, "jars");
    /* policy_check_request judges AddArtifacts the same way */
    rel = art_batch("files/x#..", 1);
    REFUSED(policy_check_request(P("admin"), SC_M_ADD_ARTIFACTS, rel->p, rel->n, NULL, &v));
    bfree(rel);
    ck_assert_ptr_nonnull(strstr(v.msg, "contains \"..\""));
}
END_TEST

/* max_sql_bytes: default, the cap on the SQL text of one message (summed), config errors */
START_TEST(tc_max_sql_bytes)
{
    static const char json[] = HEAD
        "\"profiles\": {\"c\": {\"sql\": [\"query\"], \"max_sql_bytes\": 10}}}";
    static const struct {
        const char *json, *want;
    } bad[] = {
        {HEAD "\"profiles\": {\"c\": {\"max_sql_bytes\": 0}}}",
         "test.json:1:135: profiles.c.max_sql_bytes: 0 is out of range 1..1073741824"},
        {HEAD "\"profiles\": {\"c\": {\"max_sql_bytes\": \"1M\"}}}",
         "profiles.c.max_sql_bytes: expected an integer, got string"},
    };
    struct policy_limits lim;
    struct policy_verdict v;
    struct cfg *c;
    char err[512];
    struct buf *b;

    ck_assert_uint_eq(P("admin")->max_sql_bytes, POLICY_MAX_SQL_BYTES_DEFAULT);
    ck_assert_uint_eq(P("sql-only")->max_sql_bytes, 1u << 20);
    c = cfg_load_buf("test.json", json, strlen(json), false, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    policy_limits_default(&lim);
    b = exec_root(sql_rel("SELECT 100"));
    ck_assert_int_eq(policy_check_request(cfg_profile(c, "c"), SC_M_EXECUTE_PLAN, b->p, b->n, &lim,
                                          &v),
                     POLICY_ALLOWED);
    bfree(b);
    b = exec_root(sql_rel("SELECT 1000"));
    ck_assert_int_eq(policy_check_request(cfg_profile(c, "c"), SC_M_EXECUTE_PLAN, b->p, b->n, &lim,
                                          &v),
                     POLICY_REFUSED);
    ck_assert_int_eq(v.status, GRPC_RESOURCE_EXHAUSTED);
    ck_assert_str_eq(v.rule, "max_sql_bytes");
    ck_assert_str_eq(v.msg, "sparkgate: SQL text at plan.root.sql brings the request to 11 "
                            "bytes of SQL, over profile \"c\" max_sql_bytes (10)");
    bfree(b);
    /* two texts of 8 bytes, each under the cap, 16 together */
    b = exec_cmd(F(5, C(2, S(1, "SELECT 1"), F(6, sql_rel("SELECT 2")))));
    ck_assert_int_eq(policy_check_request(cfg_profile(c, "c"), SC_M_EXECUTE_PLAN, b->p, b->n, &lim,
                                          &v),
                     POLICY_REFUSED);
    ck_assert_int_eq(v.status, GRPC_RESOURCE_EXHAUSTED);
    bfree(b);
    cfg_unref(c);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c = cfg_load_buf("test.json", bad[i].json, strlen(bad[i].json), false, err, sizeof(err));
        ck_assert_msg(c == NULL, "case %zu loaded", i);
        ck_assert_msg(strstr(err, bad[i].want) != NULL, "case %zu: %s", i, err);
    }
}
END_TEST

START_TEST(tc_glob)
{
#define G(p, s) policy_glob_match(p, (const uint8_t *)(s), strlen(s))
    ck_assert(G("*", ""));
    ck_assert(G("spark.sql.*", "spark.sql.x.y"));
    ck_assert(!G("spark.sql.*", "spark.sqlx"));
    ck_assert(G("*password*", "a.password.b"));
    ck_assert(G("a?c", "abc"));
    ck_assert(!G("a?c", "ac"));
    ck_assert(G("*a*b*c", "xxaxxbxxc"));
    ck_assert(!G("*a*b*c", "xxaxxbxxcx"));
    ck_assert(!G("", "x"));
    ck_assert(G("**", "anything"));
#undef G
}
END_TEST

START_TEST(tc_config_errors)
{
    static const struct {
        const char *json, *want;
    } t[] = {
        {HEAD "\"profiles\": {\"p\": {\"relations\": {\"deny\": [\"map_partition\"]}}}}",
         "test.json:1:158: profiles.p.relations.deny[0]: \"map_partition\" is not a relations "
         "kind of the Spark Connect protocol"},
        {HEAD "\"profiles\": {\"p\": {\"relations\": {\"allow\": [], \"deny\": []}}}}",
         "exactly one of"},
        {HEAD "\"profiles\": {\"p\": {\"user_code\": {\"languages\": [\"perl\"]}}}}",
         "unknown language \"perl\""},
        {HEAD "\"profiles\": {\"p\": {\"sql\": [\"select\"]}}}", "unknown SQL class"},
        {HEAD "\"profiles\": {\"p\": {\"methods\": [\"Execute\"]}}}", "unknown method"},
        {HEAD "\"profiles\": {\"p\": {\"artifacts\": {\"jar\": {}}}}}", "unknown artifact kind"},
        {HEAD "\"profiles\": {\"p\": {\"unknown\": \"maybe\"}}}", "expected \"allow\" or \"deny\""},
        {HEAD "\"profiles\": {\"p\": {\"relatoins\": {}}}}", "did you mean \"relations\""},
        {HEAD "\"profiles\": {}}", "expected 1..256 profiles"},
        {HEAD "\"profiles\": {\"p\": {\"relations\": {\"deny\": [\"extension\"]}}}}",
         "profiles.p.relations.deny[0]: \"extension\" cannot be allowed or denied"},
        {HEAD "\"profiles\": {\"p\": {\"expressions\": {\"allow\": [\"extension\"]}}}}",
         "profiles.p.expressions.allow[0]: \"extension\" cannot be allowed or denied"},
        {HEAD "\"profiles\": {\"p\": {\"conf\": {\"deny\": [\"a.[bc]\"]}}}}",
         "profiles.p.conf.deny[0]: pattern \"a.[bc]\" uses '['"},
        {HEAD "\"profiles\": {\"p\": {\"conf\": {\"allow\": [\"a\\\\.b\"]}}}}",
         "profiles.p.conf.allow[0]: pattern"},
        {HEAD "\"profiles\": {\"p\": {\"extensions\": [\"t/{a,b}\"]}}}",
         "profiles.p.extensions[0]: pattern \"t/{a,b}\" uses '{'"},
        {HEAD "\"redact_conf_keys\": [\"x]\"]}", "redact_conf_keys[0]: pattern \"x]\" uses ']'"},
        {HEAD "\"auth\": {\"static_tokens\": [{\"sha256\": \""
              "e3b0c44298fc1c149afbf4c8996fb924"
              "27ae41e4649b934ca495991b7852b855\", \"principal\": \"a\", \"profile\": \"nope\"}]},"
              " \"profiles\": {\"p\": {}}}",
         "auth.static_tokens[0].profile names profile \"nope\", which is not defined here"},
    };
    char err[512];
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct cfg *c = cfg_load_buf("test.json", t[i].json, strlen(t[i].json), false, err,
                                     sizeof(err));

        ck_assert_msg(c == NULL, "case %zu loaded", i);
        ck_assert_msg(strstr(err, t[i].want) != NULL, "case %zu: %s", i, err);
    }
}
END_TEST

/* ---- redaction ---------------------------------------------------------------- */

static struct buf *
kv(const char *k, const char *v)
{
    return F(2, C(2, S(1, k), S(2, v)));
}

START_TEST(tc_redact)
{
    static const char *const keys[] = {"spark.connect.authenticate.token", "*password*"};
    struct policy_globs g = {(char **)(uintptr_t)keys, 2};
    struct redact_secret sec = {(const uint8_t *)"s3cr3t-psk-value", 16};
    struct redact_rules r = {&g, &sec, 1, NULL, 0};
    struct buf *in, *want;
    uint8_t *out;
    size_t outlen;

    /* nothing to hide: 0 and no copy */
    in = C(3, S(1, "sess"), kv("spark.sql.x", "1"), S(4, "ss"));
    ck_assert_int_eq(redact_config_response(in->p, in->n, &r, &out, &outlen), 0);
    ck_assert_ptr_null(out);
    bfree(in);
    /* by key, by value, in a warning; order and other fields kept */
    in = C(6, S(1, "sess"), kv("spark.sql.x", "1"), kv("spark.connect.authenticate.token", "t"),
           kv("my.db.password", "hunter2"), kv("app.k", "prefix-s3cr3t-psk-value-suffix"),
           S(3, "warning with s3cr3t-psk-value"));
    want = C(6, S(1, "sess"), kv("spark.sql.x", "1"),
             kv("spark.connect.authenticate.token", REDACT_VALUE),
             kv("my.db.password", REDACT_VALUE), kv("app.k", REDACT_VALUE), S(3, REDACT_WARNING));
    ck_assert_int_eq(redact_config_response(in->p, in->n, &r, &out, &outlen), 4);
    ck_assert_uint_eq(outlen, want->n);
    ck_assert(memcmp(out, want->p, outlen) == 0);
    free(out);
    bfree(in);
    bfree(want);
    /* get_all with a prefix: keys come back without it */
    r.prefix = (const uint8_t *)"spark.connect.";
    r.prefix_len = strlen("spark.connect.");
    in = kv("authenticate.token", "abc");
    ck_assert_int_eq(redact_config_response(in->p, in->n, &r, &out, &outlen), 1);
    free(out);
    bfree(in);
    /* malformed */
    ck_assert_int_eq(redact_config_response((const uint8_t *)"\x12\x05", 2, &r, &out, &outlen),
                     SG_ERR_PROTO);
    /* the prefix reader */
    {
        struct buf *req = C(2, S(1, "s"), F(3, F(5, S(1, "spark."))));
        const uint8_t *p;
        size_t pl;

        ck_assert_int_eq(redact_config_prefix(req->p, req->n, &p, &pl), 1);
        ck_assert_uint_eq(pl, 6);
        ck_assert(memcmp(p, "spark.", 6) == 0);
        bfree(req);
    }
}
END_TEST

START_TEST(tc_redact_case)
{
    static const char *const keys[] = {"*password*", "*token*", "*access.key*",
                                       "*fs.azure.account.key*"};
    static const char *const hit[] = {
        "spark.ssl.keyStorePassword", "SPARK.SSL.KEYPASSWORD",
        "fs.s3a.session.token",       "spark.datasource.x.oauthToken",
        "fs.s3a.Access.Key",          "spark.hadoop.fs.azure.account.key.acct.dfs.core.windows.net",
    };
    static const char *const miss[] = {"spark.app.name", "spark.sql.shuffle.partitions",
                                       "spark.tokenizer", "passwor"};
    struct policy_globs g = {(char **)(uintptr_t)keys, 4};
    struct redact_rules r = {&g, NULL, 0, NULL, 0};
    struct buf *in;
    uint8_t *out;
    size_t outlen, i, j;
    bool any;

    for (i = 0; i < sizeof(hit) / sizeof(hit[0]); i++) {
        in = kv(hit[i], "v");
        ck_assert_msg(redact_config_response(in->p, in->n, &r, &out, &outlen) == 1, "%s", hit[i]);
        free(out);
        bfree(in);
    }
    for (i = 0; i < sizeof(miss) / sizeof(miss[0]); i++) {
        any = false;
        for (j = 0; j < 4; j++)
            any = any || redact_key_match(keys[j], (const uint8_t *)miss[i], strlen(miss[i]));
        /* "spark.tokenizer" does contain "token": Spark's pattern hides it too */
        ck_assert_msg(any == (i == 2), "%s", miss[i]);
    }
    ck_assert(redact_key_match("A?C", (const uint8_t *)"abc", 3));
    ck_assert(!redact_key_match("abc", (const uint8_t *)"abcd", 4));
}
END_TEST

/*
 * Property: redaction hides a value exactly when one pattern matches its key
 * by redact_key_match (the plain backtracking matcher), whatever path the
 * redactor takes (a memmem for "*word*" over the lowered key, long keys,
 * keys judged again under a get_all prefix).  Patterns stored lowered, as
 * cfg_policy.c stores them.
 */
START_TEST(tc_redact_matches_reference)
{
    static const char *const keys[] = {"*secret*",   "*token*", "*access.key*",
                                       "spark.a?c*", "*k*y",    "*"};
    static const char alpha[] = "aAbBcCkKyYsSeEtT.oOn*?x";
    struct policy_globs g = {(char **)(uintptr_t)keys, 0};
    struct redact_rules r = {&g, NULL, 0, NULL, 0};
    char key[400], full[420];
    unsigned seed = 7;

    for (int iter = 0; iter < 20000; iter++) {
        size_t len, n;
        bool want = false, with_prefix = (iter & 1) != 0;
        struct buf *in;
        uint8_t *out;
        size_t outlen;
        int rv;

        seed = seed * 1103515245u + 12345u;
        g.n = 1 + (seed >> 16) % (sizeof(keys) / sizeof(keys[0]) - 1);
        seed = seed * 1103515245u + 12345u;
        len = (seed >> 16) % ((iter % 50) == 0 ? 380 : 24);
        for (n = 0; n < len; n++) {
            seed = seed * 1103515245u + 12345u;
            key[n] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
        }
        key[len] = '\0';
        r.prefix = with_prefix ? (const uint8_t *)"spark." : NULL;
        r.prefix_len = with_prefix ? 6 : 0;
        snprintf(full, sizeof(full), "spark.%s", key);
        for (n = 0; n < g.n; n++) {
            want = want || redact_key_match(keys[n], (const uint8_t *)key, len);
            if (with_prefix)
                want = want || redact_key_match(keys[n], (const uint8_t *)full, len + 6);
        }
        in = kv(key, "v");
        rv = redact_config_response(in->p, in->n, &r, &out, &outlen);
        ck_assert_msg(rv == (want ? 1 : 0), "key \"%s\" patterns %zu prefix %d: %d", key, g.n,
                      (int)with_prefix, rv);
        if (rv > 0)
            free(out);
        bfree(in);
    }
}
END_TEST

static void
scrub_is(const char *in, const char *want, int removed)
{
    uint8_t out[512];
    size_t outlen = 0;
    int n = redact_remote_scrub((const uint8_t *)in, strlen(in), out, &outlen);

    ck_assert_msg(n == removed, "%s: removed %d, expected %d", in, n, removed);
    ck_assert_msg(outlen == strlen(want) && memcmp(out, want, outlen) == 0, "%s -> %.*s", in,
                  (int)outlen, out);
}

START_TEST(tc_remote_scrub)
{
    scrub_is("sc://h:15002", "sc://h:15002", 0);
    scrub_is("sc://h:15002/;user_id=a;use_ssl=true", "sc://h:15002/;user_id=a;use_ssl=true", 0);
    scrub_is("sc://h:15002/;token=abc;user_id=a", "sc://h:15002/;user_id=a", 1);
    scrub_is("sc://h:15002/;user_id=a;token=abc", "sc://h:15002/;user_id=a", 1);
    scrub_is("sc://h/;TOKEN=a;Password=b;x-api-key=c;client_secret=d;user_id=u",
             "sc://h/;user_id=u", 4);
    scrub_is("sc://h/; token =abc;use_ssl=true", "sc://h/;use_ssl=true", 1);
    scrub_is("sc://u:pw@h:1/;user_id=u", "sc://h:1/;user_id=u", 1);
    scrub_is("sc://u:pw@h:1/;token=t", "sc://h:1/", 2);
    scrub_is("sc://h/p@x;token=t", "sc://h/p@x", 1);
    scrub_is("token=abc", "token=abc", 0); /* no parameters: nothing is a parameter name */
    scrub_is(";token=abc", "", 1);
    scrub_is("sc://h/;;token", "sc://h/;", 1);
    scrub_is("", "", 0);
}
END_TEST

/* Set/GetWithDefault.pairs = 1: KeyValue{key = 1, value = 2} */
static struct buf *
rkv(const char *k, const char *v)
{
    return F(1, C(2, S(1, k), S(2, v)));
}

START_TEST(tc_config_request_scrub)
{
    const char *remote = "sc://h:15002/;use_ssl=true;token=s3cr3t;user_id=alice";
    const char *clean = "sc://h:15002/;use_ssl=true;user_id=alice";
    struct buf *in, *want;
    uint8_t *out;
    size_t outlen;

    /* set: spark.remote scrubbed, the other pair and fields kept, lengths rebuilt */
    in = C(3, S(1, "sess"),
           F(3, F(1, C(2, rkv("spark.app.name", "x"), rkv("spark.remote", remote)))), S(4, "ct"));
    want = C(3, S(1, "sess"),
             F(3, F(1, C(2, rkv("spark.app.name", "x"), rkv("spark.remote", clean)))), S(4, "ct"));
    ck_assert_int_eq(redact_config_request(in->p, in->n, &out, &outlen), 1);
    ck_assert_uint_eq(outlen, want->n);
    ck_assert(memcmp(out, want->p, outlen) == 0);
    ck_assert_int_eq(pb_validate(out, outlen), 0);
    free(out);
    bfree(in);
    bfree(want);
    /* get_with_default (3), any key whose value is a connection string */
    in = F(3, F(3, rkv("my.conf", "SC://h/;token=t")));
    want = F(3, F(3, rkv("my.conf", "SC://h/")));
    ck_assert_int_eq(redact_config_request(in->p, in->n, &out, &outlen), 1);
    ck_assert_uint_eq(outlen, want->n);
    ck_assert(memcmp(out, want->p, outlen) == 0);
    free(out);
    bfree(in);
    bfree(want);
    /* nothing to do: get, or a set without credentials */
    in = C(2, F(3, F(2, S(1, "spark.remote"))), F(3, F(1, rkv("spark.remote", clean))));
    ck_assert_int_eq(redact_config_request(in->p, in->n, &out, &outlen), 0);
    ck_assert_ptr_null(out);
    bfree(in);
    /* malformed inside a pair */
    ck_assert_int_eq(redact_config_request((const uint8_t *)"\x1a\x04\x0a\x02\x12\x05", 6, &out,
                                           &outlen),
                     SG_ERR_PROTO);
}
END_TEST

Suite *
policy_suite(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, tc_udf_message_and_facts);
    tcase_add_test(tc, tc_hidden_udf);
    tcase_add_test(tc, tc_smuggling);
    tcase_add_test(tc, tc_methods_and_kinds);
    tcase_add_test(tc, tc_sql_classes);
    tcase_add_test(tc, tc_max_sql_bytes);
    tcase_add_test(tc, tc_config_keys);
    tcase_add_test(tc, tc_artifacts);
    tcase_add_test(tc, tc_compressed);
    tcase_add_test(tc, tc_depth);
    tcase_add_test(tc, tc_malformed);
    tcase_add_test(tc, tc_unknown_and_extensions);
    tcase_add_test(tc, tc_schema_strict);
    tcase_add_test(tc, tc_glob);
    tcase_add_test(tc, tc_config_errors);
    tcase_add_test(tc, tc_redact);
    tcase_add_test(tc, tc_redact_case);
    tcase_add_test(tc, tc_redact_matches_reference);
    tcase_add_test(tc, tc_remote_scrub);
    tcase_add_test(tc, tc_config_request_scrub);
    suite_add_tcase(s, tc);
    return s;
}
