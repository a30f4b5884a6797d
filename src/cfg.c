/*
 * cfg.c: loads sparkgate.json into an immutable, refcounted struct cfg.
 *
 * The file is read whole, its comments are blanked by jpos_strip_comments()
 * (same lines and columns), jansson parses it with JSON_REJECT_DUPLICATES,
 * and the tree is validated top-down: unknown keys first (so a typo is
 * reported as a typo, not as a missing key), then every known key for type,
 * range and meaning.  jansson keeps no positions, so every semantic error
 * goes back to the text with jpos_find() and the key path built on the way
 * down.  Only when the whole file is valid are the TLS contexts built;
 * nothing here touches the running process until the caller swaps the
 * snapshot in with cfg_set_current().
 *
 * Scalar sections (limits, timeouts) are described by tables below; the
 * same key names, ranges and defaults are in docs/sparkgate.json.5 and
 * conf/sparkgate.json, and tests/unit/check_cfg.c checks all three agree.
 * Every message has the form "FILE:LINE:COL: KEYPATH: reason" (see cfg.h).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/ssl.h>

#include "cfg.h"
#include "cfg_int.h"
#include "jpos.h"
#include "log.h"
#include "sg_err.h"
#include "tls.h"
#include "util.h"

/* clang-format off */
#define CFG_REASON_MAX  512         /* reason part of a message */
#define CFG_FILE_MAX    (16u << 20) /* a larger config file is a mistake, not a config */
#define CFG_NAME_MAX    64          /* backends[].name */
#define CFG_HOST_MAX    256         /* a DNS name is at most 253 bytes */
#define CFG_PORT_MAX    16
#define CFG_WORKERS_MAX 64
/* clang-format on */

/* One integer key of a scalar section: parser, defaults and docs come from this. */
struct cfg_field {
    const char *key; /* JSON member name (also the struct member name) */
    size_t off;      /* offsetof() in the section struct; the member is a uint32_t */
    uint32_t min, max, def;
};

/* clang-format off */
#define CFG_LIMIT(k, lo, hi, d)   { #k, offsetof(struct cfg_limits, k), lo, hi, d }
#define CFG_TIMEOUT(k, lo, hi, d) { #k, offsetof(struct cfg_timeouts, k), lo, hi, d }
/* clang-format on */

static const struct cfg_field cfg_limit_fields[] = {
    CFG_LIMIT(max_connections, 1, 1000000, 10000),
    CFG_LIMIT(max_concurrent_streams, 1, 10000, 100),
    CFG_LIMIT(max_header_list_size, 1024, 1048576, 16384),
    CFG_LIMIT(max_header_count, 8, 1000, 100),
    /* Spark Connect's own default (spark.connect.grpc.maxInboundMessageSize) is 128 MiB */
    CFG_LIMIT(max_request_message_size, 1024, 1073741824, 134217728),
    /* RFC 9113 §6.9.1: a window is at most 2^31-1; 65535 is the protocol's initial value */
    CFG_LIMIT(stream_window_size, 65535, 2147483647, 1048576),
    CFG_LIMIT(connection_window_size, 65535, 2147483647, 16777216),
    CFG_LIMIT(stream_buffer_size, 16384, 268435456, 1048576),
    CFG_LIMIT(backend_stream_window_size, 65535, 2147483647, 1048576),
    CFG_LIMIT(backend_connection_window_size, 65535, 2147483647, 16777216),
    /* protobuf-java's recursion limit as Spark sets it; sparkgate never goes deeper */
    CFG_LIMIT(max_plan_depth, 1, 1024, 1024),
    CFG_LIMIT(max_plan_nodes, 1, 100000000, 10000000),
    CFG_LIMIT(max_decompressed_plan_size, 1024, 1073741824, 134217728),
    CFG_LIMIT(max_decompression_ratio, 1, 1000000, 256),
    /* 65535: the window every HTTP/2 peer starts with anyway */
    CFG_LIMIT(unauthenticated_stream_window_size, 1024, 2147483647, 65535),
    CFG_LIMIT(max_auth_waiting_per_connection, 1, 10000, 8),
    CFG_LIMIT(max_auth_waiting_per_worker, 1, 1000000, 256),
    /* two maximal messages per connection; eight for the whole process */
    CFG_LIMIT(connection_request_buffer, 1048576, 4294967295u, 268435456),
    CFG_LIMIT(process_request_buffer, 1048576, 4294967295u, 1073741824),
};

static const struct cfg_field cfg_timeout_fields[] = {
    CFG_TIMEOUT(tls_handshake_ms, 1, 86400000, 10000),
    CFG_TIMEOUT(request_header_ms, 1, 86400000, 10000),
    CFG_TIMEOUT(idle_ms, 1, 86400000, 300000),
    CFG_TIMEOUT(backend_connect_ms, 1, 86400000, 5000),
    CFG_TIMEOUT(drain_ms, 1, 86400000, 30000),
    CFG_TIMEOUT(auth_key_wait_ms, 1, 60000, 2000),
    CFG_TIMEOUT(stall_ms, 1, 86400000, 60000),
};

/* a member added to struct cfg_limits or cfg_timeouts needs its table entry */
_Static_assert(ARRAY_SIZE(cfg_limit_fields) == sizeof(struct cfg_limits) / sizeof(uint32_t),
               "cfg_limit_fields does not cover struct cfg_limits");
_Static_assert(ARRAY_SIZE(cfg_timeout_fields) == sizeof(struct cfg_timeouts) / sizeof(uint32_t),
               "cfg_timeout_fields does not cover struct cfg_timeouts");
/* check_field_keys() sizes its list by the longer table */
_Static_assert(ARRAY_SIZE(cfg_timeout_fields) <= ARRAY_SIZE(cfg_limit_fields),
               "check_field_keys() list too short");

static const char *const cfg_top_keys[] = {
    "workers", "listen", "backends", "limits",           "timeouts",
    "log",     "auth",   "profiles", "redact_conf_keys",
};
static const char *const cfg_listen_keys[] = {"address", "tls", "plaintext"};
static const char *const cfg_listen_tls_keys[] = {
    "certificate", "private_key", "min_version", "ciphers", "ciphersuites",
};
static const char *const cfg_backend_keys[] = {
    "name", "address", "tls", "authority", "max_streams_per_connection", "preshared_token_file",
};
static const char *const cfg_backend_tls_keys[] = {
    "ca", "server_name", "verify", "certificate", "private_key",
};
static const char *const cfg_log_keys[] = {"level", "access", "audit"};

static uint64_t cfg_generation; /* atomic: last generation handed out */

static pthread_mutex_t cfg_cur_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cfg *cfg_cur; /* under cfg_cur_lock; owns one reference */

/* ---- messages ------------------------------------------------------------ */

/*
 * Every configuration message is written here, and is one line whatever
 * it quotes: file text in jansson's "near '...'", file names, OpenSSL
 * reasons.  Control bytes become '?', so a message can neither break the
 * line nor forge another one in a log.
 */
void
cfgp_set_err(struct cfg_ctx *x, const char *fmt, ...)
{
    va_list ap;
    char *p;

    if (x->err == NULL || x->errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(x->err, x->errlen, fmt, ap);
    va_end(ap);
    for (p = x->err; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    }
}

/*
 * Writes "name:line:col: path: reason" for the node at the first |poslen|
 * bytes of the current path (|what| picks its key or its value) and
 * returns SG_ERR_BADCFG, so callers can "return cfgp_fail(...)".
 */
static int vfail_at(struct cfg_ctx *x, size_t poslen, enum jpos_what what, const char *fmt,
                    va_list ap) __attribute__((format(printf, 4, 0)));

static int
vfail_at(struct cfg_ctx *x, size_t poslen, enum jpos_what what, const char *fmt, va_list ap)
{
    char reason[CFG_REASON_MAX];
    char pos[CFG_PATH_MAX];
    struct jpos_loc loc;

    vsnprintf(reason, sizeof(reason), fmt, ap);
    memcpy(pos, x->path, poslen);
    pos[poslen] = '\0';
    /* the text jansson accepted always walks; the fallback only guards a bug */
    if (jpos_find(x->text, x->len, pos, what, &loc) < 0 &&
        jpos_find(x->text, x->len, "", JPOS_VALUE, &loc) < 0) {
        loc.line = 1;
        loc.col = 1;
    }
    if (x->plen > 0)
        cfgp_set_err(x, "%s:%zu:%zu: %s: %s", x->name, loc.line, loc.col, x->path, reason);
    else
        cfgp_set_err(x, "%s:%zu:%zu: %s", x->name, loc.line, loc.col, reason);
    return SG_ERR_BADCFG;
}

/* Error about the node at the current path, positioned at its key (or element). */
int
cfgp_fail(struct cfg_ctx *x, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vfail_at(x, x->plen, JPOS_KEY, fmt, ap);
    va_end(ap);
    return rc;
}

/* Error about the current path, positioned at the object (value) at path prefix |poslen|. */
int
cfgp_fail_at(struct cfg_ctx *x, size_t poslen, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vfail_at(x, poslen, JPOS_VALUE, fmt, ap);
    va_end(ap);
    return rc;
}

/*
 * Copies user text |s| into |buf| so it fits in a one-line message:
 * control bytes become '?', and more than CFG_SHOW_MAX bytes end in "...".
 */
const char *
cfgp_show(const char *s, char *buf, size_t size)
{
    size_t i;

    for (i = 0; s[i] != '\0' && i < CFG_SHOW_MAX && i + 4 < size; i++)
        buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (s[i] != '\0' && i + 4 <= size) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

/* ---- key path ------------------------------------------------------------ */

/*
 * Enters member |key| / element |index|.  Returns the previous path length
 * for cfgp_pop().  A path that would not fit stays at its parent, so a message
 * still points at the enclosing object.
 */
size_t
cfgp_push_key(struct cfg_ctx *x, const char *key)
{
    size_t old = x->plen;

    (void)jpos_path_key(x->path, sizeof(x->path), &x->plen, key);
    return old;
}

size_t
cfgp_push_index(struct cfg_ctx *x, size_t index)
{
    size_t old = x->plen;

    (void)jpos_path_index(x->path, sizeof(x->path), &x->plen, index);
    return old;
}

void
cfgp_pop(struct cfg_ctx *x, size_t old)
{
    x->plen = old;
    x->path[old] = '\0';
}

/* ---- typed accessors ----------------------------------------------------- */

const char *
cfgp_jtype(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "real";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

/*
 * Optimal string alignment distance between |a| and |b| (insert, delete,
 * replace, or swap two neighbours: one each), for "did you mean".  Keys
 * longer than CFG_NAME_MAX are never close to a known key.
 */
static size_t
edit_distance(const char *a, const char *b)
{
    unsigned char d[CFG_NAME_MAX + 1][CFG_NAME_MAX + 1];
    size_t la = strlen(a), lb = strlen(b), i, j;
    unsigned int best, v;

    if (la > CFG_NAME_MAX || lb > CFG_NAME_MAX)
        return (size_t)-1;
    for (i = 0; i <= la; i++)
        d[i][0] = (unsigned char)i;
    for (j = 0; j <= lb; j++)
        d[0][j] = (unsigned char)j;
    for (i = 1; i <= la; i++) {
        for (j = 1; j <= lb; j++) {
            best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1] ? 1u : 0u);
            v = d[i - 1][j] + 1u;
            best = v < best ? v : best;
            v = d[i][j - 1] + 1u;
            best = v < best ? v : best;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                v = d[i - 2][j - 2] + 1u;
                best = v < best ? v : best;
            }
            d[i][j] = (unsigned char)best;
        }
    }
    return d[la][lb];
}

/*
 * The known key closest to |key| when it is within 2 edits, else NULL.  A
 * key is not suggested when the edits would replace all of it ("x" is not
 * a typo of "ca").
 */
static const char *
suggest(const char *key, const char *const *known, size_t n)
{
    const char *best = NULL;
    size_t i, d, bestd = 3;

    for (i = 0; i < n; i++) {
        d = edit_distance(key, known[i]);
        if (d < bestd && d < strlen(known[i])) {
            best = known[i];
            bestd = d;
        }
    }
    return best;
}

/* Rejects the first member of |obj| (in file order) that is not in |known|. */
int
cfgp_check_keys(struct cfg_ctx *x, json_t *obj, const char *const *known, size_t n)
{
    char shown[CFG_SHOW_MAX + 4];
    const char *key, *best;
    json_t *v;
    size_t i, old;
    int rc = 0;

    json_object_foreach (obj, key, v) {
        for (i = 0; i < n && strcmp(key, known[i]) != 0; i++)
            continue;
        if (i < n)
            continue;
        best = suggest(key, known, n);
        old = cfgp_push_key(x, key);
        if (x->plen == old)
            rc = cfgp_fail(x, "unknown key \"%s\"", cfgp_show(key, shown, sizeof(shown)));
        else if (best != NULL)
            rc = cfgp_fail(x, "unknown key (did you mean \"%s\"?)", best);
        else
            rc = cfgp_fail(x, "unknown key");
        cfgp_pop(x, old);
        break;
    }
    return rc;
}

/* Same, for the keys of a descriptor table. */
static int
check_field_keys(struct cfg_ctx *x, json_t *obj, const struct cfg_field *tab, size_t n)
{
    const char *known[ARRAY_SIZE(cfg_limit_fields)] = {NULL};
    size_t i;

    for (i = 0; i < n && i < ARRAY_SIZE(known); i++)
        known[i] = tab[i].key;
    return cfgp_check_keys(x, obj, known, i);
}

/* "backends[0].address: required key missing", positioned at the enclosing object. */
int
cfgp_fail_missing(struct cfg_ctx *x, const char *key, const char *why)
{
    size_t old = cfgp_push_key(x, key);
    int rc = cfgp_fail_at(x, old, "%s", why);

    cfgp_pop(x, old);
    return rc;
}

/*
 * Member |key| of |obj| as an integer in |min|..|max|.  |*out| is left
 * alone when the member is absent (the caller stored the default).
 */
int
cfgp_get_u32(struct cfg_ctx *x, json_t *obj, const char *key, uint32_t min, uint32_t max,
             uint32_t *out)
{
    json_t *v = json_object_get(obj, key);
    json_int_t n;
    size_t old;
    int rc = 0;

    if (v == NULL)
        return 0;
    old = cfgp_push_key(x, key);
    /* jansson keeps 1.0 (real), "1" (string) and true (boolean) apart from 1 */
    if (!json_is_integer(v)) {
        rc = cfgp_fail(x, "expected an integer, got %s", cfgp_jtype(v));
        goto out;
    }
    n = json_integer_value(v);
    if (n < (json_int_t)min || n > (json_int_t)max) {
        rc = cfgp_fail(x, "%" JSON_INTEGER_FORMAT " is out of range %" PRIu32 "..%" PRIu32, n, min,
                       max);
        goto out;
    }
    *out = (uint32_t)n;
out:
    cfgp_pop(x, old);
    return rc;
}

int
cfgp_get_bool(struct cfg_ctx *x, json_t *obj, const char *key, bool *out)
{
    json_t *v = json_object_get(obj, key);
    size_t old;
    int rc = 0;

    if (v == NULL)
        return 0;
    old = cfgp_push_key(x, key);
    if (!json_is_boolean(v))
        rc = cfgp_fail(x, "expected a boolean, got %s", cfgp_jtype(v));
    else
        *out = json_is_true(v);
    cfgp_pop(x, old);
    return rc;
}

/*
 * Member |key| of |obj| as a non-empty string.  |*out| is set to jansson's
 * copy (valid while the tree lives) or left alone when absent.
 */
int
cfgp_get_str_ref(struct cfg_ctx *x, json_t *obj, const char *key, bool required, const char **out)
{
    json_t *v = json_object_get(obj, key);
    size_t old;
    int rc = 0;

    if (v == NULL)
        return required ? cfgp_fail_missing(x, key, "required key missing") : 0;
    old = cfgp_push_key(x, key);
    if (!json_is_string(v))
        rc = cfgp_fail(x, "expected a string, got %s", cfgp_jtype(v));
    else if (json_string_length(v) == 0)
        rc = cfgp_fail(x, "must not be empty");
    else
        *out = json_string_value(v);
    cfgp_pop(x, old);
    return rc;
}

/* Same, into |*out| as a malloc'ed copy owned by the snapshot. */
int
cfgp_get_str(struct cfg_ctx *x, json_t *obj, const char *key, bool required, char **out)
{
    const char *s = NULL;
    int rc;

    if ((rc = cfgp_get_str_ref(x, obj, key, required, &s)) < 0 || s == NULL)
        return rc;
    if ((*out = strdup(s)) == NULL)
        return cfgp_fail(x, "out of memory");
    return 0;
}

/* Member |key| of |obj| if it is of JSON type |type|; NULL when absent. */
int
cfgp_get_typed(struct cfg_ctx *x, json_t *obj, const char *key, json_type type, const char *want,
               bool required, json_t **out)
{
    json_t *v = json_object_get(obj, key);
    size_t old;
    int rc = 0;

    *out = NULL;
    if (v == NULL)
        return required ? cfgp_fail_missing(x, key, "required key missing") : 0;
    old = cfgp_push_key(x, key);
    if (json_typeof(v) != type)
        rc = cfgp_fail(x, "expected %s, got %s", want, cfgp_jtype(v));
    else
        *out = v;
    cfgp_pop(x, old);
    return rc;
}

int
cfgp_get_array(struct cfg_ctx *x, json_t *obj, const struct cfgp_array *a, void *arg, void **items,
               size_t *n)
{
    json_t *arr;
    void *mem = NULL;
    size_t len, i, old, old2;
    int rc;

    if ((rc = cfgp_get_typed(x, obj, a->key, JSON_ARRAY, a->want, a->required, &arr)) < 0 ||
        arr == NULL)
        return rc;
    old = cfgp_push_key(x, a->key);
    len = json_array_size(arr);
    if (a->max != 0 && (len < a->min || len > a->max)) {
        rc = cfgp_fail(x, "expected %zu..%zu entries, got %zu", a->min, a->max, len);
        goto out;
    }
    if (a->size != 0) {
        if ((mem = calloc(len + 1, a->size)) == NULL) {
            rc = cfgp_fail(x, "out of memory");
            goto out;
        }
        *items = mem;
        *n = len;
    }
    for (i = 0; i < len && rc == 0; i++) {
        old2 = cfgp_push_index(x, i);
        rc = a->each(x, json_array_get(arr, i), mem, i, arg);
        cfgp_pop(x, old2);
    }
out:
    cfgp_pop(x, old);
    return rc;
}

/* ---- sections ------------------------------------------------------------ */

/*
 * Fills the uint32_t members of |base| described by |tab| from member
 * |section| of |root|, defaults first, so an absent section or key keeps
 * the table's default.
 */
static int
parse_fields(struct cfg_ctx *x, json_t *root, const char *section, const struct cfg_field *tab,
             size_t n, void *base)
{
    json_t *obj;
    size_t i, old;
    int rc;

    for (i = 0; i < n; i++)
        memcpy((char *)base + tab[i].off, &tab[i].def, sizeof(uint32_t));
    if ((rc = cfgp_get_typed(x, root, section, JSON_OBJECT, "an object", false, &obj)) < 0 ||
        obj == NULL)
        return rc;
    old = cfgp_push_key(x, section);
    if ((rc = check_field_keys(x, obj, tab, n)) < 0)
        goto out;
    for (i = 0; i < n; i++) {
        uint32_t v;

        memcpy(&v, (char *)base + tab[i].off, sizeof(v));
        if ((rc = cfgp_get_u32(x, obj, tab[i].key, tab[i].min, tab[i].max, &v)) < 0)
            goto out;
        memcpy((char *)base + tab[i].off, &v, sizeof(v));
    }
out:
    cfgp_pop(x, old);
    return rc;
}

bool
cfgp_sockaddr_is_loopback(const struct sockaddr_storage *ss)
{
    const struct in6_addr *a6;

    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss->ss_family != AF_INET6)
        return false;
    a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a6) || (IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127);
}

/* A decimal port 1..65535: util_split_hostport() accepts 0, which no peer can use. */
static bool
port_ok(const char *p)
{
    unsigned long v = 0;
    size_t i;

    for (i = 0; p[i] != '\0'; i++) {
        if (p[i] < '0' || p[i] > '9' || i >= 5)
            return false;
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    return i > 0 && v >= 1 && v <= 65535;
}

static int
parse_listener_tls(struct cfg_ctx *x, json_t *o, struct cfg_listener *l)
{
    char shown[CFG_SHOW_MAX + 4];
    const char *ver = NULL;
    size_t old;
    int rc;

    if ((rc = cfgp_check_keys(x, o, cfg_listen_tls_keys, ARRAY_SIZE(cfg_listen_tls_keys))) < 0 ||
        (rc = cfgp_get_str(x, o, "certificate", true, &l->cert_file)) < 0 ||
        (rc = cfgp_get_str(x, o, "private_key", true, &l->key_file)) < 0 ||
        (rc = cfgp_get_str_ref(x, o, "min_version", false, &ver)) < 0 ||
        (rc = cfgp_get_str(x, o, "ciphers", false, &l->ciphers)) < 0 ||
        (rc = cfgp_get_str(x, o, "ciphersuites", false, &l->ciphersuites)) < 0)
        return rc;
    l->min_version = TLS1_2_VERSION;
    if (ver == NULL || strcmp(ver, "1.2") == 0)
        return 0;
    if (strcmp(ver, "1.3") == 0) {
        l->min_version = TLS1_3_VERSION;
        return 0;
    }
    old = cfgp_push_key(x, "min_version");
    rc = cfgp_fail(x, "\"%s\" is not \"1.2\" or \"1.3\"", cfgp_show(ver, shown, sizeof(shown)));
    cfgp_pop(x, old);
    return rc;
}

/* listen[i]: |ls[0..i-1]| are already valid (duplicate check). */
static int
parse_listener(struct cfg_ctx *x, json_t *o, void *items, size_t i, void *arg)
{
    struct cfg_listener *ls = items, *l = &ls[i];
    char host[CFG_HOST_MAX], port[CFG_PORT_MAX];
    const char *why = NULL;
    json_t *tls = NULL;
    bool plaintext = false;
    size_t old, j;
    int rc;

    (void)arg;
    if (!json_is_object(o))
        return cfgp_fail(x, "expected an object, got %s", cfgp_jtype(o));
    if ((rc = cfgp_check_keys(x, o, cfg_listen_keys, ARRAY_SIZE(cfg_listen_keys))) < 0 ||
        (rc = cfgp_get_str(x, o, "address", true, &l->address)) < 0)
        return rc;

    old = cfgp_push_key(x, "address");
    /* the port text is checked here too: util_parse_sockaddr() lets port 0 through */
    if (util_split_hostport(l->address, host, sizeof(host), port, sizeof(port), &why) < 0 ||
        util_parse_sockaddr(l->address, &l->ss, &l->sslen, &why) < 0) {
        rc = cfgp_fail(x, "not a host:port (%s)", why != NULL ? why : "bad address");
    } else if (!port_ok(port)) {
        rc = cfgp_fail(x, "not a host:port (port must be 1..65535)");
    } else {
        for (j = 0; j < i; j++) {
            if (ls[j].sslen == l->sslen && memcmp(&ls[j].ss, &l->ss, l->sslen) == 0) {
                rc = cfgp_fail(x, "duplicate address \"%s\" (first at listen[%zu])", l->address, j);
                break;
            }
        }
    }
    cfgp_pop(x, old);
    if (rc < 0)
        return rc;

    if ((rc = cfgp_get_bool(x, o, "plaintext", &plaintext)) < 0 ||
        (rc = cfgp_get_typed(x, o, "tls", JSON_OBJECT, "an object", false, &tls)) < 0)
        return rc;
    if (tls != NULL && plaintext)
        return cfgp_fail(x, "\"tls\" and \"plaintext\": true are mutually exclusive");
    if (tls == NULL && !plaintext)
        return cfgp_fail(x, "needs \"tls\" (or \"plaintext\": true for h2c)");
    l->tls = tls != NULL;
    l->min_version = TLS1_2_VERSION;
    if (tls == NULL)
        return 0;
    old = cfgp_push_key(x, "tls");
    rc = parse_listener_tls(x, tls, l);
    cfgp_pop(x, old);
    return rc;
}

static const struct cfgp_array listen_array = {
    .key = "listen",
    .want = "an array",
    .required = true,
    .min = 1,
    .max = CFG_MAX_LISTENERS,
    .size = sizeof(struct cfg_listener),
    .each = parse_listener,
};

static int
parse_listeners(struct cfg_ctx *x, json_t *root, struct cfg *c)
{
    void *items = NULL;
    int rc = cfgp_get_array(x, root, &listen_array, NULL, &items, &c->nlisteners);

    c->listeners = items;
    return rc;
}

/* 1..64 of [A-Za-z0-9._-]: names appear in logs and metrics, and routing hashes them. */
static int
check_backend_name(struct cfg_ctx *x, const char *name)
{
    size_t n = strlen(name), i;
    unsigned char ch;

    if (n > CFG_NAME_MAX)
        return cfgp_fail(x, "longer than %d characters", CFG_NAME_MAX);
    for (i = 0; i < n; i++) {
        ch = (unsigned char)name[i];
        if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z') && !(ch >= '0' && ch <= '9') &&
            ch != '.' && ch != '_' && ch != '-')
            return cfgp_fail(x, "character %zu is not one of A-Z a-z 0-9 . _ -", i + 1);
    }
    return 0;
}

static int
parse_backend_tls(struct cfg_ctx *x, json_t *o, struct cfg_backend *b)
{
    int rc;

    if ((rc = cfgp_check_keys(x, o, cfg_backend_tls_keys, ARRAY_SIZE(cfg_backend_tls_keys))) < 0 ||
        (rc = cfgp_get_str(x, o, "ca", false, &b->ca_file)) < 0 ||
        (rc = cfgp_get_str(x, o, "server_name", false, &b->server_name)) < 0 ||
        (rc = cfgp_get_bool(x, o, "verify", &b->verify)) < 0 ||
        (rc = cfgp_get_str(x, o, "certificate", false, &b->cert_file)) < 0 ||
        (rc = cfgp_get_str(x, o, "private_key", false, &b->key_file)) < 0)
        return rc;
    /* a client certificate is useless without its key, and a key alone is a mistake */
    if (b->cert_file != NULL && b->key_file == NULL)
        return cfgp_fail_missing(x, "private_key", "required with \"certificate\"");
    if (b->key_file != NULL && b->cert_file == NULL)
        return cfgp_fail_missing(x, "certificate", "required with \"private_key\"");
    return 0;
}

/* backends[i]: |bs[0..i-1]| are already valid (duplicate check). */
static int
parse_backend(struct cfg_ctx *x, json_t *o, void *items, size_t i, void *arg)
{
    struct cfg_backend *bs = items, *b = &bs[i];
    char host[CFG_HOST_MAX], port[CFG_PORT_MAX];
    const char *why = NULL, *p;
    json_t *tls = NULL;
    size_t old, j;
    int rc = 0;

    (void)arg;
    b->verify = true;
    b->max_streams_per_conn = 100;
    if (!json_is_object(o))
        return cfgp_fail(x, "expected an object, got %s", cfgp_jtype(o));
    if ((rc = cfgp_check_keys(x, o, cfg_backend_keys, ARRAY_SIZE(cfg_backend_keys))) < 0 ||
        (rc = cfgp_get_str(x, o, "name", true, &b->name)) < 0)
        return rc;

    old = cfgp_push_key(x, "name");
    rc = check_backend_name(x, b->name);
    for (j = 0; rc == 0 && j < i; j++) {
        if (strcmp(bs[j].name, b->name) == 0)
            rc = cfgp_fail(x, "duplicate backend name \"%s\" (first at backends[%zu])", b->name, j);
    }
    cfgp_pop(x, old);
    if (rc < 0 || (rc = cfgp_get_str(x, o, "address", true, &b->address)) < 0)
        return rc;

    old = cfgp_push_key(x, "address");
    if (util_split_hostport(b->address, host, sizeof(host), port, sizeof(port), &why) < 0)
        rc = cfgp_fail(x, "not a host:port (%s)", why != NULL ? why : "bad address");
    else if (host[0] == '\0')
        rc = cfgp_fail(x, "not a host:port (empty host)");
    else if (!port_ok(port))
        rc = cfgp_fail(x, "not a host:port (port must be 1..65535)");
    else if ((b->host = strdup(host)) == NULL || (b->port = strdup(port)) == NULL)
        rc = cfgp_fail(x, "out of memory");
    cfgp_pop(x, old);
    if (rc < 0)
        return rc;

    if ((rc = cfgp_get_typed(x, o, "tls", JSON_OBJECT, "an object", false, &tls)) < 0)
        return rc;
    if (tls != NULL) {
        b->tls = true;
        old = cfgp_push_key(x, "tls");
        rc = parse_backend_tls(x, tls, b);
        cfgp_pop(x, old);
        if (rc < 0)
            return rc;
    }

    if ((rc = cfgp_get_str(x, o, "authority", false, &b->authority)) < 0)
        return rc;
    /* it becomes a header value: RFC 9110 §5.5 forbids CR, LF and NUL there */
    for (p = b->authority; p != NULL && *p != '\0'; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
            old = cfgp_push_key(x, "authority");
            rc = cfgp_fail(x, "must not contain spaces or control characters");
            cfgp_pop(x, old);
            return rc;
        }
    }
    {
        /* read with the other key files once the whole file validated (cfg_auth.c) */
        const char *psk = NULL;

        if ((rc = cfgp_get_str_ref(x, o, "preshared_token_file", false, &psk)) < 0)
            return rc;
    }
    return cfgp_get_u32(x, o, "max_streams_per_connection", 1, 10000, &b->max_streams_per_conn);
}

static const struct cfgp_array backends_array = {
    .key = "backends",
    .want = "an array",
    .required = true,
    .min = 1,
    .max = CFG_MAX_BACKENDS,
    .size = sizeof(struct cfg_backend),
    .each = parse_backend,
};

static int
parse_backends(struct cfg_ctx *x, json_t *root, struct cfg *c)
{
    void *items = NULL;
    int rc = cfgp_get_array(x, root, &backends_array, NULL, &items, &c->nbackends);

    c->backends = items;
    return rc;
}

static int
parse_log(struct cfg_ctx *x, json_t *root, struct cfg *c)
{
    char shown[CFG_SHOW_MAX + 4];
    const char *level = NULL;
    json_t *o;
    size_t old, old2;
    int rc;

    c->log_level = LOG_LVL_INFO;
    c->access_log = true;
    c->audit_log = true;
    if ((rc = cfgp_get_typed(x, root, "log", JSON_OBJECT, "an object", false, &o)) < 0 || o == NULL)
        return rc;
    old = cfgp_push_key(x, "log");
    if ((rc = cfgp_check_keys(x, o, cfg_log_keys, ARRAY_SIZE(cfg_log_keys))) < 0 ||
        (rc = cfgp_get_str_ref(x, o, "level", false, &level)) < 0 ||
        (rc = cfgp_get_bool(x, o, "access", &c->access_log)) < 0 ||
        (rc = cfgp_get_bool(x, o, "audit", &c->audit_log)) < 0)
        goto out;
    if (level != NULL && log_level_parse(level, &c->log_level) < 0) {
        old2 = cfgp_push_key(x, "level");
        rc = cfgp_fail(x, "unknown level \"%s\" (error, warn, info or debug)",
                       cfgp_show(level, shown, sizeof(shown)));
        cfgp_pop(x, old2);
    }
out:
    cfgp_pop(x, old);
    return rc;
}

/* Online CPUs, 1..64: one event loop per core is the point of workers. */
static uint32_t
default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        return 1;
    return n > CFG_WORKERS_MAX ? CFG_WORKERS_MAX : (uint32_t)n;
}

static int
parse_top(struct cfg_ctx *x, json_t *root, struct cfg *c)
{
    int rc;

    if (!json_is_object(root))
        return cfgp_fail(x, "expected an object at the top level, got %s", cfgp_jtype(root));
    c->workers = default_workers();
    if ((rc = cfgp_check_keys(x, root, cfg_top_keys, ARRAY_SIZE(cfg_top_keys))) < 0 ||
        (rc = cfgp_get_u32(x, root, "workers", 1, CFG_WORKERS_MAX, &c->workers)) < 0 ||
        (rc = parse_listeners(x, root, c)) < 0 || (rc = parse_backends(x, root, c)) < 0 ||
        (rc = parse_fields(x, root, "limits", cfg_limit_fields, ARRAY_SIZE(cfg_limit_fields),
                           &c->limits)) < 0 ||
        (rc = parse_fields(x, root, "timeouts", cfg_timeout_fields, ARRAY_SIZE(cfg_timeout_fields),
                           &c->timeouts)) < 0 ||
        (rc = cfg_auth_parse(x, root, c)) < 0 || (rc = cfg_policy_parse(x, root, c)) < 0 ||
        (rc = cfg_auth_check_anonymous(x, root, c)) < 0)
        return rc;
    return parse_log(x, root, c);
}

/* ---- TLS ----------------------------------------------------------------- */

/* Points the path at |a|[|i|].tls(.|key|); |key| may be NULL. */
static void
set_tls_path(struct cfg_ctx *x, const char *a, size_t i, const char *key)
{
    cfgp_pop(x, 0);
    cfgp_push_key(x, a);
    cfgp_push_index(x, i);
    cfgp_push_key(x, "tls");
    if (key != NULL)
        cfgp_push_key(x, key);
}

/*
 * Checks that |file| (member |key| of a[i].tls) is readable before OpenSSL
 * sees it, so the message names the key and the errno, not an OpenSSL
 * reason code.  NULL (optional, absent) passes.
 */
static int
check_readable(struct cfg_ctx *x, const char *a, size_t i, const char *key, const char *file)
{
    char shown[CFG_SHOW_MAX + 4];

    if (file == NULL)
        return 0;
    set_tls_path(x, a, i, key);
    if (access(file, R_OK) != 0)
        return cfgp_fail(x, "cannot read \"%s\": %s", cfgp_show(file, shown, sizeof(shown)),
                         strerror(errno));
    return 0;
}

/* Builds every SSL_CTX; runs only after the whole file validated. */
static int
build_tls(struct cfg_ctx *x, struct cfg *c)
{
    char why[CFG_REASON_MAX];
    struct cfg_listener *l;
    struct cfg_backend *b;
    size_t i;
    int rc;

    tls_init();
    for (i = 0; i < c->nlisteners; i++) {
        l = &c->listeners[i];
        if (!l->tls)
            continue;
        if ((rc = check_readable(x, "listen", i, "certificate", l->cert_file)) < 0 ||
            (rc = check_readable(x, "listen", i, "private_key", l->key_file)) < 0)
            return rc;
        set_tls_path(x, "listen", i, NULL);
        why[0] = '\0';
        if ((l->ssl_ctx = tls_server_ctx_new(l, why, sizeof(why))) == NULL)
            return cfgp_fail(x, "%s", why[0] != '\0' ? why : "cannot create the TLS context");
        /* auth.mtls: ask every TLS client for a certificate (verified, optional) */
        if (c->auth.mtls &&
            tls_server_ctx_client_ca(l->ssl_ctx, c->auth.mtls_ca, why, sizeof(why)) != 0) {
            cfgp_pop(x, 0);
            cfgp_push_key(x, "auth");
            cfgp_push_key(x, "mtls");
            cfgp_push_key(x, "ca");
            return cfgp_fail(x, "%s", why);
        }
    }
    for (i = 0; i < c->nbackends; i++) {
        b = &c->backends[i];
        if (!b->tls)
            continue;
        if ((rc = check_readable(x, "backends", i, "ca", b->ca_file)) < 0 ||
            (rc = check_readable(x, "backends", i, "certificate", b->cert_file)) < 0 ||
            (rc = check_readable(x, "backends", i, "private_key", b->key_file)) < 0)
            return rc;
        set_tls_path(x, "backends", i, NULL);
        why[0] = '\0';
        if ((b->ssl_ctx = tls_client_ctx_new(b, why, sizeof(why))) == NULL)
            return cfgp_fail(x, "%s", why[0] != '\0' ? why : "cannot create the TLS context");
    }
    cfgp_pop(x, 0);
    return 0;
}

/* ---- snapshot lifetime --------------------------------------------------- */

/* Frees |c| and everything it owns, whatever its refcount; NULL is a no-op. */
static void
cfg_free(struct cfg *c)
{
    struct cfg_listener *l;
    struct cfg_backend *b;
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < c->nlisteners; i++) {
        l = &c->listeners[i];
        free(l->address);
        free(l->cert_file);
        free(l->key_file);
        free(l->ciphers);
        free(l->ciphersuites);
        SSL_CTX_free(l->ssl_ctx);
    }
    for (i = 0; i < c->nbackends; i++) {
        b = &c->backends[i];
        free(b->name);
        free(b->address);
        free(b->host);
        free(b->port);
        free(b->ca_file);
        free(b->server_name);
        free(b->cert_file);
        free(b->key_file);
        free(b->authority);
        SSL_CTX_free(b->ssl_ctx);
    }
    cfg_auth_free(c);
    cfg_policy_free(c);
    free(c->listeners);
    free(c->backends);
    free(c->path);
    c->magic = 0; /* a stale pointer now fails CHECK_MAGIC instead of reading freed data */
    free(c);
}

/* Warnings for a snapshot that loaded: they must not appear for one that did not. */
static void
warn_loaded(const struct cfg *c)
{
    size_t i;

    for (i = 0; i < c->nlisteners; i++) {
        if (!c->listeners[i].tls && !cfgp_sockaddr_is_loopback(&c->listeners[i].ss))
            log_warn("%s: listen[%zu]: plaintext (h2c) on non-loopback address %s: traffic "
                     "and bearer tokens cross the network unencrypted; use for development only",
                     c->path, i, c->listeners[i].address);
    }
    cfg_auth_warn(c);
}

struct cfg *
cfg_load_buf(const char *name, const char *buf, size_t len, bool build_tls_ctx, char *err,
             size_t errlen)
{
    struct cfg_ctx x;
    struct jpos_loc where, loc;
    json_error_t jerr;
    json_t *root = NULL;
    struct cfg *c = NULL;
    char *text = NULL;
    char dup[CFG_PATH_MAX], key[CFG_SHOW_MAX + 4], shown[CFG_SHOW_MAX + 4];
    size_t tlen = 0, off;
    int rc = SG_ERR_BADCFG;

    memset(&x, 0, sizeof(x));
    x.name = name;
    x.err = err;
    x.errlen = errlen;
    if (err != NULL && errlen > 0)
        err[0] = '\0';

    /* 1. comments become spaces (same lines and columns), then jansson parses */
    if ((text = malloc(len + 1)) == NULL) {
        cfgp_set_err(&x, "%s: out of memory", name);
        goto out;
    }
    if (jpos_strip_comments(buf, len, text, &tlen, &where) < 0) {
        cfgp_set_err(&x, "%s:%zu:%zu: unterminated /* comment", name, where.line, where.col);
        goto out;
    }
    x.text = text;
    x.len = tlen;
    root = json_loadb(text, tlen, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        /*
         * jansson reports a duplicate just after the second name; name the
         * key path and point at that name instead.  Columns are characters
         * in both jansson and jpos, so the other errors pass through as is
         * (jansson says column 0 for "before the first character").
         */
        off = jerr.position > 0 ? (size_t)jerr.position - 1 : 0;
        if (json_error_code(&jerr) == json_error_duplicate_key &&
            jpos_path_at(text, tlen, off, dup, sizeof(dup), &loc) == 0 && dup[0] != '\0' &&
            jpos_string_at(text, tlen, loc.off, key, sizeof(key)) >= 0)
            cfgp_set_err(&x, "%s:%zu:%zu: %s: duplicate key \"%s\"", name, loc.line, loc.col, dup,
                         cfgp_show(key, shown, sizeof(shown)));
        else if (json_error_code(&jerr) == json_error_duplicate_key)
            cfgp_set_err(&x, "%s:%d:%d: duplicate key", name, jerr.line > 0 ? jerr.line : 1,
                         jerr.column > 0 ? jerr.column : 1);
        else
            cfgp_set_err(&x, "%s:%d:%d: syntax error: %s", name, jerr.line > 0 ? jerr.line : 1,
                         jerr.column > 0 ? jerr.column : 1, jerr.text);
        goto out;
    }

    /* 2. validate into a fresh snapshot */
    if ((c = calloc(1, sizeof(*c))) == NULL || (c->path = strdup(name)) == NULL) {
        cfgp_set_err(&x, "%s: out of memory", name);
        goto out;
    }
    c->magic = CFG_MAGIC;
    c->refcnt = 1;
    if ((rc = parse_top(&x, root, c)) < 0)
        goto out;

    /* 3. TLS contexts and key files last: nothing is built for a file that does not validate */
    if (build_tls_ctx &&
        ((rc = cfg_auth_load_files(&x, root, c)) < 0 || (rc = build_tls(&x, c)) < 0))
        goto out;

    c->generation = __atomic_add_fetch(&cfg_generation, 1, __ATOMIC_RELAXED);
    warn_loaded(c);
    rc = 0;
out:
    json_decref(root);
    free(text);
    if (rc < 0) {
        cfg_free(c);
        c = NULL;
    }
    return c;
}

struct cfg *
cfg_load(const char *path, char *err, size_t errlen)
{
    struct cfg *c = NULL;
    FILE *f = NULL;
    char *buf = NULL, *nbuf;
    size_t len = 0, cap = 0, n;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    /* "e": O_CLOEXEC, the daemon may fork helpers while reloading */
    if ((f = fopen(path, "re")) == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    for (;;) {
        if (len == cap) {
            if (cap >= CFG_FILE_MAX) {
                if (err != NULL && errlen > 0)
                    snprintf(err, errlen, "%s: larger than %u bytes", path, CFG_FILE_MAX);
                goto out;
            }
            cap = cap == 0 ? 16384 : cap * 2;
            if ((nbuf = realloc(buf, cap)) == NULL) {
                if (err != NULL && errlen > 0)
                    snprintf(err, errlen, "%s: out of memory", path);
                goto out;
            }
            buf = nbuf;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        goto out;
    }
    c = cfg_load_buf(path, buf != NULL ? buf : "", len, true, err, errlen);
out:
    if (f != NULL)
        fclose(f);
    free(buf);
    return c;
}

struct cfg *
cfg_ref(struct cfg *c)
{
    if (c == NULL)
        return NULL;
    CHECK_MAGIC(c, CFG_MAGIC);
    /* relaxed: a new reference is always taken from one the caller already holds */
    __atomic_fetch_add(&c->refcnt, 1, __ATOMIC_RELAXED);
    return c;
}

void
cfg_unref(struct cfg *c)
{
    if (c == NULL)
        return;
    CHECK_MAGIC(c, CFG_MAGIC);
    /* acq_rel: the thread that frees must see every other thread's last use */
    if (__atomic_sub_fetch(&c->refcnt, 1, __ATOMIC_ACQ_REL) == 0)
        cfg_free(c);
}

struct cfg *
cfg_current(void)
{
    struct cfg *c;

    pthread_mutex_lock(&cfg_cur_lock);
    c = cfg_ref(cfg_cur);
    pthread_mutex_unlock(&cfg_cur_lock);
    return c;
}

void
cfg_set_current(struct cfg *c)
{
    struct cfg *old;

    pthread_mutex_lock(&cfg_cur_lock);
    old = cfg_cur;
    cfg_cur = c;
    pthread_mutex_unlock(&cfg_cur_lock);
    /* outside the lock: the last unref frees SSL_CTXs, which can take a while */
    cfg_unref(old);
}

int
cfg_backend_index(const struct cfg *c, const char *name)
{
    size_t i;

    for (i = 0; i < c->nbackends; i++) {
        if (strcmp(c->backends[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}
