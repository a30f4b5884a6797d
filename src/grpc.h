/*
 * grpc.h: gRPC-over-HTTP/2 framing and status helpers.  Pure: no I/O, no
 * allocation, no logging, so unit tests and fuzzers drive it directly.
 *
 * gRPC PROTOCOL-HTTP2: Length-Prefixed-Message = Compressed-Flag (1 byte)
 * Message-Length (4 bytes, big endian) Message.
 */
#ifndef SPARKGATE_GRPC_H
#define SPARKGATE_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define GRPC_HDR_LEN 5

/* Status codes (grpc/doc/statuscodes.md) that sparkgate produces. */
enum grpc_status {
    GRPC_OK = 0,
    GRPC_CANCELLED = 1,
    GRPC_UNKNOWN = 2,
    GRPC_INVALID_ARGUMENT = 3,
    GRPC_DEADLINE_EXCEEDED = 4,
    GRPC_NOT_FOUND = 5,
    GRPC_PERMISSION_DENIED = 7,
    GRPC_RESOURCE_EXHAUSTED = 8,
    GRPC_UNIMPLEMENTED = 12,
    GRPC_INTERNAL = 13,
    GRPC_UNAVAILABLE = 14,
    GRPC_UNAUTHENTICATED = 16,
};

/* Incremental deframer state; zero it (or grpc_deframer_init) before use. */
struct grpc_deframer {
    uint8_t hdr[GRPC_HDR_LEN];
    uint8_t hdr_got;   /* header bytes collected for the current message */
    uint8_t flags;     /* compressed flag of the current message */
    uint32_t msg_len;  /* declared length of the current message */
    uint32_t body_got; /* body bytes delivered so far */
    uint32_t max_len;  /* refuse messages longer than this */
    uint64_t nmsgs;    /* complete messages seen */
};

enum grpc_df_event {
    GRPC_DF_NONE = 0, /* only header bytes consumed; feed more */
    GRPC_DF_BEGIN,    /* a non-empty message starts: d->flags, d->msg_len valid */
    GRPC_DF_BODY,     /* piece, piece_len: a slice of the current body */
    GRPC_DF_END,      /* piece, piece_len: the last slice (possibly empty) and
                         the message is complete; a zero-length message yields
                         END without BEGIN */
};

void grpc_deframer_init(struct grpc_deframer *d, uint32_t max_len);

/*
 * Consumes a prefix of |src| (|len| > 0) and reports one event.  Every
 * body byte is reported exactly once, through BODY or END.  Call it in
 * a loop until all input is consumed.  For GRPC_DF_BODY, |*piece| points
 * into |src|.  The declared length is checked against d->max_len as soon as
 * the 4 length bytes are in, before anything is buffered (the peer controls
 * it).
 *
 * Returns the number of bytes consumed (>= 0), or SG_ERR_LIMIT when a
 * message is longer than max_len, or SG_ERR_PROTO when the flag byte is
 * neither 0 nor 1.
 */
ssize_t grpc_deframer_feed(struct grpc_deframer *d, const uint8_t *src, size_t len,
                           enum grpc_df_event *ev, const uint8_t **piece, size_t *piece_len);

/*
 * Capacity for the first |need| bytes of a message declared |declared|
 * bytes long, when |cap| are held: |cap| if it is enough, else |step|,
 * doubled until it holds |need|, never above |declared|.  The peer controls
 * |declared|, so it alone reserves nothing: the result stays at most
 * max(step, 2 * need), and growing to a message's end costs O(log n)
 * reallocations.  |need| <= |declared| (the deframer's bound).
 */
size_t grpc_msg_capacity(size_t cap, size_t need, size_t declared, size_t step);

/* True when no message is partly received (a clean end of stream). */
bool grpc_deframer_at_boundary(const struct grpc_deframer *d);

/* Writes the 5-byte prefix for a message of |len| bytes. */
void grpc_frame_header(uint8_t out[GRPC_HDR_LEN], bool compressed, uint32_t len);

/*
 * Percent-encodes |msg| for the grpc-message trailer (bytes outside
 * 0x20..0x7e and '%' become %XX).  Writes at most |cap|-1 bytes plus a NUL
 * into |out| and never splits an escape.  Returns the length written.
 */
size_t grpc_message_encode(const char *msg, char *out, size_t cap);

/*
 * Parses a grpc-timeout value ("1*8DIGIT unit", unit one of H M S m u n)
 * into milliseconds, rounding up and saturating at UINT32_MAX.
 * Returns 0, or SG_ERR_PROTO for a malformed value.
 */
int grpc_timeout_parse(const char *v, size_t len, uint64_t *ms);

/*
 * True for the content types sparkgate serves: "application/grpc" or
 * "application/grpc+proto", optionally followed by ";params".  gRPC also
 * defines "+json" and custom subtypes, but sparkgate reads every message as
 * protobuf: a "+json" body would be judged as protobuf bytes and forwarded
 * to a backend that reads it another way.
 */
bool grpc_content_type_ok(const uint8_t *v, size_t len);

/* Canonical name of a status code ("UNAVAILABLE"), or "UNKNOWN". */
const char *grpc_status_name(int code);

#endif
