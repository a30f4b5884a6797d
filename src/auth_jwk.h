/*
 * auth_jwk.h: signing key sets (JWK, RFC 7517; key parameters RFC 7518
 * section 6 and RFC 8037).  JWKS documents, PEM public keys and configured
 * HMAC secrets become immutable, refcounted sets of EVP_PKEY, parsed and
 * checked once, so verifying a token (auth_jwt) never parses a key.  What a
 * key may verify is decided here from its type and size, never from its
 * optional "alg" alone.
 *
 * Pure: no I/O, no logging (dropped keys are reported through a callback),
 * no global state.
 */
#ifndef SPARKGATE_AUTH_JWK_H
#define SPARKGATE_AUTH_JWK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "jose.h"

#define AUTH_JWK_KID_MAX 256

enum auth_jwk_type {
    AUTH_JWK_RSA,
    AUTH_JWK_EC,
    AUTH_JWK_OKP, /* Ed25519 */
    AUTH_JWK_OCT, /* HMAC secret: only from explicit configuration, never from a JWKS URL */
};

struct auth_jwk {
    char kid[AUTH_JWK_KID_MAX]; /* "" when the key has none */
    enum auth_jwk_type type;
    int curve_nid;   /* EC: NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1 */
    int bits;        /* RSA modulus bits */
    unsigned alg;    /* the key's "alg" member if present, else 0 (any compatible) */
    EVP_PKEY *pkey;  /* RSA/EC/OKP; owned */
    uint8_t *secret; /* OCT; owned, wiped on free */
    size_t secret_len;
};

/* An immutable, refcounted key set (one JWKS document, file or PEM list). */
struct auth_jwk_set {
    int refcnt; /* atomic */
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
struct auth_jwk_set *auth_jwk_set_parse(const char *json, size_t len, bool allow_oct,
                                        auth_jwk_drop_cb *drop, void *arg, char *err,
                                        size_t errlen);

/* Builds a one-key set from a PEM public key (RSA, EC or Ed25519) with |kid|
 * (NULL: none), checked as a JWKS key is; one PEM block only. */
struct auth_jwk_set *auth_jwk_set_from_pem(const char *pem, size_t len, const char *kid, char *err,
                                           size_t errlen);

/* Builds a one-key HMAC set (secret copied, wiped on free).  NULL for an
 * empty secret or a kid of AUTH_JWK_KID_MAX bytes or more. */
struct auth_jwk_set *auth_jwk_set_from_secret(const uint8_t *secret, size_t len, const char *kid);

/* Merges sets (keys are re-referenced, NULL sets skipped; when two keys
 * share a kid the first set's wins, as within one JWKS). Returns a new set
 * or NULL. */
struct auth_jwk_set *auth_jwk_set_merge(struct auth_jwk_set *const *sets, size_t n);

/* Finds a key by exact kid; NULL if none (and for "": a token's empty kid
 * never selects a key that has no kid). */
const struct auth_jwk *auth_jwk_set_find(const struct auth_jwk_set *s, const char *kid);

/* Whether |k| can verify tokens of |alg| (one JOSE_* bit): decided by
 * the key type and curve (an asymmetric key never fits HS*), narrowed by
 * the key's own "alg"; HMAC secrets shorter than the hash never fit. */
bool auth_jwk_fits_alg(const struct auth_jwk *k, unsigned alg);

struct auth_jwk_set *auth_jwk_set_ref(struct auth_jwk_set *s);
void auth_jwk_set_unref(struct auth_jwk_set *s);

/*
 * Why |k| cannot verify algorithm |ai|, or NULL when it can: the key type
 * (and curve, and secret length) decides; the key's "alg" only narrows.
 */
const char *auth_jwk_misfit(const struct auth_jwk *k, const struct jose_alg *ai);

/* "RSA", "EC P-256", "Ed25519", "HMAC secret": for messages. */
const char *auth_jwk_type_name(const struct auth_jwk *k);

#endif
