/*
 * h2io.c: socket <-> nghttp2 plumbing shared by fe.c and be.c: plain or TLS
 * I/O, non-blocking connect, TLS handshake, read/write readiness, output
 * backpressure.  See h2io.h for the rules.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "h2io.h"

#define H2IO_SSL_WRITE_MAX (64u * 1024u) /* coalesced TLS write: 4 full records */
#define H2IO_READ_ROUNDS 8               /* reads per readiness event, for fairness */

static __thread uint8_t rbuf[H2IO_RBUF];

static void on_readable(evutil_socket_t fd, short what, void *arg);
static void on_writable(evutil_socket_t fd, short what, void *arg);
static void on_send_ev(evutil_socket_t fd, short what, void *arg);

int
h2io_init(struct h2io *io, struct event_base *base, evutil_socket_t fd, SSL *ssl, bool connecting,
          const struct h2io_ops *ops, void *owner)
{
    memset(io, 0, sizeof(*io));
    io->fd = fd;
    io->has_fd = true;
    io->ssl = ssl;
    io->ops = ops;
    io->owner = owner;
    io->state = connecting ? H2IO_CONNECTING : (ssl != NULL ? H2IO_HANDSHAKE : H2IO_OPEN);
    io->out = evbuffer_new();
    io->rev = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, io);
    io->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, on_writable, io);
    io->send_ev = event_new(base, -1, 0, on_send_ev, io);
    if (io->out == NULL || io->rev == NULL || io->wev == NULL || io->send_ev == NULL)
        return -1;
    if (ssl != NULL) {
        if (SSL_set_fd(ssl, fd) != 1)
            return -1;
        /* we retry partial writes from the same evbuffer, whose head may move */
        SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
    return 0;
}

void
h2io_free(struct h2io *io)
{
    if (io->sess != NULL)
        nghttp2_session_del(io->sess);
    if (io->rev != NULL)
        event_free(io->rev);
    if (io->wev != NULL)
        event_free(io->wev);
    if (io->send_ev != NULL)
        event_free(io->send_ev);
    if (io->ssl != NULL)
        SSL_free(io->ssl);
    if (io->has_fd)
        evutil_closesocket(io->fd);
    if (io->out != NULL)
        evbuffer_free(io->out);
    memset(io, 0, sizeof(*io));
}

void
h2io_kick(struct h2io *io)
{
    if (io->send_ev != NULL && !io->closed)
        event_active(io->send_ev, EV_WRITE, 0);
}

size_t
h2io_outlen(const struct h2io *io)
{
    return evbuffer_get_length(io->out);
}

ssize_t
h2io_write(struct h2io *io, const uint8_t *data, size_t len)
{
    if (evbuffer_get_length(io->out) >= H2IO_OUT_HIGH)
        return NGHTTP2_ERR_WOULDBLOCK;
    if (evbuffer_add(io->out, data, len) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return (ssize_t)len;
}

int
h2io_write_data(struct h2io *io, const uint8_t *framehd, struct evbuffer *src, size_t length)
{
    if (evbuffer_get_length(io->out) >= H2IO_OUT_HIGH)
        return NGHTTP2_ERR_WOULDBLOCK;
    if (evbuffer_add(io->out, framehd, 9) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    /* moves whole chains where it can: the payload is not copied again */
    if (evbuffer_remove_buffer(src, io->out, length) != (int)length)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return 0;
}

/* Delivers the end of the connection once; the owner frees |io| in it. */
static void
io_close(struct h2io *io, const char *why, bool error)
{
    if (io->closed)
        return;
    io->closed = true;
    event_del(io->rev);
    event_del(io->wev);
    io->ops->on_close(io->owner, why, error);
}

/* Describes the last TLS failure in |buf|. */
static const char *
ssl_reason(struct h2io *io, int err, char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    long vr = SSL_get_verify_result(io->ssl);

    if (vr != X509_V_OK && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED)
        snprintf(buf, len, "TLS: certificate verify failed: %s", X509_verify_cert_error_string(vr));
    else if (e != 0)
        snprintf(buf, len, "TLS: %s",
                 ERR_reason_error_string(e) != NULL ? ERR_reason_error_string(e) : "error");
    else if (err == SSL_ERROR_SYSCALL && errno != 0)
        snprintf(buf, len, "TLS: %s", strerror(errno));
    else
        snprintf(buf, len, "TLS: connection closed during handshake");
    ERR_clear_error();
    return buf;
}

static void
want_write(struct h2io *io, bool on)
{
    if (on)
        event_add(io->wev, NULL);
    else
        event_del(io->wev);
}

/* Becomes OPEN: the owner builds its nghttp2 session. */
static int
become_ready(struct h2io *io)
{
    io->state = H2IO_OPEN;
    if (io->ops->on_ready(io->owner) != 0)
        return -1;
    return 0;
}

/*
 * Advances the TLS handshake.  Returns 1 when done (state OPEN), 0 when
 * waiting for the socket, -1 after io_close.
 */
static int
handshake(struct h2io *io)
{
    char why[256];
    int rv, err;

    ERR_clear_error();
    rv = SSL_do_handshake(io->ssl);
    if (rv == 1) {
        want_write(io, false);
        if (become_ready(io) != 0) {
            io_close(io, "cannot start HTTP/2", true);
            return -1;
        }
        /* the peer's first frames may already sit decrypted in OpenSSL */
        if (SSL_has_pending(io->ssl))
            event_active(io->rev, EV_READ, 0);
        return 1;
    }
    err = SSL_get_error(io->ssl, rv);
    if (err == SSL_ERROR_WANT_READ) {
        want_write(io, false);
        return 0;
    }
    if (err == SSL_ERROR_WANT_WRITE) {
        want_write(io, true);
        return 0;
    }
    io_close(io, ssl_reason(io, err, why, sizeof(why)), true);
    return -1;
}

/*
 * Writes as much of io->out as the socket takes.  Returns 0, or -1 after
 * io_close.
 */
static int
write_out(struct h2io *io)
{
    char why[256];

    while (evbuffer_get_length(io->out) > 0) {
        if (io->ssl == NULL) {
            int n = evbuffer_write_atmost(io->out, io->fd, -1);

            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    break;
                snprintf(why, sizeof(why), "write: %s", strerror(errno));
                io_close(io, why, true);
                return -1;
            }
            if (n == 0)
                break;
            io->nwritten += (uint64_t)n;
        } else {
            size_t len = evbuffer_get_length(io->out);
            unsigned char *p;
            int n, err;

            /* coalesce 9-byte frame headers and payload chains into full TLS records */
            if (len > H2IO_SSL_WRITE_MAX)
                len = H2IO_SSL_WRITE_MAX;
            p = evbuffer_pullup(io->out, (ev_ssize_t)len);
            if (p == NULL) {
                io_close(io, "out of memory", true);
                return -1;
            }
            ERR_clear_error();
            n = SSL_write(io->ssl, p, (int)len);
            if (n > 0) {
                evbuffer_drain(io->out, (size_t)n);
                io->nwritten += (uint64_t)n;
                continue;
            }
            err = SSL_get_error(io->ssl, n);
            if (err == SSL_ERROR_WANT_WRITE)
                break;
            if (err == SSL_ERROR_WANT_READ) {
                io->ssl_want_read = true;
                break;
            }
            io_close(io, ssl_reason(io, err, why, sizeof(why)), true);
            return -1;
        }
    }
    want_write(io, evbuffer_get_length(io->out) > 0);
    return 0;
}

/* Stops reading while our output is full; resumes below LOW. */
static void
read_backpressure(struct h2io *io)
{
    size_t out = evbuffer_get_length(io->out);

    if (out >= H2IO_OUT_HIGH && !io->read_paused) {
        event_del(io->rev);
        io->read_paused = true;
    } else if (out < H2IO_OUT_LOW && io->read_paused) {
        event_add(io->rev, NULL);
        io->read_paused = false;
        /* input OpenSSL already decrypted-ahead will not make the socket readable */
        if (io->ssl != NULL && SSL_has_pending(io->ssl))
            event_active(io->rev, EV_READ, 0);
    }
}

/*
 * Lets nghttp2 produce frames and writes them, until the socket is full
 * (then the write event calls us again) or nghttp2 has nothing more.
 * A frame refused with WOULDBLOCK stays inside nghttp2, so stopping while
 * nghttp2 still wants to write and nothing arms the write event would stall
 * the connection: the loop ends only with output pending or nothing to do.
 * Closes when the session is finished and everything went out.
 */
static void
pump(struct h2io *io)
{
    char why[128];
    size_t before;
    int rv, round;

    if (io->closed || io->state != H2IO_OPEN || io->sess == NULL)
        return;
    for (round = 0;; round++) {
        before = evbuffer_get_length(io->out);
        rv = nghttp2_session_send(io->sess);
        if (rv != 0) {
            snprintf(why, sizeof(why), "HTTP/2: %s", nghttp2_strerror(rv));
            io_close(io, why, true);
            return;
        }
        if (evbuffer_get_length(io->out) == before && before == 0)
            break; /* nothing produced, nothing pending */
        if (write_out(io) != 0)
            return;
        if (evbuffer_get_length(io->out) > 0)
            break; /* socket full: on_writable continues */
        if (!nghttp2_session_want_write(io->sess))
            break;
        if (round == 15) {
            /* fairness toward other connections of this loop */
            h2io_kick(io);
            break;
        }
    }
    read_backpressure(io);
    if (nghttp2_session_want_read(io->sess) == 0 && nghttp2_session_want_write(io->sess) == 0 &&
        evbuffer_get_length(io->out) == 0)
        io_close(io, "session finished", false);
}

/*
 * Reads what is there (up to H2IO_READ_ROUNDS buffers) and feeds nghttp2.
 * Returns 0, or -1 after io_close.  Any negative return from mem_recv is
 * fatal: we never feed that session again (CVE-2026-27135).
 */
static int
read_in(struct h2io *io)
{
    char why[256];
    int round;

    for (round = 0; round < H2IO_READ_ROUNDS; round++) {
        ssize_t n;

        if (io->ssl == NULL) {
            n = recv(io->fd, rbuf, sizeof(rbuf), 0);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    return 0;
                snprintf(why, sizeof(why), "read: %s", strerror(errno));
                io_close(io, why, true);
                return -1;
            }
            if (n == 0) {
                io_close(io, "connection closed by peer", false);
                return -1;
            }
        } else {
            int r, err;

            ERR_clear_error();
            r = SSL_read(io->ssl, rbuf, (int)sizeof(rbuf));
            if (r <= 0) {
                err = SSL_get_error(io->ssl, r);
                if (err == SSL_ERROR_WANT_READ)
                    return 0;
                if (err == SSL_ERROR_WANT_WRITE) {
                    want_write(io, true);
                    return 0;
                }
                if (err == SSL_ERROR_ZERO_RETURN) {
                    io_close(io, "connection closed by peer", false);
                    return -1;
                }
                if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
                    io_close(io, "connection closed by peer", false);
                    return -1;
                }
                io_close(io, ssl_reason(io, err, why, sizeof(why)), true);
                return -1;
            }
            n = r;
        }
        if (io->ops->on_input != NULL)
            io->ops->on_input(io->owner, rbuf, (size_t)n);
        {
            ssize_t rv = nghttp2_session_mem_recv(io->sess, rbuf, (size_t)n);

            if (rv < 0) {
                snprintf(why, sizeof(why), "HTTP/2: %s", nghttp2_strerror((int)rv));
                /* a GOAWAY may be queued: give it one chance to leave */
                nghttp2_session_send(io->sess);
                if (write_out(io) == 0)
                    io_close(io, why, true);
                return -1;
            }
        }
        if (io->read_paused || (io->ssl == NULL && (size_t)n < sizeof(rbuf)))
            return 0;
    }
    /*
     * Round limit reached.  Plain sockets stay readable (level-triggered),
     * but with read-ahead OpenSSL may hold the rest of the input in its own
     * buffer while the socket is empty: nothing would wake us for it.
     */
    if (io->ssl != NULL && SSL_has_pending(io->ssl))
        event_active(io->rev, EV_READ, 0);
    return 0;
}

/* Completes a non-blocking connect.  Returns 0 or -1 after io_close. */
static int
finish_connect(struct h2io *io)
{
    char why[160];
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err == EINPROGRESS || err == EALREADY)
        return 0;
    if (err != 0) {
        snprintf(why, sizeof(why), "%s", strerror(err));
        io_close(io, why, true);
        return -1;
    }
    want_write(io, false);
    event_add(io->rev, NULL);
    if (io->ssl != NULL) {
        io->state = H2IO_HANDSHAKE;
        return handshake(io) < 0 ? -1 : 0;
    }
    if (become_ready(io) != 0) {
        io_close(io, "cannot start HTTP/2", true);
        return -1;
    }
    return 0;
}

static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
    struct h2io *io = arg;

    (void)fd;
    (void)what;
    if (io->closed)
        return;
    if (io->state == H2IO_HANDSHAKE) {
        if (handshake(io) <= 0)
            return;
    }
    if (io->state != H2IO_OPEN)
        return;
    if (io->ssl_want_read) {
        io->ssl_want_read = false;
        if (write_out(io) != 0)
            return;
    }
    if (read_in(io) != 0)
        return;
    pump(io);
}

static void
on_writable(evutil_socket_t fd, short what, void *arg)
{
    struct h2io *io = arg;

    (void)fd;
    (void)what;
    if (io->closed)
        return;
    switch (io->state) {
    case H2IO_CONNECTING:
        if (finish_connect(io) != 0)
            return;
        break;
    case H2IO_HANDSHAKE:
        if (handshake(io) < 0)
            return;
        break;
    case H2IO_OPEN:
        break;
    }
    if (io->state != H2IO_OPEN)
        return;
    if (write_out(io) != 0)
        return;
    pump(io);
}

static void
on_send_ev(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pump(arg);
}

void
h2io_start(struct h2io *io)
{
    switch (io->state) {
    case H2IO_CONNECTING:
        event_add(io->wev, NULL);
        break;
    case H2IO_HANDSHAKE:
        event_add(io->rev, NULL);
        /* a client speaks first: ClientHello goes out now */
        if (SSL_is_server(io->ssl) == 0)
            event_add(io->wev, NULL);
        break;
    case H2IO_OPEN:
        event_add(io->rev, NULL);
        if (become_ready(io) != 0) {
            io_close(io, "cannot start HTTP/2", true);
            return;
        }
        h2io_kick(io);
        break;
    }
}
