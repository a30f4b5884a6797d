/*
 * auth_jwks.h: JWKS documents fetched over HTTPS and kept fresh.
 *
 * One fetcher per distinct JWKS source (URL + CA + limits).  Fetchers live
 * in the main thread's event loop for the whole process; configuration
 * snapshots point at them (cfg issuers), and a reload that keeps a URL keeps
 * its fetcher and its keys.  Workers only read the current key set
 * (auth_jwks_fetcher_current, a refcounted snapshot behind a mutex) and ask
 * for a refresh when a token names an unknown kid
 * (auth_jwks_fetcher_request_refresh, rate-limited, thread-safe).
 *
 * Fetch rules: https only; the server certificate is verified against the
 * configured CA file (or the system store) and the URL's host name; the
 * response must be 200 with a body no larger than max_bytes; redirects are
 * not followed; a failed fetch or an unparsable document keeps the last
 * good key set (and is logged).  Refresh on a timer (refresh_s) and, on an
 * unknown kid, at most once per min_refetch_s.
 */
#ifndef SPARKGATE_AUTH_JWKS_H
#define SPARKGATE_AUTH_JWKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct auth_jwk_set;
struct auth_jwks_fetcher;

struct auth_jwks_source {
    const char *url;        /* https://host[:port]/path */
    const char *ca_file;    /* NULL: system trust store */
    uint32_t refresh_s;     /* periodic refresh, default 300 */
    uint32_t min_refetch_s; /* unknown-kid refetch floor, default 30 */
    uint32_t max_bytes;     /* response body cap, default 1 MiB */
    uint32_t timeout_ms;    /* connect + response, default 5000 */
};
/* A 0 in refresh_s, max_bytes or timeout_ms selects the default;
 * min_refetch_s 0 means no floor. */

/* Sets up the registry on the main thread's loop (once, before any get). */
int auth_jwks_registry_init(struct event_base *base);

/*
 * Returns the fetcher for |src| (an existing one when url, ca_file and
 * limits are identical), creating and starting it otherwise.  Main thread
 * only.  Returns NULL with |err| set (bad URL, not https, CA unreadable).
 */
struct auth_jwks_fetcher *auth_jwks_registry_get(const struct auth_jwks_source *src, char *err,
                                                 size_t errlen);

/*
 * Stops fetchers that no snapshot in |used| (n entries) refers to: their
 * timers stop; they are freed at exit.  Main thread only.
 */
void auth_jwks_registry_retain(struct auth_jwks_fetcher *const *used, size_t n);

/*
 * Runs the main loop until every fetcher has a key set or |timeout_ms|
 * passes.  Returns true when all have keys.  Main thread, start-up only.
 */
bool auth_jwks_registry_wait_ready(uint32_t timeout_ms);

/* Frees every fetcher (exit). */
void auth_jwks_registry_free(void);

/* The current key set (a new reference: auth_jwk_set_unref it) or NULL before
 * the first successful fetch.  Any thread. */
struct auth_jwk_set *auth_jwks_fetcher_current(struct auth_jwks_fetcher *f);

/*
 * Asks for a refetch because |kid| was unknown; ignored within
 * min_refetch_s of the last fetch start.  Returns true when a fetch will
 * end after this call (one was started now, or one is in flight), so a
 * caller may wait for it: the fetch-end hook says when.  Returns false when
 * the rate limit forbids a fetch and none is in flight: no new key can
 * arrive now, and waiting would only hold the caller.  Any thread.
 */
bool auth_jwks_fetcher_request_refresh(struct auth_jwks_fetcher *f, const char *kid);

/* The two calls above, as the key source auth_check reads (auth.h). */
struct auth_keys_ops;
extern const struct auth_keys_ops auth_jwks_key_ops;

/*
 * |fn|(|arg|) runs on the main thread each time a fetch of any fetcher ends
 * (success or failure, its keys published), and when a requested refetch is
 * dropped because its fetcher stopped: whoever waits for a key re-checks
 * then, instead of polling.  One hook per process; NULL removes it.  Main
 * thread only.
 */
void auth_jwks_set_fetch_end_hook(void (*fn)(void *arg), void *arg);

/* The URL (for messages). */
const char *auth_jwks_fetcher_url(const struct auth_jwks_fetcher *f);

/* Counters for tests and metrics. */
struct auth_jwks_stats {
    uint64_t fetches; /* attempts started */
    uint64_t successes;
    uint64_t failures;
    uint64_t refetch_requests;   /* unknown-kid requests received */
    uint64_t refetch_suppressed; /* of those, ignored by the rate limit */
    uint64_t last_success_unix;
};
void auth_jwks_fetcher_stats(struct auth_jwks_fetcher *f, struct auth_jwks_stats *out);

#endif
