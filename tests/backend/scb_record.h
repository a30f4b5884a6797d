/*
 * scb_record.h - the --record FILE log: one compact JSON object per line,
 * flushed after every line so tests can read it while the backend runs.
 */
#ifndef SCB_RECORD_H
#define SCB_RECORD_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Opens (appends to) path.  Returns 0 or -1 with errno set. */
int scb_record_open(const char *path);
void scb_record_close(void);
/* True when a record file is open: callers skip building events (and
 * hashing request bodies) otherwise. */
bool scb_record_enabled(void);

/* Writes obj as one line and flushes; takes over the reference. */
void scb_record_emit(json_t *obj);

/* A JSON string for arbitrary bytes: invalid UTF-8 is replaced by '?'
 * (jansson refuses it).  Returns NULL on ENOMEM. */
json_t *scb_json_bytes(const void *p, size_t n);

#endif /* SCB_RECORD_H */
