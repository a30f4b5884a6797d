/*
 * plan.c: Spark Connect plan walker (see plan.h).
 *
 * The tables in plan_schema.c give every field of every message a request
 * can hold, with its type: the walk parses each message completely, checks
 * every field's wire type (and strings' UTF-8) against its type, descends
 * into every message field and reports every field the tables do not know.
 * Only bytes fields the tables mark opaque are skipped.  The walk keeps one
 * frame per open message on an explicit stack, so hostile nesting costs a
 * bounded array, never C stack.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "plan.h"
#include "plan_schema.h"
#include "pb.h"
#include "sg_err.h"

struct plan_frame {
    struct pb_cur cur;
    uint16_t msg;      /* index into plan_schema_msgs */
    uint16_t path_len; /* path length to restore when the frame is popped */
    bool path_trunc;
    uint32_t rep[PLAN_SCHEMA_MAX_REP_SLOTS]; /* next index of each repeated field */
};

struct plan_walker {
    const struct plan_limits *lim;
    unsigned max_depth;
    struct plan_facts *facts;
    plan_visit_fn visit;
    void *arg;
    char path[PLAN_PATH_MAX];
    size_t path_len;
    bool path_trunc;
    size_t top; /* index of the current frame */
    struct plan_frame stack[PLAN_DEPTH_MAX + 1];
};

/* Request message of every method, by enum sc_method_id. */
static const uint16_t plan_method_root[SC_M_COUNT] = {
    [SC_M_EXECUTE_PLAN] = PLAN_SCHEMA_EXECUTE_PLAN_REQUEST,
    [SC_M_ANALYZE_PLAN] = PLAN_SCHEMA_ANALYZE_PLAN_REQUEST,
    [SC_M_CONFIG] = PLAN_SCHEMA_CONFIG_REQUEST,
    [SC_M_ADD_ARTIFACTS] = PLAN_SCHEMA_ADD_ARTIFACTS_REQUEST,
    [SC_M_ARTIFACT_STATUS] = PLAN_SCHEMA_ARTIFACT_STATUSES_REQUEST,
    [SC_M_INTERRUPT] = PLAN_SCHEMA_INTERRUPT_REQUEST,
    [SC_M_REATTACH_EXECUTE] = PLAN_SCHEMA_REATTACH_EXECUTE_REQUEST,
    [SC_M_RELEASE_EXECUTE] = PLAN_SCHEMA_RELEASE_EXECUTE_REQUEST,
    [SC_M_RELEASE_SESSION] = PLAN_SCHEMA_RELEASE_SESSION_REQUEST,
    [SC_M_FETCH_ERROR_DETAILS] = PLAN_SCHEMA_FETCH_ERROR_DETAILS_REQUEST,
    [SC_M_CLONE_SESSION] = PLAN_SCHEMA_CLONE_SESSION_REQUEST,
    [SC_M_GET_STATUS] = PLAN_SCHEMA_GET_STATUS_REQUEST,
};

static const char *const plan_cat_names[PLAN_CAT_COUNT] = {
    "relation",  "command", "expression", "catalog",       "user_code",
    "extension", "unknown", "compressed", "unknown_field",
};

static const char *const plan_err_names[] = {
    [PLAN_ERR_NONE] = "no error",
    [PLAN_ERR_TAG] = "unreadable tag or field number out of range",
    [PLAN_ERR_WIRE_TYPE] = "group or undefined wire type",
    [PLAN_ERR_TRUNCATED] = "value or length beyond the end of its message",
    [PLAN_ERR_WRONG_TYPE] = "wire type does not match the field's type",
    [PLAN_ERR_PACKED] = "packed repeated field does not parse",
    [PLAN_ERR_UTF8] = "string field is not valid UTF-8",
};

const char *
plan_err_name(enum plan_err e)
{
    if ((unsigned)e >= sizeof(plan_err_names) / sizeof(plan_err_names[0]))
        return "?";
    return plan_err_names[e];
}

const char *
plan_cat_name(enum plan_cat cat)
{
    if ((unsigned)cat >= PLAN_CAT_COUNT)
        return "?";
    return plan_cat_names[cat];
}

/*
 * Field numbers below PLAN_DIRECT are looked up in a dense table (index + 1,
 * 0 = not in the schema), built once when the library is loaded: the binary
 * search was a quarter of the walk's time.  Larger numbers (extension = 998,
 * 999, ml_relation = 300, ...) fall back to the search.
 */
#define PLAN_DIRECT 64u
static uint16_t plan_direct[PLAN_SCHEMA_NMSGS][PLAN_DIRECT];

__attribute__((constructor)) static void
plan_direct_init(void)
{
    for (size_t i = 0; i < PLAN_SCHEMA_NMSGS; i++) {
        const struct plan_schema_msg *m = &plan_schema_msgs[i];

        for (size_t j = m->first; j < (size_t)m->first + m->nfields; j++)
            if (plan_schema_fields[j].num < PLAN_DIRECT)
                plan_direct[i][plan_schema_fields[j].num] = (uint16_t)(j + 1);
    }
}

/* Fields are sorted by number inside each message. */
static const struct plan_schema_field *
plan_lookup(uint16_t msg, uint32_t num)
{
    const struct plan_schema_msg *m = &plan_schema_msgs[msg];
    size_t lo = m->first, hi = (size_t)m->first + m->nfields;

    if (num < PLAN_DIRECT) {
        uint16_t d = plan_direct[msg][num];

        return d != 0 ? &plan_schema_fields[d - 1] : NULL;
    }

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (plan_schema_fields[mid].num == num)
            return &plan_schema_fields[mid];
        if (plan_schema_fields[mid].num < num)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/*
 * Appends |s| (|n| bytes) to the path.  Once a segment does not fit, the
 * path ends in "..." and further segments are dropped until the walker pops
 * back above the truncation point.
 */
static void
plan_path_put(struct plan_walker *w, const char *s, size_t n)
{
    size_t room = PLAN_PATH_MAX - 4; /* keep space for "..." and NUL */

    if (w->path_trunc)
        return;
    if (w->path_len + n > room) {
        memcpy(w->path + w->path_len, "...", 4);
        w->path_len += 3;
        w->path_trunc = true;
        return;
    }
    memcpy(w->path + w->path_len, s, n);
    w->path_len += n;
    w->path[w->path_len] = '\0';
}

static void
plan_path_uint(struct plan_walker *w, const char *pre, uint32_t v, const char *post)
{
    char buf[16];
    size_t n = sizeof(buf);

    buf[--n] = '\0';
    do {
        buf[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    plan_path_put(w, pre, strlen(pre));
    plan_path_put(w, buf + n, sizeof(buf) - 1 - n);
    plan_path_put(w, post, strlen(post));
}

/* Appends ".name" or ".name[i]" (no dot at the start of the path). */
static void
plan_path_field(struct plan_walker *w, const char *name, bool indexed, uint32_t idx)
{
    if (w->path_len != 0)
        plan_path_put(w, ".", 1);
    plan_path_put(w, name, strlen(name));
    if (indexed)
        plan_path_uint(w, "[", idx, "]");
}

static void
plan_path_restore(struct plan_walker *w, size_t len, bool trunc)
{
    w->path_len = len;
    w->path_trunc = trunc;
    w->path[len] = '\0';
}

static int plan_fail_in(struct plan_walker *w, uint16_t msg, enum plan_err e, uint32_t num,
                        unsigned wt, const struct plan_schema_field *sf);

/*
 * Reads the facts (SQL text, class name, eval_type) of a node whose payload
 * is message |msg|: one flat pass over its top-level fields.  A text fact
 * that is a string must be valid UTF-8 before anyone judges it (protobuf-java
 * refuses the whole message, so it is malformed, not "unknown SQL"); any
 * other malformed input is left to the walk, which enters the same bytes
 * next and refuses them with the field and path.
 */
static int
plan_read_facts(struct plan_walker *w, uint16_t msg, const uint8_t *p, size_t len,
                struct plan_node *n)
{
    struct pb_cur c;
    struct pb_field f;

    if (!(plan_schema_msgs[msg].flags & PLAN_SCHEMA_M_FACTS))
        return 0;
    pb_cur_init(&c, p, len);
    while (pb_next(&c, &f) == 1) {
        const struct plan_schema_field *sf = plan_lookup(msg, f.num);

        /* a wrong wire type here is refused when the walk enters the message */
        if (sf == NULL || sf->flags == 0)
            continue;
        if ((sf->flags & (PLAN_SCHEMA_FF_TEXT | PLAN_SCHEMA_FF_TEXT2)) && f.wt == PB_WT_LEN &&
            sf->kind == PLAN_SCHEMA_F_STRING && !pb_utf8_valid(f.data, f.len))
            return plan_fail_in(w, msg, PLAN_ERR_UTF8, f.num, f.wt, sf);
        if ((sf->flags & PLAN_SCHEMA_FF_TEXT) && f.wt == PB_WT_LEN) {
            n->text = f.data;
            n->text_len = f.len;
        } else if ((sf->flags & PLAN_SCHEMA_FF_TEXT2) && f.wt == PB_WT_LEN) {
            n->text2 = f.data;
            n->text2_len = f.len;
        } else if ((sf->flags & PLAN_SCHEMA_FF_EVAL) && f.wt == PB_WT_VARINT) {
            n->has_eval_type = true;
            n->eval_type = (int32_t)(uint32_t)f.v; /* int32 on the wire: low 32 bits */
        }
    }
    return 0;
}

/* google.protobuf.Any: type_url = 1 (string), value = 2. */
static void
plan_read_any(const uint8_t *p, size_t len, struct plan_node *n)
{
    struct pb_cur c;
    struct pb_field f;

    pb_cur_init(&c, p, len);
    while (pb_next(&c, &f) == 1) {
        if (f.num == 1 && f.wt == PB_WT_LEN) {
            n->text = f.data;
            n->text_len = f.len;
        }
    }
}

/* Plan.CompressedOperation: data = 1 bytes, op_type = 2 enum, compression_codec = 3 enum. */
static void
plan_read_compressed(const uint8_t *p, size_t len, struct plan_node *n)
{
    struct pb_cur c;
    struct pb_field f;

    pb_cur_init(&c, p, len);
    while (pb_next(&c, &f) == 1) {
        if (f.num == 1 && f.wt == PB_WT_LEN) {
            n->text = f.data;
            n->text_len = f.len;
        } else if (f.num == 2 && f.wt == PB_WT_VARINT) {
            n->op_type = (int64_t)f.v;
        } else if (f.num == 3 && f.wt == PB_WT_VARINT) {
            n->codec = (int64_t)f.v;
        }
    }
}

static int
plan_report(struct plan_walker *w, struct plan_node *n)
{
    n->path = w->path;
    n->path_len = w->path_len;
    n->path_truncated = w->path_trunc;
    w->facts->nodes++;
    w->facts->by_cat[n->cat]++;
    if (w->lim != NULL && w->lim->max_nodes != 0 && w->facts->nodes > w->lim->max_nodes)
        return SG_ERR_LIMIT;
    if (w->visit == NULL)
        return 0;
    return w->visit(n, w->arg);
}

static void
plan_node_init(struct plan_node *n, enum plan_cat cat, const struct plan_schema_field *sf,
               const char *type, const struct pb_field *f, unsigned depth)
{
    /* field by field: a memset of the whole node was a sixth of the walk */
    n->cat = cat;
    n->schema_idx = sf != NULL ? (int)(sf - plan_schema_fields) : -1;
    n->kind = sf != NULL ? sf->name : "unknown";
    n->path = NULL;
    n->path_len = 0;
    n->path_truncated = false;
    n->msg = NULL;
    n->msg_len = 0;
    n->has_eval_type = false;
    n->eval_type = 0;
    n->text = NULL;
    n->text_len = 0;
    n->text2 = NULL;
    n->text2_len = 0;
    n->op_type = 0;
    n->codec = 0;
    n->type = type;
    n->field = f->num;
    n->depth = depth;
    if (f->wt == PB_WT_LEN) {
        n->msg = f->data;
        n->msg_len = f->len;
    }
}

static enum plan_cat
plan_cat_of(uint8_t schema_cat)
{
    switch (schema_cat) {
    case PLAN_SCHEMA_C_RELATION:
        return PLAN_CAT_RELATION;
    case PLAN_SCHEMA_C_COMMAND:
        return PLAN_CAT_COMMAND;
    case PLAN_SCHEMA_C_EXPRESSION:
        return PLAN_CAT_EXPRESSION;
    default:
        return PLAN_CAT_CATALOG;
    }
}

/* Records why the walk stops: the field, its wire type and message |msg| holding it. */
static int
plan_fail_in(struct plan_walker *w, uint16_t msg, enum plan_err e, uint32_t num, unsigned wt,
             const struct plan_schema_field *sf)
{
    struct plan_facts *fa = w->facts;

    fa->err = e;
    fa->err_field = num;
    fa->err_wt = wt;
    fa->err_name = sf != NULL ? sf->name : NULL;
    fa->err_msg_type = plan_schema_msgs[msg].name;
    memcpy(fa->err_path, w->path, w->path_len + 1);
    return SG_ERR_PROTO;
}

/* The same, for a field of the message on top of the stack. */
static int
plan_fail(struct plan_walker *w, enum plan_err e, uint32_t num, unsigned wt,
          const struct plan_schema_field *sf)
{
    return plan_fail_in(w, w->stack[w->top].msg, e, num, wt, sf);
}

/*
 * A scalar, string or bytes field: its wire type must be its type's (a
 * repeated scalar may also be packed: wire type 2 with a run of values).
 * protobuf-java would parse a mismatched wire type as an unknown field; a
 * request that does so is refused instead, never judged by a guess.
 */
static int
plan_check_leaf(struct plan_walker *w, const struct plan_schema_field *sf, const struct pb_field *f)
{
    enum pb_wire want;
    size_t unit = 0;

    switch (sf->kind) {
    case PLAN_SCHEMA_F_STRING:
        if (f->wt != PB_WT_LEN)
            goto wrong;
        if (!pb_utf8_valid(f->data, f->len))
            return plan_fail(w, PLAN_ERR_UTF8, f->num, f->wt, sf);
        return 0;
    case PLAN_SCHEMA_F_OPAQUE:
        return f->wt == PB_WT_LEN ? 0 : plan_fail(w, PLAN_ERR_WRONG_TYPE, f->num, f->wt, sf);
    case PLAN_SCHEMA_F_VARINT:
        want = PB_WT_VARINT;
        break;
    case PLAN_SCHEMA_F_I64:
        want = PB_WT_I64;
        unit = 8;
        break;
    default: /* PLAN_SCHEMA_F_I32 */
        want = PB_WT_I32;
        unit = 4;
        break;
    }
    if (f->wt == want)
        return 0;
    if (f->wt != PB_WT_LEN || !(sf->flags & PLAN_SCHEMA_FF_REPEATED))
        goto wrong;
    if (unit != 0 ? f->len % unit != 0 : !pb_packed_varints_valid(f->data, f->len))
        return plan_fail(w, PLAN_ERR_PACKED, f->num, f->wt, sf);
    return 0;
wrong:
    return plan_fail(w, PLAN_ERR_WRONG_TYPE, f->num, f->wt, sf);
}

/*
 * Handles one field of the current frame: checks it against the schema,
 * reports it if it is a node and pushes a frame for a message.  The path
 * segment for the field is appended here and removed again unless a frame
 * was pushed (the frame restores it when popped).
 */
static int
plan_field(struct plan_walker *w, const struct pb_field *f)
{
    struct plan_frame *fr = &w->stack[w->top];
    const struct plan_schema_msg *m = &plan_schema_msgs[fr->msg];
    const struct plan_schema_field *sf = plan_lookup(fr->msg, f->num);
    unsigned depth = (unsigned)w->top + 1;
    size_t saved_len = w->path_len;
    bool saved_trunc = w->path_trunc;
    uint16_t target;
    struct plan_node n;
    int rv = 0;

    if (sf == NULL)
        goto unknown;
    if (sf->kind >= PLAN_SCHEMA_F_STRING) {
        if ((rv = plan_check_leaf(w, sf, f)) < 0)
            return rv;
        if (m->cat == PLAN_SCHEMA_C_NONE || sf->oneof == NULL)
            return 0;
        /* a scalar node member (none in branch-4.3, but the tables may grow one) */
        plan_path_field(w, sf->name, false, 0);
        plan_node_init(&n, plan_cat_of(m->cat), sf, NULL, f, depth);
        rv = plan_report(w, &n);
        goto out;
    }
    if (f->wt != PB_WT_LEN)
        return plan_fail(w, PLAN_ERR_WRONG_TYPE, f->num, f->wt, sf);

    if (sf->rep_slot != PLAN_SCHEMA_NO_SLOT) {
        plan_path_field(w, sf->name, true, fr->rep[sf->rep_slot]);
        if (fr->rep[sf->rep_slot] != UINT32_MAX)
            fr->rep[sf->rep_slot]++;
    } else {
        plan_path_field(w, sf->name, false, 0);
    }
    target = sf->target;

    switch (sf->kind) {
    case PLAN_SCHEMA_F_ANY:
        plan_node_init(&n, PLAN_CAT_EXTENSION, sf, "google.protobuf.Any", f, depth);
        plan_read_any(f->data, f->len, &n);
        if ((rv = plan_report(w, &n)) < 0)
            goto out;
        goto push; /* type_url is a string like any other */
    case PLAN_SCHEMA_F_COMPRESSED:
        plan_node_init(&n, PLAN_CAT_COMPRESSED, sf, "Plan.CompressedOperation", f, depth);
        plan_read_compressed(f->data, f->len, &n);
        if ((rv = plan_report(w, &n)) < 0)
            goto out;
        goto push;
    default:
        break;
    }

    if (m->cat != PLAN_SCHEMA_C_NONE && sf->oneof != NULL) {
        plan_node_init(&n, plan_cat_of(m->cat), sf, plan_schema_msgs[target].name, f, depth);
        if ((rv = plan_read_facts(w, target, f->data, f->len, &n)) < 0 ||
            (rv = plan_report(w, &n)) < 0)
            goto out;
    }
    if (plan_schema_msgs[target].flags & PLAN_SCHEMA_M_USER_CODE) {
        plan_node_init(&n, PLAN_CAT_USER_CODE, sf, plan_schema_msgs[target].name, f, depth);
        if ((rv = plan_read_facts(w, target, f->data, f->len, &n)) < 0 ||
            (rv = plan_report(w, &n)) < 0)
            goto out;
    }
push:
    if (depth > w->max_depth) {
        rv = SG_ERR_LIMIT;
        goto out;
    }
    if (depth > w->facts->max_depth)
        w->facts->max_depth = depth;
    fr = &w->stack[++w->top];
    memset(fr, 0, sizeof(*fr));
    pb_sub(f, &fr->cur);
    fr->msg = target;
    fr->path_len = (uint16_t)saved_len;
    fr->path_trunc = saved_trunc;
    return 0; /* keep the path segment: the new frame restores it */

unknown:
    /* not skipped unseen: policy decides (a profile's "unknown") */
    if (w->path_len != 0)
        plan_path_put(w, ".", 1);
    plan_path_uint(w, "#", f->num, "");
    plan_node_init(&n,
                   (m->flags & PLAN_SCHEMA_M_REPORT_UNKNOWN) ? PLAN_CAT_UNKNOWN
                                                             : PLAN_CAT_UNKNOWN_FIELD,
                   NULL, m->name, f, depth);
    rv = plan_report(w, &n);
out:
    plan_path_restore(w, saved_len, saved_trunc);
    return rv;
}

/*
 * pb_next failed at the cursor (which it leaves on the bad field): decode
 * as much of the tag as there is, for the message.
 */
static int
plan_bad_field(struct plan_walker *w)
{
    const struct pb_cur *c = &w->stack[w->top].cur;
    const uint8_t *p = c->p;
    uint64_t tag;
    uint32_t num;
    unsigned wt;

    if (pb_read_varint(&p, c->end, &tag) != 0 || (tag >> 3) == 0 || (tag >> 3) > PB_MAX_FIELD)
        return plan_fail(w, PLAN_ERR_TAG, 0, 0, NULL);
    num = (uint32_t)(tag >> 3);
    wt = (unsigned)(tag & 7);
    if (wt == PB_WT_SGROUP || wt == PB_WT_EGROUP || wt > PB_WT_I32)
        return plan_fail(w, PLAN_ERR_WIRE_TYPE, num, wt, plan_lookup(w->stack[w->top].msg, num));
    return plan_fail(w, PLAN_ERR_TRUNCATED, num, wt, plan_lookup(w->stack[w->top].msg, num));
}

static int
plan_run(struct plan_walker *w)
{
    struct pb_field f;
    int rv;

    for (;;) {
        rv = pb_next(&w->stack[w->top].cur, &f);
        if (rv < 0)
            return plan_bad_field(w);
        if (rv == 0) {
            if (w->top == 0)
                return 0;
            plan_path_restore(w, w->stack[w->top].path_len, w->stack[w->top].path_trunc);
            w->top--;
            continue;
        }
        if ((rv = plan_field(w, &f)) < 0)
            return rv;
    }
}

static void
plan_walker_init(struct plan_walker *w, const struct plan_limits *limits, struct plan_facts *facts,
                 plan_visit_fn visit, void *arg)
{
    w->lim = limits;
    w->max_depth = PLAN_DEPTH_DEFAULT;
    if (limits != NULL && limits->max_depth != 0)
        w->max_depth = limits->max_depth < PLAN_DEPTH_MAX ? limits->max_depth : PLAN_DEPTH_MAX;
    /* all but err_path, which is written only with err */
    memset(facts, 0, offsetof(struct plan_facts, err_path));
    facts->err_path[0] = '\0';
    w->facts = facts;
    w->visit = visit;
    w->arg = arg;
    w->path[0] = '\0';
    w->path_len = 0;
    w->path_trunc = false;
    w->top = 0;
}

static int
plan_start(uint16_t root, const char *prefix, const uint8_t *msg, size_t len,
           const struct plan_limits *limits, struct plan_facts *facts, plan_visit_fn visit,
           void *arg)
{
    struct plan_walker w; /* ~60 KiB: the bounded stack, see plan.h */
    struct plan_facts dummy;

    if (facts == NULL)
        facts = &dummy;
    if (msg == NULL && len != 0)
        return SG_ERR_INTERNAL;
    plan_walker_init(&w, limits, facts, visit, arg);
    if (prefix != NULL)
        plan_path_put(&w, prefix, strlen(prefix));
    memset(&w.stack[0], 0, sizeof(w.stack[0]));
    pb_cur_init(&w.stack[0].cur, msg, len);
    w.stack[0].msg = root;
    return plan_run(&w);
}

int
plan_walk(enum sc_method_id method, const uint8_t *msg, size_t len,
          const struct plan_limits *limits, struct plan_facts *facts, plan_visit_fn visit,
          void *arg)
{
    if ((unsigned)method >= SC_M_COUNT)
        return SG_ERR_INTERNAL;
    return plan_start(plan_method_root[method], NULL, msg, len, limits, facts, visit, arg);
}

int
plan_walk_relation_or_command(enum plan_op op, const uint8_t *msg, size_t len,
                              const struct plan_limits *limits, struct plan_facts *facts,
                              plan_visit_fn visit, void *arg)
{
    if (op == PLAN_OP_RELATION)
        return plan_start(PLAN_SCHEMA_RELATION, "root", msg, len, limits, facts, visit, arg);
    if (op == PLAN_OP_COMMAND)
        return plan_start(PLAN_SCHEMA_COMMAND, "command", msg, len, limits, facts, visit, arg);
    return SG_ERR_INTERNAL;
}
