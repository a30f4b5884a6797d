/*
 * bench/plan_bench.c: what plan inspection costs per node, without the
 * network (bench/bench.py section 5 runs it; bench/run.sh builds it with the
 * project's compiler flags against src/libsgparse.a).
 *
 *   plan-bench [SECS]
 *
 * Builds ExecutePlanRequest messages in memory (hand-encoded protobuf, the
 * bytes a Spark Connect client sends) in these shapes and sizes:
 *   wide     Project over a table read with K expressions
 *            alias(unresolved_function("+", [attribute, literal])): 2 + 4K nodes,
 *            depth 8 whatever K (10 to 100,000 nodes)
 *   tree     a balanced binary tree of UNION ALL (set_op) whose leaves are
 *            limit(filter(read, f(attribute, literal))): 7L - 1 nodes, depth
 *            2 ceil(log2 L) + 8 (10 to 100,000 nodes)
 *   chain    L nested filters (filter.input = the next filter), each with a
 *            condition f(attribute, literal): 4L + 1 nodes, depth 2L + 5 (the
 *            innermost condition's Literal message), up to Spark's limit of
 *            1024 (L = 509); L = 510 is one message too deep and must be
 *            refused (RESOURCE_EXHAUSTED)
 *   sql      Relation.sql with a SELECT of 100 B to 1 MB (one node; the SQL
 *            classifier reads every byte)
 *   local    Relation.local_relation with a data blob of 1 KiB to 64 MiB
 *            (one node; the blob is a leaf and is skipped, not read)
 *   zstd     Plan.compressed_operation (Spark 4.1): the wide plan of 1,000 and
 *            100,000 nodes, zstd-compressed (decompressed and walked by policy)
 * and times, each for about SECS seconds of thread CPU (at least 3 calls):
 *   walk     plan_walk() with a visit callback that counts nodes
 *   none     policy_check_request() without a profile (facts only)
 *   policy   policy_check_request() with the "sql-only" profile of
 *            docs/policy.md filled in by hand below
 * Then the C stack: the stack pointer in the visit callback at the deepest
 * and at the shallowest node, and the stack high-water mark of one
 * plan_walk() and one policy_check_request() call run on a painted thread
 * stack, for plans of depth 8 to 1024 and of 100,000 nodes.
 * Prints one JSON object per measurement on standard output.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <zstd.h>

#include "plan.h"
#include "plan_schema.h"
#include "policy.h"
#include "sc.h"
#include "sg_err.h"
#include "sqlclass.h"

#define MAX_ITERS 1000000L
#define MIN_ITERS 3L

/* ---- a growable byte buffer and protobuf encoding ---------------------- */

struct buf {
    uint8_t *p;
    size_t len, cap;
};

static void
die(const char *what)
{
    fprintf(stderr, "plan-bench: %s\n", what);
    exit(2);
}

static void
b_reserve(struct buf *b, size_t n)
{
    size_t cap = b->cap != 0 ? b->cap : 64;

    if (b->len + n <= b->cap)
        return;
    while (cap < b->len + n)
        cap *= 2;
    if ((b->p = realloc(b->p, cap)) == NULL)
        die("out of memory");
    b->cap = cap;
}

static void
b_bytes(struct buf *b, const void *p, size_t n)
{
    b_reserve(b, n);
    if (n > 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void
b_varint(struct buf *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;

    while (v >= 0x80) {
        t[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    t[n++] = (uint8_t)v;
    b_bytes(b, t, n);
}

/* field |num|, wire type 0 */
static void
b_vint(struct buf *b, uint32_t num, uint64_t v)
{
    b_varint(b, (uint64_t)num << 3);
    b_varint(b, v);
}

/* field |num|, wire type 2 */
static void
b_ld(struct buf *b, uint32_t num, const void *p, size_t n)
{
    b_varint(b, (uint64_t)num << 3 | 2);
    b_varint(b, n);
    b_bytes(b, p, n);
}

static void
b_str(struct buf *b, uint32_t num, const char *s)
{
    b_ld(b, num, s, strlen(s));
}

/* appends |inner| as field |num| and frees it */
static void
b_msg(struct buf *b, uint32_t num, struct buf *inner)
{
    b_ld(b, num, inner->p, inner->len);
    free(inner->p);
    memset(inner, 0, sizeof(*inner));
}

/* wraps |inner| as field |num| of a new message */
static struct buf
wrap(uint32_t num, struct buf inner)
{
    struct buf b = {0};

    b_msg(&b, num, &inner);
    return b;
}

/* ---- Spark Connect messages (field numbers from the spark/connect protos) -- */

/* Expression{unresolved_attribute = 2 {unparsed_identifier = 1}} */
static struct buf
expr_attr(const char *name)
{
    struct buf a = {0};

    b_str(&a, 1, name);
    return wrap(2, a);
}

/* Expression{literal = 1 {integer = 6}} */
static struct buf
expr_int(int32_t v)
{
    struct buf l = {0};

    b_vint(&l, 6, (uint64_t)(uint32_t)v);
    return wrap(1, l);
}

/* Expression{unresolved_function = 3 {function_name = 1, arguments = 2 (repeated)}} */
static struct buf
expr_fn2(const char *fn, struct buf a1, struct buf a2)
{
    struct buf f = {0};

    b_str(&f, 1, fn);
    b_msg(&f, 2, &a1);
    b_msg(&f, 2, &a2);
    return wrap(3, f);
}

/* Expression{alias = 6 {expr = 1, name = 2}} */
static struct buf
expr_alias(struct buf e, const char *name)
{
    struct buf a = {0};

    b_msg(&a, 1, &e);
    b_str(&a, 2, name);
    return wrap(6, a);
}

/* Relation{read = 2 {named_table = 1 {unparsed_identifier = 1}}} */
static struct buf
rel_read(const char *table)
{
    struct buf t = {0};

    b_str(&t, 1, table);
    return wrap(2, wrap(1, t));
}

/* Relation{filter = 4 {input = 1, condition = 2}} */
static struct buf
rel_filter(struct buf in, struct buf cond)
{
    struct buf f = {0};

    b_msg(&f, 1, &in);
    b_msg(&f, 2, &cond);
    return wrap(4, f);
}

/* Relation{limit = 8 {input = 1, limit = 2}} */
static struct buf
rel_limit(struct buf in, int32_t n)
{
    struct buf l = {0};

    b_msg(&l, 1, &in);
    b_vint(&l, 2, (uint64_t)(uint32_t)n);
    return wrap(8, l);
}

/* Relation{set_op = 6 {left_input = 1, right_input = 2, set_op_type = 3 (UNION), is_all = 4}} */
static struct buf
rel_union(struct buf l, struct buf r)
{
    struct buf s = {0};

    b_msg(&s, 1, &l);
    b_msg(&s, 2, &r);
    b_vint(&s, 3, 2);
    b_vint(&s, 4, 1);
    return wrap(6, s);
}

/* Relation{sql = 10 {query = 1}} */
static struct buf
rel_sql(const char *q, size_t n)
{
    struct buf s = {0};

    b_ld(&s, 1, q, n);
    return wrap(10, s);
}

/* Relation{local_relation = 11 {data = 1 (Arrow IPC bytes), schema = 2}} */
static struct buf
rel_local(size_t n)
{
    struct buf l = {0};
    uint64_t x = 0x9e3779b97f4a7c15u;
    size_t i;

    /* the length prefix first, then the blob in place: no second copy of 64 MiB */
    b_varint(&l, 1 << 3 | 2);
    b_varint(&l, n);
    b_reserve(&l, n);
    for (i = 0; i < n; i++) { /* incompressible, never zero */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        l.p[l.len + i] = (uint8_t)(x | 1);
    }
    l.len += n;
    b_str(&l, 2, "id BIGINT, payload BINARY");
    return wrap(11, l);
}

/* ExecutePlanRequest{session_id = 1, user_context = 2 {user_id, user_name}, plan = 3 {root = 1}} */
static struct buf
exec_req(struct buf root)
{
    struct buf r = {0}, uc = {0};

    b_str(&r, 1, "00112233-4455-6677-8899-aabbccddeeff");
    b_str(&uc, 1, "bench");
    b_str(&uc, 2, "bench");
    b_msg(&r, 2, &uc);
    {
        struct buf plan = wrap(1, root);

        b_msg(&r, 3, &plan);
    }
    return r;
}

/* ... plan = 3 {compressed_operation = 3 {data = 1, op_type = 2 (RELATION), codec = 3 (ZSTD)}} */
static struct buf
exec_req_zstd(struct buf root)
{
    struct buf r = {0}, uc = {0}, co = {0};
    size_t cap = ZSTD_compressBound(root.len), n;
    uint8_t *z = malloc(cap);

    if (z == NULL)
        die("out of memory");
    n = ZSTD_compress(z, cap, root.p, root.len, 3);
    if (ZSTD_isError(n))
        die("ZSTD_compress failed");
    free(root.p);
    b_ld(&co, 1, z, n);
    free(z);
    b_vint(&co, 2, PLAN_OP_RELATION);
    b_vint(&co, 3, 1);
    b_str(&r, 1, "00112233-4455-6677-8899-aabbccddeeff");
    b_str(&uc, 1, "bench");
    b_str(&uc, 2, "bench");
    b_msg(&r, 2, &uc);
    {
        struct buf plan = wrap(3, co);

        b_msg(&r, 3, &plan);
    }
    return r;
}

/* ---- the shapes ---------------------------------------------------------- */

/* alias(c_i + i AS x_i) */
static struct buf
proj_expr(size_t i)
{
    char a[32], x[32];

    snprintf(a, sizeof(a), "c%zu", i % 97);
    snprintf(x, sizeof(x), "x%zu", i);
    return expr_alias(expr_fn2("+", expr_attr(a), expr_int((int32_t)(i % 1000))), x);
}

/* Project{input = 1: read, expressions = 3: K} : 2 + 4K nodes */
static struct buf
shape_wide_rel(size_t k)
{
    struct buf p = {0}, in = rel_read("bench.events");
    size_t i;

    b_msg(&p, 1, &in);
    for (i = 0; i < k; i++) {
        struct buf e = proj_expr(i);

        b_msg(&p, 3, &e);
    }
    return wrap(3, p);
}

/* limit(filter(read, c > i), 10): 6 nodes */
static struct buf
tree_leaf(size_t i)
{
    return rel_limit(rel_filter(rel_read("bench.events"),
                                expr_fn2(">", expr_attr("c1"), expr_int((int32_t)(i % 1000)))),
                     10);
}

/* balanced UNION ALL over leaves [lo, hi): bench-side recursion, depth log2(L) */
static struct buf
shape_tree_rel(size_t lo, size_t hi)
{
    size_t mid;

    if (hi - lo == 1)
        return tree_leaf(lo);
    mid = lo + (hi - lo) / 2;
    return rel_union(shape_tree_rel(lo, mid), shape_tree_rel(mid, hi));
}

/* L nested filters over a read: 4L + 1 nodes, depth 2L + 5 */
static struct buf
shape_chain_rel(size_t levels)
{
    struct buf r = rel_read("bench.events");
    size_t i;

    for (i = 0; i < levels; i++)
        r = rel_filter(r, expr_fn2(">", expr_attr("c1"), expr_int((int32_t)i)));
    return r;
}

/* SELECT c0 + 0 AS x0, c1 + 1 AS x1, ... FROM bench.events WHERE c0 > 0 of about |n| bytes */
static struct buf
shape_sql_rel(size_t n)
{
    struct buf q = {0}, r;
    char t[64];
    size_t i;

    b_bytes(&q, "SELECT c0", 9);
    for (i = 1; q.len + 40 < n; i++) {
        int k = snprintf(t, sizeof(t), ", c%zu + %zu AS x%zu", i % 97, i % 1000, i);

        b_bytes(&q, t, (size_t)k);
    }
    b_bytes(&q, " FROM bench.events WHERE c0 > 0", 31);
    r = rel_sql((const char *)q.p, q.len);
    free(q.p);
    return r;
}

/* ---- the profile: "sql-only" of docs/policy.md, by hand ----------------- */

static void
kind_deny(struct policy_profile *p, int cat, const char *name)
{
    int i = policy_kind_index(cat, name);

    if (i < 0) {
        fprintf(stderr, "plan-bench: policy_kind_index(%d, %s) = %d\n", cat, name, i);
        exit(2);
    }
    p->kind_denied[(unsigned)i / 8] |= (uint8_t)(1u << ((unsigned)i % 8));
}

/* category |cat| in "allow" mode: every member but |allow| is denied */
static void
kind_allow_only(struct policy_profile *p, int cat, const char *const *allow, size_t nallow)
{
    uint8_t scat;
    size_t m, f, a;

    scat = cat == 0 ? PLAN_SCHEMA_C_RELATION : cat == 1 ? PLAN_SCHEMA_C_COMMAND
         : cat == 2 ? PLAN_SCHEMA_C_EXPRESSION : PLAN_SCHEMA_C_CATALOG;
    p->cat_mode[cat] = POLICY_ALLOW;
    for (m = 0; m < PLAN_SCHEMA_NMSGS; m++) {
        const struct plan_schema_msg *sm = &plan_schema_msgs[m];

        if (sm->cat != scat)
            continue;
        for (f = sm->first; f < (size_t)sm->first + sm->nfields; f++) {
            const struct plan_schema_field *sf = &plan_schema_fields[f];
            int allowed = 0;

            if (sf->oneof == NULL)
                continue;
            for (a = 0; a < nallow; a++)
                allowed |= strcmp(sf->name, allow[a]) == 0;
            if (!allowed)
                kind_deny(p, cat, sf->name);
        }
    }
}

static void
profile_sql_only(struct policy_profile *p)
{
    static const char *const rel_deny[] = {
        "map_partitions", "group_map", "co_group_map", "apply_in_pandas_with_state",
        "common_inline_user_defined_table_function", "common_inline_user_defined_data_source",
    };
    static const char *const cmd_allow[] = {"sql_command", "create_dataframe_view"};
    static const enum sc_method_id methods[] = {
        SC_M_EXECUTE_PLAN, SC_M_ANALYZE_PLAN, SC_M_CONFIG, SC_M_REATTACH_EXECUTE,
        SC_M_RELEASE_EXECUTE, SC_M_RELEASE_SESSION, SC_M_INTERRUPT, SC_M_FETCH_ERROR_DETAILS,
        SC_M_ARTIFACT_STATUS, SC_M_GET_STATUS,
    };
    size_t i;
    int rel = policy_cat_by_key("relations"), cmd = policy_cat_by_key("commands"),
        expr = policy_cat_by_key("expressions");

    if (rel < 0 || cmd < 0 || expr < 0)
        die("policy_cat_by_key does not know relations/commands/expressions");
    memset(p, 0, sizeof(*p));
    p->name = (char *)(uintptr_t)"sql-only";
    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        p->methods |= 1u << methods[i];
    p->cat_mode[rel] = POLICY_DENY;
    for (i = 0; i < sizeof(rel_deny) / sizeof(rel_deny[0]); i++)
        kind_deny(p, rel, rel_deny[i]);
    kind_allow_only(p, cmd, cmd_allow, sizeof(cmd_allow) / sizeof(cmd_allow[0]));
    p->cat_mode[expr] = POLICY_DENY;
    kind_deny(p, expr, "common_inline_user_defined_function");
    p->has_user_code = true; /* "user_code": {"languages": []} */
    p->langs = 0;
    p->has_sql = true; /* "sql": ["query"] */
    p->sql_classes = 1u << SQLCLASS_QUERY;
    p->has_conf = true; /* "conf": {"allow": []} */
    p->has_artifacts = true; /* "artifacts": {} */
    for (i = 0; i < POLICY_ART_COUNT; i++)
        p->art_max[i] = UINT64_MAX;
    p->unknown_allowed = false; /* "unknown": "deny" */
    p->restricted = true;
}

/* ---- timing ----------------------------------------------------------------- */

static double
thread_cpu(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
wall(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct job {
    const uint8_t *msg;
    size_t len;
    const struct policy_profile *prof; /* NULL: no profile */
    struct policy_limits lim;
    struct plan_limits plim;
    /* results of the last call */
    int rc;
    struct plan_facts facts;
    struct policy_verdict v;
    size_t visited;
};

static int
count_visit(const struct plan_node *n, void *arg)
{
    (void)n;
    ((struct job *)arg)->visited++;
    return 0;
}

static void
op_walk(struct job *j)
{
    j->visited = 0;
    j->rc = plan_walk(SC_M_EXECUTE_PLAN, j->msg, j->len, &j->plim, &j->facts, count_visit, j);
}

static void
op_policy(struct job *j)
{
    j->rc = policy_check_request(j->prof, SC_M_EXECUTE_PLAN, j->msg, j->len, &j->lim, &j->v);
}

static double secs_per_case = 0.2;

#define MAX_BATCHES 400

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/*
 * Calls fn(j) in batches of |batch| calls (batch: about 1 ms of work, so the
 * clock's own cost vanishes), for about secs_per_case seconds of thread CPU,
 * at least MIN_ITERS calls.  Per call: the median batch, the fastest batch
 * and the mean over all.
 */
static void
timeit(const char *shape, size_t target, const char *op, void (*fn)(struct job *), struct job *j,
       size_t nodes, unsigned depth)
{
    double per[MAX_BATCHES], c0, c1, w0, t0, one;
    long n = 0, batch, i;
    int nb = 0;

    t0 = wall();
    fn(j); /* warm-up (and the result checked below) */
    one = wall() - t0;
    batch = one >= 1e-3 ? 1 : (long)(1e-3 / (one > 1e-8 ? one : 1e-8));
    if (batch > 100000)
        batch = 100000;
    c0 = thread_cpu();
    w0 = wall();
    c1 = c0;
    do {
        double t = c1;

        for (i = 0; i < batch; i++)
            fn(j);
        n += batch;
        c1 = thread_cpu();
        per[nb++] = (c1 - t) / (double)batch;
    } while ((c1 - c0 < secs_per_case || n < MIN_ITERS) && n < MAX_ITERS && nb < MAX_BATCHES);
    one = (wall() - w0) / (double)n;
    qsort(per, (size_t)nb, sizeof(per[0]), cmp_double);
    printf("{\"bench\": \"plan\", \"shape\": \"%s\", \"target\": %zu, \"op\": \"%s\", "
           "\"nodes\": %zu, \"depth\": %u, \"bytes\": %zu, \"calls\": %ld, \"batch\": %ld, "
           "\"us_per_call\": %.3f, \"best_us\": %.3f, \"mean_us\": %.3f, \"wall_us\": %.3f, "
           "\"ns_per_node\": %.2f, \"ns_per_byte\": %.4f, \"rc\": %d, \"status\": %d, "
           "\"rule\": \"%s\", \"msg\": \"",
           shape, target, op, nodes, depth, j->len, n, batch, 1e6 * per[nb / 2], 1e6 * per[0],
           1e6 * (c1 - c0) / (double)n, 1e6 * one,
           nodes ? 1e9 * per[nb / 2] / (double)nodes : 0.0, 1e9 * per[nb / 2] / (double)j->len,
           j->rc, fn == op_policy ? j->v.status : 0,
           fn == op_policy && j->v.rule != NULL ? j->v.rule : "");
    if (fn == op_policy && j->v.status != 0) {
        const char *s;

        for (s = j->v.msg; *s != '\0' && s - j->v.msg < 200; s++)
            if (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\')
                putchar(*s);
    }
    printf("\"}\n");
    fflush(stdout);
}

/* ---- the C stack ----------------------------------------------------------- */

struct sp_probe {
    unsigned dmin, dmax;
    uintptr_t sp_at_dmin, sp_at_dmax, sp_lo, sp_hi;
    size_t n;
};

static int
sp_visit(const struct plan_node *node, void *arg)
{
    struct sp_probe *s = arg;
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);

    if (s->n == 0 || node->depth < s->dmin) {
        s->dmin = node->depth;
        s->sp_at_dmin = sp;
    }
    if (s->n == 0 || node->depth > s->dmax) {
        s->dmax = node->depth;
        s->sp_at_dmax = sp;
    }
    if (s->n == 0 || sp < s->sp_lo)
        s->sp_lo = sp;
    if (s->n == 0 || sp > s->sp_hi)
        s->sp_hi = sp;
    s->n++;
    return 0;
}

#define PAINT_STACK (8u << 20) /* the painted thread stack */
#define PAINT 0xa5

struct painted {
    struct job *j;
    void (*fn)(struct job *);
};

static void *
painted_main(void *arg)
{
    struct painted *pt = arg;

    pt->fn(pt->j);
    return NULL;
}

/*
 * Runs fn(j) once on a fresh thread whose whole stack was filled with PAINT,
 * and returns how many bytes of that stack were written (the high-water
 * mark, thread start-up and glibc's thread descriptor included).
 */
static size_t
stack_used(void (*fn)(struct job *), struct job *j)
{
    uint8_t *mem = mmap(NULL, PAINT_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                        -1, 0);
    pthread_attr_t at;
    pthread_t th;
    struct painted pt = {j, fn};
    size_t i;

    if (mem == MAP_FAILED)
        die("mmap failed");
    memset(mem, PAINT, PAINT_STACK);
    if (pthread_attr_init(&at) != 0 || pthread_attr_setstack(&at, mem, PAINT_STACK) != 0 ||
        pthread_create(&th, &at, painted_main, &pt) != 0 || pthread_join(th, NULL) != 0)
        die("cannot run the painted thread");
    pthread_attr_destroy(&at);
    for (i = 0; i < PAINT_STACK && mem[i] == PAINT; i++)
        ;
    munmap(mem, PAINT_STACK);
    return PAINT_STACK - i;
}

static void
op_nothing(struct job *j)
{
    (void)j;
}

static void
stack_case(const char *shape, size_t target, struct job *j, size_t base)
{
    struct sp_probe s;
    size_t used_walk, used_pol;
    int rc;

    memset(&s, 0, sizeof(s));
    rc = plan_walk(SC_M_EXECUTE_PLAN, j->msg, j->len, &j->plim, &j->facts, sp_visit, &s);
    used_walk = stack_used(op_walk, j);
    used_pol = stack_used(op_policy, j);
    printf("{\"bench\": \"stack\", \"shape\": \"%s\", \"target\": %zu, \"nodes\": %zu, "
           "\"depth\": %u, \"rc\": %d, \"visit_depth_min\": %u, \"visit_depth_max\": %u, "
           "\"sp_shallow_minus_deep\": %ld, \"sp_spread\": %lu, \"walk_stack_bytes\": %zu, "
           "\"policy_stack_bytes\": %zu, \"thread_base_bytes\": %zu}\n",
           shape, target, j->facts.nodes, j->facts.max_depth, rc, s.dmin, s.dmax,
           (long)(s.sp_at_dmin - s.sp_at_dmax), (unsigned long)(s.sp_hi - s.sp_lo),
           used_walk - base, used_pol - base, base);
    fflush(stdout);
}

/* ---- main ------------------------------------------------------------------- */

/*
 * Times the three operations on |req| (freed).  |nodes|: the node count for
 * the per-node figures when plan_walk() cannot see them all (a compressed
 * plan: the count of the plan before compression), 0 to take plan_walk's.
 */
static void
run_case(const char *shape, size_t target, struct buf req, size_t nodes_all,
         const struct policy_profile *prof, int stack)
{
    struct job j;

    memset(&j, 0, sizeof(j));
    j.msg = req.p;
    j.len = req.len;
    policy_limits_default(&j.lim);
    j.plim.max_depth = j.lim.max_depth;
    j.plim.max_nodes = j.lim.max_nodes;
    op_walk(&j);
    timeit(shape, target, nodes_all != 0 ? "walk-outer" : "walk", op_walk, &j, j.facts.nodes,
           j.facts.max_depth);
    {
        size_t nodes = nodes_all != 0 ? nodes_all : j.facts.nodes;
        unsigned depth = j.facts.max_depth;

        j.prof = NULL;
        timeit(shape, target, "none", op_policy, &j, nodes, depth);
        j.prof = prof;
        timeit(shape, target, "policy", op_policy, &j, nodes, depth);
    }
    if (stack) {
        static size_t base;

        if (base == 0)
            base = stack_used(op_nothing, &j);
        stack_case(shape, target, &j, base);
    }
    free(req.p);
}

int
main(int argc, char **argv)
{
    static const size_t sizes[] = {10, 100, 1000, 10000, 100000};
    static const size_t chain_levels[] = {2, 25, 250, 509, 510};
    static const size_t sql_bytes[] = {100, 10000, 1000000};
    static const size_t local_bytes[] = {1024, 1u << 20, 64u << 20};
    struct policy_profile prof;
    size_t i;

    if (argc > 1) {
        secs_per_case = atof(argv[1]);
        if (secs_per_case <= 0 || secs_per_case > 10)
            secs_per_case = 0.2;
    }
    profile_sql_only(&prof);
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t k = sizes[i] <= 10 ? 2 : sizes[i] / 4;

        run_case("wide", sizes[i], exec_req(shape_wide_rel(k)), 0, &prof, sizes[i] == 100000);
    }
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t leaves = (sizes[i] + 1 + 3) / 7;

        run_case("tree", sizes[i], exec_req(shape_tree_rel(0, leaves)), 0, &prof,
                 sizes[i] == 100000);
    }
    for (i = 0; i < sizeof(chain_levels) / sizeof(chain_levels[0]); i++)
        run_case("chain", chain_levels[i], exec_req(shape_chain_rel(chain_levels[i])), 0, &prof,
                 1);
    for (i = 0; i < sizeof(sql_bytes) / sizeof(sql_bytes[0]); i++)
        run_case("sql", sql_bytes[i], exec_req(shape_sql_rel(sql_bytes[i])), 0, &prof, 0);
    for (i = 0; i < sizeof(local_bytes) / sizeof(local_bytes[0]); i++)
        run_case("local", local_bytes[i], exec_req(rel_local(local_bytes[i])), 0, &prof,
                 0);
    for (i = 0; i < 2; i++) {
        struct buf rel = shape_wide_rel(i == 0 ? 250 : 25000);
        struct plan_facts f;

        if (plan_walk_relation_or_command(PLAN_OP_RELATION, rel.p, rel.len, NULL, &f, NULL,
                                          NULL) != 0)
            die("the plan to compress does not walk");
        /* + 1: the compressed_operation node itself */
        run_case("zstd", i == 0 ? 1000 : 100000, exec_req_zstd(rel), f.nodes + 1, &prof, 0);
    }
    return 0;
}
