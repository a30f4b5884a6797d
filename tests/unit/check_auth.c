/*
 * Unit tests for src/auth.c: the credential flow, static tokens, the
 * verified-token cache, JWT issuers with file keys (tokens signed here with
 * libjwt, independently of the verifier), and profile selection.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <check.h>
#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "auth.h"
#include "cfg.h"
#include "sg_err.h"
#include "util.h"
#include "check_suites.h"

#define ERRLEN 1024

static char tmpdir[256];

static void
setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sg-check-auth-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static void
sha_hex(const char *tok, char out[65])
{
    uint8_t d[32];

    EVP_Digest(tok, strlen(tok), d, NULL, EVP_sha256(), NULL);
    util_hex(d, 32, out);
}

static struct cfg *
load_text(const char *text)
{
    char err[ERRLEN];
    struct cfg *c = cfg_load_buf("t.json", text, strlen(text), true, err, sizeof(err));

    ck_assert_msg(c != NULL, "%s", err);
    return c;
}

static struct cfg *
static_cfg(void)
{
    char alice[65], bob[65], carol[65], text[2048];

    sha_hex("alice-token", alice);
    sha_hex("bob-token", bob);
    sha_hex("carol-token", carol);
    snprintf(text, sizeof(text),
             "{\"listen\":[{\"address\":\"127.0.0.1:1\",\"plaintext\":true}],"
             "\"backends\":[{\"name\":\"b\",\"address\":\"127.0.0.1:2\"}],"
             "\"auth\":{\"static_tokens\":["
             "{\"sha256\":\"%s\",\"principal\":\"alice\",\"profile\":\"analyst\"},"
             "{\"sha256\":\"%s\",\"principal\":\"bob\",\"profile\":\"analyst\",\"disabled\":true},"
             "{\"sha256\":\"%s\",\"principal\":\"carol\"}]}}",
             alice, bob, carol);
    return load_text(text);
}

/* auth_check from a credential header value sent |n| times, at |now|; the
 * verdict's kind becomes the gRPC status call.c answers with (16 or 7) */
static enum auth_result
check_at(struct cfg *c, struct auth_cache *cache, const char *cred, unsigned n, time_t now,
         struct auth_ident *id, int *status, char *msg)
{
    struct auth_cred cr = {(char *)(uintptr_t)cred, cred != NULL ? strlen(cred) : 0, n, false};
    struct auth_verdict v;

    auth_check(c, cache, NULL, &cr, NULL, now, false, &v);
    *id = v.id;
    *status = v.outcome != AUTH_REFUSED ? 0 : v.err == SG_ERR_DENIED ? 7 : 16;
    snprintf(msg, 512, "%s", v.msg);
    return v.outcome;
}

static enum auth_result
check(struct cfg *c, struct auth_cache *cache, const char *cred, unsigned n, struct auth_ident *id,
      int *status, char *msg)
{
    return check_at(c, cache, cred, n, time(NULL), id, status, msg);
}

START_TEST(tc_static_tokens)
{
    struct cfg *c = static_cfg();
    struct auth_ident id;
    char msg[512];
    int st;

    ck_assert_int_eq(check(c, NULL, "Bearer alice-token", 1, &id, &st, msg), AUTH_OK);
    ck_assert_str_eq(id.principal, "alice");
    ck_assert_str_eq(id.profile, "analyst");
    ck_assert_int_eq(id.via, AUTH_VIA_STATIC);
    /* the scheme is case-insensitive, extra spaces are tolerated (RFC 6750 b64token) */
    ck_assert_int_eq(check(c, NULL, "bearer   alice-token  ", 1, &id, &st, msg), AUTH_OK);
    /* near miss */
    ck_assert_int_eq(check(c, NULL, "Bearer alice-tokeN", 1, &id, &st, msg), AUTH_REFUSED);
    ck_assert_int_eq(st, 16);
    ck_assert_ptr_nonnull(strstr(msg, "invalid token"));
    ck_assert_ptr_null(strstr(msg, "alice-tokeN")); /* never echoed */
    ck_assert_int_eq(check(c, NULL, NULL, 0, &id, &st, msg), AUTH_REFUSED);
    ck_assert_int_eq(st, 16);
    ck_assert_ptr_nonnull(strstr(msg, "missing credentials"));
    ck_assert_int_eq(check(c, NULL, "Basic YWxpY2U6eA==", 1, &id, &st, msg), AUTH_REFUSED);
    ck_assert_ptr_nonnull(strstr(msg, "expected \"Bearer <token>\""));
    ck_assert_int_eq(check(c, NULL, "Bearer ", 1, &id, &st, msg), AUTH_REFUSED);
    ck_assert_int_eq(check(c, NULL, "Bearer alice-token", 2, &id, &st, msg), AUTH_REFUSED);
    ck_assert_ptr_nonnull(strstr(msg, "more than one credential header"));
    /* valid but not allowed */
    ck_assert_int_eq(check(c, NULL, "Bearer bob-token", 1, &id, &st, msg), AUTH_REFUSED);
    ck_assert_int_eq(st, 7);
    ck_assert_ptr_nonnull(strstr(msg, "\"bob\" is disabled"));
    ck_assert_int_eq(check(c, NULL, "Bearer carol-token", 1, &id, &st, msg), AUTH_REFUSED);
    ck_assert_int_eq(st, 7);
    ck_assert_ptr_nonnull(strstr(msg, "\"carol\" has no profile"));
    cfg_unref(c);
}
END_TEST

START_TEST(tc_oversized_token)
{
    struct cfg *c = static_cfg();
    struct auth_cache *cache = auth_cache_new(16);
    struct auth_ident id;
    uint64_t hits, misses;
    char msg[512], *big = malloc(20000);
    int st;

    ck_assert_uint_eq(c->auth.max_token_bytes, 8192);
    memcpy(big, "Bearer ", 7);
    memset(big + 7, 'a', 19000);
    big[19007] = '\0';
    ck_assert_int_eq(check(c, cache, big, 1, &id, &st, msg), AUTH_REFUSED);
    ck_assert_int_eq(st, 16);
    ck_assert_str_eq(msg, "sparkgate: token larger than auth.max_token_bytes (8192 bytes)");
    /* the limit is inclusive, counted without the scheme and the blanks around */
    big[7 + 8192] = '\0';
    ck_assert_int_eq(check(c, cache, big, 1, &id, &st, msg), AUTH_REFUSED);
    ck_assert_ptr_nonnull(strstr(msg, "invalid token"));
    memcpy(big + 7 + 8192, "  ", 3);
    ck_assert_int_eq(check(c, cache, big, 1, &id, &st, msg), AUTH_REFUSED);
    ck_assert_ptr_nonnull(strstr(msg, "invalid token"));
    memcpy(big + 7 + 8192, "a", 2);
    ck_assert_int_eq(check(c, cache, big, 1, &id, &st, msg), AUTH_REFUSED);
    ck_assert_ptr_nonnull(strstr(msg, "max_token_bytes"));
    /* refused before the digest: the cache was looked up for the two in-size ones only */
    auth_cache_stats(cache, &hits, &misses);
    ck_assert_uint_eq(hits + misses, 2);
    free(big);
    auth_cache_free(cache);
    cfg_unref(c);
}
END_TEST

START_TEST(tc_cache_and_generation)
{
    struct cfg *c1 = static_cfg(), *c2 = static_cfg();
    struct auth_cache *cache = auth_cache_new(64);
    struct auth_ident id;
    uint64_t hits, misses;
    char msg[512];
    int st;

    ck_assert_int_eq(check(c1, cache, "Bearer alice-token", 1, &id, &st, msg), AUTH_OK);
    ck_assert_int_eq(check(c1, cache, "Bearer alice-token", 1, &id, &st, msg), AUTH_OK);
    auth_cache_stats(cache, &hits, &misses);
    ck_assert_uint_eq(hits, 1);
    ck_assert_uint_eq(misses, 1);
    ck_assert_str_eq(id.principal, "alice");
    /* a new snapshot (reload) never trusts an entry verified under the old one */
    ck_assert_uint_ne(c1->generation, c2->generation);
    ck_assert_int_eq(check(c2, cache, "Bearer alice-token", 1, &id, &st, msg), AUTH_OK);
    auth_cache_stats(cache, &hits, &misses);
    ck_assert_uint_eq(misses, 2);
    /* refusals are not cached */
    ck_assert_int_eq(check(c2, cache, "Bearer nope", 1, &id, &st, msg), AUTH_REFUSED);
    ck_assert_int_eq(check(c2, cache, "Bearer nope", 1, &id, &st, msg), AUTH_REFUSED);
    auth_cache_stats(cache, &hits, &misses);
    ck_assert_uint_eq(hits, 1);
    auth_cache_free(cache);
    cfg_unref(c1);
    cfg_unref(c2);
}
END_TEST

START_TEST(tc_anonymous)
{
    struct cfg *c = load_text("{\"listen\":[{\"address\":\"127.0.0.1:1\",\"plaintext\":true}],"
                              "\"backends\":[{\"name\":\"b\",\"address\":\"127.0.0.1:2\"}]}");
    struct auth_ident id;
    char msg[512];
    int st;

    ck_assert(c->auth.anonymous);
    ck_assert_int_eq(check(c, NULL, NULL, 0, &id, &st, msg), AUTH_OK);
    ck_assert_str_eq(id.principal, "anonymous");
    cfg_unref(c);
}
END_TEST

/* An HS256 issuer with a secret file, tokens signed by libjwt. */
static struct cfg *
hs_cfg(const char *extra)
{
    char path[512], text[2048];
    FILE *f;

    snprintf(path, sizeof(path), "%s/hs.key", tmpdir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("0123456789abcdef0123456789abcdef-secret\n", f);
    fclose(f);
    snprintf(text, sizeof(text),
             "{\"listen\":[{\"address\":\"127.0.0.1:1\",\"plaintext\":true}],"
             "\"backends\":[{\"name\":\"b\",\"address\":\"127.0.0.1:2\"}],"
             "\"auth\":{\"issuers\":[{\"issuer\":\"https://idp.test/\","
             "\"audiences\":[\"sparkgate\"],\"algorithms\":[\"HS256\"],"
             "\"hmac_secrets\":[{\"kid\":\"h1\",\"file\":\"%s\"}],"
             "\"profile_claim\":\"groups\",\"profile_map\":["
             "{\"value\":\"ds\",\"profile\":\"data-scientist\"},"
             "{\"value\":\"an\",\"profile\":\"analyst\"}]%s}]}}",
             path, extra);
    return load_text(text);
}

static char *
mint_hs(const char *kid, const char *sub, const char *groups_json, long exp_delta)
{
    static const unsigned char key[] = "0123456789abcdef0123456789abcdef-secret";
    jwt_t *jwt = NULL;
    char *out;

    ck_assert_int_eq(jwt_new(&jwt), 0);
    ck_assert_int_eq(jwt_set_alg(jwt, JWT_ALG_HS256, key, sizeof(key) - 1), 0);
    jwt_add_header(jwt, "kid", kid);
    jwt_add_grant(jwt, "iss", "https://idp.test/");
    jwt_add_grant(jwt, "aud", "sparkgate");
    jwt_add_grant(jwt, "sub", sub);
    jwt_add_grant_int(jwt, "exp", (long)time(NULL) + exp_delta);
    if (groups_json != NULL)
        jwt_add_grants_json(jwt, groups_json);
    out = jwt_encode_str(jwt);
    jwt_free(jwt);
    ck_assert_ptr_nonnull(out);
    return out;
}

static enum auth_result
check_tok(struct cfg *c, struct auth_cache *cache, const char *tok, struct auth_ident *id, int *st,
          char *msg)
{
    char cred[4096];

    snprintf(cred, sizeof(cred), "Bearer %s", tok);
    return check(c, cache, cred, 1, id, st, msg);
}

START_TEST(tc_jwt_profiles)
{
    struct cfg *c = hs_cfg(",\"default_profile\":\"sql-only\"");
    struct auth_cache *cache = auth_cache_new(16);
    struct auth_ident id;
    char msg[512], *t;
    int st;

    t = mint_hs("h1", "alice@example.com", "{\"groups\":[\"x\",\"an\",\"ds\"]}", 300);
    ck_assert_int_eq(check_tok(c, cache, t, &id, &st, msg), AUTH_OK);
    ck_assert_str_eq(id.principal, "alice@example.com");
    /* first matching rule wins, in rule order (not claim order) */
    ck_assert_str_eq(id.profile, "data-scientist");
    ck_assert_int_eq(id.via, AUTH_VIA_JWT);
    ck_assert_int_gt(id.exp, time(NULL));
    free(t);
    t = mint_hs("h1", "bob", "{\"groups\":\"x an\"}", 300); /* scope-style string */
    ck_assert_int_eq(check_tok(c, cache, t, &id, &st, msg), AUTH_OK);
    ck_assert_str_eq(id.profile, "analyst");
    free(t);
    t = mint_hs("h1", "carol", NULL, 300);
    ck_assert_int_eq(check_tok(c, cache, t, &id, &st, msg), AUTH_OK);
    ck_assert_str_eq(id.profile, "sql-only");
    free(t);
    auth_cache_free(cache);
    cfg_unref(c);
}
END_TEST

START_TEST(tc_jwt_refusals)
{
    struct cfg *c = hs_cfg("");
    struct auth_ident id;
    char msg[512], *t;
    int st;

    t = mint_hs("h1", "carol", NULL, 300); /* no rule matches, no default */
    ck_assert_int_eq(check_tok(c, NULL, t, &id, &st, msg), AUTH_REFUSED);
    ck_assert_int_eq(st, 7);
    ck_assert_ptr_nonnull(strstr(msg, "has no profile"));
    free(t);
    t = mint_hs("h1", "alice", "{\"groups\":[\"ds\"]}", -3600);
    ck_assert_int_eq(check_tok(c, NULL, t, &id, &st, msg), AUTH_REFUSED);
    ck_assert_int_eq(st, 16);
    ck_assert_ptr_nonnull(strstr(msg, "expired"));
    free(t);
    t = mint_hs("h9", "alice", "{\"groups\":[\"ds\"]}", 300);
    ck_assert_int_eq(check_tok(c, NULL, t, &id, &st, msg), AUTH_REFUSED);
    ck_assert_ptr_nonnull(strstr(msg, "h9"));
    free(t);
    /* a JWT-shaped token from an issuer nobody configured */
    ck_assert_int_eq(check_tok(c, NULL, "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJodHRwczovL2V2aWwvIn0.c2ln",
                               &id, &st, msg),
                     AUTH_REFUSED);
    ck_assert_ptr_nonnull(strstr(msg, "not trusted"));
    cfg_unref(c);
}
END_TEST

/*
 * Static tokens and an HS256 issuer under one "auth": |auth_extra| is added
 * to "auth", |iss_extra| to the issuer.  Static principals: alice, bob,
 * carol (groups "staff", "contractors"), dave (groups "staff").
 */
static struct cfg *
id_cfg(const char *auth_extra, const char *iss_extra)
{
    char path[512], text[4096], h[4][65];
    static const char *const toks[] = {"alice-token", "bob-token", "carol-token", "dave-token"};
    FILE *f;
    int i;

    for (i = 0; i < 4; i++)
        sha_hex(toks[i], h[i]);
    snprintf(path, sizeof(path), "%s/hs.key", tmpdir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("0123456789abcdef0123456789abcdef-secret\n", f);
    fclose(f);
    snprintf(text, sizeof(text),
             "{\"listen\":[{\"address\":\"127.0.0.1:1\",\"plaintext\":true}],"
             "\"backends\":[{\"name\":\"b\",\"address\":\"127.0.0.1:2\"}],"
             "\"auth\":{\"default_profile\":\"p\",\"static_tokens\":["
             "{\"sha256\":\"%s\",\"principal\":\"alice\"},"
             "{\"sha256\":\"%s\",\"principal\":\"bob\"},"
             "{\"sha256\":\"%s\",\"principal\":\"carol\",\"groups\":[\"staff\",\"contractors\"]},"
             "{\"sha256\":\"%s\",\"principal\":\"dave\",\"groups\":[\"staff\"]}],"
             "\"issuers\":[{\"issuer\":\"https://idp.test/\",\"audiences\":[\"sparkgate\"],"
             "\"algorithms\":[\"HS256\"],\"default_profile\":\"p\","
             "\"hmac_secrets\":[{\"kid\":\"h1\",\"file\":\"%s\"}]%s}]%s}}",
             h[0], h[1], h[2], h[3], path, iss_extra, auth_extra);
    return load_text(text);
}

/* Each source's prefix is part of the principal: what the deny list, the
 * backend and the cache see. */
START_TEST(tc_principal_prefix)
{
    struct cfg *c = id_cfg(",\"static_principal_prefix\":\"svc:\"",
                           ",\"principal_prefix\":\"oidc:\"");
    struct auth_cache *cache = auth_cache_new(16);
    struct auth_ident id;
    char msg[512], *t;
    int st, i;

    for (i = 0; i < 2; i++) { /* miss, then hit */
        ck_assert_int_eq(check(c, cache, "Bearer alice-token", 1, &id, &st, msg), AUTH_OK);
        ck_assert_str_eq(id.principal, "svc:alice");
    }
    t = mint_hs("h1", "alice", NULL, 300);
    for (i = 0; i < 2; i++) {
        ck_assert_int_eq(check_tok(c, cache, t, &id, &st, msg), AUTH_OK);
        ck_assert_str_eq(id.principal, "oidc:alice");
        ck_assert_int_eq(id.via, AUTH_VIA_JWT);
    }
    free(t);
    /* a principal that no longer fits with its prefix is refused, not cut */
    {
        char sub[260];

        memset(sub, 'x', 252);
        sub[252] = '\0';
        t = mint_hs("h1", sub, NULL, 300);
        ck_assert_int_eq(check_tok(c, cache, t, &id, &st, msg), AUTH_REFUSED);
        ck_assert_int_eq(st, 16);
        ck_assert_ptr_nonnull(strstr(msg, "too long"));
        free(t);
    }
    auth_cache_free(cache);
    cfg_unref(c);
}
END_TEST

START_TEST(tc_deny)
{
    struct cfg *c = id_cfg(",\"static_principal_prefix\":\"svc:\","
                           "\"deny\":{\"principals\":[\"svc:bob\",\"oidc:mallory\",\"alice\"],"
                           "\"groups\":[\"contractors\"]}",
                           ",\"principal_prefix\":\"oidc:\",\"groups_claim\":\"roles\"");
    struct auth_ident id;
    char msg[512], *t;
    int st;

    ck_assert_int_eq(check(c, NULL, "Bearer bob-token", 1, &id, &st, msg), AUTH_REFUSED);
    ck_assert_int_eq(st, 7);
    ck_assert_str_eq(msg, "sparkgate: principal \"svc:bob\" is denied (auth.deny)");
    ck_assert_int_eq(check(c, NULL, "Bearer carol-token", 1, &id, &st, msg), AUTH_REFUSED);
    ck_assert_str_eq(msg, "sparkgate: principal \"svc:carol\" is denied (auth.deny)");
    /* "alice" names no prefixed principal */
    ck_assert_int_eq(check(c, NULL, "Bearer alice-token", 1, &id, &st, msg), AUTH_OK);
    ck_assert_int_eq(check(c, NULL, "Bearer dave-token", 1, &id, &st, msg), AUTH_OK);

    t = mint_hs("h1", "mallory", NULL, 300);
    ck_assert_int_eq(check_tok(c, NULL, t, &id, &st, msg), AUTH_REFUSED);
    ck_assert_int_eq(st, 7);
    ck_assert_str_eq(msg, "sparkgate: principal \"oidc:mallory\" is denied (auth.deny)");
    free(t);
    /* the groups claim is "roles": an array, or a space-separated string */
    t = mint_hs("h1", "erin", "{\"roles\":[\"staff\",\"contractors\"]}", 300);
    ck_assert_int_eq(check_tok(c, NULL, t, &id, &st, msg), AUTH_REFUSED);
    ck_assert_str_eq(msg, "sparkgate: principal \"oidc:erin\" is denied (auth.deny)");
    free(t);
    t = mint_hs("h1", "fay", "{\"roles\":\"staff contractors\"}", 300);
    ck_assert_int_eq(check_tok(c, NULL, t, &id, &st, msg), AUTH_REFUSED);
    free(t);
    /* other claims are not groups */
    t = mint_hs("h1", "gus", "{\"groups\":[\"contractors\"],\"roles\":[\"contractor\"]}", 300);
    ck_assert_int_eq(check_tok(c, NULL, t, &id, &st, msg), AUTH_OK);
    ck_assert_str_eq(id.principal, "oidc:gus");
    free(t);
    cfg_unref(c);
}
END_TEST

/* Without groups_claim, the profile_claim's values are the groups. */
START_TEST(tc_deny_groups_from_profile_claim)
{
    struct cfg *c = id_cfg(",\"deny\":{\"groups\":[\"contractors\"]}",
                           ",\"profile_claim\":\"groups\"");
    struct auth_ident id;
    char msg[512], *t;
    int st;

    t = mint_hs("h1", "erin", "{\"groups\":[\"contractors\"]}", 300);
    ck_assert_int_eq(check_tok(c, NULL, t, &id, &st, msg), AUTH_REFUSED);
    ck_assert_str_eq(msg, "sparkgate: principal \"erin\" is denied (auth.deny)");
    free(t);
    cfg_unref(c);
}
END_TEST

/* A reload's deny list applies to tokens verified (and cached) before it. */
START_TEST(tc_deny_after_reload_beats_cache)
{
    struct cfg *c1 = id_cfg("", "");
    struct cfg *c2 = id_cfg(",\"deny\":{\"principals\":[\"dave\",\"zed\"]}", "");
    struct auth_cache *cache = auth_cache_new(64);
    struct auth_ident id;
    char msg[512], *t;
    int st;

    t = mint_hs("h1", "zed", NULL, 300);
    ck_assert_int_eq(check(c1, cache, "Bearer dave-token", 1, &id, &st, msg), AUTH_OK);
    ck_assert_int_eq(check(c1, cache, "Bearer dave-token", 1, &id, &st, msg), AUTH_OK);
    ck_assert_int_eq(check_tok(c1, cache, t, &id, &st, msg), AUTH_OK);
    ck_assert_int_eq(check_tok(c1, cache, t, &id, &st, msg), AUTH_OK);
    ck_assert_int_eq(check(c2, cache, "Bearer dave-token", 1, &id, &st, msg), AUTH_REFUSED);
    ck_assert_int_eq(st, 7);
    ck_assert_int_eq(check_tok(c2, cache, t, &id, &st, msg), AUTH_REFUSED);
    ck_assert_int_eq(st, 7);
    free(t);
    auth_cache_free(cache);
    cfg_unref(c1);
    cfg_unref(c2);
}
END_TEST

/* The cache must not outlive the token: an entry expires at exp. */
START_TEST(tc_cache_respects_exp)
{
    struct cfg *c = hs_cfg(",\"default_profile\":\"p\",\"clock_skew_s\":0");
    struct auth_cache *cache = auth_cache_new(16);
    struct auth_ident id;
    char msg[512], cred[4096], *t;
    int st;

    t = mint_hs("h1", "alice", NULL, 2);
    snprintf(cred, sizeof(cred), "Bearer %s", t);
    ck_assert_int_eq(check_at(c, cache, cred, 1, time(NULL), &id, &st, msg), AUTH_OK);
    /* 10 s later: the cached entry is dead and the verifier says expired */
    ck_assert_int_eq(check_at(c, cache, cred, 1, time(NULL) + 10, &id, &st, msg), AUTH_REFUSED);
    ck_assert_ptr_nonnull(strstr(msg, "expired"));
    free(t);
    auth_cache_free(cache);
    cfg_unref(c);
}
END_TEST

/* Credential headers are gathered by auth: counted, the first kept, an oversized one flagged. */
START_TEST(tc_cred_gathering)
{
    struct cfg *c = static_cfg();
    struct auth_cred cr;
    struct auth_verdict v;
    static char big[AUTH_CRED_MAX + 1];

    ck_assert(auth_cred_header(&c->auth, (const uint8_t *)"authorization", 13));
    ck_assert(!auth_cred_header(&c->auth, (const uint8_t *)"authorizatio", 12));
    ck_assert(!auth_cred_header(&c->auth, (const uint8_t *)"x-other", 7));

    memset(&cr, 0, sizeof(cr));
    ck_assert_int_eq(auth_cred_add(&cr, (const uint8_t *)"Bearer alice-token", 18), SG_OK);
    ck_assert_int_eq(auth_check(c, NULL, NULL, &cr, NULL, time(NULL), false, &v), AUTH_OK);
    ck_assert_int_eq(v.err, SG_OK);
    ck_assert_str_eq(v.id.principal, "alice");
    /* a second credential, even a valid one, is refused as ambiguous */
    ck_assert_int_eq(auth_cred_add(&cr, (const uint8_t *)"Bearer carol-token", 18), SG_OK);
    ck_assert_uint_eq(cr.n, 2);
    ck_assert_str_eq(cr.value, "Bearer alice-token");
    ck_assert_int_eq(auth_check(c, NULL, NULL, &cr, NULL, time(NULL), false, &v), AUTH_REFUSED);
    ck_assert_int_eq(v.err, SG_ERR_AUTH);
    ck_assert_ptr_nonnull(strstr(v.msg, "more than one credential"));
    auth_cred_clear(&cr);
    ck_assert_ptr_null(cr.value);
    ck_assert_uint_eq(cr.n, 0);

    /* one oversized header is not kept, and refused as too large, not as missing */
    memset(big, 'a', sizeof(big));
    ck_assert_int_eq(auth_cred_add(&cr, (const uint8_t *)big, sizeof(big)), SG_OK);
    ck_assert_ptr_null(cr.value);
    ck_assert(cr.too_long);
    ck_assert_int_eq(auth_check(c, NULL, NULL, &cr, NULL, time(NULL), false, &v), AUTH_REFUSED);
    ck_assert_int_eq(v.err, SG_ERR_AUTH);
    ck_assert_ptr_nonnull(strstr(v.msg, "token larger than auth.max_token_bytes"));
    auth_cred_clear(&cr);
    cfg_unref(c);
}
END_TEST

/* The verdict names the kind of refusal, never a protocol status. */
START_TEST(tc_verdict_kinds)
{
    struct cfg *c = static_cfg();
    struct auth_cred cr = {NULL, 0, 0, false};
    struct auth_verdict v;

    ck_assert_int_eq(auth_check(c, NULL, NULL, &cr, NULL, time(NULL), false, &v), AUTH_REFUSED);
    ck_assert_int_eq(v.outcome, AUTH_REFUSED);
    ck_assert_int_eq(v.err, SG_ERR_AUTH); /* who is calling is not known */
    ck_assert_int_eq(auth_cred_add(&cr, (const uint8_t *)"Bearer bob-token", 16), SG_OK);
    ck_assert_int_eq(auth_check(c, NULL, NULL, &cr, NULL, time(NULL), false, &v), AUTH_REFUSED);
    ck_assert_int_eq(v.err, SG_ERR_DENIED); /* known (bob), disabled */
    ck_assert_str_eq(v.id.principal, "bob");
    auth_cred_clear(&cr);
    cfg_unref(c);
}
END_TEST

/* A self-signed certificate with subject CN |cn| (the verify result is the caller's). */
static X509 *
make_cert(const char *cn)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    X509_NAME *nm;

    ck_assert_ptr_nonnull(k);
    ck_assert_ptr_nonnull(x);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    nm = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, nm);
    ck_assert_int_gt(X509_sign(x, k, EVP_sha256()), 0);
    EVP_PKEY_free(k);
    return x;
}

/* mTLS: the certificate and its verification come in as data, not as a TLS session. */
START_TEST(tc_mtls_peer)
{
    struct cfg *c = load_text("{\"listen\":[{\"address\":\"127.0.0.1:1\",\"plaintext\":true}],"
                              "\"backends\":[{\"name\":\"b\",\"address\":\"127.0.0.1:2\"}],"
                              "\"auth\":{\"default_profile\":\"p\",\"mtls\":{\"ca\":\"/dev/null\","
                              "\"principal_prefix\":\"cert:\"}}}");
    struct auth_cred cr = {NULL, 0, 0, false};
    struct auth_peer peer = {NULL, X509_V_OK};
    struct auth_verdict v;
    X509 *x = make_cert("carol");

    /* not a TLS connection: only a token could do */
    ck_assert_int_eq(auth_check(c, NULL, NULL, &cr, NULL, time(NULL), false, &v), AUTH_REFUSED);
    ck_assert_ptr_null(strstr(v.msg, "client certificate"));
    /* TLS without a certificate */
    ck_assert_int_eq(auth_check(c, NULL, NULL, &cr, &peer, time(NULL), false, &v), AUTH_REFUSED);
    ck_assert_int_eq(v.err, SG_ERR_AUTH);
    ck_assert_ptr_nonnull(strstr(v.msg, "or a client certificate"));
    peer.cert = x;
    ck_assert_int_eq(auth_check(c, NULL, NULL, &cr, &peer, time(NULL), false, &v), AUTH_OK);
    ck_assert_str_eq(v.id.principal, "cert:carol");
    ck_assert_str_eq(v.id.profile, "p");
    ck_assert_int_eq(v.id.via, AUTH_VIA_MTLS);
    peer.verify_result = X509_V_ERR_CERT_HAS_EXPIRED;
    ck_assert_int_eq(auth_check(c, NULL, NULL, &cr, &peer, time(NULL), false, &v), AUTH_REFUSED);
    ck_assert_int_eq(v.err, SG_ERR_AUTH);
    ck_assert_ptr_nonnull(strstr(v.msg, "client certificate not trusted"));
    X509_free(x);
    cfg_unref(c);
}
END_TEST

Suite *
auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("auth");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, tc_static_tokens);
    tcase_add_test(tc, tc_oversized_token);
    tcase_add_test(tc, tc_cache_and_generation);
    tcase_add_test(tc, tc_anonymous);
    tcase_add_test(tc, tc_jwt_profiles);
    tcase_add_test(tc, tc_jwt_refusals);
    tcase_add_test(tc, tc_cache_respects_exp);
    tcase_add_test(tc, tc_principal_prefix);
    tcase_add_test(tc, tc_deny);
    tcase_add_test(tc, tc_deny_groups_from_profile_claim);
    tcase_add_test(tc, tc_deny_after_reload_beats_cache);
    tcase_add_test(tc, tc_cred_gathering);
    tcase_add_test(tc, tc_verdict_kinds);
    tcase_add_test(tc, tc_mtls_peer);
    suite_add_tcase(s, tc);
    return s;
}
