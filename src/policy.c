/*
 * policy.c: judges one Spark Connect request message against a profile.
 * See policy.h for the contract and docs/policy.md for the semantics.
 *
 * Data flow: policy_check_request() runs plan_walk() with judge() as the
 * visitor.  judge() records every node kind for the audit line and refuses
 * at the first node the profile does not allow (the walk stops there).  A
 * Plan.compressed_operation node is decompressed (walk_compressed) and its
 * content walked by the same visitor with the remaining depth and node
 * budget, its paths prefixed with the compressed node's path.
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "sg_err.h"
#include "grpc.h"
#include "pb.h"
#include "policy.h"
#include "sqlclass.h"
#include "util.h"

#define POLICY_STOP (-100)           /* judge() refused: the verdict is filled */
#define POLICY_ZSTD_FLOOR (1u << 20) /* the ratio cap never forbids output below 1 MiB */
#define POLICY_ZSTD_WINDOW_LOG 27    /* 128 MiB: bounds the decoder's window allocation */
#define POLICY_MAX_KINDS 32          /* distinct kinds remembered for the audit line */
#define POLICY_CODEC_ZSTD 1          /* Plan.CompressedOperation.CompressionCodec */

static const char *const lang_names[POLICY_LANG_COUNT] = {
    "python", "scala", "java", "external", "ml", "pipeline",
};
static const char *const art_names[POLICY_ART_COUNT] = {
    "jars", "classes", "pyfiles", "archives", "files", "cache", "forward_to_fs",
};
static const char *const cat_keys[POLICY_NCATS] = {
    "relations",
    "commands",
    "expressions",
    "catalog",
};
static const char *const cat_allow_rule[POLICY_NCATS] = {
    "relations.allow",
    "commands.allow",
    "expressions.allow",
    "catalog.allow",
};
static const char *const cat_deny_rule[POLICY_NCATS] = {
    "relations.deny",
    "commands.deny",
    "expressions.deny",
    "catalog.deny",
};
static const enum plan_cat cat_of_index[POLICY_NCATS] = {
    PLAN_CAT_RELATION,
    PLAN_CAT_COMMAND,
    PLAN_CAT_EXPRESSION,
    PLAN_CAT_CATALOG,
};
static const uint8_t schema_cat_of_index[POLICY_NCATS] = {
    PLAN_SCHEMA_C_RELATION,
    PLAN_SCHEMA_C_COMMAND,
    PLAN_SCHEMA_C_EXPRESSION,
    PLAN_SCHEMA_C_CATALOG,
};

/* PySpark PythonEvalType names, for messages people can act on. */
static const struct {
    int32_t v;
    const char *name;
} eval_names[] = {
    {0, "NON_UDF"},
    {100, "SQL_BATCHED_UDF"},
    {101, "SQL_ARROW_BATCHED_UDF"},
    {200, "SQL_SCALAR_PANDAS_UDF"},
    {201, "SQL_GROUPED_MAP_PANDAS_UDF"},
    {202, "SQL_GROUPED_AGG_PANDAS_UDF"},
    {203, "SQL_WINDOW_AGG_PANDAS_UDF"},
    {204, "SQL_SCALAR_PANDAS_ITER_UDF"},
    {205, "SQL_MAP_PANDAS_ITER_UDF"},
    {206, "SQL_COGROUPED_MAP_PANDAS_UDF"},
    {207, "SQL_MAP_ARROW_ITER_UDF"},
    {208, "SQL_GROUPED_MAP_PANDAS_UDF_WITH_STATE"},
    {209, "SQL_GROUPED_MAP_ARROW_UDF"},
    {210, "SQL_COGROUPED_MAP_ARROW_UDF"},
    {211, "SQL_TRANSFORM_WITH_STATE_PANDAS_UDF"},
    {212, "SQL_TRANSFORM_WITH_STATE_PANDAS_INIT_STATE_UDF"},
    {213, "SQL_TRANSFORM_WITH_STATE_PYTHON_ROW_UDF"},
    {214, "SQL_TRANSFORM_WITH_STATE_PYTHON_ROW_INIT_STATE_UDF"},
    {300, "SQL_TABLE_UDF"},
    {301, "SQL_ARROW_TABLE_UDF"},
};

/* State of one judged message. */
struct pctx {
    const struct policy_profile *p; /* NULL: facts only */
    const struct policy_limits *lim;
    struct policy_verdict *v;
    const char *method;
    plan_visit_fn visit; /* explain's printer, or NULL */
    void *arg;
    const char *kinds[POLICY_MAX_KINDS];
    size_t nkinds;
    bool kinds_cut;
    /* inside a decompressed plan: paths are prefix ":" inner path */
    char prefix[PLAN_PATH_MAX];
    size_t prefix_len;
    bool in_compressed;
    unsigned depth_base;
    int inner_err;    /* walker error inside a compressed plan */
    size_t sql_bytes; /* SQL text of the message so far (max_sql_bytes) */
};

/* ---- names ------------------------------------------------------------------- */

const char *
policy_lang_name(enum policy_lang l)
{
    return (unsigned)l < POLICY_LANG_COUNT ? lang_names[l] : "?";
}

const char *
policy_art_name(enum policy_art a)
{
    return (unsigned)a < POLICY_ART_COUNT ? art_names[a] : "?";
}

int
policy_lang_by_name(const char *s)
{
    for (int i = 0; i < POLICY_LANG_COUNT; i++)
        if (strcmp(s, lang_names[i]) == 0)
            return i;
    return -1;
}

int
policy_art_by_name(const char *s, size_t len)
{
    for (int i = 0; i < POLICY_ART_COUNT; i++)
        if (strlen(art_names[i]) == len && memcmp(s, art_names[i], len) == 0)
            return i;
    return -1;
}

int
policy_cat_by_key(const char *key)
{
    for (int i = 0; i < POLICY_NCATS; i++)
        if (strcmp(key, cat_keys[i]) == 0)
            return i;
    return -1;
}

const char *
policy_cat_key(int cat)
{
    return cat >= 0 && cat < POLICY_NCATS ? cat_keys[cat] : "?";
}

const struct plan_schema_msg *
policy_cat_msg(int cat)
{
    if (cat < 0 || cat >= POLICY_NCATS)
        return NULL;
    for (size_t i = 0; i < PLAN_SCHEMA_NMSGS; i++)
        if (plan_schema_msgs[i].cat == schema_cat_of_index[cat])
            return &plan_schema_msgs[i];
    return NULL;
}

int
policy_kind_index(int cat, const char *name)
{
    const struct plan_schema_msg *m = policy_cat_msg(cat);

    if (m == NULL)
        return -1;
    for (size_t j = m->first; j < (size_t)m->first + m->nfields; j++) {
        const struct plan_schema_field *f = &plan_schema_fields[j];

        if (f->oneof != NULL && strcmp(f->name, name) == 0)
            return (int)j;
    }
    return -1;
}

static const char *
eval_name(int32_t v)
{
    for (size_t i = 0; i < sizeof(eval_names) / sizeof(eval_names[0]); i++)
        if (eval_names[i].v == v)
            return eval_names[i].name;
    return NULL;
}

void
policy_limits_default(struct policy_limits *lim)
{
    lim->max_depth = PLAN_DEPTH_DEFAULT;
    lim->max_nodes = 0;
    lim->max_decompressed = 128u << 20;
    lim->max_ratio = 256;
}

static uint8_t
fold(uint8_t ch, bool ci)
{
    return ci && ch >= 'A' && ch <= 'Z' ? (uint8_t)(ch - 'A' + 'a') : ch;
}

/*
 * Glob match with '*' (any run) and '?' (one byte), bytes compared as they
 * are or (|ci|) with ASCII case folded on both sides.  Iterative: on a
 * mismatch, back up to the last '*' and let it eat one more byte, which is
 * O(len(pat) * len(s)) at worst and needs no recursion.
 */
bool
policy_glob_match_case(const char *pat, const uint8_t *s, size_t len, bool ci)
{
    const char *star = NULL;
    size_t i = 0, si = 0;

    while (i < len) {
        if (*pat == '*') {
            star = pat++;
            si = i;
        } else if (*pat != '\0' && (*pat == '?' || fold((uint8_t)*pat, ci) == fold(s[i], ci))) {
            pat++;
            i++;
        } else if (star != NULL) {
            pat = star + 1;
            i = ++si;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

bool
policy_glob_match(const char *pat, const uint8_t *s, size_t len)
{
    return policy_glob_match_case(pat, s, len, false);
}

static bool
globs_match(const struct policy_globs *g, const uint8_t *s, size_t len)
{
    for (size_t i = 0; i < g->n; i++)
        if (policy_glob_match(g->v[i], s, len))
            return true;
    return false;
}

/* ---- verdicts ---------------------------------------------------------------- */

/* Printable copy of untrusted bytes for a message: controls and quotes become '?'. */
static void
shown(char *out, size_t size, const uint8_t *s, size_t len)
{
    size_t n = util_printable(out, size - 3, s, len, "\"\\");

    if (n < len) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

static int refuse(struct policy_verdict *v, int status, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
refuse(struct policy_verdict *v, int status, const char *rule, const char *fmt, ...)
{
    va_list ap;

    v->status = status;
    v->rule = rule;
    va_start(ap, fmt);
    vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
    va_end(ap);
    return POLICY_REFUSED;
}

static void
verdict_init(struct policy_verdict *v)
{
    memset(v, 0, sizeof(*v));
}

/* Full path of |n|: inside a decompressed plan, the compressed node's path first. */
static const char *
node_path(const struct pctx *x, const struct plan_node *n, char *buf, size_t size)
{
    if (!x->in_compressed)
        return n->path;
    snprintf(buf, size, "%.*s:%s", (int)x->prefix_len, x->prefix, n->path);
    return buf;
}

/*
 * A request the walker found malformed: the field, its wire type, the
 * message holding it and why, so the client can find the byte at fault.
 * |prefix|: the compressed node's path when the walk was inside one.
 */
static int
refuse_proto(struct pctx *x, const struct plan_facts *f, const char *prefix)
{
    char fld[96], where[2 * PLAN_PATH_MAX + 2];

    if (f->err == PLAN_ERR_NONE)
        return refuse(x->v, GRPC_INVALID_ARGUMENT, "proto",
                      "sparkgate: %s request message is not valid protobuf", x->method);
    if (f->err == PLAN_ERR_TAG)
        snprintf(fld, sizeof(fld), "unreadable tag");
    else
        snprintf(fld, sizeof(fld), "field %" PRIu32 "%s%s (wire type %u)", f->err_field,
                 f->err_name != NULL ? " " : "", f->err_name != NULL ? f->err_name : "", f->err_wt);
    snprintf(where, sizeof(where), "%s%s%s", prefix != NULL ? prefix : "",
             prefix != NULL ? ":" : "", f->err_path[0] != '\0' ? f->err_path : "the top");
    return refuse(x->v, GRPC_INVALID_ARGUMENT, "proto",
                  "sparkgate: invalid request: %s at %s (%s): %s; the %s request message is "
                  "not valid protobuf",
                  fld, where, f->err_msg_type != NULL ? f->err_msg_type : "?",
                  plan_err_name(f->err), x->method);
}

static void
remember_kind(struct pctx *x, const char *kind)
{
    /* kinds are the schema's own strings: equal names are equal pointers */
    for (size_t i = 0; i < x->nkinds; i++)
        if (x->kinds[i] == kind)
            return;
    if (x->nkinds == POLICY_MAX_KINDS) {
        x->kinds_cut = true;
        return;
    }
    x->kinds[x->nkinds++] = kind;
}

static int
cat_index(enum plan_cat c)
{
    for (int i = 0; i < POLICY_NCATS; i++)
        if (cat_of_index[i] == c)
            return i;
    return -1;
}

/* Which language a user-code node runs, or -1 when the node only holds others. */
static int
user_code_lang(const struct plan_node *n)
{
    const char *t = n->type != NULL ? n->type : "";

    if (strcmp(t, "PythonUDF") == 0 || strcmp(t, "PythonUDTF") == 0 ||
        strcmp(t, "PythonDataSource") == 0)
        return POLICY_LANG_PYTHON;
    if (strcmp(t, "ScalarScalaUDF") == 0)
        return POLICY_LANG_SCALA;
    if (strcmp(t, "JavaUDF") == 0)
        return POLICY_LANG_JAVA;
    if (strcmp(t, "ExecuteExternalCommand") == 0)
        return POLICY_LANG_EXTERNAL;
    if (strcmp(t, "MlOperator") == 0 || strcmp(t, "Fetch.Method") == 0)
        return POLICY_LANG_ML;
    if (strcmp(t, "PipelineCommand.DefineSqlGraphElements") == 0)
        return POLICY_LANG_PIPELINE;
    if (strcmp(t, "StreamingQueryManagerCommand.StreamingQueryListenerCommand") == 0)
        /* listener_payload is a serialized JVM listener; the Python one is its own node */
        return n->text != NULL ? POLICY_LANG_SCALA : -1;
    return -1; /* StreamingForeachFunction: its python/scala function is judged */
}

static int judge(const struct plan_node *n, void *arg);

/* Streaming zstd decode into a growing buffer, never past |cap| bytes. */
static int
unzstd(const uint8_t *in, size_t inlen, size_t cap, uint8_t **out, size_t *outlen)
{
    ZSTD_DCtx *d = NULL;
    ZSTD_inBuffer ib = {in, inlen, 0};
    ZSTD_outBuffer ob = {NULL, 0, 0};
    size_t r = 1;
    int rv = SG_ERR_PROTO;

    *out = NULL;
    *outlen = 0;
    d = ZSTD_createDCtx();
    if (d == NULL)
        return SG_ERR_NOMEM;
    if (ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, POLICY_ZSTD_WINDOW_LOG)))
        goto out;
    for (;;) {
        if (ob.pos == ob.size) {
            size_t want = ob.size == 0 ? 64u * 1024u : ob.size * 2;
            uint8_t *nb;

            if (ob.size >= cap + 1) {
                rv = SG_ERR_LIMIT;
                goto out;
            }
            if (want > cap + 1)
                want = cap + 1; /* one byte of slack tells "exactly cap" from "more" */
            nb = realloc(ob.dst, want);
            if (nb == NULL) {
                rv = SG_ERR_NOMEM;
                goto out;
            }
            ob.dst = nb;
            ob.size = want;
        }
        r = ZSTD_decompressStream(d, &ob, &ib);
        if (ZSTD_isError(r))
            goto out;
        if (ob.pos > cap) {
            rv = SG_ERR_LIMIT;
            goto out;
        }
        if (r == 0 && ib.pos == ib.size)
            break; /* every frame complete, every input byte used */
        if (ib.pos == ib.size && ob.pos < ob.size)
            goto out; /* truncated frame */
    }
    *out = ob.dst;
    *outlen = ob.pos;
    ob.dst = NULL;
    rv = 0;
out:
    free(ob.dst);
    ZSTD_freeDCtx(d);
    return rv;
}

static int
walk_compressed(struct pctx *x, const struct plan_node *n)
{
    struct policy_verdict *v = x->v;
    struct plan_limits inner;
    struct plan_facts facts;
    uint8_t *buf = NULL;
    size_t buflen = 0, cap;
    int rv;

    if (x->in_compressed) {
        refuse(v, GRPC_INVALID_ARGUMENT, "proto",
               "sparkgate: %s request has a compressed_operation inside a compressed plan at %s",
               x->method, n->path);
        return POLICY_STOP;
    }
    if (n->codec != POLICY_CODEC_ZSTD ||
        (n->op_type != PLAN_OP_RELATION && n->op_type != PLAN_OP_COMMAND)) {
        refuse(v, GRPC_INVALID_ARGUMENT, "proto",
               "sparkgate: %s request has a compressed_operation with codec %" PRId64
               " and op_type %" PRId64 " (only ZSTD relations and commands are known) at %s",
               x->method, n->codec, n->op_type, n->path);
        return POLICY_STOP;
    }
    if (n->depth >= x->lim->max_depth) {
        refuse(v, GRPC_RESOURCE_EXHAUSTED, "limits.max_plan_depth",
               "sparkgate: %s plan nesting exceeds limits.max_plan_depth (%u)", x->method,
               x->lim->max_depth);
        return POLICY_STOP;
    }
    cap = x->lim->max_decompressed;
    if (x->lim->max_ratio != 0 && n->text_len <= SIZE_MAX / x->lim->max_ratio) {
        size_t by_ratio = n->text_len * x->lim->max_ratio;

        if (by_ratio < POLICY_ZSTD_FLOOR)
            by_ratio = POLICY_ZSTD_FLOOR;
        if (by_ratio < cap)
            cap = by_ratio;
    }
    rv = unzstd(n->text != NULL ? n->text : (const uint8_t *)"", n->text_len, cap, &buf, &buflen);
    if (rv == SG_ERR_NOMEM)
        return rv;
    if (rv == SG_ERR_LIMIT) {
        refuse(v, GRPC_RESOURCE_EXHAUSTED, "limits.max_decompressed_plan_size",
               "sparkgate: %s compressed plan of %zu bytes expands beyond %zu bytes "
               "(limits.max_decompressed_plan_size %zu, limits.max_decompression_ratio %" PRIu32
               ") at %s",
               x->method, n->text_len, cap, x->lim->max_decompressed, x->lim->max_ratio, n->path);
        return POLICY_STOP;
    }
    if (rv < 0) {
        refuse(v, GRPC_INVALID_ARGUMENT, "proto",
               "sparkgate: %s compressed plan is not a valid zstd stream at %s", x->method,
               n->path);
        return POLICY_STOP;
    }
    /* the inner walk reports with paths relative to the decompressed message */
    snprintf(x->prefix, sizeof(x->prefix), "%s", n->path);
    x->prefix_len = strlen(x->prefix);
    x->in_compressed = true;
    x->depth_base = n->depth;
    memset(&inner, 0, sizeof(inner));
    inner.max_depth = x->lim->max_depth - n->depth;
    inner.max_nodes = 0;
    if (x->lim->max_nodes != 0)
        inner.max_nodes = x->lim->max_nodes > v->nodes ? x->lim->max_nodes - v->nodes : 1;
    rv = plan_walk_relation_or_command((enum plan_op)n->op_type, buf, buflen, &inner, &facts, judge,
                                       x);
    x->in_compressed = false;
    free(buf);
    if (facts.max_depth + n->depth > v->depth)
        v->depth = facts.max_depth + n->depth;
    if (rv == POLICY_STOP || rv == SG_ERR_NOMEM)
        return rv;
    if (rv == SG_ERR_PROTO) {
        refuse_proto(x, &facts, n->path);
        return POLICY_STOP;
    }
    if (rv < 0) {
        x->inner_err = rv;
        return POLICY_STOP;
    }
    return 0;
}

/*
 * The profile's rules, one function per category of node.  Each returns 0
 * (allowed), or POLICY_STOP after refuse() filled the verdict.
 */

/* The node's full path, built only for a refusal (decompressed plans pay a copy). */
#define PATH node_path(x, n, pbuf, sizeof(pbuf))

/* SQL text (Relation.sql, Command.sql_command): the size budget, then "sql" classes. */
static int
judge_sql(struct pctx *x, const struct plan_node *n)
{
    const struct policy_profile *p = x->p;
    char pbuf[2 * PLAN_PATH_MAX + 2];
    struct sqlclass_result r;
    int cls;

    /*
     * Summed over the message, so that many texts under the cap cannot
     * add up to what one text over it would cost to classify (and to
     * parse, at the backend).
     */
    x->sql_bytes += n->text_len;
    if (p->max_sql_bytes > 0 && x->sql_bytes > p->max_sql_bytes) {
        refuse(x->v, GRPC_RESOURCE_EXHAUSTED, "max_sql_bytes",
               "sparkgate: SQL text at %s brings the request to %zu bytes of SQL, "
               "over profile \"%s\" max_sql_bytes (%zu)",
               PATH, x->sql_bytes, p->name, p->max_sql_bytes);
        return POLICY_STOP;
    }
    if (!p->has_sql)
        return 0;
    cls = sqlclass_classify((const char *)n->text, n->text_len, &r);
    if (cls != SQLCLASS_EMPTY && !(p->sql_classes & (1u << (unsigned)cls))) {
        refuse(x->v, GRPC_PERMISSION_DENIED, "sql",
               "sparkgate: profile \"%s\" does not allow %s SQL (%s) "
               "at %s (rule sql)",
               p->name, sqlclass_name(cls), r.label != NULL ? r.label : "?", PATH);
        return POLICY_STOP;
    }
    return 0;
}

/* Relations, commands, expressions, catalog: the kind's allow/deny list, then SQL. */
static int
judge_kind(struct pctx *x, const struct plan_node *n)
{
    const struct policy_profile *p = x->p;
    char pbuf[2 * PLAN_PATH_MAX + 2];
    int ci = cat_index(n->cat);

    if (n->schema_idx >= 0 &&
        (p->kind_denied[(unsigned)n->schema_idx / 8u] & (1u << ((unsigned)n->schema_idx % 8u)))) {
        const char *rule = p->cat_mode[ci] == POLICY_ALLOW ? cat_allow_rule[ci] : cat_deny_rule[ci];

        refuse(x->v, GRPC_PERMISSION_DENIED, rule,
               "sparkgate: profile \"%s\" does not allow %s %s at %s (rule %s)", p->name,
               plan_cat_name(n->cat), n->kind, PATH, rule);
        return POLICY_STOP;
    }
    if (n->text != NULL && ((n->cat == PLAN_CAT_RELATION && strcmp(n->kind, "sql") == 0) ||
                            (n->cat == PLAN_CAT_COMMAND && strcmp(n->kind, "sql_command") == 0)))
        return judge_sql(x, n);
    return 0;
}

/* Python eval types ("user_code.python_eval_types"), for an allowed Python function. */
static int
judge_eval_type(struct pctx *x, const struct plan_node *n)
{
    const struct policy_profile *p = x->p;
    char pbuf[2 * PLAN_PATH_MAX + 2];
    int32_t et = n->has_eval_type ? n->eval_type : 0;
    const char *en = eval_name(et);
    size_t i;

    for (i = 0; i < p->neval_types; i++) {
        if (p->eval_types[i] == et)
            return 0;
    }
    refuse(x->v, GRPC_PERMISSION_DENIED, "user_code.python_eval_types",
           "sparkgate: profile \"%s\" does not allow %s (python, eval_type %" PRId32
           "%s%s) at %s (rule user_code.python_eval_types)",
           p->name, n->kind, et, en != NULL ? " " : "", en != NULL ? en : "", PATH);
    return POLICY_STOP;
}

/* User code: "user_code.languages", then the Python eval types. */
static int
judge_user_code(struct pctx *x, const struct plan_node *n)
{
    const struct policy_profile *p = x->p;
    char pbuf[2 * PLAN_PATH_MAX + 2], what[160];
    int lang = user_code_lang(n);

    if (lang < 0 || !p->has_user_code)
        return 0;
    if (!(p->langs & (1u << (unsigned)lang))) {
        if (lang == POLICY_LANG_PYTHON && n->has_eval_type) {
            const char *en = eval_name(n->eval_type);

            snprintf(what, sizeof(what), "%s (python, eval_type %" PRId32 "%s%s)", n->kind,
                     n->eval_type, en != NULL ? " " : "", en != NULL ? en : "");
        } else if (lang == POLICY_LANG_JAVA && n->text != NULL) {
            char cls[96];

            shown(cls, sizeof(cls), n->text, n->text_len);
            snprintf(what, sizeof(what), "%s (java, class %s)", n->kind, cls);
        } else {
            snprintf(what, sizeof(what), "%s (%s)", n->kind, lang_names[lang]);
        }
        refuse(x->v, GRPC_PERMISSION_DENIED, "user_code.languages",
               "sparkgate: profile \"%s\" does not allow %s at %s (rule user_code.languages)",
               p->name, what, PATH);
        return POLICY_STOP;
    }
    if (lang == POLICY_LANG_PYTHON && p->eval_types_set && strcmp(n->type, "PythonDataSource") != 0)
        return judge_eval_type(x, n);
    return 0;
}

/* google.protobuf.Any extensions: "extensions" globs, else "unknown". */
static int
judge_extension(struct pctx *x, const struct plan_node *n)
{
    const struct policy_profile *p = x->p;
    char pbuf[2 * PLAN_PATH_MAX + 2], what[160];

    if (p->has_extensions && n->text != NULL && globs_match(&p->extensions, n->text, n->text_len))
        return 0;
    if (!p->has_extensions && p->unknown_allowed)
        return 0;
    shown(what, 120, n->text != NULL ? n->text : (const uint8_t *)"", n->text_len);
    refuse(x->v, GRPC_PERMISSION_DENIED, p->has_extensions ? "extensions" : "unknown",
           "sparkgate: profile \"%s\" does not allow extension (type_url \"%s\") at %s "
           "(rule %s)",
           p->name, what, PATH, p->has_extensions ? "extensions" : "unknown");
    return POLICY_STOP;
}

/* A member of a oneof this schema does not name: "unknown". */
static int
judge_unknown(struct pctx *x, const struct plan_node *n)
{
    const struct policy_profile *p = x->p;
    char pbuf[2 * PLAN_PATH_MAX + 2];

    if (p->unknown_allowed)
        return 0;
    refuse(x->v, GRPC_PERMISSION_DENIED, "unknown",
           "sparkgate: profile \"%s\" does not allow unknown field %" PRIu32
           " of %s at %s (rule unknown)",
           p->name, n->field, n->type != NULL ? n->type : "?", PATH);
    return POLICY_STOP;
}

/* Not a node kind but a field this schema lacks: malformed for us, like a bad type. */
static int
judge_unknown_field(struct pctx *x, const struct plan_node *n)
{
    const struct policy_profile *p = x->p;
    char pbuf[2 * PLAN_PATH_MAX + 2];

    if (p->unknown_allowed)
        return 0;
    refuse(x->v, GRPC_INVALID_ARGUMENT, "unknown",
           "sparkgate: invalid request: unknown field %" PRIu32 " of %s at %s: profile "
           "\"%s\" does not allow unknown fields (rule unknown)",
           n->field, n->type != NULL ? n->type : "?", PATH, p->name);
    return POLICY_STOP;
}

#undef PATH

/* The visitor: audit facts, explain's printer, then the profile's rule for the node. */
static int
judge(const struct plan_node *n, void *arg)
{
    struct pctx *x = arg;
    struct policy_verdict *v = x->v;
    char pbuf[2 * PLAN_PATH_MAX + 2];
    int rv;

    v->nodes++;
    if (n->cat != PLAN_CAT_COMPRESSED)
        remember_kind(x, n->kind);
    if (x->visit != NULL) {
        struct plan_node copy = *n;

        copy.path = node_path(x, n, pbuf, sizeof(pbuf));
        copy.path_len = strlen(copy.path);
        copy.depth = n->depth + x->depth_base;
        if ((rv = x->visit(&copy, x->arg)) < 0)
            return rv;
    }
    if (n->cat == PLAN_CAT_COMPRESSED)
        return walk_compressed(x, n);
    if (x->p == NULL)
        return 0;
    switch (n->cat) {
    case PLAN_CAT_RELATION:
    case PLAN_CAT_COMMAND:
    case PLAN_CAT_EXPRESSION:
    case PLAN_CAT_CATALOG:
        return judge_kind(x, n);
    case PLAN_CAT_USER_CODE:
        return judge_user_code(x, n);
    case PLAN_CAT_EXTENSION:
        return judge_extension(x, n);
    case PLAN_CAT_UNKNOWN:
        return judge_unknown(x, n);
    case PLAN_CAT_UNKNOWN_FIELD:
        return judge_unknown_field(x, n);
    default:
        return 0;
    }
}

/* ---- Config set / unset ------------------------------------------------------ */

static int
judge_conf_key(const struct policy_profile *p, struct policy_verdict *v, const char *op,
               const uint8_t *key, size_t len)
{
    char k[160];
    const char *rule = NULL;

    if (p->conf_allow.n == 0 || !globs_match(&p->conf_allow, key, len))
        rule = "conf.allow";
    else if (globs_match(&p->conf_deny, key, len))
        rule = "conf.deny";
    if (rule == NULL)
        return POLICY_ALLOWED;
    shown(k, sizeof(k), key, len);
    return refuse(v, GRPC_PERMISSION_DENIED, rule,
                  "sparkgate: profile \"%s\" does not allow Config %s of \"%s\" (rule %s)", p->name,
                  op, k, rule);
}

/*
 * ConfigRequest.operation = 3 { set = 1 { pairs = 1 { key = 1 } }, unset = 6 { keys = 1 } }.
 * Every occurrence of every level is judged (protobuf-java merges them).
 */
static int
check_config(const struct policy_profile *p, const uint8_t *msg, size_t len,
             struct policy_verdict *v)
{
    struct pb_cur top, op, body, kv;
    struct pb_field f, g, h, k;
    int r, rv;

    pb_cur_init(&top, msg, len);
    while ((r = pb_next(&top, &f)) == 1) {
        if (f.num != 3 || f.wt != PB_WT_LEN)
            continue;
        pb_sub(&f, &op);
        while ((r = pb_next(&op, &g)) == 1) {
            if ((g.num != 1 && g.num != 6) || g.wt != PB_WT_LEN)
                continue;
            pb_sub(&g, &body);
            while ((r = pb_next(&body, &h)) == 1) {
                if (h.num != 1 || h.wt != PB_WT_LEN)
                    continue;
                if (g.num == 6) {
                    if ((rv = judge_conf_key(p, v, "unset", h.data, h.len)) != POLICY_ALLOWED)
                        return rv;
                    continue;
                }
                pb_sub(&h, &kv);
                while ((r = pb_next(&kv, &k)) == 1) {
                    if (k.num == 1 && k.wt == PB_WT_LEN &&
                        (rv = judge_conf_key(p, v, "set", k.data, k.len)) != POLICY_ALLOWED)
                        return rv;
                }
                if (r < 0)
                    return r;
            }
            if (r < 0)
                return r;
        }
        if (r < 0)
            return r;
    }
    return r < 0 ? r : POLICY_ALLOWED;
}

/* ---- the entry points ------------------------------------------------------- */

int
policy_check_method(const struct policy_profile *p, enum sc_method_id m, struct policy_verdict *v)
{
    verdict_init(v);
    if (p == NULL || (p->methods & (1u << (unsigned)m)))
        return POLICY_ALLOWED;
    return refuse(v, GRPC_PERMISSION_DENIED, "methods",
                  "sparkgate: profile \"%s\" does not allow method %s (rule methods)", p->name,
                  sc_method_get(m)->name);
}

/* operation_id of the methods that carry one (a string, last occurrence wins). */
static void
find_operation_id(enum sc_method_id m, const uint8_t *msg, size_t len, struct policy_verdict *v)
{
    uint32_t num;
    struct pb_cur c;
    struct pb_field f;

    switch (m) {
    case SC_M_EXECUTE_PLAN:
    case SC_M_INTERRUPT:
        num = 6;
        break;
    case SC_M_REATTACH_EXECUTE:
    case SC_M_RELEASE_EXECUTE:
        num = 3;
        break;
    default:
        return;
    }
    pb_cur_init(&c, msg, len);
    while (pb_next(&c, &f) == 1) {
        if (f.num == num && f.wt == PB_WT_LEN) {
            v->operation_id = f.data;
            v->operation_id_len = f.len;
        }
    }
}

static void
finish_kinds(const struct pctx *x, struct policy_verdict *v)
{
    size_t n = 0;

    v->kinds[0] = '\0';
    v->nkinds = x->nkinds;
    for (size_t i = 0; i < x->nkinds; i++) {
        size_t l = strlen(x->kinds[i]);

        if (n + l + 5 >= sizeof(v->kinds)) {
            memcpy(v->kinds + n, n > 0 ? ",..." : "...", n > 0 ? 5 : 4);
            return;
        }
        if (n > 0)
            v->kinds[n++] = ',';
        memcpy(v->kinds + n, x->kinds[i], l + 1);
        n += l;
    }
    if (x->kinds_cut && n + 5 < sizeof(v->kinds))
        memcpy(v->kinds + n, n > 0 ? ",..." : "...", n > 0 ? 5 : 4);
}

static int
run_walk(struct pctx *x, enum sc_method_id m, const uint8_t *msg, size_t len)
{
    const struct policy_limits *lim = x->lim;
    struct policy_verdict *v = x->v;
    struct plan_limits pl;
    struct plan_facts facts;
    int rv;

    memset(&pl, 0, sizeof(pl));
    pl.max_depth = lim->max_depth;
    pl.max_nodes = lim->max_nodes;
    rv = plan_walk(m, msg, len, &pl, &facts, judge, x);
    if (facts.max_depth > v->depth)
        v->depth = facts.max_depth;
    finish_kinds(x, v);
    if (rv == POLICY_STOP && x->inner_err != 0)
        rv = x->inner_err;
    if (rv == POLICY_STOP)
        return POLICY_REFUSED;
    if (rv == SG_ERR_NOMEM)
        return rv;
    if (rv == SG_ERR_LIMIT) {
        if (lim->max_nodes != 0 && v->nodes > lim->max_nodes)
            return refuse(v, GRPC_RESOURCE_EXHAUSTED, "limits.max_plan_nodes",
                          "sparkgate: %s plan has more than limits.max_plan_nodes (%zu) nodes",
                          x->method, lim->max_nodes);
        return refuse(v, GRPC_RESOURCE_EXHAUSTED, "limits.max_plan_depth",
                      "sparkgate: %s plan nesting exceeds limits.max_plan_depth (%u)", x->method,
                      lim->max_depth);
    }
    if (rv == SG_ERR_PROTO)
        return refuse_proto(x, &facts, NULL);
    if (rv < 0)
        return refuse(v, GRPC_INVALID_ARGUMENT, "proto",
                      "sparkgate: %s request message is not valid protobuf (internal error)",
                      x->method);
    return POLICY_ALLOWED;
}

int
policy_check_request(const struct policy_profile *p, enum sc_method_id m, const uint8_t *msg,
                     size_t len, const struct policy_limits *lim, struct policy_verdict *v)
{
    struct policy_limits dflt;
    struct pctx x;
    int rv;

    verdict_init(v);
    if ((unsigned)m >= SC_M_COUNT)
        return SG_ERR_INTERNAL;
    if (lim == NULL) {
        policy_limits_default(&dflt);
        lim = &dflt;
    }
    if (p != NULL && !(p->methods & (1u << (unsigned)m)))
        return policy_check_method(p, m, v);
    if (m == SC_M_ADD_ARTIFACTS && p != NULL) {
        struct policy_art_state st;

        memset(&st, 0, sizeof(st));
        return policy_check_artifacts(p, &st, msg, len, v);
    }
    find_operation_id(m, msg, len, v);
    memset(&x, 0, sizeof(x)); /* < 1 KiB: no allocation per request */
    x.p = p;
    x.lim = lim;
    x.v = v;
    x.method = sc_method_get(m)->name;
    rv = run_walk(&x, m, msg, len);
    if (rv != POLICY_ALLOWED)
        return rv;
    if (m == SC_M_CONFIG && p != NULL && p->has_conf) {
        rv = check_config(p, msg, len, v);
        if (rv < 0 && rv != SG_ERR_NOMEM)
            return refuse(v, GRPC_INVALID_ARGUMENT, "proto",
                          "sparkgate: Config request message is not valid protobuf");
        return rv;
    }
    return POLICY_ALLOWED;
}

int
policy_walk_all(enum sc_method_id m, const uint8_t *msg, size_t len,
                const struct policy_limits *lim, plan_visit_fn visit, void *arg)
{
    struct policy_verdict v;
    struct pctx x;
    int rv;

    verdict_init(&v);
    if ((unsigned)m >= SC_M_COUNT)
        return SG_ERR_INTERNAL;
    memset(&x, 0, sizeof(x));
    x.lim = lim;
    x.v = &v;
    x.method = sc_method_get(m)->name;
    x.visit = visit;
    x.arg = arg;
    rv = run_walk(&x, m, msg, len);
    return rv == POLICY_ALLOWED ? 0 : rv == POLICY_REFUSED ? SG_ERR_PROTO : rv;
}

/* ---- AddArtifacts ------------------------------------------------------------ */

/*
 * Names no server should see, whatever the profile.  Spark resolves an
 * artifact name as a path below the session's directory, and for archives
 * and files turns a "#fragment" into a directory name too (URI-decoded), so
 * ".." is refused as any segment between '/' and '#', with %-escapes
 * decoded, as are absolute names and fragments, backslashes (a separator on
 * Windows and in some of Spark's path handling), NUL and control bytes.
 */
static int
judge_art_name_safe(struct policy_verdict *v, const uint8_t *name, size_t len, const char *nm)
{
    size_t i = 0, seglen = 0, dots = 0;
    bool seg_start_hash = false, first = true;
    const char *why = NULL;

    if (len == 0)
        return refuse(v, GRPC_INVALID_ARGUMENT, "artifacts",
                      "sparkgate: AddArtifacts artifact with an empty name");
    while (i < len && why == NULL) {
        uint8_t c = name[i];
        size_t adv = 1;

        if (c == '%' && len - i >= 3 && util_hexval(name[i + 1]) >= 0 &&
            util_hexval(name[i + 2]) >= 0) {
            c = (uint8_t)(util_hexval(name[i + 1]) << 4 | util_hexval(name[i + 2]));
            adv = 3;
        }
        if (c == '\0')
            why = "contains a NUL byte";
        else if (c < 0x20 || c == 0x7f)
            why = "contains a control character";
        else if (c == '\\')
            why = "contains a backslash";
        else if (c == '/' && (first || (seg_start_hash && seglen == 0)))
            why = "is an absolute path";
        else if (c == '/' || c == '#') {
            if (seglen == 2 && dots == 2)
                why = "contains \"..\"";
            seglen = dots = 0;
            seg_start_hash = c == '#';
        } else {
            seglen++;
            dots += c == '.';
        }
        first = false;
        i += adv;
    }
    if (why == NULL && seglen == 2 && dots == 2)
        why = "contains \"..\"";
    if (why == NULL)
        return POLICY_ALLOWED;
    return refuse(v, GRPC_INVALID_ARGUMENT, "artifacts", "sparkgate: artifact name \"%s\" %s", nm,
                  why);
}

/*
 * A refusal for names no server should see (every profile), then, when the
 * profile has an "artifacts" section, the kind it allows.  |kind|: the kind
 * the name's first segment names, or -1.
 */
static int
judge_art_name(const struct policy_profile *p, struct policy_verdict *v, const uint8_t *name,
               size_t len, int *kind)
{
    char nm[128];
    const uint8_t *slash = memchr(name, '/', len);
    int rv;

    shown(nm, sizeof(nm), name, len);
    if ((rv = judge_art_name_safe(v, name, len, nm)) != POLICY_ALLOWED)
        return rv;
    *kind = slash != NULL ? policy_art_by_name((const char *)name, (size_t)(slash - name)) : -1;
    if (!p->has_artifacts)
        return POLICY_ALLOWED;
    if (slash == NULL || slash == name + len - 1)
        return refuse(v, GRPC_INVALID_ARGUMENT, "artifacts",
                      "sparkgate: artifact name \"%s\" is not of the form <kind>/<path>", nm);
    if (*kind < 0 || !(p->art_kinds & (1u << (unsigned)*kind)))
        return refuse(v, GRPC_PERMISSION_DENIED, "artifacts",
                      "sparkgate: profile \"%s\" does not allow artifact \"%s\" (kind %.*s) "
                      "(rule artifacts)",
                      p->name, nm, (int)(slash - name) < 32 ? (int)(slash - name) : 32,
                      (const char *)name);
    return POLICY_ALLOWED;
}

static int
judge_art_size(const struct policy_profile *p, struct policy_verdict *v, const char *name, int kind,
               uint64_t bytes)
{
    if (bytes <= p->art_max[kind])
        return POLICY_ALLOWED;
    return refuse(v, GRPC_PERMISSION_DENIED, "artifacts",
                  "sparkgate: profile \"%s\" does not allow artifact \"%s\" of %" PRIu64
                  " bytes: artifacts.%s.max_bytes is %" PRIu64 " (rule artifacts)",
                  p->name, name, bytes, art_names[kind], p->art_max[kind]);
}

/* Sum of the data (field 1) of every ArtifactChunk occurrence in |msg|. */
static int
chunk_bytes(const uint8_t *msg, size_t len, uint64_t *out)
{
    struct pb_cur c;
    struct pb_field f;
    int r;

    pb_cur_init(&c, msg, len);
    while ((r = pb_next(&c, &f)) == 1)
        if (f.num == 1 && f.wt == PB_WT_LEN)
            *out += f.len;
    return r;
}

/*
 * One artifact description: SingleChunkArtifact {name = 1, data = 2} or
 * BeginChunkedArtifact {name = 1, total_bytes = 2, initial_chunk = 4}.
 */
static int
judge_artifact(const struct policy_profile *p, struct policy_art_state *st,
               struct policy_verdict *v, const struct pb_field *af, bool begin)
{
    struct pb_cur c;
    struct pb_field f;
    uint64_t bytes = 0, declared = 0;
    int kind = -1, r, rv;
    bool named = false;
    char nm[128] = "";

    pb_sub(af, &c);
    while ((r = pb_next(&c, &f)) == 1) {
        if (f.num == 1 && f.wt == PB_WT_LEN) {
            if ((rv = judge_art_name(p, v, f.data, f.len, &kind)) != POLICY_ALLOWED)
                return rv;
            named = true;
            shown(nm, sizeof(nm), f.data, f.len);
        } else if (((begin && f.num == 4) || (!begin && f.num == 2)) && f.wt == PB_WT_LEN) {
            if ((r = chunk_bytes(f.data, f.len, &bytes)) < 0)
                return r;
        } else if (begin && f.num == 2 && f.wt == PB_WT_VARINT) {
            declared = f.v;
        }
    }
    if (r < 0)
        return r;
    if (!named)
        return refuse(v, GRPC_INVALID_ARGUMENT, "artifacts",
                      "sparkgate: AddArtifacts artifact without a name");
    /* audit: how many artifacts, of which kinds */
    v->nodes++;
    if (kind >= 0 && strstr(v->kinds, art_names[kind]) == NULL &&
        strlen(v->kinds) + strlen(art_names[kind]) + 2 < sizeof(v->kinds)) {
        if (v->kinds[0] != '\0')
            strcat(v->kinds, ",");
        strcat(v->kinds, art_names[kind]);
        v->nkinds++;
    }
    if (kind < 0 || !p->has_artifacts)
        return POLICY_ALLOWED; /* no kinds or sizes to judge (judge_art_name checked names) */
    if ((rv = judge_art_size(p, v, nm, kind, declared > bytes ? declared : bytes)) !=
        POLICY_ALLOWED)
        return rv;
    if (begin) {
        st->in_chunked = true;
        st->kind = kind;
        st->bytes = bytes;
        memcpy(st->name, nm, sizeof(st->name));
    }
    return POLICY_ALLOWED;
}

int
policy_check_artifacts(const struct policy_profile *p, struct policy_art_state *st,
                       const uint8_t *msg, size_t len, struct policy_verdict *v)
{
    struct pb_cur top, b;
    struct pb_field f, g;
    struct policy_limits lim;
    struct pctx x;
    int r, rv = POLICY_ALLOWED;

    verdict_init(v);
    if (p == NULL)
        return POLICY_ALLOWED;
    if (!(p->methods & (1u << SC_M_ADD_ARTIFACTS)))
        return policy_check_method(p, SC_M_ADD_ARTIFACTS, v);
    /*
     * Every level of the message against the schema first, as a plan is: a
     * field this schema does not know (a newer Spark reads more of Batch)
     * follows the profile's "unknown", whatever it carries.
     */
    policy_limits_default(&lim);
    memset(&x, 0, sizeof(x));
    x.p = p;
    x.lim = &lim;
    x.v = v;
    x.method = sc_method_get(SC_M_ADD_ARTIFACTS)->name;
    if ((rv = run_walk(&x, SC_M_ADD_ARTIFACTS, msg, len)) != POLICY_ALLOWED)
        return rv;
    /* the audit line counts artifacts, not the walk's nodes */
    v->nodes = 0;
    v->kinds[0] = '\0';
    v->nkinds = 0;
    pb_cur_init(&top, msg, len);
    while ((r = pb_next(&top, &f)) == 1 && rv == POLICY_ALLOWED) {
        if (f.wt != PB_WT_LEN)
            continue;
        switch (f.num) {
        case 3: /* batch { artifacts = 1 repeated SingleChunkArtifact } */
            pb_sub(&f, &b);
            while ((r = pb_next(&b, &g)) == 1 && rv == POLICY_ALLOWED)
                if (g.num == 1 && g.wt == PB_WT_LEN)
                    rv = judge_artifact(p, st, v, &g, false);
            break;
        case 4: /* begin_chunk */
            rv = judge_artifact(p, st, v, &f, true);
            break;
        case 5: { /* chunk: continues the artifact begun earlier in the stream */
            uint64_t add = 0;

            if (!p->has_artifacts)
                break; /* no kinds or sizes to judge */
            if ((r = chunk_bytes(f.data, f.len, &add)) < 0)
                break;
            if (!st->in_chunked) {
                rv = refuse(v, GRPC_INVALID_ARGUMENT, "artifacts",
                            "sparkgate: AddArtifacts chunk without a begin_chunk");
                break;
            }
            st->bytes += add;
            rv = judge_art_size(p, v, st->name, st->kind, st->bytes);
            break;
        }
        default:
            break;
        }
        if (r < 0)
            break;
    }
    if (rv == POLICY_ALLOWED && r < 0)
        rv = r;
    if (rv < 0 && rv != SG_ERR_NOMEM)
        return refuse(v, GRPC_INVALID_ARGUMENT, "proto",
                      "sparkgate: AddArtifacts request message is not valid protobuf");
    return rv;
}
