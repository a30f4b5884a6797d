/*
 * cfg_auth.c: the "auth" section of the configuration, and the backends'
 * pre-shared tokens.
 *
 * Parsing is strict like the rest of cfg.c (unknown keys, wrong types,
 * duplicates are errors with file:line:col: key.path).  Key material named
 * by the file (JWKS files, PEM public keys, HMAC secret files, backend
 * pre-shared tokens) is read in cfg_auth_load_files(), after the whole file
 * validated; secrets are wiped when the snapshot is freed.  JWKS URLs are
 * only recorded here: daemon.c attaches a fetcher to each issuer.
 *
 * Absent "auth": allowed only when every listener is on a loopback address
 * (development); anywhere else the snapshot would serve anyone, so it is an
 * error.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "sg_err.h"
#include "auth_jwt.h"
#include "cfg.h"
#include "cfg_int.h"
#include "log.h"
#include "util.h"

#define AUTH_SECRET_MAX \
    (64u * 1024u)                 /* a token or HMAC secret file larger than this is a mistake */
#define AUTH_NAME_MAX 256         /* auth.h AUTH_PRINCIPAL_MAX */
#define AUTH_PROFILE_NAME_MAX 128 /* auth.h AUTH_PROFILE_MAX */
#define AUTH_MAX_KEY_SOURCES 64   /* jwks_file + public_keys + hmac_secrets per issuer */
#define AUTH_PREFIX_MAX 64        /* principal_prefix, in bytes */
#define AUTH_TOKEN_DEFAULT 8192   /* max_token_bytes */
#define AUTH_TOKEN_MIN 256
/* what a credential header costs in the header list besides the token:
 * "authorization", "Bearer " and RFC 7541 section 4.1's 32 bytes, rounded up */
#define AUTH_HEADER_OVERHEAD 64

static const char *const auth_keys[] = {
    "anonymous", "header_names",        "static_tokens",
    "issuers",   "default_profile",     "mtls",
    "identity",  "token_cache_entries", "static_principal_prefix",
    "deny",      "max_token_bytes",
};
static const char *const token_keys[] = {"sha256", "principal", "profile", "groups", "disabled"};
static const char *const issuer_keys[] = {
    "issuer",           "audiences",       "algorithms",
    "clock_skew_s",     "principal_claim", "profile_claim",
    "profile_map",      "default_profile", "jwks_url",
    "jwks_ca",          "jwks_refresh_s",  "jwks_min_refetch_s",
    "jwks_max_bytes",   "jwks_timeout_ms", "jwks_required_at_start",
    "jwks_file",        "public_keys",     "hmac_secrets",
    "principal_prefix", "groups_claim",
};
static const char *const rule_keys[] = {"value", "profile"};
static const char *const keyfile_keys[] = {"kid", "file"};
static const char *const mtls_keys[] = {"ca", "principal_from", "profile", "principal_prefix"};
static const char *const deny_keys[] = {"principals", "groups"};
static const char *const identity_keys[] = {"mode", "strip_headers", "strip_header_prefixes"};

/* Identity headers a client must never be able to set for the backend. */
static const char *const default_strip[] = {
    "x-forwarded-user",     "x-forwarded-email",
    "x-forwarded-groups",   "x-forwarded-preferred-username",
    "x-remote-user",        "x-remote-group",
    "x-spark-user",         "x-auth-request-user",
    "x-auth-request-email", "remote-user",
};

static int check_name(struct cfg_ctx *x, json_t *o, const char *key, const char *v, size_t max);
static int get_prefix(struct cfg_ctx *x, json_t *o, const char *key, char **out);

static void
free_strv(char **v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/*
 * Member |key| as an array of non-empty strings (a single string is
 * accepted when |one_ok|).  |lower| folds to lower case (header names).
 */
static int
get_strv(struct cfg_ctx *x, json_t *o, const char *key, bool one_ok, bool lower, char ***out,
         size_t *nout)
{
    json_t *v = json_object_get(o, key), *e;
    size_t old, old2, i, n;
    char **r = NULL;
    int rc = 0;

    if (v == NULL)
        return 0;
    old = cfgp_push_key(x, key);
    if (one_ok && json_is_string(v)) {
        n = 1;
    } else if (!json_is_array(v)) {
        rc = cfgp_fail(x, "expected %s, got %s",
                       one_ok ? "a string or an array of strings" : "an array of strings",
                       cfgp_jtype(v));
        goto out;
    } else {
        n = json_array_size(v);
    }
    if ((r = calloc(n + 1, sizeof(*r))) == NULL) {
        rc = cfgp_fail(x, "out of memory");
        goto out;
    }
    for (i = 0; i < n; i++) {
        e = json_is_array(v) ? json_array_get(v, i) : v;
        old2 = json_is_array(v) ? cfgp_push_index(x, i) : x->plen;
        if (!json_is_string(e) || json_string_length(e) == 0)
            rc = cfgp_fail(x, "expected a non-empty string, got %s",
                           json_is_string(e) ? "an empty string" : cfgp_jtype(e));
        else if ((r[i] = strdup(json_string_value(e))) == NULL)
            rc = cfgp_fail(x, "out of memory");
        else if (lower) {
            char *p;

            for (p = r[i]; *p != '\0'; p++)
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p - 'A' + 'a');
        }
        cfgp_pop(x, old2);
        if (rc < 0)
            break;
    }
    if (rc < 0) {
        free_strv(r, n);
        goto out;
    }
    free_strv(*out, *nout);
    *out = r;
    *nout = n;
out:
    cfgp_pop(x, old);
    return rc;
}

static int
parse_token(struct cfg_ctx *x, json_t *o, struct cfg_static_token *t)
{
    const char *hex = NULL;
    size_t old, i;
    int rc;

    if (!json_is_object(o))
        return cfgp_fail(x, "expected an object, got %s", cfgp_jtype(o));
    if ((rc = cfgp_check_keys(x, o, token_keys, ARRAY_SIZE(token_keys))) < 0 ||
        (rc = cfgp_get_str_ref(x, o, "sha256", true, &hex)) < 0 ||
        (rc = cfgp_get_str(x, o, "principal", true, &t->principal)) < 0 ||
        (rc = cfgp_get_str(x, o, "profile", false, &t->profile)) < 0 ||
        (rc = get_strv(x, o, "groups", false, false, &t->groups, &t->ngroups)) < 0 ||
        (rc = cfgp_get_bool(x, o, "disabled", &t->disabled)) < 0 ||
        (rc = check_name(x, o, "principal", t->principal, AUTH_NAME_MAX)) < 0 ||
        (rc = check_name(x, o, "profile", t->profile, AUTH_PROFILE_NAME_MAX)) < 0)
        return rc;
    old = cfgp_push_key(x, "sha256");
    if (strlen(hex) != 64) {
        rc = cfgp_fail(x,
                       "expected 64 hex digits (sparkgate hash-token prints them), got %zu "
                       "characters",
                       strlen(hex));
        goto out;
    }
    for (i = 0; i < 32; i++) {
        int hi = util_hexval(hex[2 * i]), lo = util_hexval(hex[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            rc = cfgp_fail(x, "not a hex digest (sparkgate hash-token prints one)");
            goto out;
        }
        t->sha256[i] = (uint8_t)(hi << 4 | lo);
    }
out:
    cfgp_pop(x, old);
    return rc;
}

/* profile_map[i] */
static int
parse_rule(struct cfg_ctx *x, json_t *e, void *items, size_t i, void *arg)
{
    struct cfg_profile_rule *r = &((struct cfg_profile_rule *)items)[i];
    int rc;

    (void)arg;
    if (!json_is_object(e))
        return cfgp_fail(x, "expected an object, got %s", cfgp_jtype(e));
    if ((rc = cfgp_check_keys(x, e, rule_keys, ARRAY_SIZE(rule_keys))) < 0 ||
        (rc = cfgp_get_str(x, e, "value", true, &r->value)) < 0 ||
        (rc = cfgp_get_str(x, e, "profile", true, &r->profile)) < 0)
        return rc;
    return check_name(x, e, "profile", r->profile, AUTH_PROFILE_NAME_MAX);
}

static const struct cfgp_array rules_array = {
    .key = "profile_map",
    .want = "an array",
    .size = sizeof(struct cfg_profile_rule),
    .each = parse_rule,
};

static int
parse_rules(struct cfg_ctx *x, json_t *o, struct cfg_issuer *is)
{
    void *items = NULL;
    int rc = cfgp_get_array(x, o, &rules_array, NULL, &items, &is->nrules);

    is->rules = items;
    return rc;
}

static int
parse_algs(struct cfg_ctx *x, json_t *o, struct cfg_issuer *is)
{
    char **names = NULL;
    size_t n = 0, i, old, old2;
    char shown[CFG_SHOW_MAX + 4];
    unsigned a;
    int rc;

    /* default: the asymmetric algorithms real IdPs use; HS* only when named */
    is->algs = JOSE_RS256 | JOSE_RS384 | JOSE_RS512 | JOSE_PS256 | JOSE_PS384 | JOSE_PS512 |
               JOSE_ES256 | JOSE_ES384 | JOSE_ES512 | JOSE_EDDSA;
    if ((rc = get_strv(x, o, "algorithms", false, false, &names, &n)) < 0 || names == NULL)
        return rc;
    old = cfgp_push_key(x, "algorithms");
    is->algs = 0;
    for (i = 0; i < n; i++) {
        a = jose_alg_from_name(names[i]);
        if (a == 0) {
            old2 = cfgp_push_index(x, i);
            rc = cfgp_fail(x,
                           "unknown algorithm \"%s\" (RS256/384/512, PS256/384/512, "
                           "ES256/384/512, EdDSA, HS256/384/512)",
                           cfgp_show(names[i], shown, sizeof(shown)));
            cfgp_pop(x, old2);
            break;
        }
        is->algs |= a;
    }
    if (rc == 0 && n == 0)
        rc = cfgp_fail(x, "must name at least one algorithm");
    cfgp_pop(x, old);
    free_strv(names, n);
    return rc;
}

/* public_keys[i] / hmac_secrets[i]: only checked here, read by load_issuer_keys() */
static int
check_keyfile(struct cfg_ctx *x, json_t *e, void *items, size_t i, void *arg)
{
    const char *s = NULL;
    int rc;

    (void)items;
    (void)i;
    (void)arg;
    if (!json_is_object(e))
        return cfgp_fail(x, "expected an object, got %s", cfgp_jtype(e));
    if ((rc = cfgp_check_keys(x, e, keyfile_keys, ARRAY_SIZE(keyfile_keys))) < 0 ||
        (rc = cfgp_get_str_ref(x, e, "kid", true, &s)) < 0)
        return rc;
    return cfgp_get_str_ref(x, e, "file", true, &s);
}

static int
parse_keyfiles(struct cfg_ctx *x, json_t *o, const char *key, json_t **out)
{
    const struct cfgp_array a = {
        .key = key,
        .want = "an array",
        .min = 1,
        .max = AUTH_MAX_KEY_SOURCES,
        .each = check_keyfile,
    };
    int rc = cfgp_get_array(x, o, &a, NULL, NULL, NULL);

    *out = rc == 0 ? json_object_get(o, key) : NULL;
    return rc;
}

static int
parse_issuer(struct cfg_ctx *x, json_t *o, struct cfg_issuer *is)
{
    json_t *pk, *hs;
    const char *jwks_file = NULL; /* read by load_issuer_keys(), which trusts its type */
    uint32_t skew = 60;
    size_t old;
    int rc;

    is->jwks_refresh_s = 300;
    is->jwks_min_refetch_s = 30;
    is->jwks_max_bytes = 1024 * 1024;
    is->jwks_timeout_ms = 5000;
    is->jwks_required_at_start = true;
    if (!json_is_object(o))
        return cfgp_fail(x, "expected an object, got %s", cfgp_jtype(o));
    if ((rc = cfgp_check_keys(x, o, issuer_keys, ARRAY_SIZE(issuer_keys))) < 0 ||
        (rc = cfgp_get_str(x, o, "issuer", true, &is->issuer)) < 0 ||
        (rc = get_strv(x, o, "audiences", true, false, &is->audiences, &is->naudiences)) < 0 ||
        (rc = parse_algs(x, o, is)) < 0 ||
        (rc = cfgp_get_u32(x, o, "clock_skew_s", 0, 3600, &skew)) < 0 ||
        (rc = cfgp_get_str(x, o, "principal_claim", false, &is->principal_claim)) < 0 ||
        (rc = cfgp_get_str(x, o, "profile_claim", false, &is->profile_claim)) < 0 ||
        (rc = parse_rules(x, o, is)) < 0 ||
        (rc = cfgp_get_str(x, o, "default_profile", false, &is->default_profile)) < 0 ||
        (rc = cfgp_get_str(x, o, "jwks_url", false, &is->jwks_url)) < 0 ||
        (rc = cfgp_get_str(x, o, "jwks_ca", false, &is->jwks_ca)) < 0 ||
        (rc = cfgp_get_u32(x, o, "jwks_refresh_s", 10, 86400, &is->jwks_refresh_s)) < 0 ||
        (rc = cfgp_get_u32(x, o, "jwks_min_refetch_s", 1, 3600, &is->jwks_min_refetch_s)) < 0 ||
        (rc = cfgp_get_u32(x, o, "jwks_max_bytes", 1024, 16 * 1024 * 1024, &is->jwks_max_bytes)) <
            0 ||
        (rc = cfgp_get_u32(x, o, "jwks_timeout_ms", 100, 60000, &is->jwks_timeout_ms)) < 0 ||
        (rc = cfgp_get_bool(x, o, "jwks_required_at_start", &is->jwks_required_at_start)) < 0 ||
        (rc = cfgp_get_str_ref(x, o, "jwks_file", false, &jwks_file)) < 0 ||
        (rc = parse_keyfiles(x, o, "public_keys", &pk)) < 0 ||
        (rc = parse_keyfiles(x, o, "hmac_secrets", &hs)) < 0 ||
        (rc = get_prefix(x, o, "principal_prefix", &is->principal_prefix)) < 0 ||
        (rc = cfgp_get_str(x, o, "groups_claim", false, &is->groups_claim)) < 0)
        return rc;
    is->skew_s = skew;
    if (json_object_get(o, "audiences") == NULL)
        return cfgp_fail_missing(x, "audiences",
                                 "required key missing (the \"aud\" values "
                                 "sparkgate accepts)");
    if (is->naudiences == 0) {
        old = cfgp_push_key(x, "audiences");
        rc = cfgp_fail(x, "must name at least one audience");
        cfgp_pop(x, old);
        return rc;
    }
    if ((rc = check_name(x, o, "default_profile", is->default_profile, AUTH_PROFILE_NAME_MAX)) < 0)
        return rc;
    if (is->principal_claim == NULL && (is->principal_claim = strdup("sub")) == NULL)
        return cfgp_fail(x, "out of memory");
    if (is->jwks_url != NULL && strncmp(is->jwks_url, "https://", 8) != 0) {
        old = cfgp_push_key(x, "jwks_url");
        rc = cfgp_fail(x, "must be an https:// URL");
        cfgp_pop(x, old);
        return rc;
    }
    if ((is->algs & (JOSE_HS256 | JOSE_HS384 | JOSE_HS512)) != 0 && hs == NULL)
        return cfgp_fail_missing(x, "hmac_secrets",
                                 "required when \"algorithms\" names an HS algorithm");
    if (is->jwks_url == NULL && json_object_get(o, "jwks_file") == NULL && pk == NULL && hs == NULL)
        return cfgp_fail_missing(x, "jwks_url",
                                 "no signing keys: give \"jwks_url\", "
                                 "\"jwks_file\", \"public_keys\" or "
                                 "\"hmac_secrets\"");
    return 0;
}

/*
 * Maps string member |key| (value |s|) through |names| -> |values|; an
 * unknown value is an error that lists the accepted ones (|quote|d or not).
 */
static int
pick_enum(struct cfg_ctx *x, const char *key, const char *s, const char *const *names,
          const int *values, size_t n, bool quote, int *out)
{
    char shown[CFG_SHOW_MAX + 4], list[256] = "";
    size_t i, old;
    int rc;

    for (i = 0; i < n; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = values[i];
            return 0;
        }
    }
    for (i = 0; i < n; i++) {
        strncat(list, i == 0 ? "" : (i + 1 == n ? " or " : ", "), sizeof(list) - strlen(list) - 1);
        if (quote)
            strncat(list, "\"", sizeof(list) - strlen(list) - 1);
        strncat(list, names[i], sizeof(list) - strlen(list) - 1);
        if (quote)
            strncat(list, "\"", sizeof(list) - strlen(list) - 1);
    }
    old = cfgp_push_key(x, key);
    rc = cfgp_fail(x, "\"%s\" is not %s", cfgp_show(s, shown, sizeof(shown)), list);
    cfgp_pop(x, old);
    return rc;
}

static int
parse_mtls(struct cfg_ctx *x, json_t *root, struct cfg_auth *a)
{
    const char *from = NULL;
    json_t *o;
    size_t old;
    int rc;

    if ((rc = cfgp_get_typed(x, root, "mtls", JSON_OBJECT, "an object", false, &o)) < 0 ||
        o == NULL)
        return rc;
    old = cfgp_push_key(x, "mtls");
    a->mtls = true;
    a->mtls_from = CFG_MTLS_CN;
    if ((rc = cfgp_check_keys(x, o, mtls_keys, ARRAY_SIZE(mtls_keys))) < 0 ||
        (rc = cfgp_get_str(x, o, "ca", true, &a->mtls_ca)) < 0 ||
        (rc = cfgp_get_str_ref(x, o, "principal_from", false, &from)) < 0 ||
        (rc = cfgp_get_str(x, o, "profile", false, &a->mtls_profile)) < 0 ||
        (rc = check_name(x, o, "profile", a->mtls_profile, AUTH_PROFILE_NAME_MAX)) < 0 ||
        (rc = get_prefix(x, o, "principal_prefix", &a->mtls_prefix)) < 0)
        goto out;
    if (from != NULL) {
        static const char *const names[] = {"cn", "san_email", "san_dns", "san_uri"};
        static const int values[] = {CFG_MTLS_CN, CFG_MTLS_SAN_EMAIL, CFG_MTLS_SAN_DNS,
                                     CFG_MTLS_SAN_URI};
        int v = 0;

        rc = pick_enum(x, "principal_from", from, names, values, ARRAY_SIZE(names), false, &v);
        a->mtls_from = (enum cfg_mtls_from)v;
    }
out:
    cfgp_pop(x, old);
    return rc;
}

/*
 * "deny": principals and groups refused whatever authenticated them.  The
 * names are matched exactly, against the principal as the backend sees it
 * (prefix included), so one list covers every source.
 */
static int
parse_deny(struct cfg_ctx *x, json_t *root, struct cfg_auth *a)
{
    json_t *o;
    size_t old;
    int rc;

    if ((rc = cfgp_get_typed(x, root, "deny", JSON_OBJECT, "an object", false, &o)) < 0 ||
        o == NULL)
        return rc;
    old = cfgp_push_key(x, "deny");
    if ((rc = cfgp_check_keys(x, o, deny_keys, ARRAY_SIZE(deny_keys))) == 0 &&
        (rc = get_strv(x, o, "principals", false, false, &a->deny_principals,
                       &a->ndeny_principals)) == 0)
        rc = get_strv(x, o, "groups", false, false, &a->deny_groups, &a->ndeny_groups);
    cfgp_pop(x, old);
    return rc;
}

/*
 * The longest token: at most what the JWT parser takes, and small enough
 * that a header carrying it fits limits.max_header_list_size (a larger
 * setting could never be reached: it would promise what HTTP/2 refuses).
 * Left out, it is AUTH_TOKEN_DEFAULT or what fits, whichever is smaller.
 */
static int
parse_max_token(struct cfg_ctx *x, json_t *o, const struct cfg *c, struct cfg_auth *a)
{
    uint32_t fit = c->limits.max_header_list_size - AUTH_HEADER_OVERHEAD;
    size_t old;
    int rc;

    a->max_token_bytes = fit < AUTH_TOKEN_DEFAULT ? fit : AUTH_TOKEN_DEFAULT;
    if (o == NULL || json_object_get(o, "max_token_bytes") == NULL)
        return 0;
    if ((rc = cfgp_get_u32(x, o, "max_token_bytes", AUTH_TOKEN_MIN, AUTH_JWT_MAX_TOKEN,
                           &a->max_token_bytes)) < 0)
        return rc;
    if (a->max_token_bytes > fit) {
        old = cfgp_push_key(x, "max_token_bytes");
        rc = cfgp_fail(x, "%u does not fit limits.max_header_list_size (%u): at most %u",
                       a->max_token_bytes, c->limits.max_header_list_size, fit);
        cfgp_pop(x, old);
    }
    return rc;
}

static int
parse_identity(struct cfg_ctx *x, json_t *root, struct cfg_auth *a)
{
    const char *mode = NULL;
    json_t *o;
    size_t old;
    int rc;

    if ((rc = cfgp_get_typed(x, root, "identity", JSON_OBJECT, "an object", false, &o)) < 0 ||
        o == NULL)
        return rc;
    old = cfgp_push_key(x, "identity");
    if ((rc = cfgp_check_keys(x, o, identity_keys, ARRAY_SIZE(identity_keys))) < 0 ||
        (rc = cfgp_get_str_ref(x, o, "mode", false, &mode)) < 0 ||
        (rc = get_strv(x, o, "strip_headers", false, true, &a->strip_headers, &a->nstrip_headers)) <
            0 ||
        (rc = get_strv(x, o, "strip_header_prefixes", false, true, &a->strip_prefixes,
                       &a->nstrip_prefixes)) < 0)
        goto out;
    if (mode != NULL) {
        static const char *const names[] = {"rewrite", "require_match"};
        static const int values[] = {0, 1};
        int v = 0;

        rc = pick_enum(x, "mode", mode, names, values, ARRAY_SIZE(names), true, &v);
        a->require_match = v != 0;
    }
out:
    cfgp_pop(x, old);
    return rc;
}

/* Defaults that need allocation: header names and the identity strip list. */
static int
set_defaults(struct cfg_ctx *x, struct cfg_auth *a)
{
    size_t i;

    a->cache_entries = 10000;
    a->header_names = calloc(3, sizeof(char *));
    a->strip_headers = calloc(ARRAY_SIZE(default_strip) + 1, sizeof(char *));
    a->strip_prefixes = calloc(2, sizeof(char *));
    if (a->header_names == NULL || a->strip_headers == NULL || a->strip_prefixes == NULL)
        return cfgp_fail(x, "out of memory");
    /* PySpark and Go send authorization; the JVM client sends authentication */
    a->header_names[0] = strdup("authorization");
    a->header_names[1] = strdup("authentication");
    a->nheader_names = 2;
    for (i = 0; i < ARRAY_SIZE(default_strip); i++)
        a->strip_headers[i] = strdup(default_strip[i]);
    a->nstrip_headers = ARRAY_SIZE(default_strip);
    /* sparkgate's own headers toward the backend can never come from a client */
    a->strip_prefixes[0] = strdup("x-sparkgate-");
    a->nstrip_prefixes = 1;
    for (i = 0; i < a->nstrip_headers; i++)
        if (a->strip_headers[i] == NULL)
            return cfgp_fail(x, "out of memory");
    if (a->header_names[0] == NULL || a->header_names[1] == NULL || a->strip_prefixes[0] == NULL)
        return cfgp_fail(x, "out of memory");
    return 0;
}

/*
 * A principal_prefix: non-empty (leave it out for none), short, and a
 * valid part of a principal (check_name).
 */
static int
get_prefix(struct cfg_ctx *x, json_t *o, const char *key, char **out)
{
    int rc;

    /* cfgp_get_str refuses "": leave the key out for no prefix */
    if ((rc = cfgp_get_str(x, o, key, false, out)) < 0 || *out == NULL)
        return rc;
    return check_name(x, o, key, *out, AUTH_PREFIX_MAX + 1);
}

static bool
all_loopback(const struct cfg *c)
{
    size_t i;

    for (i = 0; i < c->nlisteners; i++) {
        if (!cfgp_sockaddr_is_loopback(&c->listeners[i].ss))
            return false;
    }
    return true;
}

/*
 * A principal or profile becomes a header value and a user_id: it must fit
 * the runtime buffers (auth.h) and carry no control characters.
 */
static int
check_name(struct cfg_ctx *x, json_t *o, const char *key, const char *v, size_t max)
{
    size_t old, i;
    int rc = 0;

    if (v == NULL || json_object_get(o, key) == NULL)
        return 0;
    old = cfgp_push_key(x, key);
    if (strlen(v) >= max)
        rc = cfgp_fail(x, "longer than %zu bytes", max - 1);
    for (i = 0; rc == 0 && v[i] != '\0'; i++) {
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            rc = cfgp_fail(x, "must not contain control characters");
    }
    cfgp_pop(x, old);
    return rc;
}

/* static_tokens[i]; |arg| is the auth section (static_principal_prefix) */
static int
parse_static_token(struct cfg_ctx *x, json_t *e, void *items, size_t i, void *arg)
{
    struct cfg_static_token *ts = items, *t = &ts[i];
    const struct cfg_auth *a = arg;
    size_t old, j;
    int rc;

    if ((rc = parse_token(x, e, t)) < 0)
        return rc;
    if (a->static_prefix != NULL &&
        strlen(a->static_prefix) + strlen(t->principal) >= AUTH_NAME_MAX) {
        old = cfgp_push_key(x, "principal");
        rc = cfgp_fail(x, "longer than %d bytes with static_principal_prefix", AUTH_NAME_MAX - 1);
        cfgp_pop(x, old);
        return rc;
    }
    for (j = 0; j < i; j++) {
        if (CRYPTO_memcmp(ts[j].sha256, t->sha256, 32) == 0)
            return cfgp_fail(x, "duplicate token digest (first at static_tokens[%zu])", j);
    }
    return 0;
}

static const struct cfgp_array tokens_array = {
    .key = "static_tokens",
    .want = "an array",
    .size = sizeof(struct cfg_static_token),
    .each = parse_static_token,
};

/* issuers[i] */
static int
parse_issuer_at(struct cfg_ctx *x, json_t *e, void *items, size_t i, void *arg)
{
    struct cfg_issuer *iss = items, *is = &iss[i];
    size_t j;
    int rc;

    (void)arg;
    if ((rc = parse_issuer(x, e, is)) < 0)
        return rc;
    for (j = 0; j < i; j++) {
        if (strcmp(iss[j].issuer, is->issuer) == 0)
            return cfgp_fail(x, "duplicate issuer \"%s\" (first at issuers[%zu])", is->issuer, j);
    }
    return 0;
}

static const struct cfgp_array issuers_array = {
    .key = "issuers",
    .want = "an array",
    .size = sizeof(struct cfg_issuer),
    .each = parse_issuer_at,
};

int
cfg_auth_parse(struct cfg_ctx *x, json_t *root, struct cfg *c)
{
    struct cfg_auth *a = &c->auth;
    void *items;
    json_t *o;
    size_t old, old2;
    int rc;

    if ((rc = set_defaults(x, a)) < 0)
        return rc;
    if ((rc = cfgp_get_typed(x, root, "auth", JSON_OBJECT, "an object", false, &o)) < 0)
        return rc;
    if (o == NULL) {
        (void)parse_max_token(x, NULL, c, a);
        if (!all_loopback(c))
            return cfgp_fail_missing(x, "auth",
                                     "required key missing: a listener outside "
                                     "loopback must authenticate (\"auth\": "
                                     "{\"static_tokens\": ...} or \"issuers\")");
        a->anonymous = true;
        return 0;
    }
    old = cfgp_push_key(x, "auth");
    if ((rc = cfgp_check_keys(x, o, auth_keys, ARRAY_SIZE(auth_keys))) < 0 ||
        (rc = cfgp_get_bool(x, o, "anonymous", &a->anonymous)) < 0 ||
        (rc = get_strv(x, o, "header_names", false, true, &a->header_names, &a->nheader_names)) <
            0 ||
        (rc = cfgp_get_str(x, o, "default_profile", false, &a->default_profile)) < 0 ||
        (rc = cfgp_get_u32(x, o, "token_cache_entries", 0, 10000000, &a->cache_entries)) < 0 ||
        (rc = parse_mtls(x, o, a)) < 0 || (rc = parse_identity(x, o, a)) < 0 ||
        (rc = parse_deny(x, o, a)) < 0 || (rc = parse_max_token(x, o, c, a)) < 0 ||
        (rc = get_prefix(x, o, "static_principal_prefix", &a->static_prefix)) < 0)
        goto out;
    if (json_object_get(o, "header_names") != NULL && a->nheader_names == 0) {
        old2 = cfgp_push_key(x, "header_names");
        rc = cfgp_fail(x, "must name at least one header");
        cfgp_pop(x, old2);
        goto out;
    }
    if ((rc = check_name(x, o, "default_profile", a->default_profile, AUTH_PROFILE_NAME_MAX)) < 0)
        goto out;
    if (a->anonymous && !all_loopback(c)) {
        old2 = cfgp_push_key(x, "anonymous");
        rc = cfgp_fail(x, "only allowed when every listener is on a loopback address");
        cfgp_pop(x, old2);
        goto out;
    }

    items = NULL;
    rc = cfgp_get_array(x, o, &tokens_array, a, &items, &a->ntokens);
    a->tokens = items;
    if (rc < 0)
        goto out;
    items = NULL;
    rc = cfgp_get_array(x, o, &issuers_array, NULL, &items, &a->nissuers);
    a->issuers = items;
    if (rc < 0)
        goto out;
    if (!a->anonymous && a->ntokens == 0 && a->nissuers == 0 && !a->mtls)
        rc = cfgp_fail(x, "no way to authenticate: give \"static_tokens\", \"issuers\" or "
                          "\"mtls\" (or \"anonymous\": true on loopback)");
out:
    cfgp_pop(x, old);
    return rc;
}

/*
 * Anonymous callers are judged by auth.default_profile like anyone else;
 * without one every call is refused (call.c).  Asking for "anonymous"
 * explicitly beside profiles without saying which one applies is a
 * mistake worth an error; a file without "auth" (loopback development)
 * only gets a warning (cfg_auth_warn).
 */
int
cfg_auth_check_anonymous(struct cfg_ctx *x, json_t *root, const struct cfg *c)
{
    if (c->nprofiles == 0 || !c->auth.anonymous || c->auth.default_profile != NULL ||
        json_object_get(root, "auth") == NULL)
        return 0;
    cfgp_pop(x, 0);
    cfgp_push_key(x, "auth");
    return cfgp_fail_missing(x, "default_profile",
                             "required key missing: \"anonymous\" is true and \"profiles\" are "
                             "configured: anonymous callers are judged by this profile");
}

static bool
starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A principal source other than the static tokens, for cfg_auth_warn(). */
struct auth_source {
    char what[64];      /* its key path */
    const char *name;   /* issuer URL, or NULL */
    const char *prefix; /* "" for none */
};

#define AUTH_WARN_PER_SOURCE 5 /* static principals named per source; the rest counted */

static void
warn_source(const struct cfg *c, const struct auth_source *src)
{
    const struct cfg_auth *a = &c->auth;
    const char *sp = a->static_prefix != NULL ? a->static_prefix : "";
    size_t i, n = 0;

    for (i = 0; i < a->ntokens; i++) {
        const char *p = a->tokens[i].principal;
        bool collide;

        /* "sp" + p starts with src->prefix */
        if (strlen(sp) >= strlen(src->prefix))
            collide = starts_with(sp, src->prefix);
        else
            collide = starts_with(src->prefix, sp) && starts_with(p, src->prefix + strlen(sp));
        if (!collide)
            continue;
        if (++n <= AUTH_WARN_PER_SOURCE)
            log_warn("%s: auth.static_tokens[%zu] principal \"%s%s\" could also be a principal "
                     "of %s%s%s%s (%s%s%s): both would be the same Spark user; give each a "
                     "distinct principal_prefix",
                     c->path, i, sp, p, src->what, src->name != NULL ? " \"" : "",
                     src->name != NULL ? src->name : "", src->name != NULL ? "\"" : "",
                     src->prefix[0] != '\0' ? "principal_prefix \"" : "no principal_prefix",
                     src->prefix, src->prefix[0] != '\0' ? "\"" : "");
    }
    if (n > AUTH_WARN_PER_SOURCE)
        log_warn("%s: ... and %zu more static principals could be principals of %s", c->path,
                 n - AUTH_WARN_PER_SOURCE, src->what);
}

void
cfg_auth_warn(const struct cfg *c)
{
    const struct cfg_auth *a = &c->auth;
    struct auth_source src;
    const char *other;
    size_t i, j;

    if (a->anonymous) {
        if (c->nprofiles > 0 && a->default_profile == NULL)
            log_warn("%s: \"profiles\" without \"auth\": anonymous callers have no profile, "
                     "every call is refused; set auth.anonymous and auth.default_profile",
                     c->path);
        return;
    }
    /* every source after the first has an earlier one to be compared with */
    for (i = 0; i <= a->nissuers; i++) {
        const struct cfg_issuer *is = i < a->nissuers ? &a->issuers[i] : NULL;

        if (is == NULL && !a->mtls)
            break;
        if (is != NULL) {
            snprintf(src.what, sizeof(src.what), "auth.issuers[%zu]", i);
            src.name = is->issuer;
            src.prefix = is->principal_prefix != NULL ? is->principal_prefix : "";
        } else {
            snprintf(src.what, sizeof(src.what), "auth.mtls");
            src.name = NULL;
            src.prefix = a->mtls_prefix != NULL ? a->mtls_prefix : "";
        }
        warn_source(c, &src);
        /* two dynamic sources collide when one prefix starts the other */
        for (j = 0; j < i && j < a->nissuers; j++) {
            other = a->issuers[j].principal_prefix != NULL ? a->issuers[j].principal_prefix : "";
            if (starts_with(src.prefix, other) || starts_with(other, src.prefix))
                log_warn("%s: %s and auth.issuers[%zu] can name the same principal (principal_"
                         "prefix \"%s\" and \"%s\"): both would be the same Spark user",
                         c->path, src.what, j, src.prefix, other);
        }
    }
}

/*
 * Reads a small secret file into a new buffer (trailing newline removed).
 * Returns 0, or an errno-style message in |why|.
 */
static int
read_secret(const char *file, char **out, size_t *len, const char **why)
{
    FILE *f = fopen(file, "rb");
    char *buf = NULL;
    size_t n;

    if (f == NULL) {
        *why = strerror(errno);
        return -1;
    }
    buf = malloc(AUTH_SECRET_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        *why = "out of memory";
        return -1;
    }
    n = fread(buf, 1, AUTH_SECRET_MAX + 1, f);
    fclose(f);
    if (n > AUTH_SECRET_MAX) {
        util_free_secret(buf, AUTH_SECRET_MAX + 1);
        *why = "larger than 64 KiB";
        return -1;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n == 0) {
        util_free_secret(buf, AUTH_SECRET_MAX + 1);
        *why = "empty";
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* Points the key path at auth.issuers[i](.key[j].file). */
static void
issuer_path(struct cfg_ctx *x, size_t i, const char *key, long j)
{
    cfgp_pop(x, 0);
    cfgp_push_key(x, "auth");
    cfgp_push_key(x, "issuers");
    cfgp_push_index(x, i);
    if (key != NULL)
        cfgp_push_key(x, key);
    if (j >= 0) {
        cfgp_push_index(x, (size_t)j);
        cfgp_push_key(x, "file");
    }
}

static void
on_drop(void *arg, const char *kid, const char *reason)
{
    const char *what = arg;

    log_warn("%s: dropped key \"%s\": %s", what, kid != NULL ? kid : "", reason);
}

/* Loads an issuer's file-based keys into is->static_keys. */
static int
load_issuer_keys(struct cfg_ctx *x, json_t *io, struct cfg_issuer *is, size_t i)
{
    char err[256], shown[CFG_SHOW_MAX + 4];
    struct auth_jwk_set *sets[64];
    size_t nsets = 0, j;
    const char *why;
    json_t *arr, *e;
    int rc = 0;

    if (json_object_get(io, "jwks_file") != NULL) {
        const char *file = json_string_value(json_object_get(io, "jwks_file"));
        char *buf = NULL;
        size_t len;

        issuer_path(x, i, "jwks_file", -1);
        if (read_secret(file, &buf, &len, &why) != 0)
            return cfgp_fail(x, "cannot read \"%s\": %s", cfgp_show(file, shown, sizeof(shown)),
                             why);
        sets[nsets] = auth_jwk_set_parse(buf, len, false, on_drop, (void *)(uintptr_t)file, err,
                                         sizeof(err));
        free(buf);
        if (sets[nsets] == NULL)
            return cfgp_fail(x, "%s: %s", cfgp_show(file, shown, sizeof(shown)), err);
        nsets++;
    }
    arr = json_object_get(io, "public_keys");
    json_array_foreach (arr, j, e) {
        const char *file = json_string_value(json_object_get(e, "file"));
        const char *kid = json_string_value(json_object_get(e, "kid"));
        char *buf = NULL;
        size_t len;

        if (nsets == ARRAY_SIZE(sets))
            break;
        issuer_path(x, i, "public_keys", (long)j);
        if (read_secret(file, &buf, &len, &why) != 0) {
            rc = cfgp_fail(x, "cannot read \"%s\": %s", cfgp_show(file, shown, sizeof(shown)), why);
            goto out;
        }
        sets[nsets] = auth_jwk_set_from_pem(buf, len, kid, err, sizeof(err));
        free(buf);
        if (sets[nsets] == NULL) {
            rc = cfgp_fail(x, "%s", err);
            goto out;
        }
        nsets++;
    }
    arr = json_object_get(io, "hmac_secrets");
    json_array_foreach (arr, j, e) {
        const char *file = json_string_value(json_object_get(e, "file"));
        const char *kid = json_string_value(json_object_get(e, "kid"));
        char *buf = NULL;
        size_t len;

        if (nsets == ARRAY_SIZE(sets))
            break;
        issuer_path(x, i, "hmac_secrets", (long)j);
        if (read_secret(file, &buf, &len, &why) != 0) {
            rc = cfgp_fail(x, "cannot read \"%s\": %s", cfgp_show(file, shown, sizeof(shown)), why);
            goto out;
        }
        if (len < 32) {
            util_free_secret(buf, AUTH_SECRET_MAX + 1);
            rc = cfgp_fail(x, "HMAC secret shorter than 32 bytes (RFC 7518 section 3.2)");
            goto out;
        }
        sets[nsets] = auth_jwk_set_from_secret((const uint8_t *)buf, len, kid);
        util_free_secret(buf, AUTH_SECRET_MAX + 1);
        if (sets[nsets] == NULL) {
            rc = cfgp_fail(x, "out of memory");
            goto out;
        }
        nsets++;
    }
    if (nsets > 0 && (is->static_keys = auth_jwk_set_merge(sets, nsets)) == NULL)
        rc = cfgp_fail(x, "out of memory");
out:
    for (j = 0; j < nsets; j++)
        auth_jwk_set_unref(sets[j]);
    return rc;
}

int
cfg_auth_load_files(struct cfg_ctx *x, json_t *root, struct cfg *c)
{
    char shown[CFG_SHOW_MAX + 4];
    json_t *issuers = json_object_get(json_object_get(root, "auth"), "issuers");
    json_t *backends = json_object_get(root, "backends");
    const char *why;
    size_t i;
    int rc;

    for (i = 0; i < c->auth.nissuers; i++) {
        struct cfg_issuer *is = &c->auth.issuers[i];

        if (is->jwks_ca != NULL && access(is->jwks_ca, R_OK) != 0) {
            issuer_path(x, i, "jwks_ca", -1);
            return cfgp_fail(x, "cannot read \"%s\": %s",
                             cfgp_show(is->jwks_ca, shown, sizeof(shown)), strerror(errno));
        }
        if ((rc = load_issuer_keys(x, json_array_get(issuers, i), is, i)) < 0)
            return rc;
    }
    if (c->auth.mtls && access(c->auth.mtls_ca, R_OK) != 0) {
        cfgp_pop(x, 0);
        cfgp_push_key(x, "auth");
        cfgp_push_key(x, "mtls");
        cfgp_push_key(x, "ca");
        return cfgp_fail(x, "cannot read \"%s\": %s",
                         cfgp_show(c->auth.mtls_ca, shown, sizeof(shown)), strerror(errno));
    }
    for (i = 0; i < c->nbackends; i++) {
        const char *file = json_string_value(
            json_object_get(json_array_get(backends, i), "preshared_token_file"));
        struct cfg_backend *b;

        if (file == NULL)
            continue;
        if (read_secret(file, &c->backends[i].preshared_token, &c->backends[i].preshared_token_len,
                        &why) != 0) {
            cfgp_pop(x, 0);
            cfgp_push_key(x, "backends");
            cfgp_push_index(x, i);
            cfgp_push_key(x, "preshared_token_file");
            return cfgp_fail(x, "cannot read \"%s\": %s", cfgp_show(file, shown, sizeof(shown)),
                             why);
        }
        /* the header value every call sends: built here, not per call */
        b = &c->backends[i];
        b->preshared_header_len = b->preshared_token_len + 7;
        if ((b->preshared_header = malloc(b->preshared_header_len + 1)) == NULL)
            return cfgp_fail(x, "out of memory");
        memcpy(b->preshared_header, "Bearer ", 7);
        memcpy(b->preshared_header + 7, b->preshared_token, b->preshared_token_len + 1);
    }
    cfgp_pop(x, 0);
    return 0;
}

void
cfg_auth_free(struct cfg *c)
{
    struct cfg_auth *a = &c->auth;
    size_t i, j;

    free_strv(a->header_names, a->nheader_names);
    for (i = 0; i < a->ntokens; i++) {
        free(a->tokens[i].principal);
        free(a->tokens[i].profile);
        free_strv(a->tokens[i].groups, a->tokens[i].ngroups);
    }
    free(a->tokens);
    free(a->static_prefix);
    for (i = 0; i < a->nissuers; i++) {
        struct cfg_issuer *is = &a->issuers[i];

        free(is->issuer);
        free_strv(is->audiences, is->naudiences);
        free(is->principal_claim);
        free(is->profile_claim);
        for (j = 0; j < is->nrules; j++) {
            free(is->rules[j].value);
            free(is->rules[j].profile);
        }
        free(is->rules);
        free(is->default_profile);
        free(is->principal_prefix);
        free(is->groups_claim);
        free(is->jwks_url);
        free(is->jwks_ca);
        auth_jwk_set_unref(is->static_keys);
    }
    free(a->issuers);
    free(a->default_profile);
    free(a->mtls_ca);
    free(a->mtls_profile);
    free(a->mtls_prefix);
    free_strv(a->deny_principals, a->ndeny_principals);
    free_strv(a->deny_groups, a->ndeny_groups);
    free_strv(a->strip_headers, a->nstrip_headers);
    free_strv(a->strip_prefixes, a->nstrip_prefixes);
    for (i = 0; i < c->nbackends; i++) {
        if (c->backends[i].preshared_token != NULL)
            util_free_secret(c->backends[i].preshared_token, AUTH_SECRET_MAX + 1);
        if (c->backends[i].preshared_header != NULL)
            util_free_secret(c->backends[i].preshared_header,
                             c->backends[i].preshared_header_len + 1);
    }
}
