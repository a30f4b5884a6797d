/*
 * sc.c: the Spark Connect method table and shared request fields.  Pure.
 */
#include "config.h"

#include <string.h>

#include "sg_err.h"
#include "pb.h"
#include "sc.h"

#define M(id, name, kind, since)                                                          \
    {                                                                                  \
        id, name, SC_SERVICE_PREFIX name, sizeof(SC_SERVICE_PREFIX name) - 1, kind, since \
    }

/* ../shared/spark-connect-protocol.md section 1: no bidirectional RPCs exist */
static const struct sc_method methods[SC_M_COUNT] = {
    M(SC_M_EXECUTE_PLAN, "ExecutePlan", SC_SERVER_STREAMING, "3.4"),
    M(SC_M_ANALYZE_PLAN, "AnalyzePlan", SC_UNARY, "3.4"),
    M(SC_M_CONFIG, "Config", SC_UNARY, "3.4"),
    M(SC_M_ADD_ARTIFACTS, "AddArtifacts", SC_CLIENT_STREAMING, "3.4"),
    M(SC_M_ARTIFACT_STATUS, "ArtifactStatus", SC_UNARY, "3.5"),
    M(SC_M_INTERRUPT, "Interrupt", SC_UNARY, "3.5"),
    M(SC_M_REATTACH_EXECUTE, "ReattachExecute", SC_SERVER_STREAMING, "3.5"),
    M(SC_M_RELEASE_EXECUTE, "ReleaseExecute", SC_UNARY, "3.5"),
    M(SC_M_RELEASE_SESSION, "ReleaseSession", SC_UNARY, "4.0"),
    M(SC_M_FETCH_ERROR_DETAILS, "FetchErrorDetails", SC_UNARY, "4.0"),
    M(SC_M_CLONE_SESSION, "CloneSession", SC_UNARY, "4.1"),
    M(SC_M_GET_STATUS, "GetStatus", SC_UNARY, "4.2"),
};

const struct sc_method *
sc_method_by_path(const char *path, size_t len)
{
    size_t i;

    if (len <= sizeof(SC_SERVICE_PREFIX) - 1 ||
        memcmp(path, SC_SERVICE_PREFIX, sizeof(SC_SERVICE_PREFIX) - 1) != 0)
        return NULL;
    for (i = 0; i < SC_M_COUNT; i++) {
        if (methods[i].path_len == len && memcmp(methods[i].path, path, len) == 0)
            return &methods[i];
    }
    return NULL;
}

const struct sc_method *
sc_method_get(enum sc_method_id id)
{
    return &methods[id];
}

int
sc_request_session_id(const uint8_t *msg, size_t len, const uint8_t **sid, size_t *sidlen)
{
    return pb_find_last_len(msg, len, SC_FIELD_SESSION_ID, sid, sidlen);
}
