/*
 * auth.c: credentials -> principal + profile (see auth.h).
 *
 * Order: anonymous snapshot -> one credential header at most -> "Bearer"
 * -> size cap (auth.max_token_bytes) -> token digest -> per-worker cache ->
 * JWT (three segments and issuers configured: peek iss, pick the issuer,
 * verify against the fetched key set, then the issuer's file keys) or
 * static token (digest compared in constant time against every configured
 * digest) -> no token: a verified client certificate when mtls is
 * configured.  Whatever the source, the principal then gets that source's
 * prefix and meets the deny list (auth.deny) before any profile is chosen.
 *
 * Pure: no I/O, no logging (a refusal by the deny list names its rule in
 * the verdict, and the caller writes the audit line), no global state but
 * the SHA-256 method fetched once; fetched key sets come through the
 * caller's auth_keys_ops.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "auth.h"
#include "auth_jwt.h"
#include "cfg.h"
#include "sg_err.h"

struct auth_cache_slot {
    uint8_t digest[32];
    uint64_t generation; /* cfg generation the entry was verified under */
    struct auth_ident id;
    bool used;
};

struct auth_cache {
    uint32_t n;
    uint64_t hits, misses;
    struct auth_cache_slot slot[];
};

struct auth_cache *
auth_cache_new(uint32_t entries)
{
    struct auth_cache *c;

    /* calloc: slots never used are never touched, so never resident */
    c = calloc(1, sizeof(*c) + (size_t)entries * sizeof(c->slot[0]));
    if (c != NULL)
        c->n = entries;
    return c;
}

void
auth_cache_free(struct auth_cache *cache)
{
    if (cache == NULL)
        return;
    /* identities are not secrets, but the digests are derived from tokens */
    OPENSSL_cleanse(cache->slot, (size_t)cache->n * sizeof(cache->slot[0]));
    free(cache);
}

void
auth_cache_stats(const struct auth_cache *cache, uint64_t *hits, uint64_t *misses)
{
    *hits = cache != NULL ? cache->hits : 0;
    *misses = cache != NULL ? cache->misses : 0;
}

/* Direct-mapped: a collision evicts, which only costs a verification. */
static struct auth_cache_slot *
cache_slot(struct auth_cache *cache, const uint8_t digest[32])
{
    uint32_t h;

    memcpy(&h, digest, sizeof(h));
    return &cache->slot[h % cache->n];
}

const char *
auth_via_name(enum auth_via via)
{
    switch (via) {
    case AUTH_VIA_STATIC:
        return "static";
    case AUTH_VIA_JWT:
        return "jwt";
    case AUTH_VIA_MTLS:
        return "mtls";
    case AUTH_VIA_ANONYMOUS:
    default:
        return "anonymous";
    }
}

/* A refusal of kind |err| (SG_ERR_AUTH, SG_ERR_DENIED), with its message. */
static enum auth_result refuse(struct auth_verdict *v, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum auth_result
refuse(struct auth_verdict *v, int err, const char *fmt, ...)
{
    va_list ap;

    v->outcome = AUTH_REFUSED;
    v->err = err;
    va_start(ap, fmt);
    vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
    va_end(ap);
    return AUTH_REFUSED;
}

static bool
copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    if (n == 0 || n >= cap)
        return false;
    memcpy(dst, src, n + 1);
    return true;
}

/* True when claim |v| (string, space-separated string, or array) contains |want|. */
static bool
claim_has(json_t *v, const char *want)
{
    size_t i, wl = strlen(want);
    const char *s, *p;
    json_t *e;

    if (json_is_string(v)) {
        s = json_string_value(v);
        /* "scope" style: space-separated values */
        for (p = s; *p != '\0';) {
            size_t l = strcspn(p, " ");

            if (l == wl && memcmp(p, want, wl) == 0)
                return true;
            p += l;
            while (*p == ' ')
                p++;
        }
        return false;
    }
    if (json_is_array(v)) {
        json_array_foreach (v, i, e) {
            if (json_is_string(e) && strcmp(json_string_value(e), want) == 0)
                return true;
        }
    }
    return false;
}

/*
 * |prefix| + |name| into id->principal: the name every later step (deny
 * list, user_id, routing, logs) sees.  False when it does not fit.
 */
static bool
set_principal(struct auth_ident *id, const char *prefix, const char *name)
{
    int n = snprintf(id->principal, sizeof(id->principal), "%s%s", prefix != NULL ? prefix : "",
                     name);

    if (name[0] == '\0' || n <= 0 || (size_t)n >= sizeof(id->principal)) {
        id->principal[0] = '\0';
        return false;
    }
    return true;
}

/*
 * The deny list, on the prefixed principal and its groups (a static
 * token's "groups", or the values of an issuer's groups claim |claim|).
 * The message says that the principal is denied, not by which entry:
 * group names are the organisation's, not the caller's to learn.
 */
static enum auth_result
check_denied(const struct cfg *c, char *const *groups, size_t ngroups, json_t *claim,
             struct auth_verdict *v)
{
    const struct cfg_auth *a = &c->auth;
    const struct auth_ident *id = &v->id;
    const char *rule = NULL;
    size_t i, j, n = 0;

    for (i = 0; i < a->ndeny_principals && rule == NULL; i++) {
        if (strcmp(a->deny_principals[i], id->principal) == 0) {
            rule = "auth.deny.principals";
            n = i;
        }
    }
    for (i = 0; i < a->ndeny_groups && rule == NULL; i++) {
        bool hit = claim != NULL && claim_has(claim, a->deny_groups[i]);

        for (j = 0; j < ngroups && !hit; j++)
            hit = strcmp(groups[j], a->deny_groups[i]) == 0;
        if (hit) {
            rule = "auth.deny.groups";
            n = i;
        }
    }
    if (rule == NULL)
        return AUTH_OK;
    v->rule = rule; /* for the caller's audit line */
    v->rule_index = n;
    return refuse(v, SG_ERR_DENIED, "sparkgate: principal \"%.100s\" is denied (auth.deny)",
                  id->principal);
}

/* Chooses the profile from the verified claims; NULL when none applies. */
static const char *
issuer_profile(const struct cfg_issuer *is, json_t *claims)
{
    json_t *v;
    size_t i;

    if (is->profile_claim != NULL && (v = json_object_get(claims, is->profile_claim)) != NULL) {
        for (i = 0; i < is->nrules; i++) {
            if (claim_has(v, is->rules[i].value))
                return is->rules[i].profile;
        }
    }
    return is->default_profile;
}

static enum auth_result
check_jwt(const struct cfg *c, const struct auth_keys_ops *keys, const char *tok, size_t toklen,
          time_t now, bool may_retry, struct auth_verdict *v)
{
    const struct cfg_auth *a = &c->auth;
    struct auth_ident *id = &v->id;
    const struct cfg_issuer *is = NULL;
    struct auth_jwt_issuer ji;
    struct auth_jwt_result r;
    struct auth_jwk_set *fetched = NULL;
    const char *profile, *groups;
    json_t *gv;
    enum auth_jwt_err e;
    enum auth_result rv;
    size_t i;

    memset(&r, 0, sizeof(r));
    if (auth_jwt_peek(tok, toklen, &r) != AUTH_JWT_OK)
        return refuse(v, SG_ERR_AUTH, "sparkgate: %s", r.reason);
    for (i = 0; i < a->nissuers; i++) {
        if (strcmp(a->issuers[i].issuer, r.iss) == 0) {
            is = &a->issuers[i];
            break;
        }
    }
    if (is == NULL)
        return refuse(v, SG_ERR_AUTH, "sparkgate: token issuer \"%.100s\" is not trusted", r.iss);
    memset(&ji, 0, sizeof(ji));
    ji.issuer = is->issuer;
    ji.audiences = (const char *const *)is->audiences;
    ji.naudiences = is->naudiences;
    ji.algs = is->algs;
    ji.skew_s = is->skew_s;
    ji.principal_claim = is->principal_claim;

    if (is->fetcher != NULL && keys != NULL)
        fetched = keys->current(is->fetcher);
    e = AUTH_JWT_UNKNOWN_KEY;
    if (fetched != NULL)
        e = auth_jwt_verify(tok, toklen, &ji, fetched, now, &r);
    if (e == AUTH_JWT_UNKNOWN_KEY && is->static_keys != NULL)
        e = auth_jwt_verify(tok, toklen, &ji, is->static_keys, now, &r);
    if (e == AUTH_JWT_UNKNOWN_KEY && is->fetcher != NULL && keys != NULL) {
        /* rotation: the IdP may have a key we have not fetched yet; when no
         * fetch can end soon (rate limit, none in flight), waiting is pointless */
        bool pending = keys->request_refresh(is->fetcher, r.kid);

        if (may_retry && pending) {
            rv = AUTH_RETRY;
            goto out;
        }
        if (fetched == NULL) {
            rv = refuse(v, SG_ERR_AUTH,
                        "sparkgate: signing keys of issuer \"%.100s\" are not loaded yet",
                        is->issuer);
            goto out;
        }
    }
    if (e != AUTH_JWT_OK) {
        rv = refuse(v, SG_ERR_AUTH, "sparkgate: %s", r.reason);
        goto out;
    }
    profile = issuer_profile(is, r.claims);
    if (!set_principal(id, is->principal_prefix, r.principal)) {
        rv = refuse(v, SG_ERR_AUTH, "sparkgate: principal claim \"%s\" is too long",
                    is->principal_claim);
        goto out;
    }
    id->via = AUTH_VIA_JWT;
    /* groups: groups_claim, else the claim profile_map reads (usually the groups) */
    groups = is->groups_claim != NULL ? is->groups_claim : is->profile_claim;
    gv = groups != NULL ? json_object_get(r.claims, groups) : NULL;
    if ((rv = check_denied(c, NULL, 0, gv, v)) != AUTH_OK)
        goto out;
    if (profile == NULL) {
        rv = refuse(v, SG_ERR_DENIED,
                    "sparkgate: principal \"%.100s\" has no profile (claim \"%s\" matched no "
                    "profile_map rule and the issuer has no default_profile)",
                    id->principal, is->profile_claim != NULL ? is->profile_claim : "-");
        goto out;
    }
    copy_str(id->profile, sizeof(id->profile), profile);
    id->exp = r.exp;
    rv = AUTH_OK;
out:
    if (r.claims != NULL)
        json_decref(r.claims);
    auth_jwk_set_unref(fetched);
    return rv;
}

static enum auth_result
check_static(const struct cfg *c, const uint8_t digest[32], struct auth_verdict *v)
{
    const struct cfg_auth *a = &c->auth;
    struct auth_ident *id = &v->id;
    const struct cfg_static_token *found = NULL;
    const char *profile;
    enum auth_result rv;
    size_t i;

    /* every digest is compared, in constant time: no early exit on a match */
    for (i = 0; i < a->ntokens; i++) {
        if (CRYPTO_memcmp(a->tokens[i].sha256, digest, 32) == 0)
            found = &a->tokens[i];
    }
    if (found == NULL)
        return refuse(v, SG_ERR_AUTH, "sparkgate: invalid token (not a configured token%s)",
                      a->nissuers > 0 ? " and not a JWT" : "");
    /* cfg_auth.c checked that the prefixed principal fits */
    set_principal(id, a->static_prefix, found->principal);
    id->via = AUTH_VIA_STATIC;
    if (found->disabled)
        return refuse(v, SG_ERR_DENIED, "sparkgate: principal \"%.100s\" is disabled",
                      id->principal);
    if ((rv = check_denied(c, found->groups, found->ngroups, NULL, v)) != AUTH_OK)
        return rv;
    profile = found->profile != NULL ? found->profile : a->default_profile;
    if (profile == NULL)
        return refuse(v, SG_ERR_DENIED, "sparkgate: principal \"%.100s\" has no profile",
                      id->principal);
    copy_str(id->profile, sizeof(id->profile), profile);
    id->exp = 0;
    return AUTH_OK;
}

/* Principal from a verified client certificate (subject CN or a SAN). */
static enum auth_result
check_mtls(const struct cfg *c, const struct auth_peer *peer, struct auth_verdict *v)
{
    const struct cfg_auth *a = &c->auth;
    struct auth_ident *id = &v->id;
    const X509 *cert = peer->cert;
    GENERAL_NAMES *sans = NULL;
    const char *profile;
    char name[AUTH_PRINCIPAL_MAX] = "";
    enum auth_result rv;
    int i, want;

    if (cert == NULL)
        return refuse(v, SG_ERR_AUTH,
                      "sparkgate: missing credentials: send \"authorization: Bearer <token>\" or "
                      "a client certificate");
    if (peer->verify_result != X509_V_OK)
        return refuse(v, SG_ERR_AUTH, "sparkgate: client certificate not trusted: %s",
                      X509_verify_cert_error_string(peer->verify_result));
    if (a->mtls_from == CFG_MTLS_CN) {
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name,
                                      sizeof(name)) <= 0)
            name[0] = '\0';
    } else {
        want = a->mtls_from == CFG_MTLS_SAN_EMAIL ? GEN_EMAIL
               : a->mtls_from == CFG_MTLS_SAN_DNS ? GEN_DNS
                                                  : GEN_URI;
        sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
        for (i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
            const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
            const ASN1_IA5STRING *s = g->d.ia5;

            if (g->type != want || s->length <= 0 || (size_t)s->length >= sizeof(name))
                continue;
            memcpy(name, s->data, (size_t)s->length);
            name[s->length] = '\0';
            break;
        }
        GENERAL_NAMES_free(sans);
    }
    /* an embedded NUL or control byte would make a different name downstream */
    for (i = 0; name[i] != '\0'; i++) {
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            name[0] = '\0';
    }
    if (name[0] == '\0')
        return refuse(v, SG_ERR_AUTH,
                      "sparkgate: client certificate carries no usable principal name");
    if (!set_principal(id, a->mtls_prefix, name))
        return refuse(v, SG_ERR_AUTH,
                      "sparkgate: client certificate name is too long with principal_prefix");
    id->via = AUTH_VIA_MTLS;
    if ((rv = check_denied(c, NULL, 0, NULL, v)) != AUTH_OK)
        return rv;
    profile = a->mtls_profile != NULL ? a->mtls_profile : a->default_profile;
    if (profile == NULL)
        return refuse(v, SG_ERR_DENIED, "sparkgate: principal \"%.100s\" has no profile",
                      id->principal);
    copy_str(id->profile, sizeof(id->profile), profile);
    return AUTH_OK;
}

/*
 * SHA-256, fetched once: EVP_sha256() makes OpenSSL 3 look the algorithm up
 * (locks, hash tables) on every call, which was most of a cache hit's cost.
 */
static const EVP_MD *
sha256_md(void)
{
    static EVP_MD *md;
    EVP_MD *m = __atomic_load_n(&md, __ATOMIC_ACQUIRE), *expected = NULL;

    if (m != NULL)
        return m;
    m = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (m == NULL)
        return EVP_sha256();
    if (!__atomic_compare_exchange_n(&md, &expected, m, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        EVP_MD_free(m); /* another thread won the race */
        return expected;
    }
    return m;
}

/* The first 8 bytes of the token digest in hex: correlates log lines, reveals nothing. */
static void
token_id(const uint8_t digest[32], char out[17])
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < 8; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 0xf];
    }
    out[16] = '\0';
}

static bool
looks_like_jwt(const char *t, size_t len)
{
    const char *d1 = memchr(t, '.', len), *d2;

    if (d1 == NULL)
        return false;
    d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - t));
    return d2 != NULL;
}

bool
auth_cred_header(const struct cfg_auth *a, const uint8_t *name, size_t len)
{
    size_t i;

    for (i = 0; i < a->nheader_names; i++) {
        if (strlen(a->header_names[i]) == len && memcmp(name, a->header_names[i], len) == 0)
            return true;
    }
    return false;
}

int
auth_cred_add(struct auth_cred *cr, const uint8_t *value, size_t len)
{
    cr->n++;
    if (len >= AUTH_CRED_MAX) {
        cr->too_long = true;
        return SG_OK;
    }
    /* only the first is kept: two credentials are refused, whichever they are */
    if (cr->value == NULL) {
        if ((cr->value = malloc(len + 1)) == NULL)
            return SG_ERR_NOMEM;
        memcpy(cr->value, value, len);
        cr->value[len] = '\0';
        cr->len = len;
    }
    return SG_OK;
}

void
auth_cred_clear(struct auth_cred *cr)
{
    if (cr->value != NULL) {
        OPENSSL_cleanse(cr->value, cr->len + 1);
        free(cr->value);
    }
    memset(cr, 0, sizeof(*cr));
}

static enum auth_result
decide(const struct cfg *c, struct auth_cache *cache, const struct auth_keys_ops *keys,
       const struct auth_cred *cr, const struct auth_peer *peer, time_t now, bool may_retry,
       struct auth_verdict *v)
{
    const struct cfg_auth *a = &c->auth;
    struct auth_ident *id = &v->id;
    struct auth_cache_slot *slot = NULL;
    uint8_t digest[32];
    const char *tok, *cred = cr->value;
    size_t toklen, credlen = cr->len;
    enum auth_result rv;

    /* a single oversized header is refused as too large, not as missing, whatever
     * the mode: it was never kept, so nothing later could judge it */
    if (cr->too_long && cr->n == 1)
        return refuse(v, SG_ERR_AUTH, AUTH_TOO_LARGE_FMT, a->max_token_bytes);
    if (a->anonymous) {
        copy_str(id->principal, sizeof(id->principal), "anonymous");
        if (a->default_profile != NULL)
            copy_str(id->profile, sizeof(id->profile), a->default_profile);
        id->via = AUTH_VIA_ANONYMOUS;
        return AUTH_OK;
    }
    if (cr->n > 1)
        return refuse(v, SG_ERR_AUTH,
                      "sparkgate: more than one credential header; send exactly one "
                      "\"authorization: Bearer <token>\"");
    if (cred == NULL) {
        if (a->mtls && peer != NULL)
            return check_mtls(c, peer, v);
        return refuse(v, SG_ERR_AUTH,
                      "sparkgate: missing credentials: send \"authorization: Bearer <token>\" "
                      "(PySpark: sc://host:port/;use_ssl=true;token=...)");
    }
    /* RFC 6750 section 2.1: b64token after "Bearer" and one or more spaces */
    if (credlen < 7 || strncasecmp(cred, "Bearer ", 7) != 0)
        return refuse(v, SG_ERR_AUTH,
                      "sparkgate: malformed credentials: expected \"Bearer <token>\"");
    tok = cred + 7;
    toklen = credlen - 7;
    while (toklen > 0 && *tok == ' ') {
        tok++;
        toklen--;
    }
    while (toklen > 0 && tok[toklen - 1] == ' ')
        toklen--;
    if (toklen == 0)
        return refuse(v, SG_ERR_AUTH, "sparkgate: malformed credentials: empty token");
    /* before any hashing, decoding or signature work: the cost of a refusal
     * must not grow with what an unauthenticated caller sends */
    if (toklen > a->max_token_bytes)
        return refuse(v, SG_ERR_AUTH, AUTH_TOO_LARGE_FMT, a->max_token_bytes);
    if (EVP_Digest(tok, toklen, digest, NULL, sha256_md(), NULL) != 1)
        return refuse(v, SG_ERR_AUTH, "sparkgate: cannot hash the token");

    if (cache != NULL && cache->n > 0) {
        slot = cache_slot(cache, digest);
        if (slot->used && slot->generation == c->generation &&
            CRYPTO_memcmp(slot->digest, digest, 32) == 0 &&
            (slot->id.exp == 0 || slot->id.exp > (int64_t)now)) {
            cache->hits++;
            *id = slot->id;
            return AUTH_OK;
        }
        cache->misses++;
    }

    if (a->nissuers > 0 && looks_like_jwt(tok, toklen))
        rv = check_jwt(c, keys, tok, toklen, now, may_retry, v);
    else
        rv = check_static(c, digest, v);
    if (rv != AUTH_OK)
        return rv;
    token_id(digest, id->token_id);
    if (slot != NULL) {
        memcpy(slot->digest, digest, 32);
        slot->generation = c->generation;
        slot->id = *id;
        slot->used = true;
    }
    return AUTH_OK;
}

enum auth_result
auth_check(const struct cfg *c, struct auth_cache *cache, const struct auth_keys_ops *keys,
           const struct auth_cred *cr, const struct auth_peer *peer, time_t now, bool may_retry,
           struct auth_verdict *v)
{
    memset(v, 0, sizeof(*v));
    v->outcome = decide(c, cache, keys, cr, peer, now, may_retry, v);
    if (v->outcome == AUTH_RETRY)
        v->err = SG_ERR_AGAIN;
    return v->outcome;
}
