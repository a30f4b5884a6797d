/*
 * worker.h: worker threads.  Each worker owns one event loop, its own
 * SO_REUSEPORT listening sockets (the kernel spreads connections across
 * workers), its client connections and its own pool of backend
 * connections, so the data path never takes a lock.  Workers share only the
 * immutable cfg snapshot (refcounted) and a few atomic counters.
 *
 * The main thread (daemon.c) talks to workers only through worker_reload_all
 * and worker_drain_all, which post an event into each worker's loop; the
 * JWKS fetchers (auth_jwks.c) post one when a fetch ends.
 */
#ifndef SPARKGATE_WORKER_H
#define SPARKGATE_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "cfg.h"

#define WORKER_MAGIC 0x574b5231u /* "WKR1" */

struct fe_pool;
struct be_pool;
struct event_base;
struct evdns_base;
struct evconnlistener;
struct event;
struct auth_cache;
struct call_ctx;


struct worker {
    uint32_t magic;
    unsigned id;
    pthread_t thread;
    struct event_base *base;
    struct evdns_base *dns;
    struct cfg *cfg;            /* this worker's ref to the current snapshot */
    int lfd[CFG_MAX_LISTENERS]; /* listening sockets, one per listener */
    struct evconnlistener *listeners[CFG_MAX_LISTENERS];
    size_t nlisteners;
    struct event *wake_ev; /* posted by the main thread */
    int wake_flags;        /* atomic WORKER_WAKE_* */
    bool draining;
    struct event *drain_tick; /* drain: second GOAWAY, progress checks */
    uint64_t drain_deadline_ms;
    struct fe_pool *fe_pool;       /* client connections (fe.c keeps it) */
    struct be_pool *be_pool;       /* backend connections (be.c keeps it) */
    struct auth_cache *auth_cache; /* verified tokens; this thread only */
    struct call_ctx *calls;        /* what its calls share (call.c keeps it) */
    struct event *trim_tick;       /* gives memory back after bursts */
};

#define WORKER_WAKE_RELOAD 1
#define WORKER_WAKE_DRAIN 2
#define WORKER_WAKE_AUTH 4 /* a JWKS fetch ended: re-check calls waiting for keys */

/*
 * Binds every listener of |cfg| once per worker (SO_REUSEPORT; a port of 0
 * is resolved by the first bind and reused) and starts cfg->workers
 * threads.  Errors (address in use, permission) are reported before any
 * thread starts.  Returns 0, or -1 with |err| set.
 */
int worker_start_all(struct cfg *cfg, char *err, size_t errlen);

/* Tells every worker to pick up cfg_current() for new connections and calls. */
void worker_reload_all(void);

/* Tells every worker to stop accepting, GOAWAY its clients and exit when
 * idle or at the drain deadline (timeouts.drain_ms). */
void worker_drain_all(void);

/* Waits for every worker thread to exit and frees them. */
void worker_join_all(void);

/* Process-wide count of open client connections. */
extern int worker_nconns;


/* "host:port" actually bound by listener |i| (after port 0 resolution). */
const char *worker_listener_addr(size_t i);

#endif
