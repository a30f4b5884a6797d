/*
 * cfg_policy.c: the "profiles" and "redact_conf_keys" sections of the
 * configuration, compiled into struct policy_profile.
 *
 * Strict like the rest of the configuration: unknown keys, unknown node
 * kinds, unknown languages, SQL classes, artifact kinds and RPC names are
 * errors that name file:line:col and the key path, so a typo never turns
 * into "allowed".  After the profiles, every profile that authentication
 * can hand out (static tokens, issuer rules and defaults, mTLS, the global
 * default) must exist.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sg_err.h"
#include "cfg.h"
#include "cfg_int.h"
#include "policy.h"
#include "sqlclass.h"
#include "util.h"

#define CFG_MAX_PROFILES 256

static const char *const profile_keys[] = {
    "description", "methods",       "relations", "commands",  "expressions", "catalog", "user_code",
    "sql",         "max_sql_bytes", "conf",      "artifacts", "extensions",  "unknown",
};
static const char *const list_keys[] = {"allow", "deny"};
static const char *const user_code_keys[] = {"languages", "python_eval_types"};
static const char *const art_keys[] = {"max_bytes"};
static const char *const sql_names[] = {"query", "dml", "ddl", "admin", "unknown"};
static const int sql_values[] = {SQLCLASS_QUERY, SQLCLASS_DML, SQLCLASS_DDL, SQLCLASS_ADMIN,
                                 SQLCLASS_UNKNOWN};

/*
 * Keys whose values Config responses never show, unless the file says
 * otherwise; matched ignoring case (redact_key_match).  At least what
 * Spark's own default spark.redaction.regex, (?i)secret|password|token|
 * access[.]?key, hides, plus stores Spark's pattern misses: Azure account
 * keys and SAS tokens, private keys, generic credentials.
 */
static const char *const default_redact[] = {
    "spark.connect.authenticate.token",
    "*secret*",
    "*password*",
    "*token*",
    "*access.key*",
    "*accesskey*",
    "*credential*",
    "*passwd*",
    "*private.key*",
    "*privatekey*",
    "*fs.azure.account.key*",
    "*fs.azure.sas.*",
};

static void
globs_free(struct policy_globs *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->v[i]);
    free(g->v);
    g->v = NULL;
    g->n = 0;
}

struct names_arg {
    int (*each)(struct cfg_ctx *x, const char *s, void *arg);
    void *arg;
};

/* One name: a non-empty string without NUL that |each| accepts; copied when |items|. */
static int
get_name(struct cfg_ctx *x, json_t *e, void *items, size_t i, void *arg)
{
    const struct names_arg *na = arg;
    int rc = 0;

    if (!json_is_string(e) || json_string_length(e) == 0 ||
        strlen(json_string_value(e)) != json_string_length(e))
        return cfgp_fail(x, "expected a non-empty string without NUL, got %s", cfgp_jtype(e));
    if (na->each != NULL && (rc = na->each(x, json_string_value(e), na->arg)) < 0)
        return rc;
    if (items != NULL && (((char **)items)[i] = strdup(json_string_value(e))) == NULL)
        return cfgp_fail(x, "out of memory");
    return rc;
}

/*
 * Array of strings at |o|.|key|.  Each element goes through |each|, which
 * may refuse it; |out| receives copies when not NULL.
 */
static int
get_names(struct cfg_ctx *x, json_t *o, const char *key, struct policy_globs *out,
          int (*each)(struct cfg_ctx *x, const char *s, void *arg), void *arg)
{
    struct names_arg na = {each, arg};
    const struct cfgp_array a = {
        .key = key,
        .want = "an array of strings",
        .size = out != NULL ? sizeof(char *) : 0,
        .each = get_name,
    };
    void *items = NULL;
    int rc;

    if (out == NULL)
        return cfgp_get_array(x, o, &a, &na, NULL, NULL);
    rc = cfgp_get_array(x, o, &a, &na, &items, &out->n);
    if (items != NULL)
        out->v = items;
    return rc;
}

/*
 * A glob the matchers (policy_glob_match, redact_key_match) honour: they
 * know '*' and '?' only, so a bracket expression, a brace list or a
 * backslash escape would be compared as literal characters and silently
 * never match what its author meant.  Refused rather than misread.
 */
static int
each_glob(struct cfg_ctx *x, const char *s, void *arg)
{
    const char *bad = strpbrk(s, "[]{}\\");
    char shown[CFG_SHOW_MAX + 4];

    (void)arg;
    if (bad == NULL)
        return 0;
    return cfgp_fail(x,
                     "pattern \"%s\" uses '%c', which sparkgate's globs do not support "
                     "(only * and ? are wildcards; everything else matches itself)",
                     cfgp_show(s, shown, sizeof(shown)), *bad);
}

/* ---- one profile --------------------------------------------------------------- */

static int
each_method(struct cfg_ctx *x, const char *s, void *arg)
{
    struct policy_profile *p = arg;

    if (strcmp(s, "*") == 0) {
        p->methods = (1u << SC_M_COUNT) - 1u;
        return 0;
    }
    for (int m = 0; m < SC_M_COUNT; m++) {
        if (strcmp(sc_method_get((enum sc_method_id)m)->name, s) == 0) {
            p->methods |= 1u << (unsigned)m;
            return 0;
        }
    }
    return cfgp_fail(x,
                     "unknown method \"%.64s\" (ExecutePlan, AnalyzePlan, Config, "
                     "AddArtifacts, ArtifactStatus, Interrupt, ReattachExecute, ReleaseExecute, "
                     "ReleaseSession, FetchErrorDetails, CloneSession, GetStatus or \"*\")",
                     s);
}

struct kind_arg {
    int cat;
    uint8_t *bits; /* named kinds */
    bool star;
};

static int
each_kind(struct cfg_ctx *x, const char *s, void *arg)
{
    struct kind_arg *k = arg;
    int idx;

    if (strcmp(s, "*") == 0) {
        k->star = true;
        return 0;
    }
    idx = policy_kind_index(k->cat, s);
    if (idx < 0)
        return cfgp_fail(x, "\"%.64s\" is not a %s kind of the Spark Connect protocol", s,
                         policy_cat_key(k->cat));
    /* an Any member (extension = 998/999) is reported as an extension node, judged by
     * "extensions" and "unknown"; a kind rule naming it would never be consulted */
    if (plan_schema_fields[idx].kind == PLAN_SCHEMA_F_ANY)
        return cfgp_fail(x,
                         "\"%.64s\" cannot be allowed or denied as a %s kind: extensions "
                         "are judged by the profile's \"extensions\" list (allowed type_urls) "
                         "and \"unknown\"",
                         s, policy_cat_key(k->cat));
    k->bits[(unsigned)idx / 8u] |= (uint8_t)(1u << ((unsigned)idx % 8u));
    return 0;
}

/* "relations": {"allow": [...]} or {"deny": [...]} */
static int
parse_kinds(struct cfg_ctx *x, json_t *o, int cat, struct policy_profile *p)
{
    uint8_t named[POLICY_KIND_BYTES];
    struct kind_arg ka = {cat, named, false};
    const struct plan_schema_msg *m = policy_cat_msg(cat);
    json_t *sec, *allow, *deny;
    size_t old;
    int rc;

    if ((rc = cfgp_get_typed(x, o, policy_cat_key(cat), JSON_OBJECT, "an object", false, &sec)) <
            0 ||
        sec == NULL)
        return rc;
    old = cfgp_push_key(x, policy_cat_key(cat));
    memset(named, 0, sizeof(named));
    allow = json_object_get(sec, "allow");
    deny = json_object_get(sec, "deny");
    if ((rc = cfgp_check_keys(x, sec, list_keys, ARRAY_SIZE(list_keys))) < 0)
        goto out;
    if ((allow == NULL) == (deny == NULL)) {
        rc = cfgp_fail(x, "expected exactly one of \"allow\" or \"deny\"");
        goto out;
    }
    if ((rc = get_names(x, sec, allow != NULL ? "allow" : "deny", NULL, each_kind, &ka)) < 0)
        goto out;
    if (deny != NULL && ka.star) {
        rc = cfgp_fail(x, "\"*\" only makes sense in \"allow\"");
        goto out;
    }
    p->cat_mode[cat] = allow != NULL ? POLICY_ALLOW : POLICY_DENY;
    for (size_t j = 0; m != NULL && j < m->nfields; j++) {
        size_t idx = m->first + j;
        bool is_named = named[idx / 8] & (1u << (idx % 8));
        bool denied = allow != NULL ? !(ka.star || is_named) : is_named;

        if (plan_schema_fields[idx].oneof == NULL)
            continue;
        if (denied) {
            p->kind_denied[idx / 8] |= (uint8_t)(1u << (idx % 8));
            p->restricted = true;
        }
    }
out:
    cfgp_pop(x, old);
    return rc;
}

static int
each_lang(struct cfg_ctx *x, const char *s, void *arg)
{
    struct policy_profile *p = arg;
    int l = policy_lang_by_name(s);

    if (l < 0)
        return cfgp_fail(x,
                         "unknown language \"%.64s\" (python, scala, java, external, ml or "
                         "pipeline)",
                         s);
    p->langs |= 1u << (unsigned)l;
    return 0;
}

static int
parse_user_code(struct cfg_ctx *x, json_t *o, struct policy_profile *p)
{
    json_t *sec, *ev, *e;
    size_t old, old2, i;
    int rc;

    if ((rc = cfgp_get_typed(x, o, "user_code", JSON_OBJECT, "an object", false, &sec)) < 0 ||
        sec == NULL)
        return rc;
    old = cfgp_push_key(x, "user_code");
    p->has_user_code = true;
    p->langs = (1u << POLICY_LANG_COUNT) - 1u;
    if ((rc = cfgp_check_keys(x, sec, user_code_keys, ARRAY_SIZE(user_code_keys))) < 0)
        goto out;
    if (json_object_get(sec, "languages") != NULL) {
        p->langs = 0;
        if ((rc = get_names(x, sec, "languages", NULL, each_lang, p)) < 0)
            goto out;
    }
    if ((rc = cfgp_get_typed(x, sec, "python_eval_types", JSON_ARRAY, "an array of integers", false,
                             &ev)) < 0)
        goto out;
    if (ev != NULL) {
        old2 = cfgp_push_key(x, "python_eval_types");
        p->eval_types_set = true;
        if (json_array_size(ev) > POLICY_MAX_EVAL_TYPES)
            rc = cfgp_fail(x, "at most %d entries", POLICY_MAX_EVAL_TYPES);
        json_array_foreach (ev, i, e) {
            if (rc < 0)
                break;
            if (!json_is_integer(e) || json_integer_value(e) < 0 ||
                json_integer_value(e) > 100000) {
                size_t old3 = cfgp_push_index(x, i);

                rc = cfgp_fail(x, "expected a PythonEvalType number (100, 200, 205, ...)");
                cfgp_pop(x, old3);
                break;
            }
            p->eval_types[p->neval_types++] = (int32_t)json_integer_value(e);
        }
        cfgp_pop(x, old2);
        if (rc < 0)
            goto out;
    }
    if (p->langs != (1u << POLICY_LANG_COUNT) - 1u || p->eval_types_set)
        p->restricted = true;
out:
    cfgp_pop(x, old);
    return rc;
}

static int
each_sql(struct cfg_ctx *x, const char *s, void *arg)
{
    struct policy_profile *p = arg;

    for (size_t i = 0; i < ARRAY_SIZE(sql_names); i++) {
        if (strcmp(s, sql_names[i]) == 0) {
            p->sql_classes |= 1u << (unsigned)sql_values[i];
            return 0;
        }
    }
    return cfgp_fail(x, "unknown SQL class \"%.64s\" (query, dml, ddl, admin or unknown)", s);
}

static int
parse_conf(struct cfg_ctx *x, json_t *o, struct policy_profile *p)
{
    json_t *sec;
    size_t old;
    int rc;

    if ((rc = cfgp_get_typed(x, o, "conf", JSON_OBJECT, "an object", false, &sec)) < 0 ||
        sec == NULL)
        return rc;
    old = cfgp_push_key(x, "conf");
    p->has_conf = true;
    if ((rc = cfgp_check_keys(x, sec, list_keys, ARRAY_SIZE(list_keys))) < 0)
        goto out;
    if (json_object_get(sec, "allow") != NULL) {
        if ((rc = get_names(x, sec, "allow", &p->conf_allow, each_glob, NULL)) < 0)
            goto out;
    } else if ((p->conf_allow.v = calloc(1, sizeof(char *))) == NULL ||
               (p->conf_allow.v[0] = strdup("*")) == NULL) {
        rc = cfgp_fail(x, "out of memory");
        goto out;
    } else {
        p->conf_allow.n = 1;
    }
    rc = get_names(x, sec, "deny", &p->conf_deny, each_glob, NULL);
    if (p->conf_deny.n > 0 || p->conf_allow.n != 1 || strcmp(p->conf_allow.v[0], "*") != 0)
        p->restricted = true;
out:
    cfgp_pop(x, old);
    return rc;
}

static int
parse_artifacts(struct cfg_ctx *x, json_t *o, struct policy_profile *p)
{
    json_t *sec, *v;
    const char *k;
    size_t old, old2;
    int rc, a;

    if ((rc = cfgp_get_typed(x, o, "artifacts", JSON_OBJECT, "an object", false, &sec)) < 0 ||
        sec == NULL)
        return rc;
    old = cfgp_push_key(x, "artifacts");
    p->has_artifacts = true;
    for (a = 0; a < POLICY_ART_COUNT; a++)
        p->art_max[a] = UINT64_MAX;
    json_object_foreach (sec, k, v) {
        old2 = cfgp_push_key(x, k);
        a = policy_art_by_name(k, strlen(k));
        if (a < 0) {
            rc = cfgp_fail(x, "unknown artifact kind (jars, classes, pyfiles, archives, files, "
                              "cache or forward_to_fs)");
        } else if (!json_is_object(v)) {
            rc = cfgp_fail(x, "expected an object, got %s", cfgp_jtype(v));
        } else if ((rc = cfgp_check_keys(x, v, art_keys, ARRAY_SIZE(art_keys))) == 0) {
            json_t *mb = json_object_get(v, "max_bytes");

            p->art_kinds |= 1u << (unsigned)a;
            if (mb != NULL) {
                size_t old3 = cfgp_push_key(x, "max_bytes");

                if (!json_is_integer(mb) || json_integer_value(mb) < 0)
                    rc = cfgp_fail(x, "expected a number of bytes (0 or more)");
                else
                    p->art_max[a] = (uint64_t)json_integer_value(mb);
                cfgp_pop(x, old3);
            }
        }
        cfgp_pop(x, old2);
        if (rc < 0)
            break;
    }
    if (p->art_kinds != (1u << POLICY_ART_COUNT) - 1u)
        p->restricted = true;
    for (a = 0; a < POLICY_ART_COUNT; a++)
        if (p->art_max[a] != UINT64_MAX)
            p->restricted = true;
    cfgp_pop(x, old);
    return rc;
}

static int
parse_profile(struct cfg_ctx *x, json_t *o, struct policy_profile *p)
{
    const char *unknown = NULL, *desc = NULL;
    uint32_t max_sql;
    json_t *sql;
    size_t old;
    int rc, cat;

    if (!json_is_object(o))
        return cfgp_fail(x, "expected an object, got %s", cfgp_jtype(o));
    p->methods = (1u << SC_M_COUNT) - 1u;
    p->sql_classes = (1u << (SQLCLASS_UNKNOWN + 1)) - 1u;
    if ((rc = cfgp_check_keys(x, o, profile_keys, ARRAY_SIZE(profile_keys))) < 0 ||
        (rc = cfgp_get_str_ref(x, o, "description", false, &desc)) < 0)
        return rc;
    if (json_object_get(o, "methods") != NULL) {
        p->methods = 0;
        if ((rc = get_names(x, o, "methods", NULL, each_method, p)) < 0)
            return rc;
        if (p->methods != (1u << SC_M_COUNT) - 1u)
            p->restricted = true;
    }
    for (cat = 0; cat < POLICY_NCATS; cat++)
        if ((rc = parse_kinds(x, o, cat, p)) < 0)
            return rc;
    if ((rc = parse_user_code(x, o, p)) < 0)
        return rc;
    if ((rc = cfgp_get_typed(x, o, "sql", JSON_ARRAY, "an array of SQL classes", false, &sql)) < 0)
        return rc;
    if (sql != NULL) {
        p->has_sql = true;
        p->sql_classes = 1u << SQLCLASS_EMPTY;
        if ((rc = get_names(x, o, "sql", NULL, each_sql, p)) < 0)
            return rc;
        if (p->sql_classes != (1u << (SQLCLASS_UNKNOWN + 1)) - 1u)
            p->restricted = true;
    }
    /* a cost cap, not a rule: every profile has one, so it leaves "restricted" alone */
    max_sql = POLICY_MAX_SQL_BYTES_DEFAULT;
    if ((rc = cfgp_get_u32(x, o, "max_sql_bytes", 1, 1073741824u, &max_sql)) < 0)
        return rc;
    p->max_sql_bytes = max_sql;
    if ((rc = parse_conf(x, o, p)) < 0 || (rc = parse_artifacts(x, o, p)) < 0)
        return rc;
    if (json_object_get(o, "extensions") != NULL) {
        p->has_extensions = true;
        if ((rc = get_names(x, o, "extensions", &p->extensions, each_glob, NULL)) < 0)
            return rc;
    }
    if ((rc = cfgp_get_str_ref(x, o, "unknown", false, &unknown)) < 0)
        return rc;
    /* a profile that refuses anything refuses what it cannot name, unless told otherwise */
    p->unknown_allowed = !p->restricted && !p->has_extensions;
    if (unknown != NULL) {
        old = cfgp_push_key(x, "unknown");
        if (strcmp(unknown, "allow") == 0)
            p->unknown_allowed = true;
        else if (strcmp(unknown, "deny") == 0)
            p->unknown_allowed = false;
        else
            rc = cfgp_fail(x, "expected \"allow\" or \"deny\"");
        cfgp_pop(x, old);
    }
    if (!p->unknown_allowed)
        p->restricted = true;
    return rc;
}

/* ---- references from "auth" --------------------------------------------------- */

static int
check_ref(struct cfg_ctx *x, const struct cfg *c, const char *name, const char *where)
{
    char shown[CFG_SHOW_MAX + 4];

    if (name == NULL || cfg_profile(c, name) != NULL)
        return 0;
    cfgp_pop(x, 0);
    cfgp_push_key(x, "profiles");
    return cfgp_fail(x, "%s names profile \"%s\", which is not defined here", where,
                     cfgp_show(name, shown, sizeof(shown)));
}

static int
check_refs(struct cfg_ctx *x, const struct cfg *c)
{
    const struct cfg_auth *a = &c->auth;
    char where[96];
    size_t i, j;
    int rc;

    if ((rc = check_ref(x, c, a->default_profile, "auth.default_profile")) < 0 ||
        (rc = check_ref(x, c, a->mtls_profile, "auth.mtls.profile")) < 0)
        return rc;
    for (i = 0; i < a->ntokens; i++) {
        snprintf(where, sizeof(where), "auth.static_tokens[%zu].profile", i);
        if ((rc = check_ref(x, c, a->tokens[i].profile, where)) < 0)
            return rc;
    }
    for (i = 0; i < a->nissuers; i++) {
        snprintf(where, sizeof(where), "auth.issuers[%zu].default_profile", i);
        if ((rc = check_ref(x, c, a->issuers[i].default_profile, where)) < 0)
            return rc;
        for (j = 0; j < a->issuers[i].nrules; j++) {
            snprintf(where, sizeof(where), "auth.issuers[%zu].profile_map[%zu].profile", i, j);
            if ((rc = check_ref(x, c, a->issuers[i].rules[j].profile, where)) < 0)
                return rc;
        }
    }
    return 0;
}

/* ---- the sections ---------------------------------------------------------------- */

int
cfg_policy_parse(struct cfg_ctx *x, json_t *root, struct cfg *c)
{
    json_t *obj, *v;
    const char *name;
    size_t old, old2, n;
    int rc;

    /* redact_conf_keys: defaults unless the file lists its own */
    if (json_object_get(root, "redact_conf_keys") != NULL) {
        if ((rc = get_names(x, root, "redact_conf_keys", &c->redact_keys, each_glob, NULL)) < 0)
            return rc;
    } else {
        if ((c->redact_keys.v = calloc(ARRAY_SIZE(default_redact), sizeof(char *))) == NULL)
            return cfgp_fail(x, "out of memory");
        for (n = 0; n < ARRAY_SIZE(default_redact); n++) {
            if ((c->redact_keys.v[n] = strdup(default_redact[n])) == NULL)
                return cfgp_fail(x, "out of memory");
            c->redact_keys.n++;
        }
    }
    /* matched ignoring ASCII case: stored lowered, so redact.c lowers only the key */
    for (n = 0; n < c->redact_keys.n; n++)
        for (char *q = c->redact_keys.v[n]; *q != '\0'; q++)
            if (*q >= 'A' && *q <= 'Z')
                *q = (char)(*q - 'A' + 'a');

    if ((rc = cfgp_get_typed(x, root, "profiles", JSON_OBJECT, "an object", false, &obj)) < 0 ||
        obj == NULL)
        return rc;
    old = cfgp_push_key(x, "profiles");
    n = json_object_size(obj);
    if (n < 1 || n > CFG_MAX_PROFILES) {
        rc = cfgp_fail(x, "expected 1..%d profiles, got %zu", CFG_MAX_PROFILES, n);
        goto out;
    }
    if ((c->profiles = calloc(n, sizeof(*c->profiles))) == NULL) {
        rc = cfgp_fail(x, "out of memory");
        goto out;
    }
    json_object_foreach (obj, name, v) {
        struct policy_profile *p = &c->profiles[c->nprofiles];

        old2 = cfgp_push_key(x, name);
        if (name[0] == '\0' || strlen(name) > 128)
            rc = cfgp_fail(x, "a profile name has 1..128 characters");
        else if ((p->name = strdup(name)) == NULL)
            rc = cfgp_fail(x, "out of memory");
        else
            c->nprofiles++;
        if (rc == 0)
            rc = parse_profile(x, v, p);
        cfgp_pop(x, old2);
        if (rc < 0)
            goto out;
    }
    rc = check_refs(x, c);
out:
    cfgp_pop(x, old);
    return rc;
}

const struct policy_profile *
cfg_profile(const struct cfg *c, const char *name)
{
    for (size_t i = 0; i < c->nprofiles; i++)
        if (strcmp(c->profiles[i].name, name) == 0)
            return &c->profiles[i];
    return NULL;
}

void
cfg_policy_free(struct cfg *c)
{
    for (size_t i = 0; i < c->nprofiles; i++) {
        struct policy_profile *p = &c->profiles[i];

        free(p->name);
        globs_free(&p->conf_allow);
        globs_free(&p->conf_deny);
        globs_free(&p->extensions);
    }
    free(c->profiles);
    c->profiles = NULL;
    c->nprofiles = 0;
    globs_free(&c->redact_keys);
}
