/*
 * scb_stream.h - one gRPC call (one HTTP/2 stream) of the test backend and
 * the response API the method handlers use.  The stream is owned by its
 * connection (scb_conn.c); handlers (scb_rpc.c, scb_exec.c) fill in the
 * response and call one of the scb_stream_respond_*() functions once.
 */
#ifndef SCB_STREAM_H
#define SCB_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "scb_pb.h"

#define SCB_STREAM_MAGIC 0x5cb57e44U

enum scb_method {
	SCB_M_UNKNOWN = 0,
	SCB_M_EXECUTE_PLAN,
	SCB_M_ANALYZE_PLAN,
	SCB_M_CONFIG,
	SCB_M_ADD_ARTIFACTS,
	SCB_M_ARTIFACT_STATUS,
	SCB_M_INTERRUPT,
	SCB_M_REATTACH_EXECUTE,
	SCB_M_RELEASE_EXECUTE,
	SCB_M_RELEASE_SESSION,
	SCB_M_FETCH_ERROR_DETAILS,
	SCB_M_CLONE_SESSION,
	SCB_M_GET_STATUS,
};

/* gRPC status codes used here */
enum {
	SCB_GRPC_OK = 0,
	SCB_GRPC_INVALID_ARGUMENT = 3,
	SCB_GRPC_RESOURCE_EXHAUSTED = 8,
	SCB_GRPC_UNIMPLEMENTED = 12,
	SCB_GRPC_INTERNAL = 13,
};

/* One response message as a list of byte ranges sent back to back. */
#define SCB_SEG_STATIC 1U /* outlives every connection: sent by reference */
#define SCB_SEG_BODY 2U   /* part of the protobuf body (counted, hashed) */

struct scb_seg {
	const uint8_t *p;
	size_t n;
	unsigned flags;
};

struct scb_out_msg {
	struct scb_seg seg[4];
	int nseg;
	int cur;    /* segment being sent */
	size_t off; /* offset in it */
	bool active;
};

/* Test controls from request metadata (sc-test-*). */
struct scb_test_ctl {
	uint64_t count;    /* sc-test-count, default 1 */
	uint64_t size;     /* sc-test-size, default 64 */
	uint64_t delay_ms; /* sc-test-delay-ms */
	bool delay_set;
	int status;    /* sc-test-status, -1 when absent */
	char *message; /* sc-test-message */
	bool trailers_only;
	bool digest;
	char *error; /* first malformed sc-test-* header, if any */
};

/* Identity fields of a request message (pointers into the message). */
struct scb_ident {
	const uint8_t *session_id;
	size_t session_id_len;
	const uint8_t *user_id;
	size_t user_id_len;
	const uint8_t *user_name;
	size_t user_name_len;
	const uint8_t *observed; /* client_observed_server_side_session_id */
	size_t observed_len;
	bool has_observed;
	unsigned uc_count; /* field-2 occurrences */
};

enum scb_out_kind {
	SCB_OUT_NONE = 0,
	SCB_OUT_UNARY, /* s->resp holds one message body (or none) */
	SCB_OUT_EXEC,  /* messages come from scb_exec_next() */
};

struct scb_conn;
struct scb_exec;
struct scb_artifacts;

struct scb_stream {
	uint32_t magic;
	struct scb_conn *conn;
	struct scb_stream *prev, *next; /* connection's list */
	uint64_t conn_id;
	int32_t id;

	enum scb_method method;
	char *method_name;
	char *path;
	bool is_post;
	bool is_grpc;    /* content-type application/grpc[+...] */
	json_t *headers; /* for the record (NULL when not recording) */
	size_t header_bytes;
	struct scb_test_ctl ctl;

	/* request deframing */
	uint8_t pfx[5];
	size_t pfx_have;
	size_t msg_len;
	uint8_t *msg;
	size_t msg_have;
	unsigned msg_index;
	bool ignore_input; /* answered already: drop further DATA */

	/* the first request message, kept until the client half-closes */
	uint8_t *req;
	size_t req_len;
	struct scb_ident ident;    /* parsed from req */
	struct scb_artifacts *art; /* AddArtifacts results so far */

	/* response */
	bool responded; /* HEADERS submitted */
	bool sent_end;  /* our END_STREAM went out */
	bool we_reset;  /* we sent RST_STREAM */
	bool closed;    /* stream_close recorded */
	enum scb_out_kind out;
	struct scb_buf resp; /* SCB_OUT_UNARY body */
	bool resp_pending;
	uint8_t resp_pfx[5];
	struct scb_out_msg cur;
	int final_status;
	char *final_message;
	struct scb_exec *exec;

	uint64_t sent_messages;
	uint64_t sent_bytes; /* body bytes, without the 5-byte prefixes */
	EVP_MD_CTX *md;      /* sc-test-digest */
};

/* Ends the call with a trailers-only response (single HEADERS frame with
 * :status 200, content-type, grpc-status, grpc-message, details-bin).  A
 * no-op once a response was submitted. */
void scb_stream_fail(struct scb_stream *s, int code, const char *msg);

/* Sends HEADERS, then the message in s->resp (when resp_pending), then
 * trailers with (code, msg). */
void scb_stream_respond_unary(struct scb_stream *s, int code, const char *msg);

/* Sends HEADERS, the messages produced by scb_exec_next(), then trailers
 * with the status scb_exec_next() leaves in final_status/final_message. */
void scb_stream_respond_exec(struct scb_stream *s);

/* Resumes a stream whose producer returned "deferred" and flushes the
 * connection.  Only for top-level event callbacks (timers). */
void scb_stream_resume(struct scb_stream *s);

/* The event base the stream's connection runs on. */
struct event_base *scb_stream_base(const struct scb_stream *s);

/* Sets the final status and (copied) message of the stream. */
void scb_stream_set_status(struct scb_stream *s, int code, const char *msg);

#endif /* SCB_STREAM_H */
