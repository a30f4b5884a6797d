/*
 * ident.h: binds a Spark Connect request message to the authenticated
 * principal.
 *
 * The backend must see the principal sparkgate authenticated and nothing
 * else: every user_context (field 2) of the message - duplicates included,
 * with their user_name and extensions - is removed, and one
 * UserContext{user_id = user_name = principal} is put first.  In
 * require_match mode a user_id that differs from the principal (the last
 * one, as protobuf-java merges) is refused instead.
 *
 * Only the head of the message, up to the end of its last user_context
 * (clients put it second, after session_id), is rewritten; the caller
 * replaces those bytes with the new head and leaves the rest - a 64 MiB
 * LocalRelation, say - where it is, uncopied.
 *
 * Pure: no I/O, no logging; it allocates only the new head.
 */
#ifndef SPARKGATE_IDENT_H
#define SPARKGATE_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The rewritten head of a message. */
struct ident_head {
    uint8_t *p; /* one UserContext, then the head's other fields; malloc'd, caller frees */
    size_t len;
    size_t replaced; /* the new head replaces bytes [0, replaced) of the message */
};

/*
 * Rewrites the head of message [msg, msg+len) for |principal| (a non-empty
 * string).  Returns SG_OK with |out| filled, or:
 *   SG_ERR_PROTO   the message is not valid protobuf (|err|: why, no quote);
 *   SG_ERR_DENIED  require_match and the claimed user_id differs (|err|:
 *                  "sparkgate: ..." naming both, the claim made printable);
 *   SG_ERR_NOMEM.
 * |out| is zeroed on failure.
 */
int ident_bind(const uint8_t *msg, size_t len, const char *principal, bool require_match,
               struct ident_head *out, char *err, size_t errlen);

#endif
