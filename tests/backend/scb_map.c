/*
 * scb_map.c - chained hash map (see scb_map.h).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scb_map.h"
#include "scb_util.h"

struct map_ent {
	struct map_ent *next;
	uint64_t hash;
	void *val;
	size_t klen;
	unsigned char key[]; /* klen bytes */
};

struct scb_map {
	struct map_ent **slots;
	size_t nslots; /* power of two */
	size_t count;
};

struct scb_map *
scb_map_new(void)
{
	struct scb_map *m;

	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->nslots = 64;
	m->slots = calloc(m->nslots, sizeof(*m->slots));
	if (m->slots == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

void
scb_map_free(struct scb_map *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nslots; i++) {
		struct map_ent *e = m->slots[i], *next;
		for (; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(m->slots);
	free(m);
}

static struct map_ent **
find(const struct scb_map *m, uint64_t h, const void *key, size_t n)
{
	struct map_ent **pp = &m->slots[h & (m->nslots - 1)];

	for (; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->hash == h && (*pp)->klen == n &&
		    memcmp((*pp)->key, key, n) == 0)
			break;
	}
	return pp;
}

void *
scb_map_get(const struct scb_map *m, const void *key, size_t n)
{
	struct map_ent **pp = find(m, scb_hash64(0, key, n), key, n);

	return *pp ? (*pp)->val : NULL;
}

/* Doubles the slot array; on ENOMEM the map just stays denser. */
static void
grow(struct scb_map *m)
{
	size_t nslots = m->nslots * 2;
	struct map_ent **slots;

	slots = calloc(nslots, sizeof(*slots));
	if (slots == NULL)
		return;
	for (size_t i = 0; i < m->nslots; i++) {
		struct map_ent *e = m->slots[i], *next;
		for (; e != NULL; e = next) {
			next = e->next;
			e->next = slots[e->hash & (nslots - 1)];
			slots[e->hash & (nslots - 1)] = e;
		}
	}
	free(m->slots);
	m->slots = slots;
	m->nslots = nslots;
}

int
scb_map_put(struct scb_map *m, const void *key, size_t n, void *val)
{
	uint64_t h = scb_hash64(0, key, n);
	struct map_ent **pp = find(m, h, key, n), *e;

	if (*pp != NULL) {
		(*pp)->val = val;
		return 0;
	}
	e = malloc(sizeof(*e) + n);
	if (e == NULL)
		return -1;
	e->next = NULL;
	e->hash = h;
	e->val = val;
	e->klen = n;
	memcpy(e->key, key, n);
	*pp = e;
	if (++m->count > m->nslots)
		grow(m);
	return 0;
}

void *
scb_map_del(struct scb_map *m, const void *key, size_t n)
{
	struct map_ent **pp = find(m, scb_hash64(0, key, n), key, n), *e;
	void *val;

	e = *pp;
	if (e == NULL)
		return NULL;
	*pp = e->next;
	val = e->val;
	free(e);
	m->count--;
	return val;
}

void *
scb_map_pop(struct scb_map *m)
{
	for (size_t i = 0; i < m->nslots; i++) {
		struct map_ent *e = m->slots[i];
		void *val;

		if (e == NULL)
			continue;
		m->slots[i] = e->next;
		val = e->val;
		free(e);
		m->count--;
		return val;
	}
	return NULL;
}
