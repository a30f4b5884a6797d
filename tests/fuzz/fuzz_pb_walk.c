/*
 * Fuzz target: the protobuf cursor (src/pb.c) and the Spark Connect
 * request fields (src/sc.c).  Walks every field, descending into
 * length-delimited ones as if they were messages up to a fixed depth (with
 * an explicit stack, as the plan walker will), and checks that every
 * reported slice lies inside the input.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "sg_err.h"
#include "pb.h"
#include "sc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DEPTH 64

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pb_cur stack[DEPTH];
    struct pb_field f;
    const uint8_t *sid;
    size_t sidlen, top = 0;
    int rv;

    rv = sc_request_session_id(data, size, &sid, &sidlen);
    if (rv == 1 && (sid < data || sid + sidlen > data + size))
        abort();
    pb_cur_init(&stack[0], data, size);
    for (;;) {
        rv = pb_next(&stack[top], &f);
        if (rv < 0 || rv == 0) {
            if (top == 0)
                break;
            top--; /* a sub-message that does not parse is just a string */
            continue;
        }
        if (f.start < data || f.end > data + size || f.start >= f.end)
            abort();
        if (f.wt == PB_WT_LEN) {
            if (f.data < data || f.data + f.len > data + size)
                abort();
            if (top + 1 < DEPTH)
                pb_sub(&f, &stack[++top]);
        }
    }
    return 0;
}
