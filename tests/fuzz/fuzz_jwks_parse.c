/*
 * Fuzz target: key sets (src/auth_jwk.c) from arbitrary JWKS documents and
 * PEM text.  Every input must give a set or a one-line error, never a crash
 * or a leak; every kept key must be usable (an EVP_PKEY or a secret of the
 * type it claims), findable by its kid, and survive a merge.  A few fixed
 * tokens are then verified against the fuzzed set, so hostile keys (wrong
 * curves, odd moduli, "alg" members) meet the verifier too.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth_jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Unsigned and mis-signed tokens naming the kids fuzzers are likely to build. */
static const char *const fuzz_tokens[] = {
    /* RS256 kid 1, 256 zero bytes */
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJhIiwiZXhwIjoxNzk1MDAzNjAwLCJpc3MiOiJpIiwiYXV"
    "kIjoiYSJ9.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    /* ES256 kid 1, r = s = 1 */
    "eyJhbGciOiJFUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJhIiwiZXhwIjoxNzk1MDAzNjAwLCJpc3MiOiJpIiwiYXV"
    "kIjoiYSJ9.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    "AAAAAQ",
    /* HS256 kid 1, zero MAC */
    "eyJhbGciOiJIUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJhIiwiZXhwIjoxNzk1MDAzNjAwLCJpc3MiOiJpIiwiYXV"
    "kIjoiYSJ9.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    /* EdDSA without kid, zero signature */
    "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhIiwiZXhwIjoxNzk1MDAzNjAwLCJpc3MiOiJpIiwiYXVkIjoiYSJ9.AAAA"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
};

static void
on_drop(void *arg, const char *kid, const char *reason)
{
    (void)arg;
    if (kid == NULL || reason == NULL || reason[0] == '\0')
        abort();
}

static void
check_set(const struct auth_jwk_set *s)
{
    const struct auth_jwk *k;
    unsigned alg;
    size_t i;

    for (i = 0; i < s->nkeys; i++) {
        k = &s->keys[i];
        if (k->kid[0] != '\0' && auth_jwk_set_find(s, k->kid) != k)
            abort();
        if ((k->type == AUTH_JWK_OCT) != (k->secret != NULL) ||
            (k->type == AUTH_JWK_OCT) == (k->pkey != NULL))
            abort();
        if (k->type == AUTH_JWK_RSA && k->bits < 2048)
            abort();
        /* an asymmetric key never fits HMAC, a secret never fits anything else */
        for (alg = 1; alg <= JOSE_HS512; alg <<= 1) {
            bool hmac = alg >= JOSE_HS256;

            if (auth_jwk_fits_alg(k, alg) && hmac != (k->type == AUTH_JWK_OCT))
                abort();
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const auds[] = {"a"};
    static const struct auth_jwt_issuer iss = {
        .issuer = "i",
        .audiences = auds,
        .naudiences = 1,
        .algs = 0x1fff,
        .skew_s = 60,
    };
    struct auth_jwk_set *s, *strict, *m, *sets[2];
    struct auth_jwt_result res;
    char err[256];
    size_t i;

    err[0] = '\0';
    if (size > 5 && memcmp(data, "-----", 5) == 0)
        s = auth_jwk_set_from_pem((const char *)data, size, "1", err, sizeof(err));
    else
        s = auth_jwk_set_parse((const char *)data, size, true, on_drop, NULL, err, sizeof(err));
    if (s == NULL) {
        if (err[0] == '\0' || strchr(err, '\n') != NULL)
            abort(); /* an error must be one non-empty line */
        return 0;
    }
    check_set(s);

    /* without oct keys, the same document keeps a subset */
    strict = auth_jwk_set_parse((const char *)data, size, false, NULL, NULL, err, sizeof(err));
    if (strict != NULL) {
        for (i = 0; i < strict->nkeys; i++) {
            if (strict->keys[i].type == AUTH_JWK_OCT)
                abort();
        }
        auth_jwk_set_unref(strict);
    }

    sets[0] = s;
    sets[1] = s;
    m = auth_jwk_set_merge(sets, 2);
    if (m == NULL)
        abort();
    check_set(m);
    for (i = 0; i < sizeof(fuzz_tokens) / sizeof(fuzz_tokens[0]); i++) {
        auth_jwt_verify(fuzz_tokens[i], strlen(fuzz_tokens[i]), &iss, m, 1795000000, &res);
        /* none of these carries a valid signature */
        if (res.err == AUTH_JWT_OK)
            abort();
    }
    auth_jwk_set_unref(auth_jwk_set_ref(m));
    auth_jwk_set_unref(m);
    auth_jwk_set_unref(s);
    return 0;
}
