/*
 * scb_exec.c - ExecutePlan / ReattachExecute result streams.
 *
 * Nothing is materialised ahead of time: scb_exec_next() is called from the
 * HTTP/2 data provider only when flow control lets the next message out, and
 * describes it as four ranges: the 5-byte gRPC prefix, a small protobuf head
 * (session_id, arrow_batch header), K bytes of the static random pool, and a
 * small tail (operation_id, response_id, server_side_session_id).  Fields
 * are emitted in field-number order, like protobuf serializers do.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "scb.h"
#include "scb_exec.h"
#include "scb_pb.h"
#include "scb_state.h"
#include "scb_stream.h"

/* batches start at a per-message offset in [0, POOL_SPAN) of the pool */
#define POOL_SPAN (1024U * 1024)
#define POOL_SIZE (SCB_MAX_TEST_SIZE + POOL_SPAN)

struct scb_exec {
	struct scb_op *op;
	uint64_t next;      /* index of the next message to produce */
	uint64_t cur_index; /* index of the message being sent */
	bool with_complete;
	uint64_t delay_ms;
	bool delay_done;
	struct event *timer;
	struct scb_buf head;
	struct scb_buf tail;
	uint8_t pfx[5];
	char rid[SCB_UUID_LEN + 1];
};

static uint8_t *pool;

int
scb_exec_init(void)
{
	/* xorshift64*, fixed seed: the data is the same on every run, so a
	 * test can regenerate it, yet nothing like zeros or a short cycle
	 * that would hide corruption or reordering */
	uint64_t x = 0x9e3779b97f4a7c15ULL;

	pool = malloc(POOL_SIZE);
	if (pool == NULL)
		return -1;
	for (size_t i = 0; i < POOL_SIZE; i += 8) {
		uint64_t v;

		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		v = x * 0x2545f4914f6cdd1dULL;
		memcpy(pool + i, &v, 8);
	}
	return 0;
}

void
scb_exec_cleanup(void)
{
	free(pool);
	pool = NULL;
}

void
scb_exec_response_id(const struct scb_op *op, uint64_t idx,
    char out[SCB_UUID_LEN + 1])
{
	uint64_t h = op->seed;

	snprintf(out, SCB_UUID_LEN + 1,
	    "%08" PRIx32 "-%04" PRIx32 "-4%03" PRIx32 "-8%03" PRIx32
	    "-%012" PRIx64,
	    (uint32_t)(h >> 32), (uint32_t)(h >> 16) & 0xffff,
	    (uint32_t)h & 0xfff, (uint32_t)(h >> 40) & 0xfff,
	    idx & UINT64_C(0xffffffffffff));
}

bool
scb_exec_parse_response_id(const struct scb_op *op, const uint8_t *id, size_t n,
    uint64_t *idx)
{
	char mine[SCB_UUID_LEN + 1];
	uint64_t v = 0;

	if (n != SCB_UUID_LEN)
		return false;
	scb_exec_response_id(op, 0, mine);
	if (memcmp(mine, id, 24) != 0)
		return false;
	for (size_t i = 24; i < SCB_UUID_LEN; i++) {
		int d;

		if (id[i] >= '0' && id[i] <= '9')
			d = id[i] - '0';
		else if (id[i] >= 'a' && id[i] <= 'f')
			d = id[i] - 'a' + 10;
		else
			return false;
		v = v << 4 | (uint64_t)d;
	}
	*idx = v;
	return true;
}

int
scb_exec_start(struct scb_stream *s, struct scb_op *op, uint64_t first,
    bool with_complete, uint64_t delay_ms)
{
	struct scb_exec *e;

	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -1;
	scb_op_ref(op);
	e->op = op;
	e->next = first;
	e->with_complete = with_complete;
	e->delay_ms = delay_ms;
	/* a newer attached RPC pre-empts the older one, which then ends
	 * with INVALID_CURSOR.DISCONNECTED like on a real server */
	op->attached = s;
	s->exec = e;
	return 0;
}

void
scb_exec_free(struct scb_stream *s)
{
	struct scb_exec *e = s->exec;

	if (e == NULL)
		return;
	if (e->op->attached == s)
		e->op->attached = NULL;
	if (e->timer != NULL)
		event_free(e->timer);
	scb_op_unref(e->op);
	scb_buf_free(&e->head);
	scb_buf_free(&e->tail);
	free(e);
	s->exec = NULL;
}

static void
on_delay(evutil_socket_t fd, short what, void *arg)
{
	struct scb_stream *s = arg;

	(void)fd;
	(void)what;
	s->exec->delay_done = true;
	scb_stream_resume(s); /* may free s */
}

/* Starts the per-message delay; returns false when no timer could be
 * set (then the message goes out without waiting). */
static bool
delay_start(struct scb_stream *s, struct scb_exec *e)
{
	struct timeval tv;

	if (e->timer == NULL) {
		e->timer = evtimer_new(scb_stream_base(s), on_delay, s);
		if (e->timer == NULL)
			return false;
	}
	tv.tv_sec = (time_t)(e->delay_ms / 1000);
	tv.tv_usec = (suseconds_t)(e->delay_ms % 1000) * 1000;
	return evtimer_add(e->timer, &tv) == 0;
}

static void
put_len_tag(struct scb_buf *b, uint32_t num, uint64_t len)
{
	scb_pb_put_tag(b, num, SCB_PB_LEN);
	scb_pb_put_varint(b, len);
}

enum scb_next
scb_exec_next(struct scb_stream *s, struct scb_out_msg *m)
{
	struct scb_exec *e = s->exec;
	struct scb_op *op = e->op;
	uint64_t i = e->next, last, k = 0, ablen;
	const uint8_t *data = NULL;
	size_t body;

	if (op->attached != s) {
		scb_stream_set_status(s, SCB_GRPC_INTERNAL,
		    "INVALID_CURSOR.DISCONNECTED");
		return SCB_NEXT_EOF;
	}
	if (op->interrupted) {
		scb_stream_set_status(s, SCB_GRPC_INTERNAL,
		    "OPERATION_CANCELED: the operation was interrupted");
		return SCB_NEXT_EOF;
	}
	last = op->count + (e->with_complete ? 1 : 0);
	if (i >= last)
		return SCB_NEXT_EOF; /* status chosen by the caller */
	if (e->delay_ms > 0 && !e->delay_done && delay_start(s, e))
		return SCB_NEXT_DEFER;
	e->delay_done = false;

	scb_exec_response_id(op, i, e->rid);
	scb_buf_reset(&e->head);
	scb_buf_reset(&e->tail);
	scb_pb_put_bytes(&e->head, 1, op->session_id.p, op->session_id.n);
	if (i < op->count) {
		uint64_t off = scb_hash64(op->seed, &i, sizeof(i)) % POOL_SPAN;

		k = op->size;
		data = pool + off;
		/* ArrowBatch{row_count=1: 1, data=2: K bytes} */
		ablen = 2 + 1 + scb_pb_varint_len(k) + k;
		put_len_tag(&e->head, 2, ablen);
		scb_pb_put_u64(&e->head, 1, 1);
		put_len_tag(&e->head, 2, k);
		scb_pb_put_bytes(&e->tail, 12, op->op_id.p, op->op_id.n);
		scb_pb_put_str(&e->tail, 13, e->rid);
		scb_pb_put_str(&e->tail, 15, op->sssid);
	} else {
		scb_pb_put_bytes(&e->head, 12, op->op_id.p, op->op_id.n);
		scb_pb_put_str(&e->head, 13, e->rid);
		put_len_tag(&e->head, 14, 0); /* result_complete {} */
		scb_pb_put_str(&e->head, 15, op->sssid);
	}
	if (e->head.oom || e->tail.oom) {
		scb_stream_set_status(s, SCB_GRPC_RESOURCE_EXHAUSTED,
		    "out of memory");
		return SCB_NEXT_EOF;
	}
	body = e->head.len + (size_t)k + e->tail.len;
	e->pfx[0] = 0;
	e->pfx[1] = (uint8_t)(body >> 24);
	e->pfx[2] = (uint8_t)(body >> 16);
	e->pfx[3] = (uint8_t)(body >> 8);
	e->pfx[4] = (uint8_t)body;
	m->nseg = 0;
	m->seg[m->nseg++] = (struct scb_seg){ e->pfx, 5, 0 };
	m->seg[m->nseg++] =
	    (struct scb_seg){ e->head.data, e->head.len, SCB_SEG_BODY };
	if (k > 0)
		m->seg[m->nseg++] = (struct scb_seg){ data, (size_t)k,
			SCB_SEG_STATIC | SCB_SEG_BODY };
	if (e->tail.len > 0)
		m->seg[m->nseg++] =
		    (struct scb_seg){ e->tail.data, e->tail.len, SCB_SEG_BODY };
	e->cur_index = i;
	e->next = i + 1;
	return SCB_NEXT_MSG;
}

void
scb_exec_msg_sent(struct scb_stream *s)
{
	struct scb_exec *e = s->exec;

	if (e == NULL)
		return;
	if (e->op->next_index < e->cur_index + 1)
		e->op->next_index = e->cur_index + 1;
	if (e->cur_index == e->op->count)
		e->op->complete = true;
}
