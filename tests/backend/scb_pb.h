/*
 * scb_pb.h - a tiny protobuf wire reader and writer, enough for the test
 * backend to decode Spark Connect requests and build responses from the
 * field numbers in the protocol reference (no generated code).
 */
#ifndef SCB_PB_H
#define SCB_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	SCB_PB_VARINT = 0,
	SCB_PB_I64 = 1,
	SCB_PB_LEN = 2,
	SCB_PB_I32 = 5,
};

/* Read cursor over one message; never reads outside [p, end). */
struct scb_pb {
	const uint8_t *p;
	const uint8_t *end;
};

/* One decoded field.  For SCB_PB_LEN, data/len point into the input
 * (zero-copy); for the numeric wire types v holds the value. */
struct scb_pb_field {
	uint32_t num;
	int wt;
	uint64_t v;
	const uint8_t *data;
	size_t len;
};

void scb_pb_init(struct scb_pb *r, const uint8_t *p, size_t n);

/* Decodes the next field.  Returns 1 with *f filled, 0 at the clean end
 * of the message, -1 on malformed input (truncation, bad wire type or
 * field number 0, over-long varint). */
int scb_pb_next(struct scb_pb *r, struct scb_pb_field *f);

/* Walks a whole message once and reports whether its top level is well
 * formed.  Sub-messages are not descended into. */
bool scb_pb_valid(const uint8_t *p, size_t n);

/* Growable output buffer.  Appends never fail loudly: on ENOMEM the
 * buffer sets oom and ignores further writes, and the caller checks oom
 * once at the end (keeps the response builders linear). */
struct scb_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	bool oom;
};

void scb_buf_free(struct scb_buf *b);
void scb_buf_reset(struct scb_buf *b);
void scb_buf_add(struct scb_buf *b, const void *p, size_t n);
/* Makes room for n more bytes; returns false (and sets oom) on ENOMEM. */
bool scb_buf_reserve(struct scb_buf *b, size_t n);

/* Number of bytes the varint encoding of v takes. */
size_t scb_pb_varint_len(uint64_t v);

void scb_pb_put_varint(struct scb_buf *b, uint64_t v);
void scb_pb_put_tag(struct scb_buf *b, uint32_t num, int wt);
void scb_pb_put_u64(struct scb_buf *b, uint32_t num, uint64_t v);
void scb_pb_put_bool(struct scb_buf *b, uint32_t num, bool v);
void scb_pb_put_bytes(struct scb_buf *b, uint32_t num, const void *p, size_t n);
void scb_pb_put_str(struct scb_buf *b, uint32_t num, const char *s);

/* Nested message: scb_pb_open() writes the tag and returns a mark;
 * scb_pb_close() inserts the minimal length varint in front of everything
 * written since (a memmove of the nested bytes, which are small here). */
size_t scb_pb_open(struct scb_buf *b, uint32_t num);
void scb_pb_close(struct scb_buf *b, size_t mark);

#endif /* SCB_PB_H */
