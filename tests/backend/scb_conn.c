/*
 * scb_conn.c - HTTP/2 connections of the test backend.
 *
 * Receive side: nghttp2 callbacks build a scb_stream per request, collect
 * its headers, cut the DATA into gRPC messages and hand them to scb_rpc.c.
 *
 * Send side: every response body goes through one data provider that uses
 * NGHTTP2_DATA_FLAG_NO_COPY, so on_send_data() writes each DATA frame into
 * the bufferevent itself: the frame header is copied, large payload ranges
 * from the static data pool are added by reference (writev straight from
 * the pool), small ones are copied.  Output is bounded: on_send_data()
 * says WOULDBLOCK above OUT_HIGH bytes queued and the write callback (at
 * OUT_LOW) resumes sending, so a slow reader back-pressures generation.
 */
#include "config.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <openssl/x509.h>

#include "scb.h"
#include "scb_conn.h"
#include "scb_exec.h"
#include "scb_record.h"
#include "scb_rpc.h"
#include "scb_stream.h"
#include "scb_util.h"

#define CONN_MAGIC 0x5cbc0441U

#define OUT_HIGH (4U * 1024 * 1024) /* queued output: stop producing */
#define OUT_LOW (1U * 1024 * 1024)  /* write callback: produce again */
#define REF_MIN 4096                /* smaller ranges are copied */
#define STREAM_WINDOW (4 * 1024 * 1024)
#define CONN_WINDOW (32 * 1024 * 1024)
#define RECV_FRAME_MAX (1024 * 1024)
#define SEND_FRAME_MAX (1024 * 1024)

struct scb_conn {
	uint32_t magic;
	uint64_t id;
	struct scb_conn *prev, *next;
	struct event_base *base;
	struct bufferevent *bev;
	nghttp2_session *h2;
	bool tls;
	bool opened;   /* conn_open recorded */
	bool draining; /* session done, waiting for output to drain */
	char peer[INET6_ADDRSTRLEN + 16];
	struct scb_stream *streams;
};

static struct scb_conn *conns;
static uint64_t next_conn_id;
/* request bytes reserved by message buffers of all streams */
static uint64_t buffered_total;

static void conn_free(struct scb_conn *c);

static struct scb_conn *
conn_cast(void *p)
{
	struct scb_conn *c = p;

	if (c == NULL || c->magic != CONN_MAGIC)
		abort();
	return c;
}

static struct scb_stream *
stream_get(struct scb_conn *c, int32_t id)
{
	struct scb_stream *s = nghttp2_session_get_stream_user_data(c->h2, id);

	if (s != NULL && s->magic != SCB_STREAM_MAGIC)
		abort();
	return s;
}

struct event_base *
scb_stream_base(const struct scb_stream *s)
{
	return s->conn->base;
}

void
scb_stream_set_status(struct scb_stream *s, int code, const char *msg)
{
	s->final_status = code;
	free(s->final_message);
	s->final_message = msg && *msg ? strdup(msg) : NULL;
}

/* ---- records ------------------------------------------------------------ */

static void
record_conn_open(struct scb_conn *c, const char *cn)
{
	json_t *o;

	c->opened = true;
	if (!scb_record_enabled())
		return;
	o = json_pack("{s:s, s:I, s:s, s:b}", "ev", "conn_open", "conn",
	    (json_int_t)c->id, "peer", c->peer, "tls", c->tls);
	if (o != NULL && cn != NULL)
		json_object_set_new(o, "client_cert_cn",
		    scb_json_bytes(cn, strlen(cn)));
	scb_record_emit(o);
}

static void
record_stream_close(struct scb_stream *s, uint32_t error_code, bool lost)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned int mdlen = 0;
	json_t *o;

	if (s->closed)
		return;
	s->closed = true;
	/* method_name is set when the headers completed (stream_open): a
	 * request nghttp2 reset before that left no open to pair with */
	if (!scb_record_enabled() || s->method_name == NULL)
		return;
	o = json_pack("{s:s, s:I, s:i, s:s, s:I, s:b, s:I, s:I}", "ev",
	    "stream_close", "conn", (json_int_t)s->conn->id, "stream",
	    (int)s->id, "method", s->method_name, "error_code",
	    (json_int_t)error_code, "cancelled", !s->sent_end && !s->we_reset,
	    "sent_messages", (json_int_t)s->sent_messages, "sent_bytes",
	    (json_int_t)s->sent_bytes);
	if (o == NULL)
		return;
	if (s->responded)
		json_object_set_new(o, "grpc_status",
		    json_integer(s->final_status));
	if (lost)
		json_object_set_new(o, "conn_lost", json_true());
	if (s->md != NULL && EVP_DigestFinal_ex(s->md, md, &mdlen) == 1) {
		scb_hex(md, mdlen, hex);
		json_object_set_new(o, "sha256", json_string(hex));
	}
	scb_record_emit(o);
}

/* ---- streams ------------------------------------------------------------ */

static struct scb_stream *
stream_new(struct scb_conn *c, int32_t id)
{
	struct scb_stream *s;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->magic = SCB_STREAM_MAGIC;
	s->conn = c;
	s->conn_id = c->id;
	s->id = id;
	s->ctl.count = 1;
	s->ctl.size = 64;
	s->ctl.status = -1;
	if (scb_record_enabled()) {
		s->headers = json_object();
		if (s->headers == NULL) {
			free(s);
			return NULL;
		}
	}
	s->next = c->streams;
	if (c->streams != NULL)
		c->streams->prev = s;
	c->streams = s;
	return s;
}

static void
stream_free(struct scb_stream *s)
{
	struct scb_conn *c = s->conn;

	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		c->streams = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	if (s->msg != NULL)
		buffered_total -= s->msg_len;
	scb_exec_free(s);
	scb_rpc_stream_cleanup(s);
	free(s->msg);
	free(s->req);
	free(s->path);
	free(s->method_name);
	free(s->ctl.message);
	free(s->ctl.error);
	free(s->final_message);
	scb_buf_free(&s->resp);
	json_decref(s->headers);
	EVP_MD_CTX_free(s->md);
	s->magic = 0;
	free(s);
}

/* ---- response side ------------------------------------------------------ */

#define NV(n, v)                                                      \
	{                                                             \
		(uint8_t *)(uintptr_t)(n), (uint8_t *)(uintptr_t)(v), \
		    strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE        \
	}

/* grpc-status, grpc-message and (for errors) grpc-status-details-bin, a
 * base64 google.rpc.Status{code=1, message=2}.  Appends to nva from *n;
 * the strings it allocates are returned in bufs[0..2] for the caller to
 * free.  Returns -1 on ENOMEM. */
static int
status_nv(nghttp2_nv *nva, size_t *n, int code, const char *msg, char *codebuf,
    size_t codelen, char **bufs)
{
	struct scb_buf st = { 0 };

	snprintf(codebuf, codelen, "%d", code);
	nva[(*n)++] = (nghttp2_nv)NV("grpc-status", codebuf);
	if (msg != NULL && *msg) {
		bufs[0] = scb_grpc_percent_encode(msg);
		if (bufs[0] == NULL)
			return -1;
		nva[(*n)++] = (nghttp2_nv)NV("grpc-message", bufs[0]);
	}
	if (code != 0) {
		scb_pb_put_u64(&st, 1, (uint64_t)code);
		if (msg != NULL && *msg)
			scb_pb_put_str(&st, 2, msg);
		if (st.oom) {
			scb_buf_free(&st);
			return -1;
		}
		bufs[1] = scb_base64(st.data, st.len);
		scb_buf_free(&st);
		if (bufs[1] == NULL)
			return -1;
		nva[(*n)++] =
		    (nghttp2_nv)NV("grpc-status-details-bin", bufs[1]);
	}
	return 0;
}

static void
free_bufs(char **bufs)
{
	free(bufs[0]);
	free(bufs[1]);
}

static ssize_t on_read_data(nghttp2_session *h2, int32_t id, uint8_t *buf,
    size_t length, uint32_t *flags, nghttp2_data_source *src, void *ud);

void
scb_stream_fail(struct scb_stream *s, int code, const char *msg)
{
	nghttp2_nv nva[8] = {
		NV(":status", "200"),
		NV("content-type", "application/grpc"),
		NV("x-sc-backend", scb_cfg.name),
	};
	size_t n = 3;
	char codebuf[16], *bufs[2] = { NULL, NULL };

	if (s->responded)
		return;
	s->responded = true;
	s->ignore_input = true;
	scb_stream_set_status(s, code, msg);
	if (status_nv(nva, &n, code, msg, codebuf, sizeof(codebuf), bufs) < 0 ||
	    nghttp2_submit_response(s->conn->h2, s->id, nva, n, NULL) != 0) {
		nghttp2_submit_rst_stream(s->conn->h2, NGHTTP2_FLAG_NONE, s->id,
		    NGHTTP2_INTERNAL_ERROR);
	}
	free_bufs(bufs);
}

static void
respond(struct scb_stream *s, enum scb_out_kind kind)
{
	nghttp2_nv nva[] = {
		NV(":status", "200"),
		NV("content-type", "application/grpc"),
		NV("grpc-accept-encoding", "identity"),
		NV("x-sc-backend", scb_cfg.name),
	};
	nghttp2_data_provider prd;

	if (s->responded)
		return;
	s->responded = true;
	s->ignore_input = true;
	s->out = kind;
	prd.source.ptr = s;
	prd.read_callback = on_read_data;
	if (nghttp2_submit_response(s->conn->h2, s->id, nva,
	        sizeof(nva) / sizeof(nva[0]), &prd) != 0) {
		nghttp2_submit_rst_stream(s->conn->h2, NGHTTP2_FLAG_NONE, s->id,
		    NGHTTP2_INTERNAL_ERROR);
	}
}

void
scb_stream_respond_unary(struct scb_stream *s, int code, const char *msg)
{
	scb_stream_set_status(s, code, msg);
	respond(s, SCB_OUT_UNARY);
}

void
scb_stream_respond_exec(struct scb_stream *s)
{
	respond(s, SCB_OUT_EXEC);
}

static void
msg_add(struct scb_out_msg *m, const uint8_t *p, size_t n, unsigned flags)
{
	if (n == 0)
		return; /* empty ranges would never be "sent" */
	m->seg[m->nseg].p = p;
	m->seg[m->nseg].n = n;
	m->seg[m->nseg].flags = flags;
	m->nseg++;
}

static enum scb_next
unary_next(struct scb_stream *s, struct scb_out_msg *m)
{
	size_t len = s->resp.len;

	if (!s->resp_pending)
		return SCB_NEXT_EOF;
	s->resp_pending = false;
	s->resp_pfx[0] = 0;
	s->resp_pfx[1] = (uint8_t)(len >> 24);
	s->resp_pfx[2] = (uint8_t)(len >> 16);
	s->resp_pfx[3] = (uint8_t)(len >> 8);
	s->resp_pfx[4] = (uint8_t)len;
	msg_add(m, s->resp_pfx, 5, 0);
	msg_add(m, s->resp.data, len, SCB_SEG_BODY);
	return SCB_NEXT_MSG;
}

static size_t
msg_remaining(const struct scb_out_msg *m)
{
	size_t n = 0;

	for (int i = m->cur; i < m->nseg; i++)
		n += m->seg[i].n;
	return n - m->off;
}

static int
submit_trailers(struct scb_stream *s)
{
	nghttp2_nv nva[4];
	size_t n = 0;
	char codebuf[16], *bufs[2] = { NULL, NULL };
	int rv = -1;

	if (status_nv(nva, &n, s->final_status, s->final_message, codebuf,
	        sizeof(codebuf), bufs) == 0 &&
	    nghttp2_submit_trailer(s->conn->h2, s->id, nva, n) == 0)
		rv = 0;
	free_bufs(bufs);
	return rv;
}

static ssize_t
on_read_data(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length,
    uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct scb_stream *s = src->ptr;
	enum scb_next nx;
	size_t rem;

	(void)h2;
	(void)id;
	(void)buf;
	(void)ud;
	if (s->magic != SCB_STREAM_MAGIC)
		abort();
	for (;;) {
		if (s->cur.active) {
			rem = msg_remaining(&s->cur);
			*flags |= NGHTTP2_DATA_FLAG_NO_COPY;
			return (ssize_t)(rem < length ? rem : length);
		}
		memset(&s->cur, 0, sizeof(s->cur));
		if (s->out == SCB_OUT_EXEC)
			nx = scb_exec_next(s, &s->cur);
		else
			nx = unary_next(s, &s->cur);
		if (nx == SCB_NEXT_DEFER)
			return NGHTTP2_ERR_DEFERRED;
		if (nx == SCB_NEXT_EOF)
			break;
		if (s->cur.nseg > 0)
			s->cur.active = true;
	}
	if (submit_trailers(s) < 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	*flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
	return 0;
}

/* Moves length bytes of the current message into out. */
static int
emit(struct scb_stream *s, struct evbuffer *out, size_t length)
{
	struct scb_out_msg *m = &s->cur;

	while (length > 0 && m->cur < m->nseg) {
		const struct scb_seg *g = &m->seg[m->cur];
		const uint8_t *p = g->p + m->off;
		size_t n = g->n - m->off;
		int rv;

		if (n > length)
			n = length;
		if ((g->flags & SCB_SEG_STATIC) && n >= REF_MIN)
			rv = evbuffer_add_reference(out, p, n, NULL, NULL);
		else
			rv = evbuffer_add(out, p, n);
		if (rv != 0)
			return -1;
		if (g->flags & SCB_SEG_BODY) {
			s->sent_bytes += n;
			if (s->md != NULL)
				EVP_DigestUpdate(s->md, p, n);
		}
		m->off += n;
		length -= n;
		if (m->off == g->n) {
			m->cur++;
			m->off = 0;
		}
	}
	if (m->active && m->cur == m->nseg) {
		m->active = false;
		s->sent_messages++;
		if (s->out == SCB_OUT_EXEC)
			scb_exec_msg_sent(s);
	}
	return 0;
}

static int
on_send_data(nghttp2_session *h2, nghttp2_frame *frame, const uint8_t *framehd,
    size_t length, nghttp2_data_source *src, void *ud)
{
	struct scb_conn *c = conn_cast(ud);
	struct scb_stream *s = src->ptr;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	static const uint8_t zeros[256];
	size_t pad = frame->data.padlen;

	(void)h2;
	if (s->magic != SCB_STREAM_MAGIC)
		abort();
	if (evbuffer_get_length(out) >= OUT_HIGH)
		return NGHTTP2_ERR_WOULDBLOCK;
	if (evbuffer_add(out, framehd, 9) != 0)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	if (pad > 0) {
		uint8_t pl = (uint8_t)(pad - 1);
		if (evbuffer_add(out, &pl, 1) != 0)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	if (emit(s, out, length) < 0)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	if (pad > 1 && evbuffer_add(out, zeros, pad - 1) != 0)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	return 0;
}

/* Every DATA frame goes through on_send_data(), so this only sees small
 * control frames and headers.  They are never held back: a WINDOW_UPDATE
 * or PING ACK stuck behind queued DATA could deadlock a client that
 * uploads before it reads. */
static ssize_t
on_send(nghttp2_session *h2, const uint8_t *data, size_t len, int flags,
    void *ud)
{
	struct scb_conn *c = conn_cast(ud);
	struct evbuffer *out = bufferevent_get_output(c->bev);

	(void)h2;
	(void)flags;
	if (evbuffer_add(out, data, len) != 0)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	return (ssize_t)len;
}

/* nghttp2 caps DATA frames at 16 KiB unless asked: use what the peer
 * allows (up to 1 MiB) to cut per-frame work on big results. */
static ssize_t
on_read_length(nghttp2_session *h2, uint8_t type, int32_t id, int32_t conn_win,
    int32_t stream_win, uint32_t max_frame, void *ud)
{
	uint32_t n = max_frame < SEND_FRAME_MAX ? max_frame : SEND_FRAME_MAX;

	(void)h2;
	(void)type;
	(void)id;
	(void)ud;
	if (conn_win > 0 && (uint32_t)conn_win < n)
		n = (uint32_t)conn_win;
	if (stream_win > 0 && (uint32_t)stream_win < n)
		n = (uint32_t)stream_win;
	return n > 0 ? (ssize_t)n : 1;
}

/* ---- receive side ------------------------------------------------------- */

static int
on_begin_headers(nghttp2_session *h2, const nghttp2_frame *frame, void *ud)
{
	struct scb_conn *c = conn_cast(ud);
	struct scb_stream *s;

	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	s = stream_new(c, frame->hd.stream_id);
	if (s == NULL)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	nghttp2_session_set_stream_user_data(h2, frame->hd.stream_id, s);
	return 0;
}

static bool
hdr_is(const uint8_t *name, size_t nlen, const char *lit)
{
	return nlen == strlen(lit) && memcmp(name, lit, nlen) == 0;
}

/* Adds one header to the record object, joining repeats with ", ". */
static int
record_header(struct scb_stream *s, const uint8_t *name, size_t nlen,
    const uint8_t *value, size_t vlen)
{
	char key[256];
	json_t *old, *v;
	struct scb_buf b = { 0 };
	int rv = -1;

	if (nlen >= sizeof(key))
		nlen = sizeof(key) - 1;
	memcpy(key, name, nlen);
	key[nlen] = '\0';
	old = json_object_get(s->headers, key);
	if (old != NULL) {
		scb_buf_add(&b, json_string_value(old),
		    json_string_length(old));
		scb_buf_add(&b, ", ", 2);
	}
	scb_buf_add(&b, value, vlen);
	if (b.oom)
		goto out;
	v = scb_json_bytes(b.data ? (const void *)b.data : "", b.len);
	if (v == NULL || json_object_set_new(s->headers, key, v) != 0)
		goto out;
	rv = 0;
out:
	scb_buf_free(&b);
	return rv;
}

static int
on_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name,
    size_t nlen, const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
	struct scb_conn *c = conn_cast(ud);
	struct scb_stream *s;

	(void)h2;
	(void)flags;
	if (frame->hd.type != NGHTTP2_HEADERS ||
	    frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	s = stream_get(c, frame->hd.stream_id);
	if (s == NULL)
		return 0;
	s->header_bytes += nlen + vlen + 32;
	if (s->header_bytes > SCB_MAX_HEADER_BYTES)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (nlen > 0 && name[0] == ':') {
		if (hdr_is(name, nlen, ":path")) {
			free(s->path);
			s->path = strndup((const char *)value, vlen);
			if (s->path == NULL)
				return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
		} else if (hdr_is(name, nlen, ":method")) {
			s->is_post = vlen == 4 && memcmp(value, "POST", 4) == 0;
		}
		return 0;
	}
	if (hdr_is(name, nlen, "content-type")) {
		s->is_grpc = vlen >= 16 &&
		    memcmp(value, "application/grpc", 16) == 0 &&
		    (vlen == 16 || value[16] == '+' || value[16] == ';');
	}
	if (nlen > 8 && memcmp(name, "sc-test-", 8) == 0)
		scb_rpc_test_header(s, name, nlen, value, vlen);
	if (s->headers != NULL && record_header(s, name, nlen, value, vlen) < 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	return 0;
}

static void
record_stream_open(struct scb_stream *s)
{
	json_t *o;

	if (s->headers == NULL)
		return;
	o = json_pack("{s:s, s:I, s:i, s:s, s:o, s:O}", "ev", "stream_open",
	    "conn", (json_int_t)s->conn->id, "stream", (int)s->id, "method",
	    s->method_name, "path", scb_json_bytes(s->path, strlen(s->path)),
	    "headers", s->headers);
	scb_record_emit(o);
}

/* Request headers are complete: decide whether the call can go on. */
static void
stream_headers_done(struct scb_stream *s)
{
	if (s->path == NULL) {
		s->path = strdup("");
		if (s->path == NULL)
			goto nomem;
	}
	s->method = scb_rpc_lookup(s->path, &s->method_name);
	if (s->method_name == NULL)
		goto nomem;
	record_stream_open(s);
	if (s->method == SCB_M_UNKNOWN || !s->is_post) {
		scb_stream_fail(s, SCB_GRPC_UNIMPLEMENTED, "unknown method");
		return;
	}
	if (!s->is_grpc) {
		scb_stream_fail(s, SCB_GRPC_INVALID_ARGUMENT,
		    "content-type must be application/grpc");
		return;
	}
	if (s->ctl.error != NULL) {
		scb_stream_fail(s, SCB_GRPC_INVALID_ARGUMENT, s->ctl.error);
		return;
	}
	if (s->ctl.digest) {
		s->md = EVP_MD_CTX_new();
		if (s->md == NULL ||
		    EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1)
			goto nomem;
	}
	return;
nomem:
	scb_stream_fail(s, SCB_GRPC_RESOURCE_EXHAUSTED, "out of memory");
}

/* The client half-closed. */
static void
stream_end(struct scb_stream *s)
{
	if (s->ignore_input || s->responded)
		return;
	if (s->pfx_have > 0) {
		scb_stream_fail(s, SCB_GRPC_INTERNAL,
		    "end of stream in the middle of a gRPC message");
		return;
	}
	scb_rpc_on_end(s);
}

static void
deliver_message(struct scb_stream *s)
{
	uint8_t *msg = s->msg;
	size_t len = s->msg_len;

	buffered_total -= len;
	s->msg = NULL;
	s->pfx_have = 0;
	s->msg_have = 0;
	s->msg_len = 0;
	if (!scb_rpc_on_message(s, msg, len))
		free(msg);
	s->msg_index++;
}

/* Cuts DATA into gRPC messages (1 flag byte + 4-byte BE length + body). */
static void
deframe(struct scb_stream *s, const uint8_t *data, size_t len)
{
	while (len > 0 && !s->ignore_input) {
		size_t take;

		if (s->pfx_have < 5) {
			take = 5 - s->pfx_have;
			if (take > len)
				take = len;
			memcpy(s->pfx + s->pfx_have, data, take);
			s->pfx_have += take;
			data += take;
			len -= take;
			if (s->pfx_have < 5)
				return;
			if (s->pfx[0] & 1) {
				scb_stream_fail(s, SCB_GRPC_UNIMPLEMENTED,
				    "compressed messages are not supported "
				    "(grpc-accept-encoding: identity)");
				return;
			}
			if (s->pfx[0] != 0) {
				scb_stream_fail(s, SCB_GRPC_INTERNAL,
				    "malformed gRPC message prefix");
				return;
			}
			s->msg_len = (size_t)s->pfx[1] << 24 |
			    (size_t)s->pfx[2] << 16 | (size_t)s->pfx[3] << 8 |
			    s->pfx[4];
			if (s->msg_len > SCB_MAX_MSG) {
				scb_stream_fail(s, SCB_GRPC_RESOURCE_EXHAUSTED,
				    "gRPC message larger than 134217728 bytes");
				return;
			}
			if (buffered_total + s->msg_len > SCB_MAX_BUFFERED) {
				scb_stream_fail(s, SCB_GRPC_RESOURCE_EXHAUSTED,
				    "backend request buffer limit reached");
				return;
			}
			/* large buffers come from mmap: pages a slow or lying
			 * client never fills cost no memory */
			s->msg = malloc(s->msg_len ? s->msg_len : 1);
			if (s->msg == NULL) {
				scb_stream_fail(s, SCB_GRPC_RESOURCE_EXHAUSTED,
				    "out of memory");
				return;
			}
			buffered_total += s->msg_len;
			s->msg_have = 0;
		}
		take = s->msg_len - s->msg_have;
		if (take > len)
			take = len;
		memcpy(s->msg + s->msg_have, data, take);
		s->msg_have += take;
		data += take;
		len -= take;
		if (s->msg_have == s->msg_len)
			deliver_message(s);
	}
}

static int
on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id,
    const uint8_t *data, size_t len, void *ud)
{
	struct scb_conn *c = conn_cast(ud);
	struct scb_stream *s = stream_get(c, id);

	(void)h2;
	(void)flags;
	if (s != NULL)
		deframe(s, data, len);
	return 0;
}

static int
on_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame, void *ud)
{
	struct scb_conn *c = conn_cast(ud);
	struct scb_stream *s;

	(void)h2;
	if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
		return 0;
	s = stream_get(c, frame->hd.stream_id);
	if (s == NULL)
		return 0;
	if (frame->hd.type == NGHTTP2_HEADERS &&
	    frame->headers.cat == NGHTTP2_HCAT_REQUEST)
		stream_headers_done(s);
	if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
		stream_end(s);
	return 0;
}

static int
on_frame_send(nghttp2_session *h2, const nghttp2_frame *frame, void *ud)
{
	struct scb_conn *c = conn_cast(ud);
	struct scb_stream *s;

	(void)h2;
	if (frame->hd.stream_id == 0)
		return 0;
	s = stream_get(c, frame->hd.stream_id);
	if (s == NULL)
		return 0;
	if (frame->hd.type == NGHTTP2_RST_STREAM)
		s->we_reset = true;
	else if ((frame->hd.type == NGHTTP2_HEADERS ||
	             frame->hd.type == NGHTTP2_DATA) &&
	    (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		s->sent_end = true;
	return 0;
}

static int
on_stream_close(nghttp2_session *h2, int32_t id, uint32_t error_code, void *ud)
{
	struct scb_conn *c = conn_cast(ud);
	struct scb_stream *s = stream_get(c, id);

	if (s == NULL)
		return 0;
	nghttp2_session_set_stream_user_data(h2, id, NULL);
	record_stream_close(s, error_code, false);
	stream_free(s);
	return 0;
}

/* ---- connection --------------------------------------------------------- */

static int
session_setup(struct scb_conn *c)
{
	nghttp2_session_callbacks *cbs = NULL;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
		    scb_cfg.max_streams },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW },
		{ NGHTTP2_SETTINGS_MAX_FRAME_SIZE, RECV_FRAME_MAX },
	};
	int rv = -1;

	if (nghttp2_session_callbacks_new(&cbs) != 0)
		goto out;
	nghttp2_session_callbacks_set_send_callback(cbs, on_send);
	nghttp2_session_callbacks_set_send_data_callback(cbs, on_send_data);
	nghttp2_session_callbacks_set_data_source_read_length_callback(cbs,
	    on_read_length);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs,
	    on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs,
	    on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs,
	    on_frame_recv);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs,
	    on_frame_send);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs,
	    on_stream_close);
	if (nghttp2_session_server_new(&c->h2, cbs, c) != 0)
		goto out;
	if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv,
	        sizeof(iv) / sizeof(iv[0])) != 0)
		goto out;
	if (nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0,
	        CONN_WINDOW) != 0)
		goto out;
	rv = 0;
out:
	nghttp2_session_callbacks_del(cbs);
	return rv;
}

/* Runs nghttp2's sender; closes the connection when the session is over.
 * Only for top-level callbacks: c may be freed on return. */
static void
conn_flush(struct scb_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (nghttp2_session_send(c->h2) != 0) {
		conn_free(c);
		return;
	}
	if (nghttp2_session_want_read(c->h2) ||
	    nghttp2_session_want_write(c->h2))
		return;
	if (evbuffer_get_length(out) == 0) {
		conn_free(c);
		return;
	}
	/* let the last bytes (GOAWAY) drain, then come back here */
	c->draining = true;
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct scb_conn *c = conn_cast(arg);
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;

	if (c->h2 == NULL)
		return;
	/* feed each contiguous chunk as is: no pullup copies */
	while ((n = evbuffer_get_contiguous_space(in)) > 0) {
		unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)n);
		ssize_t rv = nghttp2_session_mem_recv(c->h2, p, n);

		if (rv < 0) {
			conn_free(c);
			return;
		}
		evbuffer_drain(in, (size_t)rv);
	}
	conn_flush(c);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct scb_conn *c = conn_cast(arg);

	(void)bev;
	if (c->h2 == NULL)
		return;
	if (c->draining) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			conn_free(c);
		return;
	}
	conn_flush(c);
}

static char *
peer_cn(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	X509 *cert;
	char cn[256];
	int n;

	if (ssl == NULL)
		return NULL;
	cert = SSL_get1_peer_certificate(ssl);
	if (cert == NULL)
		return NULL;
	n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
	    NID_commonName, cn, sizeof(cn));
	X509_free(cert);
	return n >= 0 ? strdup(cn) : NULL;
}

static void
on_event(struct bufferevent *bev, short events, void *arg)
{
	struct scb_conn *c = conn_cast(arg);
	char *cn;

	if (events & BEV_EVENT_CONNECTED) {
		/* TLS handshake done (h2c sessions start at accept) */
		cn = peer_cn(bev);
		record_conn_open(c, cn);
		free(cn);
		if (session_setup(c) < 0) {
			conn_free(c);
			return;
		}
		conn_flush(c);
		return;
	}
	if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		conn_free(c);
}

static void
conn_free(struct scb_conn *c)
{
	json_t *o;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	/* nghttp2_session_del() runs no close callbacks: finish our streams
	 * here; anything not yet answered was cut off by the peer */
	nghttp2_session_del(c->h2);
	c->h2 = NULL;
	while (c->streams != NULL) {
		record_stream_close(c->streams, 0, true);
		stream_free(c->streams);
	}
	bufferevent_free(c->bev);
	if (c->opened && scb_record_enabled()) {
		o = json_pack("{s:s, s:I}", "ev", "conn_close", "conn",
		    (json_int_t)c->id);
		scb_record_emit(o);
	}
	c->magic = 0;
	free(c);
}

void
scb_stream_resume(struct scb_stream *s)
{
	struct scb_conn *c = s->conn;

	if (c->h2 == NULL)
		return;
	nghttp2_session_resume_data(c->h2, s->id);
	conn_flush(c);
}

static void
format_peer(char *out, size_t len, const struct sockaddr *sa, int salen)
{
	char host[INET6_ADDRSTRLEN], port[8];

	if (getnameinfo(sa, (socklen_t)salen, host, sizeof(host), port,
	        sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(out, len, "?");
		return;
	}
	if (sa->sa_family == AF_INET6)
		snprintf(out, len, "[%s]:%s", host, port);
	else
		snprintf(out, len, "%s:%s", host, port);
}

void
scb_conn_accept(struct event_base *base, SSL_CTX *ssl_ctx, evutil_socket_t fd,
    const struct sockaddr *sa, int salen)
{
	struct scb_conn *c = NULL;
	SSL *ssl = NULL;
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto fail;
	c->magic = CONN_MAGIC;
	c->id = ++next_conn_id;
	c->base = base;
	c->tls = ssl_ctx != NULL;
	format_peer(c->peer, sizeof(c->peer), sa, salen);
	if (ssl_ctx != NULL) {
		ssl = SSL_new(ssl_ctx);
		if (ssl == NULL)
			goto fail;
		c->bev = bufferevent_openssl_socket_new(base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (c->bev == NULL)
			goto fail;
		ssl = NULL; /* owned by the bufferevent */
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	} else {
		c->bev = bufferevent_socket_new(base, fd,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (c->bev == NULL)
			goto fail;
	}
	/* the default 16 KiB per read/write syscall caps throughput */
	bufferevent_set_max_single_read(c->bev, 1024 * 1024);
	bufferevent_set_max_single_write(c->bev, 4 * 1024 * 1024);
	bufferevent_setwatermark(c->bev, EV_WRITE, OUT_LOW, 0);
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	c->next = conns;
	if (conns != NULL)
		conns->prev = c;
	conns = c;
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) != 0) {
		conn_free(c);
		return;
	}
	if (ssl_ctx == NULL) {
		record_conn_open(c, NULL);
		if (session_setup(c) < 0) {
			conn_free(c);
			return;
		}
		conn_flush(c);
	}
	return;
fail:
	SSL_free(ssl);
	if (c != NULL && c->bev != NULL)
		bufferevent_free(c->bev);
	else
		evutil_closesocket(fd);
	free(c);
}

void
scb_conn_free_all(void)
{
	while (conns != NULL)
		conn_free(conns);
}
