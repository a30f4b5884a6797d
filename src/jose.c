/*
 * jose.c: the JOSE facts shared by key sets (auth_jwk.c) and token
 * verification (auth_jwt.c): the algorithm table of RFC 7518 / RFC 8037 and
 * the strict base64url codec.  Pure: constant tables, no state.
 */
#include "config.h"

#include <limits.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "jose.h"

/* RFC 7518 §3.1 and RFC 8037 §3.1; ES sizes are 2 * ceil(field bits / 8) (RFC 7518 §3.4) */
static const struct jose_alg alg_table[] = {
    {JOSE_RS256, "RS256", JOSE_FAM_RSA, EVP_sha256, NID_undef, 0},
    {JOSE_RS384, "RS384", JOSE_FAM_RSA, EVP_sha384, NID_undef, 0},
    {JOSE_RS512, "RS512", JOSE_FAM_RSA, EVP_sha512, NID_undef, 0},
    {JOSE_PS256, "PS256", JOSE_FAM_PSS, EVP_sha256, NID_undef, 0},
    {JOSE_PS384, "PS384", JOSE_FAM_PSS, EVP_sha384, NID_undef, 0},
    {JOSE_PS512, "PS512", JOSE_FAM_PSS, EVP_sha512, NID_undef, 0},
    {JOSE_ES256, "ES256", JOSE_FAM_EC, EVP_sha256, NID_X9_62_prime256v1, 64},
    {JOSE_ES384, "ES384", JOSE_FAM_EC, EVP_sha384, NID_secp384r1, 96},
    {JOSE_ES512, "ES512", JOSE_FAM_EC, EVP_sha512, NID_secp521r1, 132},
    {JOSE_EDDSA, "EdDSA", JOSE_FAM_ED, NULL, NID_undef, 64},
    {JOSE_HS256, "HS256", JOSE_FAM_HMAC, EVP_sha256, NID_undef, 0},
    {JOSE_HS384, "HS384", JOSE_FAM_HMAC, EVP_sha384, NID_undef, 0},
    {JOSE_HS512, "HS512", JOSE_FAM_HMAC, EVP_sha512, NID_undef, 0},
};

#define ALG_COUNT (sizeof(alg_table) / sizeof(alg_table[0]))

const struct jose_alg *
jose_alg_at(size_t i)
{
    return i < ALG_COUNT ? &alg_table[i] : NULL;
}

/* ------------------------------------------------------------------------ */
/* algorithm names */

const struct jose_alg *
jose_alg_lookup(unsigned alg)
{
    size_t i;

    for (i = 0; i < ALG_COUNT; i++) {
        if (alg_table[i].bit == alg)
            return &alg_table[i];
    }
    return NULL;
}

unsigned
jose_alg_from_name(const char *name)
{
    size_t i;

    if (name == NULL)
        return 0;
    /* RFC 7515 §4.1.1: the alg value is case-sensitive ("rs256" is not RS256) */
    for (i = 0; i < ALG_COUNT; i++) {
        if (strcmp(alg_table[i].name, name) == 0)
            return alg_table[i].bit;
    }
    return 0;
}

const char *
jose_alg_name(unsigned alg)
{
    const struct jose_alg *ai = jose_alg_lookup(alg);

    return ai != NULL ? ai->name : "?";
}

/* ------------------------------------------------------------------------ */
/* base64url, RFC 4648 §5 without padding (RFC 7515 appendix C) */

static int
b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

long
jose_b64url_decode(const char *in, size_t len, uint8_t *out)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t i, o = 0, rem = len % 4;
    uint32_t acc;
    int v[4];

    /* a single leftover character cannot encode a whole byte */
    if (rem == 1 || len > (size_t)LONG_MAX)
        return -1;
    for (i = 0; i + 4 <= len; i += 4) {
        v[0] = b64url_value(p[i]);
        v[1] = b64url_value(p[i + 1]);
        v[2] = b64url_value(p[i + 2]);
        v[3] = b64url_value(p[i + 3]);
        if ((v[0] | v[1] | v[2] | v[3]) < 0)
            return -1;
        acc = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[o++] = (uint8_t)(acc >> 16);
        out[o++] = (uint8_t)(acc >> 8);
        out[o++] = (uint8_t)acc;
    }
    if (rem == 0)
        return (long)o;
    v[0] = b64url_value(p[i]);
    v[1] = b64url_value(p[i + 1]);
    v[2] = rem == 3 ? b64url_value(p[i + 2]) : 0;
    if ((v[0] | v[1] | v[2]) < 0)
        return -1;
    /* RFC 4648 §3.5: the unused low bits of the last character must be zero, so
     * that each byte string has exactly one encoding (no malleable tokens) */
    if ((rem == 2 && (v[1] & 0x0f) != 0) || (rem == 3 && (v[2] & 0x03) != 0))
        return -1;
    acc = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6;
    out[o++] = (uint8_t)(acc >> 16);
    if (rem == 3)
        out[o++] = (uint8_t)(acc >> 8);
    return (long)o;
}

size_t
jose_b64url_encode(const uint8_t *in, size_t len, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t i, o = 0;
    uint32_t acc;

    for (i = 0; i + 3 <= len; i += 3) {
        acc = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | (uint32_t)in[i + 2];
        out[o++] = alphabet[acc >> 18 & 0x3f];
        out[o++] = alphabet[acc >> 12 & 0x3f];
        out[o++] = alphabet[acc >> 6 & 0x3f];
        out[o++] = alphabet[acc & 0x3f];
    }
    if (len - i == 1) {
        acc = (uint32_t)in[i] << 16;
        out[o++] = alphabet[acc >> 18 & 0x3f];
        out[o++] = alphabet[acc >> 12 & 0x3f];
    } else if (len - i == 2) {
        acc = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = alphabet[acc >> 18 & 0x3f];
        out[o++] = alphabet[acc >> 12 & 0x3f];
        out[o++] = alphabet[acc >> 6 & 0x3f];
    }
    out[o] = '\0';
    return o;
}
