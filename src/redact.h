/*
 * redact.h: Config responses never carry a configured secret back to a
 * client.  A backend Spark 4 server knows the pre-shared key
 * sparkgate authenticates with (spark.connect.authenticate.token) and will
 * answer Config get / get_all / get_option / get_with_default with it; so
 * will any conf a client set to a secret value.  This module rewrites a
 * ConfigResponse so that such values read REDACT_VALUE instead.
 *
 * Pure: no I/O, no logging; allocates the rewritten message only.
 */
#ifndef SPARKGATE_REDACT_H
#define SPARKGATE_REDACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

#define REDACT_VALUE "*********(redacted)"
#define REDACT_WARNING "sparkgate: a warning was removed because it contained a secret"

struct redact_secret {
    const uint8_t *p;
    size_t len;
};

struct redact_rules {
    const struct policy_globs *keys;     /* values of matching keys are hidden */
    const struct redact_secret *secrets; /* values containing one of these are hidden */
    size_t nsecrets;
    const uint8_t *prefix; /* the request's get_all prefix: keys may come */
    size_t prefix_len;     /* back without it, so both forms are matched */
};

/*
 * Rewrites ConfigResponse |msg|.  Returns the number of values and
 * warnings replaced (then *out is a malloc'd message of *outlen bytes the
 * caller frees), 0 when nothing matched (*out NULL: forward |msg| as is),
 * SG_ERR_PROTO for a malformed message or SG_ERR_NOMEM.
 */
int redact_config_response(const uint8_t *msg, size_t len, const struct redact_rules *r,
                           uint8_t **out, size_t *outlen);

/*
 * The get_all prefix of ConfigRequest |req| (operation = 3, get_all = 5,
 * prefix = 1; last occurrence wins).  Returns 1 with it, 0 when absent.
 */
int redact_config_prefix(const uint8_t *req, size_t len, const uint8_t **prefix, size_t *plen);

/*
 * Glob match of a Config key: '*' any run, '?' one byte, ASCII letters of
 * either case equal (Spark's own spark.redaction.regex is "(?i)...").
 */
bool redact_key_match(const char *pat, const uint8_t *key, size_t len);

/*
 * Removes credentials from a Spark Connect connection string (PySpark 3.5
 * sends its whole "sc://host:port/;token=...;user_id=..." as Config
 * spark.remote when a session starts): every ";name=value" parameter whose
 * name contains token, secret, passw, pwd, credential, auth, access key,
 * api key or private (any case), and a "user:password@" userinfo.  The
 * output is never longer than the input: |out| needs |len| bytes.  Returns
 * the number of parts removed (0: *out holds the input unchanged).
 */
int redact_remote_scrub(const uint8_t *v, size_t len, uint8_t *out, size_t *outlen);

/*
 * Rewrites ConfigRequest |msg| so that no connection string in it carries
 * a credential: the values of every KeyValue of Operation.set and
 * Operation.get_with_default whose key is spark.remote, or whose value
 * starts with "sc://", go through redact_remote_scrub; the enclosing
 * length fields are rebuilt.  Returns the number of parts removed (then
 * *out is a malloc'd message of *outlen bytes the caller frees), 0 when
 * nothing changed (*out NULL), SG_ERR_PROTO for a malformed message or
 * SG_ERR_NOMEM.
 */
int redact_config_request(const uint8_t *msg, size_t len, uint8_t **out, size_t *outlen);

#endif
