/*
 * sc.h: what sparkgate knows about the Spark Connect service itself: the
 * method table (path, call shape, release) and the request fields every
 * method shares.  Pure: no I/O, no allocation, no logging.
 *
 * Field numbers are Spark's (tools/spark-connect-fields.json lists them):
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
#define SC_FIELD_EXECUTE_PLAN_PLAN 3    /* ExecutePlanRequest.plan */
#define SC_FIELD_CLONE_NEW_SESSION_ID 4 /* CloneSessionRequest.new_session_id */

#define SC_UUID_LEN 36 /* 8-4-4-4-12 hexadecimal digits */

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
    const char *name; /* "ExecutePlan" */
    const char *path; /* "/spark.connect.SparkConnectService/ExecutePlan" */
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

/*
 * True when |s| is a UUID in its canonical text form: 8-4-4-4-12
 * hexadecimal digits of either case separated by '-', 36 bytes, nothing
 * else.  Spark refuses any other session_id (INVALID_HANDLE.FORMAT).
 */
bool sc_uuid_valid(const uint8_t *s, size_t len);

/*
 * The request fields Spark requires before it looks at anything else:
 * the message is not empty (every request carries session_id and
 * user_context), session_id is present and a UUID, CloneSession's
 * new_session_id (when present) is a UUID, an ExecutePlan carries a plan.
 * Every occurrence of a field is checked, not only the one protobuf-java
 * keeps.  Returns 0, or SG_ERR_PROTO with |why| (a static string that
 * never quotes the request) set.
 */
int sc_request_check(enum sc_method_id id, const uint8_t *msg, size_t len, const char **why);

#endif
