/* sg_err.c: descriptions of the shared return codes. */
#include "config.h"

#include "sg_err.h"

const char *
sg_strerror(int err)
{
    switch (err) {
    case SG_OK:
        return "success";
    case SG_ERR_AGAIN:
        return "need more input";
    case SG_ERR_NOMEM:
        return "out of memory";
    case SG_ERR_PROTO:
        return "protocol violation";
    case SG_ERR_LIMIT:
        return "limit exceeded";
    case SG_ERR_DENIED:
        return "denied";
    case SG_ERR_BADCFG:
        return "invalid configuration";
    case SG_ERR_INTERNAL:
        return "internal error";
    case SG_ERR_IO:
        return "I/O error";
    case SG_ERR_UNSUPP:
        return "not supported";
    case SG_ERR_AUTH:
        return "not authenticated";
    default:
        return "unknown error";
    }
}
