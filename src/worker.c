/*
 * worker.c: worker threads, their listeners and their lifecycle.
 *
 * Start-up binds every listener once per worker with SO_REUSEPORT in the
 * main thread, so "address in use" is reported before READY and before any
 * thread runs.  Each worker then runs its own event loop.  The main thread
 * talks to a worker only by setting a flag and activating the worker's
 * wake event (libevent's evthread locking makes event_active safe across
 * threads).
 */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "auth.h"
#include "auth_jwks.h"
#include "call.h"
#include "be.h"
#include "cfg.h"
#include "fe.h"
#include "log.h"
#include "util.h"
#include "worker.h"

int worker_nconns;

static void on_jwks_fetch_end(void *arg);

static struct worker *workers;
static unsigned nworkers;
static char bound[CFG_MAX_LISTENERS][80];

const char *
worker_listener_addr(size_t i)
{
    return bound[i];
}

/* Binds one SO_REUSEPORT socket.  Returns the fd or -1 with |err| set. */
static int
bind_one(const struct cfg_listener *l, struct sockaddr_storage *ss, socklen_t sslen, char *err,
         size_t errlen)
{
    int fd, one = 1;

    fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "listen %s: socket: %s", l->address, strerror(errno));
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        snprintf(err, errlen, "listen %s: setsockopt: %s", l->address, strerror(errno));
        goto fail;
    }
    if (ss->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)ss, sslen) != 0) {
        snprintf(err, errlen, "listen %s: bind: %s", l->address, strerror(errno));
        goto fail;
    }
    if (listen(fd, 1024) != 0) {
        snprintf(err, errlen, "listen %s: listen: %s", l->address, strerror(errno));
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

/*
 * SO_REUSEPORT lets a second process bind the same port and silently take
 * half of the connections (a second sparkgate started by mistake, or an old
 * one still draining elsewhere).  A probe bind without SO_REUSEPORT fails
 * with EADDRINUSE if anyone holds the port, so that mistake is an error.
 * Returns 0 or -1 with |err| set.
 */
static int
probe_exclusive(const struct cfg_listener *l, char *err, size_t errlen)
{
    int fd, one = 1, rv = 0;

    fd = socket(l->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0; /* the real bind reports it */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (l->ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&l->ss, l->sslen) != 0 && errno == EADDRINUSE) {
        snprintf(err, errlen, "listen %s: address already in use (is another sparkgate running?)",
                 l->address);
        rv = -1;
    }
    close(fd);
    return rv;
}

static void
on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    struct worker *w = arg;
    size_t i;

    CHECK_MAGIC(w, WORKER_MAGIC);
    if (w->draining) {
        evutil_closesocket(fd);
        return;
    }
    if (__atomic_add_fetch(&worker_nconns, 1, __ATOMIC_RELAXED) >
        (int)w->cfg->limits.max_connections) {
        __atomic_sub_fetch(&worker_nconns, 1, __ATOMIC_RELAXED);
        log_warn("limits.max_connections (%u) reached: refusing a connection",
                 w->cfg->limits.max_connections);
        evutil_closesocket(fd);
        return;
    }
    for (i = 0; i < w->nlisteners; i++) {
        if (w->listeners[i] == lev)
            break;
    }
    fe_accept(w->fe_pool, fd, sa, salen, i);
}

static void
stop_listening(struct worker *w)
{
    size_t i;

    for (i = 0; i < w->nlisteners; i++) {
        if (w->listeners[i] != NULL) {
            evconnlistener_free(w->listeners[i]); /* closes the fd */
            w->listeners[i] = NULL;
            w->lfd[i] = -1;
        }
    }
}

static void
maybe_exit(struct worker *w)
{
    if (w->draining && fe_pool_count(w->fe_pool) == 0) {
        be_pool_close_idle(w->be_pool, true);
        event_base_loopbreak(w->base);
    }
}

/* fe_pool hook: a connection closed (connection accounting, drain). */
static void
worker_fe_closed(void *arg)
{
    struct worker *w = arg;

    __atomic_sub_fetch(&worker_nconns, 1, __ATOMIC_RELAXED);
    maybe_exit(w);
}

static void
on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;

    (void)fd;
    (void)what;
    CHECK_MAGIC(w, WORKER_MAGIC);
    if (util_now_ms() >= w->drain_deadline_ms) {
        if (fe_pool_count(w->fe_pool) > 0)
            log_warn("worker %u: drain deadline reached, closing %zu connection(s)", w->id,
                     fe_pool_count(w->fe_pool));
        fe_close_all(w->fe_pool);
        maybe_exit(w);
        return;
    }
    /* second GOAWAY round: names the last stream each connection will serve */
    fe_drain_all(w->fe_pool);
    maybe_exit(w);
}

static void
start_drain(struct worker *w)
{
    struct timeval tv = {.tv_sec = 1, .tv_usec = 0};

    if (w->draining)
        return;
    w->draining = true;
    w->drain_deadline_ms = util_now_ms() + w->cfg->timeouts.drain_ms;
    stop_listening(w);
    fe_drain_all(w->fe_pool);
    w->drain_tick = event_new(w->base, -1, EV_PERSIST, on_drain_tick, w);
    if (w->drain_tick != NULL) {
        if (w->cfg->timeouts.drain_ms < 1000) {
            tv.tv_sec = 0;
            tv.tv_usec = (suseconds_t)w->cfg->timeouts.drain_ms * 1000;
        }
        event_add(w->drain_tick, &tv);
    }
    be_pool_close_idle(w->be_pool, false);
    maybe_exit(w);
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    int flags;

    (void)fd;
    (void)what;
    CHECK_MAGIC(w, WORKER_MAGIC);
    flags = __atomic_exchange_n(&w->wake_flags, 0, __ATOMIC_ACQ_REL);
    if (flags & WORKER_WAKE_RELOAD) {
        struct cfg *c = cfg_current();

        if (c != NULL) {
            cfg_unref(w->cfg);
            w->cfg = c;
            /* connections of the old snapshot close when their last call ends */
            be_pool_close_idle(w->be_pool, false);
        }
    }
    if (flags & WORKER_WAKE_DRAIN)
        start_drain(w);
    if (flags & WORKER_WAKE_AUTH)
        call_auth_keys_changed(w->calls);
}

/*
 * main.c raises glibc's trim threshold so result streaming does not fault
 * fresh pages for every buffer; the price is that freed memory stays
 * resident after a burst.  Once a worker has had no call for a tick, give
 * it back: idle memory matters (1,000 idle connections), busy memory is
 * reused anyway.
 */
#define WORKER_TRIM_TICK_S 2

static void
on_trim_tick(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;

    (void)fd;
    (void)what;
    CHECK_MAGIC(w, WORKER_MAGIC);
    if (call_ctx_idle_after_busy(w->calls))
        malloc_trim(0);
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;

    event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
    /* drain finished or deadline: release everything this thread owns */
    fe_close_all(w->fe_pool);
    be_pool_free(w->be_pool);
    return NULL;
}

static int
worker_init(struct worker *w, unsigned id, struct cfg *cfg)
{
    size_t i;

    w->magic = WORKER_MAGIC;
    w->id = id;
    for (i = 0; i < CFG_MAX_LISTENERS; i++)
        w->lfd[i] = -1;
    w->base = event_base_new();
    if (w->base == NULL)
        return -1;
    /* numeric backends never touch DNS; names use /etc/resolv.conf */
    w->dns = evdns_base_new(w->base,
                            EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (w->dns == NULL)
        w->dns = evdns_base_new(w->base, 0);
    w->wake_ev = event_new(w->base, -1, 0, on_wake, w);
    w->trim_tick = event_new(w->base, -1, EV_PERSIST, on_trim_tick, w);
    if (w->dns == NULL || w->wake_ev == NULL || w->trim_tick == NULL)
        return -1;
    {
        struct timeval tv = {.tv_sec = WORKER_TRIM_TICK_S, .tv_usec = 0};

        event_add(w->trim_tick, &tv);
    }
    w->cfg = cfg_ref(cfg);
    w->be_pool = be_pool_new(w->base, w->dns, &w->cfg, &w->draining);
    if (w->be_pool == NULL)
        return -1;
    /* sized at start-up: a reload invalidates entries (generation), not the size */
    w->auth_cache = auth_cache_new(cfg->auth.cache_entries);
    if (w->auth_cache == NULL)
        return -1;
    w->calls = call_ctx_new(w->base, w->auth_cache, w->be_pool);
    if (w->calls == NULL)
        return -1;
    w->fe_pool = fe_pool_new(w->base, &w->cfg, call_open, w->calls, worker_fe_closed, w);
    if (w->fe_pool == NULL)
        return -1;
    return 0;
}

int
worker_start_all(struct cfg *cfg, char *err, size_t errlen)
{
    struct sockaddr_storage ss[CFG_MAX_LISTENERS];
    sigset_t all, old;
    unsigned k;
    size_t i;

    /* evthread_use_pthreads() ran in daemon_run, before any event base */
    nworkers = cfg->workers;
    workers = calloc(nworkers, sizeof(*workers));
    if (workers == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (k = 0; k < nworkers; k++) {
        if (worker_init(&workers[k], k, cfg) != 0) {
            snprintf(err, errlen, "cannot create event loop");
            return -1;
        }
    }
    for (i = 0; i < cfg->nlisteners; i++) {
        const struct cfg_listener *l = &cfg->listeners[i];

        ss[i] = l->ss;
        if (probe_exclusive(l, err, errlen) != 0)
            return -1;
        for (k = 0; k < nworkers; k++) {
            struct worker *w = &workers[k];
            int fd = bind_one(l, &ss[i], l->sslen, err, errlen);

            if (fd < 0)
                return -1;
            if (k == 0) {
                /* port 0: every worker must share the port the kernel chose */
                socklen_t len = sizeof(ss[i]);

                getsockname(fd, (struct sockaddr *)&ss[i], &len);
                util_sockaddr_str((struct sockaddr *)&ss[i], bound[i], sizeof(bound[i]));
            }
            w->lfd[i] = fd;
            w->listeners[i] = evconnlistener_new(w->base, on_accept, w,
                                                 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1,
                                                 fd);
            if (w->listeners[i] == NULL) {
                snprintf(err, errlen, "listen %s: cannot create listener", l->address);
                return -1;
            }
            w->nlisteners = i + 1;
        }
        log_info("listening on %s (%s)", bound[i], l->tls ? "TLS, ALPN h2" : "h2c, plaintext");
    }
    /* signals belong to the main thread's loop */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (k = 0; k < nworkers; k++) {
        if (pthread_create(&workers[k].thread, NULL, worker_main, &workers[k]) != 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            snprintf(err, errlen, "cannot start worker thread: %s", strerror(errno));
            return -1;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    auth_jwks_set_fetch_end_hook(on_jwks_fetch_end, NULL);
    return 0;
}

static void
wake_all(int flag)
{
    unsigned k;

    for (k = 0; k < nworkers; k++) {
        __atomic_or_fetch(&workers[k].wake_flags, flag, __ATOMIC_ACQ_REL);
        event_active(workers[k].wake_ev, EV_READ, 0);
    }
}

/* auth_jwks fetch-end hook (main thread): calls waiting for a key re-check. */
static void
on_jwks_fetch_end(void *arg)
{
    (void)arg;
    wake_all(WORKER_WAKE_AUTH);
}

void
worker_reload_all(void)
{
    wake_all(WORKER_WAKE_RELOAD);
}

void
worker_drain_all(void)
{
    wake_all(WORKER_WAKE_DRAIN);
}

void
worker_join_all(void)
{
    unsigned k;

    for (k = 0; k < nworkers; k++)
        pthread_join(workers[k].thread, NULL);
    auth_jwks_set_fetch_end_hook(NULL, NULL);
    for (k = 0; k < nworkers; k++) {
        struct worker *w = &workers[k];

        stop_listening(w);
        if (w->drain_tick != NULL)
            event_free(w->drain_tick);
        event_free(w->wake_ev);
        event_free(w->trim_tick);
        evdns_base_free(w->dns, 0);
        auth_cache_free(w->auth_cache);
        fe_pool_destroy(w->fe_pool);
        be_pool_destroy(w->be_pool);
        call_ctx_free(w->calls);
        event_base_free(w->base);
        cfg_unref(w->cfg);
        w->magic = 0;
    }
    free(workers);
    workers = NULL;
    nworkers = 0;
}
