/*
 * redact.c: hides configured secrets in Config responses (see redact.h).
 *
 * The response is rebuilt field by field: a KeyValue (pairs = 2) whose key
 * matches a redact glob, or any of whose values contains a secret, becomes
 * KeyValue{key, value = REDACT_VALUE}; a warning (3) containing a secret is
 * replaced; every other field is copied byte for byte.  Every occurrence
 * is examined, because protobuf-java keeps the last key and value of a
 * duplicated field and we do not want to guess which one a client shows.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sg_err.h"
#include "pb.h"
#include "redact.h"

#define F_PAIRS 2
#define F_WARNINGS 3

struct obuf {
    uint8_t *p;
    size_t len, cap;
};

static int
ob_put(struct obuf *b, const void *p, size_t n)
{
    if (n > b->cap - b->len) {
        size_t cap = b->cap * 2 + n + 64;
        uint8_t *np = realloc(b->p, cap);

        if (np == NULL)
            return SG_ERR_NOMEM;
        b->p = np;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

static int
ob_put_len_field(struct obuf *b, uint32_t num, const void *p, size_t n)
{
    uint8_t hdr[20];
    size_t h = pb_put_varint(hdr, (uint64_t)num << 3 | PB_WT_LEN);

    h += pb_put_varint(hdr + h, n);
    if (ob_put(b, hdr, h) < 0)
        return SG_ERR_NOMEM;
    return ob_put(b, p, n);
}

static bool
has_secret(const struct redact_rules *r, const uint8_t *v, size_t len)
{
    for (size_t i = 0; i < r->nsecrets; i++) {
        const struct redact_secret *s = &r->secrets[i];

        if (s->len > 0 && s->len <= len && memmem(v, len, s->p, s->len) != NULL)
            return true;
    }
    return false;
}

static bool
key_matches(const struct redact_rules *r, const uint8_t *k, size_t len, int *err)
{
    uint8_t *full;
    bool hit;

    if (r->keys == NULL)
        return false;
    for (size_t i = 0; i < r->keys->n; i++)
        if (policy_glob_match(r->keys->v[i], k, len))
            return true;
    if (r->prefix_len == 0)
        return false;
    /* get_all answers with keys relative to the prefix: judge the full name too */
    full = malloc(r->prefix_len + len + 1);
    if (full == NULL) {
        *err = SG_ERR_NOMEM;
        return false;
    }
    memcpy(full, r->prefix, r->prefix_len);
    if (len > 0)
        memcpy(full + r->prefix_len, k, len);
    hit = false;
    for (size_t i = 0; i < r->keys->n && !hit; i++)
        hit = policy_glob_match(r->keys->v[i], full, r->prefix_len + len);
    free(full);
    return hit;
}

/* KeyValue {key = 1, value = 2}: hide it?  Sets *key to the last key. */
static int
judge_pair(const struct redact_rules *r, const struct pb_field *pf, const uint8_t **key,
           size_t *klen, bool *hide)
{
    struct pb_cur c;
    struct pb_field f;
    bool has_value = false;
    int rv, err = 0;

    *hide = false;
    *key = (const uint8_t *)"";
    *klen = 0;
    pb_sub(pf, &c);
    while ((rv = pb_next(&c, &f)) == 1) {
        if (f.num == 1 && f.wt == PB_WT_LEN) {
            *key = f.data;
            *klen = f.len;
            if (key_matches(r, f.data, f.len, &err))
                *hide = true;
            if (err != 0)
                return err;
        } else if (f.num == 2 && f.wt == PB_WT_LEN) {
            has_value = true;
            if (has_secret(r, f.data, f.len))
                *hide = true;
        }
    }
    if (rv < 0)
        return rv;
    if (!has_value)
        *hide = false; /* nothing to hide: an unset optional value */
    return 0;
}

int
redact_config_response(const uint8_t *msg, size_t len, const struct redact_rules *r,
                       uint8_t **out, size_t *outlen)
{
    struct obuf b = {NULL, 0, 0};
    struct pb_cur c;
    struct pb_field f;
    int rv, n = 0;

    *out = NULL;
    *outlen = 0;
    pb_cur_init(&c, msg, len);
    while ((rv = pb_next(&c, &f)) == 1) {
        if (f.num == F_PAIRS && f.wt == PB_WT_LEN) {
            const uint8_t *key;
            size_t klen;
            bool hide;
            struct obuf kv = {NULL, 0, 0};

            if ((rv = judge_pair(r, &f, &key, &klen, &hide)) < 0)
                goto out;
            if (hide) {
                n++;
                if (ob_put_len_field(&kv, 1, key, klen) < 0 ||
                    ob_put_len_field(&kv, 2, REDACT_VALUE, strlen(REDACT_VALUE)) < 0 ||
                    ob_put_len_field(&b, F_PAIRS, kv.p, kv.len) < 0) {
                    free(kv.p);
                    rv = SG_ERR_NOMEM;
                    goto out;
                }
                free(kv.p);
                continue;
            }
        } else if (f.num == F_WARNINGS && f.wt == PB_WT_LEN && has_secret(r, f.data, f.len)) {
            n++;
            if ((rv = ob_put_len_field(&b, F_WARNINGS, REDACT_WARNING,
                                       strlen(REDACT_WARNING))) < 0)
                goto out;
            continue;
        }
        if ((rv = ob_put(&b, f.start, (size_t)(f.end - f.start))) < 0)
            goto out;
    }
    if (rv < 0)
        goto out;
    if (n == 0) {
        free(b.p);
        return 0;
    }
    *out = b.p != NULL ? b.p : malloc(1);
    if (*out == NULL)
        return SG_ERR_NOMEM;
    *outlen = b.len;
    return n;
out:
    free(b.p);
    return rv;
}

int
redact_config_prefix(const uint8_t *req, size_t len, const uint8_t **prefix, size_t *plen)
{
    struct pb_cur c, op, ga;
    struct pb_field f, g, h;
    int found = 0;

    *prefix = NULL;
    *plen = 0;
    pb_cur_init(&c, req, len);
    while (pb_next(&c, &f) == 1) {
        if (f.num != 3 || f.wt != PB_WT_LEN)
            continue;
        pb_sub(&f, &op);
        while (pb_next(&op, &g) == 1) {
            if (g.num != 5 || g.wt != PB_WT_LEN)
                continue;
            pb_sub(&g, &ga);
            while (pb_next(&ga, &h) == 1) {
                if (h.num == 1 && h.wt == PB_WT_LEN) {
                    *prefix = h.data;
                    *plen = h.len;
                    found = 1;
                }
            }
        }
    }
    return found;
}
