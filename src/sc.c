/*
 * sc.c: the Spark Connect method table and shared request fields.  Pure.
 */
#include "config.h"

#include <string.h>

#include "sg_err.h"
#include "pb.h"
#include "sc.h"

#define M(id, name, kind, since)                                                          \
    {                                                                                     \
        id, name, SC_SERVICE_PREFIX name, sizeof(SC_SERVICE_PREFIX name) - 1, kind, since \
    }

/* SparkConnectService has no bidirectional-streaming method */
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

bool
sc_uuid_valid(const uint8_t *s, size_t len)
{
    size_t i;

    if (len != SC_UUID_LEN)
        return false;
    for (i = 0; i < len; i++) {
        uint8_t ch = s[i];

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (ch != '-')
                return false;
        } else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                     (ch >= 'A' && ch <= 'F'))) {
            return false;
        }
    }
    return true;
}

int
sc_request_check(enum sc_method_id id, const uint8_t *msg, size_t len, const char **why)
{
    struct pb_cur c;
    struct pb_field f;
    bool has_sid = false, has_plan = false;
    int rv;

    *why = NULL;
    if (len == 0) {
        *why = "is empty (every request carries session_id and user_context)";
        return SG_ERR_PROTO;
    }
    pb_cur_init(&c, msg, len);
    while ((rv = pb_next(&c, &f)) == 1) {
        if (f.num == SC_FIELD_SESSION_ID) {
            /* a wire type protobuf-java would skip as unknown still leaves the string unset */
            if (f.wt != PB_WT_LEN || !sc_uuid_valid(f.data, f.len)) {
                *why = "has a session_id that is not a UUID (8-4-4-4-12 hexadecimal digits)";
                return SG_ERR_PROTO;
            }
            has_sid = true;
        } else if (id == SC_M_CLONE_SESSION && f.num == SC_FIELD_CLONE_NEW_SESSION_ID) {
            if (f.wt != PB_WT_LEN || !sc_uuid_valid(f.data, f.len)) {
                *why = "has a new_session_id that is not a UUID (8-4-4-4-12 hexadecimal digits)";
                return SG_ERR_PROTO;
            }
        } else if (id == SC_M_EXECUTE_PLAN && f.num == SC_FIELD_EXECUTE_PLAN_PLAN &&
                   f.wt == PB_WT_LEN) {
            has_plan = true;
        }
    }
    if (rv < 0) {
        *why = "is not valid protobuf";
        return SG_ERR_PROTO;
    }
    if (!has_sid) {
        *why = "has no session_id";
        return SG_ERR_PROTO;
    }
    if (id == SC_M_EXECUTE_PLAN && !has_plan) {
        *why = "has no plan";
        return SG_ERR_PROTO;
    }
    return 0;
}
