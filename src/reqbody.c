/*
 * reqbody.c: request DATA -> whole request messages (see reqbody.h).
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <event2/buffer.h>

#include "cfg.h"
#include "grpc.h"
#include "reqbody.h"
#include "sg_err.h"

#define REQBODY_CONTIG_MIN (64u * 1024u) /* messages above this are received into one chain */
#define REQBODY_MSG_STEP (4u << 20)      /* ... which starts this big and doubles as data comes */

/*
 * Appends to the large message being received, growing its buffer as the
 * bytes arrive (REQBODY_MSG_STEP, doubling, never past the declared
 * length): a declared length reserves nothing, and above the mmap
 * threshold realloc moves pages instead of copying them.
 */
static int
msg_append(struct call *c, const uint8_t *p, size_t len)
{
    size_t want = grpc_msg_capacity(c->mcap, c->mlen + len, c->df.msg_len, REQBODY_MSG_STEP);

    if (want > c->mcap) {
        uint8_t *nb;

        if ((nb = realloc(c->mbuf, want)) == NULL)
            return SG_ERR_NOMEM;
        c->mbuf = nb;
        c->mcap = want;
    }
    memcpy(c->mbuf + c->mlen, p, len);
    c->mlen += len;
    return 0;
}

static void
msg_buf_free(const void *data, size_t len, void *arg)
{
    (void)len;
    (void)arg;
    free((void *)(uintptr_t)data);
}

/* A complete large message: its buffer becomes c->msg's one chain, uncopied. */
static int
msg_seal(struct call *c)
{
    if (c->mbuf == NULL)
        return 0;
    if (evbuffer_add_reference(c->msg, c->mbuf, c->mlen, msg_buf_free, NULL) != 0)
        return SG_ERR_NOMEM;
    c->mbuf = NULL;
    c->mlen = c->mcap = 0;
    return 0;
}

enum reqbody_event
reqbody_next(struct call *c, const uint8_t *data, size_t len, size_t *off, struct call_verdict *v)
{
    enum grpc_df_event ev;
    const uint8_t *piece;
    size_t plen;
    ssize_t r;

    while (*off < len) {
        r = grpc_deframer_feed(&c->df, data + *off, len - *off, &ev, &piece, &plen);
        if (r == SG_ERR_LIMIT) {
            call_refuse(v, GRPC_RESOURCE_EXHAUSTED,
                        "sparkgate: request message of %" PRIu32 " bytes exceeds "
                        "limits.max_request_message_size (%" PRIu32 ")",
                        c->df.msg_len, c->cfg->limits.max_request_message_size);
            return REQBODY_REFUSED;
        }
        if (r < 0) {
            call_refuse(v, GRPC_INTERNAL, "sparkgate: invalid gRPC framing (flag byte %u)",
                        (unsigned)c->df.hdr[0]);
            return REQBODY_REFUSED;
        }
        *off += (size_t)r;
        if (ev == GRPC_DF_NONE)
            continue;
        if (c->df.flags != 0 && !c->enc_real) {
            /* gRPC compression spec: the flag without an encoding is a protocol error */
            call_refuse(v, GRPC_INTERNAL,
                        "sparkgate: compressed flag set on a request message without a "
                        "grpc-encoding (absent or identity)");
            return REQBODY_REFUSED;
        }
        if (c->df.flags != 0) {
            /* the plan must be read to be judged; fail closed (docs/security.md) */
            call_refuse(v, GRPC_UNIMPLEMENTED,
                        "sparkgate: compressed request messages are not supported; "
                        "disable request compression in the client");
            return REQBODY_REFUSED;
        }
        if (plen > 0 &&
            (c->df.msg_len > REQBODY_CONTIG_MIN ? msg_append(c, piece, plen)
                                                : evbuffer_add(c->msg, piece, plen)) != 0)
            goto nomem;
        if (ev == GRPC_DF_END) {
            if (msg_seal(c) != 0)
                goto nomem;
            return REQBODY_MESSAGE;
        }
    }
    return REQBODY_NEED_MORE;
nomem:
    call_refuse(v, GRPC_RESOURCE_EXHAUSTED, "sparkgate: out of memory");
    return REQBODY_REFUSED;
}
