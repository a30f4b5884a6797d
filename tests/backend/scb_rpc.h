/*
 * scb_rpc.h - the SparkConnectService methods of the test backend: method
 * lookup, per-message handling (record, identity) and the answers.
 */
#ifndef SCB_RPC_H
#define SCB_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scb_stream.h"

/* Maps a :path to a method.  Sets *name to a malloc'd display name (the
 * part after the service prefix, "" for other paths).  Returns the method,
 * SCB_M_UNKNOWN for anything else. */
enum scb_method scb_rpc_lookup(const char *path, char **name);

/* Parses one sc-test-* request header into s->ctl (other names are
 * ignored).  A malformed value is remembered in s->ctl.error. */
void scb_rpc_test_header(struct scb_stream *s, const uint8_t *name, size_t nlen,
    const uint8_t *value, size_t vlen);

/* One complete request message.  The handler may keep the buffer: it
 * returns true when it did (it then owns msg). */
bool scb_rpc_on_message(struct scb_stream *s, uint8_t *msg, size_t len);

/* The client half-closed: answer the call. */
void scb_rpc_on_end(struct scb_stream *s);

/* Frees what the handlers hung on the stream. */
void scb_rpc_stream_cleanup(struct scb_stream *s);

#endif /* SCB_RPC_H */
