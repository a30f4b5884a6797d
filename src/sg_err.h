/*
 * sg_err.h: return codes shared by every sparkgate module.
 *
 * 0 is success; every failure is a negative SG_ERR_* value, and a function
 * that can say more takes a message buffer (char *err, size_t errlen) it
 * fills on failure.  Parsers return the number of bytes consumed (>= 0) or
 * one of these; deciders return a non-negative verdict (POLICY_REFUSED,
 * AUTH_REFUSED...) with the SG_ERR_* kind of a refusal in their verdict
 * struct.  Protocol codes (gRPC statuses, nghttp2 errors) never cross a
 * module API: the caller that speaks the protocol maps these to them.  SG_ERR_AGAIN ("need
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
    SG_ERR_DENIED = -5,   /* refused: the caller is known and not allowed (auth, policy) */
    SG_ERR_BADCFG = -6,   /* configuration invalid */
    SG_ERR_INTERNAL = -7, /* invariant broken or library failure */
    SG_ERR_IO = -8,       /* system call failed (errno is set) */
    SG_ERR_UNSUPP = -9,   /* valid input we do not support (e.g. compression) */
    SG_ERR_AUTH = -10,    /* the caller is not known: credentials missing or not valid */
};

/* Returns a static, human-readable description of |err|. */
const char *sg_strerror(int err);

#endif
