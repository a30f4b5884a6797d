/*
 * Fuzz target: JWS verification (src/auth_jwt.c) of arbitrary tokens
 * against a fixed key set: RSA (RS256-only and PS256-only kids), EC
 * P-256/384/521, Ed25519 (a public JWKS generated for this corpus; the
 * private keys were thrown away) and one HMAC secret.  The corpus holds
 * tokens signed by those keys, so mutations reach the signature and claim
 * checks.  An input of the form "header.payload" is also signed here with
 * the HMAC secret before verification, so mutated headers and claims get
 * past the signature and exercise every claim check.  Every input must be
 * refused or accepted with a consistent result; the reason must be
 * printable ASCII and never contain the token.  Also checks that the
 * strict base64url decoder and the encoder are inverse on everything the
 * decoder accepts.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth_jwt.h"

#define FUZZ_NOW ((time_t)1795000000) /* the corpus tokens expire an hour later */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_jwks[] =
    "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"rsa\",\"n\":\"4aFu63ns8f0t6Pl88a06BOzMQbUiy6Ogz7qr"
    "G0ftb4g0rpD8uO2LsYx2ymZuzQIV8skWFc0KqZUSZElh8wmM__6SEi6saM0lv5na1ha4cw5Pktt6YLyH28pHu1Gj"
    "OQz4ibV7baBheuDsxp4aIPdXrjhNtgUMl5-70sof1T4Ml-MON8n7vYCyObOzDjW4vA3TcyRAzBq-fns1pXvcWCsR"
    "TPWXAf-AeimrdNRY7f3zs0pYevOWHAeZjThyE9d9PKnvXI_N9IFjhG-OgC8t41Z78Y59_9dkxi6oPNARRHkfRl6E"
    "e2ypW3hrfJEySqhsgzq2QfEHrRhT4Ectbk__ooecdQ\",\"e\":\"AQAB\",\"use\":\"sig\",\"alg\":\"RS"
    "256\"},{\"kty\":\"RSA\",\"kid\":\"rsa-pss\",\"n\":\"4aFu63ns8f0t6Pl88a06BOzMQbUiy6Ogz7qr"
    "G0ftb4g0rpD8uO2LsYx2ymZuzQIV8skWFc0KqZUSZElh8wmM__6SEi6saM0lv5na1ha4cw5Pktt6YLyH28pHu1Gj"
    "OQz4ibV7baBheuDsxp4aIPdXrjhNtgUMl5-70sof1T4Ml-MON8n7vYCyObOzDjW4vA3TcyRAzBq-fns1pXvcWCsR"
    "TPWXAf-AeimrdNRY7f3zs0pYevOWHAeZjThyE9d9PKnvXI_N9IFjhG-OgC8t41Z78Y59_9dkxi6oPNARRHkfRl6E"
    "e2ypW3hrfJEySqhsgzq2QfEHrRhT4Ectbk__ooecdQ\",\"e\":\"AQAB\",\"alg\":\"PS256\"},{\"kty\":"
    "\"EC\",\"kid\":\"ec256\",\"crv\":\"P-256\",\"x\":\"iYsVFzJLjADYJYww9b9aEynmoEcRIOVVaFisI"
    "9ASUG8\",\"y\":\"PX11V1b8hkypKDFjsXWyfcLAlxoiuAB4oPSEn5P2h4M\"},{\"kty\":\"EC\",\"kid\":"
    "\"ec384\",\"crv\":\"P-384\",\"x\":\"hpskrnrNF0sbFUK4Bh1u3q_xL1PujZqzvA7zwSlrLGknms9iGh7x"
    "WJrTUhdpqcEF\",\"y\":\"OjTwEx7p_5TtF_pUK0-x1JO6aJU2X2PWmPMiRmmzFGFjva6YnQ3DvhBErg8YKBvh"
    "\"},{\"kty\":\"EC\",\"kid\":\"ec521\",\"crv\":\"P-521\",\"x\":\"AA0Eqx97T5IR8HAxjuhm0Sp5"
    "edKV_nODe7SRED6SMAWuoP4SmFhkxErTHGmZmLcARjhEPK8fpu4Ud_TAv61g84pT\",\"y\":\"ASysSoEquj93w"
    "T9Qhc-bUyOSP1oAMDOYz0rLfFaes6hEdahFYb9pqfHEY8XD3ks4LxI2sLFHIMO8eSzsYJMoaeFT\"},{\"kty\":"
    "\"OKP\",\"kid\":\"ed\",\"crv\":\"Ed25519\",\"x\":\"VEZg_en9DAPKCNBvnvMhBt3w1VOk0m8h0QdVL"
    "O2I7nM\"}]}";

/* test-only secret, also in the corpus tokens signed with it */
static const char fuzz_hmac[] = "fuzz-hmac-secret-0123456789abcdef";

static struct auth_jwk_set *
fuzz_keys(void)
{
    static struct auth_jwk_set *keys;
    struct auth_jwk_set *parts[2];
    char err[256];

    if (keys != NULL)
        return keys;
    parts[0] = auth_jwk_set_parse(fuzz_jwks, sizeof(fuzz_jwks) - 1, false, NULL, NULL, err,
                                  sizeof(err));
    parts[1] = auth_jwk_set_from_secret((const uint8_t *)fuzz_hmac, sizeof(fuzz_hmac) - 1, "hs");
    if (parts[0] == NULL || parts[0]->nkeys != 6 || parts[1] == NULL)
        abort();
    keys = auth_jwk_set_merge(parts, 2);
    auth_jwk_set_unref(parts[0]);
    auth_jwk_set_unref(parts[1]);
    if (keys == NULL)
        abort();
    return keys;
}

static void
check_reason(const struct auth_jwt_result *res, const uint8_t *tok, size_t len)
{
    const char *p;

    if ((res->err == AUTH_JWT_OK) != (res->reason[0] == '\0'))
        abort();
    for (p = res->reason; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            abort();
    }
    if (len >= 8 && memmem(res->reason, strlen(res->reason), tok, len) != NULL)
        abort();
}

static void
check_b64url(const uint8_t *data, size_t size)
{
    uint8_t *dec = malloc(size * 3 / 4 + 1), *dec2 = malloc(size + 1);
    char *enc = malloc(size * 4 / 3 + 4);
    long n;

    if (dec == NULL || enc == NULL || dec2 == NULL)
        abort();
    /* accepted input is canonical: re-encoding gives it back */
    n = jose_b64url_decode((const char *)data, size, dec);
    if (n >= 0 && (jose_b64url_encode(dec, (size_t)n, enc) != size || memcmp(enc, data, size)))
        abort();
    /* and every encoding decodes back to its bytes */
    if (jose_b64url_encode(data, size, enc) != strlen(enc) ||
        jose_b64url_decode(enc, strlen(enc), dec2) != (long)size || memcmp(dec2, data, size))
        abort();
    free(dec);
    free(dec2);
    free(enc);
}

static void
verify(const char *tok, size_t size)
{
    static const char *const auds[] = {"sparkgate", "other"};
    static const struct auth_jwt_issuer iss = {
        .issuer = "https://idp.fuzz.example",
        .audiences = auds,
        .naudiences = 2,
        .algs = 0x1fff,
        .skew_s = 60,
        .principal_claim = "sub",
    };
    struct auth_jwt_result res;

    auth_jwt_peek(tok, size, &res);
    check_reason(&res, (const uint8_t *)tok, size);
    if (res.claims != NULL)
        abort();

    auth_jwt_verify(tok, size, &iss, fuzz_keys(), FUZZ_NOW, &res);
    check_reason(&res, (const uint8_t *)tok, size);
    if (res.err == AUTH_JWT_OK) {
        if (res.claims == NULL || res.principal[0] == '\0' || res.alg == 0 ||
            res.exp + iss.skew_s <= FUZZ_NOW || strcmp(res.iss, iss.issuer) != 0)
            abort();
        json_decref(res.claims);
    } else if (res.claims != NULL) {
        abort();
    }
}

/* "header.payload" + "." + base64url(HMAC-SHA256(fuzz_hmac, header.payload)) */
static void
verify_hmac_signed(const uint8_t *data, size_t size)
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    char *tok;

    if (size == 0 || size > AUTH_JWT_MAX_TOKEN || memchr(data, '.', size) == NULL)
        return;
    tok = malloc(size + 64);
    if (tok == NULL)
        abort();
    if (HMAC(EVP_sha256(), fuzz_hmac, (int)sizeof(fuzz_hmac) - 1, data, size, mac, &maclen) == NULL)
        abort();
    memcpy(tok, data, size);
    tok[size] = '.';
    verify(tok, size + 1 + jose_b64url_encode(mac, maclen, tok + size + 1));
    free(tok);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size <= 4096)
        check_b64url(data, size);
    verify((const char *)data, size);
    verify_hmac_signed(data, size);
    return 0;
}
