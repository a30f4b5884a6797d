/*
 * cfg_int.h: the parsing toolkit shared by the configuration modules
 * (cfg.c: top level, listeners, backends, limits; cfg_auth.c: "auth").
 * Private to them and their tests.
 *
 * Every helper reports through cfgp_fail*(), which writes
 * "file:line:col: key.path: reason" (position from jpos.c) into the load's
 * error buffer and returns SG_ERR_BADCFG, so parsers can "return cfgp_fail(...)".
 * The key path is a stack: cfgp_push_key/cfgp_push_index return the old
 * length for cfgp_pop.
 */
#ifndef SPARKGATE_CFG_INT_H
#define SPARKGATE_CFG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "jpos.h"

#define CFG_PATH_MAX 256 /* longest key path named in a message */
#define CFG_SHOW_MAX 64  /* user strings echoed in messages are cut here */

/* State of one load: where messages go and the key path of the node being checked. */
struct cfg_ctx {
    const char *name; /* file name as given, for messages */
    const char *text; /* comment-stripped text: what jansson parsed and jpos walks */
    size_t len;
    char *err;
    size_t errlen;
    char path[CFG_PATH_MAX]; /* escaped as in jpos.h */
    size_t plen;
};

void cfgp_set_err(struct cfg_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cfgp_fail(struct cfg_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cfgp_fail_at(struct cfg_ctx *x, size_t poslen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int cfgp_fail_missing(struct cfg_ctx *x, const char *key, const char *why);
const char *cfgp_show(const char *s, char *buf, size_t size);
size_t cfgp_push_key(struct cfg_ctx *x, const char *key);
size_t cfgp_push_index(struct cfg_ctx *x, size_t index);
void cfgp_pop(struct cfg_ctx *x, size_t old);
const char *cfgp_jtype(const json_t *v);
int cfgp_check_keys(struct cfg_ctx *x, json_t *obj, const char *const *known, size_t n);
int cfgp_get_u32(struct cfg_ctx *x, json_t *obj, const char *key, uint32_t min, uint32_t max,
                 uint32_t *out);
int cfgp_get_bool(struct cfg_ctx *x, json_t *obj, const char *key, bool *out);
int cfgp_get_str_ref(struct cfg_ctx *x, json_t *obj, const char *key, bool required,
                     const char **out);
int cfgp_get_str(struct cfg_ctx *x, json_t *obj, const char *key, bool required, char **out);
int cfgp_get_typed(struct cfg_ctx *x, json_t *obj, const char *key, json_type type,
                   const char *want, bool required, json_t **out);

/*
 * An array section ("listen", "backends", "auth.issuers", a list of names):
 * how cfgp_get_array() checks it and what it calls for each element.
 */
struct cfgp_array {
    const char *key;
    const char *want; /* named when the value is not an array: "an array" */
    bool required;    /* absent: "required key missing" instead of nothing */
    size_t min, max;  /* entry count bounds, checked when max is not 0 */
    size_t size;      /* bytes per parsed element; 0: nothing is allocated */
    /* Parses element |i| (the key path at key[i]) into ((T *)items)[i];
     * items[0..i-1] are parsed already (duplicate checks). */
    int (*each)(struct cfg_ctx *x, json_t *e, void *items, size_t i, void *arg);
};

/*
 * Checks |obj|.|a->key| and calls a->each on its elements in order, stopping
 * at the first error.  Absent and not required: 0, nothing allocated.  With
 * a->size, *|items| receives n + 1 zeroed elements (the spare one keeps an
 * empty array allocated and a pointer array NULL-terminated) and *|n| the
 * count, before any element is parsed and also when one fails, so the
 * caller's release frees what the parsed ones hold; without, both are left
 * alone.
 */
int cfgp_get_array(struct cfg_ctx *x, json_t *obj, const struct cfgp_array *a, void *arg,
                   void **items, size_t *n);

/* 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
struct sockaddr_storage;
bool cfgp_sockaddr_is_loopback(const struct sockaddr_storage *ss);

/* cfg_auth.c: the "auth" section (after listeners and backends), the key
 * files it names (after the whole file validated), and their release. */
struct cfg;
int cfg_auth_parse(struct cfg_ctx *x, json_t *root, struct cfg *c);
int cfg_auth_load_files(struct cfg_ctx *x, json_t *root, struct cfg *c);
void cfg_auth_free(struct cfg *c);
/* After cfg_policy_parse: "anonymous" with profiles needs auth.default_profile. */
int cfg_auth_check_anonymous(struct cfg_ctx *x, json_t *root, const struct cfg *c);
/* Warnings for a loaded snapshot: sources whose principals can coincide. */
void cfg_auth_warn(const struct cfg *c);

/* cfg_policy.c: "profiles" and "redact_conf_keys" (after "auth": it checks the
 * profile names authentication hands out), and their release. */
int cfg_policy_parse(struct cfg_ctx *x, json_t *root, struct cfg *c);
void cfg_policy_free(struct cfg *c);

#endif
