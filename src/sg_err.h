/*
 * sg_err.h: return codes shared by every sparkgate module.
 *
 * 0 is success; every failure is a negative SG_ERR_* value.  Parsers return
 * the number of bytes consumed (>= 0) or one of these.  SG_ERR_AGAIN ("need
 * more input") is distinct from every "invalid input" code, as in nghttp2's
 * NGHTTP2_ERR_* and OpenSSH's SSH_ERR_*.
 */
#ifndef SPARKGATE_SG_ERR_H
#define SPARKGATE_SG_ERR_H

enum sg_err {
    SG_OK = 0,
    SG_ERR_AGAIN = -1,    /* need more input (parsers only) */
    SG_ERR_NOMEM = -2,    /* allocation failed */
    SG_ERR_PROTO = -3,    /* peer violated a protocol (bad framing, bad wire type) */
    SG_ERR_LIMIT = -4,    /* a configured or hard limit was exceeded */
    SG_ERR_DENIED = -5,   /* authentication or policy refused */
    SG_ERR_BADCFG = -6,   /* configuration invalid */
    SG_ERR_INTERNAL = -7, /* invariant broken or library failure */
    SG_ERR_IO = -8,       /* system call failed (errno is set) */
    SG_ERR_UNSUPP = -9,   /* valid input we do not support (e.g. compression) */
};

/* Returns a static, human-readable description of |err|. */
const char *sg_strerror(int err);

#endif
