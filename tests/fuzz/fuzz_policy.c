/*
 * Fuzz target: the plan policy (src/policy.c) and Config redaction
 * (src/redact.c) on one restrictive profile, as the proxy runs them.  The
 * first input byte picks the method (or, past the last method, the
 * redaction of a ConfigResponse); the rest is the message.  Invariants: a
 * verdict is allowed or a refusal with a known status, rule and a bounded
 * message; AddArtifacts streams keep their state across messages; the
 * redacted response is itself valid protobuf, and so is a ConfigRequest
 * with its connection-string credentials removed.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sg_err.h"
#include "grpc.h"
#include "pb.h"
#include "policy.h"
#include "redact.h"
#include "sc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct policy_profile prof;
static char g_allow[] = "spark.sql.*", g_deny[] = "spark.sql.catalog.*";
static char g_ext[] = "type.googleapis.com/delta.*", g_name[] = "fuzz";
static char g_pw[] = "*password*", g_tok[] = "spark.connect.authenticate.token";
static char *conf_allow[] = {g_allow};
static char *conf_deny[] = {g_deny};
static char *ext_allow[] = {g_ext};

static void
init_profile(void)
{
    static const char *const denied[] = {"map_partitions", "group_map", "write_operation"};
    int idx;

    if (prof.name != NULL)
        return;
    prof.name = g_name;
    prof.methods = (1u << SC_M_COUNT) - 1u;
    prof.cat_mode[0] = POLICY_DENY;
    for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
        idx = policy_kind_index(i < 2 ? 0 : 1, denied[i]);
        if (idx < 0)
            abort();
        prof.kind_denied[(unsigned)idx / 8u] |= (uint8_t)(1u << ((unsigned)idx % 8u));
    }
    prof.has_user_code = true;
    prof.langs = 1u << POLICY_LANG_PYTHON;
    prof.eval_types_set = true;
    prof.eval_types[0] = 100;
    prof.neval_types = 1;
    prof.has_sql = true;
    prof.sql_classes = 1u << 0 | 1u << 1;
    prof.has_conf = true;
    prof.conf_allow.v = conf_allow;
    prof.conf_allow.n = 1;
    prof.conf_deny.v = conf_deny;
    prof.conf_deny.n = 1;
    prof.has_artifacts = true;
    prof.art_kinds = 1u << POLICY_ART_PYFILES;
    for (int a = 0; a < POLICY_ART_COUNT; a++)
        prof.art_max[a] = 1000;
    prof.has_extensions = true;
    prof.extensions.v = ext_allow;
    prof.extensions.n = 1;
    prof.restricted = true;
}

static void
check_verdict(int rv, const struct policy_verdict *v)
{
    if (rv == POLICY_ALLOWED) {
        if (v->status != 0 || v->rule != NULL)
            abort();
        return;
    }
    if (rv != POLICY_REFUSED)
        abort();
    if (v->status != GRPC_PERMISSION_DENIED && v->status != GRPC_INVALID_ARGUMENT &&
        v->status != GRPC_RESOURCE_EXHAUSTED)
        abort();
    if (v->rule == NULL || memchr(v->msg, '\0', sizeof(v->msg)) == NULL ||
        strncmp(v->msg, "sparkgate: ", 11) != 0)
        abort();
    /* malformed input and names no server should see are never a permission question */
    if (strcmp(v->rule, "proto") == 0 && v->status != GRPC_INVALID_ARGUMENT)
        abort();
    if (strstr(v->msg, "artifact name") != NULL && strstr(v->msg, "does not allow") == NULL &&
        v->status != GRPC_INVALID_ARGUMENT)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct policy_limits lim;
    struct policy_verdict v;
    unsigned sel;
    int rv;

    if (size < 1)
        return 0;
    init_profile();
    policy_limits_default(&lim);
    lim.max_decompressed = 1u << 20; /* bombs are refused quickly */
    lim.max_ratio = 64;
    sel = data[0] % (SC_M_COUNT + 1);
    data++;
    size--;
    if (sel == SC_M_ADD_ARTIFACTS) {
        /* a stream: messages separated by 0xff 0xfe */
        struct policy_art_state st;
        const uint8_t *p = data, *end = data + size;

        memset(&st, 0, sizeof(st));
        while (p <= end) {
            const uint8_t *q = p;

            while (q + 1 < end && !(q[0] == 0xff && q[1] == 0xfe))
                q++;
            if (q + 1 >= end)
                q = end;
            rv = policy_check_artifacts(&prof, &st, p, (size_t)(q - p), &v);
            check_verdict(rv, &v);
            if (rv != POLICY_ALLOWED)
                break;
            p = q + 2;
        }
        return 0;
    }
    if (sel == SC_M_COUNT) {
        static char *keys[] = {g_pw, g_tok};
        struct policy_globs g = {keys, 2};
        struct redact_secret s = {(const uint8_t *)"psk", 3};
        struct redact_rules r = {&g, &s, 1, (const uint8_t *)"spark.", 6};
        uint8_t *out;
        size_t outlen;

        rv = redact_config_response(data, size, &r, &out, &outlen);
        if (rv > 0) {
            if (pb_validate(out, outlen) < 0)
                abort();
            free(out);
        } else if (rv != 0 && rv != SG_ERR_PROTO) {
            abort();
        }
        /* the same bytes as a ConfigRequest: a scrubbed request is valid, never
         * longer, and has nothing left to scrub */
        rv = redact_config_request(data, size, &out, &outlen);
        if (rv > 0) {
            uint8_t *again;
            size_t alen;

            if (pb_validate(out, outlen) < 0 || outlen > size ||
                redact_config_request(out, outlen, &again, &alen) != 0)
                abort();
            free(out);
        } else if (rv != 0 && rv != SG_ERR_PROTO) {
            abort();
        }
        return 0;
    }
    {
        const char *why;

        rv = sc_request_check((enum sc_method_id)sel, data, size, &why);
        if (rv != 0 && (rv != SG_ERR_PROTO || why == NULL))
            abort();
    }
    rv = policy_check_request(&prof, (enum sc_method_id)sel, data, size, &lim, &v);
    check_verdict(rv, &v);
    rv = policy_check_request(NULL, (enum sc_method_id)sel, data, size, &lim, &v);
    check_verdict(rv, &v);
    return 0;
}
