/*
 * pb.h: protobuf wire-format cursor (no protobuf library).
 *
 * Pure: no I/O, no allocation, no logging.  A cursor walks one message's
 * bytes; length-delimited fields point into the input (zero copy).  Every
 * length is checked against the bytes that remain, varints are at most 10
 * bytes, field number 0 and numbers above 2^29-1 are refused, and wire types
 * 3/4 (groups) and 6/7 (undefined) are refused: Spark clients never emit
 * them, and a walker that skips what it cannot parse can be fooled.
 */
#ifndef SPARKGATE_PB_H
#define SPARKGATE_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pb_wire {
    PB_WT_VARINT = 0,
    PB_WT_I64 = 1,
    PB_WT_LEN = 2,
    PB_WT_SGROUP = 3,
    PB_WT_EGROUP = 4,
    PB_WT_I32 = 5,
};

#define PB_MAX_FIELD 536870911u /* 2^29 - 1 */

struct pb_cur {
    const uint8_t *p;
    const uint8_t *end;
};

struct pb_field {
    uint32_t num;
    enum pb_wire wt;
    uint64_t v;          /* varint / fixed value */
    const uint8_t *data; /* PB_WT_LEN: payload */
    size_t len;
    const uint8_t *start; /* first byte of the tag: the whole field is [start, end) */
    const uint8_t *end;
};

static inline void
pb_cur_init(struct pb_cur *c, const uint8_t *p, size_t len)
{
    c->p = p;
    c->end = p + len;
}

static inline bool
pb_cur_done(const struct pb_cur *c)
{
    return c->p >= c->end;
}

/*
 * Reads one varint from [*p, end).  Returns 0 and advances *p, or
 * SG_ERR_PROTO (truncated, longer than 10 bytes, or overflowing 64 bits).
 */
int pb_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out);

/*
 * Reads the next field.  Returns 1 when a field was read, 0 at the end of
 * the message, or SG_ERR_PROTO (truncation, bad tag, bad wire type).
 */
int pb_next(struct pb_cur *c, struct pb_field *f);

/* Opens a cursor over the payload of a length-delimited field. */
static inline void
pb_sub(const struct pb_field *f, struct pb_cur *child)
{
    pb_cur_init(child, f->data, f->len);
}

/*
 * Validates that the whole message parses (no nested descent).
 * Returns 0 or SG_ERR_PROTO.
 */
int pb_validate(const uint8_t *p, size_t len);

/*
 * Finds the LAST occurrence of length-delimited field |num| in the message
 * (protobuf: for a singular scalar the last value wins).  Returns 1 with
 * |out| set, 0 when absent, or SG_ERR_PROTO.
 */
int pb_find_last_len(const uint8_t *p, size_t len, uint32_t num, const uint8_t **out,
                     size_t *outlen);

/*
 * Is [p, p+len) well-formed UTF-8 as protobuf-java requires of a string
 * field: no overlong forms, no surrogates (U+D800..DFFF), nothing above
 * U+10FFFF, no truncated sequence.  NUL bytes are valid UTF-8.
 */
bool pb_utf8_valid(const uint8_t *p, size_t len);

/* Does [p, p+len) parse as a run of varints (a packed repeated varint field)? */
bool pb_packed_varints_valid(const uint8_t *p, size_t len);

/* Appends a varint to |out| (room for 10 bytes needed); returns bytes written. */
size_t pb_put_varint(uint8_t *out, uint64_t v);

/* Bytes a varint of |v| takes. */
size_t pb_varint_size(uint64_t v);

/* Longest tag + length prefix of a length-delimited field (two varints). */
#define PB_LEN_HDR_MAX 20

/*
 * The one writer of a length-delimited field's prefix: puts the tag of
 * field |num| (wire type LEN) and the varint |len| at |out| (room for
 * PB_LEN_HDR_MAX bytes); returns the bytes written.  The payload follows.
 */
size_t pb_put_len_hdr(uint8_t *out, uint32_t num, size_t len);

/*
 * Puts a whole length-delimited field (prefix and the |len| bytes at |p|)
 * at |out|, which has room for pb_len_field_size(num, len) bytes; returns
 * the bytes written.
 */
size_t pb_put_len_field(uint8_t *out, uint32_t num, const void *p, size_t len);

/* Bytes pb_put_len_field writes for field |num| with a |len|-byte payload. */
size_t pb_len_field_size(uint32_t num, size_t len);

#endif
