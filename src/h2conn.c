/*
 * h2conn.c: the nghttp2 session plumbing shared by fe.c and be.c, and the
 * stream verbs they export.  See h2conn.h.
 *
 * Every session's user data is its h2io; every stream's user data is the
 * owner's struct h2_stream (cleared when the stream closes, so a late
 * callback for it finds nothing).
 */
#include "config.h"

#include <string.h>
#include <event2/event.h>

#include "h2conn.h"
#include "h2io.h"
#include "sg_err.h"

void *
h2conn_owner(void *session_arg)
{
    return ((struct h2io *)session_arg)->owner;
}

struct h2_stream *
h2conn_stream(struct h2io *io, int32_t sid)
{
    if (io->sess == NULL)
        return NULL;
    return nghttp2_session_get_stream_user_data(io->sess, sid);
}

static enum h2_reset
reset_of(uint32_t code)
{
    switch (code) {
    case NGHTTP2_NO_ERROR:
        return H2_RESET_NO_ERROR;
    case NGHTTP2_CANCEL:
        return H2_RESET_CANCEL;
    case NGHTTP2_INTERNAL_ERROR:
        return H2_RESET_INTERNAL;
    case NGHTTP2_REFUSED_STREAM:
        return H2_RESET_REFUSED;
    default:
        return H2_RESET_OTHER;
    }
}

static uint32_t
code_of(enum h2_reset why)
{
    switch (why) {
    case H2_RESET_NO_ERROR:
        return NGHTTP2_NO_ERROR;
    case H2_RESET_CANCEL:
        return NGHTTP2_CANCEL;
    case H2_RESET_REFUSED:
        return NGHTTP2_REFUSED_STREAM;
    case H2_RESET_INTERNAL:
    case H2_RESET_OTHER:
    default:
        return NGHTTP2_INTERNAL_ERROR;
    }
}

/* ---- shared callbacks ------------------------------------------------------ */

static ssize_t
on_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *arg)
{
    (void)s;
    (void)flags;
    return h2io_write(arg, data, len);
}

int
h2conn_send_data(nghttp2_session *s, nghttp2_frame *frame, const uint8_t *framehd, size_t length,
                 nghttp2_data_source *src, void *arg)
{
    struct h2_stream *st = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
    int rv;

    (void)src;
    if (st == NULL)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    rv = h2io_write_data(arg, framehd, st->out, length);
    if (rv == 0)
        st->ops->on_sent(st, length);
    return rv;
}

static ssize_t
on_read(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t length, uint32_t *flags,
        nghttp2_data_source *src, void *arg)
{
    struct h2_stream *st = nghttp2_session_get_stream_user_data(s, sid);
    unsigned f = 0;
    ssize_t n;

    (void)buf;
    (void)src;
    (void)arg;
    if (st == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    n = st->ops->read(st, length, &f);
    if (n == SG_ERR_AGAIN)
        return NGHTTP2_ERR_DEFERRED;
    if (n < 0)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    /* payloads are moved from st->out by h2conn_send_data, never copied here */
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (f & H2_READ_EOF)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (f & H2_READ_TRAILERS)
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    return n;
}

static int
on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data, size_t len,
              void *arg)
{
    struct h2_stream *st = nghttp2_session_get_stream_user_data(s, sid);

    (void)flags;
    (void)arg;
    if (st == NULL) {
        /* a stream nobody follows: keep the connection window open */
        nghttp2_session_consume_connection(s, len);
        return 0;
    }
    st->ops->on_data(st, data, len);
    return 0;
}

static int
on_stream_close(nghttp2_session *s, int32_t sid, uint32_t error_code, void *arg)
{
    struct h2_stream *st = nghttp2_session_get_stream_user_data(s, sid);

    (void)arg;
    /* never return an error here on a client session (CVE-2023-35945) */
    if (st != NULL) {
        nghttp2_session_set_stream_user_data(s, sid, NULL);
        st->ops->on_close(st, reset_of(error_code), error_code);
    }
    return 0;
}

/* ---- session ------------------------------------------------------------------ */

int
h2conn_session_new(struct h2io *io, bool server, const struct h2conn_cbs *cbs,
                   const nghttp2_settings_entry *iv, size_t niv, uint32_t conn_window)
{
    nghttp2_session_callbacks *cb = NULL;
    nghttp2_option *opt = NULL;
    int rv = SG_ERR_NOMEM;

    if (nghttp2_session_callbacks_new(&cb) != 0 || nghttp2_option_new(&opt) != 0)
        goto out;
    nghttp2_session_callbacks_set_send_callback(cb, on_send);
    nghttp2_session_callbacks_set_send_data_callback(cb, cbs->send_data != NULL ? cbs->send_data
                                                                                : h2conn_send_data);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    if (cbs->begin_headers != NULL)
        nghttp2_session_callbacks_set_on_begin_headers_callback(cb, cbs->begin_headers);
    if (cbs->header != NULL)
        nghttp2_session_callbacks_set_on_header_callback(cb, cbs->header);
    if (cbs->frame_recv != NULL)
        nghttp2_session_callbacks_set_on_frame_recv_callback(cb, cbs->frame_recv);
    if (cbs->invalid_frame != NULL)
        nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, cbs->invalid_frame);
    if (cbs->begin_frame != NULL)
        nghttp2_session_callbacks_set_on_begin_frame_callback(cb, cbs->begin_frame);
    /* credit goes back only as the owner forwards (security-notes H11) */
    nghttp2_option_set_no_auto_window_update(opt, 1);
    if (!server)
        nghttp2_option_set_max_reserved_remote_streams(opt, 0);
    if ((server ? nghttp2_session_server_new2(&io->sess, cb, io, opt)
                : nghttp2_session_client_new2(&io->sess, cb, io, opt)) != 0)
        goto out;
    rv = SG_ERR_INTERNAL;
    if (nghttp2_submit_settings(io->sess, NGHTTP2_FLAG_NONE, iv, niv) != 0)
        goto out;
    if (nghttp2_session_set_local_window_size(io->sess, NGHTTP2_FLAG_NONE, 0,
                                              (int32_t)conn_window) != 0)
        goto out;
    rv = 0;
out:
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    return rv;
}

bool
h2conn_alpn_ok(SSL *ssl, bool none_ok)
{
    const unsigned char *alpn = NULL;
    unsigned int alpnlen = 0;

    SSL_get0_alpn_selected(ssl, &alpn, &alpnlen);
    if (alpnlen == 0)
        return none_ok;
    return alpnlen == 2 && memcmp(alpn, "h2", 2) == 0;
}

void
h2conn_timer_arm(struct event *ev, uint32_t ms)
{
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000u),
                         .tv_usec = (suseconds_t)((ms % 1000u) * 1000u)};

    evtimer_add(ev, &tv);
}

/* ---- stream verbs -------------------------------------------------------------- */

int32_t
h2conn_submit(struct h2io *io, int32_t sid, const h2_nv *nv, size_t nvlen, struct h2_stream *st,
              const char **why)
{
    nghttp2_data_provider prd;
    int32_t rv;

    prd.source.ptr = st;
    prd.read_callback = on_read;
    if (sid == 0)
        rv = nghttp2_submit_request(io->sess, NULL, nv, nvlen, &prd, st);
    else
        rv = nghttp2_submit_response(io->sess, sid, nv, nvlen, st != NULL ? &prd : NULL);
    if (rv >= 0)
        return rv;
    if (why != NULL)
        *why = nghttp2_strerror(rv);
    return rv == NGHTTP2_ERR_NOMEM ? SG_ERR_NOMEM : SG_ERR_INTERNAL;
}

int
h2conn_submit_trailers(struct h2io *io, int32_t sid, const h2_nv *nv, size_t nvlen)
{
    return nghttp2_submit_trailer(io->sess, sid, nv, nvlen) == 0 ? 0 : SG_ERR_INTERNAL;
}

void
h2conn_credit(struct h2_stream *st, size_t n)
{
    if (st->io == NULL)
        return;
    nghttp2_session_consume(st->io->sess, st->sid, n);
    h2io_kick(st->io);
}

bool
h2conn_peer_may_send(const struct h2_stream *st)
{
    if (st->io == NULL)
        return false;
    return nghttp2_session_get_local_window_size(st->io->sess) > 0 &&
           nghttp2_session_get_stream_local_window_size(st->io->sess, st->sid) > 0;
}

void
h2conn_credit_conn(struct h2_stream *st, size_t n)
{
    if (st->io == NULL)
        return;
    nghttp2_session_consume_connection(st->io->sess, n);
}

void
h2conn_resume(struct h2_stream *st)
{
    if (st->io == NULL)
        return;
    nghttp2_session_resume_data(st->io->sess, st->sid);
    h2io_kick(st->io);
}

void
h2conn_reset(struct h2_stream *st, enum h2_reset why)
{
    if (st->io == NULL)
        return;
    nghttp2_submit_rst_stream(st->io->sess, NGHTTP2_FLAG_NONE, st->sid, code_of(why));
    h2io_kick(st->io);
}
