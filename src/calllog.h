/*
 * calllog.h: the two lines a call writes, built from plain records so the
 * formatting (and the plan digest) lives apart from the call's state.
 *
 * The access line: one per call, when its client stream closes
 * (call_fe_closed).  The record it is built from is also the natural input
 * of per-call metrics.  The audit line: one per policy decision
 * (docs/policy.md, "Audit log").
 */
#ifndef SPARKGATE_CALLLOG_H
#define SPARKGATE_CALLLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct policy_verdict;

/* What the access line says about one call.  Strings are borrowed. */
struct calllog_access {
    uint64_t conn;    /* client connection id, 0 once detached */
    const char *peer; /* "-" unknown */
    int32_t stream;
    const char *user;     /* principal, "-" unauthenticated */
    const char *profile;  /* "-" none */
    const char *auth;     /* how the caller authenticated, "none" */
    const char *token_id; /* "" none */
    const char *method;   /* "-" unknown */
    const char *backend;  /* "-" not routed */
    int status;           /* grpc-status sent to the client, -1 unknown */
    const char *reason;   /* sparkgate's reason when it produced the status, else NULL */
    uint64_t req_bytes, resp_bytes;
    double ms;
};

void calllog_access(const struct calllog_access *a);

/* What the audit line says about one decision.  Pointers are borrowed. */
struct calllog_audit {
    bool refused;
    const struct policy_verdict *v;
    const char *principal;
    const char *profile; /* NULL: none */
    const char *method;
    const uint8_t *session; /* untrusted; NULL: none */
    size_t session_len;
    const uint8_t *body; /* the request message digested, NULL: none */
    size_t body_len;
    uint64_t conn;
    int32_t stream;
};

/* Writes the audit line (at log level info only: the digest costs ~40 ms
 * for a 64 MiB plan, not for a line nobody logs). */
void calllog_audit(const struct calllog_audit *a);

/*
 * Copy of untrusted bytes safe inside a key=value log line: printable
 * ASCII with '"' turned into '\'' and blanks (unless |keep_spaces|) into
 * '?'; "-" for nothing.
 */
void calllog_safe(char *out, size_t size, const uint8_t *s, size_t len, bool keep_spaces);

/*
 * First 16 hex digits of SHA-256 over request message |body| without its
 * session_id (1) and user_context (2): the same plan from two users or two
 * sessions has the same digest.  "-" when it cannot be computed.
 */
void calllog_plan_digest(const uint8_t *body, size_t len, char hex[17]);

#endif
