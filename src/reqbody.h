/*
 * reqbody.h: a call's request body cut into whole gRPC messages.
 *
 * Client DATA is fed to the call's deframer (c->df); a message is kept
 * whole, since it is judged whole: a small one in c->msg's chains, a large
 * one (above REQBODY_CONTIG_MIN) in one buffer of its own (c->mbuf), grown
 * as its bytes arrive and handed to c->msg uncopied once complete, so the
 * stages' pullup is free instead of a second full copy.
 */
#ifndef SPARKGATE_REQBODY_H
#define SPARKGATE_REQBODY_H

#include <stddef.h>
#include <stdint.h>

#include "call_int.h"

enum reqbody_event {
    REQBODY_NEED_MORE, /* |data| is used up inside a message (or between two) */
    REQBODY_MESSAGE,   /* a whole message is in c->msg; *off says where to go on */
    REQBODY_REFUSED,   /* |v| says why (limit, framing, compression, memory) */
};

/* Feeds |data| from *off on, up to the end of the next message. */
enum reqbody_event reqbody_next(struct call *c, const uint8_t *data, size_t len, size_t *off,
                                struct call_verdict *v);

#endif
