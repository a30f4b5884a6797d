/*
 * h2conn.h: what the two kinds of HTTP/2 connection (fe.c, clients; be.c,
 * backends) share above h2io: the contract between a connection and the
 * owner of one of its streams (a call), and the nghttp2 session plumbing
 * both would otherwise write twice (session set-up, the send / send-data /
 * data-source / data-chunk / stream-close callbacks, the ALPN check,
 * timers).
 *
 * A stream owner embeds a struct h2_stream, sets |ops| and |out|, and
 * hands it to its connection (fe.c creates client streams through its
 * open function; be_open_stream queues backend streams).  The connection
 * keeps it as nghttp2's stream user data and reports through |ops|; the
 * owner acts on the stream only through the connection's verbs (fe_*,
 * be_*).  nghttp2 stops at the connection layer: resets are named by enum
 * h2_reset, and return codes are SG_ERR_* (sg_err.h).
 */
#ifndef SPARKGATE_H2CONN_H
#define SPARKGATE_H2CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

struct event;
struct evbuffer;
struct h2io;
struct h2_stream;

/* A header field as the connection submits it (names and values are copied on submit). */
typedef nghttp2_nv h2_nv;
#define H2_NV_NONE NGHTTP2_NV_FLAG_NONE
#define H2_NV_SECRET NGHTTP2_NV_FLAG_NO_INDEX /* never entered in the HPACK table */

/* Why a stream ended, or why we end one (RST_STREAM). */
enum h2_reset {
    H2_RESET_NO_ERROR, /* closed normally (or: end a fully answered stream) */
    H2_RESET_CANCEL,   /* cancelled */
    H2_RESET_INTERNAL, /* an internal error */
    H2_RESET_REFUSED,  /* the peer refused the stream before processing it */
    H2_RESET_OTHER,    /* any other HTTP/2 error code */
};

/* h2_stream_ops.read flags */
#define H2_READ_EOF 1u      /* these are the last bytes of the stream's DATA */
#define H2_READ_TRAILERS 2u /* ... and the owner submitted trailers to end the stream */

struct h2_stream_ops {
    /* A header or trailer field.  0, or an SG_ERR_* to reset the stream. */
    int (*on_header)(struct h2_stream *st, bool trailer, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen);
    /* A header (or trailer) block is complete; |end_stream|: it ended the stream. */
    void (*on_headers_done)(struct h2_stream *st, bool trailer, bool end_stream);
    /* DATA payload; the connection window is given back only by the owner's credit verb. */
    void (*on_data)(struct h2_stream *st, const uint8_t *data, size_t len);
    /* The peer half-closed the stream (END_STREAM on DATA; client side: on HEADERS too). */
    void (*on_end_stream)(struct h2_stream *st);
    /* The stream closed; |h2_error| is the RFC 9113 error code, for messages.  The
     * owner detaches from the connection (fe_stream_detached / be_detach). */
    void (*on_close)(struct h2_stream *st, enum h2_reset why, uint32_t h2_error);
    /* Data source: how many of at most |length| bytes of |out| go now (>= 0; with
     * H2_READ_EOF in |flags| the last), SG_ERR_AGAIN to wait for a resume verb,
     * another SG_ERR_* to fail the stream. */
    ssize_t (*read)(struct h2_stream *st, size_t length, unsigned *flags);
    /* |length| bytes of |out| went to the connection's output. */
    void (*on_sent)(struct h2_stream *st, size_t length);

    /* backend streams only (be_open_stream) */
    /* The request header block: fills up to |cap| fields of |nv| and returns how many
     * there are (called again with room when that is more than |cap|), or an SG_ERR_*
     * when the stream must not be opened after all. */
    ssize_t (*request_headers)(struct h2_stream *st, h2_nv *nv, size_t cap);
    /* The stream was submitted: st->sid is set. */
    void (*on_open)(struct h2_stream *st);
    /* The stream could not be opened (the connection dropped it first): |err| is an
     * SG_ERR_*, |why| names the cause. */
    void (*on_failed)(struct h2_stream *st, int err, const char *why);
    /* The connection died with the stream open (no on_close follows). */
    void (*on_lost)(struct h2_stream *st, const char *why);
};

struct h2_stream {
    const struct h2_stream_ops *ops; /* set by the owner */
    struct evbuffer *out;            /* set by the owner: the bytes this stream sends */
    int32_t sid;                     /* stream id; 0 while a backend stream waits */
    struct h2io *io;                 /* its connection's, while it has a live stream there
                                        (set and cleared by the connection layer) */
    TAILQ_ENTRY(h2_stream) link;     /* the connection's list (connection layer only) */
};
TAILQ_HEAD(h2_stream_list, h2_stream);

/* The side-specific nghttp2 callbacks of a session (NULL: none). */
struct h2conn_cbs {
    nghttp2_on_begin_headers_callback begin_headers;
    nghttp2_on_header_callback header;
    nghttp2_on_frame_recv_callback frame_recv;
    nghttp2_on_invalid_frame_recv_callback invalid_frame;
    nghttp2_on_begin_frame_callback begin_frame;
    nghttp2_send_data_callback send_data; /* NULL: h2conn_send_data */
};

/*
 * Creates io->sess (server or client) with the shared callbacks plus |cbs|,
 * automatic WINDOW_UPDATEs off (credit goes back only through the owner's
 * verbs), submits SETTINGS |iv| and sets the connection window.  The
 * session's user data is |io| (callbacks reach their connection through
 * io->owner).  Returns 0 or SG_ERR_*.
 */
int h2conn_session_new(struct h2io *io, bool server, const struct h2conn_cbs *cbs,
                       const nghttp2_settings_entry *iv, size_t niv, uint32_t conn_window);

/* The default send_data callback: |length| bytes of the stream's out. */
int h2conn_send_data(nghttp2_session *s, nghttp2_frame *frame, const uint8_t *framehd,
                     size_t length, nghttp2_data_source *src, void *arg);

/* The stream of |sid|, or NULL (closed, or never ours). */
struct h2_stream *h2conn_stream(struct h2io *io, int32_t sid);

/* The connection owning a session callback's user data. */
void *h2conn_owner(void *session_arg);

/* TLS: true when ALPN selected h2 (or nothing, if |none_ok|). */
bool h2conn_alpn_ok(SSL *ssl, bool none_ok);

/* (Re)arms |ev| to fire in |ms| milliseconds. */
void h2conn_timer_arm(struct event *ev, uint32_t ms);

/*
 * Stream verbs, for either side: an owner uses them on its stream alone.
 * A stream without a live connection stream (st->io NULL) is left alone.
 */
/* Gives the peer back |n| bytes of credit on the stream (and connection) and flushes. */
void h2conn_credit(struct h2_stream *st, size_t n);
/* Gives back |n| bytes of the connection window only (a closed stream's leftovers). */
void h2conn_credit_conn(struct h2_stream *st, size_t n);
/*
 * Whether the peer has window left to send DATA on the stream, on the
 * connection and on the stream itself: credit withheld on the
 * connection's other streams can leave it none.
 */
bool h2conn_peer_may_send(const struct h2_stream *st);
/* The stream's data can go on (after ops->read said SG_ERR_AGAIN); flushes. */
void h2conn_resume(struct h2_stream *st);
/* Submits RST_STREAM for the stream and flushes. */
void h2conn_reset(struct h2_stream *st, enum h2_reset why);

/* For fe.c and be.c.  Submits a request (client) or response (server) with |st| as its data source
 * (NULL: the HEADERS end the stream).  Returns the stream id (> 0) of a request, 0 for a
 * response, or SG_ERR_*; |why| names an nghttp2 failure. */
int32_t h2conn_submit(struct h2io *io, int32_t sid, const h2_nv *nv, size_t nvlen,
                      struct h2_stream *st, const char **why);
int h2conn_submit_trailers(struct h2io *io, int32_t sid, const h2_nv *nv, size_t nvlen);

#endif
