/*
 * auth_jwt.c: JWS compact-serialisation verification (RFC 7515, 7518,
 * 7519, 9068) with OpenSSL EVP against keys already parsed into EVP_PKEY
 * (auth_jwk.c); algorithms and base64url come from jose.c.
 *
 * Pure: no I/O, no logging, no global state but constant tables.  Every
 * step fails closed and fills a reason meant for an honest client ("token
 * expired at ..."); attacker-supplied strings (kid, alg, iss, aud) are
 * quoted and escaped before they reach a reason, and the token itself never
 * does.  Claims are checked only after the signature, so an unauthenticated
 * sender learns nothing about the configuration (expected issuer or
 * audience) from a forged token.
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/rsa.h>

#include "auth_jwt.h"

/* RFC 7519 NumericDate values outside [0, 9999-12-31T23:59:59Z] are refused as absurd */
#define AUTH_JWT_TIME_MAX INT64_C(253402300799)
#define AUTH_JWT_SKEW_MAX 86400 /* a larger configured skew is clamped */
#define AUTH_JWT_SHOW_MAX 64    /* bytes of an untrusted string shown in a reason */


/* RFC 7515 §4.1: header members whose meaning we do not implement, or that
 * would let the token pick its own key; a token carrying one is refused. */
static const char *const untrusted_members[] = {"crit", "jku", "x5u", "jwk", "x5c", "b64"};

/* A split and decoded token; the three decoded parts share one allocation. */
struct jws {
    const char *token;
    size_t signing_len; /* "header.payload": the JWS Signing Input */
    uint8_t *buf;       /* owned */
    const uint8_t *hdr, *pl, *sig;
    size_t hdr_len, pl_len, sig_len;
    json_t *header; /* owned */
};


/* ------------------------------------------------------------------------ */
/* reasons */

/*
 * Writes |s| (|len| bytes, untrusted) into |out|, between double quotes when
 * |marks|: printable ASCII as is, '"' and '\' escaped, every other byte as
 * \xNN, cut after AUTH_JWT_SHOW_MAX input bytes with "...".  The result is
 * safe in a log line and in grpc-message whatever the token contained.
 */
static void
escape(char *out, size_t cap, const char *s, size_t len, bool marks)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, o = 0, n = len < AUTH_JWT_SHOW_MAX ? len : AUTH_JWT_SHOW_MAX;

    if (cap < 8) {
        if (cap > 0)
            out[0] = '\0';
        return;
    }
    if (marks)
        out[o++] = '"';
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        /* room for the longest escape, the closing quote, "..." and NUL */
        if (o + 4 + 5 > cap)
            break;
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out[o++] = (char)c;
        } else if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 0x0f];
        }
    }
    if (marks)
        out[o++] = '"';
    if (i < len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static void
quote_str(char *out, size_t cap, const char *s)
{
    escape(out, cap, s, strlen(s), true);
}

static void
quote_json(char *out, size_t cap, const json_t *v)
{
    escape(out, cap, json_string_value(v), json_string_length(v), true);
}

static enum auth_jwt_err fail(struct auth_jwt_result *res, enum auth_jwt_err err, const char *fmt,
                              ...) __attribute__((format(printf, 3, 4)));

static enum auth_jwt_err
fail(struct auth_jwt_result *res, enum auth_jwt_err err, const char *fmt, ...)
{
    va_list ap;

    res->err = err;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
    return err;
}

/* "2026-11-21T07:00:00Z"; |t| is within [0, AUTH_JWT_TIME_MAX] */
static const char *
fmt_time(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "%lld", (long long)t);
    return buf;
}

/* The issuer's allowed algorithms as "RS256 ES256", for the honest client's reason. */
static void
fmt_algs(unsigned algs, char *buf, size_t len)
{
    const struct jose_alg *ai;
    size_t i, o = 0;
    int n;

    buf[0] = '\0';
    for (i = 0; (ai = jose_alg_at(i)) != NULL; i++) {
        if ((algs & ai->bit) == 0)
            continue;
        n = snprintf(buf + o, len - o, "%s%s", o > 0 ? " " : "", ai->name);
        if (n < 0 || (size_t)n >= len - o)
            break;
        o += (size_t)n;
    }
    if (o == 0)
        snprintf(buf, len, "none configured");
}

/* ------------------------------------------------------------------------ */
/* structure: size, segments, base64url, JSON */

static void
result_init(struct auth_jwt_result *res)
{
    res->err = AUTH_JWT_OK;
    res->reason[0] = '\0';
    res->kid[0] = '\0';
    res->alg = 0;
    res->iss[0] = '\0';
    res->principal[0] = '\0';
    res->exp = 0;
    res->claims = NULL;
}

/*
 * Parses |len| bytes of decoded JSON into an object.  Duplicate members are
 * refused (RFC 7515 §5.2 lets us; a second "alg" or "sub" must not silently
 * win), as are NUL bytes (a C consumer would see a shorter text) and any
 * top level other than an object.  Returns the object (owned by the caller)
 * or NULL with |res| failed.
 */
static json_t *
parse_object(const uint8_t *buf, size_t len, const char *what, struct auth_jwt_result *res)
{
    char why[AUTH_JWT_SHOW_MAX * 4 + 8];
    json_error_t jerr;
    json_t *o;

    if (memchr(buf, '\0', len) != NULL) {
        fail(res, AUTH_JWT_MALFORMED, "malformed token: NUL byte in %s", what);
        return NULL;
    }
    o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL) {
        /* jansson quotes the offending lexeme (e.g. a duplicate key): escaped */
        escape(why, sizeof(why), jerr.text, strlen(jerr.text), false);
        fail(res, AUTH_JWT_MALFORMED, "malformed token: %s is not valid JSON (%s)", what, why);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        fail(res, AUTH_JWT_MALFORMED, "malformed token: %s is not a JSON object", what);
        return NULL;
    }
    return o;
}

static void
jws_close(struct jws *j)
{
    json_decref(j->header);
    j->header = NULL;
    free(j->buf);
    j->buf = NULL;
}

/*
 * Splits |token| into exactly three non-empty segments, decodes all three
 * with the strict decoder and parses the header.  On success |j| owns a
 * buffer and the header object (jws_close); on failure it owns nothing.
 */
static enum auth_jwt_err
jws_open(struct jws *j, const char *token, size_t len, struct auth_jwt_result *res)
{
    static const char *const names[3] = {"header", "payload", "signature"};
    const char *seg[3];
    size_t seglen[3], i, cap, off = 0;
    const char *d1, *d2;
    long n;

    memset(j, 0, sizeof(*j));
    j->token = token;
    if (token == NULL || len == 0)
        return fail(res, AUTH_JWT_MALFORMED, "malformed token: empty");
    /* before any decoding: the cap bounds every allocation below */
    if (len > AUTH_JWT_MAX_TOKEN)
        return fail(res, AUTH_JWT_MALFORMED, "malformed token: longer than %d bytes",
                    AUTH_JWT_MAX_TOKEN);
    d1 = memchr(token, '.', len);
    d2 = d1 != NULL ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (d2 == NULL)
        return fail(res, AUTH_JWT_MALFORMED,
                    "malformed token: not a JWS (expected header.payload.signature)");
    if (memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL)
        return fail(res, AUTH_JWT_MALFORMED,
                    "malformed token: more than 3 segments (encrypted tokens are not supported)");
    seg[0] = token;
    seglen[0] = (size_t)(d1 - token);
    seg[1] = d1 + 1;
    seglen[1] = (size_t)(d2 - seg[1]);
    seg[2] = d2 + 1;
    seglen[2] = len - (size_t)(seg[2] - token);
    for (i = 0; i < 3; i++) {
        if (seglen[i] == 0)
            return fail(res, AUTH_JWT_MALFORMED, "malformed token: empty %s", names[i]);
    }

    cap = 0;
    for (i = 0; i < 3; i++)
        cap += seglen[i] * 3 / 4 + 1;
    j->buf = malloc(cap);
    if (j->buf == NULL)
        return fail(res, AUTH_JWT_MALFORMED, "token could not be checked (out of memory)");
    for (i = 0; i < 3; i++) {
        n = jose_b64url_decode(seg[i], seglen[i], j->buf + off);
        if (n <= 0) {
            jws_close(j);
            return fail(res, AUTH_JWT_MALFORMED, "malformed token: bad base64url in %s", names[i]);
        }
        if (i == 0) {
            j->hdr = j->buf + off;
            j->hdr_len = (size_t)n;
        } else if (i == 1) {
            j->pl = j->buf + off;
            j->pl_len = (size_t)n;
        } else {
            j->sig = j->buf + off;
            j->sig_len = (size_t)n;
        }
        off += (size_t)n;
    }
    j->signing_len = (size_t)(d2 - token);

    j->header = parse_object(j->hdr, j->hdr_len, "header", res);
    if (j->header == NULL) {
        jws_close(j);
        return res->err;
    }
    return AUTH_JWT_OK;
}

/*
 * Reads the optional "kid" into res->kid.  Returns 1 when present, 0 when
 * absent, or the failure.
 */
static int
header_kid(const json_t *header, struct auth_jwt_result *res)
{
    const json_t *v = json_object_get(header, "kid");
    size_t n;

    if (v == NULL)
        return 0;
    if (!json_is_string(v)) {
        fail(res, AUTH_JWT_MALFORMED, "malformed token: header kid is not a string");
        return -1;
    }
    n = json_string_length(v);
    if (n >= sizeof(res->kid)) {
        fail(res, AUTH_JWT_MALFORMED, "malformed token: header kid longer than %zu bytes",
             sizeof(res->kid) - 1);
        return -1;
    }
    /* jansson refuses \u0000 without JSON_ALLOW_NUL, so the kid is one C string */
    memcpy(res->kid, json_string_value(v), n + 1);
    return 1;
}

/* RFC 7519 §5.1 / RFC 9068 §2.1: "JWT" or "at+jwt", optionally with the
 * "application/" prefix; media types compare case-insensitively. */
static bool
typ_ok(const char *typ)
{
    if (strncasecmp(typ, "application/", 12) == 0)
        typ += 12;
    return strcasecmp(typ, "JWT") == 0 || strcasecmp(typ, "at+jwt") == 0;
}

/*
 * Header policy: alg allowlisted, no member we would have to trust, typ
 * acceptable, kid well-formed.  Sets *|aip| and res->alg / res->kid.
 */
static enum auth_jwt_err
check_header(const json_t *header, unsigned algs, const struct jose_alg **aip, int *has_kid,
             struct auth_jwt_result *res)
{
    char q[AUTH_JWT_SHOW_MAX * 4 + 8], allowed[128];
    const json_t *v;
    unsigned alg;
    size_t i;

    v = json_object_get(header, "alg");
    if (v == NULL)
        return fail(res, AUTH_JWT_MALFORMED, "malformed token: header has no alg");
    if (!json_is_string(v))
        return fail(res, AUTH_JWT_MALFORMED, "malformed token: header alg is not a string");
    /* an allowlist by exact name: "none", "nOnE", "none " and "rs256" all miss it */
    alg = jose_alg_from_name(json_string_value(v));
    if (alg == 0 || (alg & algs) == 0) {
        quote_json(q, sizeof(q), v);
        fmt_algs(algs, allowed, sizeof(allowed));
        return fail(res, AUTH_JWT_ALG_NOT_ALLOWED, "algorithm %s not allowed (allowed: %s)", q,
                    allowed);
    }
    res->alg = alg;
    *aip = jose_alg_lookup(alg);

    for (i = 0; i < sizeof(untrusted_members) / sizeof(untrusted_members[0]); i++) {
        if (json_object_get(header, untrusted_members[i]) != NULL)
            return fail(res, AUTH_JWT_UNTRUSTED_HEADER, "header member \"%s\" is not accepted",
                        untrusted_members[i]);
    }
    v = json_object_get(header, "typ");
    if (v != NULL) {
        if (!json_is_string(v))
            return fail(res, AUTH_JWT_MALFORMED, "malformed token: header typ is not a string");
        if (!typ_ok(json_string_value(v))) {
            quote_json(q, sizeof(q), v);
            return fail(res, AUTH_JWT_UNTRUSTED_HEADER,
                        "unsupported token type %s (expected JWT or at+jwt)", q);
        }
    }
    /* RFC 7519 §5.2: cty "JWT" announces a nested token, which we do not unwrap */
    v = json_object_get(header, "cty");
    if (v != NULL && (!json_is_string(v) || typ_ok(json_string_value(v))))
        return fail(res, AUTH_JWT_UNTRUSTED_HEADER, "nested tokens (header cty) are not accepted");

    *has_kid = header_kid(header, res);
    if (*has_kid < 0)
        return res->err;
    return AUTH_JWT_OK;
}

/* ------------------------------------------------------------------------ */
/* keys */


/*
 * Picks the one key that may verify the token: by exact kid when the token
 * has one (never "the next key that works": J07), else the only key of the
 * set that fits the algorithm.
 */
static enum auth_jwt_err
select_key(const struct auth_jwk_set *keys, const struct jose_alg *ai, int has_kid,
           const struct auth_jwk **out, struct auth_jwt_result *res)
{
    char q[AUTH_JWT_SHOW_MAX * 4 + 8];
    const struct auth_jwk *k = NULL;
    const char *why;
    size_t i, n = 0;

    if (has_kid) {
        k = keys != NULL ? auth_jwk_set_find(keys, res->kid) : NULL;
        quote_str(q, sizeof(q), res->kid);
        if (k == NULL)
            return fail(res, AUTH_JWT_UNKNOWN_KEY, "unknown signing key %s", q);
        why = auth_jwk_misfit(k, ai);
        if (why != NULL)
            return fail(res, AUTH_JWT_ALG_NOT_ALLOWED,
                        "algorithm \"%s\" does not fit signing key %s (%s, %s)", ai->name, q,
                        auth_jwk_type_name(k), why);
    } else {
        for (i = 0; keys != NULL && i < keys->nkeys; i++) {
            if (auth_jwk_misfit(&keys->keys[i], ai) == NULL) {
                k = &keys->keys[i];
                n++;
            }
        }
        if (n == 0)
            return fail(res, AUTH_JWT_UNKNOWN_KEY, "no signing key for algorithm \"%s\"", ai->name);
        if (n > 1)
            return fail(res, AUTH_JWT_UNKNOWN_KEY,
                        "token has no kid and %zu signing keys fit \"%s\"", n, ai->name);
    }
    *out = k;
    return AUTH_JWT_OK;
}

/* ------------------------------------------------------------------------ */
/* signatures */

/* Appends one DER INTEGER for the unsigned big-endian |v| (|len| bytes). */
static size_t
der_uint(uint8_t *out, const uint8_t *v, size_t len)
{
    size_t o = 0;

    while (len > 1 && v[0] == 0) {
        v++;
        len--;
    }
    out[o++] = 0x02;
    /* X.690 §8.3: a set top bit would make the INTEGER negative */
    out[o++] = (uint8_t)(len + (v[0] & 0x80 ? 1 : 0));
    if (v[0] & 0x80)
        out[o++] = 0;
    memcpy(out + o, v, len);
    return o + len;
}

/* The largest ECDSA-Sig-Value we build: P-521, two 66-byte integers, each
 * possibly with a 0x00 prefix, 2-byte headers, 3-byte sequence header. */
#define ECDSA_DER_MAX (3 + 2 * (2 + 1 + 66))

/*
 * RFC 7518 §3.4: JOSE carries ECDSA signatures as r||s, each exactly half
 * of the fixed length; OpenSSL wants DER (SEC 1 ECDSA-Sig-Value).  Lengths
 * are checked by the caller against the algorithm's fixed size, so the
 * output is bounded by ECDSA_DER_MAX.
 */
static size_t
ecdsa_raw_to_der(const uint8_t *sig, size_t sig_len, uint8_t out[ECDSA_DER_MAX])
{
    uint8_t body[ECDSA_DER_MAX];
    size_t half = sig_len / 2, n = 0, o = 0;

    n += der_uint(body + n, sig, half);
    n += der_uint(body + n, sig + half, half);
    out[o++] = 0x30;
    if (n >= 0x80)
        out[o++] = 0x81;
    out[o++] = (uint8_t)n;
    memcpy(out + o, body, n);
    return o + n;
}

static enum auth_jwt_err
verify_hmac(const struct jws *j, const struct auth_jwk *k, const struct jose_alg *ai,
            struct auth_jwt_result *res)
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;

    ERR_set_mark();
    if (k->secret_len > INT_MAX ||
        HMAC(ai->md(), k->secret, (int)k->secret_len, (const unsigned char *)j->token,
             j->signing_len, mac, &maclen) == NULL) {
        ERR_pop_to_mark();
        return fail(res, AUTH_JWT_BAD_SIGNATURE, "signature could not be checked");
    }
    ERR_pop_to_mark();
    /* constant time: the MAC is a secret until it matches */
    if (j->sig_len != maclen || CRYPTO_memcmp(mac, j->sig, maclen) != 0) {
        OPENSSL_cleanse(mac, sizeof(mac));
        return fail(res, AUTH_JWT_BAD_SIGNATURE, "signature invalid");
    }
    OPENSSL_cleanse(mac, sizeof(mac));
    return AUTH_JWT_OK;
}

/*
 * Checks the signature of |j| with |k|.  OpenSSL's complaints about a bad
 * signature are popped off the thread's error queue: the caller runs on a
 * worker thread whose next SSL_get_error() must not see them.
 */
static enum auth_jwt_err
verify_pkey(const struct jws *j, const struct auth_jwk *k, const struct jose_alg *ai,
            struct auth_jwt_result *res)
{
    uint8_t der[ECDSA_DER_MAX];
    const uint8_t *sig = j->sig;
    size_t sig_len = j->sig_len;
    EVP_MD_CTX *mctx = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    int rc;

    if (ai->sig_len != 0 && sig_len != ai->sig_len)
        return fail(res, AUTH_JWT_BAD_SIGNATURE,
                    "signature invalid (%s signatures are %zu bytes, got %zu)", ai->name,
                    ai->sig_len, sig_len);
    if (ai->fam == JOSE_FAM_RSA || ai->fam == JOSE_FAM_PSS) {
        /* RFC 8017 §8.2.2: the signature is exactly as long as the modulus */
        if (sig_len != (size_t)EVP_PKEY_get_size(k->pkey))
            return fail(res, AUTH_JWT_BAD_SIGNATURE,
                        "signature invalid (%zu bytes for a %d-bit key)", sig_len, k->bits);
    }
    if (ai->fam == JOSE_FAM_EC) {
        sig_len = ecdsa_raw_to_der(j->sig, j->sig_len, der);
        sig = der;
    }

    ERR_set_mark();
    mctx = EVP_MD_CTX_new();
    if (mctx == NULL)
        goto broken;
    if (EVP_DigestVerifyInit(mctx, &pctx, ai->md != NULL ? ai->md() : NULL, NULL, k->pkey) != 1)
        goto broken;
    if (ai->fam == JOSE_FAM_PSS) {
        /* RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash */
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, ai->md()) != 1 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)
            goto broken;
    }
    /* one shot: Ed25519 cannot stream, and the others do not need to */
    rc = EVP_DigestVerify(mctx, sig, sig_len, (const unsigned char *)j->token, j->signing_len);
    EVP_MD_CTX_free(mctx);
    ERR_pop_to_mark();
    if (rc != 1)
        return fail(res, AUTH_JWT_BAD_SIGNATURE, "signature invalid");
    return AUTH_JWT_OK;

broken:
    EVP_MD_CTX_free(mctx);
    ERR_pop_to_mark();
    return fail(res, AUTH_JWT_BAD_SIGNATURE, "signature could not be checked");
}

/* ------------------------------------------------------------------------ */
/* claims */

/*
 * Reads the NumericDate claim |name| (RFC 7519 §2: a JSON number, integer
 * or not) into |*out|, rounded toward the safe side: down for exp, up for
 * nbf and iat (|round_up|).  Returns 1 when present, 0 when absent, -1 on
 * a wrong type or an absurd value (res failed).
 */
static int
get_time(const json_t *o, const char *name, bool round_up, int64_t *out,
         struct auth_jwt_result *res)
{
    const json_t *v = json_object_get(o, name);
    json_int_t i;
    double d;

    if (v == NULL)
        return 0;
    if (json_is_integer(v)) {
        i = json_integer_value(v);
        if (i < 0 || i > AUTH_JWT_TIME_MAX)
            goto absurd;
        *out = (int64_t)i;
        return 1;
    }
    if (json_is_real(v)) {
        d = json_real_value(v);
        /* also false for NaN, which jansson never produces but we do not rely on */
        if (!(d >= 0.0 && d <= (double)AUTH_JWT_TIME_MAX))
            goto absurd;
        /* non-negative: the cast truncates, i.e. rounds down (no libm needed) */
        *out = (int64_t)d;
        if (round_up && (double)*out < d)
            (*out)++;
        return 1;
    }
    fail(res, AUTH_JWT_MALFORMED, "malformed token: claim \"%s\" is not a number", name);
    return -1;

absurd:
    fail(res, AUTH_JWT_MALFORMED, "malformed token: claim \"%s\" is out of range", name);
    return -1;
}

static enum auth_jwt_err
check_times(const json_t *pl, int64_t now, int64_t skew, struct auth_jwt_result *res)
{
    char when[40];
    int64_t exp = 0, nbf = 0, iat = 0;
    int r;

    r = get_time(pl, "exp", false, &exp, res);
    if (r < 0)
        return res->err;
    /* RFC 9068 §2.2: exp is required in access tokens; one without it never expires */
    if (r == 0)
        return fail(res, AUTH_JWT_MALFORMED, "malformed token: no \"exp\" claim");
    /* RFC 7519 §4.1.4: valid only while now is before exp; exp, nbf and iat are
     * bounded by AUTH_JWT_TIME_MAX and skew by AUTH_JWT_SKEW_MAX, so nothing
     * below overflows whatever |now| is */
    if (now >= exp + skew)
        return fail(res, AUTH_JWT_EXPIRED, "token expired at %s",
                    fmt_time(exp, when, sizeof(when)));
    r = get_time(pl, "nbf", true, &nbf, res);
    if (r < 0)
        return res->err;
    if (r > 0 && nbf - skew > now)
        return fail(res, AUTH_JWT_NOT_YET_VALID, "token not valid before %s",
                    fmt_time(nbf, when, sizeof(when)));
    r = get_time(pl, "iat", true, &iat, res);
    if (r < 0)
        return res->err;
    if (r > 0 && iat - skew > now)
        return fail(res, AUTH_JWT_NOT_YET_VALID, "token issued in the future (iat %s)",
                    fmt_time(iat, when, sizeof(when)));
    res->exp = exp;
    return AUTH_JWT_OK;
}

static enum auth_jwt_err
check_issuer(const json_t *pl, const char *want, struct auth_jwt_result *res)
{
    char q[AUTH_JWT_SHOW_MAX * 4 + 8], qw[AUTH_JWT_SHOW_MAX * 4 + 8];
    const json_t *v = json_object_get(pl, "iss");
    size_t wl;

    if (want == NULL)
        return fail(res, AUTH_JWT_WRONG_ISSUER, "no issuer configured");
    quote_str(qw, sizeof(qw), want);
    if (v == NULL)
        return fail(res, AUTH_JWT_WRONG_ISSUER, "token has no issuer (expected %s)", qw);
    if (!json_is_string(v))
        return fail(res, AUTH_JWT_MALFORMED, "malformed token: claim \"iss\" is not a string");
    /* exact bytes: no case folding, no trailing-slash leniency */
    wl = strlen(want);
    if (json_string_length(v) != wl || memcmp(json_string_value(v), want, wl) != 0) {
        quote_json(q, sizeof(q), v);
        return fail(res, AUTH_JWT_WRONG_ISSUER, "wrong issuer %s (expected %s)", q, qw);
    }
    return AUTH_JWT_OK;
}

static bool
aud_accepted(const json_t *v, const struct auth_jwt_issuer *iss)
{
    size_t i, n = json_string_length(v);

    for (i = 0; i < iss->naudiences; i++) {
        if (iss->audiences[i] != NULL && strlen(iss->audiences[i]) == n &&
            memcmp(iss->audiences[i], json_string_value(v), n) == 0)
            return true;
    }
    return false;
}

static enum auth_jwt_err
check_audience(const json_t *pl, const struct auth_jwt_issuer *iss, struct auth_jwt_result *res)
{
    char q[AUTH_JWT_SHOW_MAX * 4 + 8];
    const json_t *v = json_object_get(pl, "aud"), *m;
    bool found = false;
    size_t i;

    if (iss->naudiences == 0 || iss->audiences == NULL || iss->audiences[0] == NULL)
        return fail(res, AUTH_JWT_WRONG_AUDIENCE, "no audience configured");
    quote_str(q, sizeof(q), iss->audiences[0]);
    if (v == NULL)
        return fail(res, AUTH_JWT_WRONG_AUDIENCE, "token has no audience (expected %s)", q);
    /* RFC 7519 §4.1.3: a string or an array of strings */
    if (json_is_string(v)) {
        found = aud_accepted(v, iss);
    } else if (json_is_array(v)) {
        json_array_foreach (v, i, m) {
            if (!json_is_string(m))
                return fail(res, AUTH_JWT_MALFORMED,
                            "malformed token: claim \"aud\" has a member that is not a string");
            if (aud_accepted(m, iss))
                found = true;
        }
    } else {
        return fail(res, AUTH_JWT_MALFORMED,
                    "malformed token: claim \"aud\" is neither a string nor an array");
    }
    if (!found)
        return fail(res, AUTH_JWT_WRONG_AUDIENCE, "audience does not include %s%s", q,
                    iss->naudiences > 1 ? " (nor any other accepted audience)" : "");
    return AUTH_JWT_OK;
}

/* C0 and C1 controls and DEL in UTF-8 text (U+0080..U+009F are C2 80..C2 9F). */
static bool
has_control(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f ||
            (s[i] == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f))
            return true;
    }
    return false;
}

/*
 * The principal becomes the Spark user id and appears in logs: a non-empty
 * string that fits res->principal, without C0/C1 control characters or
 * DEL (jansson has already refused invalid UTF-8 and \u0000).
 */
static enum auth_jwt_err
check_principal(const json_t *pl, const char *claim, struct auth_jwt_result *res)
{
    const json_t *v = json_object_get(pl, claim);
    const char *s;
    size_t n;

    if (v == NULL)
        return fail(res, AUTH_JWT_NO_PRINCIPAL, "token has no \"%.64s\" claim", claim);
    if (!json_is_string(v) || json_string_length(v) == 0)
        return fail(res, AUTH_JWT_NO_PRINCIPAL, "claim \"%.64s\" is not a non-empty string", claim);
    n = json_string_length(v);
    if (n >= sizeof(res->principal))
        return fail(res, AUTH_JWT_NO_PRINCIPAL, "claim \"%.64s\" is longer than %zu bytes", claim,
                    sizeof(res->principal) - 1);
    s = json_string_value(v);
    if (has_control(s, n))
        return fail(res, AUTH_JWT_NO_PRINCIPAL, "claim \"%.64s\" contains control characters",
                    claim);
    memcpy(res->principal, s, n + 1);
    return AUTH_JWT_OK;
}

/* Copies a string claim into |out| if it is one and fits; otherwise leaves "". */
static void
copy_str_claim(const json_t *o, const char *name, char *out, size_t cap)
{
    const json_t *v = json_object_get(o, name);

    if (json_is_string(v) && json_string_length(v) < cap)
        memcpy(out, json_string_value(v), json_string_length(v) + 1);
}

/* ------------------------------------------------------------------------ */
/* entry points */

enum auth_jwt_err
auth_jwt_peek(const char *token, size_t len, struct auth_jwt_result *res)
{
    const json_t *v;
    json_t *pl = NULL;
    struct jws j;

    result_init(res);
    if (jws_open(&j, token, len, res) != AUTH_JWT_OK)
        return res->err;
    v = json_object_get(j.header, "alg");
    if (json_is_string(v))
        res->alg = jose_alg_from_name(json_string_value(v));
    if (header_kid(j.header, res) < 0)
        goto out;
    pl = parse_object(j.pl, j.pl_len, "payload", res);
    if (pl == NULL)
        goto out;
    v = json_object_get(pl, "iss");
    if (v != NULL && (!json_is_string(v) || json_string_length(v) >= sizeof(res->iss))) {
        fail(res, AUTH_JWT_MALFORMED,
             "malformed token: claim \"iss\" is not a string of at most "
             "%zu bytes",
             sizeof(res->iss) - 1);
        goto out;
    }
    /* the caller names the unverified issuer in messages: no control characters */
    if (v != NULL && has_control(json_string_value(v), json_string_length(v))) {
        fail(res, AUTH_JWT_MALFORMED, "malformed token: claim \"iss\" contains control characters");
        goto out;
    }
    copy_str_claim(pl, "iss", res->iss, sizeof(res->iss));

out:
    json_decref(pl);
    jws_close(&j);
    return res->err;
}

enum auth_jwt_err
auth_jwt_verify(const char *token, size_t len, const struct auth_jwt_issuer *iss,
                const struct auth_jwk_set *keys, time_t now, struct auth_jwt_result *res)
{
    const struct jose_alg *ai = NULL;
    const struct auth_jwk *key = NULL;
    json_t *pl = NULL;
    struct jws j;
    int64_t skew;
    int has_kid = 0;

    result_init(res);
    if (jws_open(&j, token, len, res) != AUTH_JWT_OK)
        return res->err;
    if (check_header(j.header, iss->algs, &ai, &has_kid, res) != AUTH_JWT_OK)
        goto out;
    if (select_key(keys, ai, has_kid, &key, res) != AUTH_JWT_OK)
        goto out;
    if (ai->fam == JOSE_FAM_HMAC) {
        if (verify_hmac(&j, key, ai, res) != AUTH_JWT_OK)
            goto out;
    } else if (verify_pkey(&j, key, ai, res) != AUTH_JWT_OK) {
        goto out;
    }

    /* authenticated from here on: the claims may name what we expected */
    pl = parse_object(j.pl, j.pl_len, "payload", res);
    if (pl == NULL)
        goto out;
    skew = iss->skew_s < 0 ? 0 : iss->skew_s > AUTH_JWT_SKEW_MAX ? AUTH_JWT_SKEW_MAX : iss->skew_s;
    if (check_times(pl, (int64_t)now, skew, res) != AUTH_JWT_OK)
        goto out;
    if (check_issuer(pl, iss->issuer, res) != AUTH_JWT_OK)
        goto out;
    if (check_audience(pl, iss, res) != AUTH_JWT_OK)
        goto out;
    if (check_principal(pl, iss->principal_claim != NULL ? iss->principal_claim : "sub", res) !=
        AUTH_JWT_OK)
        goto out;
    copy_str_claim(pl, "iss", res->iss, sizeof(res->iss));
    res->claims = pl;
    pl = NULL;

out:
    if (res->err != AUTH_JWT_OK)
        res->exp = 0;
    json_decref(pl);
    jws_close(&j);
    return res->err;
}
