/*
 * h2io.h: the I/O half shared by both kinds of HTTP/2 connection (fe.c,
 * clients; be.c, backends): one bufferevent, one nghttp2 session, and the
 * rules that keep memory bounded.
 *
 * - Output: nghttp2 writes frames straight into the bufferevent's output
 *   evbuffer; DATA payloads are moved there from a call's buffer without a
 *   copy (NGHTTP2_DATA_FLAG_NO_COPY).  Above H2IO_OUT_HIGH the send
 *   callbacks answer NGHTTP2_ERR_WOULDBLOCK and sending resumes from the
 *   write callback below H2IO_OUT_LOW.
 * - Input: while the output is above H2IO_OUT_HIGH we stop reading the
 *   socket, so a peer that floods PING/SETTINGS without reading our ACKs
 *   fills its own window, not our memory (CVE-2019-9512/9515).
 * - Sending is deferred to an event (h2io_kick), never done from inside a
 *   callback of the same session (nghttp2 is not re-entrant).
 */
#ifndef SPARKGATE_H2IO_H
#define SPARKGATE_H2IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <event2/bufferevent.h>
#include <nghttp2/nghttp2.h>

#define H2IO_OUT_HIGH (512u * 1024u)
#define H2IO_OUT_LOW (128u * 1024u)

struct h2io {
    struct bufferevent *bev;   /* owned */
    nghttp2_session *sess;     /* owned */
    struct event *send_ev;     /* owned; deferred nghttp2_session_send */
    bool read_paused;          /* we stopped reading because output is full */
};

/* Creates the deferred-send event; |cb| runs h2io_send for the owner. */
int h2io_init(struct h2io *io, struct event_base *base, void (*cb)(evutil_socket_t, short, void *),
              void *arg);

/* Frees session, bufferevent (closing the socket) and event. */
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

/*
 * Feeds everything readable to nghttp2_session_mem_recv.  Returns 0, or the
 * negative nghttp2 error (fatal for the connection: the caller stops
 * reading and closes, and never feeds the session again - CVE-2026-27135).
 */
int h2io_feed(struct h2io *io);

/* nghttp2_session_send plus read-pause bookkeeping.  Returns 0 or < 0 (fatal). */
int h2io_send(struct h2io *io);

/* True when the session wants nothing more and the output has drained. */
bool h2io_finished(const struct h2io *io);

/* Bytes waiting in the output buffer. */
size_t h2io_outlen(const struct h2io *io);

#endif
