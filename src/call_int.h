/*
 * call_int.h: the inside of a call, shared by the stream layer only:
 * call.c (the glue: lifecycle, credit, errors, deadlines), req_stage.c (the
 * request stages), resp_filter.c (the response filters) and reqbody.c (the
 * request messages).  Nothing else
 * includes it; the connection layer sees a call through call.h.
 */
#ifndef SPARKGATE_CALL_INT_H
#define SPARKGATE_CALL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "auth.h"
#include "call.h"
#include "grpc.h"
#include "h2conn.h"
#include "hdrs.h"
#include "policy.h"
#include "resp_filter.h"

#define CALL_MAGIC 0x43414c4cu /* "CALL" */
#define CALL_PATH_MAX 256      /* longest :path we keep for messages */
#define CALL_MSG_MAX 512       /* longest grpc-message we produce */

struct event;
struct evbuffer;
struct sc_method;

enum call_state {
    CALL_ST_HEADERS,    /* request headers arriving */
    CALL_ST_AUTH_WAIT,  /* token names an unknown key: waiting for a JWKS fetch to end */
    CALL_ST_FIRST_MSG,  /* headers accepted; waiting for the first message */
    CALL_ST_CONNECTING, /* routed; waiting for the backend connection */
    CALL_ST_OPEN,       /* backend stream submitted */
    CALL_ST_DONE,       /* answered locally or failed: client input is discarded */
};

/*
 * What a request stage or a response filter decides.  The glue (call.c)
 * turns it into the answer: a gRPC status, or a plain HTTP error for
 * requests that are not gRPC at all.
 */
enum call_outcome {
    CALL_GO_ON,    /* next stage */
    CALL_WAIT,     /* park the call; the stage runs again when woken */
    CALL_REFUSE,   /* answer |status| |msg| (a gRPC status) */
    CALL_HTTP,     /* answer HTTP |http| with |msg| */
    CALL_ANSWERED, /* the stage answered the client itself */
};

struct call_verdict {
    enum call_outcome outcome;
    int status;             /* CALL_REFUSE: GRPC_* */
    const char *http;       /* CALL_HTTP: "405", "415" ... */
    const char *http_text;  /* ... and its text (static) */
    char msg[CALL_MSG_MAX]; /* CALL_REFUSE */
};

/* Sets |v| to a refusal with a formatted message; returns CALL_REFUSE. */
enum call_outcome call_refuse(struct call_verdict *v, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct call {
    uint32_t magic;
    struct call_ctx *w; /* its loop's share (a worker's), see call.h */
    struct cfg *cfg;    /* reference held for the call's lifetime */
    enum call_state state;

    /* client side */
    struct fe_conn *fe;   /* NULL once detached */
    struct h2_stream fst; /* our client stream, as fe.c lists it */
    int32_t fe_sid;
    bool fe_ended; /* client half-closed */

    /* backend side */
    struct be_conn *be;     /* NULL when not attached */
    struct h2_stream bst;   /* our backend stream, as be.c lists it */
    int32_t be_sid;         /* 0 until submitted */
    bool be_closed;         /* backend stream closed */
    bool be_cancelled;      /* RST_STREAM(CANCEL) submitted */
    size_t req_sized;       /* bytes of c->req call_be_read promised nghttp2, not yet written */
    unsigned fe_data_depth; /* inside call_fe_data: the partial message is in use */
    size_t backend_idx;
    bool routed;
    char route_key[AUTH_PRINCIPAL_MAX + 1 + 128]; /* principal NUL session_id */
    size_t route_key_len;

    /* request */
    const struct sc_method *m;
    char path[CALL_PATH_MAX];
    bool method_post, has_method, ct_grpc, has_ct, hdr_overflow;
    bool enc_real; /* grpc-encoding names a compression other than identity */
    uint64_t timeout_ms;
    bool has_timeout;
    bool has_enc, has_timeout_hdr;
    const char *repeated;  /* a header we judge that came twice: refused */
    struct hdrs fwd;       /* headers forwarded to the backend */
    struct auth_cred cred; /* credential headers (secret: wiped once judged, or on free) */
    struct auth_ident id;  /* who is calling, once authenticated */
    bool authed;
    size_t stage_next;           /* header stage to run (again) when a waiting call wakes */
    bool wait_final;             /* the wait is over: a waiting stage decides now */
    struct event *auth_timer;    /* AUTH_WAIT: timeouts.auth_key_wait_ms deadline */
    TAILQ_ENTRY(call) auth_link; /* on w->auth_waiting while auth_listed */
    bool auth_listed;
    uint64_t auth_gen;     /* last w->auth_wake_gen this call was re-checked for */
    struct evbuffer *held; /* client DATA that arrived during AUTH_WAIT (uncredited;
                               the unauthenticated stream window bounds it) */
    struct grpc_deframer df;
    struct evbuffer *msg; /* message being assembled */
    uint8_t *mbuf;        /* ... a large one: contiguous, grown as it arrives */
    size_t mlen, mcap;
    uint64_t buffered;          /* request bytes counted in the connection's and process's budget */
    struct event *budget_timer; /* out of budget: re-check, then refuse */
    uint64_t budget_since_ms;   /* credit withheld for the budget since (0: not) */
    struct event *stall_timer;  /* timeouts.stall_ms watch over the client's progress */
    uint64_t fe_rx_ms;          /* last request byte from, or credit to, the client */
    uint64_t fe_tx_ms;          /* last response byte to the client (or resp became non-empty) */
    bool stalled;               /* reset for a stall; still attached a stall later: conn is stuck */
    struct evbuffer *req;       /* framed messages for the backend */
    bool req_eos;               /* no more request data will be queued */
    size_t fe_unconsumed;       /* client bytes not yet credited back */

    /* plan policy: judged by the request stages, before anything is queued */
    const struct policy_profile *prof; /* NULL: not inspected (no profiles) */
    struct policy_art_state art;       /* AddArtifacts: the chunked artifact in progress */
    /* response filters that apply to this call (resp_filter.c) */
    struct resp_filter_set rf;

    /* response */
    struct hdrs rhdr;      /* response headers from the backend */
    struct hdrs trl;       /* trailers (backend's or ours) */
    struct evbuffer *resp; /* response bytes for the client */
    bool resp_started;     /* response HEADERS submitted to the client */
    bool resp_eos;         /* resp holds the end of the response */
    size_t be_unconsumed;  /* backend bytes not yet credited back */

    /* accounting */
    struct event *deadline;
    uint64_t t_start_us;
    uint64_t bytes_in, bytes_out;
    int status;       /* grpc-status sent to the client, -1 unknown */
    bool local;       /* status produced by sparkgate */
    char reason[160]; /* sparkgate's reason, for the access log */
};

/* ---- glue services the stages use (call.c) -------------------------------- */

/*
 * The caller is who c->id says: the call is listed as authenticated, its
 * stream window opens, and it moves on to its first message.
 */
void call_authenticated(struct call *c);


/*
 * Identity binding (see call.c): rewrites c->msg's user_contexts.  0, or
 * -1 after answering the client.
 */
int bind_identity(struct call *c, const uint8_t *body, size_t len);

/* The gRPC status of a decider's refusal (SG_ERR_DENIED, SG_ERR_AUTH). */
int call_refusal_status(int err);

#endif
