/*
 * h2io.h: the socket half shared by both kinds of HTTP/2 connection (fe.c,
 * clients; be.c, backends): one socket (plain or TLS), one nghttp2 session,
 * one output buffer, and the rules that keep memory bounded.
 *
 * Why not bufferevents: libevent 2.1's evbuffer_read() reads at most 4 KiB
 * per call, so a bufferevent costs one loop iteration (epoll_wait, readv,
 * ioctl, epoll_ctl x2, writev) per 4 KiB of a multi-GiB Spark result; that
 * capped throughput at ~200 MB/s.  h2io reads up to H2IO_RBUF bytes per
 * syscall into a per-thread buffer and hands them straight to
 * nghttp2_session_mem_recv (no input buffer, no copy), and writes the
 * output evbuffer with one writev (plain) or SSL_write of up to 64 KiB.
 *
 * - Output: nghttp2 frames go into io->out; DATA payloads are moved there
 *   from a call's queue without a copy (NGHTTP2_DATA_FLAG_NO_COPY).  Above
 *   H2IO_OUT_HIGH the send callbacks answer NGHTTP2_ERR_WOULDBLOCK; sending
 *   resumes when the socket drains it below H2IO_OUT_LOW.
 * - Input: while the output is above H2IO_OUT_HIGH we stop reading, so a
 *   peer that floods PING/SETTINGS without reading our ACKs fills its own
 *   window, not our memory (CVE-2019-9512/9515).
 * - Sending is deferred to an event (h2io_kick), never done from inside a
 *   callback of the same session (nghttp2 is not re-entrant).
 * - The owner learns of progress only through h2io_ops; after on_close the
 *   owner frees the connection (h2io_free) and h2io touches nothing more.
 */
#ifndef SPARKGATE_H2IO_H
#define SPARKGATE_H2IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <event2/util.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#define H2IO_OUT_HIGH (512u * 1024u)
#define H2IO_OUT_LOW (128u * 1024u)
#define H2IO_RBUF (256u * 1024u) /* per-thread read buffer */

struct event_base;
struct evbuffer;

struct h2io_ops {
    /* Transport ready (TCP connected and, with TLS, handshake done): the
     * owner creates io->sess now.  Returns 0, or -1 to close. */
    int (*on_ready)(void *owner);
    /* The connection is over (|why| says why; |error| false for a clean
     * end).  The owner must call h2io_free and forget the connection. */
    void (*on_close)(void *owner, const char *why, bool error);
    /* Optional: |n| bytes read, about to go to nghttp2 (nothing may close
     * or free the connection here). */
    void (*on_input)(void *owner, const uint8_t *data, size_t n);
};

enum h2io_state {
    H2IO_CONNECTING, /* non-blocking connect in progress (backends) */
    H2IO_HANDSHAKE,  /* TLS handshake in progress */
    H2IO_OPEN,       /* on_ready ran: HTTP/2 */
};

struct h2io {
    evutil_socket_t fd;      /* owned; -1 when none */
    SSL *ssl;                /* owned; NULL for h2c */
    nghttp2_session *sess;   /* owned; created by the owner in on_ready */
    struct evbuffer *out;    /* owned; bytes waiting for the socket */
    struct event *rev, *wev; /* owned; socket readiness */
    struct event *send_ev;   /* owned; deferred nghttp2_session_send */
    enum h2io_state state;
    bool read_paused;   /* output above HIGH: not reading */
    bool ssl_want_read; /* an SSL_write waits for the socket to be readable */
    bool closed;        /* on_close delivered */
    bool has_fd;        /* fd is ours to close */
    uint64_t nwritten;  /* bytes the socket (or TLS) took: the owner's progress watch */
    const struct h2io_ops *ops;
    void *owner;
};

/*
 * Sets up |io| around socket |fd| (taken over, also on failure).  With
 * |ssl| (taken over) the TLS handshake runs first, as server or client per
 * the SSL's state.  |connecting|: |fd| is a non-blocking connect in
 * progress.  Nothing happens until h2io_start.  Returns 0 or -1.
 */
int h2io_init(struct h2io *io, struct event_base *base, evutil_socket_t fd, SSL *ssl,
              bool connecting, const struct h2io_ops *ops, void *owner);

/* Starts watching the socket. */
void h2io_start(struct h2io *io);

/* Frees session, SSL, socket, buffer and events.  Safe on a zeroed io and
 * after a failed h2io_init. */
void h2io_free(struct h2io *io);

/* Schedules a send on the next loop iteration (coalesced). */
void h2io_kick(struct h2io *io);

/*
 * nghttp2 send callback body: appends |len| bytes to the output.
 * Returns |len| or NGHTTP2_ERR_WOULDBLOCK when the output is full.
 */
ssize_t h2io_write(struct h2io *io, const uint8_t *data, size_t len);

/*
 * nghttp2 send_data callback body: the 9-byte frame header then |length|
 * bytes moved from |src|.  Returns 0, NGHTTP2_ERR_WOULDBLOCK, or
 * NGHTTP2_ERR_CALLBACK_FAILURE.
 */
int h2io_write_data(struct h2io *io, const uint8_t *framehd, struct evbuffer *src, size_t length);

/* Bytes waiting in the output buffer. */
size_t h2io_outlen(const struct h2io *io);

#endif
