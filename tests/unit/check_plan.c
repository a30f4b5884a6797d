/*
 * Unit tests for src/plan.c: the Spark Connect plan walker.  Plans are
 * built with the tiny protobuf encoder of pbenc.h.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "sg_err.h"
#include "pb.h"
#include "plan.h"
#include "plan_schema.h"
#include "check_suites.h"

#include "pbenc.h"

/* ---- collector ------------------------------------------------------------ */

#define MAXN 64

struct rec {
    enum plan_cat cat;
    char kind[64];
    char path[PLAN_PATH_MAX];
    uint32_t field;
    bool has_eval;
    int32_t eval;
    char text[64];
    bool trunc;
};

struct col {
    struct rec r[MAXN];
    size_t n;
    int stop_at; /* return SG_ERR_DENIED at this node (1-based), 0 = never */
};

static int
collect(const struct plan_node *nd, void *arg)
{
    struct col *c = arg;
    struct rec *r;

    ck_assert_uint_eq(strlen(nd->path), nd->path_len);
    ck_assert_uint_lt(nd->path_len, PLAN_PATH_MAX);
    if (c->n < MAXN) {
        r = &c->r[c->n];
        r->cat = nd->cat;
        snprintf(r->kind, sizeof(r->kind), "%s", nd->kind);
        snprintf(r->path, sizeof(r->path), "%s", nd->path);
        r->field = nd->field;
        r->has_eval = nd->has_eval_type;
        r->eval = nd->eval_type;
        r->trunc = nd->path_truncated;
        if (nd->text != NULL)
            snprintf(r->text, sizeof(r->text), "%.*s", (int)nd->text_len, (const char *)nd->text);
    }
    c->n++;
    if (c->stop_at != 0 && c->n == (size_t)c->stop_at)
        return SG_ERR_DENIED;
    return 0;
}

static const struct rec *
find(const struct col *c, enum plan_cat cat, const char *kind)
{
    size_t i;

    for (i = 0; i < c->n && i < MAXN; i++)
        if (c->r[i].cat == cat && strcmp(c->r[i].kind, kind) == 0)
            return &c->r[i];
    return NULL;
}

/* find() that fails the test instead of returning NULL */
static const struct rec *
must(const struct rec *r)
{
    ck_assert_ptr_nonnull(r);
    return r;
}

static const struct rec *
find_path(const struct col *c, enum plan_cat cat, const char *kind, const char *path)
{
    size_t i;

    for (i = 0; i < c->n && i < MAXN; i++)
        if (c->r[i].cat == cat && strcmp(c->r[i].kind, kind) == 0 &&
            strcmp(c->r[i].path, path) == 0)
            return &c->r[i];
    return NULL;
}

static int
walk(enum sc_method_id m, struct buf *b, struct col *c)
{
    struct plan_facts facts;
    int rv;

    memset(c, 0, sizeof(*c));
    rv = plan_walk(m, b->p, b->n, NULL, &facts, collect, c);
    if (rv == 0)
        ck_assert_uint_eq(facts.nodes, c->n);
    bfree(b);
    return rv;
}

/* ExecutePlanRequest{session_id, plan{root=rel}} */
static struct buf *
exec_rel(struct buf *rel)
{
    return C(2, S(1, "sess"), F(3, F(1, rel)));
}

static struct buf *
exec_cmd(struct buf *cmd)
{
    return C(2, S(1, "sess"), F(3, F(2, cmd)));
}

/* Expression{common_inline_user_defined_function{python_udf{eval_type, command}}} */
static struct buf *
udf_expr(uint64_t eval)
{
    return F(15, C(2, S(1, "f"), F(4, C(2, V(2, eval), S(3, "pickle")))));
}

/* Relation{project{expressions=e}} */
static struct buf *
proj(struct buf *e)
{
    return F(3, F(3, e));
}

static void
expect_udf(struct col *c, int rv, int32_t eval, const char *path)
{
    const struct rec *r;

    ck_assert_int_eq(rv, 0);
    r = find(c, PLAN_CAT_USER_CODE, "python_udf");
    ck_assert_ptr_nonnull(r);
    ck_assert(r->has_eval);
    ck_assert_int_eq(r->eval, eval);
    if (path != NULL)
        ck_assert_str_eq(r->path, path);
    ck_assert_ptr_nonnull(find(c, PLAN_CAT_EXPRESSION, "common_inline_user_defined_function"));
}

/* ---- every kind, at depth ---------------------------------------------------- */

static void
each_oneof_member(uint16_t msg, void (*fn)(const struct plan_schema_field *))
{
    const struct plan_schema_msg *m = &plan_schema_msgs[msg];
    size_t i;

    for (i = m->first; i < (size_t)m->first + m->nfields; i++)
        if (plan_schema_fields[i].oneof != NULL)
            fn(&plan_schema_fields[i]);
}

/* project -> filter -> join.right -> <kind> */
static struct buf *
deep(struct buf *rel)
{
    return F(3, F(1, F(4, F(1, F(5, C(2, F(1, F(15, E())), F(2, rel)))))));
}

static void
check_rel_kind(const struct plan_schema_field *sf)
{
    struct col c;
    const struct rec *r;
    char want[PLAN_PATH_MAX];

    ck_assert_int_eq(walk(SC_M_EXECUTE_PLAN, exec_rel(deep(F(sf->num, E()))), &c), 0);
    snprintf(want, sizeof(want), "plan.root.project.input.filter.input.join.right.%s", sf->name);
    r = find_path(&c, PLAN_CAT_RELATION, sf->name, want);
    ck_assert_msg(r != NULL, "relation %s not reported", sf->name);
    ck_assert_uint_eq(r->field, sf->num);
}

static void
check_expr_kind(const struct plan_schema_field *sf)
{
    struct col c;
    const struct rec *r;
    char want[PLAN_PATH_MAX];

    ck_assert_int_eq(walk(SC_M_EXECUTE_PLAN, exec_rel(deep(proj(C(2, F(1, E()), F(sf->num, E()))))),
                          &c),
                     0);
    snprintf(want, sizeof(want),
             "plan.root.project.input.filter.input.join.right.project.expressions[0].%s", sf->name);
    r = find_path(&c, PLAN_CAT_EXPRESSION, sf->name, want);
    ck_assert_msg(r != NULL, "expression %s not reported", sf->name);
}

static void
check_cmd_kind(const struct plan_schema_field *sf)
{
    struct col c;
    const struct rec *r;
    char want[PLAN_PATH_MAX];

    ck_assert_int_eq(walk(SC_M_EXECUTE_PLAN, exec_cmd(F(sf->num, E())), &c), 0);
    snprintf(want, sizeof(want), "plan.command.%s", sf->name);
    r = find(&c, sf->num == 999 ? PLAN_CAT_EXTENSION : PLAN_CAT_COMMAND, sf->name);
    ck_assert_msg(r != NULL, "command %s not reported", sf->name);
    ck_assert_str_eq(r->path, want);
}

static void
check_cat_kind(const struct plan_schema_field *sf)
{
    struct col c;

    ck_assert_int_eq(walk(SC_M_EXECUTE_PLAN, exec_rel(deep(F(200, F(sf->num, E())))), &c), 0);
    ck_assert_msg(find(&c, PLAN_CAT_CATALOG, sf->name) != NULL, "catalog %s", sf->name);
}

/* extension members (Any) are reported as extensions, not as relations */
static void
check_rel_kind_any(const struct plan_schema_field *sf)
{
    if (sf->kind == PLAN_SCHEMA_F_ANY) {
        struct col c;

        ck_assert_int_eq(walk(SC_M_EXECUTE_PLAN, exec_rel(deep(F(sf->num, E()))), &c), 0);
        ck_assert_ptr_nonnull(find(&c, PLAN_CAT_EXTENSION, sf->name));
        return;
    }
    check_rel_kind(sf);
}

static void
check_expr_kind_any(const struct plan_schema_field *sf)
{
    if (sf->kind == PLAN_SCHEMA_F_ANY) {
        struct col c;

        ck_assert_int_eq(walk(SC_M_EXECUTE_PLAN, exec_rel(proj(F(sf->num, E()))), &c), 0);
        ck_assert_ptr_nonnull(find(&c, PLAN_CAT_EXTENSION, sf->name));
        return;
    }
    check_expr_kind(sf);
}

START_TEST(tc_every_relation_kind)
{
    each_oneof_member(PLAN_SCHEMA_RELATION, check_rel_kind_any);
}
END_TEST

START_TEST(tc_every_expression_kind)
{
    size_t i;

    for (i = 0; i < PLAN_SCHEMA_NMSGS; i++)
        if (strcmp(plan_schema_msgs[i].name, "Expression") == 0)
            each_oneof_member((uint16_t)i, check_expr_kind_any);
}
END_TEST

START_TEST(tc_every_command_kind)
{
    each_oneof_member(PLAN_SCHEMA_COMMAND, check_cmd_kind);
}
END_TEST

START_TEST(tc_every_catalog_kind)
{
    size_t i;

    for (i = 0; i < PLAN_SCHEMA_NMSGS; i++)
        if (strcmp(plan_schema_msgs[i].name, "Catalog") == 0)
            each_oneof_member((uint16_t)i, check_cat_kind);
}
END_TEST

/* ---- python_udf hidden in every kind of nesting ------------------------------- */

START_TEST(tc_udf_join_side)
{
    struct col c;
    int rv = walk(SC_M_EXECUTE_PLAN,
                  exec_rel(F(5, C(2, F(1, F(2, E())), F(2, proj(udf_expr(100)))))), &c);

    expect_udf(&c, rv, 100,
               "plan.root.join.right.project.expressions[0].common_inline_user_defined_function."
               "python_udf");
}
END_TEST

START_TEST(tc_udf_with_relations)
{
    struct col c;
    /* references[0] is harmless, references[1] hides the UDF */
    int rv = walk(SC_M_EXECUTE_PLAN,
                  exec_rel(
                      F(41, C(3, F(1, F(15, E())), F(2, F(15, E())), F(2, proj(udf_expr(200)))))),
                  &c);

    expect_udf(&c, rv, 200,
               "plan.root.with_relations.references[1].project.expressions[0]."
               "common_inline_user_defined_function.python_udf");
}
END_TEST

START_TEST(tc_udf_lambda)
{
    struct col c;
    int rv = walk(SC_M_EXECUTE_PLAN, exec_rel(proj(F(10, F(1, udf_expr(101))))), &c);

    expect_udf(&c, rv, 101, NULL);
    ck_assert_ptr_nonnull(find(&c, PLAN_CAT_EXPRESSION, "lambda_function"));
}
END_TEST

START_TEST(tc_udf_sort_order)
{
    struct col c;
    /* Sort{input, order[0]=harmless, order[1]={child=udf}} */
    int rv = walk(SC_M_EXECUTE_PLAN,
                  exec_rel(F(7, C(3, F(1, F(15, E())), F(2, F(1, F(1, E()))),
                                  F(2, F(1, udf_expr(204)))))),
                  &c);

    expect_udf(&c, rv, 204,
               "plan.root.sort.order[1].child.common_inline_user_defined_function.python_udf");
}
END_TEST

START_TEST(tc_udf_window_spec)
{
    struct col c;
    /* Window{window_function, partition_spec[0], order_spec[0]{child=udf}} */
    int rv = walk(SC_M_EXECUTE_PLAN,
                  exec_rel(proj(
                      F(11, C(3, F(1, F(1, E())), F(2, F(1, E())), F(3, F(1, udf_expr(203))))))),
                  &c);

    expect_udf(&c, rv, 203,
               "plan.root.project.expressions[0].window.order_spec[0].child."
               "common_inline_user_defined_function.python_udf");
}
END_TEST

START_TEST(tc_udf_write_operation_input)
{
    struct col c;
    int rv = walk(SC_M_EXECUTE_PLAN, exec_cmd(F(2, F(1, proj(udf_expr(100))))), &c);

    expect_udf(&c, rv, 100,
               "plan.command.write_operation.input.project.expressions[0]."
               "common_inline_user_defined_function.python_udf");
    ck_assert_ptr_nonnull(find(&c, PLAN_CAT_COMMAND, "write_operation"));
}
END_TEST

START_TEST(tc_udf_foreach_batch)
{
    struct col c;
    const struct rec *r;
    int rv = walk(SC_M_EXECUTE_PLAN,
                  exec_cmd(F(6, C(2, F(1, F(15, E())), F(14, F(1, C(2, V(2, 100), S(3, "fn"))))))),
                  &c);

    ck_assert_int_eq(rv, 0);
    ck_assert_ptr_nonnull(find(&c, PLAN_CAT_COMMAND, "write_stream_operation_start"));
    r = find(&c, PLAN_CAT_USER_CODE, "foreach_batch");
    ck_assert_ptr_nonnull(r);
    r = find(&c, PLAN_CAT_USER_CODE, "python_function");
    ck_assert_ptr_nonnull(r);
    ck_assert(r->has_eval);
    ck_assert_int_eq(r->eval, 100);
    ck_assert_str_eq(r->path,
                     "plan.command.write_stream_operation_start.foreach_batch.python_function");
}
END_TEST

START_TEST(tc_udf_analyze_schema_and_persist)
{
    struct col c;
    int rv;

    /* AnalyzePlanRequest{schema(4){plan(1){root(1)=...}}} */
    rv = walk(SC_M_ANALYZE_PLAN, C(2, S(1, "s"), F(4, F(1, F(1, proj(udf_expr(205)))))), &c);
    expect_udf(&c, rv, 205,
               "schema.plan.root.project.expressions[0].common_inline_user_defined_function."
               "python_udf");
    /* AnalyzePlanRequest{persist(14){relation(1)=...}} */
    rv = walk(SC_M_ANALYZE_PLAN, F(14, F(1, proj(udf_expr(207)))), &c);
    expect_udf(&c, rv, 207,
               "persist.relation.project.expressions[0].common_inline_user_defined_function."
               "python_udf");
}
END_TEST

/* ---- duplicates / oneof-twice ------------------------------------------------ */

START_TEST(tc_plan_root_then_command)
{
    struct col c;
    /* Plan{root=Relation{sql}, command=register_function{python_udf}}: Java keeps command */
    int rv = walk(SC_M_EXECUTE_PLAN,
                  F(3, C(2, F(1, F(10, S(1, "SELECT 1"))),
                         F(2, F(1, F(4, C(2, V(2, 100), S(3, "x"))))))),
                  &c);

    ck_assert_int_eq(rv, 0);
    ck_assert_ptr_nonnull(find(&c, PLAN_CAT_RELATION, "sql"));
    ck_assert_ptr_nonnull(find(&c, PLAN_CAT_COMMAND, "register_function"));
    ck_assert_ptr_nonnull(find(&c, PLAN_CAT_USER_CODE, "python_udf"));
}
END_TEST

START_TEST(tc_relation_read_then_map_partitions)
{
    struct col c;
    const struct rec *r;
    int rv = walk(SC_M_EXECUTE_PLAN,
                  exec_rel(
                      C(2, F(2, E()),
                        F(28, C(2, F(1, F(15, E())), F(2, F(4, C(2, V(2, 205), S(3, "x")))))))),
                  &c);

    ck_assert_int_eq(rv, 0);
    ck_assert_ptr_nonnull(find(&c, PLAN_CAT_RELATION, "read"));
    ck_assert_ptr_nonnull(find(&c, PLAN_CAT_RELATION, "map_partitions"));
    r = find(&c, PLAN_CAT_USER_CODE, "python_udf");
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->eval, 205);
    ck_assert_str_eq(r->path, "plan.root.map_partitions.func.python_udf");
}
END_TEST

START_TEST(tc_duplicate_singular)
{
    struct col c;
    /* Plan{root=R{read}, root=R{map_partitions}}: protobuf-java merges both roots */
    int rv = walk(SC_M_EXECUTE_PLAN,
                  F(3, C(2, F(1, F(2, E())), F(1, F(28, F(2, F(4, V(2, 207))))))), &c);

    ck_assert_int_eq(rv, 0);
    ck_assert_ptr_nonnull(find(&c, PLAN_CAT_RELATION, "read"));
    ck_assert_ptr_nonnull(find(&c, PLAN_CAT_RELATION, "map_partitions"));
    ck_assert_ptr_nonnull(find(&c, PLAN_CAT_USER_CODE, "python_udf"));
}
END_TEST

/* ---- depth -------------------------------------------------------------------- */

/* Relation chain: |k| project levels, the innermost Relation holds |inner|. */
static struct buf *
chain(unsigned k, struct buf *inner)
{
    struct buf *r = inner;
    unsigned i;

    for (i = 0; i < k; i++)
        r = F(3, F(1, r)); /* Relation{project{input=r}} */
    return r;
}

START_TEST(tc_depth_limit)
{
    struct plan_facts facts;
    struct buf *b;
    int rv;

    /* 512 projects: innermost (empty) Relation at depth 1024 (top Relation = 0) */
    b = chain(512, E());
    rv = plan_walk_relation_or_command(PLAN_OP_RELATION, b->p, b->n, NULL, &facts, NULL, NULL);
    ck_assert_int_eq(rv, 0);
    ck_assert_uint_eq(facts.max_depth, 1024);
    ck_assert_uint_eq(facts.by_cat[PLAN_CAT_RELATION], 512);
    bfree(b);
    /* every message counts, as in protobuf-java: a leaf member's payload too */
    b = chain(512, F(15, E()));
    rv = plan_walk_relation_or_command(PLAN_OP_RELATION, b->p, b->n, NULL, &facts, NULL, NULL);
    ck_assert_int_eq(rv, SG_ERR_LIMIT);
    bfree(b);
    /* one more message (an empty Project at 1025) is refused */
    b = chain(512, F(3, E()));
    rv = plan_walk_relation_or_command(PLAN_OP_RELATION, b->p, b->n, NULL, &facts, NULL, NULL);
    ck_assert_int_eq(rv, SG_ERR_LIMIT);
    bfree(b);
}
END_TEST

START_TEST(tc_depth_custom_and_path_truncation)
{
    struct plan_limits lim = {.max_depth = 10, .max_nodes = 0};
    struct plan_facts facts;
    struct col c;
    struct buf *b = chain(5, E()); /* depth 10 */
    int rv;

    rv = plan_walk_relation_or_command(PLAN_OP_RELATION, b->p, b->n, &lim, &facts, NULL, NULL);
    ck_assert_int_eq(rv, 0);
    bfree(b);
    b = chain(5, F(15, E())); /* depth 11: the range message */
    rv = plan_walk_relation_or_command(PLAN_OP_RELATION, b->p, b->n, &lim, &facts, NULL, NULL);
    ck_assert_int_eq(rv, SG_ERR_LIMIT);
    bfree(b);

    /* a long path is cut with "..." and restored on the way back up */
    b = C(2, chain(40, F(15, E())), F(8, E())); /* 40 x ".project.input" */
    memset(&c, 0, sizeof(c));
    rv = plan_walk_relation_or_command(PLAN_OP_RELATION, b->p, b->n, NULL, &facts, collect, &c);
    ck_assert_int_eq(rv, 0);
    ck_assert(must(find(&c, PLAN_CAT_RELATION, "range"))->trunc);
    ck_assert_str_eq(must(find(&c, PLAN_CAT_RELATION, "limit"))->path, "root.limit");
    ck_assert(!must(find(&c, PLAN_CAT_RELATION, "limit"))->trunc);
    bfree(b);
}
END_TEST

/* ---- malformed input ---------------------------------------------------------- */

static int
walk_raw(const uint8_t *p, size_t n)
{
    return plan_walk(SC_M_EXECUTE_PLAN, p, n, NULL, NULL, NULL, NULL);
}

START_TEST(tc_malformed)
{
    struct buf *b = exec_rel(proj(udf_expr(100)));
    /* ExecutePlanRequest{plan{root{ <tag> }}} with a bad tag inside Relation */
    static const uint8_t wt3[] = {0x1a, 0x03, 0x0a, 0x01, (5 << 3) | 3};
    static const uint8_t wt4[] = {0x1a, 0x03, 0x0a, 0x01, (5 << 3) | 4};
    static const uint8_t wt6[] = {0x1a, 0x04, 0x0a, 0x02, (5 << 3) | 6, 0};
    static const uint8_t wt7[] = {0x1a, 0x04, 0x0a, 0x02, (5 << 3) | 7, 0};
    /* range (15) as an 11-byte varint */
    static const uint8_t overlong[] = {0x1a, 0x0e, 0x0a, 0x0c, 0x78, 0x80, 0x80, 0x80,
                                       0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    static const uint8_t badlen[] = {0x1a, 0x03, 0x0a, 0x01, 0x1a}; /* project, no length */
    size_t i;

    ck_assert_int_eq(walk_raw(b->p, b->n), 0);
    for (i = 0; i < b->n; i++)
        ck_assert_int_eq(walk_raw(b->p, i) == 0 || walk_raw(b->p, i) == SG_ERR_PROTO, 1);
    ck_assert_int_eq(walk_raw(b->p, b->n - 1), SG_ERR_PROTO);
    bfree(b);
    ck_assert_int_eq(walk_raw(wt3, sizeof(wt3)), SG_ERR_PROTO);
    ck_assert_int_eq(walk_raw(wt4, sizeof(wt4)), SG_ERR_PROTO);
    ck_assert_int_eq(walk_raw(wt6, sizeof(wt6)), SG_ERR_PROTO);
    ck_assert_int_eq(walk_raw(wt7, sizeof(wt7)), SG_ERR_PROTO);
    ck_assert_int_eq(walk_raw(overlong, sizeof(overlong)), SG_ERR_PROTO);
    ck_assert_int_eq(walk_raw(badlen, sizeof(badlen)), SG_ERR_PROTO);
    ck_assert_int_eq(plan_walk(SC_M_COUNT, badlen, 1, NULL, NULL, NULL, NULL), SG_ERR_INTERNAL);
}
END_TEST

/* ---- unknown, extension, compressed, facts ------------------------------------ */

/* Raw bytes (a field with any wire type, hand-encoded). */
static struct buf *
Bytes(const uint8_t *p, size_t n)
{
    struct buf *b = B();

    put(b, p, n);
    return b;
}

/* Length-delimited field |num| holding |n| arbitrary bytes. */
static struct buf *
Lstr(uint32_t num, const uint8_t *p, size_t n)
{
    struct buf *b = B();

    put_varint(b, (uint64_t)num << 3 | PB_WT_LEN);
    put_varint(b, n);
    put(b, p, n);
    return b;
}

/* plan_walk with the facts kept, for the error fields */
static int
walk_facts(enum sc_method_id m, struct buf *b, struct col *c, struct plan_facts *facts)
{
    int rv;

    memset(c, 0, sizeof(*c));
    rv = plan_walk(m, b->p, b->n, NULL, facts, collect, c);
    bfree(b);
    return rv;
}

START_TEST(tc_unknown_fields)
{
    struct plan_facts facts;
    struct col c;
    const struct rec *r;
    /* Relation{777: varint, 555: bytes}: unknown node kinds */
    int rv = walk(SC_M_EXECUTE_PLAN, exec_rel(C(2, V(777, 1), S(555, "x"))), &c);

    ck_assert_int_eq(rv, 0);
    ck_assert_uint_eq(c.n, 2);
    r = &c.r[0];
    ck_assert_int_eq(r->cat, PLAN_CAT_UNKNOWN);
    ck_assert_uint_eq(r->field, 777);
    ck_assert_str_eq(r->path, "plan.root.#777");
    ck_assert_uint_eq(c.r[1].field, 555);
    /* a known member with a wire type its type never has is malformed, not unknown */
    rv = walk_facts(SC_M_EXECUTE_PLAN, exec_rel(V(3, 1)), &c, &facts);
    ck_assert_int_eq(rv, SG_ERR_PROTO);
    ck_assert_int_eq(facts.err, PLAN_ERR_WRONG_TYPE);
    ck_assert_uint_eq(facts.err_field, 3);
    ck_assert_uint_eq(facts.err_wt, 0);
    ck_assert_str_eq(facts.err_name, "project");
    ck_assert_str_eq(facts.err_path, "plan.root");
    /* unknown fields elsewhere are reported too, at every level */
    rv = walk(SC_M_EXECUTE_PLAN, C(2, V(4000, 1), F(3, S(77, "x"))), &c);
    ck_assert_int_eq(rv, 0);
    ck_assert_uint_eq(c.n, 2);
    ck_assert_int_eq(c.r[0].cat, PLAN_CAT_UNKNOWN_FIELD);
    ck_assert_str_eq(c.r[0].path, "#4000");
    ck_assert_int_eq(c.r[1].cat, PLAN_CAT_UNKNOWN_FIELD);
    ck_assert_str_eq(c.r[1].path, "plan.#77");
    /* inside a leaf message that was never parsed before: Read.NamedTable */
    rv = walk(SC_M_EXECUTE_PLAN, exec_rel(F(2, F(1, C(2, S(1, "t"), S(15, "x"))))), &c);
    ck_assert_int_eq(rv, 0);
    r = must(find(&c, PLAN_CAT_UNKNOWN_FIELD, "unknown"));
    ck_assert_str_eq(r->path, "plan.root.read.named_table.#15");
    ck_assert_uint_eq(r->field, 15);
}
END_TEST

/* Every field of every message is checked against its type. */
START_TEST(tc_strict_types)
{
    struct plan_facts facts;
    struct col c;
    struct buf *b;
    static const uint8_t bad_utf8[][4] = {
        {0xc0, 0xaf},             /* overlong '/' */
        {0xe0, 0x80, 0xaf},       /* overlong, 3 bytes */
        {0xed, 0xa0, 0x80},       /* surrogate U+D800 */
        {0xf4, 0x90, 0x80, 0x80}, /* U+110000 */
        {0xf5, 0x80, 0x80, 0x80}, /* no such lead byte */
        {0xc3},                   /* truncated sequence */
        {0x80},                   /* lone continuation */
    };
    static const size_t bad_len[] = {2, 3, 3, 4, 4, 1, 1};
    int rv;

    /* wire type 7 inside Read.NamedTable: the field, its wire type and the path */
    b = C(2, S(1, "t"), Bytes((const uint8_t *)"\x7f\x00", 2));
    rv = walk_facts(SC_M_EXECUTE_PLAN, exec_rel(F(2, F(1, b))), &c, &facts);
    ck_assert_int_eq(rv, SG_ERR_PROTO);
    ck_assert_int_eq(facts.err, PLAN_ERR_WIRE_TYPE);
    ck_assert_uint_eq(facts.err_field, 15);
    ck_assert_uint_eq(facts.err_wt, 7);
    ck_assert_str_eq(facts.err_path, "plan.root.read.named_table");
    ck_assert_str_eq(facts.err_msg_type, "Read.NamedTable");
    /* invalid UTF-8 in a string field, each class protobuf-java refuses */
    for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++) {
        b = F(1, Lstr(1, bad_utf8[i], bad_len[i]));
        rv = walk_facts(SC_M_EXECUTE_PLAN, exec_rel(F(2, b)), &c, &facts);
        ck_assert_int_eq(rv, SG_ERR_PROTO);
        ck_assert_int_eq(facts.err, PLAN_ERR_UTF8);
        ck_assert_str_eq(facts.err_name, "unparsed_identifier");
        ck_assert_str_eq(facts.err_path, "plan.root.read.named_table");
    }
    /* valid UTF-8 of every length passes, as do NUL bytes */
    b = F(1, Lstr(1, (const uint8_t *)"a\0\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z", 12));
    ck_assert_int_eq(walk(SC_M_EXECUTE_PLAN, exec_rel(F(2, b)), &c), 0);
    /* a string sent as a varint */
    rv = walk_facts(SC_M_EXECUTE_PLAN, exec_rel(F(2, F(1, V(1, 5)))), &c, &facts);
    ck_assert_int_eq(rv, SG_ERR_PROTO);
    ck_assert_int_eq(facts.err, PLAN_ERR_WRONG_TYPE);
    /* a scalar (Limit.limit, int32) sent length-delimited: not repeated, so not packed */
    rv = walk_facts(SC_M_EXECUTE_PLAN, exec_rel(F(8, S(2, "x"))), &c, &facts);
    ck_assert_int_eq(rv, SG_ERR_PROTO);
    ck_assert_int_eq(facts.err, PLAN_ERR_WRONG_TYPE);
    ck_assert_str_eq(facts.err_path, "plan.root.limit");
    /* StatApproxQuantile.probabilities (repeated double): unpacked and packed are legal */
    b = Bytes((const uint8_t *)"\x19\0\0\0\0\0\0\xf0\x3f", 9); /* 3: I64 1.0 */
    ck_assert_int_eq(walk(SC_M_EXECUTE_PLAN, exec_rel(F(105, b)), &c), 0);
    b = Lstr(3, (const uint8_t *)"\0\0\0\0\0\0\xf0\x3f\0\0\0\0\0\0\xe0\x3f", 16);
    ck_assert_int_eq(walk(SC_M_EXECUTE_PLAN, exec_rel(F(105, b)), &c), 0);
    /* ... but not a packed run that is not a whole number of doubles, nor a varint */
    b = Lstr(3, (const uint8_t *)"\0\0\0\0\0\0\xf0\x3f\0\0\0\0", 12);
    rv = walk_facts(SC_M_EXECUTE_PLAN, exec_rel(F(105, b)), &c, &facts);
    ck_assert_int_eq(rv, SG_ERR_PROTO);
    ck_assert_int_eq(facts.err, PLAN_ERR_PACKED);
    ck_assert_str_eq(facts.err_path, "plan.root.approx_quantile");
    rv = walk_facts(SC_M_EXECUTE_PLAN, exec_rel(F(105, V(3, 1))), &c, &facts);
    ck_assert_int_eq(rv, SG_ERR_PROTO);
    ck_assert_int_eq(facts.err, PLAN_ERR_WRONG_TYPE);
    /* Ints.values (repeated int32) in a specialized_array literal: packed varints */
    b = Lstr(1, (const uint8_t *)"\x01\x96\x01\x7f", 4);
    /* project.expressions[0].literal.specialized_array.ints */
    b = F(3, F(3, F(1, F(25, F(2, b)))));
    ck_assert_int_eq(walk(SC_M_EXECUTE_PLAN, exec_rel(b), &c), 0);
    b = Lstr(1, (const uint8_t *)"\x01\x96", 2); /* last varint cut */
    b = F(3, F(3, F(1, F(25, F(2, b)))));
    rv = walk_facts(SC_M_EXECUTE_PLAN, exec_rel(b), &c, &facts);
    ck_assert_int_eq(rv, SG_ERR_PROTO);
    ck_assert_int_eq(facts.err, PLAN_ERR_PACKED);
    ck_assert_str_eq(facts.err_path,
                     "plan.root.project.expressions[0].literal.specialized_array.ints");
    /* the top-level message too */
    rv = walk_facts(SC_M_EXECUTE_PLAN, V(1, 1), &c, &facts);
    ck_assert_int_eq(rv, SG_ERR_PROTO);
    ck_assert_str_eq(facts.err_path, "");
    ck_assert_str_eq(facts.err_msg_type, "ExecutePlanRequest");
    ck_assert_str_eq(facts.err_name, "session_id");
}
END_TEST

/* ---- property: single-byte mutations against a reference decoder -------------- */

/*
 * The reference: a plain recursive decoder over the same schema tables, written
 * from the protobuf encoding spec without the walker's code paths.  It accepts a
 * message only when every field of every nested message is known and has its
 * type's wire type (packed runs for repeated scalars), every string is UTF-8 and
 * nothing is truncated.
 */
static bool ref_message(uint16_t msg, const uint8_t *p, size_t n, unsigned depth);

static bool
ref_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < 10; i++) {
        if (*pp >= end)
            return false;
        uint8_t b = *(*pp)++;

        if (i == 9 && b > 1)
            return false;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

static bool
ref_utf8(const uint8_t *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint32_t cp;
        size_t len;

        if (p[i] < 0x80) {
            i++;
            continue;
        }
        if ((p[i] & 0xe0) == 0xc0) {
            len = 2;
            cp = p[i] & 0x1fu;
        } else if ((p[i] & 0xf0) == 0xe0) {
            len = 3;
            cp = p[i] & 0x0fu;
        } else if ((p[i] & 0xf8) == 0xf0) {
            len = 4;
            cp = p[i] & 0x07u;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3fu);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return false;
        i += len;
    }
    return true;
}

static const struct plan_schema_field *
ref_field(uint16_t msg, uint32_t num)
{
    const struct plan_schema_msg *m = &plan_schema_msgs[msg];

    for (size_t j = m->first; j < (size_t)m->first + m->nfields; j++)
        if (plan_schema_fields[j].num == num)
            return &plan_schema_fields[j];
    return NULL;
}

static bool
ref_message(uint16_t msg, const uint8_t *p, size_t n, unsigned depth)
{
    const uint8_t *end = p + n;

    if (depth > PLAN_DEPTH_DEFAULT)
        return false;
    while (p < end) {
        const struct plan_schema_field *sf;
        uint64_t tag, v, len = 0;
        const uint8_t *data = NULL;
        unsigned wt;

        if (!ref_varint(&p, end, &tag) || tag >> 3 == 0 || tag >> 3 > 536870911u)
            return false;
        wt = (unsigned)(tag & 7);
        switch (wt) {
        case 0:
            if (!ref_varint(&p, end, &v))
                return false;
            break;
        case 1:
            if (end - p < 8)
                return false;
            p += 8;
            break;
        case 5:
            if (end - p < 4)
                return false;
            p += 4;
            break;
        case 2:
            if (!ref_varint(&p, end, &len) || len > (uint64_t)(end - p))
                return false;
            data = p;
            p += len;
            break;
        default:
            return false;
        }
        sf = ref_field(msg, (uint32_t)(tag >> 3));
        if (sf == NULL)
            return false;
        switch (sf->kind) {
        case PLAN_SCHEMA_F_MSG:
        case PLAN_SCHEMA_F_ANY:
        case PLAN_SCHEMA_F_COMPRESSED:
            if (wt != 2 || !ref_message(sf->target, data, (size_t)len, depth + 1))
                return false;
            break;
        case PLAN_SCHEMA_F_STRING:
            if (wt != 2 || !ref_utf8(data, (size_t)len))
                return false;
            break;
        case PLAN_SCHEMA_F_OPAQUE:
            if (wt != 2)
                return false;
            break;
        default: {
            unsigned want = sf->kind == PLAN_SCHEMA_F_VARINT ? 0u
                            : sf->kind == PLAN_SCHEMA_F_I64  ? 1u
                                                             : 5u;

            if (wt == want)
                break;
            if (wt != 2 || !(sf->flags & PLAN_SCHEMA_FF_REPEATED))
                return false;
            if (want == 1 && len % 8 != 0)
                return false;
            if (want == 5 && len % 4 != 0)
                return false;
            if (want == 0) {
                const uint8_t *q = data;

                while (q < data + len)
                    if (!ref_varint(&q, data + len, &v))
                        return false;
            }
            break;
        }
        }
    }
    return true;
}

/* Random valid messages, built from the same tables. */
static uint64_t prop_rng = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(uint32_t n)
{
    prop_rng ^= prop_rng << 13;
    prop_rng ^= prop_rng >> 7;
    prop_rng ^= prop_rng << 17;
    return n == 0 ? 0 : (uint32_t)(prop_rng % n);
}

static void gen_message(struct buf *out, uint16_t msg, unsigned depth);

static void
gen_field(struct buf *out, const struct plan_schema_field *sf, unsigned depth)
{
    static const char *const words[] = {
        "a", "samples.people", "\xc3\xa9t\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "SELECT 1",
        ""};
    struct buf *b = B();
    uint8_t tmp[8];
    unsigned k, cnt;

    switch (sf->kind) {
    case PLAN_SCHEMA_F_MSG:
    case PLAN_SCHEMA_F_ANY:
    case PLAN_SCHEMA_F_COMPRESSED:
        gen_message(b, sf->target, depth + 1);
        break;
    case PLAN_SCHEMA_F_STRING:
        for (k = rnd(3); k > 0; k--) {
            const char *w = words[rnd(7)];

            put(b, w, strlen(w));
        }
        break;
    case PLAN_SCHEMA_F_OPAQUE:
        for (k = rnd(12); k > 0; k--) {
            tmp[0] = (uint8_t)rnd(256);
            put(b, tmp, 1);
        }
        break;
    default:
        cnt = (sf->flags & PLAN_SCHEMA_FF_REPEATED) && rnd(2) ? 1 + rnd(3) : 0;
        for (k = 0; k < (cnt ? cnt : 1); k++) {
            if (sf->kind == PLAN_SCHEMA_F_VARINT) {
                put_varint(b, rnd(2) ? rnd(300) : ((uint64_t)rnd(1u << 31) << 33));
            } else {
                for (unsigned j = 0; j < 8; j++)
                    tmp[j] = (uint8_t)rnd(256);
                put(b, tmp, sf->kind == PLAN_SCHEMA_F_I64 ? 8 : 4);
            }
        }
        if (cnt == 0) { /* unpacked: the value itself after the tag */
            put_varint(out, (uint64_t)sf->num << 3 | (sf->kind == PLAN_SCHEMA_F_VARINT ? 0u
                                                      : sf->kind == PLAN_SCHEMA_F_I64  ? 1u
                                                                                       : 5u));
            put(out, b->p, b->n);
            bfree(b);
            return;
        }
        break;
    }
    put_varint(out, (uint64_t)sf->num << 3 | PB_WT_LEN);
    put_varint(out, b->n);
    put(out, b->p, b->n);
    bfree(b);
}

static void
gen_message(struct buf *out, uint16_t msg, unsigned depth)
{
    const struct plan_schema_msg *m = &plan_schema_msgs[msg];
    unsigned n = depth > 6 ? 0 : 1 + rnd(depth < 2 ? 4 : 3);

    /* small messages: every byte of each is mutated, several ways */

    if (m->nfields == 0)
        return;
    for (unsigned i = 0; i < n && out->n < 300; i++) {
        const struct plan_schema_field *sf = &plan_schema_fields[m->first + rnd(m->nfields)];

        if (depth > 5 && sf->kind <= PLAN_SCHEMA_F_COMPRESSED)
            continue;
        gen_field(out, sf, depth);
    }
}

static int
count_unknown(const struct plan_node *nd, void *arg)
{
    if (nd->cat == PLAN_CAT_UNKNOWN || nd->cat == PLAN_CAT_UNKNOWN_FIELD)
        (*(size_t *)arg)++;
    return 0;
}

/* Accepted by the walker with no unknown field reported? */
static bool
walker_accepts(enum sc_method_id m, const uint8_t *p, size_t n)
{
    size_t unknown = 0;
    int rv = plan_walk(m, p, n, NULL, NULL, count_unknown, &unknown);

    ck_assert(rv == 0 || rv == SG_ERR_PROTO);
    return rv == 0 && unknown == 0;
}

static uint16_t
msg_index(const char *name)
{
    for (uint16_t i = 0; i < PLAN_SCHEMA_NMSGS; i++)
        if (strcmp(plan_schema_msgs[i].name, name) == 0)
            return i;
    ck_abort_msg("no message %s", name);
    return 0;
}

START_TEST(tc_property_mutations)
{
    static const struct {
        enum sc_method_id m;
        const char *root;
    } roots[] = {
        {SC_M_EXECUTE_PLAN, "ExecutePlanRequest"},
        {SC_M_ANALYZE_PLAN, "AnalyzePlanRequest"},
        {SC_M_CONFIG, "ConfigRequest"},
        {SC_M_ADD_ARTIFACTS, "AddArtifactsRequest"},
    };
    static const uint8_t vals[] = {0x00, 0x7f, 0x80, 0xed, 0xff};
    const size_t nv_total = sizeof(vals) + 8 + 1; /* fixed values, each wire type, a bit flip */
    size_t msgs = 0, mutants = 0, refused = 0;

    for (unsigned iter = 0; iter < 200; iter++) {
        unsigned r = iter % 4;
        uint16_t root = msg_index(roots[r].root);
        struct buf *b = B();

        gen_message(b, root, 0);
        /* the generator only builds valid messages: both must accept them */
        ck_assert_msg(ref_message(root, b->p, b->n, 0), "reference refuses generated %u", iter);
        ck_assert_msg(walker_accepts(roots[r].m, b->p, b->n), "walker refuses generated %u", iter);
        msgs++;
        for (size_t i = 0; i < b->n; i++) {
            uint8_t orig = b->p[i];

            for (size_t v = 0; v < nv_total; v++) {
                uint8_t nv = v < sizeof(vals)       ? vals[v]
                             : v < sizeof(vals) + 8 ? (uint8_t)((orig & ~7u) | (v - sizeof(vals)))
                                                    : (uint8_t)(orig ^ (1u << rnd(8)));
                bool w, ref;

                if (nv == orig)
                    continue;
                b->p[i] = nv;
                w = walker_accepts(roots[r].m, b->p, b->n);
                ref = ref_message(root, b->p, b->n, 0);
                ck_assert_msg(w == ref,
                              "message %u byte %zu 0x%02x -> 0x%02x: walker %d, "
                              "reference %d",
                              iter, i, orig, nv, w, ref);
                mutants++;
                refused += !w;
            }
            b->p[i] = orig;
        }
        bfree(b);
    }
    /* the property is not vacuous: most messages were real and many mutants refused */
    ck_assert_uint_ge(msgs, 200);
    ck_assert_uint_gt(refused, mutants / 10);
    ck_assert_uint_lt(refused, mutants);
}
END_TEST

START_TEST(tc_extensions)
{
    struct col c;
    const struct rec *r;
    int rv = walk(SC_M_EXECUTE_PLAN,
                  C(2, F(2, C(2, S(1, "alice"), F(999, S(1, "type.googleapis.com/u.Ext")))),
                    F(3, F(1, F(998, C(2, S(1, "type.googleapis.com/delta.X"), S(2, "..")))))),
                  &c);

    ck_assert_int_eq(rv, 0);
    ck_assert_uint_eq(c.n, 2);
    r = &c.r[0];
    ck_assert_int_eq(r->cat, PLAN_CAT_EXTENSION);
    ck_assert_str_eq(r->path, "user_context.extensions[0]");
    ck_assert_str_eq(r->text, "type.googleapis.com/u.Ext");
    r = &c.r[1];
    ck_assert_str_eq(r->path, "plan.root.extension");
    ck_assert_str_eq(r->text, "type.googleapis.com/delta.X");
}
END_TEST

START_TEST(tc_compressed)
{
    struct col c;
    const struct rec *r;
    struct buf *rel = proj(udf_expr(100));
    int rv;

    rv = walk(SC_M_EXECUTE_PLAN, F(3, F(3, C(3, S(1, "zstd"), V(2, 1), V(3, 1)))), &c);
    ck_assert_int_eq(rv, 0);
    r = find(&c, PLAN_CAT_COMPRESSED, "compressed_operation");
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->text, "zstd");
    ck_assert_str_eq(r->path, "plan.compressed_operation");
    /* the caller decompresses and walks the Relation directly */
    memset(&c, 0, sizeof(c));
    rv = plan_walk_relation_or_command(PLAN_OP_RELATION, rel->p, rel->n, NULL, NULL, collect, &c);
    expect_udf(&c, rv, 100, NULL);
    ck_assert_str_eq(c.r[0].path, "root.project");
    ck_assert_int_eq(plan_walk_relation_or_command((enum plan_op)7, rel->p, rel->n, NULL, NULL,
                                                   NULL, NULL),
                     SG_ERR_INTERNAL);
    bfree(rel);
}
END_TEST

START_TEST(tc_sql_facts_and_indices)
{
    struct col c;
    const struct rec *r;
    int rv;

    /* SqlCommand{sql="A", input=Relation{sql{query="B"}}} */
    rv = walk(SC_M_EXECUTE_PLAN, exec_cmd(F(5, C(2, S(1, "A"), F(6, F(10, S(1, "B")))))), &c);
    ck_assert_int_eq(rv, 0);
    ck_assert_str_eq(must(find(&c, PLAN_CAT_COMMAND, "sql_command"))->text, "A");
    ck_assert_str_eq(must(find(&c, PLAN_CAT_RELATION, "sql"))->text, "B");
    /* project.expressions[1] = expression_string; last occurrence of the text wins */
    rv = walk(SC_M_EXECUTE_PLAN,
              exec_rel(F(3, C(2, F(3, F(2, E())), F(3, F(4, C(2, S(1, "x"), S(1, "y"))))))), &c);
    ck_assert_int_eq(rv, 0);
    r = find(&c, PLAN_CAT_EXPRESSION, "expression_string");
    ck_assert_str_eq(r->text, "y");
    ck_assert_str_eq(r->path, "plan.root.project.expressions[1].expression_string");
    /* java_udf class name, execute_external_command runner */
    rv = walk(SC_M_EXECUTE_PLAN, exec_rel(proj(F(15, F(6, S(1, "com.evil.Udf"))))), &c);
    ck_assert_int_eq(rv, 0);
    ck_assert_str_eq(must(find(&c, PLAN_CAT_USER_CODE, "java_udf"))->text, "com.evil.Udf");
    rv = walk(SC_M_EXECUTE_PLAN, exec_cmd(F(18, C(2, S(1, "jdbc.Runner"), S(2, "DROP")))), &c);
    ck_assert_int_eq(rv, 0);
    ck_assert_str_eq(must(find(&c, PLAN_CAT_COMMAND, "execute_external_command"))->text,
                     "jdbc.Runner");
    ck_assert_ptr_nonnull(find(&c, PLAN_CAT_USER_CODE, "execute_external_command"));
}
END_TEST

START_TEST(tc_limits_and_abort)
{
    struct plan_limits lim = {.max_depth = 0, .max_nodes = 2};
    struct plan_facts facts;
    struct col c;
    struct buf *b = exec_rel(proj(udf_expr(100)));

    ck_assert_int_eq(plan_walk(SC_M_EXECUTE_PLAN, b->p, b->n, &lim, &facts, NULL, NULL),
                     SG_ERR_LIMIT);
    memset(&c, 0, sizeof(c));
    c.stop_at = 1;
    ck_assert_int_eq(plan_walk(SC_M_EXECUTE_PLAN, b->p, b->n, NULL, &facts, collect, &c),
                     SG_ERR_DENIED);
    ck_assert_uint_eq(c.n, 1);
    /* methods without plans walk fine */
    ck_assert_int_eq(plan_walk(SC_M_CONFIG, b->p, 0, NULL, &facts, NULL, NULL), 0);
    ck_assert_int_eq(plan_walk(SC_M_INTERRUPT, (const uint8_t *)"\x0a\x01s", 3, NULL, &facts, NULL,
                               NULL),
                     0);
    bfree(b);
    ck_assert_str_eq(plan_cat_name(PLAN_CAT_USER_CODE), "user_code");
}
END_TEST

Suite *
plan_suite(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("walk");

    tcase_set_timeout(tc, 60); /* the mutation property walks ~100,000 messages */

    tcase_add_test(tc, tc_every_relation_kind);
    tcase_add_test(tc, tc_every_expression_kind);
    tcase_add_test(tc, tc_every_command_kind);
    tcase_add_test(tc, tc_every_catalog_kind);
    tcase_add_test(tc, tc_udf_join_side);
    tcase_add_test(tc, tc_udf_with_relations);
    tcase_add_test(tc, tc_udf_lambda);
    tcase_add_test(tc, tc_udf_sort_order);
    tcase_add_test(tc, tc_udf_window_spec);
    tcase_add_test(tc, tc_udf_write_operation_input);
    tcase_add_test(tc, tc_udf_foreach_batch);
    tcase_add_test(tc, tc_udf_analyze_schema_and_persist);
    tcase_add_test(tc, tc_plan_root_then_command);
    tcase_add_test(tc, tc_relation_read_then_map_partitions);
    tcase_add_test(tc, tc_duplicate_singular);
    tcase_add_test(tc, tc_depth_limit);
    tcase_add_test(tc, tc_depth_custom_and_path_truncation);
    tcase_add_test(tc, tc_malformed);
    tcase_add_test(tc, tc_unknown_fields);
    tcase_add_test(tc, tc_strict_types);
    tcase_add_test(tc, tc_property_mutations);
    tcase_add_test(tc, tc_extensions);
    tcase_add_test(tc, tc_compressed);
    tcase_add_test(tc, tc_sql_facts_and_indices);
    tcase_add_test(tc, tc_limits_and_abort);
    suite_add_tcase(s, tc);
    return s;
}
