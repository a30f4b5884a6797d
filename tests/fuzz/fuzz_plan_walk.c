/*
 * Fuzz target: the plan walker (src/plan.c).  The first input byte picks
 * the entry point (a SparkConnectService method, or a bare Relation/Command
 * as after decompression); the rest is the message.  Every reported slice
 * must lie inside the input and every path must be a bounded C string; a
 * refusal as malformed names the field and the path, an acceptance never.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sg_err.h"
#include "plan.h"
#include "sc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct range {
    const uint8_t *lo;
    const uint8_t *hi;
};

static void
check_slice(const struct range *r, const uint8_t *p, size_t n)
{
    if (p == NULL)
        return;
    if (p < r->lo || p > r->hi || n > (size_t)(r->hi - p))
        abort();
}

static int
visit(const struct plan_node *n, void *arg)
{
    const struct range *r = arg;

    if (n->kind == NULL || n->path == NULL || n->path_len >= PLAN_PATH_MAX ||
        strlen(n->path) != n->path_len || (unsigned)n->cat >= PLAN_CAT_COUNT ||
        n->depth > PLAN_DEPTH_MAX + 1)
        abort();
    check_slice(r, n->msg, n->msg_len);
    check_slice(r, n->text, n->text_len);
    check_slice(r, n->text2, n->text2_len);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct plan_limits lim = {0, 0};
    struct plan_facts facts;
    struct range r;
    unsigned sel;
    int rv;

    if (size < 1)
        return 0;
    sel = data[0] % (SC_M_COUNT + 2);
    r.lo = data + 1;
    r.hi = data + size;
    if (data[0] & 0x80)
        lim.max_depth = 16; /* exercise the limit path with small inputs too */
    if (sel < SC_M_COUNT)
        rv = plan_walk((enum sc_method_id)sel, data + 1, size - 1, &lim, &facts, visit, &r);
    else
        rv = plan_walk_relation_or_command(sel == SC_M_COUNT ? PLAN_OP_RELATION : PLAN_OP_COMMAND,
                                           data + 1, size - 1, &lim, &facts, visit, &r);
    if (rv != 0 && rv != SG_ERR_PROTO && rv != SG_ERR_LIMIT)
        abort();
    if (rv == 0 && facts.max_depth > (lim.max_depth ? lim.max_depth : PLAN_DEPTH_DEFAULT))
        abort();
    /* a malformed message always says what and where; an accepted one never */
    if (rv == SG_ERR_PROTO &&
        (facts.err == PLAN_ERR_NONE || facts.err_msg_type == NULL ||
         memchr(facts.err_path, '\0', sizeof(facts.err_path)) == NULL ||
         (facts.err != PLAN_ERR_TAG && facts.err_field == 0) || facts.err_wt > 7))
        abort();
    if (rv == 0 && facts.err != PLAN_ERR_NONE)
        abort();
    return 0;
}
