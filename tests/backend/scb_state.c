/*
 * scb_state.c - sessions and operations (see scb_state.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "scb.h"
#include "scb_map.h"
#include "scb_state.h"

static struct scb_map *sessions;
static struct scb_map *ops;

static int
str_set(struct scb_str *s, const void *p, size_t n)
{
	s->p = malloc(n + 1);
	if (s->p == NULL) {
		s->n = 0;
		return -1;
	}
	if (n)
		memcpy(s->p, p, n);
	s->p[n] = '\0';
	s->n = n;
	return 0;
}

static void
str_free(struct scb_str *s)
{
	free(s->p);
	s->p = NULL;
	s->n = 0;
}

bool
scb_str_eq(const struct scb_str *a, const uint8_t *p, size_t n)
{
	return a->n == n && (n == 0 || memcmp(a->p, p, n) == 0);
}

/* Table keys are length-prefixed parts, so ("ab","c") != ("a","bc"). */
static int
key_build(struct scb_str *k, const uint8_t *const *parts, const size_t *lens,
    int nparts)
{
	size_t n = 0, off = 0;

	for (int i = 0; i < nparts; i++)
		n += 8 + lens[i];
	k->p = malloc(n + 1);
	if (k->p == NULL)
		return -1;
	for (int i = 0; i < nparts; i++) {
		uint64_t l = lens[i];
		memcpy(k->p + off, &l, 8);
		off += 8;
		if (lens[i])
			memcpy(k->p + off, parts[i], lens[i]);
		off += lens[i];
	}
	k->p[n] = '\0';
	k->n = n;
	return 0;
}

int
scb_state_init(void)
{
	sessions = scb_map_new();
	ops = scb_map_new();
	return sessions && ops ? 0 : -1;
}

static void
kv_free_all(struct scb_kv *kv)
{
	struct scb_kv *next;

	for (; kv != NULL; kv = next) {
		next = kv->next;
		str_free(&kv->key);
		str_free(&kv->val);
		free(kv);
	}
}

static void
session_free(struct scb_session *s)
{
	while (s->ops != NULL)
		scb_op_release(s->ops);
	kv_free_all(s->conf);
	kv_free_all(s->artifacts);
	str_free(&s->user_id);
	str_free(&s->session_id);
	free(s);
}

void
scb_state_free(void)
{
	struct scb_session *s;

	if (sessions != NULL) {
		while ((s = scb_map_pop(sessions)) != NULL)
			session_free(s);
	}
	scb_map_free(sessions);
	scb_map_free(ops);
	sessions = NULL;
	ops = NULL;
}

static int kv_put(struct scb_kv **head, const uint8_t *key, size_t klen,
    const uint8_t *val, size_t vlen);

/* A new session starts with the --conf KEY=VALUE pairs (static confs). */
static int
conf_seed(struct scb_session *s)
{
	for (size_t i = 0; i < scb_cfg.nconfs; i++) {
		const char *c = scb_cfg.confs[i], *eq = strchr(c, '=');

		if (kv_put(&s->conf, (const uint8_t *)c, (size_t)(eq - c),
		        (const uint8_t *)eq + 1, strlen(eq + 1)) < 0)
			return -1;
	}
	return 0;
}

struct scb_session *
scb_session_get(const uint8_t *user, size_t ulen, const uint8_t *sid,
    size_t slen, bool create)
{
	const uint8_t *parts[2] = { user, sid };
	size_t lens[2] = { ulen, slen };
	struct scb_str key = { NULL, 0 };
	struct scb_session *s = NULL;

	if (key_build(&key, parts, lens, 2) < 0)
		goto out;
	s = scb_map_get(sessions, key.p, key.n);
	if (s != NULL || !create)
		goto out;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto out;
	if (str_set(&s->user_id, user, ulen) < 0 ||
	    str_set(&s->session_id, sid, slen) < 0 || conf_seed(s) < 0 ||
	    scb_map_put(sessions, key.p, key.n, s) < 0) {
		session_free(s);
		s = NULL;
		goto out;
	}
	scb_uuid4(s->sssid);
out:
	str_free(&key);
	return s;
}

void
scb_session_release(struct scb_session *s)
{
	const uint8_t *parts[2] = { (const uint8_t *)s->user_id.p,
		(const uint8_t *)s->session_id.p };
	size_t lens[2] = { s->user_id.n, s->session_id.n };
	struct scb_str key = { NULL, 0 };

	if (key_build(&key, parts, lens, 2) == 0)
		scb_map_del(sessions, key.p, key.n);
	str_free(&key);
	session_free(s);
}

static struct scb_kv *
kv_find(struct scb_kv *kv, const uint8_t *key, size_t klen)
{
	for (; kv != NULL; kv = kv->next) {
		if (scb_str_eq(&kv->key, key, klen))
			return kv;
	}
	return NULL;
}

/* Adds or replaces key in the list; the new entry goes last so that
 * get_all answers in insertion order. */
static int
kv_put(struct scb_kv **head, const uint8_t *key, size_t klen,
    const uint8_t *val, size_t vlen)
{
	struct scb_kv *kv = kv_find(*head, key, klen), **pp;
	struct scb_str v;

	if (str_set(&v, val, vlen) < 0)
		return -1;
	if (kv != NULL) {
		str_free(&kv->val);
		kv->val = v;
		return 0;
	}
	kv = calloc(1, sizeof(*kv));
	if (kv == NULL || str_set(&kv->key, key, klen) < 0) {
		free(kv);
		str_free(&v);
		return -1;
	}
	kv->val = v;
	for (pp = head; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = kv;
	return 0;
}

const struct scb_kv *
scb_conf_get(const struct scb_session *s, const uint8_t *key, size_t klen)
{
	return kv_find(s->conf, key, klen);
}

int
scb_conf_set(struct scb_session *s, const uint8_t *key, size_t klen,
    const uint8_t *val, size_t vlen)
{
	return kv_put(&s->conf, key, klen, val, vlen);
}

void
scb_conf_unset(struct scb_session *s, const uint8_t *key, size_t klen)
{
	for (struct scb_kv **pp = &s->conf; *pp != NULL; pp = &(*pp)->next) {
		struct scb_kv *kv = *pp;
		if (scb_str_eq(&kv->key, key, klen)) {
			*pp = kv->next;
			kv->next = NULL;
			kv_free_all(kv);
			return;
		}
	}
}

int
scb_artifact_add(struct scb_session *s, const uint8_t *name, size_t n)
{
	return kv_put(&s->artifacts, name, n, NULL, 0);
}

bool
scb_artifact_has(const struct scb_session *s, const uint8_t *name, size_t n)
{
	return kv_find(s->artifacts, name, n) != NULL;
}

static int
op_key(struct scb_str *k, const struct scb_session *s, const uint8_t *op_id,
    size_t n)
{
	const uint8_t *parts[3] = { (const uint8_t *)s->user_id.p,
		(const uint8_t *)s->session_id.p, op_id };
	size_t lens[3] = { s->user_id.n, s->session_id.n, n };

	return key_build(k, parts, lens, 3);
}

struct scb_op *
scb_op_find(const struct scb_session *s, const uint8_t *op_id, size_t n)
{
	struct scb_str key = { NULL, 0 };
	struct scb_op *op = NULL;

	if (op_key(&key, s, op_id, n) == 0)
		op = scb_map_get(ops, key.p, key.n);
	str_free(&key);
	return op;
}

static void
op_free(struct scb_op *op)
{
	for (size_t i = 0; i < op->ntags; i++)
		str_free(&op->tags[i]);
	free(op->tags);
	str_free(&op->key);
	str_free(&op->op_id);
	str_free(&op->user_id);
	str_free(&op->session_id);
	free(op);
}

struct scb_op *
scb_op_new(struct scb_session *s, const uint8_t *op_id, size_t n)
{
	struct scb_op *op;

	op = calloc(1, sizeof(*op));
	if (op == NULL)
		return NULL;
	if (op_key(&op->key, s, op_id, n) < 0 ||
	    str_set(&op->op_id, op_id, n) < 0 ||
	    str_set(&op->user_id, s->user_id.p, s->user_id.n) < 0 ||
	    str_set(&op->session_id, s->session_id.p, s->session_id.n) < 0 ||
	    scb_map_put(ops, op->key.p, op->key.n, op) < 0) {
		op_free(op);
		return NULL;
	}
	op->refs = 1;
	op->sess = s;
	memcpy(op->sssid, s->sssid, sizeof(op->sssid));
	op->seed = scb_hash64(0, op->key.p, op->key.n);
	op->sess_next = s->ops;
	if (s->ops != NULL)
		s->ops->sess_prev = op;
	s->ops = op;
	return op;
}

int
scb_op_add_tag(struct scb_op *op, const uint8_t *tag, size_t n)
{
	struct scb_str *t;

	t = realloc(op->tags, (op->ntags + 1) * sizeof(*t));
	if (t == NULL)
		return -1;
	op->tags = t;
	if (str_set(&t[op->ntags], tag, n) < 0)
		return -1;
	op->ntags++;
	return 0;
}

void
scb_op_release(struct scb_op *op)
{
	struct scb_session *s = op->sess;

	if (s == NULL)
		return; /* already released */
	if (op->sess_prev != NULL)
		op->sess_prev->sess_next = op->sess_next;
	else
		s->ops = op->sess_next;
	if (op->sess_next != NULL)
		op->sess_next->sess_prev = op->sess_prev;
	op->sess_prev = op->sess_next = NULL;
	op->sess = NULL;
	scb_map_del(ops, op->key.p, op->key.n);
	scb_op_unref(op);
}

void
scb_op_ref(struct scb_op *op)
{
	op->refs++;
}

void
scb_op_unref(struct scb_op *op)
{
	if (op != NULL && --op->refs == 0)
		op_free(op);
}
