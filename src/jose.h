/*
 * jose.h: JSON Web Algorithms (RFC 7518 section 3.1, RFC 8037 section 3.1)
 * as sparkgate verifies them, and strict base64url (RFC 7515 appendix C).
 * The one place both the key sets (auth_jwk) and the verifier (auth_jwt)
 * take these from.  Pure: no I/O, no state.
 */
#ifndef SPARKGATE_JOSE_H
#define SPARKGATE_JOSE_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

/* Algorithms, as a bit set for allowlists. */
enum jose_alg_bit {
    JOSE_RS256 = 1u << 0,
    JOSE_RS384 = 1u << 1,
    JOSE_RS512 = 1u << 2,
    JOSE_PS256 = 1u << 3,
    JOSE_PS384 = 1u << 4,
    JOSE_PS512 = 1u << 5,
    JOSE_ES256 = 1u << 6,
    JOSE_ES384 = 1u << 7,
    JOSE_ES512 = 1u << 8,
    JOSE_EDDSA = 1u << 9,
    JOSE_HS256 = 1u << 10,
    JOSE_HS384 = 1u << 11,
    JOSE_HS512 = 1u << 12,
};

/* How an algorithm verifies; decides which key type fits it. */
enum jose_family {
    JOSE_FAM_RSA,  /* RSASSA-PKCS1-v1_5 */
    JOSE_FAM_PSS,  /* RSASSA-PSS, MGF1 with the same hash, salt = hash length */
    JOSE_FAM_EC,   /* ECDSA, JOSE signature is r||s */
    JOSE_FAM_ED,   /* EdDSA, Ed25519 only */
    JOSE_FAM_HMAC, /* only with a configured secret */
};

struct jose_alg {
    unsigned bit;
    const char *name;
    enum jose_family fam;
    const EVP_MD *(*md)(void); /* NULL for EdDSA (the hash is part of Ed25519) */
    int curve_nid;             /* ES*: the only curve the algorithm is defined on */
    size_t sig_len;            /* fixed signature length (ES*, EdDSA), 0 when it varies */
};

/* The algorithm of bit |alg| (one JOSE_* bit), or NULL. */
const struct jose_alg *jose_alg_lookup(unsigned alg);

/* The |i|th algorithm of the table (in bit order), or NULL past its end. */
const struct jose_alg *jose_alg_at(size_t i);

/* "RS256" -> JOSE_RS256; 0 for unknown names (and for "none"). Exact case. */
unsigned jose_alg_from_name(const char *name);
const char *jose_alg_name(unsigned alg);

/* Strict base64url (RFC 7515 appendix C: no padding, no whitespace).
 * Returns decoded length, or -1.  |out| needs (len * 3) / 4 + 1 bytes. */
long jose_b64url_decode(const char *in, size_t len, uint8_t *out);

/* Encodes without padding; |out| needs (len * 4 + 2) / 3 + 1 bytes. Returns length. */
size_t jose_b64url_encode(const uint8_t *in, size_t len, char *out);

#endif
