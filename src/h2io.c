/*
 * h2io.c: bufferevent <-> nghttp2 plumbing shared by fe.c and be.c.
 */
#include "config.h"

#include <event2/buffer.h>
#include <event2/event.h>

#include "h2io.h"

int
h2io_init(struct h2io *io, struct event_base *base, void (*cb)(evutil_socket_t, short, void *),
          void *arg)
{
    io->send_ev = event_new(base, -1, 0, cb, arg);
    return io->send_ev != NULL ? 0 : -1;
}

void
h2io_free(struct h2io *io)
{
    if (io->sess != NULL) {
        nghttp2_session_del(io->sess);
        io->sess = NULL;
    }
    if (io->bev != NULL) {
        bufferevent_free(io->bev);
        io->bev = NULL;
    }
    if (io->send_ev != NULL) {
        event_free(io->send_ev);
        io->send_ev = NULL;
    }
}

void
h2io_kick(struct h2io *io)
{
    if (io->send_ev != NULL)
        event_active(io->send_ev, EV_WRITE, 0);
}

size_t
h2io_outlen(const struct h2io *io)
{
    return evbuffer_get_length(bufferevent_get_output(io->bev));
}

ssize_t
h2io_write(struct h2io *io, const uint8_t *data, size_t len)
{
    struct evbuffer *out = bufferevent_get_output(io->bev);

    if (evbuffer_get_length(out) >= H2IO_OUT_HIGH)
        return NGHTTP2_ERR_WOULDBLOCK;
    if (evbuffer_add(out, data, len) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return (ssize_t)len;
}

int
h2io_write_data(struct h2io *io, const uint8_t *framehd, struct evbuffer *src, size_t length)
{
    struct evbuffer *out = bufferevent_get_output(io->bev);

    if (evbuffer_get_length(out) >= H2IO_OUT_HIGH)
        return NGHTTP2_ERR_WOULDBLOCK;
    if (evbuffer_add(out, framehd, 9) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    /* moves whole chains where it can: the payload is not copied again */
    if (evbuffer_remove_buffer(src, out, length) != (int)length)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return 0;
}

int
h2io_feed(struct h2io *io)
{
    struct evbuffer *in = bufferevent_get_input(io->bev);
    struct evbuffer_iovec v[8];
    int n, i;
    ssize_t rv;
    size_t total;

    while (evbuffer_get_length(in) > 0) {
        n = evbuffer_peek(in, -1, NULL, v, 8);
        if (n <= 0)
            break;
        if (n > 8)
            n = 8;
        total = 0;
        for (i = 0; i < n; i++) {
            rv = nghttp2_session_mem_recv(io->sess, v[i].iov_base, v[i].iov_len);
            if (rv < 0)
                return (int)rv;
            total += v[i].iov_len;
        }
        evbuffer_drain(in, total);
    }
    return 0;
}

int
h2io_send(struct h2io *io)
{
    int rv = nghttp2_session_send(io->sess);
    size_t out;

    if (rv != 0)
        return rv;
    out = h2io_outlen(io);
    if (out >= H2IO_OUT_HIGH && !io->read_paused) {
        bufferevent_disable(io->bev, EV_READ);
        io->read_paused = true;
    } else if (out < H2IO_OUT_LOW && io->read_paused) {
        bufferevent_enable(io->bev, EV_READ);
        io->read_paused = false;
    }
    return 0;
}

bool
h2io_finished(const struct h2io *io)
{
    return nghttp2_session_want_read(io->sess) == 0 && nghttp2_session_want_write(io->sess) == 0 &&
           h2io_outlen(io) == 0;
}
