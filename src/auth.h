/*
 * auth.h: who is calling.  Turns the credentials of one request (a bearer
 * token from a configured header, or a verified client certificate) into a
 * principal and a profile, or into a refusal with the gRPC status and a
 * message an honest user can act on.
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
#include <openssl/ssl.h>

struct cfg;
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
    int64_t exp;            /* token expiry (unix seconds); 0 for none */
    char token_id[17];      /* first 8 bytes of the token digest, hex: log correlation */
};

enum auth_result {
    AUTH_OK,
    AUTH_REFUSED,   /* *status / msg say why */
    AUTH_RETRY,     /* unknown kid: a JWKS fetch will end; ask again when it has */
};

/* A per-worker cache of verified tokens with |entries| slots (0: no cache). */
struct auth_cache *auth_cache_new(uint32_t entries);
void auth_cache_free(struct auth_cache *cache);

/* Hit/miss counters (tests, metrics). */
void auth_cache_stats(const struct auth_cache *cache, uint64_t *hits, uint64_t *misses);

/*
 * Authenticates one request under snapshot |c|.  |cred| is the value of the
 * credential header (NULL when none was sent; |ncred| > 1 when several
 * credential headers were sent); |ssl| the client's TLS session (for a
 * verified client certificate) or NULL.
 * |may_retry|: an unknown kid may answer AUTH_RETRY (a refetch was asked
 * for, or one is in flight; the JWKS fetch-end hook says when to ask again);
 * false turns it into a refusal (the caller's wait is over).  An unknown kid
 * that no fetch can bring now (rate limit) is refused at once.
 * On AUTH_OK fills |id|.  On AUTH_REFUSED sets |*status| (16
 * UNAUTHENTICATED or 7 PERMISSION_DENIED) and a "sparkgate: ..." |msg|.
 */
enum auth_result auth_check(const struct cfg *c, struct auth_cache *cache, const char *cred,
                            size_t credlen, unsigned ncred, SSL *ssl, time_t now, bool may_retry,
                            struct auth_ident *id, int *status, char *msg, size_t msglen);

/* The refusal of a token longer than auth.max_token_bytes (%u: the limit). */
#define AUTH_TOO_LARGE_FMT "sparkgate: token larger than auth.max_token_bytes (%u bytes)"

/* "static", "jwt", "mtls", "anonymous". */
const char *auth_via_name(enum auth_via via);

#endif
