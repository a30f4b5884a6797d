/*
 * scb_state.h - server state of the test backend: sessions keyed by
 * (user_id, session_id) and operations keyed by (user_id, session_id,
 * operation_id), as a real Spark Connect server keys them.
 */
#ifndef SCB_STATE_H
#define SCB_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scb_util.h"

struct scb_stream;

/* A length-counted copy of a protobuf string (also NUL-terminated). */
struct scb_str {
	char *p;
	size_t n;
};

struct scb_kv {
	struct scb_kv *next;
	struct scb_str key;
	struct scb_str val;
};

struct scb_session {
	struct scb_str user_id;
	struct scb_str session_id;
	char sssid[SCB_UUID_LEN + 1]; /* server_side_session_id */
	struct scb_kv *conf;          /* Config key/value store */
	struct scb_kv *artifacts;     /* uploaded names (val unused) */
	struct scb_op *ops;           /* operations of this session */
};

struct scb_op {
	unsigned refs;            /* the op table's + attached streams' */
	struct scb_session *sess; /* NULL once released */
	struct scb_op *sess_prev, *sess_next;
	struct scb_str key; /* table key */
	struct scb_str op_id;
	struct scb_str user_id;
	struct scb_str session_id;
	char sssid[SCB_UUID_LEN + 1];
	uint64_t count;      /* N arrow batches (sc-test-count) */
	uint64_t size;       /* K bytes each (sc-test-size) */
	uint64_t delay_ms;   /* sc-test-delay-ms */
	uint64_t seed;       /* hash of the key: data and response ids */
	uint64_t next_index; /* progress: messages sent so far */
	struct scb_str *tags;
	size_t ntags;
	bool complete; /* result_complete was sent */
	bool interrupted;
	struct scb_stream *attached; /* stream currently sending it */
};

int scb_state_init(void);
void scb_state_free(void);

/* Finds the session; with create, makes it (fresh server_side_session_id)
 * when missing.  Returns NULL when absent (or on ENOMEM). */
struct scb_session *scb_session_get(const uint8_t *user, size_t ulen,
    const uint8_t *sid, size_t slen, bool create);
/* Forgets the session and releases its operations. */
void scb_session_release(struct scb_session *s);

const struct scb_kv *scb_conf_get(const struct scb_session *s,
    const uint8_t *key, size_t klen);
int scb_conf_set(struct scb_session *s, const uint8_t *key, size_t klen,
    const uint8_t *val, size_t vlen);
void scb_conf_unset(struct scb_session *s, const uint8_t *key, size_t klen);

int scb_artifact_add(struct scb_session *s, const uint8_t *name, size_t n);
bool scb_artifact_has(const struct scb_session *s, const uint8_t *name,
    size_t n);

struct scb_op *scb_op_find(const struct scb_session *s, const uint8_t *op_id,
    size_t n);
/* Registers a new operation of the session (one reference, the table's).
 * Returns NULL on ENOMEM. */
struct scb_op *scb_op_new(struct scb_session *s, const uint8_t *op_id,
    size_t n);
int scb_op_add_tag(struct scb_op *op, const uint8_t *tag, size_t n);
/* Removes the operation from its session and the table (drops the table's
 * reference; an attached stream keeps the op alive until it ends). */
void scb_op_release(struct scb_op *op);
void scb_op_ref(struct scb_op *op);
void scb_op_unref(struct scb_op *op);

bool scb_str_eq(const struct scb_str *a, const uint8_t *p, size_t n);

#endif /* SCB_STATE_H */
