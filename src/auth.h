/*
 * auth.h: who is calling.  Turns the credentials of one request (a bearer
 * token from a configured header, or a verified client certificate) into a
 * principal and a profile, or into a refusal with a message an honest user
 * can act on.  The verdict says what was decided, never how it is answered:
 * the caller maps it to a protocol status (call.c: one table).
 *
 * Every stream is judged on its own credentials (nothing is remembered per
 * connection).  Verified tokens are cached per worker, keyed by the
 * token's SHA-256 and the cfg generation, until the token's exp, so the hot
 * path does not pay a signature check per RPC.  Tokens are never logged and
 * are compared only as digests, in constant time.
 */
#ifndef SPARKGATE_AUTH_H
#define SPARKGATE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <openssl/x509.h>

#include "sg_err.h"

struct cfg;
struct cfg_auth;
struct auth_cache;

#define AUTH_PRINCIPAL_MAX 256
#define AUTH_PROFILE_MAX 128

enum auth_via {
    AUTH_VIA_ANONYMOUS,
    AUTH_VIA_STATIC,
    AUTH_VIA_JWT,
    AUTH_VIA_MTLS,
};

struct auth_ident {
    char principal[AUTH_PRINCIPAL_MAX];
    char profile[AUTH_PROFILE_MAX];
    enum auth_via via;
    int64_t exp;       /* token expiry (unix seconds); 0 for none */
    char token_id[17]; /* first 8 bytes of the token digest, hex: log correlation */
};

/* What auth_check decided (returned, and in auth_verdict.outcome). */
enum auth_result {
    AUTH_OK,      /* verdict.id says who is calling */
    AUTH_REFUSED, /* verdict.err / msg say why */
    AUTH_RETRY,   /* unknown kid: a JWKS fetch will end; ask again when it has */
};

#define AUTH_MSG_MAX 512

/*
 * The decision on one request.  On a refusal |err| says which kind:
 *   SG_ERR_AUTH    the caller is not known: credentials missing, malformed,
 *                  too large or not verifiable;
 *   SG_ERR_DENIED  the caller is known and not allowed (disabled, on the
 *                  deny list, no profile, not the user_id claimed);
 * and |msg| is a "sparkgate: ..." sentence for the client.  |id| is filled
 * on AUTH_OK (and as far as it got on a refusal: the principal of a denied
 * caller).
 */
struct auth_verdict {
    enum auth_result outcome;
    int err; /* SG_OK, SG_ERR_AUTH, SG_ERR_DENIED; SG_ERR_AGAIN on AUTH_RETRY */
    char msg[AUTH_MSG_MAX];
    struct auth_ident id;
    const char *rule;  /* a deny-list refusal: "auth.deny.principals" or */
    size_t rule_index; /* "auth.deny.groups" and the entry's index; else NULL */
};

/*
 * The credential headers of one request, gathered while its headers
 * arrive (auth_cred_add) and judged by auth_check.  Zero it first; the
 * token is a secret: auth_cred_clear wipes and frees it.
 */
struct auth_cred {
    char *value; /* the first credential header's value, NUL-terminated */
    size_t len;
    unsigned n;    /* credential headers seen */
    bool too_long; /* one was longer than AUTH_CRED_MAX: refused as too large, not missing */
};

/* Longest credential header kept: "Bearer " + AUTH_JWT_MAX_TOKEN, with slack. */
#define AUTH_CRED_MAX (16384 + 16)

/* Is |name| (lower case, |len| bytes) one of auth.header_names: a credential? */
bool auth_cred_header(const struct cfg_auth *a, const uint8_t *name, size_t len);

/* Records one credential header.  Returns SG_OK or SG_ERR_NOMEM. */
int auth_cred_add(struct auth_cred *cr, const uint8_t *value, size_t len);

/* Wipes and frees the token; |cr| is empty (n = 0) afterwards. */
void auth_cred_clear(struct auth_cred *cr);

/* The client's certificate as the TLS layer verified it. */
struct auth_peer {
    const X509 *cert;   /* NULL: the client sent none */
    long verify_result; /* X509_V_OK, or why the chain did not verify */
};

struct auth_jwks_fetcher;
struct auth_jwk_set;

/*
 * Where auth_check reads an issuer's fetched keys (cfg_issuer.fetcher): the
 * daemon passes auth_jwks_key_ops (auth_jwks.c, whose fetchers take a mutex
 * and run on the main loop); auth itself stays pure.
 */
struct auth_keys_ops {
    /* the current key set (a new reference) or NULL before the first fetch */
    struct auth_jwk_set *(*current)(struct auth_jwks_fetcher *f);
    /* asks for a refetch for an unknown |kid|; true when a fetch will end soon */
    bool (*request_refresh)(struct auth_jwks_fetcher *f, const char *kid);
};

/* A per-worker cache of verified tokens with |entries| slots (0: no cache). */
struct auth_cache *auth_cache_new(uint32_t entries);
void auth_cache_free(struct auth_cache *cache);

/* Hit/miss counters (tests, metrics). */
void auth_cache_stats(const struct auth_cache *cache, uint64_t *hits, uint64_t *misses);

/*
 * Authenticates one request under snapshot |c| from its credential headers
 * |cr| and, over TLS, the client certificate |peer| (NULL: not a TLS
 * connection).  |keys| reads the issuers' fetched key sets (NULL: fetchers
 * are not consulted, only the issuers' file keys).
 * |may_retry|: an unknown kid may answer AUTH_RETRY (a refetch was asked
 * for, or one is in flight; the JWKS fetch-end hook says when to ask again);
 * false turns it into a refusal (the caller's wait is over).  An unknown kid
 * that no fetch can bring now (rate limit) is refused at once.
 * Fills |v| and returns v->outcome.  Never blocks; on a cache miss of a JWT
 * |keys| is asked for the key set (auth_jwks_key_ops takes the fetcher's
 * mutex).
 */
enum auth_result auth_check(const struct cfg *c, struct auth_cache *cache,
                            const struct auth_keys_ops *keys, const struct auth_cred *cr,
                            const struct auth_peer *peer, time_t now, bool may_retry,
                            struct auth_verdict *v);

/* The refusal of a token longer than auth.max_token_bytes (%u: the limit). */
#define AUTH_TOO_LARGE_FMT "sparkgate: token larger than auth.max_token_bytes (%u bytes)"

/* "static", "jwt", "mtls", "anonymous". */
const char *auth_via_name(enum auth_via via);

#endif
