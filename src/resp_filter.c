/*
 * resp_filter.c: the declared list of response filters and the Config
 * redaction, its one entry today.
 *
 * Config redaction: a Config response can carry configured secrets (the
 * backends' pre-shared tokens, the values of auth.redact_conf_keys), so its
 * messages are re-assembled and re-framed with those values hidden
 * (redact.c).  The request asks for an uncompressed response (call.c drops
 * grpc-accept-encoding) and a compressed one is refused, as is a response
 * that ends inside a message: the client never gets part of a message that
 * could not be read whole.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <event2/buffer.h>

#include "call_int.h"
#include "cfg.h"
#include "fe.h"
#include "grpc.h"
#include "log.h"
#include "redact.h"
#include "resp_filter.h"
#include "sc.h"
#include "sg_err.h"

/* ---- Config redaction ------------------------------------------------------- */

struct redact_st {
    struct grpc_deframer rdf; /* response messages, re-assembled */
    struct evbuffer *rmsg;
    uint8_t *cfg_prefix; /* the request's get_all prefix (copy) */
    size_t cfg_prefix_len;
};

static bool
redact_applies(const struct call *c)
{
    return c->m->id == SC_M_CONFIG;
}

static int
redact_start(struct call *c, void **st, struct call_verdict *v)
{
    struct redact_st *r = calloc(1, sizeof(*r));

    if (r == NULL || (r->rmsg = evbuffer_new()) == NULL) {
        free(r);
        return call_refuse(v, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
    }
    grpc_deframer_init(&r->rdf, c->cfg->limits.max_request_message_size);
    *st = r;
    return 0;
}

/* The first request message's get_all prefix: keys may come back without it. */
static int
redact_request(struct call *c, void *st, const uint8_t *body, size_t len, struct call_verdict *v)
{
    struct redact_st *r = st;
    const uint8_t *pfx;
    size_t plen;

    if (c->df.nmsgs != 1)
        return 0;
    if (redact_config_prefix(body, len, &pfx, &plen) == 1 && plen > 0) {
        if ((r->cfg_prefix = malloc(plen)) == NULL)
            return call_refuse(v, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
        memcpy(r->cfg_prefix, pfx, plen);
        r->cfg_prefix_len = plen;
    }
    return 0;
}

/* Collects Config response messages and queues each for the client with
 * every configured secret redacted. */
static int
redact_data(struct call *c, void *st, const uint8_t *data, size_t len, struct evbuffer *out_buf,
            struct call_verdict *v)
{
    struct redact_st *r = st;
    const struct cfg *cfg = c->cfg;
    struct redact_secret secrets[CFG_MAX_BACKENDS];
    struct redact_rules rules;
    enum grpc_df_event ev;
    const uint8_t *piece, *body;
    uint8_t *out = NULL, hdr[GRPC_HDR_LEN];
    size_t off = 0, plen, blen, outlen = 0, i, ns = 0;
    ssize_t rd;
    int n;

    while (off < len) {
        rd = grpc_deframer_feed(&r->rdf, data + off, len - off, &ev, &piece, &plen);
        if (rd < 0)
            return call_refuse(v, GRPC_INTERNAL,
                               "sparkgate: backend sent an invalid or "
                               "oversized Config response message");
        off += (size_t)rd;
        if (ev == GRPC_DF_NONE)
            continue;
        if (r->rdf.flags != 0)
            return call_refuse(v, GRPC_INTERNAL,
                               "sparkgate: backend compressed a Config "
                               "response, which sparkgate must read to "
                               "redact secrets");
        if (plen > 0 && evbuffer_add(r->rmsg, piece, plen) != 0)
            goto nomem;
        if (ev != GRPC_DF_END)
            continue;
        blen = evbuffer_get_length(r->rmsg);
        body = blen > 0 ? evbuffer_pullup(r->rmsg, -1) : (const uint8_t *)"";
        if (body == NULL)
            goto nomem;
        ns = 0;
        for (i = 0; i < cfg->nbackends; i++) {
            if (cfg->backends[i].preshared_token != NULL) {
                secrets[ns].p = (const uint8_t *)cfg->backends[i].preshared_token;
                secrets[ns++].len = cfg->backends[i].preshared_token_len;
            }
        }
        rules.keys = &cfg->redact_keys;
        rules.secrets = secrets;
        rules.nsecrets = ns;
        rules.prefix = r->cfg_prefix;
        rules.prefix_len = r->cfg_prefix_len;
        n = redact_config_response(body, blen, &rules, &out, &outlen);
        if (n == SG_ERR_NOMEM)
            goto nomem;
        if (n < 0)
            return call_refuse(v, GRPC_INTERNAL,
                               "sparkgate: backend sent a Config response "
                               "that is not valid protobuf");
        if (n > 0)
            log_info("conn=%" PRIu64 " stream=%d: redacted %d value(s) in a Config response "
                     "for %s",
                     c->fe != NULL ? fe_conn_id(c->fe) : 0, c->fe_sid, n,
                     c->authed ? c->id.principal : "-");
        grpc_frame_header(hdr, false, (uint32_t)(n > 0 ? outlen : blen));
        if (evbuffer_add(out_buf, hdr, sizeof(hdr)) != 0 ||
            (n > 0 ? evbuffer_add(out_buf, out, outlen) : evbuffer_add_buffer(out_buf, r->rmsg)) !=
                0) {
            free(out);
            goto nomem;
        }
        free(out);
        out = NULL;
        evbuffer_drain(r->rmsg, evbuffer_get_length(r->rmsg));
    }
    return 0;
nomem:
    return call_refuse(v, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
}

/* Never pass on part of a message that could not be read whole. */
static int
redact_end(struct call *c, void *st, struct call_verdict *v)
{
    struct redact_st *r = st;

    (void)c;
    if (!grpc_deframer_at_boundary(&r->rdf))
        return call_refuse(v, GRPC_INTERNAL,
                           "sparkgate: backend ended inside a Config response message");
    return 0;
}

static void
redact_free(void *st)
{
    struct redact_st *r = st;

    evbuffer_free(r->rmsg);
    free(r->cfg_prefix);
    free(r);
}

/* ---- the list ---------------------------------------------------------------- */

/* In the order a response passes through them. */
static const struct resp_filter resp_filters[] = {
    {"config-redaction", redact_applies, redact_start, redact_request, redact_data, redact_end,
     redact_free},
};

_Static_assert(sizeof(resp_filters) / sizeof(resp_filters[0]) <= RESP_FILTER_MAX,
               "RESP_FILTER_MAX too small");

int
resp_filter_start(struct call *c, struct call_verdict *v)
{
    struct resp_filter_set *s = &c->rf;
    const struct resp_filter *f;
    size_t i;

    for (i = 0; i < sizeof(resp_filters) / sizeof(resp_filters[0]); i++) {
        f = &resp_filters[i];
        if (!f->applies(c))
            continue;
        s->st[s->n] = NULL;
        if (f->start != NULL && f->start(c, &s->st[s->n], v) != 0)
            return CALL_REFUSE;
        s->f[s->n++] = f;
    }
    return 0;
}

int
resp_filter_request(struct call *c, const uint8_t *body, size_t len, struct call_verdict *v)
{
    struct resp_filter_set *s = &c->rf;
    size_t i;

    for (i = 0; i < s->n; i++) {
        if (s->f[i]->request != NULL && s->f[i]->request(c, s->st[i], body, len, v) != 0)
            return CALL_REFUSE;
    }
    return 0;
}

int
resp_filter_data(struct call *c, const uint8_t *data, size_t len, struct call_verdict *v)
{
    struct resp_filter_set *s = &c->rf;
    struct evbuffer *in = NULL, *out = NULL;
    int rv = 0;
    size_t i;

    /* each filter's output is the next one's input; the last one's is c->resp */
    for (i = 0; i < s->n && rv == 0; i++) {
        out = i + 1 == s->n ? c->resp : evbuffer_new();
        if (out == NULL) {
            rv = call_refuse(v, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
            break;
        }
        if (s->f[i]->data != NULL)
            rv = s->f[i]->data(c, s->st[i], data, len, out, v);
        else if (len > 0 && evbuffer_add(out, data, len) != 0)
            rv = call_refuse(v, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
        if (in != NULL)
            evbuffer_free(in);
        in = out != c->resp ? out : NULL;
        if (in != NULL) {
            len = evbuffer_get_length(in);
            data = len > 0 ? evbuffer_pullup(in, -1) : (const uint8_t *)"";
            if (data == NULL && rv == 0)
                rv = call_refuse(v, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
        }
    }
    if (in != NULL)
        evbuffer_free(in);
    return rv;
}

int
resp_filter_end(struct call *c, struct call_verdict *v)
{
    struct resp_filter_set *s = &c->rf;
    size_t i;

    for (i = 0; i < s->n; i++) {
        if (s->f[i]->end != NULL && s->f[i]->end(c, s->st[i], v) != 0)
            return CALL_REFUSE;
    }
    return 0;
}

void
resp_filter_free(struct call *c)
{
    struct resp_filter_set *s = &c->rf;
    size_t i;

    for (i = 0; i < s->n; i++) {
        if (s->f[i]->free != NULL && s->st[i] != NULL)
            s->f[i]->free(s->st[i]);
    }
    s->n = 0;
}
