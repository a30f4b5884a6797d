/*
 * sc.h: what sparkgate knows about the Spark Connect service itself: the
 * method table (path, call shape, release) and the request fields every
 * method shares.  Pure: no I/O, no allocation, no logging.
 *
 * Field numbers come from ../shared/spark-connect-protocol.md section 2.1:
 * every request message has session_id = 1 (string) and
 * user_context = 2 (UserContext).
 */
#ifndef SPARKGATE_SC_H
#define SPARKGATE_SC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SC_SERVICE_PREFIX "/spark.connect.SparkConnectService/"

#define SC_FIELD_SESSION_ID 1
#define SC_FIELD_USER_CONTEXT 2

enum sc_kind {
    SC_UNARY,
    SC_SERVER_STREAMING,
    SC_CLIENT_STREAMING,
};

enum sc_method_id {
    SC_M_EXECUTE_PLAN,
    SC_M_ANALYZE_PLAN,
    SC_M_CONFIG,
    SC_M_ADD_ARTIFACTS,
    SC_M_ARTIFACT_STATUS,
    SC_M_INTERRUPT,
    SC_M_REATTACH_EXECUTE,
    SC_M_RELEASE_EXECUTE,
    SC_M_RELEASE_SESSION,
    SC_M_FETCH_ERROR_DETAILS,
    SC_M_CLONE_SESSION,
    SC_M_GET_STATUS,
    SC_M_COUNT
};

struct sc_method {
    enum sc_method_id id;
    const char *name;  /* "ExecutePlan" */
    const char *path;  /* "/spark.connect.SparkConnectService/ExecutePlan" */
    size_t path_len;
    enum sc_kind kind;
    const char *since; /* first Spark release with the method */
};

/*
 * Exact, case-sensitive match of an HTTP/2 :path against the known methods
 * (grpc-java matches exactly; "//x", "%2F", "?q" or a trailing "/" are not
 * the same method).  Returns the entry or NULL.
 */
const struct sc_method *sc_method_by_path(const char *path, size_t len);

/* Entry for |id| (never NULL for a valid id). */
const struct sc_method *sc_method_get(enum sc_method_id id);

/*
 * Extracts the session_id (field 1, last occurrence wins as in protobuf-java)
 * of any SparkConnectService request message.  The message is validated at
 * the top level while scanning.  Returns 1 with |sid| pointing into |msg|,
 * 0 when the field is absent, or SG_ERR_PROTO.
 */
int sc_request_session_id(const uint8_t *msg, size_t len, const uint8_t **sid, size_t *sidlen);

#endif
