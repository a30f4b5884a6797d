/*
 * pb.c: protobuf wire-format cursor.  Pure: no I/O, no allocation, no
 * logging.  Bounds are checked as "len > end - p", never "p + len > end",
 * so a length near 2^64 cannot wrap a pointer.
 */
#include "config.h"

#include <string.h>

#include "sg_err.h"
#include "pb.h"

int
pb_read_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    uint64_t v = 0;
    unsigned shift = 0, i;

    for (i = 0; i < 10; i++) {
        uint8_t b;

        if (p >= end)
            return SG_ERR_PROTO;
        b = *p++;
        /* the 10th byte may only carry the top bit of a 64-bit value */
        if (i == 9 && b > 1)
            return SG_ERR_PROTO;
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *pp = p;
            *out = v;
            return 0;
        }
        shift += 7;
    }
    return SG_ERR_PROTO;
}

int
pb_next(struct pb_cur *c, struct pb_field *f)
{
    const uint8_t *p = c->p;
    uint64_t tag, v;

    if (p >= c->end)
        return 0;
    f->start = p;
    if (pb_read_varint(&p, c->end, &tag) != 0)
        return SG_ERR_PROTO;
    if ((tag >> 3) == 0 || (tag >> 3) > PB_MAX_FIELD)
        return SG_ERR_PROTO;
    f->num = (uint32_t)(tag >> 3);
    f->wt = (enum pb_wire)(tag & 7);
    f->data = NULL;
    f->len = 0;
    f->v = 0;
    switch (f->wt) {
    case PB_WT_VARINT:
        if (pb_read_varint(&p, c->end, &f->v) != 0)
            return SG_ERR_PROTO;
        break;
    case PB_WT_I64:
        if (c->end - p < 8)
            return SG_ERR_PROTO;
        f->v = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
               (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
               (uint64_t)p[7] << 56;
        p += 8;
        break;
    case PB_WT_I32:
        if (c->end - p < 4)
            return SG_ERR_PROTO;
        f->v = (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
        p += 4;
        break;
    case PB_WT_LEN:
        if (pb_read_varint(&p, c->end, &v) != 0)
            return SG_ERR_PROTO;
        if (v > (uint64_t)(c->end - p))
            return SG_ERR_PROTO;
        f->data = p;
        f->len = (size_t)v;
        p += v;
        break;
    case PB_WT_SGROUP:
    case PB_WT_EGROUP:
    default:
        /* groups (3/4) are deprecated and never sent by Spark clients; 6/7 are undefined */
        return SG_ERR_PROTO;
    }
    f->end = p;
    c->p = p;
    return 1;
}

int
pb_validate(const uint8_t *p, size_t len)
{
    struct pb_cur c;
    struct pb_field f;
    int rv;

    pb_cur_init(&c, p, len);
    while ((rv = pb_next(&c, &f)) == 1)
        ;
    return rv < 0 ? rv : 0;
}

int
pb_find_last_len(const uint8_t *p, size_t len, uint32_t num, const uint8_t **out, size_t *outlen)
{
    struct pb_cur c;
    struct pb_field f;
    int rv, found = 0;

    pb_cur_init(&c, p, len);
    while ((rv = pb_next(&c, &f)) == 1) {
        if (f.num != num)
            continue;
        if (f.wt != PB_WT_LEN)
            return SG_ERR_PROTO;
        *out = f.data;
        *outlen = f.len;
        found = 1;
    }
    if (rv < 0)
        return rv;
    return found;
}

/*
 * Unicode's table of well-formed byte sequences (3.9, table 3-7): the second
 * byte's range depends on the first, which excludes overlong forms (E0 80..9F,
 * F0 80..8F), surrogates (ED A0..BF) and code points above U+10FFFF (F4 90..,
 * F5..FF); C0 and C1 only start overlong forms.  ASCII is checked 8 bytes at a
 * time: SQL text and identifiers are mostly ASCII.
 */
bool
pb_utf8_valid(const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;

    while (p < end) {
        uint8_t b = *p, lo = 0x80, hi = 0xbf;
        size_t n;

        if (b < 0x80) {
            while (end - p >= 8) {
                uint64_t w;

                memcpy(&w, p, 8);
                if (w & 0x8080808080808080ull)
                    break;
                p += 8;
            }
            if (p < end && *p < 0x80)
                p++;
            continue;
        }
        if (b >= 0xc2 && b <= 0xdf) {
            n = 1;
        } else if (b >= 0xe0 && b <= 0xef) {
            n = 2;
            if (b == 0xe0)
                lo = 0xa0;
            else if (b == 0xed)
                hi = 0x9f;
        } else if (b >= 0xf0 && b <= 0xf4) {
            n = 3;
            if (b == 0xf0)
                lo = 0x90;
            else if (b == 0xf4)
                hi = 0x8f;
        } else {
            return false;
        }
        if ((size_t)(end - p) < n + 1)
            return false;
        if (p[1] < lo || p[1] > hi)
            return false;
        for (size_t i = 2; i <= n; i++)
            if (p[i] < 0x80 || p[i] > 0xbf)
                return false;
        p += n + 1;
    }
    return true;
}

bool
pb_packed_varints_valid(const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;
    uint64_t v;

    while (p < end)
        if (pb_read_varint(&p, end, &v) != 0)
            return false;
    return true;
}

size_t
pb_put_varint(uint8_t *out, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

size_t
pb_varint_size(uint64_t v)
{
    size_t n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t
pb_put_len_hdr(uint8_t *out, uint32_t num, size_t len)
{
    size_t n = pb_put_varint(out, (uint64_t)num << 3 | PB_WT_LEN);

    return n + pb_put_varint(out + n, len);
}

size_t
pb_put_len_field(uint8_t *out, uint32_t num, const void *p, size_t len)
{
    size_t n = pb_put_len_hdr(out, num, len);

    if (len > 0)
        memcpy(out + n, p, len);
    return n + len;
}

size_t
pb_len_field_size(uint32_t num, size_t len)
{
    return pb_varint_size((uint64_t)num << 3 | PB_WT_LEN) + pb_varint_size(len) + len;
}
