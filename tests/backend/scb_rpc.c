/*
 * scb_rpc.c - SparkConnectService methods of the test backend.
 *
 * Requests are decoded with Spark's field numbers (the request side is
 * listed in tools/spark-connect-fields.json); responses are built field
 * by field in number order.  Every call is answered once the client half-closes, like
 * grpc-java's unary and server-streaming handlers do; AddArtifacts checks
 * each message as it arrives so big uploads are not kept.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "scb.h"
#include "scb_exec.h"
#include "scb_pb.h"
#include "scb_record.h"
#include "scb_rpc.h"
#include "scb_state.h"
#include "scb_stream.h"
#include "scb_util.h"

#define SERVICE "/spark.connect.SparkConnectService/"

static const struct method_def {
	const char *name;
	enum scb_method method;
	/* client_observed_server_side_session_id field number (0: none) */
	uint32_t observed;
} methods[] = {
	{ "ExecutePlan", SCB_M_EXECUTE_PLAN, 8 },
	{ "AnalyzePlan", SCB_M_ANALYZE_PLAN, 17 },
	{ "Config", SCB_M_CONFIG, 8 },
	{ "AddArtifacts", SCB_M_ADD_ARTIFACTS, 7 },
	{ "ArtifactStatus", SCB_M_ARTIFACT_STATUS, 5 },
	{ "Interrupt", SCB_M_INTERRUPT, 7 },
	{ "ReattachExecute", SCB_M_REATTACH_EXECUTE, 6 },
	{ "ReleaseExecute", SCB_M_RELEASE_EXECUTE, 7 },
	{ "ReleaseSession", SCB_M_RELEASE_SESSION, 0 },
	{ "FetchErrorDetails", SCB_M_FETCH_ERROR_DETAILS, 5 },
	{ "CloneSession", SCB_M_CLONE_SESSION, 5 },
	{ "GetStatus", SCB_M_GET_STATUS, 4 },
};

/* One AddArtifacts result (ArtifactSummary). */
struct art_res {
	struct art_res *next;
	char *name;
	size_t name_len;
	bool ok;       /* every chunk's CRC matched */
	bool complete; /* all chunks arrived */
};

struct scb_artifacts {
	struct art_res *head;
	struct art_res **tail;
	struct art_res *chunked; /* chunked artifact in progress */
	uint64_t chunks_left;
};

static const uint8_t empty[1];

enum scb_method
scb_rpc_lookup(const char *path, char **name)
{
	size_t plen = strlen(SERVICE);

	if (strncmp(path, SERVICE, plen) != 0) {
		*name = strdup("");
		return SCB_M_UNKNOWN;
	}
	*name = strdup(path + plen);
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (strcmp(path + plen, methods[i].name) == 0)
			return methods[i].method;
	}
	return SCB_M_UNKNOWN;
}

static const struct method_def *
method_def(enum scb_method m)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (methods[i].method == m)
			return &methods[i];
	}
	return NULL;
}

/* ---- test controls ------------------------------------------------------ */

static bool
name_is(const uint8_t *name, size_t nlen, const char *lit)
{
	return nlen == strlen(lit) && memcmp(name, lit, nlen) == 0;
}

static bool
parse_flag(const uint8_t *v, size_t n, bool *out)
{
	if (name_is(v, n, "1") || name_is(v, n, "true")) {
		*out = true;
		return true;
	}
	if (name_is(v, n, "0") || name_is(v, n, "false") || n == 0) {
		*out = false;
		return true;
	}
	return false;
}

void
scb_rpc_test_header(struct scb_stream *s, const uint8_t *name, size_t nlen,
    const uint8_t *value, size_t vlen)
{
	struct scb_test_ctl *c = &s->ctl;
	char err[96];
	uint64_t v;
	bool ok = true;

	if (name_is(name, nlen, "sc-test-count")) {
		/* response ids carry the index in 48 bits */
		ok = scb_parse_u64(value, vlen, 1ULL << 46, &c->count);
	} else if (name_is(name, nlen, "sc-test-size")) {
		ok = scb_parse_u64(value, vlen, SCB_MAX_TEST_SIZE, &c->size);
	} else if (name_is(name, nlen, "sc-test-delay-ms")) {
		ok = scb_parse_u64(value, vlen, 3600 * 1000, &c->delay_ms);
		c->delay_set = ok;
	} else if (name_is(name, nlen, "sc-test-status")) {
		ok = scb_parse_u64(value, vlen, 16, &v);
		if (ok)
			c->status = (int)v;
	} else if (name_is(name, nlen, "sc-test-message")) {
		free(c->message);
		c->message = strndup((const char *)value, vlen);
	} else if (name_is(name, nlen, "sc-test-trailers-only")) {
		ok = parse_flag(value, vlen, &c->trailers_only);
	} else if (name_is(name, nlen, "sc-test-digest")) {
		ok = parse_flag(value, vlen, &c->digest);
	}
	if (!ok && c->error == NULL) {
		snprintf(err, sizeof(err), "invalid %.*s header value",
		    (int)(nlen < 40 ? nlen : 40), (const char *)name);
		c->error = strdup(err);
	}
}

/* ---- request decoding helpers ------------------------------------------- */

/* session_id (1), user_context (2) {user_id=1, user_name=2} and the
 * observed server-side session id, with protobuf's rules for repeats:
 * scalars keep the last value, sub-messages merge (so a later user_id
 * overrides an earlier one, a missing one does not erase it).  Returns an
 * error text for malformed input, NULL when fine. */
static const char *
parse_ident(const uint8_t *p, size_t n, uint32_t observed, struct scb_ident *id)
{
	struct scb_pb r, ur;
	struct scb_pb_field f, uf;
	int rv, urv;

	memset(id, 0, sizeof(*id));
	id->session_id = id->user_id = id->user_name = id->observed = empty;
	scb_pb_init(&r, p, n);
	while ((rv = scb_pb_next(&r, &f)) == 1) {
		if (f.wt != SCB_PB_LEN)
			continue;
		if (f.num == 1) {
			id->session_id = f.data;
			id->session_id_len = f.len;
		} else if (f.num == 2) {
			id->uc_count++;
			scb_pb_init(&ur, f.data, f.len);
			while ((urv = scb_pb_next(&ur, &uf)) == 1) {
				if (uf.wt != SCB_PB_LEN)
					continue;
				if (uf.num == 1) {
					id->user_id = uf.data;
					id->user_id_len = uf.len;
				} else if (uf.num == 2) {
					id->user_name = uf.data;
					id->user_name_len = uf.len;
				}
			}
			if (urv < 0)
				return "malformed user_context (field 2)";
		} else if (observed != 0 && f.num == observed) {
			id->observed = f.data;
			id->observed_len = f.len;
			id->has_observed = true;
		}
	}
	return rv < 0 ? "malformed protobuf message" : NULL;
}

/* Last occurrence of field num with wire type wt; false when absent or
 * when the message is malformed before one is found. */
static bool
pb_last(const uint8_t *p, size_t n, uint32_t num, int wt,
    struct scb_pb_field *out)
{
	struct scb_pb r;
	struct scb_pb_field f;
	bool found = false;

	scb_pb_init(&r, p, n);
	while (scb_pb_next(&r, &f) == 1) {
		if (f.num == num && f.wt == wt) {
			*out = f;
			found = true;
		}
	}
	return found;
}

static void
record_message(struct scb_stream *s, const uint8_t *msg, size_t len,
    const struct scb_ident *id, const char *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned int mdlen = 0;
	json_t *o;

	if (!scb_record_enabled())
		return;
	if (EVP_Digest(msg, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		mdlen = 0;
	scb_hex(md, mdlen, hex);
	o = json_pack("{s:s, s:I, s:i, s:s, s:i, s:I, s:s}", "ev", "message",
	    "conn", (json_int_t)s->conn_id, "stream", (int)s->id, "method",
	    s->method_name, "index", (int)s->msg_index, "len", (json_int_t)len,
	    "sha256", hex);
	if (o == NULL)
		return;
	if (err != NULL) {
		json_object_set_new(o, "parse_error", json_string(err));
	} else {
		json_object_set_new(o, "session_id",
		    scb_json_bytes(id->session_id, id->session_id_len));
		json_object_set_new(o, "user_id",
		    scb_json_bytes(id->user_id, id->user_id_len));
		json_object_set_new(o, "user_name",
		    scb_json_bytes(id->user_name, id->user_name_len));
		json_object_set_new(o, "user_context_count",
		    json_integer(id->uc_count));
	}
	scb_record_emit(o);
}

/* ---- responses ---------------------------------------------------------- */

static void
put_sid(struct scb_buf *b, uint32_t num, const struct scb_ident *id)
{
	scb_pb_put_bytes(b, num, id->session_id, id->session_id_len);
}

/* Sends s->resp as the single response message with status OK. */
static void
reply(struct scb_stream *s)
{
	if (s->resp.oom) {
		scb_stream_fail(s, SCB_GRPC_RESOURCE_EXHAUSTED,
		    "out of memory");
		return;
	}
	s->resp_pending = true;
	scb_stream_respond_unary(s, SCB_GRPC_OK, NULL);
}

/* The call's session (made when missing if create).  Like a real server,
 * a client that remembers a different server_side_session_id gets
 * INVALID_HANDLE.SESSION_CHANGED: that is how a 4.x client notices it was
 * routed to another backend.  Returns NULL when the session is absent or
 * the call has been failed (then s->responded is set). */
static struct scb_session *
call_session(struct scb_stream *s, bool create)
{
	const struct scb_ident *id = &s->ident;
	struct scb_session *sess;

	sess = scb_session_get(id->user_id, id->user_id_len, id->session_id,
	    id->session_id_len, create);
	if (sess == NULL) {
		if (create)
			scb_stream_fail(s, SCB_GRPC_RESOURCE_EXHAUSTED,
			    "out of memory");
		return NULL;
	}
	if (id->has_observed && id->observed_len > 0 &&
	    !(id->observed_len == SCB_UUID_LEN &&
	        memcmp(id->observed, sess->sssid, SCB_UUID_LEN) == 0)) {
		scb_stream_fail(s, SCB_GRPC_INTERNAL,
		    "[INVALID_HANDLE.SESSION_CHANGED] The existing Spark server "
		    "driver instance has restarted.");
		return NULL;
	}
	return sess;
}

/* ---- ExecutePlan / ReattachExecute ------------------------------------- */

static void
start_exec(struct scb_stream *s, struct scb_op *op, uint64_t first)
{
	bool test_end = s->ctl.status >= 0;
	uint64_t delay = s->ctl.delay_set ? s->ctl.delay_ms : op->delay_ms;

	if (scb_exec_start(s, op, first, !test_end, delay) < 0) {
		scb_stream_fail(s, SCB_GRPC_RESOURCE_EXHAUSTED,
		    "out of memory");
		return;
	}
	/* sc-test-status replaces result_complete + OK at the end */
	scb_stream_set_status(s, test_end ? s->ctl.status : SCB_GRPC_OK,
	    test_end ? s->ctl.message : NULL);
	scb_stream_respond_exec(s);
}

static void
handle_execute(struct scb_stream *s)
{
	struct scb_session *sess;
	struct scb_op *op;
	struct scb_pb r;
	struct scb_pb_field f;
	const uint8_t *op_id = NULL;
	size_t op_len = 0;
	char uuid[SCB_UUID_LEN + 1];

	sess = call_session(s, true);
	if (sess == NULL)
		return;
	if (pb_last(s->req, s->req_len, 6, SCB_PB_LEN, &f) && f.len > 0) {
		op_id = f.data;
		op_len = f.len;
	} else {
		scb_uuid4(uuid);
		op_id = (const uint8_t *)uuid;
		op_len = SCB_UUID_LEN;
	}
	if (scb_op_find(sess, op_id, op_len) != NULL) {
		scb_stream_fail(s, SCB_GRPC_INTERNAL,
		    "[INVALID_HANDLE.OPERATION_ALREADY_EXISTS] Operation "
		    "already exists.");
		return;
	}
	op = scb_op_new(sess, op_id, op_len);
	if (op == NULL) {
		scb_stream_fail(s, SCB_GRPC_RESOURCE_EXHAUSTED,
		    "out of memory");
		return;
	}
	op->count = s->ctl.count;
	op->size = s->ctl.size;
	op->delay_ms = s->ctl.delay_ms;
	scb_pb_init(&r, s->req, s->req_len);
	while (scb_pb_next(&r, &f) == 1) {
		if (f.num == 7 && f.wt == SCB_PB_LEN &&
		    scb_op_add_tag(op, f.data, f.len) < 0) {
			scb_stream_fail(s, SCB_GRPC_RESOURCE_EXHAUSTED,
			    "out of memory");
			return;
		}
	}
	start_exec(s, op, 0);
}

static void
handle_reattach(struct scb_stream *s)
{
	struct scb_session *sess;
	struct scb_op *op = NULL;
	struct scb_pb_field f;
	uint64_t idx, first = 0;

	sess = call_session(s, false);
	if (s->responded)
		return;
	if (sess != NULL && pb_last(s->req, s->req_len, 3, SCB_PB_LEN, &f))
		op = scb_op_find(sess, f.data, f.len);
	if (op == NULL) {
		scb_stream_fail(s, SCB_GRPC_INTERNAL,
		    "INVALID_HANDLE.OPERATION_NOT_FOUND");
		return;
	}
	if (pb_last(s->req, s->req_len, 5, SCB_PB_LEN, &f)) {
		if (!scb_exec_parse_response_id(op, f.data, f.len, &idx)) {
			scb_stream_fail(s, SCB_GRPC_INTERNAL,
			    "INVALID_CURSOR.POSITION_NOT_AVAILABLE");
			return;
		}
		first = idx + 1;
	}
	start_exec(s, op, first);
}

static void
handle_release_execute(struct scb_stream *s)
{
	struct scb_session *sess;
	struct scb_op *op;
	struct scb_pb r;
	struct scb_pb_field f, opf = { 0 };
	bool has_op, until = false;
	char sssid[SCB_UUID_LEN + 1] = "";

	sess = call_session(s, false);
	if (s->responded)
		return;
	has_op = pb_last(s->req, s->req_len, 3, SCB_PB_LEN, &opf);
	scb_pb_init(&r, s->req, s->req_len);
	while (scb_pb_next(&r, &f) == 1) {
		if (f.num == 5 && f.wt == SCB_PB_LEN)
			until = false; /* release_all */
		else if (f.num == 6 && f.wt == SCB_PB_LEN)
			until = true; /* release_until: keep the op */
	}
	if (sess != NULL) {
		memcpy(sssid, sess->sssid, sizeof(sssid));
		op = has_op ? scb_op_find(sess, opf.data, opf.len) : NULL;
		if (op != NULL && !until)
			scb_op_release(op);
	}
	put_sid(&s->resp, 1, &s->ident);
	if (has_op)
		scb_pb_put_bytes(&s->resp, 2, opf.data, opf.len);
	if (*sssid)
		scb_pb_put_str(&s->resp, 3, sssid);
	reply(s);
}

/* ---- sessions ----------------------------------------------------------- */

static void
handle_release_session(struct scb_stream *s)
{
	struct scb_session *sess;

	sess = call_session(s, false);
	if (s->responded)
		return;
	put_sid(&s->resp, 1, &s->ident);
	if (sess != NULL) {
		scb_pb_put_str(&s->resp, 2, sess->sssid);
		scb_session_release(sess);
	}
	reply(s);
}

static void
handle_clone(struct scb_stream *s)
{
	const struct scb_ident *id = &s->ident;
	struct scb_session *sess, *ns;
	struct scb_pb_field f;
	const uint8_t *nsid;
	size_t nlen;
	char uuid[SCB_UUID_LEN + 1];

	sess = call_session(s, true);
	if (sess == NULL)
		return;
	if (pb_last(s->req, s->req_len, 4, SCB_PB_LEN, &f) && f.len > 0) {
		nsid = f.data;
		nlen = f.len;
	} else {
		scb_uuid4(uuid);
		nsid = (const uint8_t *)uuid;
		nlen = SCB_UUID_LEN;
	}
	if (scb_session_get(id->user_id, id->user_id_len, nsid, nlen, false) !=
	    NULL) {
		scb_stream_fail(s, SCB_GRPC_INTERNAL,
		    "[INVALID_HANDLE.SESSION_ALREADY_EXISTS] The session "
		    "already exists.");
		return;
	}
	ns = scb_session_get(id->user_id, id->user_id_len, nsid, nlen, true);
	if (ns == NULL) {
		scb_stream_fail(s, SCB_GRPC_RESOURCE_EXHAUSTED,
		    "out of memory");
		return;
	}
	/* a clone starts with the source's confs and artifacts */
	for (const struct scb_kv *kv = sess->conf; kv != NULL; kv = kv->next)
		scb_conf_set(ns, (const uint8_t *)kv->key.p, kv->key.n,
		    (const uint8_t *)kv->val.p, kv->val.n);
	for (const struct scb_kv *kv = sess->artifacts; kv; kv = kv->next)
		scb_artifact_add(ns, (const uint8_t *)kv->key.p, kv->key.n);
	put_sid(&s->resp, 1, id);
	scb_pb_put_str(&s->resp, 2, sess->sssid);
	scb_pb_put_bytes(&s->resp, 3, nsid, nlen);
	scb_pb_put_str(&s->resp, 4, ns->sssid);
	reply(s);
}

/* GetStatusResponse.OperationStatus.OperationState */
static uint64_t
op_state(const struct scb_op *op)
{
	if (op == NULL)
		return 1; /* UNKNOWN */
	if (op->interrupted)
		return 6;            /* CANCELLED */
	return op->complete ? 4 : 2; /* SUCCEEDED : RUNNING */
}

static void
put_op_status(struct scb_buf *b, const uint8_t *op_id, size_t n,
    const struct scb_op *op)
{
	size_t m = scb_pb_open(b, 3);

	scb_pb_put_bytes(b, 1, op_id, n);
	scb_pb_put_u64(b, 2, op_state(op));
	scb_pb_close(b, m);
}

static void
handle_get_status(struct scb_stream *s)
{
	struct scb_session *sess;
	struct scb_pb_field st, f;
	struct scb_pb r;
	bool any = false;

	sess = call_session(s, true);
	if (sess == NULL)
		return;
	put_sid(&s->resp, 1, &s->ident);
	scb_pb_put_str(&s->resp, 2, sess->sssid);
	if (pb_last(s->req, s->req_len, 5, SCB_PB_LEN, &st)) {
		scb_pb_init(&r, st.data, st.len);
		while (scb_pb_next(&r, &f) == 1) {
			if (f.num != 1 || f.wt != SCB_PB_LEN)
				continue;
			any = true;
			put_op_status(&s->resp, f.data, f.len,
			    scb_op_find(sess, f.data, f.len));
		}
		/* no ids asked: every operation of the session */
		for (const struct scb_op *op = sess->ops; !any && op != NULL;
		     op = op->sess_next)
			put_op_status(&s->resp, (const uint8_t *)op->op_id.p,
			    op->op_id.n, op);
	}
	reply(s);
}

static void
handle_interrupt(struct scb_stream *s)
{
	struct scb_session *sess;
	struct scb_pb_field f;
	uint64_t type = 0;
	struct scb_pb_field tag = { 0 }, opid = { 0 };
	bool has_tag, has_opid;

	sess = call_session(s, true);
	if (sess == NULL)
		return;
	if (pb_last(s->req, s->req_len, 4, SCB_PB_VARINT, &f))
		type = f.v;
	has_tag = pb_last(s->req, s->req_len, 5, SCB_PB_LEN, &tag);
	has_opid = pb_last(s->req, s->req_len, 6, SCB_PB_LEN, &opid);
	if (type == 0) /* UNSPECIFIED: go by what the request carries */
		type = has_opid ? 3 : has_tag ? 2 : 1;
	put_sid(&s->resp, 1, &s->ident);
	for (struct scb_op *op = sess->ops; op != NULL; op = op->sess_next) {
		bool match = type == 1;

		if (type == 3 && has_opid)
			match = scb_str_eq(&op->op_id, opid.data, opid.len);
		for (size_t i = 0; type == 2 && has_tag && i < op->ntags; i++)
			match = match ||
			    scb_str_eq(&op->tags[i], tag.data, tag.len);
		if (!match)
			continue;
		op->interrupted = true;
		scb_pb_put_bytes(&s->resp, 2, op->op_id.p, op->op_id.n);
	}
	scb_pb_put_str(&s->resp, 3, sess->sssid);
	reply(s);
}

/* ---- Config ------------------------------------------------------------- */

static void
put_kv(struct scb_buf *b, const uint8_t *key, size_t klen, const uint8_t *val,
    size_t vlen, bool has_val)
{
	size_t m = scb_pb_open(b, 2);

	scb_pb_put_bytes(b, 1, key, klen);
	if (has_val)
		scb_pb_put_bytes(b, 2, val, vlen);
	scb_pb_close(b, m);
}

/* KeyValue{key=1, value=2 optional} */
static void
parse_kv(const uint8_t *p, size_t n, struct scb_pb_field *key,
    struct scb_pb_field *val, bool *has_val)
{
	struct scb_pb_field f;

	memset(key, 0, sizeof(*key));
	key->data = empty;
	*has_val = pb_last(p, n, 2, SCB_PB_LEN, val);
	if (pb_last(p, n, 1, SCB_PB_LEN, &f))
		*key = f;
}

static void
handle_config(struct scb_stream *s)
{
	struct scb_session *sess;
	struct scb_pb_field opf, f, k, v;
	struct scb_pb r;
	const struct scb_kv *kv;
	uint32_t op_type = 0;
	const uint8_t *body = empty;
	size_t body_len = 0;
	bool has_val;
	char msg[512];

	sess = call_session(s, true);
	if (sess == NULL)
		return;
	/* Operation: a oneof, the last member set wins */
	if (pb_last(s->req, s->req_len, 3, SCB_PB_LEN, &opf)) {
		scb_pb_init(&r, opf.data, opf.len);
		while (scb_pb_next(&r, &f) == 1) {
			if (f.num >= 1 && f.num <= 7 && f.wt == SCB_PB_LEN) {
				op_type = f.num;
				body = f.data;
				body_len = f.len;
			}
		}
	}
	if (op_type == 2) {
		/* get: every key must exist, or the call fails */
		scb_pb_init(&r, body, body_len);
		while (scb_pb_next(&r, &f) == 1) {
			if (f.num != 1 || f.wt != SCB_PB_LEN ||
			    scb_conf_get(sess, f.data, f.len) != NULL)
				continue;
			snprintf(msg, sizeof(msg),
			    "[SQL_CONF_NOT_FOUND] The SQL "
			    "config \"%.*s\" cannot be found.",
			    (int)(f.len < 400 ? f.len : 400),
			    (const char *)f.data);
			scb_stream_fail(s, SCB_GRPC_INTERNAL, msg);
			return;
		}
	}
	put_sid(&s->resp, 1, &s->ident);
	scb_pb_init(&r, body, body_len);
	while (scb_pb_next(&r, &f) == 1) {
		if (f.wt != SCB_PB_LEN || f.num != 1)
			continue;
		switch (op_type) {
		case 1: /* set: pairs */
			parse_kv(f.data, f.len, &k, &v, &has_val);
			if (scb_conf_set(sess, k.data, k.len,
			        has_val ? v.data : empty,
			        has_val ? v.len : 0) < 0)
				s->resp.oom = true;
			break;
		case 3: /* get_with_default: pairs (value = default) */
			parse_kv(f.data, f.len, &k, &v, &has_val);
			kv = scb_conf_get(sess, k.data, k.len);
			if (kv != NULL)
				put_kv(&s->resp, k.data, k.len,
				    (const uint8_t *)kv->val.p, kv->val.n,
				    true);
			else
				put_kv(&s->resp, k.data, k.len, v.data, v.len,
				    has_val);
			break;
		case 2: /* get: keys */
		case 4: /* get_option: keys */
			kv = scb_conf_get(sess, f.data, f.len);
			put_kv(&s->resp, f.data, f.len,
			    kv ? (const uint8_t *)kv->val.p : empty,
			    kv ? kv->val.n : 0, kv != NULL);
			break;
		case 6: /* unset: keys */
			scb_conf_unset(sess, f.data, f.len);
			break;
		case 7: /* is_modifiable: keys */
			put_kv(&s->resp, f.data, f.len, (const uint8_t *)"true",
			    4, true);
			break;
		default:
			break;
		}
	}
	if (op_type == 5) {
		/* get_all{prefix=1 optional}: keys come back without it */
		struct scb_pb_field pf = { 0 };

		pf.data = empty;
		pb_last(body, body_len, 1, SCB_PB_LEN, &pf);
		for (kv = sess->conf; kv != NULL; kv = kv->next) {
			if (kv->key.n < pf.len ||
			    memcmp(kv->key.p, pf.data, pf.len) != 0)
				continue;
			put_kv(&s->resp, (const uint8_t *)kv->key.p + pf.len,
			    kv->key.n - pf.len, (const uint8_t *)kv->val.p,
			    kv->val.n, true);
		}
	}
	scb_pb_put_str(&s->resp, 4, sess->sssid);
	reply(s);
}

/* ---- AnalyzePlan -------------------------------------------------------- */

/* DataType{struct=21 {fields=1 [id: long not null, value: binary]}} */
static void
put_schema(struct scb_buf *b, uint32_t num)
{
	size_t dt, st, fl, ft, k;

	dt = scb_pb_open(b, num);
	st = scb_pb_open(b, 21);

	fl = scb_pb_open(b, 1);
	scb_pb_put_str(b, 1, "id");
	ft = scb_pb_open(b, 2);
	k = scb_pb_open(b, 7); /* long */
	scb_pb_close(b, k);
	scb_pb_close(b, ft);
	scb_pb_close(b, fl); /* nullable=false: omitted */

	fl = scb_pb_open(b, 1);
	scb_pb_put_str(b, 1, "value");
	ft = scb_pb_open(b, 2);
	k = scb_pb_open(b, 2); /* binary */
	scb_pb_close(b, k);
	scb_pb_close(b, ft);
	scb_pb_put_bool(b, 3, true);
	scb_pb_close(b, fl);

	scb_pb_close(b, st);
	scb_pb_close(b, dt);
}

/* Writes the answer to analyze case req_num (request field number) as the
 * matching AnalyzePlanResponse field. */
static void
put_analyze_result(struct scb_buf *b, uint32_t req_num,
    const struct scb_pb_field *req)
{
	struct scb_pb_field p1 = { 0 }, p2 = { 0 };
	size_t m, sl;
	bool same;

	switch (req_num) {
	case 4: /* schema -> 2 Schema{schema=1} */
		m = scb_pb_open(b, 2);
		put_schema(b, 1);
		scb_pb_close(b, m);
		break;
	case 5: /* explain -> 3 Explain{explain_string=1} */
		m = scb_pb_open(b, 3);
		scb_pb_put_str(b, 1,
		    "== Physical Plan ==\n"
		    "*(1) Scan sc-test-backend [id#0L, value#1]\n");
		scb_pb_close(b, m);
		break;
	case 6: /* tree_string -> 4 TreeString{tree_string=1} */
		m = scb_pb_open(b, 4);
		scb_pb_put_str(b, 1,
		    "root\n |-- id: long (nullable = false)\n"
		    " |-- value: binary (nullable = true)\n");
		scb_pb_close(b, m);
		break;
	case 7:  /* is_local -> 5 IsLocal{is_local=1 false} */
	case 8:  /* is_streaming -> 6 IsStreaming{is_streaming=1 false} */
	case 9:  /* input_files -> 7 InputFiles{} */
	case 14: /* persist -> 12 Persist{} */
	case 15: /* unpersist -> 13 Unpersist{} */
		m = scb_pb_open(b, req_num - 2);
		scb_pb_close(b, m);
		break;
	case 10: /* spark_version -> 8 SparkVersion{version=1} */
		m = scb_pb_open(b, 8);
		scb_pb_put_str(b, 1, scb_cfg.version);
		scb_pb_close(b, m);
		break;
	case 11: /* ddl_parse -> 9 DDLParse{parsed=1 DataType} */
		m = scb_pb_open(b, 9);
		put_schema(b, 1);
		scb_pb_close(b, m);
		break;
	case 12: /* same_semantics -> 10 SameSemantics{result=1} */
		p1.data = p2.data = empty;
		pb_last(req->data, req->len, 1, SCB_PB_LEN, &p1);
		pb_last(req->data, req->len, 2, SCB_PB_LEN, &p2);
		same = p1.len == p2.len &&
		    (p1.len == 0 || memcmp(p1.data, p2.data, p1.len) == 0);
		m = scb_pb_open(b, 10);
		if (same)
			scb_pb_put_bool(b, 1, true);
		scb_pb_close(b, m);
		break;
	case 13: /* semantic_hash -> 11 SemanticHash{result=1 int32} */
		m = scb_pb_open(b, 11);
		scb_pb_put_u64(b, 1,
		    scb_crc32(req->data, req->len) & 0x7fffffffU);
		scb_pb_close(b, m);
		break;
	case 16: /* get_storage_level -> 14 {storage_level=1 StorageLevel} */
		m = scb_pb_open(b, 14);
		sl = scb_pb_open(b, 1);
		scb_pb_put_bool(b, 1, true); /* use_disk */
		scb_pb_put_bool(b, 2, true); /* use_memory */
		scb_pb_put_u64(b, 5, 1);     /* replication */
		scb_pb_close(b, sl);
		scb_pb_close(b, m);
		break;
	case 18: /* json_to_ddl -> 16 JsonToDDL{ddl_string=1} */
		m = scb_pb_open(b, 16);
		scb_pb_put_str(b, 1, "id BIGINT NOT NULL,value BINARY");
		scb_pb_close(b, m);
		break;
	default:
		break;
	}
}

static void
handle_analyze(struct scb_stream *s)
{
	struct scb_session *sess;
	struct scb_pb r;
	struct scb_pb_field f, which = { 0 };

	sess = call_session(s, true);
	if (sess == NULL)
		return;
	/* the analyze oneof: fields 4..16 and 18, last one set wins */
	scb_pb_init(&r, s->req, s->req_len);
	while (scb_pb_next(&r, &f) == 1) {
		if (f.wt == SCB_PB_LEN &&
		    ((f.num >= 4 && f.num <= 16) || f.num == 18))
			which = f;
	}
	if (which.num == 0) {
		scb_stream_fail(s, SCB_GRPC_INVALID_ARGUMENT,
		    "AnalyzePlanRequest without an analyze case");
		return;
	}
	put_sid(&s->resp, 1, &s->ident);
	if (which.num != 18)
		put_analyze_result(&s->resp, which.num, &which);
	scb_pb_put_str(&s->resp, 15, sess->sssid);
	if (which.num == 18)
		put_analyze_result(&s->resp, which.num, &which);
	reply(s);
}

/* ---- FetchErrorDetails, ArtifactStatus ---------------------------------- */

static void
handle_fetch_error(struct scb_stream *s)
{
	struct scb_session *sess;
	struct scb_pb_field f;
	struct scb_buf msg = { 0 };
	size_t m;

	sess = call_session(s, true);
	if (sess == NULL)
		return;
	scb_buf_add(&msg, "test error ", 11);
	if (pb_last(s->req, s->req_len, 3, SCB_PB_LEN, &f))
		scb_buf_add(&msg, f.data, f.len);
	/* root_error_idx is optional int32: sent even though it is 0 */
	scb_pb_put_u64(&s->resp, 1, 0);
	m = scb_pb_open(&s->resp, 2);
	scb_pb_put_str(&s->resp, 1, "org.apache.spark.SparkException");
	scb_pb_put_bytes(&s->resp, 2, msg.data ? msg.data : empty, msg.len);
	scb_pb_close(&s->resp, m);
	scb_pb_put_str(&s->resp, 3, sess->sssid);
	put_sid(&s->resp, 4, &s->ident);
	if (msg.oom)
		s->resp.oom = true;
	scb_buf_free(&msg);
	reply(s);
}

static void
handle_artifact_status(struct scb_stream *s)
{
	struct scb_session *sess;
	struct scb_pb r;
	struct scb_pb_field f;
	size_t e, v;

	sess = call_session(s, true);
	if (sess == NULL)
		return;
	/* statuses=1: map<string, ArtifactStatus{exists=1}> entries */
	scb_pb_init(&r, s->req, s->req_len);
	while (scb_pb_next(&r, &f) == 1) {
		if (f.num != 4 || f.wt != SCB_PB_LEN)
			continue;
		e = scb_pb_open(&s->resp, 1);
		scb_pb_put_bytes(&s->resp, 1, f.data, f.len);
		v = scb_pb_open(&s->resp, 2);
		if (scb_artifact_has(sess, f.data, f.len))
			scb_pb_put_bool(&s->resp, 1, true);
		scb_pb_close(&s->resp, v);
		scb_pb_close(&s->resp, e);
	}
	put_sid(&s->resp, 2, &s->ident);
	scb_pb_put_str(&s->resp, 3, sess->sssid);
	reply(s);
}

/* ---- AddArtifacts ------------------------------------------------------- */

/* ArtifactChunk{data=1, crc=2 int64}: true when crc is CRC-32(data). */
static bool
chunk_ok(const uint8_t *p, size_t n)
{
	struct scb_pb_field d = { 0 }, c;

	d.data = empty;
	pb_last(p, n, 1, SCB_PB_LEN, &d);
	if (!pb_last(p, n, 2, SCB_PB_VARINT, &c))
		return false;
	return c.v == scb_crc32(d.data, d.len);
}

static struct art_res *
art_add(struct scb_artifacts *a, const uint8_t *name, size_t n, bool ok,
    bool complete)
{
	struct art_res *r;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->name = malloc(n + 1);
	if (r->name == NULL) {
		free(r);
		return NULL;
	}
	if (n)
		memcpy(r->name, name, n);
	r->name[n] = '\0';
	r->name_len = n;
	r->ok = ok;
	r->complete = complete;
	*a->tail = r;
	a->tail = &r->next;
	return r;
}

/* Checks one AddArtifactsRequest payload (oneof: batch=3, begin_chunk=4,
 * chunk=5).  Returns an error text, or NULL. */
static const char *
art_message(struct scb_stream *s, const uint8_t *msg, size_t len)
{
	struct scb_artifacts *a = s->art;
	struct scb_pb r;
	struct scb_pb_field f, pay = { 0 }, name, sub;
	struct art_res *res;
	uint64_t nchunks = 1;

	if (a == NULL) {
		a = calloc(1, sizeof(*a));
		if (a == NULL)
			return "out of memory";
		a->tail = &a->head;
		s->art = a;
	}
	scb_pb_init(&r, msg, len);
	while (scb_pb_next(&r, &f) == 1) {
		if (f.num >= 3 && f.num <= 5 && f.wt == SCB_PB_LEN)
			pay = f;
	}
	switch (pay.num) {
	case 3: /* Batch{artifacts=1 [SingleChunkArtifact{name=1, data=2}]} */
		scb_pb_init(&r, pay.data, pay.len);
		while (scb_pb_next(&r, &f) == 1) {
			if (f.num != 1 || f.wt != SCB_PB_LEN)
				continue;
			if (!scb_pb_valid(f.data, f.len))
				return "malformed SingleChunkArtifact";
			name.data = empty;
			name.len = 0;
			pb_last(f.data, f.len, 1, SCB_PB_LEN, &name);
			sub.data = empty;
			sub.len = 0;
			pb_last(f.data, f.len, 2, SCB_PB_LEN, &sub);
			if (art_add(a, name.data, name.len,
			        chunk_ok(sub.data, sub.len), true) == NULL)
				return "out of memory";
		}
		return scb_pb_valid(pay.data, pay.len)
		    ? NULL
		    : "malformed AddArtifactsRequest.Batch";
	case 4: /* BeginChunkedArtifact{name=1, total_bytes=2, num_chunks=3,
		 * initial_chunk=4} */
		if (!scb_pb_valid(pay.data, pay.len))
			return "malformed BeginChunkedArtifact";
		if (a->chunked != NULL)
			a->chunked->ok = false; /* previous one cut short */
		a->chunked = NULL;
		name.data = empty;
		name.len = 0;
		pb_last(pay.data, pay.len, 1, SCB_PB_LEN, &name);
		if (pb_last(pay.data, pay.len, 3, SCB_PB_VARINT, &f) && f.v > 1)
			nchunks = f.v;
		sub.data = empty;
		sub.len = 0;
		pb_last(pay.data, pay.len, 4, SCB_PB_LEN, &sub);
		res = art_add(a, name.data, name.len,
		    chunk_ok(sub.data, sub.len), nchunks == 1);
		if (res == NULL)
			return "out of memory";
		if (nchunks > 1) {
			a->chunked = res;
			a->chunks_left = nchunks - 1;
		}
		return NULL;
	case 5: /* ArtifactChunk, continuing the chunked artifact */
		if (a->chunked == NULL)
			return "ArtifactChunk without a BeginChunkedArtifact";
		if (!chunk_ok(pay.data, pay.len))
			a->chunked->ok = false;
		if (--a->chunks_left == 0) {
			a->chunked->complete = true;
			a->chunked = NULL;
		}
		return NULL;
	default:
		return NULL;
	}
}

static void
handle_add_artifacts(struct scb_stream *s)
{
	struct scb_session *sess;
	struct scb_artifacts *a = s->art;
	size_t m;

	sess = call_session(s, true);
	if (sess == NULL)
		return;
	for (struct art_res *r = a ? a->head : NULL; r != NULL; r = r->next) {
		bool ok = r->ok && r->complete;

		if (ok &&
		    scb_artifact_add(sess, (const uint8_t *)r->name,
		        r->name_len) < 0)
			s->resp.oom = true;
		m = scb_pb_open(&s->resp, 1);
		scb_pb_put_bytes(&s->resp, 1, r->name, r->name_len);
		if (ok)
			scb_pb_put_bool(&s->resp, 2, true);
		scb_pb_close(&s->resp, m);
	}
	put_sid(&s->resp, 2, &s->ident);
	scb_pb_put_str(&s->resp, 3, sess->sssid);
	reply(s);
}

void
scb_rpc_stream_cleanup(struct scb_stream *s)
{
	struct art_res *r, *next;

	if (s->art == NULL)
		return;
	for (r = s->art->head; r != NULL; r = next) {
		next = r->next;
		free(r->name);
		free(r);
	}
	free(s->art);
	s->art = NULL;
}

/* ---- entry points ------------------------------------------------------- */

bool
scb_rpc_on_message(struct scb_stream *s, uint8_t *msg, size_t len)
{
	const struct method_def *def = method_def(s->method);
	struct scb_ident id;
	const char *err;
	char text[160];

	err = parse_ident(msg, len, def ? def->observed : 0, &id);
	record_message(s, msg, len, &id, err);
	if (err != NULL) {
		snprintf(text, sizeof(text), "invalid protobuf: %s", err);
		scb_stream_fail(s, SCB_GRPC_INVALID_ARGUMENT, text);
		return false;
	}
	if (s->method == SCB_M_ADD_ARTIFACTS) {
		/* client streaming: check each message now, keep only the
		 * first (its identity answers the call) */
		err = s->ctl.status >= 0 ? NULL : art_message(s, msg, len);
		if (err != NULL) {
			scb_stream_fail(s, SCB_GRPC_INVALID_ARGUMENT, err);
			return false;
		}
		if (s->req != NULL)
			return false;
	} else if (s->req != NULL) {
		scb_stream_fail(s, SCB_GRPC_INTERNAL,
		    "too many request messages for a non-client-streaming "
		    "method");
		return false;
	}
	s->req = msg;
	s->req_len = len;
	s->ident = id;
	return true;
}

void
scb_rpc_on_end(struct scb_stream *s)
{
	bool exec = s->method == SCB_M_EXECUTE_PLAN ||
	    s->method == SCB_M_REATTACH_EXECUTE;

	if (s->req == NULL) {
		scb_stream_fail(s, SCB_GRPC_INTERNAL,
		    "half-closed without a request message");
		return;
	}
	if (s->ctl.status >= 0) {
		if (s->ctl.trailers_only) {
			scb_stream_fail(s, s->ctl.status, s->ctl.message);
			return;
		}
		if (!exec) {
			/* instead of the response: HEADERS, then trailers */
			scb_stream_respond_unary(s, s->ctl.status,
			    s->ctl.message);
			return;
		}
	}
	switch (s->method) {
	case SCB_M_EXECUTE_PLAN:
		handle_execute(s);
		break;
	case SCB_M_REATTACH_EXECUTE:
		handle_reattach(s);
		break;
	case SCB_M_ANALYZE_PLAN:
		handle_analyze(s);
		break;
	case SCB_M_CONFIG:
		handle_config(s);
		break;
	case SCB_M_ADD_ARTIFACTS:
		handle_add_artifacts(s);
		break;
	case SCB_M_ARTIFACT_STATUS:
		handle_artifact_status(s);
		break;
	case SCB_M_INTERRUPT:
		handle_interrupt(s);
		break;
	case SCB_M_RELEASE_EXECUTE:
		handle_release_execute(s);
		break;
	case SCB_M_RELEASE_SESSION:
		handle_release_session(s);
		break;
	case SCB_M_FETCH_ERROR_DETAILS:
		handle_fetch_error(s);
		break;
	case SCB_M_CLONE_SESSION:
		handle_clone(s);
		break;
	case SCB_M_GET_STATUS:
		handle_get_status(s);
		break;
	case SCB_M_UNKNOWN:
	default:
		scb_stream_fail(s, SCB_GRPC_UNIMPLEMENTED, "unknown method");
		break;
	}
}
