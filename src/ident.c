/*
 * ident.c: the user_context rewrite (see ident.h).
 *
 * Two passes over the message's top-level fields: the first validates the
 * whole message, finds the last claimed user_id and where the last
 * user_context ends; the second copies the head's other fields after the
 * new UserContext.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "pb.h"
#include "sc.h"
#include "sg_err.h"
#include "util.h"

#define UC_USER_ID 1
#define UC_USER_NAME 2
#define SHOWN_MAX 100 /* bytes of a refused claim quoted back */

int
ident_bind(const uint8_t *msg, size_t len, const char *principal, bool require_match,
           struct ident_head *out, char *err, size_t errlen)
{
    size_t wlen = strlen(principal), claimed_len = 0, head_end = 0, uclen, cap, n;
    const uint8_t *claimed = NULL;
    struct pb_cur cur, sub;
    struct pb_field f, g;
    uint8_t *head;
    int r;

    memset(out, 0, sizeof(*out));
    pb_cur_init(&cur, msg, len);
    while ((r = pb_next(&cur, &f)) == 1) {
        if (f.num != SC_FIELD_USER_CONTEXT)
            continue;
        if (f.wt != PB_WT_LEN) {
            r = SG_ERR_PROTO;
            break;
        }
        head_end = (size_t)(f.end - msg);
        pb_sub(&f, &sub);
        while ((r = pb_next(&sub, &g)) == 1) {
            if (g.num == UC_USER_ID && g.wt == PB_WT_LEN) {
                claimed = g.data;
                claimed_len = g.len;
            }
        }
        if (r < 0)
            break;
    }
    if (r < 0) {
        snprintf(err, errlen, "not valid protobuf");
        return SG_ERR_PROTO;
    }
    if (require_match && claimed != NULL &&
        (claimed_len != wlen || memcmp(claimed, principal, wlen) != 0)) {
        char shown[SHOWN_MAX + 1];

        util_printable(shown, sizeof(shown), claimed, claimed_len, "");
        snprintf(err, errlen,
                 "sparkgate: user_id \"%s\" does not match the authenticated principal \"%s\"",
                 shown, principal);
        return SG_ERR_DENIED;
    }
    /* UserContext{user_id = 1, user_name = 2}, then the head's other fields */
    uclen = pb_len_field_size(UC_USER_ID, wlen) + pb_len_field_size(UC_USER_NAME, wlen);
    cap = pb_len_field_size(SC_FIELD_USER_CONTEXT, uclen) + head_end;
    if ((head = malloc(cap)) == NULL)
        return SG_ERR_NOMEM;
    n = pb_put_len_hdr(head, SC_FIELD_USER_CONTEXT, uclen);
    n += pb_put_len_field(head + n, UC_USER_ID, principal, wlen);
    n += pb_put_len_field(head + n, UC_USER_NAME, principal, wlen);
    pb_cur_init(&cur, msg, head_end);
    while (pb_next(&cur, &f) == 1) {
        if (f.num == SC_FIELD_USER_CONTEXT)
            continue;
        memcpy(head + n, f.start, (size_t)(f.end - f.start));
        n += (size_t)(f.end - f.start);
    }
    out->p = head;
    out->len = n;
    out->replaced = head_end;
    return SG_OK;
}
