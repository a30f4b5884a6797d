/*
 * auth_jwk.c: key sets for auth_jwt.c (see auth_jwk.h).  JWKS documents
 * (RFC 7517, 7518 §6, RFC 8037), PEM public keys and configured HMAC
 * secrets become immutable, refcounted sets of EVP_PKEY, parsed and checked
 * once, so verifying a token never parses a key.
 *
 * Pure: no I/O, no logging (a key that cannot be used is reported through
 * the caller's drop callback and left out), no global state.  What a key
 * may verify is decided here from its type and size, never from its
 * optional "alg" alone.  Every OpenSSL failure is popped off the thread's
 * error queue before returning: the caller may be a worker thread whose
 * next SSL_get_error() must not see our leftovers.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "auth_jwk.h"

#define AUTH_JWKS_MAX_KEYS 256      /* keys beyond this in one document are dropped */
#define AUTH_JWK_RSA_MIN_BITS 2048  /* NIST SP 800-131A: below is not acceptable */
#define AUTH_JWK_RSA_MAX_BITS 16384 /* OpenSSL's own verification limit */
#define AUTH_JWK_RSA_MAX_E 32       /* bytes: SP 800-56B caps e below 2^256 */
#define AUTH_JWK_SECRET_MAX 4096    /* bytes of an "oct" key */
#define AUTH_JWK_WHY_MAX 160

/* The curves ES256/384/512 are defined on (RFC 7518 §3.4), by JWK "crv" name. */
struct jwk_curve {
    const char *crv;   /* JWK name */
    const char *group; /* OpenSSL group name */
    int nid;
    size_t coord_len; /* bytes of x and y (RFC 7518 §6.2.1.2: full length, zero-padded) */
};

static const struct jwk_curve jwk_curves[] = {
    {"P-256", "prime256v1", NID_X9_62_prime256v1, 32},
    {"P-384", "secp384r1", NID_secp384r1, 48},
    {"P-521", "secp521r1", NID_secp521r1, 66},
};

#define CURVE_COUNT (sizeof(jwk_curves) / sizeof(jwk_curves[0]))

/* Copies |msg| into |err| as one printable line: jansson's messages quote
 * the offending input, which may hold newlines or any other byte. */
static void
set_err(char *err, size_t errlen, const char *msg)
{
    size_t i;

    if (err == NULL || errlen == 0)
        return;
    for (i = 0; msg[i] != '\0' && i + 1 < errlen; i++)
        err[i] = (unsigned char)msg[i] < 0x20 || (unsigned char)msg[i] > 0x7e ? '?' : msg[i];
    err[i] = '\0';
}

static struct auth_jwk_set *
set_new(size_t cap)
{
    struct auth_jwk_set *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->refcnt = 1;
    if (cap > 0) {
        s->keys = calloc(cap, sizeof(*s->keys));
        if (s->keys == NULL) {
            free(s);
            return NULL;
        }
    }
    return s;
}

static void
key_clear(struct auth_jwk *k)
{
    EVP_PKEY_free(k->pkey);
    k->pkey = NULL;
    /* HMAC secrets are wiped: the set may be freed long after a reload */
    OPENSSL_clear_free(k->secret, k->secret_len);
    k->secret = NULL;
    k->secret_len = 0;
}

struct auth_jwk_set *
auth_jwk_set_ref(struct auth_jwk_set *s)
{
    if (s != NULL)
        __atomic_add_fetch(&s->refcnt, 1, __ATOMIC_RELAXED);
    return s;
}

void
auth_jwk_set_unref(struct auth_jwk_set *s)
{
    size_t i;

    if (s == NULL || __atomic_sub_fetch(&s->refcnt, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (i = 0; i < s->nkeys; i++)
        key_clear(&s->keys[i]);
    free(s->keys);
    free(s);
}

const struct auth_jwk *
auth_jwk_set_find(const struct auth_jwk_set *s, const char *kid)
{
    size_t i;

    if (s == NULL || kid == NULL || kid[0] == '\0')
        return NULL;
    /* sets are a handful of keys; a linear scan beats any index here */
    for (i = 0; i < s->nkeys; i++) {
        if (strcmp(s->keys[i].kid, kid) == 0)
            return &s->keys[i];
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* key checks shared by JWK and PEM */

static bool
pkey_public_check(EVP_PKEY *pkey)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok;

    if (ctx == NULL)
        return false;
    ok = EVP_PKEY_public_check(ctx);
    EVP_PKEY_CTX_free(ctx);
    return ok == 1;
}

static const struct jwk_curve *
curve_by_group(const char *group)
{
    size_t i;

    for (i = 0; i < CURVE_COUNT; i++) {
        if (strcmp(jwk_curves[i].group, group) == 0 || strcmp(jwk_curves[i].crv, group) == 0)
            return &jwk_curves[i];
    }
    return NULL;
}

/*
 * Takes |pkey| into |k| (owned by |k| from then on, whatever the result)
 * and decides whether it is good enough to verify with: RSA of 2048 to
 * 16384 bits with an odd e >= 65537, EC on P-256/384/521 with a point on
 * the curve, Ed25519.  Returns NULL, or why the key must be dropped.
 */
static const char *
key_adopt(struct auth_jwk *k, EVP_PKEY *pkey, char *why, size_t whylen)
{
    const struct jwk_curve *c;
    char group[64];
    BIGNUM *e = NULL;
    const char *bad = NULL;

    k->pkey = pkey;
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
        k->type = AUTH_JWK_RSA;
        k->bits = EVP_PKEY_get_bits(pkey);
        if (k->bits < AUTH_JWK_RSA_MIN_BITS) {
            snprintf(why, whylen, "RSA key of %d bits is too weak (minimum %d)", k->bits,
                     AUTH_JWK_RSA_MIN_BITS);
            return why;
        }
        if (k->bits > AUTH_JWK_RSA_MAX_BITS)
            return "RSA key longer than 16384 bits";
        if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
            return "RSA key without exponent";
        /* e = 3 invites Bleichenbacher-style forgeries on sloppy verifiers; e = 1 is
         * no signature at all.  Every real issuer uses 65537. */
        if (!BN_is_odd(e) || BN_num_bits(e) < 17 || BN_num_bytes(e) > AUTH_JWK_RSA_MAX_E)
            bad = "RSA exponent must be odd, at least 65537";
        BN_free(e);
        if (bad != NULL)
            return bad;
        break;
    case EVP_PKEY_EC:
        k->type = AUTH_JWK_EC;
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                           NULL) != 1 ||
            (c = curve_by_group(group)) == NULL)
            return "unsupported curve (P-256, P-384 and P-521 only)";
        k->curve_nid = c->nid;
        break;
    case EVP_PKEY_ED25519:
        k->type = AUTH_JWK_OKP;
        break;
    default:
        return "unsupported key type (RSA, EC and Ed25519 only)";
    }
    /* SP 800-56A 5.6.2.3: for EC, the point is on the curve and not infinity */
    if (!pkey_public_check(pkey))
        return k->type == AUTH_JWK_EC ? "EC point is not on the curve" : "public key check failed";
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* JWK */

/*
 * Decodes the base64url string member |name| of |o| into |out| (|cap|
 * bytes).  Returns the decoded length, or -1 with |*why| set.
 */
static long
b64_member(const json_t *o, const char *name, uint8_t *out, size_t cap, const char **why)
{
    const json_t *v = json_object_get(o, name);
    size_t n;
    long r;

    if (!json_is_string(v)) {
        *why = "missing or non-string key member";
        return -1;
    }
    n = json_string_length(v);
    if (n == 0 || n / 4 * 3 + 2 > cap) {
        *why = "key member of a wrong length";
        return -1;
    }
    r = jose_b64url_decode(json_string_value(v), n, out);
    if (r <= 0)
        *why = "key member is not base64url";
    return r;
}

static EVP_PKEY *
fromdata(const char *type, OSSL_PARAM *params)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;

    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/* RFC 7518 §6.3.1: "n" and "e", big-endian unsigned, base64url. */
static const char *
jwk_rsa(const json_t *o, struct auth_jwk *k, char *why, size_t whylen)
{
    uint8_t nb[AUTH_JWK_RSA_MAX_BITS / 8 + 8], eb[AUTH_JWK_RSA_MAX_E + 8];
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    BIGNUM *n = NULL, *e = NULL;
    EVP_PKEY *pkey = NULL;
    const char *bad = NULL;
    long nl, el;

    nl = b64_member(o, "n", nb, sizeof(nb), &bad);
    if (nl < 0)
        return bad;
    el = b64_member(o, "e", eb, sizeof(eb), &bad);
    if (el < 0)
        return bad;
    n = BN_bin2bn(nb, (int)nl, NULL);
    e = BN_bin2bn(eb, (int)el, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (n == NULL || e == NULL || bld == NULL ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1 ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
        bad = "out of memory";
        goto out;
    }
    pkey = fromdata("RSA", params);
    if (pkey == NULL) {
        bad = "not a valid RSA public key";
        goto out;
    }
    bad = key_adopt(k, pkey, why, whylen);

out:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return bad;
}

/* RFC 7518 §6.2.1: "crv", "x", "y", coordinates of exactly the field size. */
static const char *
jwk_ec(const json_t *o, struct auth_jwk *k, char *why, size_t whylen)
{
    uint8_t pub[1 + 2 * 66], xy[66 + 8];
    const struct jwk_curve *c = NULL;
    const json_t *crv = json_object_get(o, "crv");
    const char *bad = NULL;
    OSSL_PARAM params[3];
    EVP_PKEY *pkey;
    size_t i;
    long r;

    if (!json_is_string(crv))
        return "EC key without crv";
    for (i = 0; i < CURVE_COUNT; i++) {
        if (strcmp(json_string_value(crv), jwk_curves[i].crv) == 0)
            c = &jwk_curves[i];
    }
    if (c == NULL)
        return "unsupported curve (P-256, P-384 and P-521 only)";
    /* SEC 1 §2.3.3 uncompressed point: 04 || x || y */
    pub[0] = 0x04;
    r = b64_member(o, "x", xy, sizeof(xy), &bad);
    if (r < 0)
        return bad;
    if ((size_t)r != c->coord_len)
        return "EC coordinate x of a wrong length";
    memcpy(pub + 1, xy, c->coord_len);
    r = b64_member(o, "y", xy, sizeof(xy), &bad);
    if (r < 0)
        return bad;
    if ((size_t)r != c->coord_len)
        return "EC coordinate y of a wrong length";
    memcpy(pub + 1 + c->coord_len, xy, c->coord_len);

    /* OSSL_PARAM_construct_utf8_string takes a non-const buffer it does not modify */
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *)(uintptr_t)c->group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub,
                                                  1 + 2 * c->coord_len);
    params[2] = OSSL_PARAM_construct_end();
    /* OpenSSL refuses a point that is not on the curve already here */
    pkey = fromdata("EC", params);
    if (pkey == NULL)
        return "EC point is not on the curve";
    return key_adopt(k, pkey, why, whylen);
}

/* RFC 8037 §2: "crv" Ed25519 and "x", the 32-byte public key. */
static const char *
jwk_okp(const json_t *o, struct auth_jwk *k, char *why, size_t whylen)
{
    const json_t *crv = json_object_get(o, "crv");
    const char *bad = NULL;
    uint8_t x[32 + 8];
    EVP_PKEY *pkey;
    long r;

    if (!json_is_string(crv) || strcmp(json_string_value(crv), "Ed25519") != 0)
        return "unsupported OKP curve (Ed25519 only)";
    r = b64_member(o, "x", x, sizeof(x), &bad);
    if (r < 0)
        return bad;
    if (r != 32)
        return "Ed25519 key of a wrong length";
    pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, x, 32);
    if (pkey == NULL)
        return "not a valid Ed25519 public key";
    return key_adopt(k, pkey, why, whylen);
}

/* RFC 7518 §6.4: "k", the secret. */
static const char *
jwk_oct(const json_t *o, struct auth_jwk *k)
{
    uint8_t buf[AUTH_JWK_SECRET_MAX + 8];
    const char *bad = NULL;
    long r;

    r = b64_member(o, "k", buf, sizeof(buf), &bad);
    if (r < 0)
        return bad;
    /* RFC 7518 §3.2: at least as long as the shortest hash (HS256) */
    if (r < 32) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return "HMAC secret shorter than 32 bytes";
    }
    k->type = AUTH_JWK_OCT;
    k->secret = OPENSSL_memdup(buf, (size_t)r);
    k->secret_len = (size_t)r;
    OPENSSL_cleanse(buf, sizeof(buf));
    if (k->secret == NULL) {
        k->secret_len = 0;
        return "out of memory";
    }
    return NULL;
}

/* RFC 7517 §4.2 / §4.3: a key for anything but verifying signatures is not ours. */
static const char *
jwk_usage(const json_t *o)
{
    const json_t *use = json_object_get(o, "use"), *ops = json_object_get(o, "key_ops"), *m;
    bool verify = false;
    size_t i;

    if (use != NULL && (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0))
        return "\"use\" is not \"sig\"";
    if (ops != NULL) {
        if (!json_is_array(ops))
            return "\"key_ops\" is not an array";
        json_array_foreach (ops, i, m) {
            if (json_is_string(m) && strcmp(json_string_value(m), "verify") == 0)
                verify = true;
        }
        if (!verify)
            return "\"key_ops\" does not include \"verify\"";
    }
    return NULL;
}

/*
 * Builds |k| from the JWK object |o|.  Returns NULL, or why the key is
 * dropped (|k| may then hold a partial key: the caller clears it).
 */
static const char *
jwk_parse(const json_t *o, bool allow_oct, struct auth_jwk *k, char *why, size_t whylen)
{
    const json_t *kty, *kid, *alg;
    const char *bad, *t;
    size_t n;

    if (!json_is_object(o))
        return "not a JSON object";
    kid = json_object_get(o, "kid");
    if (kid != NULL) {
        if (!json_is_string(kid))
            return "\"kid\" is not a string";
        n = json_string_length(kid);
        if (n >= sizeof(k->kid))
            return "\"kid\" is too long";
        memcpy(k->kid, json_string_value(kid), n + 1);
    }
    kty = json_object_get(o, "kty");
    if (!json_is_string(kty))
        return "no \"kty\"";
    t = json_string_value(kty);
    bad = jwk_usage(o);
    if (bad != NULL)
        return bad;
    alg = json_object_get(o, "alg");
    if (alg != NULL) {
        k->alg = json_is_string(alg) ? jose_alg_from_name(json_string_value(alg)) : 0;
        if (k->alg == 0)
            return "unsupported \"alg\"";
    }
    /* a JWKS is public: private material in it means the issuer's key is compromised */
    if (strcmp(t, "oct") != 0 && json_object_get(o, "d") != NULL)
        return "contains a private key (\"d\")";

    if (strcmp(t, "RSA") == 0) {
        bad = jwk_rsa(o, k, why, whylen);
    } else if (strcmp(t, "EC") == 0) {
        bad = jwk_ec(o, k, why, whylen);
    } else if (strcmp(t, "OKP") == 0) {
        bad = jwk_okp(o, k, why, whylen);
    } else if (strcmp(t, "oct") == 0) {
        /* symmetric keys from a document that may come from a URL would let
         * whoever serves it mint tokens: only from explicit configuration */
        if (!allow_oct)
            return "symmetric (\"oct\") keys are not accepted here";
        bad = jwk_oct(o, k);
    } else {
        return "unsupported \"kty\"";
    }
    if (bad != NULL)
        return bad;
    if (k->alg != 0 && !auth_jwk_fits_alg(k, k->alg)) {
        snprintf(why, whylen, "\"alg\" %s does not fit this key", jose_alg_name(k->alg));
        return why;
    }
    return NULL;
}

struct auth_jwk_set *
auth_jwk_set_parse(const char *json, size_t len, bool allow_oct, auth_jwk_drop_cb *drop, void *arg,
                   char *err, size_t errlen)
{
    char why[AUTH_JWK_WHY_MAX], msg[256];
    struct auth_jwk_set *s = NULL;
    json_t *doc = NULL, *keys, *o;
    const json_t *kid;
    const char *bad;
    json_error_t jerr;
    size_t i, n = 0;

    if (json == NULL || memchr(json, '\0', len) != NULL) {
        set_err(err, errlen, "JWKS contains a NUL byte");
        return NULL;
    }
    doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        snprintf(msg, sizeof(msg), "JWKS is not valid JSON: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
        set_err(err, errlen, msg);
        return NULL;
    }
    keys = json_object_get(doc, "keys");
    if (!json_is_array(keys)) {
        set_err(err, errlen, "JWKS has no \"keys\" array");
        goto out;
    }
    n = json_array_size(keys);
    s = set_new(n < AUTH_JWKS_MAX_KEYS ? n : AUTH_JWKS_MAX_KEYS);
    if (s == NULL) {
        set_err(err, errlen, "out of memory");
        goto out;
    }

    ERR_set_mark();
    json_array_foreach (keys, i, o) {
        struct auth_jwk *k = &s->keys[s->nkeys];

        kid = json_is_object(o) ? json_object_get(o, "kid") : NULL;
        if (s->nkeys == AUTH_JWKS_MAX_KEYS) {
            bad = "too many keys in one JWKS";
        } else {
            memset(k, 0, sizeof(*k));
            bad = jwk_parse(o, allow_oct, k, why, sizeof(why));
            /* RFC 7517 §4.5: kids should be unique; a token's kid must name one key */
            if (bad == NULL && auth_jwk_set_find(s, k->kid) != NULL)
                bad = "duplicate \"kid\" (an earlier key has it)";
            if (bad != NULL)
                key_clear(k);
            else
                s->nkeys++;
        }
        if (bad != NULL && drop != NULL)
            drop(arg, json_is_string(kid) ? json_string_value(kid) : "", bad);
    }
    ERR_pop_to_mark();

out:
    json_decref(doc);
    return s;
}

/* ------------------------------------------------------------------------ */
/* PEM, secrets, merge */

static bool
kid_ok(const char *kid)
{
    return kid == NULL || strlen(kid) < AUTH_JWK_KID_MAX;
}

struct auth_jwk_set *
auth_jwk_set_from_pem(const char *pem, size_t len, const char *kid, char *err, size_t errlen)
{
    char why[AUTH_JWK_WHY_MAX], msg[256];
    struct auth_jwk_set *s = NULL;
    EVP_PKEY *pkey = NULL;
    const char *bad, *rest;
    BIO *bio = NULL;
    long restlen;

    if (!kid_ok(kid)) {
        set_err(err, errlen, "kid is too long");
        return NULL;
    }
    if (pem == NULL || len == 0 || len > INT_MAX) {
        set_err(err, errlen, "empty PEM");
        return NULL;
    }
    ERR_set_mark();
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL) {
        set_err(err, errlen, "out of memory");
        goto out;
    }
    pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    if (pkey == NULL) {
        set_err(err, errlen, "no PEM public key (expected -----BEGIN PUBLIC KEY-----)");
        goto out;
    }
    /* one key per set: a second block would be silently ignored otherwise */
    restlen = BIO_get_mem_data(bio, &rest);
    if (restlen > 0 && memmem(rest, (size_t)restlen, "-----BEGIN", 10) != NULL) {
        set_err(err, errlen, "more than one PEM block (one key per file)");
        goto out;
    }
    s = set_new(1);
    if (s == NULL) {
        set_err(err, errlen, "out of memory");
        goto out;
    }
    bad = key_adopt(&s->keys[0], pkey, why, sizeof(why));
    pkey = NULL;
    if (bad != NULL) {
        snprintf(msg, sizeof(msg), "unusable public key: %s", bad);
        set_err(err, errlen, msg);
        key_clear(&s->keys[0]);
        auth_jwk_set_unref(s);
        s = NULL;
        goto out;
    }
    snprintf(s->keys[0].kid, sizeof(s->keys[0].kid), "%s", kid != NULL ? kid : "");
    s->nkeys = 1;

out:
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    ERR_pop_to_mark();
    return s;
}

struct auth_jwk_set *
auth_jwk_set_from_secret(const uint8_t *secret, size_t len, const char *kid)
{
    struct auth_jwk_set *s;

    if (secret == NULL || len == 0 || !kid_ok(kid))
        return NULL;
    s = set_new(1);
    if (s == NULL)
        return NULL;
    s->keys[0].type = AUTH_JWK_OCT;
    s->keys[0].secret = OPENSSL_memdup(secret, len);
    if (s->keys[0].secret == NULL) {
        auth_jwk_set_unref(s);
        return NULL;
    }
    s->keys[0].secret_len = len;
    snprintf(s->keys[0].kid, sizeof(s->keys[0].kid), "%s", kid != NULL ? kid : "");
    s->nkeys = 1;
    return s;
}

struct auth_jwk_set *
auth_jwk_set_merge(struct auth_jwk_set *const *sets, size_t n)
{
    struct auth_jwk_set *s;
    size_t i, j, total = 0;

    for (i = 0; i < n; i++)
        total += sets[i] != NULL ? sets[i]->nkeys : 0;
    s = set_new(total);
    if (s == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        for (j = 0; sets[i] != NULL && j < sets[i]->nkeys; j++) {
            const struct auth_jwk *from = &sets[i]->keys[j];
            struct auth_jwk *k = &s->keys[s->nkeys];

            /* the first set that names a kid owns it, as within one JWKS */
            if (auth_jwk_set_find(s, from->kid) != NULL)
                continue;
            *k = *from;
            k->pkey = NULL;
            k->secret = NULL;
            if (from->pkey != NULL) {
                if (EVP_PKEY_up_ref(from->pkey) != 1)
                    goto fail;
                k->pkey = from->pkey;
            }
            if (from->secret != NULL) {
                k->secret_len = 0;
                k->secret = OPENSSL_memdup(from->secret, from->secret_len);
                if (k->secret == NULL) {
                    EVP_PKEY_free(k->pkey);
                    k->pkey = NULL;
                    goto fail;
                }
                k->secret_len = from->secret_len;
            }
            s->nkeys++;
        }
    }
    return s;

fail:
    auth_jwk_set_unref(s);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* what a key may verify */

const char *
auth_jwk_type_name(const struct auth_jwk *k)
{
    switch (k->type) {
    case AUTH_JWK_RSA:
        return "RSA";
    case AUTH_JWK_EC:
        return k->curve_nid == NID_X9_62_prime256v1 ? "EC P-256"
               : k->curve_nid == NID_secp384r1      ? "EC P-384"
               : k->curve_nid == NID_secp521r1      ? "EC P-521"
                                                    : "EC";
    case AUTH_JWK_OKP:
        return "Ed25519";
    case AUTH_JWK_OCT:
        return "HMAC secret";
    }
    return "?";
}

/*
 * Why |k| cannot verify |ai|, or NULL when it can.  The key type decides,
 * never the key's optional "alg" alone (CVE-2026-44699: an RSA key without
 * "alg" must not become an HMAC secret); the "alg" member only narrows.
 */
const char *
auth_jwk_misfit(const struct auth_jwk *k, const struct jose_alg *ai)
{
    switch (ai->fam) {
    case JOSE_FAM_RSA:
    case JOSE_FAM_PSS:
        if (k->type != AUTH_JWK_RSA || k->pkey == NULL ||
            EVP_PKEY_get_base_id(k->pkey) != EVP_PKEY_RSA)
            return "wrong key type";
        break;
    case JOSE_FAM_EC:
        if (k->type != AUTH_JWK_EC || k->pkey == NULL)
            return "wrong key type";
        if (k->curve_nid != ai->curve_nid)
            return "wrong curve";
        break;
    case JOSE_FAM_ED:
        if (k->type != AUTH_JWK_OKP || k->pkey == NULL)
            return "wrong key type";
        break;
    case JOSE_FAM_HMAC:
        if (k->type != AUTH_JWK_OCT || k->secret == NULL)
            return "wrong key type";
        /* RFC 7518 §3.2: the key must be at least as long as the hash output */
        if (k->secret_len < (size_t)EVP_MD_get_size(ai->md()))
            return "secret too short";
        break;
    }
    if (k->alg != 0 && k->alg != ai->bit)
        return "key restricted to another algorithm";
    return NULL;
}

bool
auth_jwk_fits_alg(const struct auth_jwk *k, unsigned alg)
{
    const struct jose_alg *ai = jose_alg_lookup(alg);

    return ai != NULL && k != NULL && auth_jwk_misfit(k, ai) == NULL;
}
