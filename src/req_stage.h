/*
 * req_stage.h: the request stages of a call, one declared list in
 * req_stage.c, run in its order:
 *
 *   at the request headers   validate -> authenticate (or wait) -> admit
 *   at each request message  message -> scrub -> session -> judge
 *                            -> response filters -> bind identity -> route
 *
 * A stage is a function that returns a verdict (call_int.h): go on, wait
 * (the call is parked and the stage runs again when woken), or refuse with
 * a gRPC status and a message.  call.c runs the stages and turns a verdict
 * into the answer, so a new check (per-user limits, health-aware routing)
 * is one function and one entry in the list.
 */
#ifndef SPARKGATE_REQ_STAGE_H
#define SPARKGATE_REQ_STAGE_H

#include "call_int.h"

/*
 * Runs the header stages from c->stage_next.  Returns CALL_GO_ON when all
 * passed; otherwise the verdict of the stage that stopped, with
 * c->stage_next naming it (a waiting stage is run again from there).
 */
enum call_outcome req_stage_headers(struct call *c, struct call_verdict *v);

/*
 * Runs the message stages over the complete request message in c->msg.
 * CALL_GO_ON: the message (rewritten) may be queued for the backend and,
 * for the first one, c->backend_idx is chosen.
 */
enum call_outcome req_stage_message(struct call *c, struct call_verdict *v);

/* The route stage alone, for a client-streaming call that sent no message. */
void req_stage_route(struct call *c);

#endif
