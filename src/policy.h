/*
 * policy.h: per-profile plan policy.
 *
 * A profile is the compiled form of one "profiles.<name>" object of the
 * configuration (cfg_policy.c builds it; docs/sparkgate.json.5 describes
 * every key).  This module judges one request message against one profile:
 * it walks the plan with plan.c, classifies SQL text with sqlclass.c,
 * decompresses Plan.compressed_operation with hard caps, reads Config
 * set/unset keys and AddArtifacts names and sizes.
 *
 * Pure: no I/O, no logging.  It allocates only to decompress a compressed
 * plan (freed before returning).  The caller (call.c, the explain tool, the
 * fuzzer, the benchmark) decides what to do with the verdict.
 *
 * Judging rule: every node present is judged, in input order, and the first
 * refused one decides (so a denied node never hides behind an allowed one,
 * whatever protobuf-java would merge or keep).
 */
#ifndef SPARKGATE_POLICY_H
#define SPARKGATE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plan.h"
#include "plan_schema.h"
#include "sc.h"

/* Where user code runs; what "user_code.languages" names. */
enum policy_lang {
    POLICY_LANG_PYTHON,   /* PythonUDF, PythonUDTF, PythonDataSource */
    POLICY_LANG_SCALA,    /* ScalarScalaUDF, JVM listener payloads */
    POLICY_LANG_JAVA,     /* JavaUDF (a class name) */
    POLICY_LANG_EXTERNAL, /* ExecuteExternalCommand */
    POLICY_LANG_ML,       /* MlOperator, Fetch.Method (class and method names) */
    POLICY_LANG_PIPELINE, /* declarative pipeline SQL definitions */
    POLICY_LANG_COUNT
};

/* First segment of an artifact name; what "artifacts" keys name. */
enum policy_art {
    POLICY_ART_JARS,
    POLICY_ART_CLASSES,
    POLICY_ART_PYFILES,
    POLICY_ART_ARCHIVES,
    POLICY_ART_FILES,
    POLICY_ART_CACHE,
    POLICY_ART_FORWARD_TO_FS,
    POLICY_ART_COUNT
};

/* A list of '*' / '?' globs (owned by the profile). */
struct policy_globs {
    char **v;
    size_t n;
};

enum policy_list_mode {
    POLICY_ALL = 0,   /* section absent: every kind */
    POLICY_ALLOW = 1, /* "allow": only the named kinds */
    POLICY_DENY = 2,  /* "deny": every kind but the named ones */
};

#define POLICY_NCATS 4 /* relations, commands, expressions, catalog */
#define POLICY_KIND_BYTES ((PLAN_SCHEMA_NFIELDS + 7u) / 8u)
#define POLICY_MAX_EVAL_TYPES 64
#define POLICY_MAX_SQL_BYTES_DEFAULT (1u << 20) /* "max_sql_bytes" when absent */

/* One compiled profile.  Immutable once built; owned by the cfg snapshot. */
struct policy_profile {
    char *name;
    uint32_t methods;                       /* bit (1 << sc_method_id): allowed */
    uint8_t cat_mode[POLICY_NCATS];         /* enum policy_list_mode per category */
    uint8_t kind_denied[POLICY_KIND_BYTES]; /* bit per plan_schema_fields index */
    bool has_user_code;                     /* "user_code" present */
    uint32_t langs;                         /* bit (1 << policy_lang): allowed */
    bool eval_types_set;                    /* "python_eval_types" present */
    int32_t eval_types[POLICY_MAX_EVAL_TYPES];
    size_t neval_types;
    bool has_sql;         /* "sql" present */
    uint32_t sql_classes; /* bit (1 << sqlclass): allowed */
    size_t max_sql_bytes; /* SQL text per message; 0 no cap (the */
                          /* configuration always sets one) */
    bool has_conf;        /* "conf" present */
    struct policy_globs conf_allow, conf_deny;
    bool has_artifacts;                 /* "artifacts" present */
    uint32_t art_kinds;                 /* bit (1 << policy_art): allowed */
    uint64_t art_max[POLICY_ART_COUNT]; /* bytes per artifact; UINT64_MAX unlimited */
    bool has_extensions;                /* "extensions" present */
    struct policy_globs extensions;     /* allowed Any type_urls */
    bool unknown_allowed;               /* "unknown": "allow" (default: see cfg_policy.c) */
    bool restricted;                    /* anything at all is refused by this profile */
};

/* Limits from the "limits" section of the configuration. */
struct policy_limits {
    unsigned max_depth;      /* limits.max_plan_depth (Spark: 1024) */
    size_t max_nodes;        /* limits.max_plan_nodes, 0 unlimited */
    size_t max_decompressed; /* limits.max_decompressed_plan_size */
    uint32_t max_ratio;      /* limits.max_decompression_ratio */
};

#define POLICY_MSG_MAX 512
#define POLICY_KINDS_MAX 256

/* The decision on one message, and what the audit log says about it. */
struct policy_verdict {
    int status;               /* 0 allowed; else the GRPC_* status of the refusal */
    const char *rule;         /* static: "relations.deny", "sql", "proto", ...; NULL if allowed */
    char msg[POLICY_MSG_MAX]; /* grpc-message for the client (refusals only) */
    /* audit facts, filled for allowed and refused messages alike */
    size_t nodes;
    unsigned depth;
    char kinds[POLICY_KINDS_MAX]; /* distinct node kinds in order, "a,b,c"; "..." when cut */
    size_t nkinds;
    const uint8_t *operation_id; /* ExecutePlan/Reattach/Release/Interrupt operation_id, */
    size_t operation_id_len;     /* pointing into the message; NULL when absent */
};

/* Stream state of one AddArtifacts call (zero it before the first message). */
struct policy_art_state {
    bool in_chunked; /* a begin_chunk is being continued by chunks */
    int kind;        /* enum policy_art of the chunked artifact */
    uint64_t bytes;  /* bytes seen so far for it */
    char name[128];  /* its name (cut), for messages */
};

/* Verdict values returned by the policy_check_* functions (or a negative SG_ERR_*). */
#define POLICY_ALLOWED 0
#define POLICY_REFUSED 1

/* Defaults, used by cfg.c and by tools without a configuration. */
void policy_limits_default(struct policy_limits *lim);

/*
 * May |p| call |m| at all?  Decided from the headers, before any body byte.
 * |p| NULL: allowed.
 */
int policy_check_method(const struct policy_profile *p, enum sc_method_id m,
                        struct policy_verdict *v);

/*
 * Judges the one request message of a unary or server-streaming call (or,
 * for AddArtifacts, see policy_check_artifacts).  |p| NULL walks and
 * reports facts but allows everything that parses.  Malformed protobuf or
 * plans beyond |lim| are refused (INVALID_ARGUMENT / RESOURCE_EXHAUSTED)
 * even then: Spark would refuse them too, and they are not worth a backend
 * round trip.  Returns POLICY_ALLOWED, POLICY_REFUSED or SG_ERR_NOMEM.
 */
int policy_check_request(const struct policy_profile *p, enum sc_method_id m, const uint8_t *msg,
                         size_t len, const struct policy_limits *lim, struct policy_verdict *v);

/*
 * Judges one AddArtifactsRequest message of a stream, with |st| carrying
 * the chunked artifact in progress across messages.  Same returns.
 */
int policy_check_artifacts(const struct policy_profile *p, struct policy_art_state *st,
                           const uint8_t *msg, size_t len, struct policy_verdict *v);

/*
 * The tree printer behind "sparkgate explain": calls |visit| for every node
 * of the message, decompressed plans included (|node->path| then starts
 * with "plan.compressed_operation:"), and returns like plan_walk.
 */
int policy_walk_all(enum sc_method_id m, const uint8_t *msg, size_t len,
                    const struct policy_limits *lim, plan_visit_fn visit, void *arg);

/* '*' matches any run (dots included), '?' one byte; iterative, linear-ish. */
bool policy_glob_match(const char *pat, const uint8_t *s, size_t len);
/* The same; |ci|: ASCII letters of either case are equal. */
bool policy_glob_match_case(const char *pat, const uint8_t *s, size_t len, bool ci);

/* Names used in the configuration and in messages. */
const char *policy_lang_name(enum policy_lang l);
const char *policy_art_name(enum policy_art a);
int policy_lang_by_name(const char *s);            /* -1 unknown */
int policy_art_by_name(const char *s, size_t len); /* -1 unknown */
int policy_cat_by_key(const char *key);            /* "relations" -> 0 ...; -1 */
const char *policy_cat_key(int cat);
/* The schema message of category |cat| (Relation, Command, ...), or NULL. */
const struct plan_schema_msg *policy_cat_msg(int cat);
/* Schema index of member |name| of category |cat|, or -1 (config validation). */
int policy_kind_index(int cat, const char *name);

#endif
