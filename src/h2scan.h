/*
 * h2scan.h: where HTTP/2 header blocks begin and end in the bytes a client
 * sends.  Pure: no I/O, no allocation, no logging.
 *
 * fe.c feeds it the same bytes it gives nghttp2, before nghttp2 sees them,
 * and keeps its header-block timer by it.  nghttp2 reports neither the end
 * of a block it ignores (refused or closed streams, a header callback that
 * failed) nor the begin of CONTINUATIONs of such a block, so a timer kept
 * by nghttp2's callbacks must guess; the wire does not lie.  A block begins
 * with the 9-byte header of a HEADERS frame and ends with the last payload
 * byte of the HEADERS or CONTINUATION frame carrying END_HEADERS.
 * Malformed input (CONTINUATION out of place, oversized frames) is
 * nghttp2's to refuse; the scanner only follows the frame lengths.
 */
#ifndef SPARKGATE_H2SCAN_H
#define SPARKGATE_H2SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct h2scan {
    uint32_t preface_left; /* client connection preface bytes still to skip */
    uint8_t hd[9];         /* frame header being collected */
    uint8_t hdlen;
    uint8_t type, flags;   /* of the frame whose payload is being skipped */
    uint32_t payload_left; /* payload bytes of that frame still to come */
    bool in_block;         /* a header block has begun and not ended */
    uint64_t blocks;       /* header blocks begun so far */
};

/* Starts at the first byte a server reads: the client connection preface. */
void h2scan_init(struct h2scan *s);

/* Follows |n| more bytes of the client's stream. */
void h2scan_feed(struct h2scan *s, const uint8_t *p, size_t n);

#endif
