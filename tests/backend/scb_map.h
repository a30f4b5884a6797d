/*
 * scb_map.h - a small chained hash map from byte-string keys to pointers.
 * Sessions and operations live in these; benchmarks may create tens of
 * thousands of them, so lookups must not be linear.
 */
#ifndef SCB_MAP_H
#define SCB_MAP_H

#include <stddef.h>

struct scb_map;

struct scb_map *scb_map_new(void);
/* Frees the map itself; the values are the caller's. */
void scb_map_free(struct scb_map *m);

void *scb_map_get(const struct scb_map *m, const void *key, size_t n);
/* Inserts or replaces.  Returns 0, or -1 on ENOMEM (map unchanged). */
int scb_map_put(struct scb_map *m, const void *key, size_t n, void *val);
/* Removes the key; returns its value or NULL. */
void *scb_map_del(struct scb_map *m, const void *key, size_t n);

/* Removes and returns any one value (NULL when empty): used to drain the
 * map at shutdown. */
void *scb_map_pop(struct scb_map *m);

#endif /* SCB_MAP_H */
