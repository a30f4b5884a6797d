/*
 * auth_jwks.c: JWKS documents fetched over HTTPS (evhttp on a
 * bufferevent_openssl, DNS through evdns on the main loop) and kept fresh.
 *
 * The registry and every fetch live on the main thread's event loop.  A fetch
 * uses a fresh connection and SSL object (one GET every few minutes does not
 * justify keep-alive state), and its outcome is handled in a separate event
 * (ev_done) rather than inside evhttp's callbacks, so the connection can be
 * freed there and a failure reported synchronously from evhttp_make_request
 * takes the same path as any other.  Workers touch only the key-set pointer
 * (behind f->lock), the rate-limit timestamp and the counters (atomics), and
 * event_active() on ev_refresh, which the base's evthread lock makes safe.
 *
 * Never logs key material: only the URL, status, counts, key ids and reasons.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "auth.h"
#include "auth_jwks.h"
#include "auth_jwk.h"
#include "log.h"
#include "sg_err.h"
#include "util.h"

#define AUTH_JWKS_MAGIC 0x4a574b53u /* "JWKS" */
#define AUTH_JWKS_MAX_HEADERS 65536 /* response header block cap, bytes */
#define AUTH_JWKS_RETRY_MS 10000u   /* first retry after a failure (capped by refresh_s) */
#define AUTH_JWKS_USER_AGENT "sparkgate/" PACKAGE_VERSION
#define AUTH_JWKS_DEFAULT_REFRESH_S 300
#define AUTH_JWKS_DEFAULT_MAX_BYTES (1024 * 1024)
#define AUTH_JWKS_DEFAULT_TIMEOUT_MS 5000

struct auth_jwks_fetcher {
    uint32_t magic;
    struct auth_jwks_fetcher *next; /* registry list */

    /* configuration: immutable after creation, strings owned */
    char *url;
    char *ca_file; /* NULL: system trust store */
    uint32_t refresh_s;
    uint32_t min_refetch_s;
    uint32_t max_bytes;
    uint32_t timeout_ms;
    char *host;     /* DNS, SNI and certificate check: IPv6 without brackets */
    char *host_hdr; /* Host header: as written in the URL, ":port" when given */
    char *target;   /* request target: path[?query] */
    uint16_t port;
    bool host_is_ip;
    SSL_CTX *ssl_ctx; /* owned */

    /* main thread only */
    struct event *ev_timer;    /* periodic refresh / retry after failure */
    struct event *ev_refresh;  /* activated by request_refresh, any thread */
    struct event *ev_done;     /* the fetch in flight has an outcome */
    struct event *ev_deadline; /* the whole fetch, connect to last byte */
    bool stopped;              /* no snapshot uses it: no timer, no refetch */
    bool in_flight;
    bool done;                       /* outcome of the fetch in flight recorded */
    struct evhttp_connection *evcon; /* fetch in flight; owns the bufferevent and SSL */
    struct bufferevent *bev;         /* borrowed from evcon, for error details */
    SSL *ssl;                        /* borrowed from bev */
    int req_err;                     /* enum evhttp_request_error + 1, 0 if none */
    char *body;                      /* the 200 response body, NUL-terminated; owned */
    size_t body_len;
    char why[256];       /* failure reason of the fetch in flight */
    uint64_t backoff_ms; /* delay before the next retry; 0 after a success */
    unsigned ndropped;   /* keys dropped by the parser in this fetch */

    /* shared with workers */
    pthread_mutex_t lock;
    struct auth_jwk_set *keys; /* guarded by lock; a reference is owned */
    uint64_t last_start_ms;    /* atomic: last fetch start (monotonic), 0 never */
    /*
     * Whether a fetch is still to end, for callers deciding to wait: every
     * fetch asked for (request_refresh) or started bumps req_seq; a fetch
     * ending stores the req_seq it saw into done_seq (the document it got
     * answers every request made so far).  done_seq < req_seq: a fetch will
     * end and run the fetch-end hook.  Both atomic.
     */
    uint64_t req_seq;
    uint64_t done_seq;
    struct auth_jwks_stats stats; /* each field atomic */
};

static struct {
    struct event_base *base; /* borrowed: the main loop */
    struct evdns_base *dns;  /* owned */
    struct auth_jwks_fetcher *head;
} reg;

/* main thread only: who is told that a fetch ended (worker.c wakes waiting calls) */
static void (*fetch_end_fn)(void *arg);
static void *fetch_end_arg;

void
auth_jwks_set_fetch_end_hook(void (*fn)(void *arg), void *arg)
{
    fetch_end_fn = fn;
    fetch_end_arg = arg;
}

/* Every request so far is answered (or will not be): waiters re-check now. */
static void
fetch_ended(struct auth_jwks_fetcher *f)
{
    __atomic_store_n(&f->done_seq, __atomic_load_n(&f->req_seq, __ATOMIC_ACQUIRE),
                     __ATOMIC_RELEASE);
    if (fetch_end_fn != NULL)
        fetch_end_fn(fetch_end_arg);
}

static void
stat_add(uint64_t *counter, uint64_t n)
{
    __atomic_add_fetch(counter, n, __ATOMIC_RELAXED);
}

/* Copies |s| for a log line: key ids come from the network, so control
 * characters, quotes and non-ASCII bytes become '?'. */
static const char *
printable(const char *s, char *buf, size_t len)
{
    util_printable(buf, len, s, strlen(s), "\"\\");
    return buf;
}

static bool
is_ip_literal(const char *host)
{
    unsigned char addr[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

/* ---- configuration ------------------------------------------------------ */

/*
 * Splits |url| into host, port, Host header and request target.  Refuses
 * anything but https, user information (evhttp would not send it, and a
 * password would end up in every log line naming the URL) and fragments
 * (never sent: a URL with one is a configuration mistake).  Returns 0 or -1
 * with |err| set.
 */
static int
parse_url(struct auth_jwks_fetcher *f, const char *url, char *err, size_t errlen)
{
    struct evhttp_uri *u = NULL;
    const char *scheme, *host, *path, *query;
    size_t hlen, tlen;
    int port, rc = -1;

    u = evhttp_uri_parse_with_flags(url, 0);
    if (u == NULL) {
        snprintf(err, errlen, "\"%s\" is not a valid URL", url);
        goto out;
    }
    scheme = evhttp_uri_get_scheme(u);
    if (scheme == NULL || evutil_ascii_strcasecmp(scheme, "https") != 0) {
        snprintf(err, errlen, "\"%s\": only https:// URLs are allowed", url);
        goto out;
    }
    if (evhttp_uri_get_userinfo(u) != NULL) {
        /* not echoed: it may hold a password */
        snprintf(err, errlen, "user information (user:password@) in a JWKS URL is not allowed");
        goto out;
    }
    if (evhttp_uri_get_fragment(u) != NULL) {
        snprintf(err, errlen, "\"%s\": a fragment in the URL is not allowed", url);
        goto out;
    }
    host = evhttp_uri_get_host(u);
    /* '%': percent-encoded names and IPv6 zone ids have no use here */
    if (host == NULL || *host == '\0' || strchr(host, '%') != NULL) {
        snprintf(err, errlen, "\"%s\": missing or unsupported host", url);
        goto out;
    }
    port = evhttp_uri_get_port(u);
    if (port == 0 || port > 65535) {
        snprintf(err, errlen, "\"%s\": invalid port", url);
        goto out;
    }
    f->port = port < 0 ? 443 : (uint16_t)port;

    hlen = strlen(host);
    if (host[0] == '[') /* evhttp keeps the brackets of an IP-literal */
        f->host = strndup(host + 1, hlen - 2);
    else
        f->host = strdup(host);
    f->host_hdr = malloc(hlen + sizeof(":65535"));
    if (f->host == NULL || f->host_hdr == NULL)
        goto nomem;
    if (port > 0)
        snprintf(f->host_hdr, hlen + sizeof(":65535"), "%s:%d", host, port);
    else
        memcpy(f->host_hdr, host, hlen + 1);
    f->host_is_ip = is_ip_literal(f->host);

    path = evhttp_uri_get_path(u);
    if (path == NULL || *path == '\0')
        path = "/";
    query = evhttp_uri_get_query(u);
    tlen = strlen(path) + (query != NULL ? 1 + strlen(query) : 0) + 1;
    f->target = malloc(tlen);
    if (f->target == NULL)
        goto nomem;
    snprintf(f->target, tlen, "%s%s%s", path, query != NULL ? "?" : "", query != NULL ? query : "");
    rc = 0;
    goto out;
nomem:
    snprintf(err, errlen, "out of memory");
out:
    if (u != NULL)
        evhttp_uri_free(u);
    return rc;
}

/*
 * The fetcher's own client context: TLS 1.2+, the peer verified against
 * |ca_file| or the system store.  The host name is checked per connection
 * (new_ssl).  Returns a new context or NULL with |err| set.
 */
static SSL_CTX *
new_ssl_ctx(const char *ca_file, char *err, size_t errlen)
{
    SSL_CTX *ctx = NULL;
    const char *why;
    unsigned long e;

    ERR_clear_error();
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
        goto fail;
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (ca_file != NULL) {
        if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1)
            goto fail;
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        goto fail;
    }
    return ctx;
fail:
    e = ERR_peek_error(); /* the earliest: the cause, e.g. ENOENT under "system lib" */
    if (e != 0 && ERR_SYSTEM_ERROR(e))
        why = strerror(ERR_GET_REASON(e));
    else
        why = e != 0 ? ERR_reason_error_string(e) : NULL;
    if (why == NULL)
        why = "unknown OpenSSL error";
    if (ca_file != NULL)
        snprintf(err, errlen, "cannot load CA file \"%s\": %s", ca_file, why);
    else
        snprintf(err, errlen, "cannot set up the TLS trust store: %s", why);
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

/* |src| with 0 limits replaced by the documented defaults (min_refetch_s 0
 * stays: no floor). */
static struct auth_jwks_source
normalized(const struct auth_jwks_source *src)
{
    struct auth_jwks_source s = *src;

    if (s.refresh_s == 0)
        s.refresh_s = AUTH_JWKS_DEFAULT_REFRESH_S;
    if (s.max_bytes == 0)
        s.max_bytes = AUTH_JWKS_DEFAULT_MAX_BYTES;
    if (s.timeout_ms == 0)
        s.timeout_ms = AUTH_JWKS_DEFAULT_TIMEOUT_MS;
    return s;
}

/* |src| is normalized */
static bool
same_source(const struct auth_jwks_fetcher *f, const struct auth_jwks_source *src)
{
    if (strcmp(f->url, src->url) != 0)
        return false;
    if ((f->ca_file == NULL) != (src->ca_file == NULL))
        return false;
    if (f->ca_file != NULL && strcmp(f->ca_file, src->ca_file) != 0)
        return false;
    return f->refresh_s == src->refresh_s && f->min_refetch_s == src->min_refetch_s &&
           f->max_bytes == src->max_bytes && f->timeout_ms == src->timeout_ms;
}

/* ---- one fetch ---------------------------------------------------------- */

static const char *
request_error_name(int e)
{
    switch (e) {
    case EVREQ_HTTP_TIMEOUT:
        return "timed out";
    case EVREQ_HTTP_EOF:
        return "connection closed before a complete response";
    case EVREQ_HTTP_INVALID_HEADER:
        return "invalid response header";
    case EVREQ_HTTP_BUFFER_ERROR:
        return "I/O error";
    case EVREQ_HTTP_REQUEST_CANCEL:
        return "cancelled";
    case EVREQ_HTTP_DATA_TOO_LONG:
        return "response too large or malformed";
    default:
        return "request failed";
    }
}

static void set_why(struct auth_jwks_fetcher *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_why(struct auth_jwks_fetcher *f, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(f->why, sizeof(f->why), fmt, ap);
    va_end(ap);
}

/* A socket error worth reporting: not the leftovers of non-blocking I/O. */
static bool
real_errno(int e)
{
    return e != 0 && e != EAGAIN && e != EWOULDBLOCK && e != EINPROGRESS;
}

/*
 * Why there is no response: the certificate check first (the most useful
 * answer for an operator), then the TLS library, DNS, evhttp's verdicts that
 * need no errno, and the socket error.  bufferevent_openssl keeps SSL_get_error()'s
 * code followed by the OpenSSL error queue; only the queue entries carry a
 * library (ERR_GET_LIB != 0), and the earliest of them is the cause.
 */
static void
describe_failure(struct auth_jwks_fetcher *f, int saved_errno)
{
    unsigned long e, cause = 0;
    long vr = f->ssl != NULL ? SSL_get_verify_result(f->ssl) : X509_V_OK;
    int dns = f->bev != NULL ? bufferevent_socket_get_dns_error(f->bev) : 0;
    bool syscall = false;

    while (f->bev != NULL && (e = bufferevent_get_openssl_error(f->bev)) != 0) {
        if (ERR_GET_LIB(e) != 0)
            cause = e; /* popped last-in first: the last one kept is the earliest */
        else if (e == SSL_ERROR_SYSCALL)
            syscall = true;
    }
    if (vr != X509_V_OK) {
        set_why(f, "certificate verification failed: %s", X509_verify_cert_error_string(vr));
    } else if (cause != 0 && ERR_SYSTEM_ERROR(cause)) {
        set_why(f, "TLS: %s", strerror(ERR_GET_REASON(cause)));
    } else if (cause != 0) {
        const char *r = ERR_reason_error_string(cause);

        set_why(f, "TLS error: %s", r != NULL ? r : "unknown");
    } else if (dns != 0) {
        set_why(f, "cannot resolve \"%s\": %s", f->host, evutil_gai_strerror(dns));
    } else if (f->req_err - 1 == EVREQ_HTTP_DATA_TOO_LONG) {
        set_why(f, "response over %u bytes (max_bytes) or malformed", f->max_bytes);
    } else if (f->req_err - 1 == EVREQ_HTTP_INVALID_HEADER ||
               f->req_err - 1 == EVREQ_HTTP_TIMEOUT) {
        set_why(f, "%s", request_error_name(f->req_err - 1));
    } else if (real_errno(saved_errno)) {
        set_why(f, "cannot connect to %s port %u (%s)", f->host, (unsigned)f->port,
                evutil_socket_error_to_string(saved_errno));
    } else if (syscall) {
        /* a TCP close with no TLS close_notify: possibly a truncated response */
        set_why(f, "connection closed without a TLS close_notify");
    } else if (f->req_err != 0) {
        set_why(f, "%s", request_error_name(f->req_err - 1));
    } else {
        set_why(f, "cannot connect to %s port %u", f->host, (unsigned)f->port);
    }
    ERR_clear_error();
}

static void
on_request_error(enum evhttp_request_error e, void *arg)
{
    struct auth_jwks_fetcher *f = arg;

    CHECK_MAGIC(f, AUTH_JWKS_MAGIC);
    f->req_err = (int)e + 1;
}

/*
 * evhttp's request callback: |req| is NULL or has no status when the
 * connection failed.  Only records the outcome; on_fetch_done acts on it
 * (this may run inside evhttp_make_request, and evhttp still uses the
 * connection after we return).
 */
static void
on_response(struct evhttp_request *req, void *arg)
{
    struct auth_jwks_fetcher *f = arg;
    int saved_errno = EVUTIL_SOCKET_ERROR();
    struct evbuffer *in;
    size_t len;
    int status;

    CHECK_MAGIC(f, AUTH_JWKS_MAGIC);
    if (f->done)
        return;
    f->done = true;
    if (req == NULL || evhttp_request_get_response_code(req) == 0) {
        describe_failure(f, saved_errno);
        goto out;
    }
    status = evhttp_request_get_response_code(req);
    if (status != 200) {
        /* RFC 9110 section 15.4: a 3xx names another resource; we fetch only the configured one */
        set_why(f, "HTTP status %d%s", status,
                status >= 300 && status < 400 ? " (redirects are not followed)" : "");
        goto out;
    }
    in = evhttp_request_get_input_buffer(req);
    len = evbuffer_get_length(in);
    /* evhttp enforces max_body_size already; this keeps the promise if it did not */
    if (len > f->max_bytes) {
        set_why(f, "response over %u bytes (max_bytes)", f->max_bytes);
        goto out;
    }
    f->body = malloc(len + 1);
    if (f->body == NULL) {
        set_why(f, "out of memory");
        goto out;
    }
    evbuffer_remove(in, f->body, len);
    f->body[len] = '\0';
    f->body_len = len;
out:
    event_active(f->ev_done, EV_TIMEOUT, 0);
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct auth_jwks_fetcher *f = arg;

    (void)fd;
    (void)what;
    CHECK_MAGIC(f, AUTH_JWKS_MAGIC);
    if (f->done)
        return;
    f->done = true;
    set_why(f, "no complete response within %u ms", f->timeout_ms);
    event_active(f->ev_done, EV_TIMEOUT, 0);
}

static void
on_key_dropped(void *arg, const char *kid, const char *reason)
{
    struct auth_jwks_fetcher *f = arg;
    char k[80];

    f->ndropped++;
    log_warn("jwks %s: key \"%s\" dropped: %s", f->url,
             printable(kid != NULL ? kid : "", k, sizeof(k)), reason);
}

static void
schedule(struct auth_jwks_fetcher *f, uint64_t delay_ms)
{
    struct timeval tv;

    tv.tv_sec = (time_t)(delay_ms / 1000);
    tv.tv_usec = (suseconds_t)(delay_ms % 1000) * 1000;
    evtimer_add(f->ev_timer, &tv);
}

static uint64_t
refresh_ms(const struct auth_jwks_fetcher *f)
{
    return (uint64_t)f->refresh_s * 1000u;
}

/* Publishes |set| (the reference is taken over) and drops the old set. */
static void
publish(struct auth_jwks_fetcher *f, struct auth_jwk_set *set)
{
    struct auth_jwk_set *old;

    pthread_mutex_lock(&f->lock);
    old = f->keys;
    f->keys = set;
    pthread_mutex_unlock(&f->lock);
    if (old != NULL)
        auth_jwk_set_unref(old);
}

static size_t
current_nkeys(struct auth_jwks_fetcher *f)
{
    size_t n;

    pthread_mutex_lock(&f->lock);
    n = f->keys != NULL ? f->keys->nkeys : 0;
    pthread_mutex_unlock(&f->lock);
    return n;
}

/*
 * The fetch in flight has an outcome: free its connection, parse and
 * publish on success, keep the last good set otherwise, and schedule the
 * next attempt (refresh_s after a success; after a failure a retry that
 * starts at min(refresh_s, 10 s) and doubles up to refresh_s).
 */
static void
on_fetch_done(evutil_socket_t fd, short what, void *arg)
{
    struct auth_jwks_fetcher *f = arg;
    struct auth_jwk_set *set = NULL;
    char perr[200], keep[64];
    uint64_t next_ms;
    bool ok = false;

    (void)fd;
    (void)what;
    CHECK_MAGIC(f, AUTH_JWKS_MAGIC);
    event_del(f->ev_deadline);
    if (f->evcon != NULL)
        evhttp_connection_free(f->evcon);
    f->evcon = NULL;
    f->bev = NULL;
    f->ssl = NULL;
    f->in_flight = false;

    if (f->body != NULL) {
        perr[0] = '\0';
        set = auth_jwk_set_parse(f->body, f->body_len, false, on_key_dropped, f, perr,
                                 sizeof(perr));
        if (set != NULL) {
            ok = true;
            log_info("jwks %s: HTTP 200, %zu bytes, %zu keys loaded (%u dropped)", f->url,
                     f->body_len, set->nkeys, f->ndropped);
            publish(f, set);
        } else {
            set_why(f, "unusable JWKS document: %s", perr[0] != '\0' ? perr : "parse error");
        }
    }
    if (ok) {
        stat_add(&f->stats.successes, 1);
        __atomic_store_n(&f->stats.last_success_unix, (uint64_t)time(NULL), __ATOMIC_RELAXED);
        f->backoff_ms = 0;
        next_ms = refresh_ms(f);
    } else {
        size_t n = current_nkeys(f);

        stat_add(&f->stats.failures, 1);
        if (f->backoff_ms == 0)
            f->backoff_ms = refresh_ms(f) < AUTH_JWKS_RETRY_MS ? refresh_ms(f) : AUTH_JWKS_RETRY_MS;
        else if (f->backoff_ms * 2 < refresh_ms(f))
            f->backoff_ms *= 2;
        else
            f->backoff_ms = refresh_ms(f);
        next_ms = f->backoff_ms;
        /* keys is written only on this thread: reading it unlocked here is safe */
        if (f->keys != NULL)
            snprintf(keep, sizeof(keep), "keeping the previous %zu keys", n);
        else
            snprintf(keep, sizeof(keep), "no keys yet");
        if (f->stopped)
            log_warn("jwks %s: fetch failed: %s; %s; no longer used, not retried", f->url, f->why,
                     keep);
        else
            log_warn("jwks %s: fetch failed: %s; %s; retry in %llu ms", f->url, f->why, keep,
                     (unsigned long long)next_ms);
    }
    free(f->body);
    f->body = NULL;
    f->body_len = 0;
    if (!f->stopped)
        schedule(f, next_ms);
    fetch_ended(f);
}

/* A new SSL object for one connection: SNI and the certificate's name or
 * address checked against the URL's host.  NULL on failure. */
static SSL *
new_ssl(struct auth_jwks_fetcher *f)
{
    SSL *ssl = SSL_new(f->ssl_ctx);

    if (ssl == NULL)
        return NULL;
    if (f->host_is_ip) {
        /* RFC 6066 section 3: no SNI for addresses; the cert must carry an iPAddress SAN */
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), f->host) != 1)
            goto fail;
    } else {
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (SSL_set_tlsext_host_name(ssl, f->host) != 1 || SSL_set1_host(ssl, f->host) != 1)
            goto fail;
    }
    return ssl;
fail:
    SSL_free(ssl);
    return NULL;
}

/*
 * Starts one GET of the JWKS URL.  Every outcome, including a failure to
 * set up, ends in on_fetch_done.
 */
static void
start_fetch(struct auth_jwks_fetcher *f)
{
    struct evhttp_request *req = NULL;
    struct evkeyvalq *hdrs;
    struct timeval tv;
    SSL *ssl = NULL;

    if (f->in_flight)
        return;
    /* a refetch on demand replaces the periodic timer; on_fetch_done re-arms it */
    event_del(f->ev_timer);
    __atomic_store_n(&f->last_start_ms, util_now_ms(), __ATOMIC_RELEASE);
    __atomic_add_fetch(&f->req_seq, 1, __ATOMIC_ACQ_REL);
    stat_add(&f->stats.fetches, 1);
    f->in_flight = true;
    f->done = false;
    f->req_err = 0;
    f->why[0] = '\0';
    f->ndropped = 0;

    tv.tv_sec = (time_t)(f->timeout_ms / 1000);
    tv.tv_usec = (suseconds_t)(f->timeout_ms % 1000) * 1000;
    evtimer_add(f->ev_deadline, &tv);

    ERR_clear_error();
    ssl = new_ssl(f);
    if (ssl == NULL) {
        set_why(f, "cannot set up TLS for \"%s\"", f->host);
        goto fail;
    }
    /* CLOSE_ON_FREE: the bufferevent owns the SSL (and the socket) from here */
    f->bev = bufferevent_openssl_socket_new(reg.base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (f->bev == NULL) {
        SSL_free(ssl);
        set_why(f, "cannot create a TLS bufferevent");
        goto fail;
    }
    f->ssl = ssl;
    /* the connection owns the bufferevent from here */
    f->evcon = evhttp_connection_base_bufferevent_new(reg.base, reg.dns, f->bev, f->host, f->port);
    if (f->evcon == NULL) {
        bufferevent_free(f->bev);
        f->bev = NULL;
        f->ssl = NULL;
        set_why(f, "cannot create an HTTP connection");
        goto fail;
    }
    evhttp_connection_set_timeout_tv(f->evcon, &tv);
    evhttp_connection_set_retries(f->evcon, 0);
    /* evhttp checks Content-Length up front and chunked/close-delimited bodies as they grow */
    evhttp_connection_set_max_body_size(f->evcon, (ev_ssize_t)f->max_bytes);
    evhttp_connection_set_max_headers_size(f->evcon, AUTH_JWKS_MAX_HEADERS);

    req = evhttp_request_new(on_response, f);
    if (req == NULL) {
        set_why(f, "out of memory");
        goto fail;
    }
    evhttp_request_set_error_cb(req, on_request_error);
    hdrs = evhttp_request_get_output_headers(req);
    if (evhttp_add_header(hdrs, "Host", f->host_hdr) != 0 ||
        evhttp_add_header(hdrs, "Accept", "application/json") != 0 ||
        evhttp_add_header(hdrs, "User-Agent", AUTH_JWKS_USER_AGENT) != 0 ||
        evhttp_add_header(hdrs, "Connection", "close") != 0) {
        evhttp_request_free(req);
        set_why(f, "out of memory");
        goto fail;
    }
    /* on failure evhttp has freed |req| itself, except after a failed bind or
     * setfd, which an unbound connection on a new bufferevent does not do */
    if (evhttp_make_request(f->evcon, req, EVHTTP_REQ_GET, f->target) != 0) {
        set_why(f, "cannot start the request");
        goto fail;
    }
    return;
fail:
    if (!f->done) {
        f->done = true;
        event_active(f->ev_done, EV_TIMEOUT, 0);
    }
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct auth_jwks_fetcher *f = arg;

    (void)fd;
    (void)what;
    CHECK_MAGIC(f, AUTH_JWKS_MAGIC);
    if (!f->stopped)
        start_fetch(f);
}

static void
on_refresh_request(evutil_socket_t fd, short what, void *arg)
{
    struct auth_jwks_fetcher *f = arg;

    (void)fd;
    (void)what;
    CHECK_MAGIC(f, AUTH_JWKS_MAGIC);
    /* a fetch in flight will return the newest document anyway */
    if (!f->stopped && !f->in_flight) {
        log_info("jwks %s: refetching for an unknown key id", f->url);
        start_fetch(f);
    } else if (f->stopped) {
        fetch_ended(f); /* nobody will fetch: whoever waits must not */
    }
}

/* ---- fetchers and registry ---------------------------------------------- */

static void
fetcher_free(struct auth_jwks_fetcher *f)
{
    if (f == NULL)
        return;
    /* frees a request still queued without calling on_response */
    if (f->evcon != NULL)
        evhttp_connection_free(f->evcon);
    if (f->ev_timer != NULL)
        event_free(f->ev_timer);
    if (f->ev_refresh != NULL)
        event_free(f->ev_refresh);
    if (f->ev_done != NULL)
        event_free(f->ev_done);
    if (f->ev_deadline != NULL)
        event_free(f->ev_deadline);
    SSL_CTX_free(f->ssl_ctx);
    if (f->keys != NULL)
        auth_jwk_set_unref(f->keys);
    pthread_mutex_destroy(&f->lock);
    free(f->body);
    free(f->url);
    free(f->ca_file);
    free(f->host);
    free(f->host_hdr);
    free(f->target);
    f->magic = 0;
    free(f);
}

/* A new fetcher for |src| (normalized; strings copied), not started yet.
 * NULL with |err| set. */
static struct auth_jwks_fetcher *
fetcher_new(const struct auth_jwks_source *src, char *err, size_t errlen)
{
    struct auth_jwks_fetcher *f = calloc(1, sizeof(*f));

    if (f == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->magic = AUTH_JWKS_MAGIC;
    pthread_mutex_init(&f->lock, NULL);
    f->refresh_s = src->refresh_s;
    f->min_refetch_s = src->min_refetch_s;
    f->max_bytes = src->max_bytes;
    f->timeout_ms = src->timeout_ms;
    f->url = strdup(src->url);
    f->ca_file = util_strdup(src->ca_file);
    if (f->url == NULL || (src->ca_file != NULL && f->ca_file == NULL)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (parse_url(f, src->url, err, errlen) != 0)
        goto fail;
    f->ssl_ctx = new_ssl_ctx(src->ca_file, err, errlen);
    if (f->ssl_ctx == NULL)
        goto fail;
    f->ev_timer = evtimer_new(reg.base, on_timer, f);
    f->ev_refresh = event_new(reg.base, -1, 0, on_refresh_request, f);
    f->ev_done = event_new(reg.base, -1, 0, on_fetch_done, f);
    f->ev_deadline = evtimer_new(reg.base, on_deadline, f);
    if (f->ev_timer == NULL || f->ev_refresh == NULL || f->ev_done == NULL ||
        f->ev_deadline == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return f;
fail:
    fetcher_free(f);
    return NULL;
}

/* Restarts a stopped fetcher: an immediate fetch unless one is in flight. */
static void
fetcher_restart(struct auth_jwks_fetcher *f)
{
    f->stopped = false;
    if (!f->in_flight)
        schedule(f, 0);
}

int
auth_jwks_registry_init(struct event_base *base)
{
    if (reg.base != NULL)
        return SG_ERR_INTERNAL;
    /* DISABLE_WHEN_INACTIVE: an idle resolver keeps no event registered */
    reg.dns = evdns_base_new(base,
                             EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (reg.dns == NULL) {
        log_err("cannot set up the DNS resolver for JWKS fetches");
        return SG_ERR_NOMEM;
    }
    reg.base = base;
    reg.head = NULL;
    return 0;
}

struct auth_jwks_fetcher *
auth_jwks_registry_get(const struct auth_jwks_source *src, char *err, size_t errlen)
{
    struct auth_jwks_source s;
    struct auth_jwks_fetcher *f;

    if (reg.base == NULL) {
        snprintf(err, errlen, "JWKS registry not initialised");
        return NULL;
    }
    if (src == NULL || src->url == NULL) {
        snprintf(err, errlen, "no JWKS URL");
        return NULL;
    }
    s = normalized(src);
    for (f = reg.head; f != NULL; f = f->next) {
        if (same_source(f, &s)) {
            if (f->stopped)
                fetcher_restart(f);
            return f;
        }
    }
    f = fetcher_new(&s, err, errlen);
    if (f == NULL)
        return NULL;
    f->next = reg.head;
    reg.head = f;
    start_fetch(f);
    return f;
}

void
auth_jwks_registry_retain(struct auth_jwks_fetcher *const *used, size_t n)
{
    struct auth_jwks_fetcher *f;
    size_t i;
    bool keep;

    for (f = reg.head; f != NULL; f = f->next) {
        keep = false;
        for (i = 0; i < n && !keep; i++)
            keep = used[i] == f;
        if (keep && f->stopped) {
            fetcher_restart(f);
        } else if (!keep && !f->stopped) {
            /* a fetch in flight completes and publishes, but schedules nothing */
            f->stopped = true;
            event_del(f->ev_timer);
            log_info("jwks %s: no longer used, refresh stopped", f->url);
        }
    }
}

static bool
all_ready(void)
{
    struct auth_jwks_fetcher *f;
    bool ready;

    for (f = reg.head; f != NULL; f = f->next) {
        if (f->stopped)
            continue;
        pthread_mutex_lock(&f->lock);
        ready = f->keys != NULL;
        pthread_mutex_unlock(&f->lock);
        if (!ready)
            return false;
    }
    return true;
}

static void
on_wait_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

bool
auth_jwks_registry_wait_ready(uint32_t timeout_ms)
{
    uint64_t deadline = util_now_ms() + timeout_ms, now, left;
    struct event *tick = NULL;
    struct timeval tv;
    bool ready;

    if (reg.base == NULL)
        return false;
    /* the tick bounds each EVLOOP_ONCE round: without it a loop with no
     * other timer (a fetch stuck in DNS) could block past the deadline */
    tick = evtimer_new(reg.base, on_wait_tick, NULL);
    while (!(ready = all_ready()) && tick != NULL) {
        now = util_now_ms();
        if (now >= deadline)
            break;
        left = deadline - now;
        tv.tv_sec = (time_t)(left / 1000);
        tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
        evtimer_add(tick, &tv);
        event_base_loop(reg.base, EVLOOP_ONCE);
    }
    if (tick != NULL)
        event_free(tick);
    return ready;
}

void
auth_jwks_registry_free(void)
{
    struct auth_jwks_fetcher *f, *next;

    for (f = reg.head; f != NULL; f = next) {
        next = f->next;
        fetcher_free(f);
    }
    if (reg.dns != NULL)
        evdns_base_free(reg.dns, 0);
    memset(&reg, 0, sizeof(reg));
}

/* ---- any thread --------------------------------------------------------- */

struct auth_jwk_set *
auth_jwks_fetcher_current(struct auth_jwks_fetcher *f)
{
    struct auth_jwk_set *s;

    CHECK_MAGIC(f, AUTH_JWKS_MAGIC);
    pthread_mutex_lock(&f->lock);
    s = f->keys != NULL ? auth_jwk_set_ref(f->keys) : NULL;
    pthread_mutex_unlock(&f->lock);
    return s;
}

bool
auth_jwks_fetcher_request_refresh(struct auth_jwks_fetcher *f, const char *kid)
{
    uint64_t now = util_now_ms();
    uint64_t floor_ms = (uint64_t)f->min_refetch_s * 1000u;
    uint64_t last;

    CHECK_MAGIC(f, AUTH_JWKS_MAGIC);
    (void)kid; /* peer-chosen: not logged from here, where a flood would flood the log */
    stat_add(&f->stats.refetch_requests, 1);
    last = __atomic_load_n(&f->last_start_ms, __ATOMIC_ACQUIRE);
    /* claim the slot with a compare-and-swap so exactly one of many racing
     * threads gets through; "now < last + floor" also holds when another
     * thread stored a later |now| than ours */
    do {
        if (last != 0 && now < last + floor_ms) {
            stat_add(&f->stats.refetch_suppressed, 1);
            /* no fetch for us; one already asked for or in flight still counts */
            return __atomic_load_n(&f->done_seq, __ATOMIC_ACQUIRE) <
                   __atomic_load_n(&f->req_seq, __ATOMIC_ACQUIRE);
        }
    } while (!__atomic_compare_exchange_n(&f->last_start_ms, &last, now, false, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE));
    /* before the event: the fetch it starts cannot end before this is counted */
    __atomic_add_fetch(&f->req_seq, 1, __ATOMIC_ACQ_REL);
    event_active(f->ev_refresh, EV_TIMEOUT, 0);
    return true;
}

const char *
auth_jwks_fetcher_url(const struct auth_jwks_fetcher *f)
{
    return f->url;
}

void
auth_jwks_fetcher_stats(struct auth_jwks_fetcher *f, struct auth_jwks_stats *out)
{
    CHECK_MAGIC(f, AUTH_JWKS_MAGIC);
    out->fetches = __atomic_load_n(&f->stats.fetches, __ATOMIC_RELAXED);
    out->successes = __atomic_load_n(&f->stats.successes, __ATOMIC_RELAXED);
    out->failures = __atomic_load_n(&f->stats.failures, __ATOMIC_RELAXED);
    out->refetch_requests = __atomic_load_n(&f->stats.refetch_requests, __ATOMIC_RELAXED);
    out->refetch_suppressed = __atomic_load_n(&f->stats.refetch_suppressed, __ATOMIC_RELAXED);
    out->last_success_unix = __atomic_load_n(&f->stats.last_success_unix, __ATOMIC_RELAXED);
}

const struct auth_keys_ops auth_jwks_key_ops = {
    .current = auth_jwks_fetcher_current,
    .request_refresh = auth_jwks_fetcher_request_refresh,
};
