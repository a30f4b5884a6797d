/*
 * calllog.c: access and audit line formatting.  Nothing here knows a call:
 * call.c and req_stage.c fill the records.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>

#include "calllog.h"
#include "grpc.h"
#include "log.h"
#include "pb.h"
#include "policy.h"
#include "sc.h"
#include "util.h"

void
calllog_access(const struct calllog_access *a)
{
    bool local = a->reason != NULL;

    log_info("access conn=%" PRIu64 " peer=%s stream=%d user=%s profile=%s auth=%s%s%s "
             "method=%s backend=%s status=%d(%s)%s%s%s "
             "req_bytes=%" PRIu64 " resp_bytes=%" PRIu64 " ms=%.1f",
             a->conn, a->peer, a->stream, a->user, a->profile, a->auth,
             a->token_id[0] != '\0' ? " token=" : "", a->token_id, a->method, a->backend, a->status,
             a->status >= 0 ? grpc_status_name(a->status) : "none",
             local ? " by=sparkgate reason=\"" : "", local ? a->reason : "", local ? "\"" : "",
             a->req_bytes, a->resp_bytes, a->ms);
}

void
calllog_safe(char *out, size_t size, const uint8_t *s, size_t len, bool keep_spaces)
{
    size_t i, n;

    if (s == NULL || len == 0) {
        snprintf(out, size, "-");
        return;
    }
    n = util_printable(out, size, s, len, keep_spaces ? "" : " ");
    for (i = 0; i < n; i++) {
        if (out[i] == '"')
            out[i] = '\'';
    }
}

void
calllog_plan_digest(const uint8_t *body, size_t len, char hex[17])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    struct pb_cur cur;
    struct pb_field f;

    snprintf(hex, 17, "-");
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        goto out;
    pb_cur_init(&cur, body, len);
    while (pb_next(&cur, &f) == 1) {
        if (f.num == SC_FIELD_SESSION_ID || f.num == SC_FIELD_USER_CONTEXT)
            continue;
        if (EVP_DigestUpdate(md, f.start, (size_t)(f.end - f.start)) != 1)
            goto out;
    }
    if (EVP_DigestFinal_ex(md, d, &dl) != 1 || dl < 8)
        goto out;
    util_hex(d, 8, hex);
out:
    EVP_MD_CTX_free(md);
}

void
calllog_audit(const struct calllog_audit *a)
{
    const struct policy_verdict *v = a->v;
    char session[72], op[72], reason[POLICY_MSG_MAX], digest[17];

    if (log_get_level() < LOG_LVL_INFO)
        return;
    calllog_safe(session, sizeof(session), a->session, a->session_len, false);
    calllog_safe(op, sizeof(op), v->operation_id, v->operation_id_len, false);
    if (a->body != NULL)
        calllog_plan_digest(a->body, a->body_len, digest);
    else
        snprintf(digest, sizeof(digest), "-");
    calllog_safe(reason, sizeof(reason), (const uint8_t *)v->msg, strlen(v->msg), true);
    log_info("audit decision=%s principal=%s profile=%s session=%s operation=%s method=%s "
             "plan_sha256=%s nodes=%zu depth=%u kinds=%s rule=%s conn=%" PRIu64 " stream=%d%s%s%s",
             a->refused ? "deny" : "allow", a->principal, a->profile != NULL ? a->profile : "-",
             session, op, a->method, digest, v->nodes, v->depth,
             v->kinds[0] != '\0' ? v->kinds : "-", v->rule != NULL ? v->rule : "-", a->conn,
             a->stream, a->refused ? " reason=\"" : "", a->refused ? reason : "",
             a->refused ? "\"" : "");
}
