/*
 * plan.h: Spark Connect plan walker.
 *
 * Pure: no I/O, no logging, no heap.  The walker reads the request message
 * of any SparkConnectService method and reports every "node" a policy must
 * judge: each member set in the oneofs of Relation, Command, Expression and
 * Catalog, every user-code carrier (PythonUDF, ScalarScalaUDF, JavaUDF,
 * PythonUDTF, PythonDataSource, StreamingForeachFunction, listener payloads,
 * ExecuteExternalCommand, MlOperator, Fetch.Method, pipeline SQL), every
 * google.protobuf.Any (extension), unknown field numbers (inside node
 * messages: a newer Spark's node kind; elsewhere: an unknown field) and
 * Plan.compressed_operation.
 *
 * Safety properties:
 *  - every occurrence of every field is visited: protobuf-java merges
 *    duplicate singular messages and keeps the last oneof member, so the
 *    union of everything present over-approximates what the server runs;
 *  - no C recursion: an explicit stack of at most PLAN_DEPTH_MAX + 1 frames
 *    (about 60 KiB) lives in plan_walk's own C frame, whatever the input;
 *  - linear time: each byte is scanned a bounded number of times;
 *  - every message below the request is parsed completely against the
 *    schema tables (plan_schema.h): wire types 3/4/6/7, bad tags,
 *    truncation, a known field with another wire type than its type's
 *    (repeated scalars may be packed), malformed packed data and invalid
 *    UTF-8 in a string field give SG_ERR_PROTO with plan_facts.err set;
 *    unknown field numbers are reported as nodes, never skipped unseen.
 *    Only bytes fields marked opaque by design (Arrow data, Any values,
 *    artifact content, pickled functions) are skipped unread.
 */
#ifndef SPARKGATE_PLAN_H
#define SPARKGATE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sc.h"

/*
 * Depth = number of nested messages below the walked top-level message
 * (as protobuf-java's recursion counter: Spark's marshallerRecursionLimit is
 * 1024).  A message at depth max_depth is accepted, one below it refused.
 */
#define PLAN_DEPTH_DEFAULT 1024u
#define PLAN_DEPTH_MAX 1024u /* hard cap: larger max_depth values are clamped */
#define PLAN_PATH_MAX 256    /* path buffer incl. NUL; longer paths end in "..." */

enum plan_cat {
    PLAN_CAT_RELATION,
    PLAN_CAT_COMMAND,
    PLAN_CAT_EXPRESSION,
    PLAN_CAT_CATALOG,
    PLAN_CAT_USER_CODE,
    PLAN_CAT_EXTENSION,
    PLAN_CAT_UNKNOWN, /* unknown member of a node oneof (a newer Spark's kind) */
    PLAN_CAT_COMPRESSED,
    PLAN_CAT_UNKNOWN_FIELD, /* unknown field number in any other message */
    PLAN_CAT_COUNT
};

/* Plan.CompressedOperation.op_type values; also selects plan_walk_relation_or_command. */
enum plan_op {
    PLAN_OP_RELATION = 1,
    PLAN_OP_COMMAND = 2,
};

struct plan_limits {
    unsigned max_depth; /* 0: PLAN_DEPTH_DEFAULT; clamped to PLAN_DEPTH_MAX */
    size_t max_nodes;   /* 0: unlimited; more nodes -> SG_ERR_LIMIT */
};

/*
 * One reported node.  Every pointer points into the walked input (or into
 * the walker's path buffer) and is valid only during the callback.
 */
struct plan_node {
    enum plan_cat cat;
    const char *kind; /* protocol field name: "map_partitions", "python_udf", "extension";
                        * "unknown" for unknown numbers; "compressed_operation" */
    const char *type; /* message type of the payload ("PythonUDF"); for unknown
                        * fields, the message they appeared in ("Relation") */
    int schema_idx;   /* index into plan_schema_fields, -1 for unknown fields */
    uint32_t field;   /* field number in the parent message */
    unsigned depth;   /* depth of the payload message */
    const char *path; /* "plan.root.project.expressions[1]", NUL-terminated */
    size_t path_len;
    bool path_truncated;
    const uint8_t *msg; /* the field's payload (length-delimited), NULL otherwise */
    size_t msg_len;
    /* kind-specific facts (last occurrence wins, as in protobuf-java) */
    bool has_eval_type; /* PythonUDF / PythonUDTF */
    int32_t eval_type;
    const uint8_t *text; /* SQL text (sql, sql_command, expression_string, pipeline sql_text),
                          * class or method name (java_udf, MlOperator, Fetch.Method,
                          * execute_external_command runner), listener payload,
                          * Any type_url, compressed data; NULL when absent */
    size_t text_len;
    const uint8_t *text2; /* execute_external_command command, pipeline sql_file_path */
    size_t text2_len;
    int64_t op_type; /* compressed: Plan.CompressedOperation.op_type (enum plan_op) */
    int64_t codec;   /* compressed: compression_codec (1 = ZSTD) */
};

/* Why a walk returned SG_ERR_PROTO (plan_facts.err). */
enum plan_err {
    PLAN_ERR_NONE,
    PLAN_ERR_TAG,        /* unreadable tag or field number 0 / above 2^29-1 */
    PLAN_ERR_WIRE_TYPE,  /* group (3/4) or undefined (6/7) wire type */
    PLAN_ERR_TRUNCATED,  /* value or length beyond the end of the message */
    PLAN_ERR_WRONG_TYPE, /* known field with a wire type its type never has */
    PLAN_ERR_PACKED,     /* packed repeated scalar that does not parse */
    PLAN_ERR_UTF8,       /* string field that is not valid UTF-8 */
};

/* Summary of one walk (zeroed by the walker first). */
struct plan_facts {
    size_t nodes;
    size_t by_cat[PLAN_CAT_COUNT];
    unsigned max_depth; /* deepest message entered */
    /* SG_ERR_PROTO: what and where (err_path is the message holding the field) */
    enum plan_err err;
    uint32_t err_field; /* 0 when the tag itself is unreadable */
    unsigned err_wt;
    const char *err_name;     /* the field's schema name, NULL when unknown */
    const char *err_msg_type; /* the holding message's type */
    char err_path[PLAN_PATH_MAX];
};

/*
 * Called once per node, in input order (pre-order).  Returns 0 to go on or a
 * negative SG_ERR_* value, which stops the walk and is returned by it.
 */
typedef int (*plan_visit_fn)(const struct plan_node *node, void *arg);

/*
 * Walks the request message of |method| (|limits| and |visit| may be NULL).
 * Returns 0, SG_ERR_PROTO (malformed), SG_ERR_LIMIT (too deep, too many
 * nodes), SG_ERR_INTERNAL (bad method id) or the callback's error.
 */
int plan_walk(enum sc_method_id method, const uint8_t *msg, size_t len,
              const struct plan_limits *limits, struct plan_facts *facts, plan_visit_fn visit,
              void *arg);

/*
 * Walks a serialized Relation (PLAN_OP_RELATION, paths start with "root")
 * or Command (PLAN_OP_COMMAND, "command") directly: what a decompressed
 * Plan.compressed_operation contains.  The top message is depth 0; reduce
 * limits->max_depth by the depth of the compressed node to keep Spark's
 * overall limit.  Same returns as plan_walk.
 */
int plan_walk_relation_or_command(enum plan_op op, const uint8_t *msg, size_t len,
                                  const struct plan_limits *limits, struct plan_facts *facts,
                                  plan_visit_fn visit, void *arg);

/* "relation", "command", ... */
const char *plan_cat_name(enum plan_cat cat);

/* "undefined or group wire type", ... for messages */
const char *plan_err_name(enum plan_err e);

#endif
