/*
 * resp_filter.h: response filters.  A response normally passes through
 * sparkgate unparsed; a filter that applies to a call sees its request
 * messages (once judged) and its response bytes, and decides what the
 * client gets.  The filters are one declared list in resp_filter.c; today
 * it holds the Config redaction, and a result cap would be one more entry.
 *
 * Every hook is optional and returns 0 (CALL_GO_ON) or CALL_REFUSE with
 * |v| holding the gRPC status and message the call fails with (call_int.h).
 * A filter without a data hook passes the bytes on unchanged.
 */
#ifndef SPARKGATE_RESP_FILTER_H
#define SPARKGATE_RESP_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct call;
struct call_verdict;
struct evbuffer;

#define RESP_FILTER_MAX 2 /* entries of the declared list (raise as it grows) */

struct resp_filter {
    const char *name;
    /* Whether the filter applies to |c| (its method and caller are known). */
    bool (*applies)(const struct call *c);
    /* Its per-call state, in *st (freed by |free|). */
    int (*start)(struct call *c, void **st, struct call_verdict *v);
    /* A request message about to be forwarded (judged, before identity binding). */
    int (*request)(struct call *c, void *st, const uint8_t *body, size_t len,
                   struct call_verdict *v);
    /* Response DATA payload from the backend; what the client gets goes to |out|. */
    int (*data)(struct call *c, void *st, const uint8_t *data, size_t len, struct evbuffer *out,
                struct call_verdict *v);
    /* The backend ended its response (trailers or END_STREAM). */
    int (*end)(struct call *c, void *st, struct call_verdict *v);
    void (*free)(void *st);
};

/* The filters that apply to one call, in list order. */
struct resp_filter_set {
    const struct resp_filter *f[RESP_FILTER_MAX];
    void *st[RESP_FILTER_MAX];
    size_t n;
};

/* Attaches every filter that applies to |c| (after admission). */
int resp_filter_start(struct call *c, struct call_verdict *v);
/* Whether any filter applies: the response is then not relayed unparsed. */
static inline bool
resp_filter_any(const struct resp_filter_set *s)
{
    return s->n > 0;
}
int resp_filter_request(struct call *c, const uint8_t *body, size_t len, struct call_verdict *v);
/* Passes response payload through the call's filters into c->resp. */
int resp_filter_data(struct call *c, const uint8_t *data, size_t len, struct call_verdict *v);
int resp_filter_end(struct call *c, struct call_verdict *v);
void resp_filter_free(struct call *c);

#endif
