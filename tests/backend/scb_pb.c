/*
 * scb_pb.c - protobuf wire reader and writer (see scb_pb.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "scb_pb.h"

/* protobuf limits field numbers to 29 bits */
#define PB_MAX_FIELD ((1U << 29) - 1)

void
scb_pb_init(struct scb_pb *r, const uint8_t *p, size_t n)
{
	r->p = p;
	r->end = p + n;
}

static int
get_varint(struct scb_pb *r, uint64_t *out)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		uint8_t c;

		if (r->p >= r->end)
			return -1;
		c = *r->p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -1; /* more than 10 bytes */
}

int
scb_pb_next(struct scb_pb *r, struct scb_pb_field *f)
{
	uint64_t key, v;

	if (r->p >= r->end)
		return 0;
	if (get_varint(r, &key) < 0)
		return -1;
	if ((key >> 3) == 0 || (key >> 3) > PB_MAX_FIELD)
		return -1;
	f->num = (uint32_t)(key >> 3);
	f->wt = (int)(key & 7);
	f->v = 0;
	f->data = NULL;
	f->len = 0;
	switch (f->wt) {
	case SCB_PB_VARINT:
		return get_varint(r, &f->v) < 0 ? -1 : 1;
	case SCB_PB_I64:
		if (r->end - r->p < 8)
			return -1;
		v = 0;
		for (int i = 7; i >= 0; i--)
			v = v << 8 | r->p[i];
		f->v = v;
		r->p += 8;
		return 1;
	case SCB_PB_I32:
		if (r->end - r->p < 4)
			return -1;
		f->v = (uint64_t)r->p[0] | (uint64_t)r->p[1] << 8 |
		    (uint64_t)r->p[2] << 16 | (uint64_t)r->p[3] << 24;
		r->p += 4;
		return 1;
	case SCB_PB_LEN:
		if (get_varint(r, &v) < 0)
			return -1;
		if (v > (uint64_t)(r->end - r->p))
			return -1;
		f->data = r->p;
		f->len = (size_t)v;
		r->p += v;
		return 1;
	default:
		/* groups (3, 4) never occur in the Spark Connect protos */
		return -1;
	}
}

bool
scb_pb_valid(const uint8_t *p, size_t n)
{
	struct scb_pb r;
	struct scb_pb_field f;
	int rv;

	scb_pb_init(&r, p, n);
	while ((rv = scb_pb_next(&r, &f)) == 1)
		;
	return rv == 0;
}

void
scb_buf_free(struct scb_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void
scb_buf_reset(struct scb_buf *b)
{
	b->len = 0;
	b->oom = false;
}

bool
scb_buf_reserve(struct scb_buf *b, size_t n)
{
	size_t cap;
	uint8_t *d;

	if (b->oom)
		return false;
	if (b->cap - b->len >= n)
		return true;
	cap = b->cap ? b->cap : 128;
	while (cap - b->len < n) {
		if (cap > SIZE_MAX / 2) {
			b->oom = true;
			return false;
		}
		cap *= 2;
	}
	d = realloc(b->data, cap);
	if (d == NULL) {
		b->oom = true;
		return false;
	}
	b->data = d;
	b->cap = cap;
	return true;
}

void
scb_buf_add(struct scb_buf *b, const void *p, size_t n)
{
	if (n == 0 || !scb_buf_reserve(b, n))
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

size_t
scb_pb_varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t
encode_varint(uint8_t *out, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		out[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t)v;
	return n;
}

void
scb_pb_put_varint(struct scb_buf *b, uint64_t v)
{
	uint8_t tmp[10];

	scb_buf_add(b, tmp, encode_varint(tmp, v));
}

void
scb_pb_put_tag(struct scb_buf *b, uint32_t num, int wt)
{
	scb_pb_put_varint(b, (uint64_t)num << 3 | (uint64_t)wt);
}

void
scb_pb_put_u64(struct scb_buf *b, uint32_t num, uint64_t v)
{
	scb_pb_put_tag(b, num, SCB_PB_VARINT);
	scb_pb_put_varint(b, v);
}

void
scb_pb_put_bool(struct scb_buf *b, uint32_t num, bool v)
{
	scb_pb_put_u64(b, num, v ? 1 : 0);
}

void
scb_pb_put_bytes(struct scb_buf *b, uint32_t num, const void *p, size_t n)
{
	scb_pb_put_tag(b, num, SCB_PB_LEN);
	scb_pb_put_varint(b, n);
	scb_buf_add(b, p, n);
}

void
scb_pb_put_str(struct scb_buf *b, uint32_t num, const char *s)
{
	scb_pb_put_bytes(b, num, s, strlen(s));
}

size_t
scb_pb_open(struct scb_buf *b, uint32_t num)
{
	scb_pb_put_tag(b, num, SCB_PB_LEN);
	return b->len;
}

void
scb_pb_close(struct scb_buf *b, size_t mark)
{
	uint8_t tmp[10];
	size_t body, n;

	if (b->oom)
		return;
	body = b->len - mark;
	n = encode_varint(tmp, body);
	if (!scb_buf_reserve(b, n))
		return;
	memmove(b->data + mark + n, b->data + mark, body);
	memcpy(b->data + mark, tmp, n);
	b->len += n;
}
