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
    uint8_t hdr[PB_LEN_HDR_MAX];
    size_t h = pb_put_len_hdr(hdr, num, n);

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

static uint8_t
lower(uint8_t ch)
{
    return ch >= 'A' && ch <= 'Z' ? (uint8_t)(ch - 'A' + 'a') : ch;
}

bool
redact_key_match(const char *pat, const uint8_t *s, size_t len)
{
    return policy_glob_match_case(pat, s, len, true);
}

static bool
has_literal(const uint8_t *h, size_t hl, const char *lit, size_t ll)
{
    const uint8_t *p = h, *last;

    if (ll == 0)
        return true;
    if (ll > hl)
        return false;
    /* keys are short: memchr for the first byte beats memmem's set-up */
    last = h + (hl - ll);
    while (p <= last && (p = memchr(p, (uint8_t)lit[0], (size_t)(last - p) + 1)) != NULL) {
        if (memcmp(p, lit, ll) == 0)
            return true;
        p++;
    }
    return false;
}

/*
 * One pattern against key |s| (|low|: the same key ASCII-lowered, or NULL
 * when it was too long to copy).  Most patterns are "*word*": with the key
 * lowered once per key and the patterns lowered at load (cfg_policy.c),
 * those are one substring search instead of a backtracking match per
 * pattern, which had made redaction the largest cost of a Config call.
 */
static bool
pattern_matches(const char *pat, const uint8_t *s, const uint8_t *low, size_t len)
{
    if (low != NULL && pat[0] == '*') {
        const char *lit = pat + 1;
        size_t ll = strcspn(lit, "*?");

        if (lit[ll] == '*' && lit[ll + 1] == '\0')
            return has_literal(low, len, lit, ll);
    }
    return redact_key_match(pat, s, len);
}

static bool
patterns_match(const struct policy_globs *g, const uint8_t *s, uint8_t *low, size_t len)
{
    for (size_t i = 0; i < len && low != NULL; i++)
        low[i] = lower(s[i]);
    for (size_t i = 0; i < g->n; i++)
        if (pattern_matches(g->v[i], s, low, len))
            return true;
    return false;
}

static bool
key_matches(const struct redact_rules *r, const uint8_t *k, size_t len, int *err)
{
    uint8_t low[256];
    uint8_t *full;
    bool hit;

    if (r->keys == NULL)
        return false;
    if (patterns_match(r->keys, k, len <= sizeof(low) ? low : NULL, len))
        return true;
    if (r->prefix_len == 0)
        return false;
    /* get_all answers with keys relative to the prefix: judge the full name too */
    full = malloc(2 * (r->prefix_len + len) + 1);
    if (full == NULL) {
        *err = SG_ERR_NOMEM;
        return false;
    }
    memcpy(full, r->prefix, r->prefix_len);
    if (len > 0)
        memcpy(full + r->prefix_len, k, len);
    hit = patterns_match(r->keys, full, full + r->prefix_len + len, r->prefix_len + len);
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
redact_config_response(const uint8_t *msg, size_t len, const struct redact_rules *r, uint8_t **out,
                       size_t *outlen)
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
            if ((rv = ob_put_len_field(&b, F_WARNINGS, REDACT_WARNING, strlen(REDACT_WARNING))) < 0)
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

/* ---- Config requests: credentials in spark.remote ------------------------------ */

/* Does a connection-string parameter name look like a credential?  (ASCII, any case) */
static bool
cred_name(const uint8_t *p, size_t len)
{
    static const char *const words[] = {
        "token",      "secret",     "passw",  "pwd",     "credential", "auth",    "accesskey",
        "access.key", "access_key", "apikey", "api_key", "api-key",    "private",
    };
    size_t w, i, j, wl;

    for (w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
        wl = strlen(words[w]);
        for (i = 0; i + wl <= len; i++) {
            for (j = 0; j < wl && lower(p[i + j]) == (uint8_t)words[w][j]; j++)
                ;
            if (j == wl)
                return true;
        }
    }
    return false;
}

static bool
prefix_ci(const uint8_t *p, size_t len, const char *lit)
{
    size_t n = strlen(lit);

    if (len < n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(p[i]) != (uint8_t)lit[i])
            return false;
    return true;
}

int
redact_remote_scrub(const uint8_t *v, size_t len, uint8_t *out, size_t *outlen)
{
    size_t i = 0, o = 0, seg, end, nstart, nend;
    int removed = 0;

    /* the URL part, up to the first ';': drop a userinfo ("user:pass@") */
    for (seg = 0; seg < len && v[seg] != ';'; seg++)
        ;
    for (i = 0; i + 2 < seg && !(v[i] == ':' && v[i + 1] == '/' && v[i + 2] == '/'); i++)
        ;
    if (i + 2 < seg) {
        size_t auth = i + 3, at = SIZE_MAX;

        for (end = auth; end < seg && v[end] != '/' && v[end] != '?' && v[end] != '#'; end++)
            if (v[end] == '@')
                at = end;
        memcpy(out, v, auth);
        o = auth;
        if (at != SIZE_MAX) {
            removed++;
            auth = at + 1;
        }
        memcpy(out + o, v + auth, seg - auth);
        o += seg - auth;
    } else {
        memcpy(out, v, seg);
        o = seg;
    }
    /* then ";name=value" parameters: credentials go, the rest stays in order */
    for (i = seg; i < len; i = end) {
        for (end = i + 1; end < len && v[end] != ';'; end++)
            ;
        for (nstart = i + 1; nstart < end && (v[nstart] == ' ' || v[nstart] == '\t'); nstart++)
            ;
        for (nend = nstart; nend < end && v[nend] != '='; nend++)
            ;
        if (cred_name(v + nstart, nend - nstart)) {
            removed++;
            continue;
        }
        memcpy(out + o, v + i, end - i);
        o += end - i;
    }
    *outlen = o;
    return removed;
}

#define F_REQ_OPERATION 3  /* ConfigRequest.operation */
#define F_OP_SET 1         /* Operation.set: Set{pairs = 1} */
#define F_OP_GET_DEFAULT 3 /* Operation.get_with_default: GetWithDefault{pairs = 1} */
#define F_PAIRS_OF_OP 1

enum scrub_level { SL_REQUEST, SL_OPERATION, SL_PAIRS, SL_KEYVALUE };

/* KeyValue{key = 1, value = 2}: a connection string loses its credentials. */
static int
scrub_keyvalue(const uint8_t *p, size_t len, struct obuf *out, int *n)
{
    struct pb_cur c;
    struct pb_field f;
    bool remote = false;
    uint8_t *tmp;
    size_t tl;
    int rv, k;

    pb_cur_init(&c, p, len);
    while ((rv = pb_next(&c, &f)) == 1) {
        /* any occurrence: protobuf-java keeps the last, the backend must keep no token */
        if (f.num == 1 && f.wt == PB_WT_LEN && f.len == 12 &&
            prefix_ci(f.data, f.len, "spark.remote"))
            remote = true;
        if (f.num == 2 && f.wt == PB_WT_LEN && prefix_ci(f.data, f.len, "sc://"))
            remote = true;
    }
    if (rv < 0)
        return rv;
    pb_cur_init(&c, p, len);
    while (pb_next(&c, &f) == 1) {
        if (remote && f.num == 2 && f.wt == PB_WT_LEN && f.len > 0) {
            if ((tmp = malloc(f.len)) == NULL)
                return SG_ERR_NOMEM;
            k = redact_remote_scrub(f.data, f.len, tmp, &tl);
            *n += k;
            rv = k > 0 ? ob_put_len_field(out, 2, tmp, tl)
                       : ob_put(out, f.start, (size_t)(f.end - f.start));
            free(tmp);
            if (rv < 0)
                return rv;
            continue;
        }
        if ((rv = ob_put(out, f.start, (size_t)(f.end - f.start))) < 0)
            return rv;
    }
    return 0;
}

/* Copies one message, rewriting the fields on the way to a KeyValue. */
static int
scrub_level(enum scrub_level lvl, const uint8_t *p, size_t len, struct obuf *out, int *n)
{
    struct pb_cur c;
    struct pb_field f;
    struct obuf sub;
    bool down;
    int rv;

    if (lvl == SL_KEYVALUE)
        return scrub_keyvalue(p, len, out, n);
    pb_cur_init(&c, p, len);
    while ((rv = pb_next(&c, &f)) == 1) {
        down = f.wt == PB_WT_LEN &&
               ((lvl == SL_REQUEST && f.num == F_REQ_OPERATION) ||
                (lvl == SL_OPERATION && (f.num == F_OP_SET || f.num == F_OP_GET_DEFAULT)) ||
                (lvl == SL_PAIRS && f.num == F_PAIRS_OF_OP));
        if (!down) {
            if ((rv = ob_put(out, f.start, (size_t)(f.end - f.start))) < 0)
                return rv;
            continue;
        }
        memset(&sub, 0, sizeof(sub));
        rv = scrub_level((enum scrub_level)(lvl + 1), f.data, f.len, &sub, n);
        if (rv == 0)
            rv = ob_put_len_field(out, f.num, sub.p, sub.len);
        free(sub.p);
        if (rv < 0)
            return rv;
    }
    return rv;
}

int
redact_config_request(const uint8_t *msg, size_t len, uint8_t **out, size_t *outlen)
{
    struct obuf b = {NULL, 0, 0};
    int rv, n = 0;

    *out = NULL;
    *outlen = 0;
    rv = scrub_level(SL_REQUEST, msg, len, &b, &n);
    if (rv < 0 || n == 0) {
        free(b.p);
        return rv < 0 ? rv : 0;
    }
    *out = b.p != NULL ? b.p : malloc(1);
    if (*out == NULL)
        return SG_ERR_NOMEM;
    *outlen = b.len;
    return n;
}
