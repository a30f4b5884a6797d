/*
 * h2scan.c: header block boundaries on the wire (see h2scan.h).
 */
#include "config.h"

#include <string.h>

#include "h2scan.h"

#define H2SCAN_PREFACE_LEN 24u /* "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" */
#define H2SCAN_HEADERS 0x1u
#define H2SCAN_CONTINUATION 0x9u
#define H2SCAN_END_HEADERS 0x4u

void
h2scan_init(struct h2scan *s)
{
    memset(s, 0, sizeof(*s));
    s->preface_left = H2SCAN_PREFACE_LEN;
}

/* The current frame is complete: a block ends with its END_HEADERS frame. */
static void
frame_end(struct h2scan *s)
{
    if ((s->type == H2SCAN_HEADERS || s->type == H2SCAN_CONTINUATION) &&
        (s->flags & H2SCAN_END_HEADERS))
        s->in_block = false;
    s->hdlen = 0;
}

void
h2scan_feed(struct h2scan *s, const uint8_t *p, size_t n)
{
    while (n > 0) {
        size_t k;

        if (s->preface_left > 0) {
            k = n < s->preface_left ? n : s->preface_left;
            s->preface_left -= (uint32_t)k;
        } else if (s->hdlen < sizeof(s->hd)) {
            k = sizeof(s->hd) - s->hdlen;
            if (k > n)
                k = n;
            memcpy(s->hd + s->hdlen, p, k);
            s->hdlen = (uint8_t)(s->hdlen + k);
            if (s->hdlen == sizeof(s->hd)) {
                s->payload_left = (uint32_t)s->hd[0] << 16 | (uint32_t)s->hd[1] << 8 | s->hd[2];
                s->type = s->hd[3];
                s->flags = s->hd[4];
                if (s->type == H2SCAN_HEADERS) {
                    s->in_block = true;
                    s->blocks++;
                }
                if (s->payload_left == 0)
                    frame_end(s);
            }
        } else {
            k = n < s->payload_left ? n : s->payload_left;
            s->payload_left -= (uint32_t)k;
            if (s->payload_left == 0)
                frame_end(s);
        }
        p += k;
        n -= k;
    }
}
