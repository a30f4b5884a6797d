/*
 * daemon.c: signals, sd_notify and configuration reload.
 *
 * sd_notify is a datagram to the AF_UNIX socket named by $NOTIFY_SOCKET
 * (a leading '@' means the abstract namespace); that is all of the protocol
 * we need, so we do not link libsystemd.  Reload follows HAProxy/nginx:
 * build a whole new snapshot, swap only if it is valid, and always answer
 * RELOADING=1 with READY=1 (systemd waits for it either way).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "auth_jwks.h"
#include "auth_jwt.h"
#include "cfg.h"
#include "daemon.h"
#include "log.h"
#include "util.h"
#include "worker.h"

static const char *cfg_path;
static struct event_base *main_base;
static int stopping;

int
daemon_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sun;
    size_t len;
    int fd, rv = -1;

    if (path == NULL || path[0] == '\0')
        return 0;
    len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sun.sun_path))
        return -1;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, len);
    if (sun.sun_path[0] == '@')
        sun.sun_path[0] = '\0';
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sun,
               (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) >= 0)
        rv = 0;
    close(fd);
    return rv;
}

/*
 * Gives every issuer with a jwks_url its fetcher (shared with the previous
 * snapshot when the source is the same, so a reload keeps fetched keys).
 * Main thread.  Returns 0, or -1 with |err| set.
 */
static int
attach_fetchers(struct cfg *c, char *err, size_t errlen)
{
    struct auth_jwks_source src;
    char why[512];
    size_t i;

    for (i = 0; i < c->auth.nissuers; i++) {
        struct cfg_issuer *is = &c->auth.issuers[i];

        if (is->jwks_url == NULL)
            continue;
        memset(&src, 0, sizeof(src));
        src.url = is->jwks_url;
        src.ca_file = is->jwks_ca;
        src.refresh_s = is->jwks_refresh_s;
        src.min_refetch_s = is->jwks_min_refetch_s;
        src.max_bytes = is->jwks_max_bytes;
        src.timeout_ms = is->jwks_timeout_ms;
        is->fetcher = auth_jwks_registry_get(&src, why, sizeof(why));
        if (is->fetcher == NULL) {
            snprintf(err, errlen, "%s: auth.issuers[%zu].jwks_url: %s", c->path, i, why);
            return -1;
        }
    }
    return 0;
}

/*
 * Stops the fetchers the now-current snapshot |c| no longer uses (after the
 * swap: a refused reload must not stop the running snapshot's fetchers).
 */
static void
retain_fetchers(const struct cfg *c)
{
    struct auth_jwks_fetcher **used;
    size_t i, n = 0;

    used = calloc(c->auth.nissuers + 1, sizeof(*used));
    if (used == NULL)
        return; /* keep everything running: harmless */
    for (i = 0; i < c->auth.nissuers; i++) {
        if (c->auth.issuers[i].fetcher != NULL)
            used[n++] = c->auth.issuers[i].fetcher;
    }
    auth_jwks_registry_retain(used, n);
    free(used);
}

/*
 * Start-up: waits for the first key set of every JWKS URL.  An issuer with
 * jwks_required_at_start fails the start without one; others start and
 * refuse its tokens until keys arrive.  Returns 0 or -1 with |err| set.
 */
static int
wait_for_keys(struct cfg *c, char *err, size_t errlen)
{
    uint32_t timeout = 0;
    size_t i;

    for (i = 0; i < c->auth.nissuers; i++) {
        if (c->auth.issuers[i].fetcher != NULL && c->auth.issuers[i].jwks_timeout_ms > timeout)
            timeout = c->auth.issuers[i].jwks_timeout_ms;
    }
    if (timeout == 0 || auth_jwks_registry_wait_ready(timeout))
        return 0;
    for (i = 0; i < c->auth.nissuers; i++) {
        struct cfg_issuer *is = &c->auth.issuers[i];
        struct auth_jwk_set *k;

        if (is->fetcher == NULL)
            continue;
        k = auth_jwks_fetcher_current(is->fetcher);
        if (k != NULL) {
            auth_jwk_set_unref(k);
            continue;
        }
        if (is->jwks_required_at_start) {
            snprintf(err, errlen,
                     "issuer \"%s\": no signing keys from %s within %u ms "
                     "(jwks_required_at_start)",
                     is->issuer, is->jwks_url, timeout);
            return -1;
        }
        log_warn("issuer \"%s\": no signing keys from %s yet; its tokens are refused until "
                 "they load",
                 is->issuer, is->jwks_url);
    }
    return 0;
}

/* Listeners cannot change without a restart: their sockets are bound. */
static bool
same_listeners(const struct cfg *a, const struct cfg *b)
{
    size_t i;

    if (a->nlisteners != b->nlisteners)
        return false;
    for (i = 0; i < a->nlisteners; i++) {
        if (strcmp(a->listeners[i].address, b->listeners[i].address) != 0 ||
            a->listeners[i].tls != b->listeners[i].tls)
            return false;
    }
    return true;
}

static void
do_reload(void)
{
    char err[1024], st[1200];
    struct cfg *old = cfg_current(), *nc;
    uint64_t now = util_now_us();

    snprintf(st, sizeof(st), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=reloading", now);
    daemon_notify(st);
    nc = cfg_load(cfg_path, err, sizeof(err));
    if (nc != NULL && attach_fetchers(nc, err, sizeof(err)) != 0) {
        cfg_unref(nc);
        nc = NULL;
    }
    if (nc != NULL && old != NULL && !same_listeners(old, nc)) {
        snprintf(err, sizeof(err), "%s: \"listen\" changed; listeners need a restart", cfg_path);
        cfg_unref(nc);
        nc = NULL;
    }
    if (nc == NULL) {
        log_err("reload failed, keeping the running configuration: %s", err);
        snprintf(st, sizeof(st), "READY=1\nSTATUS=reload failed: %s", err);
        daemon_notify(st);
        cfg_unref(old);
        return;
    }
    if (old != NULL && old->workers != nc->workers)
        log_warn("\"workers\" changed from %u to %u: takes effect at the next restart",
                 old->workers, nc->workers);
    log_set_level(nc->log_level);
    cfg_set_current(nc); /* takes our reference */
    retain_fetchers(nc);
    worker_reload_all();
    log_info("reloaded configuration %s (generation %" PRIu64 ")", cfg_path, nc->generation);
    snprintf(st, sizeof(st), "READY=1\nSTATUS=serving (configuration generation %" PRIu64 ")",
             nc->generation);
    daemon_notify(st);
    cfg_unref(old);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    (void)arg;
    if (sig == SIGHUP) {
        if (!stopping)
            do_reload();
        return;
    }
    if (stopping)
        return;
    stopping = 1;
    log_info("received %s: draining (up to timeouts.drain_ms)",
             sig == SIGTERM ? "SIGTERM" : "SIGINT");
    daemon_notify("STOPPING=1\nSTATUS=draining");
    worker_drain_all();
    event_base_loopbreak(main_base);
}

int
daemon_run(const char *path)
{
    struct event *ev_hup = NULL, *ev_term = NULL, *ev_int = NULL;
    char err[1024], st[256];
    struct cfg *cfg = NULL;
    int rv = 1;

    cfg_path = path;
    signal(SIGPIPE, SIG_IGN);
    /* the JWKS fetchers run on the main loop: it exists before the first load */
    evthread_use_pthreads();
    main_base = event_base_new();
    if (main_base == NULL || auth_jwks_registry_init(main_base) != 0) {
        fprintf(stderr, "sparkgate: cannot create the main event loop\n");
        goto out;
    }
    cfg = cfg_load(path, err, sizeof(err));
    if (cfg == NULL) {
        fprintf(stderr, "sparkgate: %s\n", err);
        goto out;
    }
    log_set_level(cfg->log_level);
    if (cfg->auth.anonymous)
        log_warn("authentication is off (loopback only): every caller is \"anonymous\"");
    if (attach_fetchers(cfg, err, sizeof(err)) != 0 || wait_for_keys(cfg, err, sizeof(err)) != 0) {
        log_err("%s", err);
        goto out;
    }
    cfg_set_current(cfg_ref(cfg));
    if (worker_start_all(cfg, err, sizeof(err)) != 0) {
        log_err("%s", err);
        goto out;
    }
    ev_hup = evsignal_new(main_base, SIGHUP, on_signal, NULL);
    ev_term = evsignal_new(main_base, SIGTERM, on_signal, NULL);
    ev_int = evsignal_new(main_base, SIGINT, on_signal, NULL);
    if (ev_hup == NULL || ev_term == NULL || ev_int == NULL || evsignal_add(ev_hup, NULL) != 0 ||
        evsignal_add(ev_term, NULL) != 0 || evsignal_add(ev_int, NULL) != 0)
        goto out;
    log_info("sparkgate %s ready: %u worker(s), %zu backend(s), configuration %s", VERSION,
             cfg->workers, cfg->nbackends, path);
    snprintf(st, sizeof(st),
             "READY=1\nMAINPID=%ld\nSTATUS=serving (configuration generation %" PRIu64 ")",
             (long)getpid(), cfg->generation);
    daemon_notify(st);
    event_base_dispatch(main_base);
    worker_join_all();
    log_info("drained; exiting");
    rv = 0;
out:
    if (ev_hup != NULL)
        event_free(ev_hup);
    if (ev_term != NULL)
        event_free(ev_term);
    if (ev_int != NULL)
        event_free(ev_int);
    cfg_unref(cfg);
    cfg_set_current(NULL);
    auth_jwks_registry_free();
    if (main_base != NULL)
        event_base_free(main_base);
    return rv;
}
