/*
 * cfg.h: the configuration snapshot.
 *
 * cfg_load() turns one JSON file into an immutable, refcounted struct cfg,
 * including the TLS contexts it needs.  Nothing in a snapshot changes after
 * cfg_load() returns; a reload builds a new snapshot and swaps the current
 * pointer (cfg_set_current).  Every call takes a reference for its lifetime,
 * so in-flight streams keep the snapshot they started with.
 *
 * Strictness: duplicate keys, unknown keys, wrong types and out-of-range
 * values are errors.  Every error names the file, line, column and the key
 * path, e.g.
 *   /etc/sparkgate/sparkgate.json:12:9: backends[1].tls.ca: expected a string
 * The reference for every key is docs/sparkgate.json.5.
 */
#ifndef SPARKGATE_CFG_H
#define SPARKGATE_CFG_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/socket.h>
#include <openssl/ssl.h>

#include "log.h"
#include "policy.h"

#define CFG_MAGIC 0x43464731u /* "CFG1" */

#define CFG_MAX_LISTENERS 16
#define CFG_MAX_BACKENDS 256

/* One front-end listener ("listen": [...]). */
struct cfg_listener {
    char *address;              /* as written: "0.0.0.0:15002", "[::1]:15002" */
    struct sockaddr_storage ss; /* parsed numeric address */
    socklen_t sslen;
    bool tls;           /* false only with "plaintext": true (h2c) */
    char *cert_file;    /* tls.certificate (PEM chain) */
    char *key_file;     /* tls.private_key (PEM) */
    int min_version;    /* TLS1_2_VERSION or TLS1_3_VERSION */
    char *ciphers;      /* TLS <= 1.2 cipher list; NULL = AEAD default */
    char *ciphersuites; /* TLS 1.3 suites; NULL = OpenSSL default */
    SSL_CTX *ssl_ctx;   /* built by cfg_load via tls_server_ctx_new; owned */
};

/* One Spark Connect backend ("backends": [...]). */
struct cfg_backend {
    char *name;                    /* unique, stable: routing hashes on it */
    char *address;                 /* "host:port" as written */
    char *host;                    /* host part (brackets removed) */
    char *port;                    /* port part */
    bool tls;                      /* "tls" object present */
    char *ca_file;                 /* tls.ca; NULL = system trust store */
    char *server_name;             /* tls.server_name (SNI + name check); NULL = host */
    bool verify;                   /* tls.verify, default true */
    char *cert_file;               /* tls.certificate: client certificate (optional) */
    char *key_file;                /* tls.private_key: its key (required with certificate) */
    char *authority;               /* :authority sent to the backend; NULL = address */
    uint32_t max_streams_per_conn; /* streams multiplexed on one connection (1..10000) */
    char *preshared_token;         /* Spark 4 spark.connect.authenticate.token, read from
                                     preshared_token_file; sent as authorization: Bearer;
                                     secret: wiped on free, never logged */
    size_t preshared_token_len;
    char *preshared_header; /* "Bearer <token>", built once per snapshot for the
                                     authorization header; secret likewise */
    size_t preshared_header_len;
    SSL_CTX *ssl_ctx; /* built by cfg_load via tls_client_ctx_new; owned */
};

/* ---- authentication ("auth") ---------------------------------------------- */

struct auth_jwk_set;
struct auth_jwks_fetcher;

/* One static bearer token: only its SHA-256 is ever stored. */
struct cfg_static_token {
    uint8_t sha256[32];
    char *principal;
    char *profile; /* NULL: auth.default_profile */
    char **groups;
    size_t ngroups;
    bool disabled; /* valid but refused: PERMISSION_DENIED */
};

/* "value in claim" -> profile, first match wins. */
struct cfg_profile_rule {
    char *value;
    char *profile;
};

/* One OAuth 2.0 / OIDC issuer of JWT access tokens. */
struct cfg_issuer {
    char *issuer; /* exact "iss" */
    char **audiences;
    size_t naudiences;
    unsigned algs; /* JOSE_* bits */
    int64_t skew_s;
    char *principal_claim; /* default "sub" */
    char *profile_claim;   /* NULL: no claim-based profile */
    struct cfg_profile_rule *rules;
    size_t nrules;
    char *default_profile;  /* NULL: refuse principals no rule matched */
    char *principal_prefix; /* NULL: none; put before every principal it issues */
    char *groups_claim;     /* groups for auth.deny; NULL: profile_claim */
    /* keys: a JWKS URL (fetched), and/or keys loaded with the snapshot */
    char *jwks_url;
    char *jwks_ca;
    uint32_t jwks_refresh_s, jwks_min_refetch_s, jwks_max_bytes, jwks_timeout_ms;
    bool jwks_required_at_start;       /* true: fail to start without keys */
    struct auth_jwk_set *static_keys;  /* jwks_file + public_keys + hmac_secrets; owned ref */
    struct auth_jwks_fetcher *fetcher; /* set by daemon.c after load; not owned */
};

enum cfg_mtls_from {
    CFG_MTLS_CN,
    CFG_MTLS_SAN_EMAIL,
    CFG_MTLS_SAN_DNS,
    CFG_MTLS_SAN_URI,
};

struct cfg_auth {
    bool anonymous;      /* no authentication (loopback development only) */
    char **header_names; /* where bearer tokens are read (lower case) */
    size_t nheader_names;
    struct cfg_static_token *tokens;
    size_t ntokens;
    char *static_prefix; /* static_principal_prefix; NULL: none */
    struct cfg_issuer *issuers;
    size_t nissuers;
    char *default_profile; /* for static tokens without one; NULL: none */
    /* client certificates as an identity source */
    bool mtls;
    char *mtls_ca;
    enum cfg_mtls_from mtls_from;
    char *mtls_profile;
    char *mtls_prefix; /* mtls.principal_prefix; NULL: none */
    /* refused whatever authenticated them, matched against the prefixed principal */
    char **deny_principals;
    size_t ndeny_principals;
    char **deny_groups; /* static tokens' groups, issuers' groups_claim */
    size_t ndeny_groups;
    uint32_t max_token_bytes; /* longest bearer token; longer: refused before any work */
    /* what the backend is told */
    bool require_match;   /* refuse a user_id that differs, instead of rewriting */
    char **strip_headers; /* exact names (lower case) removed from requests */
    size_t nstrip_headers;
    char **strip_prefixes; /* name prefixes removed from requests */
    size_t nstrip_prefixes;
    uint32_t cache_entries; /* verified-token cache per worker */
};

/* Sizes are bytes, times are milliseconds. */
struct cfg_limits {
    uint32_t max_connections;                /* per process; accept pauses above it */
    uint32_t max_concurrent_streams;         /* SETTINGS_MAX_CONCURRENT_STREAMS to clients */
    uint32_t max_header_list_size;           /* advertised and enforced */
    uint32_t max_header_count;               /* header fields per request */
    uint32_t max_request_message_size;       /* largest gRPC request message (default 128 MiB) */
    uint32_t stream_window_size;             /* SETTINGS_INITIAL_WINDOW_SIZE to clients */
    uint32_t connection_window_size;         /* client connection receive window */
    uint32_t stream_buffer_size;             /* bytes buffered per stream per direction before
                                          sparkgate stops granting flow-control credit */
    uint32_t backend_stream_window_size;     /* initial window we give backends */
    uint32_t backend_connection_window_size; /* connection window we give backends */
    /* plan inspection: the same for every profile */
    uint32_t max_plan_depth;             /* nested messages below the request (Spark: 1024) */
    uint32_t max_plan_nodes;             /* reported nodes per request, 0 unlimited */
    uint32_t max_decompressed_plan_size; /* Plan.compressed_operation output cap */
    uint32_t max_decompression_ratio;    /* ... and output/input ratio cap (above 1 MiB) */
    /* before a call is authenticated: what an unauthenticated client can hold */
    uint32_t unauthenticated_stream_window_size; /* advertised; raised to stream_window_size
                                                    once the stream's call is authenticated */
    uint32_t max_auth_waiting_per_connection;    /* calls waiting for signing keys */
    uint32_t max_auth_waiting_per_worker;
    /* request bytes buffered (assembling or queued for a backend): past these,
     * clients get no more flow-control credit */
    uint32_t connection_request_buffer; /* per client connection */
    uint32_t process_request_buffer;    /* all connections of the process together */
};

struct cfg_timeouts {
    uint32_t tls_handshake_ms;   /* accept -> TLS done */
    uint32_t request_header_ms;  /* connection open -> first complete request headers */
    uint32_t idle_ms;            /* no open stream for this long -> GOAWAY */
    uint32_t backend_connect_ms; /* TCP + TLS + SETTINGS to a backend */
    uint32_t drain_ms;           /* SIGTERM: in-flight calls get this long */
    uint32_t auth_key_wait_ms;   /* unknown kid: longest wait for the JWKS fetch */
    uint32_t stall_ms;           /* a call that cannot move its client's bytes for this
                                    long (zero window, no data) is reset */
};

struct cfg {
    uint32_t magic;
    int refcnt;          /* atomic; see cfg_ref/cfg_unref */
    char *path;          /* file it was loaded from */
    uint64_t generation; /* 1, 2, ... in load order: logs and tests */
    uint32_t workers;    /* worker threads (1..64); default: online CPUs */
    struct cfg_listener *listeners;
    size_t nlisteners;
    struct cfg_backend *backends;
    size_t nbackends;
    struct cfg_limits limits;
    struct cfg_timeouts timeouts;
    struct cfg_auth auth;
    enum log_level log_level; /* log.level */
    bool access_log;          /* log.access: one line per call */
    bool audit_log;           /* log.audit: one line per policy decision */
    /* plan policy (cfg_policy.c): no profiles = nothing is inspected */
    struct policy_profile *profiles;
    size_t nprofiles;
    struct policy_globs redact_keys; /* Config response values never shown */
};

/* The profile called |name| in |c|, or NULL. */
const struct policy_profile *cfg_profile(const struct cfg *c, const char *name);

/*
 * Loads and validates |path|.  On success returns a snapshot with refcount 1
 * (the caller owns that reference).  On failure returns NULL and writes one
 * line "path:line:col: key.path: reason" (NUL-terminated) into |err|.
 */
struct cfg *cfg_load(const char *path, char *err, size_t errlen);

/*
 * Same as cfg_load, from a buffer; |name| is used in messages.  Used by
 * tests and the fuzzer.  |build_tls| false skips SSL_CTX creation (and the
 * file checks that go with it).
 */
struct cfg *cfg_load_buf(const char *name, const char *buf, size_t len, bool build_tls, char *err,
                         size_t errlen);

/* Reference counting (thread-safe).  cfg_unref frees at zero.  NULL is a no-op. */
struct cfg *cfg_ref(struct cfg *c);
void cfg_unref(struct cfg *c);

/*
 * The process-wide current snapshot.  cfg_current() returns a new reference
 * (release it with cfg_unref) or NULL before the first cfg_set_current.
 * cfg_set_current takes over the caller's reference to |c| and drops the
 * previous one.  Both are thread-safe.
 */
struct cfg *cfg_current(void);
void cfg_set_current(struct cfg *c);

/* Index of backend |name| in |c|, or -1. */
int cfg_backend_index(const struct cfg *c, const char *name);

#endif
