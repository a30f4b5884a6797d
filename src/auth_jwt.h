/*
 * auth_jwt.h: JWT access-token verification and JWK key sets, done with
 * OpenSSL EVP directly (not libjwt 1.10.2, which takes the algorithm from
 * the token, verifies nothing without a key, checks no claims, knows no
 * JWKS, no PS* or EdDSA, and rejects typ at+jwt: "libjwt 1.10.2" in
 * docs/security.md).  No I/O, no logging (dropped keys are reported
 * through a callback), no global state: unit tests and fuzzers drive it
 * directly.
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

#define AUTH_JWT_MAX_TOKEN 16384 /* bytes; larger tokens are refused before decoding */
#define AUTH_JWK_KID_MAX 256

/* Algorithms, as a bit set for allowlists. */
enum auth_jwt_alg {
    AUTH_JWT_RS256 = 1u << 0,
    AUTH_JWT_RS384 = 1u << 1,
    AUTH_JWT_RS512 = 1u << 2,
    AUTH_JWT_PS256 = 1u << 3,
    AUTH_JWT_PS384 = 1u << 4,
    AUTH_JWT_PS512 = 1u << 5,
    AUTH_JWT_ES256 = 1u << 6,
    AUTH_JWT_ES384 = 1u << 7,
    AUTH_JWT_ES512 = 1u << 8,
    AUTH_JWT_EDDSA = 1u << 9,
    AUTH_JWT_HS256 = 1u << 10,
    AUTH_JWT_HS384 = 1u << 11,
    AUTH_JWT_HS512 = 1u << 12,
};

/* "RS256" -> AUTH_JWT_RS256; 0 for unknown names (and for "none"). Exact case. */
unsigned auth_jwt_alg_from_name(const char *name);
const char *auth_jwt_alg_name(unsigned alg);

enum auth_jwk_type {
    AUTH_JWK_RSA,
    AUTH_JWK_EC,
    AUTH_JWK_OKP, /* Ed25519 */
    AUTH_JWK_OCT, /* HMAC secret: only from explicit configuration, never from a JWKS URL */
};

struct auth_jwk {
    char kid[AUTH_JWK_KID_MAX]; /* "" when the key has none */
    enum auth_jwk_type type;
    int curve_nid;              /* EC: NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1 */
    int bits;                   /* RSA modulus bits */
    unsigned alg;               /* the key's "alg" member if present, else 0 (any compatible) */
    EVP_PKEY *pkey;             /* RSA/EC/OKP; owned */
    uint8_t *secret;            /* OCT; owned, wiped on free */
    size_t secret_len;
};

/* An immutable, refcounted key set (one JWKS document, file or PEM list). */
struct auth_jwks {
    int refcnt;                 /* atomic */
    struct auth_jwk *keys;
    size_t nkeys;
};

/* Called for each key dropped while loading (weak RSA, unknown curve, bad
 * encoding, "use" other than "sig", duplicate kid...), with a reason. */
typedef void auth_jwk_drop_cb(void *arg, const char *kid, const char *reason);

/*
 * Parses a JWKS document ({"keys": [...]}) into a new key set (refcount 1).
 * Keys that cannot be used are dropped through |drop| (may be NULL), not
 * fatal; RSA below 2048 bits is dropped; "oct" keys are refused unless
 * |allow_oct|.  A document that is not JSON, has duplicate members, or has
 * no "keys" array is an error.  Returns the set, or NULL with |err| set.
 * An empty set (every key dropped) is returned, not an error.
 */
struct auth_jwks *auth_jwks_parse(const char *json, size_t len, bool allow_oct,
                                  auth_jwk_drop_cb *drop, void *arg, char *err, size_t errlen);

/* Builds a one-key set from a PEM public key (RSA, EC or Ed25519) with |kid|
 * (NULL: none), checked as a JWKS key is; one PEM block only. */
struct auth_jwks *auth_jwks_from_pem(const char *pem, size_t len, const char *kid, char *err,
                                     size_t errlen);

/* Builds a one-key HMAC set (secret copied, wiped on free).  NULL for an
 * empty secret or a kid of AUTH_JWK_KID_MAX bytes or more. */
struct auth_jwks *auth_jwks_from_secret(const uint8_t *secret, size_t len, const char *kid);

/* Merges sets (keys are re-referenced, NULL sets skipped; when two keys
 * share a kid the first set's wins, as within one JWKS). Returns a new set
 * or NULL. */
struct auth_jwks *auth_jwks_merge(struct auth_jwks *const *sets, size_t n);

/* Finds a key by exact kid; NULL if none (and for "": a token's empty kid
 * never selects a key that has no kid). */
const struct auth_jwk *auth_jwks_find(const struct auth_jwks *s, const char *kid);

/* Whether |k| can verify tokens of |alg| (one AUTH_JWT_* bit): decided by
 * the key type and curve (an asymmetric key never fits HS*), narrowed by
 * the key's own "alg"; HMAC secrets shorter than the hash never fit. */
bool auth_jwk_fits_alg(const struct auth_jwk *k, unsigned alg);

struct auth_jwks *auth_jwks_ref(struct auth_jwks *s);
void auth_jwks_unref(struct auth_jwks *s);

/* What an issuer accepts (built from the configuration). */
struct auth_jwt_issuer {
    const char *issuer;          /* exact "iss"; NULL refuses every token */
    const char *const *audiences;/* any of these in "aud"; none refuses every token */
    size_t naudiences;
    unsigned algs;               /* allowlist, AUTH_JWT_* bits */
    int64_t skew_s;              /* clock skew for exp/nbf/iat, default 60; 0..86400 */
    const char *principal_claim; /* "sub" (NULL), "email", "preferred_username", ... */
};

/* Why a token was refused: what the client is told (grpc-message), and
 * what the log says.  Never contains the token. */
enum auth_jwt_err {
    AUTH_JWT_OK = 0,
    AUTH_JWT_MALFORMED,      /* size, segments, base64url, JSON, types */
    AUTH_JWT_ALG_NOT_ALLOWED,/* none, unknown, outside allowlist, or mismatched key type */
    AUTH_JWT_UNTRUSTED_HEADER,/* crit, jku, x5u, jwk, x5c, unsupported typ */
    AUTH_JWT_UNKNOWN_KEY,    /* no key with that kid (the caller may refetch the JWKS) */
    AUTH_JWT_BAD_SIGNATURE,
    AUTH_JWT_EXPIRED,
    AUTH_JWT_NOT_YET_VALID,  /* nbf or iat in the future beyond skew */
    AUTH_JWT_WRONG_ISSUER,
    AUTH_JWT_WRONG_AUDIENCE,
    AUTH_JWT_NO_PRINCIPAL,   /* principal claim missing or not a non-empty string */
};

struct auth_jwt_result {
    enum auth_jwt_err err;
    char reason[256];        /* e.g. "token expired at 2026-11-21T07:00:00Z" */
    char kid[AUTH_JWK_KID_MAX];
    unsigned alg;
    char iss[256];           /* from the payload, for routing to the right issuer */
    char principal[256];
    int64_t exp;
    json_t *claims;          /* the payload on success (caller json_decref) */
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
                                  const struct auth_jwks *keys, time_t now,
                                  struct auth_jwt_result *res);

/* Strict base64url (RFC 7515 appendix C: no padding, no whitespace).
 * Returns decoded length, or -1.  |out| needs (len * 3) / 4 + 1 bytes. */
long auth_b64url_decode(const char *in, size_t len, uint8_t *out);

/* Encodes without padding; |out| needs (len * 4 + 2) / 3 + 1 bytes. Returns length. */
size_t auth_b64url_encode(const uint8_t *in, size_t len, char *out);

#endif
