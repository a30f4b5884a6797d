/*
 * scb_exec.h - result streams of ExecutePlan and ReattachExecute: N arrow
 * batches of K pseudo-random bytes, then result_complete, generated lazily
 * as HTTP/2 flow control lets them out.
 */
#ifndef SCB_EXEC_H
#define SCB_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scb_util.h"

struct scb_stream;
struct scb_op;
struct scb_out_msg;

enum scb_next {
	SCB_NEXT_MSG,   /* *m describes the next message */
	SCB_NEXT_EOF,   /* no more messages: final status is set */
	SCB_NEXT_DEFER, /* waiting for a timer: scb_stream_resume() later */
};

/* Builds the random data pool.  Returns 0 or -1 (ENOMEM). */
int scb_exec_init(void);
void scb_exec_cleanup(void);

/* Attaches op to the stream and starts at message index first (index
 * op->count is result_complete).  with_complete false ends after the
 * arrow batches (sc-test-status).  Returns 0 or -1 (ENOMEM). */
int scb_exec_start(struct scb_stream *s, struct scb_op *op, uint64_t first,
    bool with_complete, uint64_t delay_ms);

enum scb_next scb_exec_next(struct scb_stream *s, struct scb_out_msg *m);
/* The message last returned by scb_exec_next() was fully handed to the
 * connection. */
void scb_exec_msg_sent(struct scb_stream *s);
void scb_exec_free(struct scb_stream *s);

/* response_id of message idx of op: a UUID-shaped string whose last 12 hex
 * digits are the index (so reattach can find the position again). */
void scb_exec_response_id(const struct scb_op *op, uint64_t idx,
    char out[SCB_UUID_LEN + 1]);
/* Inverse of scb_exec_response_id(); false when id is not one of op's. */
bool scb_exec_parse_response_id(const struct scb_op *op, const uint8_t *id,
    size_t n, uint64_t *idx);

#endif /* SCB_EXEC_H */
