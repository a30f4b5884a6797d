/*
 * req_stage.c: the request stages, in one declared list (req_stages[]).
 * Each decides from the call's request and returns a verdict; none sends
 * anything (call.c answers).  Deciders are called here, the pure ones
 * (auth, policy, sc, redact, route) as one-line calls.
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/buffer.h>
#include <openssl/ssl.h>

#include "auth_jwks.h"
#include "calllog.h"
#include "cfg.h"
#include "fe.h"
#include "h2io.h"
#include "log.h"
#include "redact.h"
#include "req_stage.h"
#include "route.h"
#include "sc.h"
#include "sg_err.h"
#include "util.h"

/* The request message the message stages work on. */
struct req_msg {
    const uint8_t *body; /* c->msg, contiguous; gone once identity is bound */
    size_t len;
    const uint8_t *sid; /* session_id inside body, NULL: none */
    size_t sidlen;
};

enum req_at {
    REQ_AT_HEADERS, /* once, when the request headers are complete */
    REQ_AT_MESSAGE, /* for each complete request message */
};

struct req_stage {
    const char *name;
    enum req_at at;
    enum call_outcome (*run)(struct call *c, struct req_msg *rm, struct call_verdict *v);
};

enum call_outcome
call_refuse(struct call_verdict *v, int status, const char *fmt, ...)
{
    va_list ap;

    v->outcome = CALL_REFUSE;
    v->status = status;
    v->http = NULL;
    va_start(ap, fmt);
    vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
    va_end(ap);
    return CALL_REFUSE;
}

static enum call_outcome
http_refuse(struct call_verdict *v, const char *http, const char *text)
{
    v->outcome = CALL_HTTP;
    v->http = http;
    v->http_text = text;
    return CALL_HTTP;
}

/* One audit line per decision, when audit_log is on. */
static void
audit(struct call *c, const struct policy_verdict *pv, bool refused, const struct req_msg *rm)
{
    struct calllog_audit a;

    if (!c->cfg->audit_log)
        return;
    a.refused = refused;
    a.v = pv;
    a.principal = c->id.principal;
    a.profile = c->prof != NULL ? c->prof->name : NULL;
    a.method = c->m->name;
    a.session = rm != NULL ? rm->sid : NULL;
    a.session_len = rm != NULL ? rm->sidlen : 0;
    a.body = rm != NULL ? rm->body : NULL;
    a.body_len = rm != NULL ? rm->len : 0;
    a.conn = c->fe != NULL ? fe_conn_id(c->fe) : 0;
    a.stream = c->fe_sid;
    calllog_audit(&a);
}

/* ---- at the headers ------------------------------------------------------------ */

/* A gRPC request sparkgate serves: headers within limits, POST, gRPC, a known method. */
static enum call_outcome
stage_validate(struct call *c, struct req_msg *rm, struct call_verdict *v)
{
    char safe[CALL_PATH_MAX];

    (void)rm;
    if (c->hdr_overflow)
        return call_refuse(v, GRPC_RESOURCE_EXHAUSTED,
                           "sparkgate: request headers exceed limits.max_header_count (%u) or "
                           "limits.max_header_list_size (%u bytes)",
                           c->cfg->limits.max_header_count, c->cfg->limits.max_header_list_size);
    if (!c->has_method || !c->method_post)
        return http_refuse(v, "405", "only gRPC (POST) requests are served here");
    /* gRPC PROTOCOL-HTTP2: a server SHOULD answer 415 to other content types */
    if (!c->ct_grpc)
        return http_refuse(v, "415", "content-type must be application/grpc, once");
    /* judged once and forwarded: a second copy could be what the backend reads */
    if (c->repeated != NULL)
        return call_refuse(v, GRPC_INVALID_ARGUMENT,
                           "sparkgate: request header %s repeated: send it once", c->repeated);
    if (c->m == NULL) {
        util_printable(safe, sizeof(safe), c->path, strlen(c->path), "");
        return call_refuse(v, GRPC_UNIMPLEMENTED, "sparkgate: unknown method %s", safe);
    }
    return CALL_GO_ON;
}

/*
 * From the headers alone, before any body byte is read or a backend is
 * chosen (auth.c).  A token signed by a key the JWKS does not have yet,
 * with a fetch under way, waits for the fetch to end (CALL_WAIT) unless
 * the wait is over (c->wait_final); the stream's window stays at
 * limits.unauthenticated_stream_window_size until the caller is known.
 */
static enum call_outcome
stage_authenticate(struct call *c, struct req_msg *rm, struct call_verdict *v)
{
    struct auth_verdict av;
    struct auth_peer peer, *pp = NULL;
    SSL *ssl = c->fe != NULL ? fe_ssl(c->fe) : NULL;

    (void)rm;
    if (ssl != NULL) {
        peer.cert = SSL_get0_peer_certificate(ssl);
        peer.verify_result = SSL_get_verify_result(ssl);
        pp = &peer;
    }
    /* no worker (unit tests): no token cache */
    auth_check(c->cfg, c->w != NULL ? c->w->auth_cache : NULL, &auth_jwks_key_ops, &c->cred, pp,
               time(NULL), !c->wait_final, &av);
    if (av.outcome == AUTH_RETRY)
        return v->outcome = CALL_WAIT;
    /* forgotten as soon as it is judged */
    auth_cred_clear(&c->cred);
    c->id = av.id;
    if (av.rule != NULL && c->cfg->audit_log)
        log_info("audit decision=deny principal=%s auth=%s rule=%s[%zu]", av.id.principal,
                 auth_via_name(av.id.via), av.rule, av.rule_index);
    if (av.outcome != AUTH_OK)
        return call_refuse(v, call_refusal_status(av.err), "%s", av.msg);
    call_authenticated(c);
    return CALL_GO_ON;
}

/*
 * Right after authentication: the response filters that apply, the
 * caller's profile, and whether it may call this method at all (refused
 * before a body byte is read).  Anonymous callers too, under
 * auth.default_profile.
 */
static enum call_outcome
stage_admit(struct call *c, struct req_msg *rm, struct call_verdict *v)
{
    struct policy_verdict pv;

    (void)rm;
    if (resp_filter_start(c, v) != 0)
        return CALL_REFUSE;
    if (c->cfg->nprofiles == 0)
        return CALL_GO_ON;
    c->prof = cfg_profile(c->cfg, c->id.profile);
    /* anonymous without auth.default_profile (cfg_auth.c warned) */
    if (c->prof == NULL && c->id.profile[0] == '\0')
        return call_refuse(v, GRPC_PERMISSION_DENIED,
                           "sparkgate: anonymous callers have no profile (auth.default_profile)");
    /* auth hands out configured names only (cfg_policy.c checks): be safe anyway */
    if (c->prof == NULL)
        return call_refuse(v, GRPC_PERMISSION_DENIED, "sparkgate: profile \"%s\" is not defined",
                           c->id.profile);
    if (policy_check_method(c->prof, c->m->id, &pv) == POLICY_REFUSED) {
        audit(c, &pv, true, NULL);
        return call_refuse(v, pv.status, "%s", pv.msg);
    }
    return CALL_GO_ON;
}

/* ---- at each message ------------------------------------------------------------ */

/* What Spark would refuse is refused here, before it is routed, logged or judged. */
static enum call_outcome
stage_message(struct call *c, struct req_msg *rm, struct call_verdict *v)
{
    const char *why;

    /* never judge one message and pass the next (docs/security.md) */
    if (c->df.nmsgs > 1 && c->m->kind != SC_CLIENT_STREAMING)
        return call_refuse(v, GRPC_INVALID_ARGUMENT,
                           "sparkgate: %s takes exactly one request message, got more", c->m->name);
    /* an empty message is valid protobuf; pullup of nothing is NULL */
    rm->len = evbuffer_get_length(c->msg);
    rm->body = rm->len > 0 ? evbuffer_pullup(c->msg, -1) : (const uint8_t *)"";
    if (rm->body == NULL)
        return call_refuse(v, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
    /* the message never quotes the value (a session_id can be anything, of any size) */
    if (sc_request_check(c->m->id, rm->body, rm->len, &why) != 0)
        return call_refuse(v, GRPC_INVALID_ARGUMENT, "sparkgate: %s request message %s", c->m->name,
                           why);
    return CALL_GO_ON;
}

/*
 * A client's credentials never reach a backend inside a Config value
 * either: PySpark sends its whole connection string, token included, as
 * spark.remote when a session starts (redact_config_request).  Replaces
 * the message in c->msg.
 */
static enum call_outcome
stage_scrub(struct call *c, struct req_msg *rm, struct call_verdict *v)
{
    uint8_t *out = NULL;
    size_t outlen = 0;
    int n;

    if (c->m->id != SC_M_CONFIG)
        return CALL_GO_ON;
    n = redact_config_request(rm->body, rm->len, &out, &outlen);
    if (n == 0)
        return CALL_GO_ON;
    if (n == SG_ERR_NOMEM)
        goto nomem;
    if (n < 0)
        return call_refuse(v, GRPC_INVALID_ARGUMENT,
                           "sparkgate: %s request message is not valid protobuf", c->m->name);
    evbuffer_drain(c->msg, rm->len);
    if (evbuffer_add(c->msg, out, outlen) != 0) {
        free(out);
        goto nomem;
    }
    free(out);
    rm->len = outlen;
    rm->body = outlen > 0 ? evbuffer_pullup(c->msg, -1) : (const uint8_t *)"";
    if (rm->body == NULL)
        goto nomem;
    log_info("conn=%" PRIu64 " stream=%d: removed %d credential(s) from a connection string "
             "in a Config request of %s",
             c->fe != NULL ? fe_conn_id(c->fe) : 0, c->fe_sid, n,
             c->authed ? c->id.principal : "-");
    return CALL_GO_ON;
nomem:
    return call_refuse(v, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
}

/* The session_id; the first message's, with the principal, is the routing key:
 * Spark keys sessions by (user_id, session_id), and so does routing. */
static enum call_outcome
stage_session(struct call *c, struct req_msg *rm, struct call_verdict *v)
{
    if (sc_request_session_id(rm->body, rm->len, &rm->sid, &rm->sidlen) < 0)
        return call_refuse(v, GRPC_INVALID_ARGUMENT,
                           "sparkgate: %s request message is not valid protobuf", c->m->name);
    if (c->df.nmsgs == 1)
        c->route_key_len = route_key(c->route_key, sizeof(c->route_key),
                                     c->cfg->auth.anonymous ? "" : c->id.principal, rm->sid,
                                     rm->sidlen);
    return CALL_GO_ON;
}

/* The plan is judged (policy.c) before anything is queued or a backend chosen. */
static enum call_outcome
stage_judge(struct call *c, struct req_msg *rm, struct call_verdict *v)
{
    const struct cfg_limits *cl = &c->cfg->limits;
    struct policy_limits lim;
    struct policy_verdict pv;
    int rv;

    if (c->prof == NULL)
        return CALL_GO_ON;
    lim.max_depth = cl->max_plan_depth;
    lim.max_nodes = cl->max_plan_nodes;
    lim.max_decompressed = cl->max_decompressed_plan_size;
    lim.max_ratio = cl->max_decompression_ratio;
    if (c->m->id == SC_M_ADD_ARTIFACTS)
        rv = policy_check_artifacts(c->prof, &c->art, rm->body, rm->len, &pv);
    else
        rv = policy_check_request(c->prof, c->m->id, rm->body, rm->len, &lim, &pv);
    if (rv < 0)
        return call_refuse(v, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
    /* AddArtifacts: one line per named artifact, not per chunk */
    if (rv == POLICY_REFUSED || c->m->id != SC_M_ADD_ARTIFACTS || pv.nodes > 0)
        audit(c, &pv, rv == POLICY_REFUSED, rm);
    if (rv == POLICY_REFUSED)
        return call_refuse(v, pv.status, "%s", pv.msg);
    return CALL_GO_ON;
}

/* The response filters see the judged request (e.g. Config's get_all prefix). */
static enum call_outcome
stage_filters(struct call *c, struct req_msg *rm, struct call_verdict *v)
{
    return resp_filter_request(c, rm->body, rm->len, v) != 0 ? CALL_REFUSE : CALL_GO_ON;
}

/* The backend sees the authenticated principal and nothing else. */
static enum call_outcome
stage_bind_identity(struct call *c, struct req_msg *rm, struct call_verdict *v)
{
    if (c->cfg->auth.anonymous)
        return CALL_GO_ON;
    if (bind_identity(c, rm->body, rm->len) != 0)
        return v->outcome = CALL_ANSWERED;
    rm->body = NULL; /* gone with the old message bytes */
    rm->len = 0;
    return CALL_GO_ON;
}

static const char *
backend_name(const void *set, size_t i)
{
    return ((const struct cfg_backend *)set)[i].name;
}

void
req_stage_route(struct call *c)
{
    c->backend_idx = route_pick(backend_name, c->cfg->backends, c->cfg->nbackends,
                                (const uint8_t *)c->route_key, c->route_key_len);
    c->routed = true;
}

/* The first message picks the backend (route.c); the glue attaches to it. */
static enum call_outcome
stage_route(struct call *c, struct req_msg *rm, struct call_verdict *v)
{
    (void)rm;
    (void)v;
    if (c->df.nmsgs == 1)
        req_stage_route(c);
    return CALL_GO_ON;
}

/* ---- the list ------------------------------------------------------------------- */

static const struct req_stage req_stages[] = {
    {"validate", REQ_AT_HEADERS, stage_validate},
    {"authenticate", REQ_AT_HEADERS, stage_authenticate},
    {"admit", REQ_AT_HEADERS, stage_admit},
    {"message", REQ_AT_MESSAGE, stage_message},
    {"scrub", REQ_AT_MESSAGE, stage_scrub},
    {"session", REQ_AT_MESSAGE, stage_session},
    {"judge", REQ_AT_MESSAGE, stage_judge},
    {"response filters", REQ_AT_MESSAGE, stage_filters},
    {"bind identity", REQ_AT_MESSAGE, stage_bind_identity},
    {"route", REQ_AT_MESSAGE, stage_route},
};

enum call_outcome
req_stage_headers(struct call *c, struct call_verdict *v)
{
    enum call_outcome o;

    for (; c->stage_next < sizeof(req_stages) / sizeof(req_stages[0]); c->stage_next++) {
        if (req_stages[c->stage_next].at != REQ_AT_HEADERS)
            continue;
        if ((o = req_stages[c->stage_next].run(c, NULL, v)) != CALL_GO_ON)
            return o;
    }
    return CALL_GO_ON;
}

enum call_outcome
req_stage_message(struct call *c, struct call_verdict *v)
{
    struct req_msg rm = {NULL, 0, NULL, 0};
    enum call_outcome o;
    size_t i;

    for (i = 0; i < sizeof(req_stages) / sizeof(req_stages[0]); i++) {
        if (req_stages[i].at != REQ_AT_MESSAGE)
            continue;
        if ((o = req_stages[i].run(c, &rm, v)) != CALL_GO_ON)
            return o;
    }
    return CALL_GO_ON;
}
