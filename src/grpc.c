/*
 * grpc.c: splits HTTP/2 DATA bytes into gRPC messages and formats the few
 * gRPC header values sparkgate writes.  Pure: no I/O, no allocation, no
 * logging.  The deframer is a resumable state machine (nginx's
 * ngx_http_grpc_parse_frame style) so DATA frames may split a message or its
 * header anywhere, down to one byte per frame.
 */
#include "config.h"

#include <string.h>

#include "sg_err.h"
#include "grpc.h"

void
grpc_deframer_init(struct grpc_deframer *d, uint32_t max_len)
{
    memset(d, 0, sizeof(*d));
    d->max_len = max_len;
}

static uint32_t
load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

ssize_t
grpc_deframer_feed(struct grpc_deframer *d, const uint8_t *src, size_t len, enum grpc_df_event *ev,
                   const uint8_t **piece, size_t *piece_len)
{
    size_t n = 0, want;

    *ev = GRPC_DF_NONE;
    *piece = NULL;
    *piece_len = 0;

    if (d->hdr_got < GRPC_HDR_LEN) {
        while (n < len && d->hdr_got < GRPC_HDR_LEN)
            d->hdr[d->hdr_got++] = src[n++];
        if (d->hdr_got < GRPC_HDR_LEN)
            return (ssize_t)n;
        /* gRPC: the flag is 0 (identity) or 1 (compressed); other values are reserved */
        if (d->hdr[0] > 1)
            return SG_ERR_PROTO;
        d->flags = d->hdr[0];
        d->msg_len = load_be32(d->hdr + 1);
        d->body_got = 0;
        /* refuse before buffering anything: the peer controls msg_len */
        if (d->msg_len > d->max_len)
            return SG_ERR_LIMIT;
        if (d->msg_len == 0) {
            d->hdr_got = 0;
            d->nmsgs++;
            *ev = GRPC_DF_END;
            return (ssize_t)n;
        }
        *ev = GRPC_DF_BEGIN;
        return (ssize_t)n;
    }

    want = d->msg_len - d->body_got;
    if (want > len)
        want = len;
    d->body_got += (uint32_t)want;
    *piece = src;
    *piece_len = want;
    if (d->body_got == d->msg_len) {
        d->hdr_got = 0;
        d->nmsgs++;
        *ev = GRPC_DF_END;
    } else {
        *ev = GRPC_DF_BODY;
    }
    return (ssize_t)want;
}

size_t
grpc_msg_capacity(size_t cap, size_t need, size_t declared, size_t step)
{
    size_t want;

    if (need <= cap)
        return cap;
    want = cap > 0 ? cap * 2 : step;
    while (want < need)
        want *= 2;
    return want < declared ? want : declared;
}

bool
grpc_deframer_at_boundary(const struct grpc_deframer *d)
{
    return d->hdr_got == 0;
}

void
grpc_frame_header(uint8_t out[GRPC_HDR_LEN], bool compressed, uint32_t len)
{
    out[0] = compressed ? 1 : 0;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
}

size_t
grpc_message_encode(const char *msg, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    const unsigned char *p;

    if (cap == 0)
        return 0;
    for (p = (const unsigned char *)msg; *p != '\0'; p++) {
        /* gRPC PROTOCOL-HTTP2: Percent-Byte-Unencoded = 0x20-0x24 / 0x26-0x7E */
        if (*p >= 0x20 && *p <= 0x7e && *p != '%') {
            if (o + 1 >= cap)
                break;
            out[o++] = (char)*p;
        } else {
            if (o + 3 >= cap)
                break;
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 0xf];
        }
    }
    out[o] = '\0';
    return o;
}

int
grpc_timeout_parse(const char *v, size_t len, uint64_t *ms)
{
    uint64_t n = 0, r;
    size_t i;

    /* gRPC: Timeout = TimeoutValue TimeoutUnit; TimeoutValue = {positive integer as ASCII
     * string of at most 8 digits} */
    if (len < 2 || len > 9)
        return SG_ERR_PROTO;
    for (i = 0; i + 1 < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return SG_ERR_PROTO;
        n = n * 10 + (uint64_t)(v[i] - '0');
    }
    switch (v[len - 1]) {
    case 'H':
        r = n * 3600000u;
        break;
    case 'M':
        r = n * 60000u;
        break;
    case 'S':
        r = n * 1000u;
        break;
    case 'm':
        r = n;
        break;
    case 'u':
        r = (n + 999u) / 1000u;
        break;
    case 'n':
        r = (n + 999999u) / 1000000u;
        break;
    default:
        return SG_ERR_PROTO;
    }
    /* 8 digits of hours fit in 64 bits; clamp to what timers take */
    if (r > UINT32_MAX)
        r = UINT32_MAX;
    *ms = r;
    return 0;
}

bool
grpc_content_type_ok(const uint8_t *v, size_t len)
{
    size_t n = 16;

    /* gRPC PROTOCOL-HTTP2: "application/grpc" [("+proto" / "+json" / {custom})] */
    if (len < n || memcmp(v, "application/grpc", n) != 0)
        return false;
    if (len - n >= 6 && memcmp(v + n, "+proto", 6) == 0)
        n += 6;
    /* RFC 9110 section 8.3.1: parameters follow after optional whitespace and ';' */
    while (n < len && (v[n] == ' ' || v[n] == '\t'))
        n++;
    return n == len || v[n] == ';';
}

const char *
grpc_status_name(int code)
{
    static const char *const names[] = {
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    };

    if (code < 0 || (size_t)code >= sizeof(names) / sizeof(names[0]))
        return "UNKNOWN";
    return names[code];
}
