/*
 * Unit tests for src/auth_jwt.c and src/auth_jwk.c: the JWT rows (J01-J29)
 * of the attack catalogue in docs/security.md, JWKS parsing, PEM keys,
 * base64url.
 *
 * Keys are generated once per test case (unchecked fixture) with
 * EVP_PKEY_Q_keygen and exported as JWK JSON and PEM by code of this file.
 * Tokens are signed here with EVP (sign_token(), its own base64url and
 * DER-to-r||s conversion, independent of the verifier's) and with libjwt
 * 1.10.2 for RS256/ES256/HS256, to show the verifier accepts what another
 * implementation produces.  Nothing secret is committed: every key lives
 * only in the test process.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "auth_jwt.h"
#include "check_suites.h"

#define NOW ((time_t)1795000000) /* 2026-11-18T11:06:40Z */
#define ISS "https://idp.example"
#define GOOD_PL                                                                        \
    "{\"iss\":\"" ISS "\",\"aud\":\"sparkgate\",\"sub\":\"alice\",\"exp\":1795003600," \
    "\"iat\":1794999000}"
/* a payload with the given extra members before the standard ones */
#define PL_WITH(extra) "{" extra ",\"iss\":\"" ISS "\",\"aud\":\"sparkgate\",\"sub\":\"alice\"}"

/* Signing keys of the fixture. */
enum signer {
    S_RSA,     /* kid rsa1 */
    S_RSA2,    /* kid "../keys/rsa": a path-looking kid that is only a name */
    S_RSA1024, /* not in the set (dropped) */
    S_EC256,
    S_EC384,
    S_EC521,
    S_K1,    /* secp256k1, not in the set */
    S_ED,    /* kid ed1 */
    S_HS,    /* kid hs1, 32-byte secret */
    S_HS64,  /* kid hs64, 64-byte secret */
    S_PEMHS, /* HMAC keyed with the text of rsa1's public PEM (J03) */
    S_EMPTY, /* HMAC with an empty key (J04) */
    S_NONE,  /* empty signature segment */
    S_COUNT,
};

struct fkey {
    EVP_PKEY *pkey;
    const char *kid;
    uint8_t secret[64];
    size_t slen;
    char *pem;
    char *jwk;
};

static struct fkey fk[S_COUNT];
static struct auth_jwk_set *keyset;

static const char *const auds[] = {"sparkgate", "spark2"};
static const struct auth_jwt_issuer issuer = {
    .issuer = ISS,
    .audiences = auds,
    .naudiences = 2,
    .algs = 0x1fff,
    .skew_s = 60,
    .principal_claim = NULL,
};

/* ------------------------------------------------------------------------ */
/* test-side encoders, independent of the code under test */

static char *
b64u(const uint8_t *in, size_t len)
{
    char *out = malloc(len * 4 / 3 + 8), *p;
    int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);

    ck_assert_int_ge(n, 0);
    out[n] = '\0';
    for (p = out; *p != '\0'; p++) {
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
        else if (*p == '=')
            *p = '\0';
    }
    return out;
}

static uint8_t *
unb64u(const char *in, size_t *outlen)
{
    size_t n = strlen(in), i;
    char *tmp = malloc(n + 4);
    uint8_t *out = malloc(n + 4);
    int r;

    for (i = 0; i < n; i++)
        tmp[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
    while (i % 4 != 0)
        tmp[i++] = '=';
    r = EVP_DecodeBlock(out, (unsigned char *)tmp, (int)i);
    ck_assert_int_ge(r, 0);
    *outlen = (size_t)r - (n % 4 == 2 ? 2 : n % 4 == 3 ? 1 : 0);
    free(tmp);
    return out;
}

static char *
bn_b64u(const BIGNUM *bn, int pad)
{
    uint8_t buf[1024];
    int n = pad > 0 ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);

    ck_assert_int_gt(n, 0);
    return b64u(buf, (size_t)n);
}

/* Exports the public part of |pkey| as a JWK object with |kid| and |extra| members. */
static char *
export_jwk(EVP_PKEY *pkey, const char *kid, const char *extra)
{
    char *a = NULL, *b = NULL, *out = malloc(4096);
    BIGNUM *x = NULL, *y = NULL;
    char group[64];

    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
        ck_assert_int_eq(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &x), 1);
        ck_assert_int_eq(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &y), 1);
        a = bn_b64u(x, 0);
        b = bn_b64u(y, 0);
        snprintf(out, 4096, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"%s}", kid, a,
                 b, extra);
        break;
    case EVP_PKEY_EC: {
        const char *crv;
        int len;

        ck_assert_int_eq(EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                                        sizeof(group), NULL),
                         1);
        crv = strcmp(group, "prime256v1") == 0  ? "P-256"
              : strcmp(group, "secp384r1") == 0 ? "P-384"
              : strcmp(group, "secp521r1") == 0 ? "P-521"
                                                : group;
        len = (EVP_PKEY_get_bits(pkey) + 7) / 8;
        ck_assert_int_eq(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x), 1);
        ck_assert_int_eq(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y), 1);
        a = bn_b64u(x, len);
        b = bn_b64u(y, len);
        snprintf(out, 4096,
                 "{\"kty\":\"EC\",\"kid\":\"%s\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"%s}", kid,
                 crv, a, b, extra);
        break;
    }
    case EVP_PKEY_ED25519: {
        uint8_t raw[32];
        size_t rl = sizeof(raw);

        ck_assert_int_eq(EVP_PKEY_get_raw_public_key(pkey, raw, &rl), 1);
        a = b64u(raw, rl);
        snprintf(out, 4096, "{\"kty\":\"OKP\",\"kid\":\"%s\",\"crv\":\"Ed25519\",\"x\":\"%s\"%s}",
                 kid, a, extra);
        break;
    }
    default:
        ck_abort_msg("unexpected key type");
    }
    BN_free(x);
    BN_free(y);
    free(a);
    free(b);
    return out;
}

static char *
export_pem(EVP_PKEY *pkey, bool priv)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out;
    long n;

    if (priv)
        ck_assert_int_eq(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
    else
        ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, pkey), 1);
    n = BIO_get_mem_data(bio, &data);
    out = malloc((size_t)n + 1);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    BIO_free(bio);
    return out;
}

/* ------------------------------------------------------------------------ */
/* signing */

static const EVP_MD *
md_of(const char *alg)
{
    if (strstr(alg, "384") != NULL)
        return EVP_sha384();
    if (strstr(alg, "512") != NULL)
        return EVP_sha512();
    return EVP_sha256();
}

/* Signs |input| with the signer's key as |alg| does; JOSE signature bytes into |sig|. */
static size_t
sign_raw(enum signer who, const char *alg, const char *input, uint8_t *sig)
{
    const struct fkey *k = &fk[who];
    EVP_MD_CTX *mctx;
    EVP_PKEY_CTX *pctx = NULL;
    uint8_t der[1024];
    size_t len = sizeof(der);
    unsigned ml = 0;

    if (who == S_NONE)
        return 0;
    if (alg[0] == 'H' || who == S_PEMHS || who == S_EMPTY || k->pkey == NULL) {
        const void *key = who == S_PEMHS ? (const void *)fk[S_RSA].pem : k->secret;
        int klen = who == S_PEMHS ? (int)strlen(fk[S_RSA].pem) : (int)k->slen;

        ck_assert_ptr_nonnull(HMAC(md_of(alg), who == S_EMPTY ? "" : key, who == S_EMPTY ? 0 : klen,
                                   (const unsigned char *)input, strlen(input), sig, &ml));
        return ml;
    }
    mctx = EVP_MD_CTX_new();
    ck_assert_int_eq(EVP_DigestSignInit(mctx, &pctx, strcmp(alg, "EdDSA") == 0 ? NULL : md_of(alg),
                                        NULL, k->pkey),
                     1);
    if (alg[0] == 'P') {
        ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
        ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1);
    }
    ck_assert_int_eq(EVP_DigestSign(mctx, der, &len, (const unsigned char *)input, strlen(input)),
                     1);
    EVP_MD_CTX_free(mctx);
    if (EVP_PKEY_get_base_id(k->pkey) == EVP_PKEY_EC) {
        const unsigned char *p = der;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
        int half = (EVP_PKEY_get_bits(k->pkey) + 7) / 8;

        ck_assert_ptr_nonnull(es);
        BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, half);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + half, half);
        ECDSA_SIG_free(es);
        return (size_t)half * 2;
    }
    memcpy(sig, der, len);
    return len;
}

/*
 * "b64(hdr).b64(pl).b64(sig)", malloc'ed.  A 0x01 byte in |hdr| or |pl|
 * stands for a NUL byte (C strings cannot carry one).
 */
static char *
sign_token(const char *hdr, const char *pl, enum signer who, const char *alg)
{
    uint8_t sig[1024], *h = (uint8_t *)strdup(hdr), *p = (uint8_t *)strdup(pl);
    size_t hl = strlen(hdr), plen = strlen(pl), i, sl;
    char *hb, *pb, *sb, *input, *tok;

    for (i = 0; i < hl; i++)
        h[i] = h[i] == 1 ? 0 : h[i];
    for (i = 0; i < plen; i++)
        p[i] = p[i] == 1 ? 0 : p[i];
    hb = b64u(h, hl);
    pb = b64u(p, plen);
    input = malloc(strlen(hb) + strlen(pb) + 2);
    sprintf(input, "%s.%s", hb, pb);
    sl = sign_raw(who, alg, input, sig);
    sb = b64u(sig, sl);
    tok = malloc(strlen(input) + strlen(sb) + 2);
    sprintf(tok, "%s.%s", input, sb);
    free(h);
    free(p);
    free(hb);
    free(pb);
    free(sb);
    free(input);
    return tok;
}

/* libjwt 1.10.2 as the signer (it always writes typ JWT). */
static char *
libjwt_token(jwt_alg_t alg, enum signer who, const char *kid, const char *grants)
{
    jwt_t *j = NULL;
    char *pem = NULL, *tok, *out;

    ck_assert_int_eq(jwt_new(&j), 0);
    if (fk[who].pkey != NULL) {
        pem = export_pem(fk[who].pkey, true);
        ck_assert_int_eq(jwt_set_alg(j, alg, (const unsigned char *)pem, (int)strlen(pem)), 0);
    } else {
        ck_assert_int_eq(jwt_set_alg(j, alg, fk[who].secret, (int)fk[who].slen), 0);
    }
    ck_assert_int_eq(jwt_add_header(j, "kid", kid), 0);
    ck_assert_int_eq(jwt_add_grants_json(j, grants), 0);
    tok = jwt_encode_str(j);
    ck_assert_ptr_nonnull(tok);
    out = strdup(tok);
    free(tok);
    jwt_free(j);
    free(pem);
    return out;
}

/* ------------------------------------------------------------------------ */
/* fixture */

static void
drop_ignore(void *arg, const char *kid, const char *reason)
{
    (void)arg;
    (void)kid;
    (void)reason;
}

static void
keys_setup(void)
{
    static const char hs32[] = "0123456789abcdef0123456789abcdef";
    struct auth_jwk_set *parts[3];
    char doc[16384], err[256];

    fk[S_RSA].pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    fk[S_RSA].kid = "rsa1";
    fk[S_RSA2].pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    fk[S_RSA2].kid = "../keys/rsa";
    fk[S_RSA1024].pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    fk[S_RSA1024].kid = "rsa1024";
    fk[S_EC256].pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    fk[S_EC256].kid = "ec256";
    fk[S_EC384].pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    fk[S_EC384].kid = "ec384";
    fk[S_EC521].pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    fk[S_EC521].kid = "ec521";
    fk[S_K1].pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
    fk[S_K1].kid = "k1";
    fk[S_ED].pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    fk[S_ED].kid = "ed1";
    fk[S_HS].kid = "hs1";
    memcpy(fk[S_HS].secret, hs32, 32);
    fk[S_HS].slen = 32;
    fk[S_HS64].kid = "hs64";
    ck_assert_int_eq(RAND_bytes(fk[S_HS64].secret, 64), 1);
    fk[S_HS64].slen = 64;
    fk[S_PEMHS].kid = "rsa1";
    fk[S_EMPTY].kid = "hs1";
    fk[S_NONE].kid = "rsa1";
    for (int i = 0; i < S_COUNT; i++) {
        if (fk[i].pkey != NULL) {
            fk[i].pem = export_pem(fk[i].pkey, false);
            fk[i].jwk = export_jwk(fk[i].pkey, fk[i].kid, "");
        }
    }

    snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s,%s,%s,%s,%s]}", fk[S_RSA].jwk, fk[S_RSA2].jwk,
             fk[S_EC256].jwk, fk[S_EC384].jwk, fk[S_EC521].jwk, fk[S_ED].jwk);
    parts[0] = auth_jwk_set_parse(doc, strlen(doc), false, drop_ignore, NULL, err, sizeof(err));
    ck_assert_msg(parts[0] != NULL, "%s", err);
    ck_assert_uint_eq(parts[0]->nkeys, 6);
    parts[1] = auth_jwk_set_from_secret(fk[S_HS].secret, fk[S_HS].slen, "hs1");
    parts[2] = auth_jwk_set_from_secret(fk[S_HS64].secret, fk[S_HS64].slen, "hs64");
    keyset = auth_jwk_set_merge(parts, 3);
    ck_assert_ptr_nonnull(keyset);
    ck_assert_uint_eq(keyset->nkeys, 8);
    for (int i = 0; i < 3; i++)
        auth_jwk_set_unref(parts[i]);
}

static void
keys_teardown(void)
{
    for (int i = 0; i < S_COUNT; i++) {
        EVP_PKEY_free(fk[i].pkey);
        free(fk[i].pem);
        free(fk[i].jwk);
    }
    memset(fk, 0, sizeof(fk));
    auth_jwk_set_unref(keyset);
    keyset = NULL;
}

/* ------------------------------------------------------------------------ */
/* token mutations */

enum mutation {
    M_NONE,
    M_PAD1,      /* "=" after the signature */
    M_PAD2,      /* "==" after the signature */
    M_PLUS,      /* first signature character -> '+' */
    M_SLASH,     /* first signature character -> '/' */
    M_SPACE,     /* a space inside the signature */
    M_NEWLINE,   /* a newline inside the payload segment */
    M_TRAILBITS, /* non-canonical unused bits in the signature's last character */
    M_HIGHBYTE,  /* a byte >= 0x80 in the header segment */
    M_TWO,       /* header.payload */
    M_FOUR,      /* header.payload.signature.signature */
    M_FIVE,      /* JWE-like */
    M_EMPTY_HDR, /* .payload.signature */
    M_EMPTY_PL,  /* header..signature */
    M_SPLIT_SIG, /* header.payload.sig1.sig2 (libjwt accepts this) */
    M_SWAP_PL,   /* payload replaced by another, signature kept */
    M_SIG_SHORT, /* last signature byte removed */
    M_SIG_LONG,  /* one signature byte added */
    M_SIG_ZERO,  /* signature replaced by as many zero bytes (r = s = 0 for ES) */
    M_SIG_DER,   /* ES: DER-encoded signature instead of r||s */
    M_HIGH_S,    /* ES256: s replaced by n - s */
    M_SIG_FLIP,  /* one bit of the signature flipped */
};

/* Replaces the signature segment of |*tok| with the base64url of |sig|. */
static void
set_sig(char **tok, const uint8_t *sig, size_t len)
{
    char *dot = strrchr(*tok, '.'), *enc = b64u(sig, len), *out;

    *dot = '\0';
    out = malloc(strlen(*tok) + strlen(enc) + 2);
    sprintf(out, "%s.%s", *tok, enc);
    free(enc);
    free(*tok);
    *tok = out;
}

static void
mutate(char **tok, enum mutation m)
{
    char *t = *tok, *out = malloc(3 * strlen(t) + 64), *d1 = strchr(t, '.'), *d2 = strrchr(t, '.');
    size_t sl;
    uint8_t *sig = unb64u(d2 + 1, &sl);

    strcpy(out, t);
    switch (m) {
    case M_NONE:
        break;
    case M_PAD1:
        strcat(out, "=");
        break;
    case M_PAD2:
        strcat(out, "==");
        break;
    case M_PLUS:
        out[d2 - t + 1] = '+';
        break;
    case M_SLASH:
        out[d2 - t + 1] = '/';
        break;
    case M_SPACE:
        sprintf(out + (d2 - t) + 3, " %s", d2 + 3);
        break;
    case M_NEWLINE:
        sprintf(out + (d1 - t) + 3, "\n%s", d1 + 3);
        break;
    case M_TRAILBITS: {
        static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        size_t n = strlen(out);

        ck_assert_uint_ne(strlen(d2 + 1) % 4, 0);
        out[n - 1] = al[(strchr(al, out[n - 1]) - al) | 1];
        break;
    }
    case M_HIGHBYTE:
        out[2] = (char)0xc3;
        break;
    case M_TWO:
        out[d2 - t] = '\0';
        break;
    case M_FOUR:
        sprintf(out, "%s.%s", t, d2 + 1);
        break;
    case M_FIVE:
        sprintf(out, "%s.%s.%s", t, d2 + 1, d2 + 1);
        break;
    case M_EMPTY_HDR:
        strcpy(out, d1);
        break;
    case M_EMPTY_PL:
        sprintf(out + (d1 - t) + 1, "%s", d2);
        break;
    case M_SPLIT_SIG:
        sprintf(out + (d2 - t) + 5, ".%s", d2 + 5);
        break;
    case M_SWAP_PL: {
        static const char pl[] = "{\"iss\":\"" ISS "\",\"aud\":\"sparkgate\",\"sub\":\"admin\","
                                 "\"exp\":1795003600}";
        char *pb = b64u((const uint8_t *)pl, strlen(pl));

        sprintf(out + (d1 - t) + 1, "%s%s", pb, d2);
        free(pb);
        break;
    }
    case M_SIG_SHORT:
    case M_SIG_LONG:
    case M_SIG_ZERO:
    case M_SIG_FLIP:
    case M_SIG_DER:
    case M_HIGH_S: {
        uint8_t buf[1100];

        memcpy(buf, sig, sl);
        if (m == M_SIG_SHORT) {
            sl--;
        } else if (m == M_SIG_LONG) {
            buf[sl++] = 0;
        } else if (m == M_SIG_ZERO) {
            memset(buf, 0, sl);
        } else if (m == M_SIG_FLIP) {
            buf[sl / 2] ^= 0x10;
        } else {
            /* ES256 only: r||s -> ECDSA_SIG, then DER or (r, n - s) */
            ECDSA_SIG *es = ECDSA_SIG_new();
            BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
            BIGNUM *order = NULL;
            unsigned char *p = buf;

            ck_assert_uint_eq(sl, 64);
            if (m == M_HIGH_S) {
                ck_assert_int_eq(EVP_PKEY_get_bn_param(fk[S_EC256].pkey, OSSL_PKEY_PARAM_EC_ORDER,
                                                       &order),
                                 1);
                ck_assert_int_eq(BN_sub(s, order, s), 1);
                BN_bn2binpad(r, buf, 32);
                BN_bn2binpad(s, buf + 32, 32);
                BN_free(order);
                BN_free(r);
                BN_free(s);
                ECDSA_SIG_free(es);
            } else {
                ECDSA_SIG_set0(es, r, s);
                sl = (size_t)i2d_ECDSA_SIG(es, &p);
                ECDSA_SIG_free(es);
            }
        }
        free(out);
        out = strdup(t);
        set_sig(&out, buf, sl);
        break;
    }
    }
    free(sig);
    free(*tok);
    *tok = out;
}

/* ------------------------------------------------------------------------ */
/* the verification table */

struct vcase {
    const char *name;
    const char *hdr; /* NULL: {"alg":<alg>,"kid":<signer's kid>,"typ":"JWT"} */
    const char *pl;  /* NULL: GOOD_PL */
    enum signer who;
    const char *alg; /* the algorithm the signature is computed with */
    enum mutation m;
    enum auth_jwt_err want;
    const char *reason; /* a substring of the reason */
};

static const struct vcase vcases[] = {
    /* valid tokens, every algorithm */
    {"RS256", NULL, NULL, S_RSA, "RS256", M_NONE, AUTH_JWT_OK, ""},
    {"RS384", NULL, NULL, S_RSA, "RS384", M_NONE, AUTH_JWT_OK, ""},
    {"RS512", NULL, NULL, S_RSA, "RS512", M_NONE, AUTH_JWT_OK, ""},
    {"PS256", NULL, NULL, S_RSA, "PS256", M_NONE, AUTH_JWT_OK, ""},
    {"PS384", NULL, NULL, S_RSA2, "PS384", M_NONE, AUTH_JWT_OK, ""},
    {"PS512", NULL, NULL, S_RSA, "PS512", M_NONE, AUTH_JWT_OK, ""},
    {"ES256", NULL, NULL, S_EC256, "ES256", M_NONE, AUTH_JWT_OK, ""},
    {"ES384", NULL, NULL, S_EC384, "ES384", M_NONE, AUTH_JWT_OK, ""},
    {"ES512", NULL, NULL, S_EC521, "ES512", M_NONE, AUTH_JWT_OK, ""},
    {"EdDSA", NULL, NULL, S_ED, "EdDSA", M_NONE, AUTH_JWT_OK, ""},
    {"HS256", NULL, NULL, S_HS, "HS256", M_NONE, AUTH_JWT_OK, ""},
    {"HS384", NULL, NULL, S_HS64, "HS384", M_NONE, AUTH_JWT_OK, ""},
    {"HS512", NULL, NULL, S_HS64, "HS512", M_NONE, AUTH_JWT_OK, ""},
    {"ES256 high-S is valid ECDSA", NULL, NULL, S_EC256, "ES256", M_HIGH_S, AUTH_JWT_OK, ""},
    {"kid that looks like a path is a plain name", NULL, NULL, S_RSA2, "RS256", M_NONE, AUTH_JWT_OK,
     ""},
    {"no kid, one P-384 key", "{\"alg\":\"ES384\"}", NULL, S_EC384, "ES384", M_NONE, AUTH_JWT_OK,
     ""},
    {"no kid, one Ed25519 key", "{\"alg\":\"EdDSA\"}", NULL, S_ED, "EdDSA", M_NONE, AUTH_JWT_OK,
     ""},
    {"no kid, two RSA keys", "{\"alg\":\"RS256\"}", NULL, S_RSA, "RS256", M_NONE,
     AUTH_JWT_UNKNOWN_KEY, "token has no kid and 2 signing keys fit \"RS256\""},
    {"no kid, two HMAC keys", "{\"alg\":\"HS256\"}", NULL, S_HS, "HS256", M_NONE,
     AUTH_JWT_UNKNOWN_KEY, "2 signing keys fit"},

    /* J01/J02: none */
    {"alg none with signature", "{\"alg\":\"none\",\"kid\":\"rsa1\"}", NULL, S_RSA, "RS256", M_NONE,
     AUTH_JWT_ALG_NOT_ALLOWED, "algorithm \"none\" not allowed"},
    {"alg None", "{\"alg\":\"None\",\"kid\":\"rsa1\"}", NULL, S_RSA, "RS256", M_NONE,
     AUTH_JWT_ALG_NOT_ALLOWED, "algorithm \"None\" not allowed"},
    {"alg NONE", "{\"alg\":\"NONE\"}", NULL, S_RSA, "RS256", M_NONE, AUTH_JWT_ALG_NOT_ALLOWED,
     "algorithm \"NONE\" not allowed"},
    {"alg nOnE", "{\"alg\":\"nOnE\",\"typ\":\"JWT\"}", NULL, S_RSA, "RS256", M_NONE,
     AUTH_JWT_ALG_NOT_ALLOWED, "algorithm \"nOnE\" not allowed"},
    {"alg none with trailing space", "{\"alg\":\"none \"}", NULL, S_RSA, "RS256", M_NONE,
     AUTH_JWT_ALG_NOT_ALLOWED, "algorithm \"none \" not allowed"},
    {"alg none without signature", "{\"alg\":\"none\"}", NULL, S_NONE, "none", M_NONE,
     AUTH_JWT_MALFORMED, "malformed token: empty signature"},
    {"alg nOnE without signature", "{\"alg\":\"nOnE\"}", NULL, S_NONE, "none", M_NONE,
     AUTH_JWT_MALFORMED, "empty signature"},
    {"alg none, two segments", "{\"alg\":\"none\"}", NULL, S_NONE, "none", M_TWO,
     AUTH_JWT_MALFORMED, "not a JWS"},
    /* J03/J04/J05/J06/J07: algorithm and key confusion */
    {"HS256 keyed with the RSA public PEM, kid of the RSA key",
     "{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", NULL, S_PEMHS, "HS256", M_NONE,
     AUTH_JWT_ALG_NOT_ALLOWED, "algorithm \"HS256\" does not fit signing key \"rsa1\" (RSA"},
    {"HS512 keyed with the RSA public PEM, kid of the RSA key",
     "{\"alg\":\"HS512\",\"kid\":\"rsa1\"}", NULL, S_PEMHS, "HS512", M_NONE,
     AUTH_JWT_ALG_NOT_ALLOWED, "does not fit signing key"},
    {"HS256 keyed with the RSA public PEM, HMAC kid", "{\"alg\":\"HS256\",\"kid\":\"hs1\"}", NULL,
     S_PEMHS, "HS256", M_NONE, AUTH_JWT_BAD_SIGNATURE, "signature invalid"},
    {"HS256 with an empty key", NULL, NULL, S_EMPTY, "HS256", M_NONE, AUTH_JWT_BAD_SIGNATURE,
     "signature invalid"},
    {"HS512 with a 32-byte secret", "{\"alg\":\"HS512\",\"kid\":\"hs1\"}", NULL, S_HS, "HS512",
     M_NONE, AUTH_JWT_ALG_NOT_ALLOWED, "secret too short"},
    {"alg rs256 (case)", "{\"alg\":\"rs256\",\"kid\":\"rsa1\"}", NULL, S_RSA, "RS256", M_NONE,
     AUTH_JWT_ALG_NOT_ALLOWED, "algorithm \"rs256\" not allowed"},
    {"alg ES256K", "{\"alg\":\"ES256K\",\"kid\":\"ec256\"}", NULL, S_EC256, "ES256", M_NONE,
     AUTH_JWT_ALG_NOT_ALLOWED, "algorithm \"ES256K\" not allowed"},
    {"alg missing", "{\"kid\":\"rsa1\"}", NULL, S_RSA, "RS256", M_NONE, AUTH_JWT_MALFORMED,
     "header has no alg"},
    {"alg null", "{\"alg\":null}", NULL, S_RSA, "RS256", M_NONE, AUTH_JWT_MALFORMED,
     "alg is not a string"},
    {"alg number", "{\"alg\":256}", NULL, S_RSA, "RS256", M_NONE, AUTH_JWT_MALFORMED,
     "alg is not a string"},
    {"alg array", "{\"alg\":[\"RS256\"]}", NULL, S_RSA, "RS256", M_NONE, AUTH_JWT_MALFORMED,
     "alg is not a string"},
    {"ES256 header, RSA key", "{\"alg\":\"ES256\",\"kid\":\"rsa1\"}", NULL, S_EC256, "ES256",
     M_NONE, AUTH_JWT_ALG_NOT_ALLOWED, "does not fit signing key \"rsa1\" (RSA, wrong key type)"},
    {"RS256 header, EC key", "{\"alg\":\"RS256\",\"kid\":\"ec256\"}", NULL, S_RSA, "RS256", M_NONE,
     AUTH_JWT_ALG_NOT_ALLOWED, "does not fit signing key \"ec256\" (EC P-256"},
    {"ES384 header, P-256 key", "{\"alg\":\"ES384\",\"kid\":\"ec256\"}", NULL, S_EC256, "ES256",
     M_NONE, AUTH_JWT_ALG_NOT_ALLOWED, "wrong curve"},
    {"EdDSA header, EC key", "{\"alg\":\"EdDSA\",\"kid\":\"ec256\"}", NULL, S_ED, "EdDSA", M_NONE,
     AUTH_JWT_ALG_NOT_ALLOWED, "does not fit"},
    {"PS256 header, RS256 signature", "{\"alg\":\"PS256\",\"kid\":\"rsa1\"}", NULL, S_RSA, "RS256",
     M_NONE, AUTH_JWT_BAD_SIGNATURE, "signature invalid"},
    {"RS256 header, PS256 signature", "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", NULL, S_RSA, "PS256",
     M_NONE, AUTH_JWT_BAD_SIGNATURE, "signature invalid"},
    /* J08: kid */
    {"unknown kid", "{\"alg\":\"RS256\",\"kid\":\"nope\"}", NULL, S_RSA, "RS256", M_NONE,
     AUTH_JWT_UNKNOWN_KEY, "unknown signing key \"nope\""},
    {"kid path traversal", "{\"alg\":\"RS256\",\"kid\":\"../../../../dev/null\"}", NULL, S_RSA,
     "RS256", M_NONE, AUTH_JWT_UNKNOWN_KEY, "unknown signing key \"../../../../dev/null\""},
    {"kid /proc/self/environ", "{\"alg\":\"HS256\",\"kid\":\"/proc/self/environ\"}", NULL, S_EMPTY,
     "HS256", M_NONE, AUTH_JWT_UNKNOWN_KEY, "unknown signing key \"/proc/self/environ\""},
    {"kid SQL", "{\"alg\":\"RS256\",\"kid\":\"' OR '1'='1\"}", NULL, S_RSA, "RS256", M_NONE,
     AUTH_JWT_UNKNOWN_KEY, "unknown signing key \"' OR '1'='1\""},
    {"kid with newline is escaped", "{\"alg\":\"RS256\",\"kid\":\"a\\nb\\\"c\"}", NULL, S_RSA,
     "RS256", M_NONE, AUTH_JWT_UNKNOWN_KEY, "unknown signing key \"a\\x0ab\\\"c\""},
    {"kid empty", "{\"alg\":\"RS256\",\"kid\":\"\"}", NULL, S_RSA, "RS256", M_NONE,
     AUTH_JWT_UNKNOWN_KEY, "unknown signing key \"\""},
    {"kid number", "{\"alg\":\"RS256\",\"kid\":1}", NULL, S_RSA, "RS256", M_NONE,
     AUTH_JWT_MALFORMED, "kid is not a string"},
    {"kid NUL escape", "{\"alg\":\"RS256\",\"kid\":\"rsa1\\u0000x\"}", NULL, S_RSA, "RS256", M_NONE,
     AUTH_JWT_MALFORMED, "header is not valid JSON"},
    {"kid of a key dropped at load (RSA 1024)", NULL, NULL, S_RSA1024, "RS256", M_NONE,
     AUTH_JWT_UNKNOWN_KEY, "unknown signing key \"rsa1024\""},
    {"kid of a key dropped at load (secp256k1)", "{\"alg\":\"ES256\",\"kid\":\"k1\"}", NULL, S_K1,
     "ES256", M_NONE, AUTH_JWT_UNKNOWN_KEY, "unknown signing key \"k1\""},
    /* J09/J10/J24: members we never trust */
    {"jku", "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"jku\":\"http://127.0.0.1:1/jwks\"}", NULL, S_RSA,
     "RS256", M_NONE, AUTH_JWT_UNTRUSTED_HEADER, "header member \"jku\" is not accepted"},
    {"x5u", "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"x5u\":\"http://127.0.0.1:1/c\"}", NULL, S_RSA,
     "RS256", M_NONE, AUTH_JWT_UNTRUSTED_HEADER, "header member \"x5u\" is not accepted"},
    {"jwk", "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"jwk\":{\"kty\":\"oct\",\"k\":\"AA\"}}", NULL,
     S_RSA, "RS256", M_NONE, AUTH_JWT_UNTRUSTED_HEADER, "header member \"jwk\" is not accepted"},
    {"x5c", "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"x5c\":[\"MIIB\"]}", NULL, S_RSA, "RS256", M_NONE,
     AUTH_JWT_UNTRUSTED_HEADER, "header member \"x5c\" is not accepted"},
    {"crit", "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"crit\":[\"exp-x\"],\"exp-x\":1}", NULL, S_RSA,
     "RS256", M_NONE, AUTH_JWT_UNTRUSTED_HEADER, "header member \"crit\" is not accepted"},
    {"b64", "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"b64\":false}", NULL, S_RSA, "RS256", M_NONE,
     AUTH_JWT_UNTRUSTED_HEADER, "header member \"b64\" is not accepted"},
    {"cty JWT (nested)", "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"cty\":\"JWT\"}", NULL, S_RSA,
     "RS256", M_NONE, AUTH_JWT_UNTRUSTED_HEADER, "nested"},
    /* J25: typ */
    {"typ absent", "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", NULL, S_RSA, "RS256", M_NONE,
     AUTH_JWT_OK, ""},
    {"typ jwt", "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":\"jwt\"}", NULL, S_RSA, "RS256",
     M_NONE, AUTH_JWT_OK, ""},
    {"typ at+jwt", "{\"alg\":\"ES256\",\"kid\":\"ec256\",\"typ\":\"at+jwt\"}", NULL, S_EC256,
     "ES256", M_NONE, AUTH_JWT_OK, ""},
    {"typ application/at+jwt",
     "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":\"application/at+jwt\"}", NULL, S_RSA, "RS256",
     M_NONE, AUTH_JWT_OK, ""},
    {"typ garbage", "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":\"JOSE+JSON\"}", NULL, S_RSA,
     "RS256", M_NONE, AUTH_JWT_UNTRUSTED_HEADER, "unsupported token type \"JOSE+JSON\""},
    {"typ application/", "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":\"application/\"}", NULL,
     S_RSA, "RS256", M_NONE, AUTH_JWT_UNTRUSTED_HEADER, "unsupported token type"},
    {"typ number", "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"typ\":5}", NULL, S_RSA, "RS256", M_NONE,
     AUTH_JWT_MALFORMED, "typ is not a string"},
    /* J20/J21: encoding and structure */
    {"padding =", NULL, NULL, S_RSA, "RS256", M_PAD1, AUTH_JWT_MALFORMED,
     "malformed token: bad base64url in signature"},
    {"padding ==", NULL, NULL, S_EC256, "ES256", M_PAD2, AUTH_JWT_MALFORMED,
     "bad base64url in signature"},
    {"'+' in signature", NULL, NULL, S_RSA, "RS256", M_PLUS, AUTH_JWT_MALFORMED,
     "bad base64url in signature"},
    {"'/' in signature", NULL, NULL, S_RSA, "RS256", M_SLASH, AUTH_JWT_MALFORMED,
     "bad base64url in signature"},
    {"space in signature", NULL, NULL, S_RSA, "RS256", M_SPACE, AUTH_JWT_MALFORMED,
     "bad base64url in signature"},
    {"newline in payload", NULL, NULL, S_RSA, "RS256", M_NEWLINE, AUTH_JWT_MALFORMED,
     "bad base64url in payload"},
    {"non-canonical trailing bits", NULL, NULL, S_RSA, "RS256", M_TRAILBITS, AUTH_JWT_MALFORMED,
     "bad base64url in signature"},
    {"byte >= 0x80", NULL, NULL, S_RSA, "RS256", M_HIGHBYTE, AUTH_JWT_MALFORMED,
     "bad base64url in header"},
    {"2 segments", NULL, NULL, S_RSA, "RS256", M_TWO, AUTH_JWT_MALFORMED, "not a JWS"},
    {"4 segments", NULL, NULL, S_RSA, "RS256", M_FOUR, AUTH_JWT_MALFORMED, "more than 3 segments"},
    {"5 segments", NULL, NULL, S_RSA, "RS256", M_FIVE, AUTH_JWT_MALFORMED, "more than 3 segments"},
    {"signature split by a dot", NULL, NULL, S_RSA, "RS256", M_SPLIT_SIG, AUTH_JWT_MALFORMED,
     "more than 3 segments"},
    {"empty header", NULL, NULL, S_RSA, "RS256", M_EMPTY_HDR, AUTH_JWT_MALFORMED, "empty header"},
    {"empty payload", NULL, NULL, S_RSA, "RS256", M_EMPTY_PL, AUTH_JWT_MALFORMED, "empty payload"},
    /* J22/J23: JSON */
    {"duplicate claim", NULL,
     "{\"sub\":\"alice\",\"sub\":\"admin\",\"iss\":\"" ISS "\",\"aud\":\"sparkgate\","
     "\"exp\":1795003600}",
     S_RSA, "RS256", M_NONE, AUTH_JWT_MALFORMED, "payload is not valid JSON (duplicate object key"},
    {"duplicate header member", "{\"alg\":\"RS256\",\"alg\":\"none\",\"kid\":\"rsa1\"}", NULL,
     S_RSA, "RS256", M_NONE, AUTH_JWT_MALFORMED, "header is not valid JSON (duplicate"},
    {"NUL byte in header", "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}\x01junk", NULL, S_RSA, "RS256",
     M_NONE, AUTH_JWT_MALFORMED, "NUL byte in header"},
    {"NUL byte in payload", NULL, GOOD_PL "\x01{\"sub\":\"admin\"}", S_RSA, "RS256", M_NONE,
     AUTH_JWT_MALFORMED, "NUL byte in payload"},
    {"\\u0000 in a claim", NULL, PL_WITH("\"x\":\"admin\\u0000x\",\"exp\":1795003600"), S_RSA,
     "RS256", M_NONE, AUTH_JWT_MALFORMED, "payload is not valid JSON"},
    {"header is an array", "[{\"alg\":\"RS256\"}]", NULL, S_RSA, "RS256", M_NONE,
     AUTH_JWT_MALFORMED, "header is not a JSON object"},
    {"header is a string", "\"RS256\"", NULL, S_RSA, "RS256", M_NONE, AUTH_JWT_MALFORMED,
     "header is not valid JSON"},
    {"payload is an array", NULL, "[" GOOD_PL "]", S_RSA, "RS256", M_NONE, AUTH_JWT_MALFORMED,
     "payload is not a JSON object"},
    {"payload not JSON", NULL, "sub=alice", S_RSA, "RS256", M_NONE, AUTH_JWT_MALFORMED,
     "payload is not valid JSON"},
    {"payload with trailing garbage", NULL, GOOD_PL "x", S_RSA, "RS256", M_NONE, AUTH_JWT_MALFORMED,
     "payload is not valid JSON"},
    {"invalid UTF-8", NULL, PL_WITH("\"exp\":1795003600,\"x\":\"\xc0\xaf\""), S_RSA, "RS256",
     M_NONE, AUTH_JWT_MALFORMED, "payload is not valid JSON"},
    {"BOM", NULL, "\xef\xbb\xbf" GOOD_PL, S_RSA, "RS256", M_NONE, AUTH_JWT_MALFORMED,
     "payload is not valid JSON"},
    /* signatures, J26 */
    {"signed by another RSA key", "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", NULL, S_RSA2, "RS256",
     M_NONE, AUTH_JWT_BAD_SIGNATURE, "signature invalid"},
    {"payload swapped", NULL, NULL, S_RSA, "RS256", M_SWAP_PL, AUTH_JWT_BAD_SIGNATURE,
     "signature invalid"},
    {"payload swapped, ES256", NULL, NULL, S_EC256, "ES256", M_SWAP_PL, AUTH_JWT_BAD_SIGNATURE,
     "signature invalid"},
    {"payload swapped, EdDSA", NULL, NULL, S_ED, "EdDSA", M_SWAP_PL, AUTH_JWT_BAD_SIGNATURE,
     "signature invalid"},
    {"payload swapped, HS256", NULL, NULL, S_HS, "HS256", M_SWAP_PL, AUTH_JWT_BAD_SIGNATURE,
     "signature invalid"},
    {"RSA signature one byte short", NULL, NULL, S_RSA, "RS256", M_SIG_SHORT,
     AUTH_JWT_BAD_SIGNATURE, "signature invalid (255 bytes for a 2048-bit key)"},
    {"RSA signature bit flipped", NULL, NULL, S_RSA, "PS256", M_SIG_FLIP, AUTH_JWT_BAD_SIGNATURE,
     "signature invalid"},
    {"ES256 signature of 63 bytes", NULL, NULL, S_EC256, "ES256", M_SIG_SHORT,
     AUTH_JWT_BAD_SIGNATURE, "ES256 signatures are 64 bytes, got 63"},
    {"ES256 signature of 65 bytes", NULL, NULL, S_EC256, "ES256", M_SIG_LONG,
     AUTH_JWT_BAD_SIGNATURE, "ES256 signatures are 64 bytes, got 65"},
    {"ES512 signature of 131 bytes", NULL, NULL, S_EC521, "ES512", M_SIG_SHORT,
     AUTH_JWT_BAD_SIGNATURE, "ES512 signatures are 132 bytes"},
    {"ES256 r = s = 0", NULL, NULL, S_EC256, "ES256", M_SIG_ZERO, AUTH_JWT_BAD_SIGNATURE,
     "signature invalid"},
    {"ES256 DER signature", NULL, NULL, S_EC256, "ES256", M_SIG_DER, AUTH_JWT_BAD_SIGNATURE,
     "ES256 signatures are 64 bytes"},
    {"ES256 bit flipped", NULL, NULL, S_EC256, "ES256", M_SIG_FLIP, AUTH_JWT_BAD_SIGNATURE,
     "signature invalid"},
    {"EdDSA signature of 63 bytes", NULL, NULL, S_ED, "EdDSA", M_SIG_SHORT, AUTH_JWT_BAD_SIGNATURE,
     "EdDSA signatures are 64 bytes"},
    {"EdDSA zero signature", NULL, NULL, S_ED, "EdDSA", M_SIG_ZERO, AUTH_JWT_BAD_SIGNATURE,
     "signature invalid"},
    {"HS256 MAC one byte short", NULL, NULL, S_HS, "HS256", M_SIG_SHORT, AUTH_JWT_BAD_SIGNATURE,
     "signature invalid"},
    /* J11..J15: times (skew 60 s) */
    {"exp missing", NULL, PL_WITH("\"iat\":1794999000"), S_RSA, "RS256", M_NONE, AUTH_JWT_MALFORMED,
     "no \"exp\" claim"},
    {"exp string", NULL, PL_WITH("\"exp\":\"1795003600\""), S_RSA, "RS256", M_NONE,
     AUTH_JWT_MALFORMED, "claim \"exp\" is not a number"},
    {"exp true", NULL, PL_WITH("\"exp\":true"), S_RSA, "RS256", M_NONE, AUTH_JWT_MALFORMED,
     "claim \"exp\" is not a number"},
    {"exp null", NULL, PL_WITH("\"exp\":null"), S_RSA, "RS256", M_NONE, AUTH_JWT_MALFORMED,
     "claim \"exp\" is not a number"},
    {"exp negative", NULL, PL_WITH("\"exp\":-1"), S_RSA, "RS256", M_NONE, AUTH_JWT_MALFORMED,
     "claim \"exp\" is out of range"},
    {"exp int64 max", NULL, PL_WITH("\"exp\":9223372036854775807"), S_RSA, "RS256", M_NONE,
     AUTH_JWT_MALFORMED, "claim \"exp\" is out of range"},
    {"exp 1e300", NULL, PL_WITH("\"exp\":1e300"), S_RSA, "RS256", M_NONE, AUTH_JWT_MALFORMED,
     "claim \"exp\" is out of range"},
    {"exp 1e400 (jansson refuses)", NULL, PL_WITH("\"exp\":1e400"), S_RSA, "RS256", M_NONE,
     AUTH_JWT_MALFORMED, "payload is not valid JSON"},
    {"exp real", NULL, PL_WITH("\"exp\":1795003600.5"), S_RSA, "RS256", M_NONE, AUTH_JWT_OK, ""},
    {"exp an hour ago", NULL, PL_WITH("\"exp\":1794996400"), S_RSA, "RS256", M_NONE,
     AUTH_JWT_EXPIRED, "token expired at 2026-11-18T10:06:40Z"},
    {"exp = now - skew", NULL, PL_WITH("\"exp\":1794999940"), S_RSA, "RS256", M_NONE,
     AUTH_JWT_EXPIRED, "token expired at 2026-11-18T11:05:40Z"},
    {"exp = now - skew + 1", NULL, PL_WITH("\"exp\":1794999941"), S_RSA, "RS256", M_NONE,
     AUTH_JWT_OK, ""},
    {"exp = now - skew + 0.5 (rounded down)", NULL, PL_WITH("\"exp\":1794999940.5"), S_RSA, "RS256",
     M_NONE, AUTH_JWT_EXPIRED, "token expired"},
    {"exp = now", NULL, PL_WITH("\"exp\":1795000000"), S_RSA, "RS256", M_NONE, AUTH_JWT_OK, ""},
    {"exp 0", NULL, PL_WITH("\"exp\":0"), S_RSA, "RS256", M_NONE, AUTH_JWT_EXPIRED,
     "token expired at 1970-01-01T00:00:00Z"},
    {"nbf in an hour", NULL, PL_WITH("\"exp\":1795007200,\"nbf\":1795003600"), S_RSA, "RS256",
     M_NONE, AUTH_JWT_NOT_YET_VALID, "token not valid before 2026-11-18T12:06:40Z"},
    {"nbf = now + skew + 1", NULL, PL_WITH("\"exp\":1795003600,\"nbf\":1795000061"), S_RSA, "RS256",
     M_NONE, AUTH_JWT_NOT_YET_VALID, "token not valid before 2026-11-18T11:07:41Z"},
    {"nbf = now + skew", NULL, PL_WITH("\"exp\":1795003600,\"nbf\":1795000060"), S_RSA, "RS256",
     M_NONE, AUTH_JWT_OK, ""},
    {"nbf string", NULL, PL_WITH("\"exp\":1795003600,\"nbf\":\"0\""), S_RSA, "RS256", M_NONE,
     AUTH_JWT_MALFORMED, "claim \"nbf\" is not a number"},
    {"iat in an hour", NULL, PL_WITH("\"exp\":1795007200,\"iat\":1795003600"), S_RSA, "RS256",
     M_NONE, AUTH_JWT_NOT_YET_VALID, "token issued in the future"},
    {"iat = now + skew", NULL, PL_WITH("\"exp\":1795007200,\"iat\":1795000060"), S_RSA, "RS256",
     M_NONE, AUTH_JWT_OK, ""},
    {"iat bool", NULL, PL_WITH("\"exp\":1795007200,\"iat\":false"), S_RSA, "RS256", M_NONE,
     AUTH_JWT_MALFORMED, "claim \"iat\" is not a number"},
    /* J16: iss */
    {"iss other", NULL,
     "{\"iss\":\"https://idp.example.evil\",\"aud\":\"sparkgate\",\"sub\":\"a\","
     "\"exp\":1795003600}",
     S_RSA, "RS256", M_NONE, AUTH_JWT_WRONG_ISSUER,
     "wrong issuer \"https://idp.example.evil\" (expected \"https://idp.example\")"},
    {"iss trailing slash", NULL,
     "{\"iss\":\"https://idp.example/\",\"aud\":\"sparkgate\",\"sub\":\"a\",\"exp\":1795003600}",
     S_RSA, "RS256", M_NONE, AUTH_JWT_WRONG_ISSUER, "wrong issuer \"https://idp.example/\""},
    {"iss case", NULL,
     "{\"iss\":\"https://IDP.example\",\"aud\":\"sparkgate\",\"sub\":\"a\",\"exp\":1795003600}",
     S_RSA, "RS256", M_NONE, AUTH_JWT_WRONG_ISSUER, "wrong issuer"},
    {"iss missing", NULL, "{\"aud\":\"sparkgate\",\"sub\":\"a\",\"exp\":1795003600}", S_RSA,
     "RS256", M_NONE, AUTH_JWT_WRONG_ISSUER,
     "token has no issuer (expected \"https://idp.example\")"},
    {"iss array", NULL,
     "{\"iss\":[\"" ISS "\"],\"aud\":\"sparkgate\",\"sub\":\"a\",\"exp\":1795003600}", S_RSA,
     "RS256", M_NONE, AUTH_JWT_MALFORMED, "claim \"iss\" is not a string"},
    /* J17: aud */
    {"aud array with ours", NULL,
     "{\"iss\":\"" ISS "\",\"aud\":[\"x\",\"sparkgate\"],\"sub\":\"a\",\"exp\":1795003600}", S_RSA,
     "RS256", M_NONE, AUTH_JWT_OK, ""},
    {"aud second accepted audience", NULL,
     "{\"iss\":\"" ISS "\",\"aud\":\"spark2\",\"sub\":\"a\",\"exp\":1795003600}", S_RSA, "RS256",
     M_NONE, AUTH_JWT_OK, ""},
    {"aud other string", NULL,
     "{\"iss\":\"" ISS "\",\"aud\":\"other\",\"sub\":\"a\",\"exp\":1795003600}", S_RSA, "RS256",
     M_NONE, AUTH_JWT_WRONG_AUDIENCE, "audience does not include \"sparkgate\""},
    {"aud array without ours", NULL,
     "{\"iss\":\"" ISS "\",\"aud\":[\"x\",\"y\"],\"sub\":\"a\",\"exp\":1795003600}", S_RSA, "RS256",
     M_NONE, AUTH_JWT_WRONG_AUDIENCE, "audience does not include \"sparkgate\""},
    {"aud []", NULL, "{\"iss\":\"" ISS "\",\"aud\":[],\"sub\":\"a\",\"exp\":1795003600}", S_RSA,
     "RS256", M_NONE, AUTH_JWT_WRONG_AUDIENCE, "audience does not include"},
    {"aud [123]", NULL,
     "{\"iss\":\"" ISS "\",\"aud\":[123,\"sparkgate\"],\"sub\":\"a\",\"exp\":1795003600}", S_RSA,
     "RS256", M_NONE, AUTH_JWT_MALFORMED, "member that is not a string"},
    {"aud object", NULL,
     "{\"iss\":\"" ISS "\",\"aud\":{\"sparkgate\":1},\"sub\":\"a\",\"exp\":1795003600}", S_RSA,
     "RS256", M_NONE, AUTH_JWT_MALFORMED, "neither a string nor an array"},
    {"aud missing", NULL, "{\"iss\":\"" ISS "\",\"sub\":\"a\",\"exp\":1795003600}", S_RSA, "RS256",
     M_NONE, AUTH_JWT_WRONG_AUDIENCE, "token has no audience (expected \"sparkgate\")"},
    {"aud prefix", NULL,
     "{\"iss\":\"" ISS "\",\"aud\":\"sparkgatex\",\"sub\":\"a\",\"exp\":1795003600}", S_RSA,
     "RS256", M_NONE, AUTH_JWT_WRONG_AUDIENCE, "audience does not include"},
    /* J18: principal */
    {"sub missing", NULL, "{\"iss\":\"" ISS "\",\"aud\":\"sparkgate\",\"exp\":1795003600}", S_RSA,
     "RS256", M_NONE, AUTH_JWT_NO_PRINCIPAL, "token has no \"sub\" claim"},
    {"sub empty string", NULL,
     "{\"iss\":\"" ISS "\",\"aud\":\"sparkgate\",\"sub\":\"\",\"exp\":1795003600}", S_RSA, "RS256",
     M_NONE, AUTH_JWT_NO_PRINCIPAL, "claim \"sub\" is not a non-empty string"},
    {"sub number", NULL,
     "{\"iss\":\"" ISS "\",\"aud\":\"sparkgate\",\"sub\":42,\"exp\":1795003600}", S_RSA, "RS256",
     M_NONE, AUTH_JWT_NO_PRINCIPAL, "claim \"sub\" is not a non-empty string"},
    {"sub with newline", NULL,
     "{\"iss\":\"" ISS "\",\"aud\":\"sparkgate\",\"sub\":\"alice\\nadmin\",\"exp\":1795003600}",
     S_RSA, "RS256", M_NONE, AUTH_JWT_NO_PRINCIPAL, "contains control characters"},
    {"sub with C1 control", NULL,
     "{\"iss\":\"" ISS "\",\"aud\":\"sparkgate\",\"sub\":\"alice\\u0085\",\"exp\":1795003600}",
     S_RSA, "RS256", M_NONE, AUTH_JWT_NO_PRINCIPAL, "contains control characters"},
    {"sub Cyrillic (valid UTF-8, passed on)", NULL,
     "{\"iss\":\"" ISS "\",\"aud\":\"sparkgate\",\"sub\":\"\xd0\xb0"
     "dmin\",\"exp\":1795003600}",
     S_RSA, "RS256", M_NONE, AUTH_JWT_OK, ""},
};

static void
check_reason_safe(const char *token, const struct auth_jwt_result *res)
{
    const char *dot = strrchr(token, '.');
    const char *p;

    /* the reason never carries the token or its signature */
    if (dot != NULL && strlen(dot + 1) >= 8)
        ck_assert_ptr_null(strstr(res->reason, dot + 1));
    ck_assert_ptr_null(strstr(res->reason, token));
    for (p = res->reason; *p != '\0'; p++)
        ck_assert_msg((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f,
                      "unprintable byte in reason \"%s\"", res->reason);
}

START_TEST(tc_verify_table)
{
    const struct vcase *c = &vcases[_i];
    struct auth_jwt_result res;
    char hdr[512], *tok;

    if (c->hdr == NULL)
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}", c->alg,
                 fk[c->who].kid);
    else
        snprintf(hdr, sizeof(hdr), "%s", c->hdr);
    tok = sign_token(hdr, c->pl != NULL ? c->pl : GOOD_PL, c->who, c->alg);
    mutate(&tok, c->m);
    memset(&res, 0xa5, sizeof(res));
    ERR_clear_error();
    auth_jwt_verify(tok, strlen(tok), &issuer, keyset, NOW, &res);
    /* nothing left on OpenSSL's per-thread error queue for the next SSL_get_error() */
    ck_assert_uint_eq(ERR_peek_error(), 0);
    ck_assert_msg(res.err == c->want, "%s: err %d, want %d (%s)", c->name, res.err, c->want,
                  res.reason);
    ck_assert_msg(strstr(res.reason, c->reason) != NULL, "%s: reason \"%s\" lacks \"%s\"", c->name,
                  res.reason, c->reason);
    check_reason_safe(tok, &res);
    if (c->want == AUTH_JWT_OK) {
        ck_assert_ptr_nonnull(res.claims);
        ck_assert_str_eq(res.iss, ISS);
        ck_assert_uint_eq(res.alg, jose_alg_from_name(c->alg));
        ck_assert_int_ne(res.exp, 0);
        ck_assert_int_gt(strlen(res.principal), 0);
        json_decref(res.claims);
    } else {
        ck_assert_ptr_null(res.claims);
        ck_assert_str_eq(res.principal, "");
        ck_assert_int_eq(res.exp, 0);
    }
    free(tok);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* more verification cases that do not fit the table */

static char *
good_token(enum signer who, const char *alg)
{
    char hdr[256];

    snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"%s\"}", alg, fk[who].kid);
    return sign_token(hdr, GOOD_PL, who, alg);
}

START_TEST(tc_verify_libjwt_interop)
{
    static const char grants[] = "{\"iss\":\"" ISS "\",\"aud\":[\"sparkgate\"],\"sub\":\"bob\","
                                 "\"exp\":1795003600,\"iat\":1794999000}";
    static const struct {
        jwt_alg_t alg;
        enum signer who;
    } cases[] = {
        {JWT_ALG_RS256, S_RSA},   {JWT_ALG_ES256, S_EC256}, {JWT_ALG_HS256, S_HS},
        {JWT_ALG_ES384, S_EC384}, {JWT_ALG_ES512, S_EC521}, {JWT_ALG_RS512, S_RSA2},
    };
    struct auth_jwt_result res;
    size_t i;
    int n;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* ECDSA signatures vary: sign many times to cover r or s with leading zero bytes */
        for (n = 0; n < (cases[i].alg == JWT_ALG_ES256 ? 300 : 3); n++) {
            char *tok = libjwt_token(cases[i].alg, cases[i].who, fk[cases[i].who].kid, grants);

            ck_assert_msg(auth_jwt_verify(tok, strlen(tok), &issuer, keyset, NOW, &res) ==
                              AUTH_JWT_OK,
                          "libjwt %d: %s", (int)cases[i].alg, res.reason);
            ck_assert_str_eq(res.principal, "bob");
            json_decref(res.claims);
            free(tok);
        }
    }
}
END_TEST

START_TEST(tc_verify_ecdsa_many)
{
    static const enum signer who[] = {S_EC256, S_EC384, S_EC521};
    static const char *const alg[] = {"ES256", "ES384", "ES512"};
    struct auth_jwt_result res;
    size_t i;
    int n;

    /* our own signer too: leading zeros, 0x80 top bits, P-521's 66-byte halves */
    for (i = 0; i < 3; i++) {
        for (n = 0; n < 200; n++) {
            char *tok = good_token(who[i], alg[i]);

            ck_assert_msg(auth_jwt_verify(tok, strlen(tok), &issuer, keyset, NOW, &res) ==
                              AUTH_JWT_OK,
                          "%s: %s", alg[i], res.reason);
            json_decref(res.claims);
            free(tok);
        }
    }
}
END_TEST

START_TEST(tc_verify_allowlist)
{
    static const struct auth_jwt_issuer only_rs256 = {
        .issuer = ISS,
        .audiences = auds,
        .naudiences = 1,
        .algs = JOSE_RS256,
        .skew_s = 60,
    };
    static const struct auth_jwt_issuer no_algs = {
        .issuer = ISS,
        .audiences = auds,
        .naudiences = 1,
        .algs = 0,
        .skew_s = 60,
    };
    struct auth_jwt_result res;
    char *tok;

    tok = good_token(S_EC256, "ES256");
    ck_assert_int_eq(auth_jwt_verify(tok, strlen(tok), &only_rs256, keyset, NOW, &res),
                     AUTH_JWT_ALG_NOT_ALLOWED);
    ck_assert_str_eq(res.reason, "algorithm \"ES256\" not allowed (allowed: RS256)");
    free(tok);
    tok = good_token(S_HS, "HS256");
    ck_assert_int_eq(auth_jwt_verify(tok, strlen(tok), &only_rs256, keyset, NOW, &res),
                     AUTH_JWT_ALG_NOT_ALLOWED);
    ck_assert_int_eq(auth_jwt_verify(tok, strlen(tok), &no_algs, keyset, NOW, &res),
                     AUTH_JWT_ALG_NOT_ALLOWED);
    ck_assert_str_eq(res.reason, "algorithm \"HS256\" not allowed (allowed: none configured)");
    free(tok);
    tok = good_token(S_RSA, "RS256");
    ck_assert_int_eq(auth_jwt_verify(tok, strlen(tok), &only_rs256, keyset, NOW, &res),
                     AUTH_JWT_OK);
    json_decref(res.claims);
    free(tok);
}
END_TEST

START_TEST(tc_verify_issuer_config)
{
    struct auth_jwt_issuer iss = issuer;
    struct auth_jwt_result res;
    char *tok;

    /* the principal claim is configurable */
    tok = sign_token("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}",
                     PL_WITH("\"exp\":1795003600,\"email\":\"a@example.com\""), S_RSA, "RS256");
    iss.principal_claim = "email";
    ck_assert_int_eq(auth_jwt_verify(tok, strlen(tok), &iss, keyset, NOW, &res), AUTH_JWT_OK);
    ck_assert_str_eq(res.principal, "a@example.com");
    json_decref(res.claims);
    iss.principal_claim = "preferred_username";
    ck_assert_int_eq(auth_jwt_verify(tok, strlen(tok), &iss, keyset, NOW, &res),
                     AUTH_JWT_NO_PRINCIPAL);
    ck_assert_str_eq(res.reason, "token has no \"preferred_username\" claim");
    iss.principal_claim = NULL;
    /* fail closed when the configuration lacks an issuer or audiences */
    iss.issuer = NULL;
    ck_assert_int_eq(auth_jwt_verify(tok, strlen(tok), &iss, keyset, NOW, &res),
                     AUTH_JWT_WRONG_ISSUER);
    iss.issuer = ISS;
    iss.naudiences = 0;
    ck_assert_int_eq(auth_jwt_verify(tok, strlen(tok), &iss, keyset, NOW, &res),
                     AUTH_JWT_WRONG_AUDIENCE);
    iss.naudiences = 2;
    /* no key set at all */
    ck_assert_int_eq(auth_jwt_verify(tok, strlen(tok), &iss, NULL, NOW, &res),
                     AUTH_JWT_UNKNOWN_KEY);
    free(tok);

    /* a skew of 0: exp = now is expired, and a negative skew counts as 0 */
    tok = sign_token("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", PL_WITH("\"exp\":1795000000"), S_RSA,
                     "RS256");
    iss.skew_s = 0;
    ck_assert_int_eq(auth_jwt_verify(tok, strlen(tok), &iss, keyset, NOW, &res), AUTH_JWT_EXPIRED);
    iss.skew_s = -100;
    ck_assert_int_eq(auth_jwt_verify(tok, strlen(tok), &iss, keyset, NOW, &res), AUTH_JWT_EXPIRED);
    ck_assert_int_eq(auth_jwt_verify(tok, strlen(tok), &iss, keyset, NOW - 1, &res), AUTH_JWT_OK);
    json_decref(res.claims);
    free(tok);
}
END_TEST

START_TEST(tc_verify_size_cap)
{
    struct auth_jwt_result res;
    char *big = malloc((16u << 20) + 1), *tok = NULL, *pl = malloc(AUTH_JWT_MAX_TOKEN);
    size_t pad, best = 0;

    /* the largest valid token that fits the cap is accepted */
    for (pad = AUTH_JWT_MAX_TOKEN * 3 / 4; pad > 0; pad--) {
        snprintf(pl, AUTH_JWT_MAX_TOKEN, PL_WITH("\"exp\":1795003600,\"pad\":\"%0*d\""), (int)pad,
                 0);
        tok = sign_token("{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", pl, S_RSA, "RS256");
        if (strlen(tok) <= AUTH_JWT_MAX_TOKEN)
            break;
        free(tok);
        tok = NULL;
    }
    ck_assert_ptr_nonnull(tok);
    best = strlen(tok);
    ck_assert_uint_ge(best, AUTH_JWT_MAX_TOKEN - 4);
    ck_assert_int_eq(auth_jwt_verify(tok, best, &issuer, keyset, NOW, &res), AUTH_JWT_OK);
    json_decref(res.claims);
    free(tok);

    memset(big, 'A', (16u << 20) + 1);
    ck_assert_int_eq(auth_jwt_verify(big, AUTH_JWT_MAX_TOKEN + 1, &issuer, keyset, NOW, &res),
                     AUTH_JWT_MALFORMED);
    ck_assert_str_eq(res.reason, "malformed token: longer than 16384 bytes");
    ck_assert_int_eq(auth_jwt_verify(big, 16u << 20, &issuer, keyset, NOW, &res),
                     AUTH_JWT_MALFORMED);
    ck_assert_int_eq(auth_jwt_peek(big, 16u << 20, &res), AUTH_JWT_MALFORMED);
    ck_assert_int_eq(auth_jwt_verify("", 0, &issuer, keyset, NOW, &res), AUTH_JWT_MALFORMED);
    ck_assert_int_eq(auth_jwt_verify(NULL, 0, &issuer, keyset, NOW, &res), AUTH_JWT_MALFORMED);
    ck_assert_int_eq(auth_jwt_verify("..", 2, &issuer, keyset, NOW, &res), AUTH_JWT_MALFORMED);
    free(big);
    free(pl);
}
END_TEST

START_TEST(tc_verify_long_kid)
{
    struct auth_jwt_result res;
    char hdr[1200], kid[1000], *tok;

    memset(kid, 'k', sizeof(kid) - 1);
    kid[sizeof(kid) - 1] = '\0';
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"%s\"}", kid);
    tok = sign_token(hdr, GOOD_PL, S_RSA, "RS256");
    ck_assert_int_eq(auth_jwt_verify(tok, strlen(tok), &issuer, keyset, NOW, &res),
                     AUTH_JWT_MALFORMED);
    ck_assert_str_eq(res.reason, "malformed token: header kid longer than 255 bytes");
    free(tok);
    /* 255 bytes is a kid; unknown, and the reason shows only its start */
    kid[255] = '\0';
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"%s\"}", kid);
    tok = sign_token(hdr, GOOD_PL, S_RSA, "RS256");
    ck_assert_int_eq(auth_jwt_verify(tok, strlen(tok), &issuer, keyset, NOW, &res),
                     AUTH_JWT_UNKNOWN_KEY);
    ck_assert_ptr_nonnull(strstr(res.reason, "kkk\"..."));
    ck_assert_str_eq(res.kid, kid);
    free(tok);
}
END_TEST

START_TEST(tc_verify_long_principal)
{
    struct auth_jwt_result res;
    char pl[1024], sub[300], *tok;

    memset(sub, 'a', sizeof(sub) - 1);
    sub[sizeof(sub) - 1] = '\0';
    snprintf(pl, sizeof(pl),
             "{\"iss\":\"" ISS "\",\"aud\":\"sparkgate\",\"sub\":\"%s\","
             "\"exp\":1795003600}",
             sub);
    tok = sign_token("{\"alg\":\"ES256\",\"kid\":\"ec256\"}", pl, S_EC256, "ES256");
    ck_assert_int_eq(auth_jwt_verify(tok, strlen(tok), &issuer, keyset, NOW, &res),
                     AUTH_JWT_NO_PRINCIPAL);
    ck_assert_str_eq(res.reason, "claim \"sub\" is longer than 255 bytes");
    free(tok);
    sub[255] = '\0';
    snprintf(pl, sizeof(pl),
             "{\"iss\":\"" ISS "\",\"aud\":\"sparkgate\",\"sub\":\"%s\","
             "\"exp\":1795003600}",
             sub);
    tok = sign_token("{\"alg\":\"ES256\",\"kid\":\"ec256\"}", pl, S_EC256, "ES256");
    ck_assert_int_eq(auth_jwt_verify(tok, strlen(tok), &issuer, keyset, NOW, &res), AUTH_JWT_OK);
    ck_assert_str_eq(res.principal, sub);
    json_decref(res.claims);
    free(tok);
}
END_TEST

/* A key whose JWK carries "alg" only verifies that algorithm. */
START_TEST(tc_verify_key_alg_member)
{
    struct auth_jwk_set *s;
    struct auth_jwt_result res;
    char doc[4096], err[256], *jwk, *tok;

    jwk = export_jwk(fk[S_RSA].pkey, "rsa1", ",\"alg\":\"PS256\",\"use\":\"sig\"");
    snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", jwk);
    s = auth_jwk_set_parse(doc, strlen(doc), false, NULL, NULL, err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->nkeys, 1);
    ck_assert_uint_eq(s->keys[0].alg, JOSE_PS256);
    tok = good_token(S_RSA, "RS256");
    ck_assert_int_eq(auth_jwt_verify(tok, strlen(tok), &issuer, s, NOW, &res),
                     AUTH_JWT_ALG_NOT_ALLOWED);
    ck_assert_ptr_nonnull(strstr(res.reason, "key restricted to another algorithm"));
    free(tok);
    tok = good_token(S_RSA, "PS256");
    ck_assert_int_eq(auth_jwt_verify(tok, strlen(tok), &issuer, s, NOW, &res), AUTH_JWT_OK);
    json_decref(res.claims);
    free(tok);
    auth_jwk_set_unref(s);
    free(jwk);
}
END_TEST

START_TEST(tc_peek)
{
    struct auth_jwt_result res;
    char *tok;

    tok = good_token(S_EC256, "ES256");
    ck_assert_int_eq(auth_jwt_peek(tok, strlen(tok), &res), AUTH_JWT_OK);
    ck_assert_str_eq(res.iss, ISS);
    ck_assert_str_eq(res.kid, "ec256");
    ck_assert_uint_eq(res.alg, JOSE_ES256);
    ck_assert_ptr_null(res.claims);
    free(tok);
    /* peek trusts nothing but reads anything well-formed, even "none" */
    tok = sign_token("{\"alg\":\"none\"}", "{\"iss\":\"x\"}", S_RSA, "RS256");
    ck_assert_int_eq(auth_jwt_peek(tok, strlen(tok), &res), AUTH_JWT_OK);
    ck_assert_uint_eq(res.alg, 0);
    ck_assert_str_eq(res.iss, "x");
    ck_assert_str_eq(res.kid, "");
    free(tok);
    tok = sign_token("{\"alg\":\"RS256\"}", "{\"sub\":\"x\"}", S_RSA, "RS256");
    ck_assert_int_eq(auth_jwt_peek(tok, strlen(tok), &res), AUTH_JWT_OK);
    ck_assert_str_eq(res.iss, "");
    free(tok);
    tok = sign_token("{\"alg\":\"RS256\"}", "{\"iss\":5}", S_RSA, "RS256");
    ck_assert_int_eq(auth_jwt_peek(tok, strlen(tok), &res), AUTH_JWT_MALFORMED);
    free(tok);
    tok = sign_token("{\"alg\":\"RS256\"}", "{\"iss\":\"https://a\\r\\nx\"}", S_RSA, "RS256");
    ck_assert_int_eq(auth_jwt_peek(tok, strlen(tok), &res), AUTH_JWT_MALFORMED);
    ck_assert_str_eq(res.reason, "malformed token: claim \"iss\" contains control characters");
    ck_assert_str_eq(res.iss, "");
    free(tok);
    tok = sign_token("{\"alg\":\"RS256\",\"kid\":7}", "{\"iss\":\"x\"}", S_RSA, "RS256");
    ck_assert_int_eq(auth_jwt_peek(tok, strlen(tok), &res), AUTH_JWT_MALFORMED);
    free(tok);
    tok = sign_token("{\"alg\":\"RS256\"}", "[1]", S_RSA, "RS256");
    ck_assert_int_eq(auth_jwt_peek(tok, strlen(tok), &res), AUTH_JWT_MALFORMED);
    ck_assert_str_eq(res.reason, "malformed token: payload is not a JSON object");
    free(tok);
    ck_assert_int_eq(auth_jwt_peek("a.b", 3, &res), AUTH_JWT_MALFORMED);
    ck_assert_int_eq(auth_jwt_peek("e30.e30.+", 9, &res), AUTH_JWT_MALFORMED);
    ck_assert_str_eq(res.reason, "malformed token: bad base64url in signature");
}
END_TEST

START_TEST(tc_alg_names)
{
    static const char *const names[] = {"RS256", "RS384", "RS512", "PS256", "PS384",
                                        "PS512", "ES256", "ES384", "ES512", "EdDSA",
                                        "HS256", "HS384", "HS512"};
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ck_assert_uint_eq(jose_alg_from_name(names[i]), 1u << i);
        ck_assert_str_eq(jose_alg_name(1u << i), names[i]);
    }
    ck_assert_uint_eq(jose_alg_from_name("none"), 0);
    ck_assert_uint_eq(jose_alg_from_name("NONE"), 0);
    ck_assert_uint_eq(jose_alg_from_name("rs256"), 0);
    ck_assert_uint_eq(jose_alg_from_name("RS256 "), 0);
    ck_assert_uint_eq(jose_alg_from_name("EDDSA"), 0);
    ck_assert_uint_eq(jose_alg_from_name(""), 0);
    ck_assert_uint_eq(jose_alg_from_name(NULL), 0);
    ck_assert_str_eq(jose_alg_name(0), "?");
    ck_assert_str_eq(jose_alg_name(3), "?");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* base64url */

START_TEST(tc_b64url_roundtrip)
{
    uint8_t in[300], out[300];
    char enc[420], *ref;
    size_t len, n;
    long d;

    for (len = 0; len < sizeof(in); len++) {
        ck_assert_int_eq(RAND_bytes(in, (int)sizeof(in)), 1);
        n = jose_b64url_encode(in, len, enc);
        ck_assert_uint_eq(n, strlen(enc));
        ck_assert_uint_le(n + 1, (len * 4 + 2) / 3 + 1);
        ref = b64u(in, len);
        ck_assert_str_eq(enc, ref);
        free(ref);
        d = jose_b64url_decode(enc, n, out);
        ck_assert_int_eq(d, (long)len);
        ck_assert_mem_eq(out, in, len);
    }
}
END_TEST

START_TEST(tc_b64url_strict)
{
    static const struct {
        const char *in;
        long want; /* decoded length or -1 */
    } cases[] = {
        {"", 0},      {"AA", 1},     {"AAA", 2},   {"AAAA", 3},    {"-_-_", 3},
        {"A", -1},    {"AAAAA", -1}, {"AA=", -1},  {"AA==", -1},   {"A+", -1},
        {"A/AA", -1}, {"AA A", -1},  {"AA\n", -1}, {"AR", -1},     {"AQ", 1},
        {"AAB", -1},  {"AAE", 2},    {"AA.A", -1}, {"AA\x80", -1}, {"AAAA=", -1},
        {"////", -1}, {"++++", -1},  {"QUJD", 3},  {"YW", -1},     {"YQ", 1},
    };
    uint8_t out[16];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_msg(jose_b64url_decode(cases[i].in, strlen(cases[i].in), out) == cases[i].want,
                      "\"%s\"", cases[i].in);
    ck_assert_int_eq(jose_b64url_decode("QUJD", 4, out), 3);
    ck_assert_mem_eq(out, "ABC", 3);
    /* a NUL byte is not part of the alphabet */
    ck_assert_int_eq(jose_b64url_decode("AA\0A", 4, out), -1);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* JWKS */

struct drops {
    int n;
    char kid[8][64];
    char reason[8][160];
};

static void
on_drop(void *arg, const char *kid, const char *reason)
{
    struct drops *d = arg;

    ck_assert_ptr_nonnull(kid);
    ck_assert_ptr_nonnull(reason);
    if (d->n < 8) {
        snprintf(d->kid[d->n], sizeof(d->kid[0]), "%s", kid);
        snprintf(d->reason[d->n], sizeof(d->reason[0]), "%s", reason);
    }
    d->n++;
}

/* Parses |doc| (with allow_oct); checks kept kids and one drop reason. */
static void
jwks_expect(const char *doc, bool allow_oct, const char *kept, int ndrops, const char *drop_kid,
            const char *drop_reason)
{
    struct drops d;
    struct auth_jwk_set *s;
    char err[256], got[512] = "";
    size_t i;

    memset(&d, 0, sizeof(d));
    ERR_clear_error();
    s = auth_jwk_set_parse(doc, strlen(doc), allow_oct, on_drop, &d, err, sizeof(err));
    ck_assert_uint_eq(ERR_peek_error(), 0);
    ck_assert_msg(s != NULL, "%s", err);
    for (i = 0; i < s->nkeys; i++) {
        strcat(got, i > 0 ? "," : "");
        strcat(got, s->keys[i].kid);
        ck_assert_int_eq(auth_jwk_set_find(s, s->keys[i].kid) == &s->keys[i] ||
                             s->keys[i].kid[0] == '\0',
                         1);
    }
    ck_assert_str_eq(got, kept);
    ck_assert_int_eq(d.n, ndrops);
    if (ndrops > 0) {
        ck_assert_str_eq(d.kid[0], drop_kid);
        ck_assert_msg(strstr(d.reason[0], drop_reason) != NULL, "drop reason \"%s\" lacks \"%s\"",
                      d.reason[0], drop_reason);
    }
    auth_jwk_set_unref(s);
}

START_TEST(tc_jwks_mixed)
{
    char doc[16384];

    snprintf(doc, sizeof(doc),
             "{\"keys\":[%s,%s,%s,%s,%s,{\"kty\":\"oct\",\"kid\":\"o\",\"k\":\"c2VjcmV0\"}],"
             "\"other\":1}",
             fk[S_RSA].jwk, fk[S_EC256].jwk, fk[S_EC384].jwk, fk[S_EC521].jwk, fk[S_ED].jwk);
    jwks_expect(doc, false, "rsa1,ec256,ec384,ec521,ed1", 1, "o",
                "symmetric (\"oct\") keys are not accepted");
}
END_TEST

START_TEST(tc_jwks_types)
{
    struct drops d;
    struct auth_jwk_set *s;
    char doc[4096], err[256];

    memset(&d, 0, sizeof(d));
    snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s,%s]}", fk[S_RSA].jwk, fk[S_EC384].jwk,
             fk[S_ED].jwk);
    s = auth_jwk_set_parse(doc, strlen(doc), false, on_drop, &d, err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->keys[0].type, AUTH_JWK_RSA);
    ck_assert_int_eq(s->keys[0].bits, 2048);
    ck_assert_int_eq(s->keys[1].type, AUTH_JWK_EC);
    ck_assert_int_eq(s->keys[1].curve_nid, NID_secp384r1);
    ck_assert_int_eq(s->keys[2].type, AUTH_JWK_OKP);
    ck_assert(auth_jwk_fits_alg(&s->keys[0], JOSE_PS512));
    ck_assert(!auth_jwk_fits_alg(&s->keys[0], JOSE_HS256));
    ck_assert(!auth_jwk_fits_alg(&s->keys[1], JOSE_ES256));
    ck_assert(auth_jwk_fits_alg(&s->keys[1], JOSE_ES384));
    ck_assert(auth_jwk_fits_alg(&s->keys[2], JOSE_EDDSA));
    ck_assert(!auth_jwk_fits_alg(&s->keys[2], 0));
    ck_assert(!auth_jwk_fits_alg(NULL, JOSE_RS256));
    ck_assert_ptr_null(auth_jwk_set_find(s, ""));
    ck_assert_ptr_null(auth_jwk_set_find(s, "RSA1"));
    ck_assert_ptr_null(auth_jwk_set_find(s, NULL));
    auth_jwk_set_unref(s);
}
END_TEST

START_TEST(tc_jwks_drops)
{
    char doc[16384], *j1, *j2;

    /* RSA 1024 */
    snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s]}", fk[S_RSA1024].jwk, fk[S_RSA].jwk);
    jwks_expect(doc, false, "rsa1", 1, "rsa1024",
                "RSA key of 1024 bits is too weak (minimum 2048)");
    /* secp256k1 */
    snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s]}", fk[S_K1].jwk, fk[S_EC256].jwk);
    jwks_expect(doc, false, "ec256", 1, "k1", "unsupported curve");
    /* "use":"enc" */
    j1 = export_jwk(fk[S_RSA].pkey, "enc1", ",\"use\":\"enc\"");
    snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", j1);
    jwks_expect(doc, false, "", 1, "enc1", "\"use\" is not \"sig\"");
    free(j1);
    /* key_ops without verify */
    j1 = export_jwk(fk[S_RSA].pkey, "ops", ",\"key_ops\":[\"encrypt\"]");
    j2 = export_jwk(fk[S_RSA].pkey, "ops2", ",\"key_ops\":[\"sign\",\"verify\"]");
    snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s]}", j1, j2);
    jwks_expect(doc, false, "ops2", 1, "ops", "\"key_ops\" does not include \"verify\"");
    free(j1);
    free(j2);
    /* duplicate kid: same kid on an RSA and an EC key (J29) */
    j1 = export_jwk(fk[S_EC256].pkey, "rsa1", "");
    snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s]}", fk[S_RSA].jwk, j1);
    jwks_expect(doc, false, "rsa1", 1, "rsa1", "duplicate \"kid\"");
    free(j1);
    /* RSA key with "alg":"HS256" (the CVE-2026-44699 shape) */
    j1 = export_jwk(fk[S_RSA].pkey, "rsahs", ",\"alg\":\"HS256\"");
    snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", j1);
    jwks_expect(doc, false, "", 1, "rsahs", "\"alg\" HS256 does not fit this key");
    free(j1);
    /* alg none, unknown alg */
    j1 = export_jwk(fk[S_RSA].pkey, "n1", ",\"alg\":\"none\"");
    snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", j1);
    jwks_expect(doc, false, "", 1, "n1", "unsupported \"alg\"");
    free(j1);
    /* private key material */
    j1 = export_jwk(fk[S_EC256].pkey, "priv", ",\"d\":\"AAAA\"");
    snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", j1);
    jwks_expect(doc, false, "", 1, "priv", "private key");
    free(j1);
    /* kid-less keys are kept, several of them */
    j1 = export_jwk(fk[S_RSA].pkey, "", "");
    snprintf(doc, sizeof(doc), "{\"keys\":[%s,%s]}", j1, j1);
    jwks_expect(doc, false, ",", 0, NULL, NULL);
    free(j1);
}
END_TEST

START_TEST(tc_jwks_bad_keys)
{
    static const struct {
        const char *jwk;
        const char *kid, *reason;
    } cases[] = {
        {"5", "", "not a JSON object"},
        {"{\"kid\":\"a\"}", "a", "no \"kty\""},
        {"{\"kid\":\"a\",\"kty\":\"DSA\"}", "a", "unsupported \"kty\""},
        {"{\"kid\":7,\"kty\":\"RSA\"}", "", "\"kid\" is not a string"},
        {"{\"kid\":\"a\",\"kty\":\"RSA\",\"n\":\"AQAB\"}", "a", "missing or non-string"},
        {"{\"kid\":\"a\",\"kty\":\"RSA\",\"n\":\"AQ==\",\"e\":\"AQAB\"}", "a", "not base64url"},
        {"{\"kid\":\"a\",\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", "a", ""},
        {"{\"kid\":\"a\",\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AQAB\",\"y\":\"AQAB\"}", "a",
         "EC coordinate x of a wrong length"},
        {"{\"kid\":\"a\",\"kty\":\"EC\",\"crv\":\"P-192\",\"x\":\"AQAB\",\"y\":\"AQAB\"}", "a",
         "unsupported curve"},
        {"{\"kid\":\"a\",\"kty\":\"EC\",\"crv\":\"secp256k1\",\"x\":\"AQAB\",\"y\":\"AQAB\"}", "a",
         "unsupported curve"},
        {"{\"kid\":\"a\",\"kty\":\"EC\",\"x\":\"AQAB\",\"y\":\"AQAB\"}", "a", "EC key without crv"},
        {"{\"kid\":\"a\",\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AQAB\"}", "a",
         "unsupported OKP curve"},
        {"{\"kid\":\"a\",\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"AQAB\"}", "a",
         "unsupported OKP curve"},
        {"{\"kid\":\"a\",\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AQAB\"}", "a",
         "Ed25519 key of a wrong length"},
        {"{\"kid\":\"a\",\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}", "a", "shorter than 32 bytes"},
        {"{\"kid\":\"a\",\"kty\":\"RSA\",\"use\":5}", "a", "\"use\" is not \"sig\""},
        {"{\"kid\":\"a\",\"kty\":\"RSA\",\"key_ops\":\"verify\"}", "a", "not an array"},
        {"{\"kid\":\"a\",\"kty\":\"RSA\",\"alg\":5}", "a", "unsupported \"alg\""},
    };
    char doc[1024];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", cases[i].jwk);
        jwks_expect(doc, true, "", 1, cases[i].kid, cases[i].reason);
    }
}
END_TEST

START_TEST(tc_jwks_rsa_exponent)
{
    BIGNUM *n = NULL;
    char doc[4096], *nb;

    ck_assert_int_eq(EVP_PKEY_get_bn_param(fk[S_RSA].pkey, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    nb = bn_b64u(n, 0);
    /* e = 3 (J27), e = 1, even e */
    snprintf(doc, sizeof(doc),
             "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"e3\",\"n\":\"%s\","
             "\"e\":\"Aw\"}]}",
             nb);
    jwks_expect(doc, false, "", 1, "e3", "RSA exponent must be odd, at least 65537");
    snprintf(doc, sizeof(doc),
             "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"e1\",\"n\":\"%s\","
             "\"e\":\"AQ\"}]}",
             nb);
    jwks_expect(doc, false, "", 1, "e1", "");
    snprintf(doc, sizeof(doc),
             "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"e2\",\"n\":\"%s\","
             "\"e\":\"AQAC\"}]}",
             nb);
    jwks_expect(doc, false, "", 1, "e2", "");
    /* a leading zero octet on n is tolerated (some issuers emit one) */
    {
        uint8_t buf[300];
        char *padded;
        int len = BN_bn2bin(n, buf + 1);

        buf[0] = 0;
        padded = b64u(buf, (size_t)len + 1);
        snprintf(doc, sizeof(doc),
                 "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"z\",\"n\":\"%s\","
                 "\"e\":\"AQAB\"}]}",
                 padded);
        jwks_expect(doc, false, "z", 0, NULL, NULL);
        free(padded);
    }
    BN_free(n);
    free(nb);
}
END_TEST

START_TEST(tc_jwks_point_not_on_curve)
{
    BIGNUM *x = NULL, *y = NULL;
    char doc[4096], *xb, *yb;

    ck_assert_int_eq(EVP_PKEY_get_bn_param(fk[S_EC256].pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x), 1);
    ck_assert_int_eq(EVP_PKEY_get_bn_param(fk[S_EC256].pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y), 1);
    ck_assert_int_eq(BN_add_word(y, 1), 1);
    xb = bn_b64u(x, 32);
    yb = bn_b64u(y, 32);
    snprintf(doc, sizeof(doc),
             "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"bad\",\"crv\":\"P-256\","
             "\"x\":\"%s\",\"y\":\"%s\"}]}",
             xb, yb);
    jwks_expect(doc, false, "", 1, "bad", "EC point is not on the curve");
    free(xb);
    free(yb);
    /* P-256 coordinates on a P-384 "crv": wrong length */
    xb = bn_b64u(x, 48);
    yb = bn_b64u(y, 48);
    snprintf(doc, sizeof(doc),
             "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"bad\",\"crv\":\"P-384\","
             "\"x\":\"%s\",\"y\":\"%s\"}]}",
             xb, yb);
    jwks_expect(doc, false, "", 1, "bad", "EC point is not on the curve");
    free(xb);
    free(yb);
    BN_free(x);
    BN_free(y);
}
END_TEST

START_TEST(tc_jwks_oct)
{
    static const char doc[] = "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"h\",\"alg\":\"HS256\","
                              "\"k\":\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY\"}]}";
    struct auth_jwt_result res;
    struct auth_jwk_set *s;
    char err[256], *tok;

    s = auth_jwk_set_parse(doc, strlen(doc), false, NULL, NULL, err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->nkeys, 0);
    auth_jwk_set_unref(s);
    s = auth_jwk_set_parse(doc, strlen(doc), true, NULL, NULL, err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->nkeys, 1);
    ck_assert_int_eq(s->keys[0].type, AUTH_JWK_OCT);
    ck_assert_uint_eq(s->keys[0].secret_len, 32);
    ck_assert_mem_eq(s->keys[0].secret, fk[S_HS].secret, 32);
    tok = sign_token("{\"alg\":\"HS256\",\"kid\":\"h\"}", GOOD_PL, S_HS, "HS256");
    ck_assert_int_eq(auth_jwt_verify(tok, strlen(tok), &issuer, s, NOW, &res), AUTH_JWT_OK);
    json_decref(res.claims);
    free(tok);
    auth_jwk_set_unref(s);
}
END_TEST

START_TEST(tc_jwks_documents)
{
    static const struct {
        const char *doc;
        const char *err; /* NULL: parses (possibly empty) */
    } cases[] = {
        {"{\"keys\":[]}", NULL},
        {"{\"keys\":[],\"keys\":[]}", "JWKS is not valid JSON: duplicate object key"},
        {"{}", "JWKS has no \"keys\" array"},
        {"{\"keys\":{}}", "JWKS has no \"keys\" array"},
        {"[]", "JWKS has no \"keys\" array"},
        {"garbage", "JWKS is not valid JSON"},
        {"{\"keys\":[]} x", "JWKS is not valid JSON"},
        {"", "JWKS is not valid JSON"},
    };
    struct auth_jwk_set *s;
    char err[256];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = '\0';
        s = auth_jwk_set_parse(cases[i].doc, strlen(cases[i].doc), false, NULL, NULL, err,
                               sizeof(err));
        if (cases[i].err == NULL) {
            ck_assert_ptr_nonnull(s);
            ck_assert_uint_eq(s->nkeys, 0);
            auth_jwk_set_unref(s);
        } else {
            ck_assert_ptr_null(s);
            ck_assert_msg(strstr(err, cases[i].err) != NULL, "\"%s\" lacks \"%s\"", err,
                          cases[i].err);
        }
    }
    ck_assert_ptr_null(
        auth_jwk_set_parse("{\"keys\":[]}\0", 12, false, NULL, NULL, err, sizeof(err)));
    ck_assert_str_eq(err, "JWKS contains a NUL byte");
    /* err may be NULL */
    ck_assert_ptr_null(auth_jwk_set_parse("x", 1, false, NULL, NULL, NULL, 0));
}
END_TEST

START_TEST(tc_jwks_too_many)
{
    size_t cap = 300 * 128 + 64, i, o;
    char *doc = malloc(cap);
    struct drops d;
    struct auth_jwk_set *s;
    char err[256];

    /* 300 Ed25519 keys: 256 kept, the rest dropped */
    o = (size_t)snprintf(doc, cap, "{\"keys\":[");
    for (i = 0; i < 300; i++) {
        char *x = strstr(fk[S_ED].jwk, "\"x\":\"") + 5;

        o += (size_t)snprintf(doc + o, cap - o,
                              "%s{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                              "\"kid\":\"k%zu\",\"x\":\"%.43s\"}",
                              i > 0 ? "," : "", i, x);
    }
    snprintf(doc + o, cap - o, "]}");
    memset(&d, 0, sizeof(d));
    s = auth_jwk_set_parse(doc, strlen(doc), false, on_drop, &d, err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->nkeys, 256);
    ck_assert_int_eq(d.n, 44);
    ck_assert_str_eq(d.kid[0], "k256");
    ck_assert_str_eq(d.reason[0], "too many keys in one JWKS");
    auth_jwk_set_unref(s);
    free(doc);
}
END_TEST

START_TEST(tc_pem)
{
    static const struct {
        enum signer who;
        const char *err; /* NULL: accepted */
    } cases[] = {
        {S_RSA, NULL},
        {S_EC256, NULL},
        {S_EC384, NULL},
        {S_EC521, NULL},
        {S_ED, NULL},
        {S_RSA1024, "unusable public key: RSA key of 1024 bits is too weak"},
        {S_K1, "unusable public key: unsupported curve"},
    };
    struct auth_jwt_result res;
    struct auth_jwk_set *s;
    char err[256], two[8192], *tok;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *pem = fk[cases[i].who].pem;

        err[0] = '\0';
        s = auth_jwk_set_from_pem(pem, strlen(pem), "pk", err, sizeof(err));
        if (cases[i].err != NULL) {
            ck_assert_ptr_null(s);
            ck_assert_msg(strstr(err, cases[i].err) != NULL, "%s", err);
            continue;
        }
        ck_assert_msg(s != NULL, "%s", err);
        ck_assert_uint_eq(s->nkeys, 1);
        ck_assert_str_eq(s->keys[0].kid, "pk");
        auth_jwk_set_unref(s);
    }
    /* a PEM key verifies, without kid in the token */
    s = auth_jwk_set_from_pem(fk[S_RSA].pem, strlen(fk[S_RSA].pem), NULL, err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->keys[0].kid, "");
    tok = sign_token("{\"alg\":\"PS256\"}", GOOD_PL, S_RSA, "PS256");
    ck_assert_int_eq(auth_jwt_verify(tok, strlen(tok), &issuer, s, NOW, &res), AUTH_JWT_OK);
    json_decref(res.claims);
    free(tok);
    /* a token with a kid never finds a kid-less key */
    tok = good_token(S_RSA, "RS256");
    ck_assert_int_eq(auth_jwt_verify(tok, strlen(tok), &issuer, s, NOW, &res),
                     AUTH_JWT_UNKNOWN_KEY);
    free(tok);
    auth_jwk_set_unref(s);

    snprintf(two, sizeof(two), "%s%s", fk[S_RSA].pem, fk[S_EC256].pem);
    ck_assert_ptr_null(auth_jwk_set_from_pem(two, strlen(two), "x", err, sizeof(err)));
    ck_assert_str_eq(err, "more than one PEM block (one key per file)");
    ck_assert_ptr_null(auth_jwk_set_from_pem("garbage", 7, "x", err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "no PEM public key"));
    ck_assert_ptr_null(auth_jwk_set_from_pem("", 0, "x", err, sizeof(err)));
    {
        char *priv = export_pem(fk[S_RSA].pkey, true);

        ck_assert_ptr_null(auth_jwk_set_from_pem(priv, strlen(priv), "x", err, sizeof(err)));
        OPENSSL_clear_free(priv, strlen(priv));
    }
    {
        char kid[300];

        memset(kid, 'k', sizeof(kid) - 1);
        kid[sizeof(kid) - 1] = '\0';
        ck_assert_ptr_null(
            auth_jwk_set_from_pem(fk[S_RSA].pem, strlen(fk[S_RSA].pem), kid, err, sizeof(err)));
        ck_assert_ptr_null(auth_jwk_set_from_secret((const uint8_t *)"x", 1, kid));
    }
    ck_assert_ptr_null(auth_jwk_set_from_secret((const uint8_t *)"x", 0, "k"));
    ck_assert_ptr_null(auth_jwk_set_from_secret(NULL, 5, "k"));
}
END_TEST

START_TEST(tc_merge_refcount)
{
    struct auth_jwk_set *a, *b, *m, *sets[4];
    char err[256];

    a = auth_jwk_set_from_pem(fk[S_EC256].pem, strlen(fk[S_EC256].pem), "same", err, sizeof(err));
    b = auth_jwk_set_from_pem(fk[S_ED].pem, strlen(fk[S_ED].pem), "same", err, sizeof(err));
    sets[0] = a;
    sets[1] = NULL;
    sets[2] = b;
    sets[3] = keyset;
    m = auth_jwk_set_merge(sets, 4);
    ck_assert_ptr_nonnull(m);
    /* "same" from the first set only, then every key of keyset */
    ck_assert_uint_eq(m->nkeys, 1 + keyset->nkeys);
    ck_assert_int_eq(auth_jwk_set_find(m, "same")->type, AUTH_JWK_EC);
    ck_assert_ptr_eq(auth_jwk_set_find(m, "same")->pkey, a->keys[0].pkey);
    ck_assert_ptr_nonnull(auth_jwk_set_find(m, "hs1")->secret);
    ck_assert_ptr_ne(auth_jwk_set_find(m, "hs1")->secret, auth_jwk_set_find(keyset, "hs1")->secret);
    /* the merged set outlives its parts */
    auth_jwk_set_unref(a);
    auth_jwk_set_unref(b);
    ck_assert_ptr_eq(auth_jwk_set_ref(m), m);
    ck_assert_int_eq(m->refcnt, 2);
    auth_jwk_set_unref(m);
    ck_assert_int_eq(m->refcnt, 1);
    {
        struct auth_jwt_result res;
        char *tok = good_token(S_EC384, "ES384");

        ck_assert_int_eq(auth_jwt_verify(tok, strlen(tok), &issuer, m, NOW, &res), AUTH_JWT_OK);
        json_decref(res.claims);
        free(tok);
    }
    auth_jwk_set_unref(m);
    m = auth_jwk_set_merge(sets, 0);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->nkeys, 0);
    auth_jwk_set_unref(m);
    auth_jwk_set_unref(NULL);
    ck_assert_ptr_null(auth_jwk_set_ref(NULL));
}
END_TEST

Suite *
auth_jwt_suite(void)
{
    Suite *s = suite_create("auth_jwt");
    TCase *tv = tcase_create("verify"), *tk = tcase_create("keys"), *tb = tcase_create("b64url");

    tcase_add_unchecked_fixture(tv, keys_setup, keys_teardown);
    tcase_set_timeout(tv, 120);
    tcase_add_loop_test(tv, tc_verify_table, 0, (int)(sizeof(vcases) / sizeof(vcases[0])));
    tcase_add_test(tv, tc_verify_libjwt_interop);
    tcase_add_test(tv, tc_verify_ecdsa_many);
    tcase_add_test(tv, tc_verify_allowlist);
    tcase_add_test(tv, tc_verify_issuer_config);
    tcase_add_test(tv, tc_verify_size_cap);
    tcase_add_test(tv, tc_verify_long_kid);
    tcase_add_test(tv, tc_verify_long_principal);
    tcase_add_test(tv, tc_verify_key_alg_member);
    tcase_add_test(tv, tc_peek);
    tcase_add_test(tv, tc_alg_names);
    suite_add_tcase(s, tv);

    tcase_add_unchecked_fixture(tk, keys_setup, keys_teardown);
    tcase_set_timeout(tk, 120);
    tcase_add_test(tk, tc_jwks_mixed);
    tcase_add_test(tk, tc_jwks_types);
    tcase_add_test(tk, tc_jwks_drops);
    tcase_add_test(tk, tc_jwks_bad_keys);
    tcase_add_test(tk, tc_jwks_rsa_exponent);
    tcase_add_test(tk, tc_jwks_point_not_on_curve);
    tcase_add_test(tk, tc_jwks_oct);
    tcase_add_test(tk, tc_jwks_documents);
    tcase_add_test(tk, tc_jwks_too_many);
    tcase_add_test(tk, tc_pem);
    tcase_add_test(tk, tc_merge_refcount);
    suite_add_tcase(s, tk);

    tcase_add_test(tb, tc_b64url_roundtrip);
    tcase_add_test(tb, tc_b64url_strict);
    suite_add_tcase(s, tb);
    return s;
}
