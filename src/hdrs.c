/*
 * hdrs.c: header lists (one arena per list) and the crossing rules: which
 * fields are hop-by-hop, which carry a credential, which are stripped.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "cfg.h"
#include "hdrs.h"
#include "sg_err.h"

int
hdrs_add(struct hdrs *h, const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen)
{
    size_t need = nlen + vlen + 2, i;
    uint8_t *p;

    if (h->n == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 16;
        h2_nv *nv = realloc(h->nv, ncap * sizeof(*nv));

        if (nv == NULL)
            return SG_ERR_NOMEM;
        h->nv = nv;
        h->cap = ncap;
    }
    if (h->blen + need > h->bcap) {
        size_t ncap = h->bcap ? h->bcap * 2 : 1024;
        uint8_t *nb;

        while (ncap < h->blen + need)
            ncap *= 2;
        nb = malloc(ncap);
        if (nb == NULL)
            return SG_ERR_NOMEM;
        if (h->blen > 0)
            memcpy(nb, h->buf, h->blen);
        for (i = 0; i < h->n; i++) {
            h->nv[i].name = nb + (h->nv[i].name - h->buf);
            h->nv[i].value = nb + (h->nv[i].value - h->buf);
        }
        free(h->buf);
        h->buf = nb;
        h->bcap = ncap;
    }
    p = h->buf + h->blen;
    memcpy(p, name, nlen);
    p[nlen] = '\0';
    memcpy(p + nlen + 1, value, vlen);
    p[nlen + 1 + vlen] = '\0';
    h->blen += need;
    h->nv[h->n].name = p;
    h->nv[h->n].namelen = nlen;
    h->nv[h->n].value = p + nlen + 1;
    h->nv[h->n].valuelen = vlen;
    h->nv[h->n].flags = H2_NV_NONE;
    h->n++;
    h->bytes += nlen + vlen + 32;
    return 0;
}

int
hdrs_add_str(struct hdrs *h, const char *name, const char *value)
{
    return hdrs_add(h, (const uint8_t *)name, strlen(name), (const uint8_t *)value, strlen(value));
}

void
hdrs_clear(struct hdrs *h)
{
    free(h->buf);
    free(h->nv);
    memset(h, 0, sizeof(*h));
}

bool
hdrs_hop_by_hop(const uint8_t *name, size_t len)
{
    return hdrs_name_is(name, len, "connection") || hdrs_name_is(name, len, "keep-alive") ||
           hdrs_name_is(name, len, "proxy-connection") ||
           hdrs_name_is(name, len, "transfer-encoding") || hdrs_name_is(name, len, "upgrade") ||
           hdrs_name_is(name, len, "te") || hdrs_name_is(name, len, "host") ||
           hdrs_name_is(name, len, "http2-settings");
}

enum hdrs_class
hdrs_classify(const struct cfg_auth *a, const uint8_t *name, size_t len)
{
    size_t i, pl;

    if (auth_cred_header(a, name, len))
        return HDRS_CREDENTIAL;
    /* never forwarded, whatever auth.header_names says: the backend's own check
     * (Spark 4 pre-shared key) reads authorization */
    if (hdrs_name_is(name, len, "authorization") || hdrs_name_is(name, len, "authentication"))
        return HDRS_STRIP;
    /* sparkgate's own identity headers: whatever strip_header_prefixes says */
    if (len >= 12 && memcmp(name, "x-sparkgate-", 12) == 0)
        return HDRS_STRIP;
    for (i = 0; i < a->nstrip_headers; i++) {
        if (hdrs_name_is(name, len, a->strip_headers[i]))
            return HDRS_STRIP;
    }
    for (i = 0; i < a->nstrip_prefixes; i++) {
        pl = strlen(a->strip_prefixes[i]);
        if (len >= pl && memcmp(name, a->strip_prefixes[i], pl) == 0)
            return HDRS_STRIP;
    }
    return HDRS_FORWARD;
}
