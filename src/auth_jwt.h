/*
 * auth_jwt.h: JWT access-token verification against key sets (auth_jwk.h),
 * done with OpenSSL EVP directly (not libjwt 1.10.2, which takes the
 * algorithm from the token, verifies nothing without a key, checks no
 * claims, knows no JWKS, no PS* or EdDSA, and rejects typ at+jwt: "libjwt 1.10.2"
 * in docs/security.md).  No I/O, no logging, no global state: unit tests and
 * fuzzers drive it directly.
 *
 * Verification order, fail closed at every step:
 *   size cap -> exactly 3 segments -> strict base64url (no padding, no
 *   whitespace, canonical trailing bits) -> header JSON (duplicate keys
 *   refused) -> alg in the issuer's allowlist, never "none" (any case) ->
 *   crit / jku / x5u / jwk / x5c present => refused (never trusted) ->
 *   typ absent, "JWT" or "at+jwt" (case-insensitive, optional
 *   "application/" prefix) -> key by exact kid (or the only key of a
 *   compatible type when the token has no kid) -> key type matches alg
 *   family (RS/PS: RSA; ES256/384/512: EC P-256/384/521; EdDSA: Ed25519;
 *   HS*: only a configured secret) -> signature (ES: JOSE r||s converted to
 *   DER; PS: PSS with salt = hash length) -> payload JSON (duplicates
 *   refused) -> exp required, numeric -> nbf, iat (not in the future
 *   beyond skew) -> iss exact -> aud (string or array) contains an accepted
 *   audience -> principal claim present, a non-empty string.
 */
#ifndef SPARKGATE_AUTH_JWT_H
#define SPARKGATE_AUTH_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "auth_jwk.h"

#define AUTH_JWT_MAX_TOKEN 16384 /* bytes; larger tokens are refused before decoding */

/* What an issuer accepts (built from the configuration). */
struct auth_jwt_issuer {
    const char *issuer;           /* exact "iss"; NULL refuses every token */
    const char *const *audiences; /* any of these in "aud"; none refuses every token */
    size_t naudiences;
    unsigned algs;               /* allowlist, JOSE_* bits */
    int64_t skew_s;              /* clock skew for exp/nbf/iat, default 60; 0..86400 */
    const char *principal_claim; /* "sub" (NULL), "email", "preferred_username", ... */
};

/* Why a token was refused: what the client is told (grpc-message), and
 * what the log says.  Never contains the token. */
enum auth_jwt_err {
    AUTH_JWT_OK = 0,
    AUTH_JWT_MALFORMED,        /* size, segments, base64url, JSON, types */
    AUTH_JWT_ALG_NOT_ALLOWED,  /* none, unknown, outside allowlist, or mismatched key type */
    AUTH_JWT_UNTRUSTED_HEADER, /* crit, jku, x5u, jwk, x5c, unsupported typ */
    AUTH_JWT_UNKNOWN_KEY,      /* no key with that kid (the caller may refetch the JWKS) */
    AUTH_JWT_BAD_SIGNATURE,
    AUTH_JWT_EXPIRED,
    AUTH_JWT_NOT_YET_VALID, /* nbf or iat in the future beyond skew */
    AUTH_JWT_WRONG_ISSUER,
    AUTH_JWT_WRONG_AUDIENCE,
    AUTH_JWT_NO_PRINCIPAL, /* principal claim missing or not a non-empty string */
};

struct auth_jwt_result {
    enum auth_jwt_err err;
    char reason[256]; /* e.g. "token expired at 2026-11-21T07:00:00Z" */
    char kid[AUTH_JWK_KID_MAX];
    unsigned alg;
    char iss[256]; /* from the payload, for routing to the right issuer */
    char principal[256];
    int64_t exp;
    json_t *claims; /* the payload on success (caller json_decref) */
};

/*
 * Reads "iss" (and "kid"/"alg") from an unverified token so the caller can
 * pick the issuer configuration and key set.  Nothing read here is trusted;
 * res->iss is "" when absent, and an "iss" that is not a string, is longer
 * than 255 bytes or holds control characters makes the token malformed.
 * Returns AUTH_JWT_OK or AUTH_JWT_MALFORMED (with reason).
 */
enum auth_jwt_err auth_jwt_peek(const char *token, size_t len, struct auth_jwt_result *res);

/*
 * Verifies |token| for |iss| with keys from |keys| at time |now|.
 * Fills |res| (res->claims set only on success).  Returns res->err.
 */
enum auth_jwt_err auth_jwt_verify(const char *token, size_t len, const struct auth_jwt_issuer *iss,
                                  const struct auth_jwk_set *keys, time_t now,
                                  struct auth_jwt_result *res);

#endif
