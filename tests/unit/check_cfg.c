/*
 * check_cfg.c: unit tests for cfg.c.
 *
 * Most cases load a string with cfg_load_buf(..., build_tls=false) named
 * "t.json" and compare the whole error line.  Columns count characters
 * (see jpos.h), so cases with multi-byte UTF-8, tabs, CRLF and comments
 * before the error pin that down.  Files come from $top_srcdir (exported by
 * "make check"; "." otherwise), so a VPATH build finds conf/, docs/ and
 * tests/data/cfg/.
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <check.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth_jwt.h"
#include "cfg.h"
#include "cfg_int.h"
#include "jpos.h"
#include "policy.h"
#include "sg_err.h"
#include "check_suites.h"

#define NAME "t.json"
#define ERRLEN 1024

/* A valid listener and backend, for cases about other keys. */
#define L_PLAIN "\"listen\": [{\"address\": \"127.0.0.1:15002\", \"plaintext\": true}]"
#define B_ONE "\"backends\": [{\"name\": \"a\", \"address\": \"127.0.0.1:15003\"}]"
/* lines 1-3 of most error cases; the case's own text starts on line 4 */
#define HEAD "{\n  " L_PLAIN ",\n  " B_ONE ",\n"

static struct cfg *
load(const char *json, char *err)
{
    return cfg_load_buf(NAME, json, strlen(json), false, err, ERRLEN);
}

/* $top_srcdir/|rel|, read whole and NUL-terminated; |*len| without the NUL. */
static char *
slurp(const char *rel, size_t *len, char *path, size_t pathlen)
{
    const char *top = getenv("top_srcdir");
    char *buf;
    long n;
    FILE *f;

    snprintf(path, pathlen, "%s/%s", top != NULL ? top : ".", rel);
    f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s (is top_srcdir set?)", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* ---- errors: one table, whole messages ---------------------------------- */

struct err_case {
    const char *json;
    const char *want;
    bool prefix; /* the reason comes from util.c: compare up to "(" */
};

static const struct err_case err_cases[] = {
    /* JSON syntax: jansson's text and position */
    {"{\n  \"workers\": 2,\n}\n", NAME ":3:1: syntax error: string or '}' expected near '}'",
     false},
    {"", NAME ":1:1: syntax error: '[' or '{' expected near end of file", false},
    {HEAD "  \"workers\": 99999999999999999999\n}",
     NAME ":4:33: syntax error: too big integer near '99999999999999999999'", false},
    {HEAD "  \"log\": {\"level\": \"info\"}\n}\n}",
     NAME ":6:1: syntax error: end of file expected near '}'", false},
    /* jansson quotes a backslash and a raw newline: still one line */
    {"{\"w\\\n\t\": 1}", NAME ":2:1: syntax error: invalid escape near '\"w\\?'", false},
    {"[]", NAME ":1:1: expected an object at the top level, got array", false},

    /* duplicate keys: pointed at the second one, with its path */
    {HEAD "  \"workers\": 2,\n  \"workers\": 3\n}", NAME ":5:3: workers: duplicate key \"workers\"",
     false},
    {"{\n  " L_PLAIN ",\n  \"backends\": [\n    {\"name\": \"a\", \"address\": \"h:1\"},\n"
     "    {\"name\": \"b\", \"address\": \"h:2\", \"name\": \"c\"}\n  ]\n}",
     NAME ":5:37: backends[1].name: duplicate key \"name\"", false},
    /* the same name spelt with an escape is still the same key */
    {HEAD "  \"workers\": 1, \"w\\u006frkers\": 2\n}",
     NAME ":4:17: workers: duplicate key \"workers\"", false},

    /* comments */
    {"{\n  /* open\n  \"workers\": 2\n}\n", NAME ":2:3: unterminated /* comment", false},

    /* unknown keys, with a suggestion when one is close */
    {HEAD "  \"limits\": {\n    \"max_conections\": 5\n  }\n}",
     NAME ":5:5: limits.max_conections: unknown key (did you mean \"max_connections\"?)", false},
    {HEAD "  \"frobnicate\": 1\n}", NAME ":4:3: frobnicate: unknown key", false},
    {"{\n  \"lsiten\": []\n}", NAME ":2:3: lsiten: unknown key (did you mean \"listen\"?)", false},
    {"{\n  \"listen\": [\n    {\"adress\": \"127.0.0.1:1\"}\n  ]\n}",
     NAME ":3:6: listen[0].adress: unknown key (did you mean \"address\"?)", false},
    {"{\n  " L_PLAIN ",\n  \"backends\": [{\"name\": \"a\", \"address\": \"h:1\",\n"
     "                \"tls\": {\"verfy\": true}}]\n}",
     NAME ":4:25: backends[0].tls.verfy: unknown key (did you mean \"verify\"?)", false},
    {"{\n  " L_PLAIN ",\n  \"backends\": [{\"name\": \"a\", \"address\": \"h:1\",\n"
     "                \"tls\": {\"xy\": true}}]\n}",
     NAME ":4:25: backends[0].tls.xy: unknown key", false},
    /* a '.' in a key is escaped in the path, and the key is still found */
    {HEAD "  \"log\": {\"lev.el\": \"x\"}\n}",
     NAME ":4:11: log.lev\\.el: unknown key (did you mean \"level\"?)", false},

    /* wrong types */
    {HEAD "  \"workers\": \"2\"\n}", NAME ":4:3: workers: expected an integer, got string", false},
    {HEAD "  \"workers\": 1.5\n}", NAME ":4:3: workers: expected an integer, got real", false},
    {HEAD "  \"workers\": 2.0\n}", NAME ":4:3: workers: expected an integer, got real", false},
    {HEAD "  \"workers\": true\n}", NAME ":4:3: workers: expected an integer, got boolean", false},
    {HEAD "  \"workers\": null\n}", NAME ":4:3: workers: expected an integer, got null", false},
    {"{\n  \"listen\": {}\n}", NAME ":2:3: listen: expected an array, got object", false},
    {"{\n  \"listen\": [\n    \"0.0.0.0:1\"\n  ]\n}",
     NAME ":3:5: listen[0]: expected an object, got string", false},
    {HEAD "  \"limits\": []\n}", NAME ":4:3: limits: expected an object, got array", false},
    {"{\n  " L_PLAIN ",\n  \"backends\": [{\"name\": \"a\", \"address\": \"h:1\", "
     "\"tls\": {\"verify\": \"yes\"}}]\n}",
     NAME ":3:56: backends[0].tls.verify: expected a boolean, got string", false},
    {"{\n  " L_PLAIN ",\n  \"backends\": [{\"name\": 5, \"address\": \"h:1\"}]\n}",
     NAME ":3:17: backends[0].name: expected a string, got integer", false},
    {HEAD "  \"log\": {\"access\": \"yes\"}\n}",
     NAME ":4:11: log.access: expected a boolean, got string", false},
    {"{\n  " L_PLAIN
     ",\n  \"backends\": [{\"name\": \"a\", \"address\": \"h:1\", \"tls\": true}]\n}",
     NAME ":3:48: backends[0].tls: expected an object, got boolean", false},

    /* ranges */
    {HEAD "  \"limits\": {\"max_concurrent_streams\": 0}\n}",
     NAME ":4:14: limits.max_concurrent_streams: 0 is out of range 1..10000", false},
    {HEAD "  \"timeouts\": {\"idle_ms\": -1}\n}",
     NAME ":4:16: timeouts.idle_ms: -1 is out of range 1..86400000", false},
    {HEAD "  \"timeouts\": {\"auth_key_wait_ms\": 60001}\n}",
     NAME ":4:16: timeouts.auth_key_wait_ms: 60001 is out of range 1..60000", false},
    {HEAD "  \"limits\": {\"unauthenticated_stream_window_size\": 1023}\n}",
     NAME ":4:14: limits.unauthenticated_stream_window_size: 1023 is out of range "
          "1024..2147483647",
     false},
    {HEAD "  \"workers\": 65\n}", NAME ":4:3: workers: 65 is out of range 1..64", false},
    {HEAD "  \"workers\": 0\n}", NAME ":4:3: workers: 0 is out of range 1..64", false},
    {HEAD "  \"limits\": {\"stream_window_size\": -9223372036854775808}\n}",
     NAME ":4:14: limits.stream_window_size: -9223372036854775808 is out of range "
          "65535..2147483647",
     false},
    {HEAD "  \"limits\": {\"stream_window_size\": 4294967296}\n}",
     NAME ":4:14: limits.stream_window_size: 4294967296 is out of range 65535..2147483647", false},
    {"{\n  " L_PLAIN ",\n  \"backends\": [{\"name\": \"a\", \"address\": \"h:1\", "
     "\"max_streams_per_connection\": 10001}]\n}",
     NAME ":3:48: backends[0].max_streams_per_connection: 10001 is out of range 1..10000", false},

    /* missing keys: positioned at the object that should hold them */
    {"{\n  " L_PLAIN ",\n  \"backends\": [\n    {\"name\": \"a\", \"address\": \"h:1\"},\n"
     "    {\"name\": \"b\"}\n  ]\n}",
     NAME ":5:5: backends[1].address: required key missing", false},
    {"{\n  " B_ONE "\n}", NAME ":1:1: listen: required key missing", false},
    {"{\n  " L_PLAIN "\n}", NAME ":1:1: backends: required key missing", false},
    {"{\n  \"listen\": [{\"address\": \"127.0.0.1:1\",\n"
     "              \"tls\": {\"certificate\": \"/x.pem\"}}],\n  " B_ONE "\n}",
     NAME ":3:22: listen[0].tls.private_key: required key missing", false},
    {"{\n  " L_PLAIN ",\n  \"backends\": [{\"address\": \"h:1\"}]\n}",
     NAME ":3:16: backends[0].name: required key missing", false},

    /* invalid values */
    {"{\n  \"listen\": [{\"address\": \"localhost:15002\", \"plaintext\": true}],\n  " B_ONE "\n}",
     NAME ":2:15: listen[0].address: not a host:port (", true},
    {"{\n  \"listen\": [{\"address\": \"127.0.0.1:0\", \"plaintext\": true}],\n  " B_ONE "\n}",
     NAME ":2:15: listen[0].address: not a host:port (", true},
    {"{\n  \"listen\": [{\"address\": \"127.0.0.1:70000\", \"plaintext\": true}],\n  " B_ONE "\n}",
     NAME ":2:15: listen[0].address: not a host:port (", true},
    {"{\n  \"listen\": [{\"address\": \"127.0.0.1\", \"plaintext\": true}],\n  " B_ONE "\n}",
     NAME ":2:15: listen[0].address: not a host:port (", true},
    {"{\n  \"listen\": [{\"address\": \"127.0.0.1:1\", \"plaintext\": true},\n"
     "             {\"address\": \"127.0.0.1:1\", \"plaintext\": true}],\n  " B_ONE "\n}",
     NAME ":3:15: listen[1].address: duplicate address \"127.0.0.1:1\" (first at listen[0])",
     false},
    {"{\n  " L_PLAIN ",\n  \"backends\": [\n    {\"name\": \"a\", \"address\": \"h:1\"},\n"
     "    {\"name\": \"a\", \"address\": \"h:2\"}\n  ]\n}",
     NAME ":5:6: backends[1].name: duplicate backend name \"a\" (first at backends[0])", false},
    {"{\n  \"listen\": [\n    {\"address\": \"127.0.0.1:1\", \"plaintext\": true,\n"
     "     \"tls\": {\"certificate\": \"/c\", \"private_key\": \"/k\"}}\n  ],\n  " B_ONE "\n}",
     NAME ":3:5: listen[0]: \"tls\" and \"plaintext\": true are mutually exclusive", false},
    {"{\n  \"listen\": [\n    {\"address\": \"127.0.0.1:1\"}\n  ],\n  " B_ONE "\n}",
     NAME ":3:5: listen[0]: needs \"tls\" (or \"plaintext\": true for h2c)", false},
    {"{\n  \"listen\": [\n    {\"address\": \"127.0.0.1:1\", \"plaintext\": false}\n  ],\n  " B_ONE
     "\n}",
     NAME ":3:5: listen[0]: needs \"tls\" (or \"plaintext\": true for h2c)", false},
    {"{\n  " L_PLAIN ",\n  \"backends\": [{\"name\": \"a\", \"address\": \"h:1\",\n"
     "                \"tls\": {\"certificate\": \"/c.pem\"}}]\n}",
     NAME ":4:24: backends[0].tls.private_key: required with \"certificate\"", false},
    {"{\n  " L_PLAIN ",\n  \"backends\": [{\"name\": \"a\", \"address\": \"h:1\",\n"
     "                \"tls\": {\"private_key\": \"/k.pem\"}}]\n}",
     NAME ":4:24: backends[0].tls.certificate: required with \"private_key\"", false},
    {"{\n  " L_PLAIN ",\n  \"backends\": [{\"name\": \"\", \"address\": \"h:1\"}]\n}",
     NAME ":3:17: backends[0].name: must not be empty", false},
    {"{\n  " L_PLAIN ",\n  \"backends\": [{\"name\": \"a b\", \"address\": \"h:1\"}]\n}",
     NAME ":3:17: backends[0].name: character 2 is not one of A-Z a-z 0-9 . _ -", false},
    {"{\n  " L_PLAIN ",\n  \"backends\": [{\"name\": "
     "\"x1234567890123456789012345678901234567890123456789012345678901234\", "
     "\"address\": \"h:1\"}]\n}",
     NAME ":3:17: backends[0].name: longer than 64 characters", false},
    {HEAD "  \"log\": {\"level\": \"verbose\"}\n}",
     NAME ":4:11: log.level: unknown level \"verbose\" (error, warn, info or debug)", false},
    /* user text is echoed on one line */
    {HEAD "  \"log\": {\"level\": \"a\\nb\"}\n}",
     NAME ":4:11: log.level: unknown level \"a?b\" (error, warn, info or debug)", false},
    {HEAD "  \"log\": {\"level\": \"\"}\n}", NAME ":4:11: log.level: must not be empty", false},
    {"{\n  \"listen\": [{\"address\": \"127.0.0.1:1\",\n"
     "              \"tls\": {\"certificate\": \"/c\", \"private_key\": \"/k\", "
     "\"min_version\": \"1.1\"}}],\n  " B_ONE "\n}",
     NAME ":3:65: listen[0].tls.min_version: \"1.1\" is not \"1.2\" or \"1.3\"", false},
    {"{\n  \"listen\": [],\n  " B_ONE "\n}", NAME ":2:3: listen: expected 1..16 entries, got 0",
     false},
    {"{\n  " L_PLAIN ",\n  \"backends\": []\n}",
     NAME ":3:3: backends: expected 1..256 entries, got 0", false},
    {"{\n  " L_PLAIN ",\n  \"backends\": [{\"name\": \"a\", \"address\": \"h:1\", "
     "\"authority\": \"a b\"}]\n}",
     NAME ":3:48: backends[0].authority: must not contain spaces or control characters", false},
    {"{\n  " L_PLAIN ",\n  \"backends\": [{\"name\": \"a\", \"address\": \"spark\"}]\n}",
     NAME ":3:30: backends[0].address: not a host:port (", true},
    {"{\n  " L_PLAIN ",\n  \"backends\": [{\"name\": \"a\", \"address\": \"spark:70000\"}]\n}",
     NAME ":3:30: backends[0].address: not a host:port (", true},
    {"{\n  " L_PLAIN ",\n  \"backends\": [{\"name\": \"a\", \"address\": \"spark:0\"}]\n}",
     NAME ":3:30: backends[0].address: not a host:port (", true},

    /* positions: comments, CRLF, tabs, UTF-8 and a byte order mark before the error */
    {"// sparkgate test config\n/* a block\n   comment */ {\n  " L_PLAIN ", // trailing\n  " B_ONE
     ",\n  /* \"workers\": 1, */ \"workers\": 0\n}",
     NAME ":6:23: workers: 0 is out of range 1..64", false},
    {"{\r\n  " L_PLAIN ",\r\n  " B_ONE ",\r\n  \"workers\": \"x\"\r\n}\r\n",
     NAME ":4:3: workers: expected an integer, got string", false},
    {"{\r\n  " L_PLAIN ",\r\n  " B_ONE ",\r\n  \"log\": {\"level\": 1}\r\n}\r\n",
     NAME ":4:11: log.level: expected a string, got integer", false},
    {"{ /* caf\xc3\xa9 \xe2\x98\x95 */ \"workers\": 0,\n  " L_PLAIN ",\n  " B_ONE "\n}",
     NAME ":1:16: workers: 0 is out of range 1..64", false},
    {"{\n  " L_PLAIN ",\n  \"backends\": [{\"name\": \"a\", \"address\": \"h:1\", "
     "\"tls\": {\"server_name\": \"sp\xc3\xa4rk\", \"verify\": 1}}]\n}",
     NAME ":3:80: backends[0].tls.verify: expected a boolean, got integer", false},
    {"{\n\t" L_PLAIN ",\n\t" B_ONE ",\n\t\"workers\":\t\"2\"\n}",
     NAME ":4:2: workers: expected an integer, got string", false},
    {"\xef\xbb\xbf{\"workers\": 0, " L_PLAIN ", " B_ONE "}",
     NAME ":1:2: workers: 0 is out of range 1..64", false},
    {HEAD "  \"\\u0077orkers\": 0\n}", NAME ":4:3: workers: 0 is out of range 1..64", false},
    /* an error after a multi-line block comment holding a string with a quote */
    {HEAD "  /* \"x\": \"*\\\"\n  */ \"limits\": {\"max_header_count\": 7}\n}",
     NAME ":5:17: limits.max_header_count: 7 is out of range 8..1000", false},
};

START_TEST(tc_errors)
{
    const struct err_case *t = &err_cases[_i];
    char err[ERRLEN];
    struct cfg *c;

    memset(err, 'X', sizeof(err));
    c = load(t->json, err);
    ck_assert_msg(c == NULL, "case %d loaded: %s", _i, t->json);
    if (t->prefix)
        ck_assert_msg(strncmp(err, t->want, strlen(t->want)) == 0 && strchr(err, ')') != NULL,
                      "case %d:\n got  %s\n want %s...)", _i, err, t->want);
    else
        ck_assert_msg(strcmp(err, t->want) == 0, "case %d:\n got  %s\n want %s", _i, err, t->want);
    ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

/* messages are truncated, never overflow, and NULL/0 is accepted */
START_TEST(tc_error_buffer)
{
    const char *bad = HEAD "  \"workers\": 0\n}";
    char err[16];

    memset(err, 'X', sizeof(err));
    ck_assert_ptr_null(cfg_load_buf(NAME, bad, strlen(bad), false, err, 10));
    ck_assert_str_eq(err, "t.json:4:");
    ck_assert_int_eq(err[10], 'X');
    ck_assert_ptr_null(cfg_load_buf(NAME, bad, strlen(bad), false, NULL, 0));
    ck_assert_ptr_null(cfg_load_buf(NAME, "{", 1, false, NULL, 0));
}
END_TEST

/* ---- values --------------------------------------------------------------- */

START_TEST(tc_defaults)
{
    const char *min = "{" L_PLAIN ", " B_ONE "}";
    char err[ERRLEN];
    struct cfg *c = load(min, err);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(c->magic, CFG_MAGIC);
    ck_assert_int_eq(c->refcnt, 1);
    ck_assert_str_eq(c->path, NAME);
    ck_assert_uint_gt(c->generation, 0);
    ck_assert_uint_eq(c->workers, ncpu < 1 ? 1 : ncpu > 64 ? 64 : (uint32_t)ncpu);

    ck_assert_uint_eq(c->nlisteners, 1);
    ck_assert_str_eq(c->listeners[0].address, "127.0.0.1:15002");
    ck_assert_int_eq(c->listeners[0].ss.ss_family, AF_INET);
    ck_assert(!c->listeners[0].tls);
    ck_assert_ptr_null(c->listeners[0].cert_file);
    ck_assert_ptr_null(c->listeners[0].ssl_ctx);

    ck_assert_uint_eq(c->nbackends, 1);
    ck_assert_str_eq(c->backends[0].name, "a");
    ck_assert_str_eq(c->backends[0].address, "127.0.0.1:15003");
    ck_assert_str_eq(c->backends[0].host, "127.0.0.1");
    ck_assert_str_eq(c->backends[0].port, "15003");
    ck_assert(!c->backends[0].tls);
    ck_assert(c->backends[0].verify);
    ck_assert_ptr_null(c->backends[0].ca_file);
    ck_assert_ptr_null(c->backends[0].server_name);
    ck_assert_ptr_null(c->backends[0].authority);
    ck_assert_uint_eq(c->backends[0].max_streams_per_conn, 100);
    ck_assert_ptr_null(c->backends[0].ssl_ctx);

    ck_assert_uint_eq(c->limits.max_connections, 10000);
    ck_assert_uint_eq(c->limits.max_concurrent_streams, 100);
    ck_assert_uint_eq(c->limits.max_header_list_size, 16384);
    ck_assert_uint_eq(c->limits.max_header_count, 100);
    ck_assert_uint_eq(c->limits.max_request_message_size, 134217728);
    ck_assert_uint_eq(c->limits.stream_window_size, 1048576);
    ck_assert_uint_eq(c->limits.connection_window_size, 16777216);
    ck_assert_uint_eq(c->limits.stream_buffer_size, 1048576);
    ck_assert_uint_eq(c->limits.backend_stream_window_size, 1048576);
    ck_assert_uint_eq(c->limits.backend_connection_window_size, 16777216);
    ck_assert_uint_eq(c->limits.unauthenticated_stream_window_size, 65535);
    ck_assert_uint_eq(c->limits.max_auth_waiting_per_connection, 8);
    ck_assert_uint_eq(c->limits.max_auth_waiting_per_worker, 256);
    ck_assert_uint_eq(c->timeouts.auth_key_wait_ms, 2000);
    ck_assert_uint_eq(c->timeouts.tls_handshake_ms, 10000);
    ck_assert_uint_eq(c->timeouts.request_header_ms, 10000);
    ck_assert_uint_eq(c->timeouts.idle_ms, 300000);
    ck_assert_uint_eq(c->timeouts.backend_connect_ms, 5000);
    ck_assert_uint_eq(c->timeouts.drain_ms, 30000);
    ck_assert_uint_eq(c->timeouts.stall_ms, 60000);
    ck_assert_uint_eq(c->limits.connection_request_buffer, 268435456);
    ck_assert_uint_eq(c->limits.process_request_buffer, 1073741824);
    ck_assert_int_eq(c->log_level, LOG_LVL_INFO);
    ck_assert(c->access_log);
    cfg_unref(c);
}
END_TEST

static const char *const full =
    "{\n"
    "  \"workers\": 3,\n"
    "  \"listen\": [\n"
    "    {\"address\": \"[::1]:15002\", \"tls\": {\"certificate\": \"/c.pem\",\n"
    "      \"private_key\": \"/k.pem\", \"min_version\": \"1.3\", \"ciphers\": \"ECDHE+AESGCM\",\n"
    "      \"ciphersuites\": \"TLS_AES_128_GCM_SHA256\"}, \"plaintext\": false},\n"
    "    {\"address\": \"0.0.0.0:15012\", \"plaintext\": true}\n"
    "  ],\n"
    "  \"backends\": [\n"
    "    {\"name\": \"spark-1\", \"address\": \"spark-1.internal:15002\",\n"
    "     \"tls\": {\"ca\": \"/ca.pem\", \"server_name\": \"s1\", \"verify\": false,\n"
    "             \"certificate\": \"/cc.pem\", \"private_key\": \"/ck.pem\"},\n"
    "     \"authority\": \"auth:1\", \"max_streams_per_connection\": 7,\n"
    "     \"preshared_token_file\": \"/psk\"},\n"
    "    {\"name\": \"x_2.y-Z\", \"address\": \"[::1]:15003\", \"tls\": {}}\n"
    "  ],\n"
    "  \"limits\": {\"max_connections\": 1, \"max_concurrent_streams\": 2,\n"
    "    \"max_header_list_size\": 1024, \"max_header_count\": 8,\n"
    "    \"max_request_message_size\": 1073741824, \"stream_window_size\": 65535,\n"
    "    \"connection_window_size\": 2147483647, \"stream_buffer_size\": 16384,\n"
    "    \"backend_stream_window_size\": 65536, \"backend_connection_window_size\": 65537},\n"
    "  \"timeouts\": {\"tls_handshake_ms\": 1, \"request_header_ms\": 2, \"idle_ms\": 3,\n"
    "    \"backend_connect_ms\": 4, \"drain_ms\": 86400000},\n"
    "  \"log\": {\"level\": \"debug\", \"access\": false},\n"
    "  \"auth\": {\n"
    "    \"anonymous\": false,\n"
    "    \"header_names\": [\"X-Token\", \"authorization\"],\n"
    "    \"static_tokens\": [\n"
    "      {\"sha256\": \"00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\",\n"
    "       \"principal\": \"alice\", \"profile\": \"admin\", \"groups\": [\"g1\", \"g2\"],\n"
    "       \"disabled\": true},\n"
    "      {\"sha256\": \"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\",\n"
    "       \"principal\": \"bob\"}\n"
    "    ],\n"
    "    \"default_profile\": \"std\",\n"
    "    \"issuers\": [{\n"
    "      \"issuer\": \"https://idp\", \"audiences\": [\"a1\", \"a2\"],\n"
    "      \"algorithms\": [\"ES256\", \"HS512\"], \"clock_skew_s\": 0,\n"
    "      \"principal_claim\": \"email\", \"profile_claim\": \"groups\",\n"
    "      \"profile_map\": [{\"value\": \"admins\", \"profile\": \"admin\"},\n"
    "                      {\"value\": \"users\", \"profile\": \"std\"}],\n"
    "      \"default_profile\": \"guest\", \"jwks_url\": \"https://idp/jwks\",\n"
    "      \"jwks_ca\": \"/idp-ca.pem\", \"jwks_refresh_s\": 86400, \"jwks_min_refetch_s\": 1,\n"
    "      \"jwks_max_bytes\": 1024, \"jwks_timeout_ms\": 60000,\n"
    "      \"jwks_required_at_start\": false, \"jwks_file\": \"/jwks.json\",\n"
    "      \"public_keys\": [{\"kid\": \"k1\", \"file\": \"/k1.pem\"}],\n"
    "      \"hmac_secrets\": [{\"kid\": \"s1\", \"file\": \"/s1.key\"}]\n"
    "    }],\n"
    "    \"mtls\": {\"ca\": \"/client-ca.pem\", \"principal_from\": \"san_uri\",\n"
    "             \"profile\": \"svc\"},\n"
    "    \"identity\": {\"mode\": \"require_match\", \"strip_headers\": [\"X-User\"],\n"
    "                 \"strip_header_prefixes\": [\"x-sparkgate-\", \"x-internal-\"]},\n"
    "    \"token_cache_entries\": 0\n"
    "  }\n"
    "}\n";

START_TEST(tc_all_keys)
{
    char err[ERRLEN];
    struct cfg *c = load(full, err);
    const struct cfg_issuer *is;
    const struct cfg_auth *a;
    struct cfg_listener *l;
    struct cfg_backend *b;
    size_t i;

    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(c->workers, 3);
    ck_assert_uint_eq(c->nlisteners, 2);
    l = &c->listeners[0];
    ck_assert_int_eq(l->ss.ss_family, AF_INET6);
    ck_assert(l->tls);
    ck_assert_str_eq(l->cert_file, "/c.pem");
    ck_assert_str_eq(l->key_file, "/k.pem");
    ck_assert_int_eq(l->min_version, TLS1_3_VERSION);
    ck_assert_str_eq(l->ciphers, "ECDHE+AESGCM");
    ck_assert_str_eq(l->ciphersuites, "TLS_AES_128_GCM_SHA256");
    l = &c->listeners[1];
    ck_assert(!l->tls); /* non-loopback h2c: accepted, with a warning */
    ck_assert_int_eq(l->ss.ss_family, AF_INET);

    ck_assert_uint_eq(c->nbackends, 2);
    b = &c->backends[0];
    ck_assert_str_eq(b->host, "spark-1.internal");
    ck_assert_str_eq(b->port, "15002");
    ck_assert(b->tls);
    ck_assert_str_eq(b->ca_file, "/ca.pem");
    ck_assert_str_eq(b->server_name, "s1");
    ck_assert(!b->verify);
    ck_assert_str_eq(b->cert_file, "/cc.pem");
    ck_assert_str_eq(b->key_file, "/ck.pem");
    ck_assert_str_eq(b->authority, "auth:1");
    ck_assert_uint_eq(b->max_streams_per_conn, 7);
    /* read by cfg_auth_load_files, which build_tls=false skips */
    ck_assert_ptr_null(b->preshared_token);
    b = &c->backends[1];
    ck_assert_str_eq(b->name, "x_2.y-Z");
    ck_assert_str_eq(b->host, "::1");
    ck_assert_str_eq(b->port, "15003");
    ck_assert(b->tls);
    ck_assert(b->verify);
    ck_assert_ptr_null(b->ca_file);
    ck_assert_ptr_null(b->cert_file);

    ck_assert_uint_eq(c->limits.max_connections, 1);
    ck_assert_uint_eq(c->limits.max_concurrent_streams, 2);
    ck_assert_uint_eq(c->limits.max_header_list_size, 1024);
    ck_assert_uint_eq(c->limits.max_header_count, 8);
    ck_assert_uint_eq(c->limits.max_request_message_size, 1073741824);
    ck_assert_uint_eq(c->limits.stream_window_size, 65535);
    ck_assert_uint_eq(c->limits.connection_window_size, 2147483647);
    ck_assert_uint_eq(c->limits.stream_buffer_size, 16384);
    ck_assert_uint_eq(c->limits.backend_stream_window_size, 65536);
    ck_assert_uint_eq(c->limits.backend_connection_window_size, 65537);
    ck_assert_uint_eq(c->timeouts.tls_handshake_ms, 1);
    ck_assert_uint_eq(c->timeouts.request_header_ms, 2);
    ck_assert_uint_eq(c->timeouts.idle_ms, 3);
    ck_assert_uint_eq(c->timeouts.backend_connect_ms, 4);
    ck_assert_uint_eq(c->timeouts.drain_ms, 86400000);
    ck_assert_int_eq(c->log_level, LOG_LVL_DEBUG);
    ck_assert(!c->access_log);

    a = &c->auth;
    ck_assert(!a->anonymous);
    ck_assert_uint_eq(a->nheader_names, 2);
    ck_assert_str_eq(a->header_names[0], "x-token"); /* folded to lower case */
    ck_assert_str_eq(a->header_names[1], "authorization");
    ck_assert_uint_eq(a->ntokens, 2);
    for (i = 0; i < 32; i++)
        ck_assert_uint_eq(a->tokens[0].sha256[i], (i % 16) * 0x11);
    ck_assert_str_eq(a->tokens[0].principal, "alice");
    ck_assert_str_eq(a->tokens[0].profile, "admin");
    ck_assert_uint_eq(a->tokens[0].ngroups, 2);
    ck_assert_str_eq(a->tokens[0].groups[0], "g1");
    ck_assert_str_eq(a->tokens[0].groups[1], "g2");
    ck_assert(a->tokens[0].disabled);
    ck_assert_uint_eq(a->tokens[1].sha256[31], 0xff);
    ck_assert_str_eq(a->tokens[1].principal, "bob");
    ck_assert_ptr_null(a->tokens[1].profile);
    ck_assert_uint_eq(a->tokens[1].ngroups, 0);
    ck_assert(!a->tokens[1].disabled);
    ck_assert_str_eq(a->default_profile, "std");

    ck_assert_uint_eq(a->nissuers, 1);
    is = &a->issuers[0];
    ck_assert_str_eq(is->issuer, "https://idp");
    ck_assert_uint_eq(is->naudiences, 2);
    ck_assert_str_eq(is->audiences[0], "a1");
    ck_assert_str_eq(is->audiences[1], "a2");
    ck_assert_uint_eq(is->algs, JOSE_ES256 | JOSE_HS512);
    ck_assert_int_eq(is->skew_s, 0);
    ck_assert_str_eq(is->principal_claim, "email");
    ck_assert_str_eq(is->profile_claim, "groups");
    ck_assert_uint_eq(is->nrules, 2);
    ck_assert_str_eq(is->rules[0].value, "admins");
    ck_assert_str_eq(is->rules[0].profile, "admin");
    ck_assert_str_eq(is->rules[1].value, "users");
    ck_assert_str_eq(is->rules[1].profile, "std");
    ck_assert_str_eq(is->default_profile, "guest");
    ck_assert_str_eq(is->jwks_url, "https://idp/jwks");
    ck_assert_str_eq(is->jwks_ca, "/idp-ca.pem");
    ck_assert_uint_eq(is->jwks_refresh_s, 86400);
    ck_assert_uint_eq(is->jwks_min_refetch_s, 1);
    ck_assert_uint_eq(is->jwks_max_bytes, 1024);
    ck_assert_uint_eq(is->jwks_timeout_ms, 60000);
    ck_assert(!is->jwks_required_at_start);
    ck_assert_ptr_null(is->static_keys); /* key files: build_tls only */
    ck_assert_ptr_null(is->fetcher);     /* daemon.c attaches fetchers */

    ck_assert(a->mtls);
    ck_assert_str_eq(a->mtls_ca, "/client-ca.pem");
    ck_assert_int_eq(a->mtls_from, CFG_MTLS_SAN_URI);
    ck_assert_str_eq(a->mtls_profile, "svc");
    ck_assert(a->require_match);
    ck_assert_uint_eq(a->nstrip_headers, 1); /* the list replaces the default */
    ck_assert_str_eq(a->strip_headers[0], "x-user");
    ck_assert_uint_eq(a->nstrip_prefixes, 2);
    ck_assert_str_eq(a->strip_prefixes[0], "x-sparkgate-");
    ck_assert_str_eq(a->strip_prefixes[1], "x-internal-");
    ck_assert_uint_eq(a->cache_entries, 0);

    ck_assert_int_eq(cfg_backend_index(c, "spark-1"), 0);
    ck_assert_int_eq(cfg_backend_index(c, "x_2.y-Z"), 1);
    ck_assert_int_eq(cfg_backend_index(c, "spark-2"), -1);
    ck_assert_int_eq(cfg_backend_index(c, ""), -1);
    cfg_unref(c);
}
END_TEST

/*
 * Range boundaries, min-1 / min / max / max+1, for one entry of each
 * table and for the hand-written integers.  (tc_docs_agree does the same
 * for every table entry, with the ranges read from the man page.)
 */
struct bound_case {
    const char *section; /* NULL: top level; "backends": inside backends[0] */
    const char *key;
    long long value;
    bool ok;
};

static const struct bound_case bound_cases[] = {
    {"limits", "max_header_count", 7, false},
    {"limits", "max_header_count", 8, true},
    {"limits", "max_header_count", 1000, true},
    {"limits", "max_header_count", 1001, false},
    {"timeouts", "drain_ms", 0, false},
    {"timeouts", "drain_ms", 1, true},
    {"timeouts", "drain_ms", 86400000, true},
    {"timeouts", "drain_ms", 86400001, false},
    {NULL, "workers", 0, false},
    {NULL, "workers", 1, true},
    {NULL, "workers", 64, true},
    {NULL, "workers", 65, false},
    {"backends", "max_streams_per_connection", 0, false},
    {"backends", "max_streams_per_connection", 1, true},
    {"backends", "max_streams_per_connection", 10000, true},
    {"backends", "max_streams_per_connection", 10001, false},
};

START_TEST(tc_bounds)
{
    const struct bound_case *t = &bound_cases[_i];
    char json[512], want[256], err[ERRLEN];
    const char *range;
    struct cfg *c;
    int col;

    if (t->section == NULL) {
        col = snprintf(json, sizeof(json), "{" L_PLAIN ", " B_ONE ", ");
        snprintf(json + col, sizeof(json) - (size_t)col, "\"%s\": %lld}", t->key, t->value);
        snprintf(want, sizeof(want), NAME ":1:%d: %s: %lld is out of range 1..64", col + 1, t->key,
                 t->value);
    } else if (strcmp(t->section, "backends") == 0) {
        col = snprintf(json, sizeof(json),
                       "{" L_PLAIN ", \"backends\": [{\"name\": \"a\", \"address\": \"h:1\", ");
        snprintf(json + col, sizeof(json) - (size_t)col, "\"%s\": %lld}]}", t->key, t->value);
        snprintf(want, sizeof(want), NAME ":1:%d: backends[0].%s: %lld is out of range 1..10000",
                 col + 1, t->key, t->value);
    } else {
        range = strcmp(t->section, "limits") == 0 ? "8..1000" : "1..86400000";
        col = snprintf(json, sizeof(json), "{" L_PLAIN ", " B_ONE ", \"%s\": {", t->section);
        snprintf(json + col, sizeof(json) - (size_t)col, "\"%s\": %lld}}", t->key, t->value);
        snprintf(want, sizeof(want), NAME ":1:%d: %s.%s: %lld is out of range %s", col + 1,
                 t->section, t->key, t->value, range);
    }
    c = load(json, err);
    if (!t->ok) {
        ck_assert_ptr_null(c);
        ck_assert_str_eq(err, want);
        return;
    }
    ck_assert_msg(c != NULL, "%s", err);
    if (t->section == NULL)
        ck_assert_uint_eq(c->workers, t->value);
    else if (strcmp(t->section, "backends") == 0)
        ck_assert_uint_eq(c->backends[0].max_streams_per_conn, t->value);
    else if (strcmp(t->section, "limits") == 0)
        ck_assert_uint_eq(c->limits.max_header_count, t->value);
    else
        ck_assert_uint_eq(c->timeouts.drain_ms, t->value);
    cfg_unref(c);
}
END_TEST

/* names: exactly 64 characters and every allowed character class */
START_TEST(tc_backend_names)
{
    const char *json =
        "{" L_PLAIN ", \"backends\": ["
        "{\"name\": \"x123456789012345678901234567890123456789012345678901234567890123\","
        " \"address\": \"h:1\"}, {\"name\": \"AZaz09._-\", \"address\": \"h:2\"}]}";
    char err[ERRLEN];
    struct cfg *c = load(json, err);

    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(strlen(c->backends[0].name), 64);
    ck_assert_str_eq(c->backends[1].name, "AZaz09._-");
    cfg_unref(c);
}
END_TEST

/* comments are stripped outside strings only, wherever they are */
START_TEST(tc_comments)
{
    const char *json =
        "// first line\n"
        "{ /* \"workers\": 0 */\n"
        "  " L_PLAIN ",\n"
        "  \"backends\": [{\"name\": \"a\", \"address\": \"h:1\", // x\n"
        "                \"authority\": \"h//a/*b*/\", \"tls\": {\"server_name\": \"/*\"}}],\n"
        "  \"log\": {\"level\": /* inline */ \"warn\"} /* until EOF */\n"
        "}\n"
        "// comment at column 1 of the last line, no newline";
    const char *eof_close = "{" L_PLAIN ", " B_ONE "}/* closed at EOF */";
    const char *crlf = "{ // c\r\n" L_PLAIN ", /* a\r\n b */ " B_ONE "\r\n}\r\n// end\r\n";
    char err[ERRLEN];
    struct cfg *c;

    c = load(json, err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_str_eq(c->backends[0].authority, "h//a/*b*/");
    ck_assert_str_eq(c->backends[0].server_name, "/*");
    ck_assert_int_eq(c->log_level, LOG_LVL_WARN);
    cfg_unref(c);

    c = load(eof_close, err);
    ck_assert_msg(c != NULL, "%s", err);
    cfg_unref(c);
    c = load(crlf, err);
    ck_assert_msg(c != NULL, "%s", err);
    cfg_unref(c);
}
END_TEST

/* ---- refcount and the current snapshot ------------------------------------ */

static struct cfg *
load_ok(void)
{
    const char *min = "{" L_PLAIN ", " B_ONE "}";
    char err[ERRLEN];
    struct cfg *c = load(min, err);

    ck_assert_msg(c != NULL, "%s", err);
    return c;
}

START_TEST(tc_refcount)
{
    struct cfg *c = load_ok(), *d;

    ck_assert_int_eq(c->refcnt, 1);
    ck_assert_ptr_eq(cfg_ref(c), c);
    ck_assert_int_eq(c->refcnt, 2);
    cfg_unref(c);
    ck_assert_int_eq(c->refcnt, 1);
    d = load_ok();
    ck_assert_uint_eq(d->generation, c->generation + 1);
    cfg_unref(c); /* freed here: ASan and valgrind watch for leaks and double frees */
    cfg_unref(d);
    ck_assert_ptr_null(cfg_ref(NULL));
    cfg_unref(NULL);
}
END_TEST

START_TEST(tc_current_swap)
{
    struct cfg *a = load_ok(), *b = load_ok(), *cur;

    cfg_set_current(NULL);
    ck_assert_ptr_null(cfg_current());
    cfg_ref(a); /* keep our own reference to watch the count */
    cfg_set_current(a);
    ck_assert_int_eq(a->refcnt, 2);
    cur = cfg_current();
    ck_assert_ptr_eq(cur, a);
    ck_assert_int_eq(a->refcnt, 3);
    cfg_set_current(b); /* drops the current's reference to a, not ours */
    ck_assert_int_eq(a->refcnt, 2);
    cfg_unref(cur);
    ck_assert_int_eq(a->refcnt, 1);
    cur = cfg_current();
    ck_assert_ptr_eq(cur, b);
    ck_assert_uint_gt(cur->generation, a->generation);
    cfg_unref(cur);
    cfg_unref(a);
    cfg_set_current(NULL); /* frees b */
    ck_assert_ptr_null(cfg_current());
}
END_TEST

#define SWAPS 300
#define READS 20000

struct race {
    struct cfg *snaps[SWAPS];
    int bad; /* failures seen off the main thread */
};

static void *
race_writer(void *arg)
{
    struct race *r = arg;
    int i;

    for (i = 0; i < SWAPS; i++)
        cfg_set_current(r->snaps[i]);
    return NULL;
}

static void *
race_reader(void *arg)
{
    struct race *r = arg;
    uint64_t last = 0;
    struct cfg *c;
    int i;

    for (i = 0; i < READS; i++) {
        c = cfg_current();
        if (c == NULL)
            continue;
        /* a reference keeps the snapshot whole while the writer replaces it */
        if (c->magic != CFG_MAGIC || c->generation < last || c->nbackends != 1 ||
            strcmp(c->backends[0].name, "a") != 0)
            __atomic_add_fetch(&r->bad, 1, __ATOMIC_RELAXED);
        last = c->generation;
        cfg_unref(c);
    }
    return NULL;
}

START_TEST(tc_current_threads)
{
    static struct race r;
    pthread_t w, rd, rd2;
    int i;

    cfg_set_current(NULL);
    r.bad = 0;
    for (i = 0; i < SWAPS; i++)
        r.snaps[i] = load_ok(); /* each reference is handed to cfg_set_current */
    ck_assert_int_eq(pthread_create(&rd, NULL, race_reader, &r), 0);
    ck_assert_int_eq(pthread_create(&rd2, NULL, race_reader, &r), 0);
    ck_assert_int_eq(pthread_create(&w, NULL, race_writer, &r), 0);
    pthread_join(w, NULL);
    pthread_join(rd, NULL);
    pthread_join(rd2, NULL);
    ck_assert_int_eq(r.bad, 0);
    ck_assert_ptr_eq(cfg_current(), r.snaps[SWAPS - 1]);
    ck_assert_int_eq(r.snaps[SWAPS - 1]->refcnt, 2);
    cfg_unref(r.snaps[SWAPS - 1]);
    cfg_set_current(NULL);
}
END_TEST

/* ---- files ------------------------------------------------------------------ */

START_TEST(tc_load_missing_file)
{
    char err[ERRLEN];

    ck_assert_ptr_null(cfg_load("/nonexistent/sparkgate-test/sparkgate.json", err, sizeof(err)));
    ck_assert_str_eq(err, "/nonexistent/sparkgate-test/sparkgate.json: cannot open: "
                          "No such file or directory");
}
END_TEST

/* the certificate check is cfg.c's own, before tls.c: the message names the key */
START_TEST(tc_load_missing_cert)
{
    char path[4096], want[8192], err[ERRLEN];
    size_t len;
    char *buf = slurp("tests/data/cfg/missing-cert.json", &len, path, sizeof(path));

    free(buf);
    snprintf(want, sizeof(want),
             "%s:8:17: listen[0].tls.certificate: cannot read "
             "\"/nonexistent/sparkgate-test/server.pem\": No such file or directory",
             path);
    ck_assert_ptr_null(cfg_load(path, err, sizeof(err)));
    ck_assert_str_eq(err, want);
}
END_TEST

/* a readable certificate with an unreadable key, and a backend CA, via real files */
START_TEST(tc_load_missing_key_and_ca)
{
    char dir[] = "/tmp/check_cfg.XXXXXX", cfgpath[256], cert[256], want[1024], err[ERRLEN];
    FILE *f;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cert, sizeof(cert), "%s/server.pem", dir);
    snprintf(cfgpath, sizeof(cfgpath), "%s/sparkgate.json", dir);
    f = fopen(cert, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);

    f = fopen(cfgpath, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "{\n  \"listen\": [{\"address\": \"127.0.0.1:1\",\n"
            "    \"tls\": {\"certificate\": \"%s\", \"private_key\": \"%s/none.key\"}}],\n"
            "  " B_ONE "\n}\n",
            cert, dir);
    fclose(f);
    /* line 3: the certificate's value starts at column 28, the key 4 after its end */
    snprintf(want, sizeof(want),
             "%s:3:%zu: listen[0].tls.private_key: cannot read \"%s/none.key\": "
             "No such file or directory",
             cfgpath, 28 + strlen(cert) + 2 + 2, dir);
    ck_assert_ptr_null(cfg_load(cfgpath, err, sizeof(err)));
    ck_assert_str_eq(err, want);

    f = fopen(cfgpath, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{" L_PLAIN ",\n \"backends\": [{\"name\": \"a\", \"address\": \"h:1\",\n"
               "  \"tls\": {\"ca\": \"/nonexistent/ca.pem\"}}]}");
    fclose(f);
    snprintf(want, sizeof(want),
             "%s:3:11: backends[0].tls.ca: cannot read \"/nonexistent/ca.pem\": "
             "No such file or directory",
             cfgpath);
    ck_assert_ptr_null(cfg_load(cfgpath, err, sizeof(err)));
    ck_assert_str_eq(err, want);

    unlink(cfgpath);
    unlink(cert);
    rmdir(dir);
}
END_TEST

/* Writes a self-signed P-256 certificate and its key as PEM files. */
static void
write_self_signed(const char *cert_path, const char *key_path)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    FILE *f;

    ck_assert_ptr_nonnull(pkey);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(X509_set_version(x, 2), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    ck_assert_int_eq(X509_set_pubkey(x, pkey), 1);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    ck_assert_int_eq(X509_set_issuer_name(x, name), 1);
    ck_assert_int_gt(X509_sign(x, pkey, EVP_sha256()), 0);
    f = fopen(cert_path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(PEM_write_X509(f, x), 1);
    fclose(f);
    f = fopen(key_path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(pkey);
}

/*
 * build_tls through tls.c: every TLS listener and backend gets an SSL_CTX,
 * plaintext ones none, cfg_unref frees them (leak checkers watch), and a
 * context tls.c refuses is reported at the "tls" key.
 */
START_TEST(tc_load_tls_contexts)
{
    char dir[] = "/tmp/check_cfg.XXXXXX", cfgpath[256], cert[256], key[256], err[ERRLEN], want[512];
    struct cfg *c;
    FILE *f;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(cfgpath, sizeof(cfgpath), "%s/sparkgate.json", dir);
    write_self_signed(cert, key);

    f = fopen(cfgpath, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "{\"listen\": [{\"address\": \"127.0.0.1:1\", \"tls\": {\"certificate\": \"%s\",\n"
            "  \"private_key\": \"%s\", \"min_version\": \"1.3\"}},\n"
            "  {\"address\": \"127.0.0.1:2\", \"plaintext\": true}],\n"
            " \"backends\": [{\"name\": \"a\", \"address\": \"localhost:1\", \"tls\": {\"ca\": "
            "\"%s\",\n"
            "  \"certificate\": \"%s\", \"private_key\": \"%s\"}},\n"
            "  {\"name\": \"b\", \"address\": \"localhost:2\"}]}\n",
            cert, key, cert, cert, key);
    fclose(f);
    c = cfg_load(cfgpath, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_ptr_nonnull(c->listeners[0].ssl_ctx);
    ck_assert_ptr_null(c->listeners[1].ssl_ctx);
    ck_assert_ptr_nonnull(c->backends[0].ssl_ctx);
    ck_assert_ptr_null(c->backends[1].ssl_ctx);
    ck_assert_str_eq(c->path, cfgpath);
    cfg_unref(c);

    /* a cipher list OpenSSL refuses: tls.c's reason, at listen[0].tls */
    f = fopen(cfgpath, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(
        f,
        "{\"listen\": [{\"address\": \"127.0.0.1:1\",\n"
        "  \"tls\": {\"certificate\": \"%s\", \"private_key\": \"%s\", \"ciphers\": \"NOPE\"}}],\n"
        " " B_ONE "}\n",
        cert, key);
    fclose(f);
    snprintf(want, sizeof(want), "%s:2:3: listen[0].tls: ", cfgpath);
    ck_assert_ptr_null(cfg_load(cfgpath, err, sizeof(err)));
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0 && strlen(err) > strlen(want), "%s", err);

    unlink(cfgpath);
    unlink(cert);
    unlink(key);
    rmdir(dir);
}
END_TEST

/* both shipped examples load, and sparkgate.json is minimal.json spelt out */
START_TEST(tc_conf_files)
{
    char path[4096], err[ERRLEN];
    uint8_t empty_digest[32];
    size_t len, i;
    char *full_txt = slurp("conf/sparkgate.json", &len, path, sizeof(path));
    struct cfg *a = cfg_load_buf(path, full_txt, len, false, err, sizeof(err));
    char *min_txt;
    struct cfg *b;

    ck_assert_msg(a != NULL, "%s", err);
    min_txt = slurp("conf/minimal.json", &len, path, sizeof(path));
    b = cfg_load_buf(path, min_txt, len, false, err, sizeof(err));
    ck_assert_msg(b != NULL, "%s", err);

    ck_assert_uint_eq(a->workers, b->workers);
    ck_assert_uint_eq(a->nlisteners, 1);
    ck_assert_uint_eq(b->nlisteners, 1);
    ck_assert_str_eq(a->listeners[0].address, b->listeners[0].address);
    ck_assert(a->listeners[0].tls && b->listeners[0].tls);
    ck_assert_str_eq(a->listeners[0].cert_file, b->listeners[0].cert_file);
    ck_assert_str_eq(a->listeners[0].key_file, b->listeners[0].key_file);
    ck_assert_int_eq(a->listeners[0].min_version, b->listeners[0].min_version);
    ck_assert_ptr_null(a->listeners[0].ciphers);
    ck_assert_ptr_null(a->listeners[0].ciphersuites);
    ck_assert_uint_eq(a->nbackends, 1);
    ck_assert_uint_eq(b->nbackends, 1);
    ck_assert_str_eq(a->backends[0].name, b->backends[0].name);
    ck_assert_str_eq(a->backends[0].address, b->backends[0].address);
    ck_assert(!a->backends[0].tls && !b->backends[0].tls);
    ck_assert_ptr_null(a->backends[0].authority);
    ck_assert_uint_eq(a->backends[0].max_streams_per_conn, b->backends[0].max_streams_per_conn);
    /* every limit and timeout in conf/sparkgate.json is the parser's default */
    ck_assert_mem_eq(&a->limits, &b->limits, sizeof(a->limits));
    ck_assert_mem_eq(&a->timeouts, &b->timeouts, sizeof(a->timeouts));
    ck_assert_int_eq(a->log_level, b->log_level);
    ck_assert_int_eq(a->access_log, b->access_log);
    ck_assert_int_eq(a->audit_log, b->audit_log);
    /* the four shipped profiles load; the minimal file inspects nothing */
    ck_assert_uint_eq(a->nprofiles, 4);
    ck_assert_ptr_nonnull(cfg_profile(a, "sql-only"));
    ck_assert_ptr_nonnull(cfg_profile(a, "analyst"));
    ck_assert_ptr_nonnull(cfg_profile(a, "data-scientist"));
    ck_assert_ptr_nonnull(cfg_profile(a, "admin"));
    ck_assert(!cfg_profile(a, "admin")->restricted);
    ck_assert(cfg_profile(a, "sql-only")->restricted);
    ck_assert_uint_eq(b->nprofiles, 0);

    /* auth: one placeholder token, everything else at the parser's defaults */
    ck_assert_ptr_null(a->backends[0].preshared_token);
    ck_assert(!a->auth.anonymous && !b->auth.anonymous);
    ck_assert_uint_eq(a->auth.ntokens, 1);
    ck_assert_uint_eq(b->auth.ntokens, 1);
    /* the SHA-256 of the empty token, which auth.c always refuses: a shipped
     * example must never hold the digest of a token someone could send */
    ck_assert_int_eq(EVP_Digest("", 0, empty_digest, NULL, EVP_sha256(), NULL), 1);
    ck_assert_mem_eq(a->auth.tokens[0].sha256, empty_digest, 32);
    ck_assert_mem_eq(b->auth.tokens[0].sha256, empty_digest, 32);
    ck_assert_str_eq(a->auth.tokens[0].principal, b->auth.tokens[0].principal);
    ck_assert_str_eq(a->auth.tokens[0].profile, b->auth.tokens[0].profile);
    ck_assert_uint_eq(a->auth.tokens[0].ngroups, b->auth.tokens[0].ngroups);
    ck_assert_int_eq(a->auth.tokens[0].disabled, b->auth.tokens[0].disabled);
    ck_assert_uint_eq(a->auth.nissuers, 0);
    ck_assert_uint_eq(b->auth.nissuers, 0);
    ck_assert(!a->auth.mtls && !b->auth.mtls);
    ck_assert_ptr_null(a->auth.default_profile);
    ck_assert_int_eq(a->auth.require_match, b->auth.require_match);
    ck_assert_uint_eq(a->auth.cache_entries, b->auth.cache_entries);
    ck_assert_uint_eq(a->auth.nheader_names, b->auth.nheader_names);
    for (i = 0; i < a->auth.nheader_names; i++)
        ck_assert_str_eq(a->auth.header_names[i], b->auth.header_names[i]);
    ck_assert_uint_eq(a->auth.nstrip_headers, b->auth.nstrip_headers);
    for (i = 0; i < a->auth.nstrip_headers; i++)
        ck_assert_str_eq(a->auth.strip_headers[i], b->auth.strip_headers[i]);
    ck_assert_uint_eq(a->auth.nstrip_prefixes, b->auth.nstrip_prefixes);
    for (i = 0; i < a->auth.nstrip_prefixes; i++)
        ck_assert_str_eq(a->auth.strip_prefixes[i], b->auth.strip_prefixes[i]);
    cfg_unref(a);
    cfg_unref(b);
    free(full_txt);
    free(min_txt);
}
END_TEST

/* The ".It Cm KEY Pq integer, MIN\(enMAX, default DEF" line of |key| in |man|. */
static bool
man_entry(const char *man, const char *key, unsigned long *min, unsigned long *max,
          unsigned long *def)
{
    char head[128];
    const char *p;

    snprintf(head, sizeof(head), "\n.It Cm %s Pq integer, ", key);
    if ((p = strstr(man, head)) == NULL)
        return false;
    return sscanf(p + strlen(head), "%lu\\(en%lu, default %lu", min, max, def) == 3;
}

/* The integer keys of "auth" and of an issuer, as the parser stored them in |c|. */
static const char *const auth_int_keys[] = {
    "token_cache_entries", "max_token_bytes", "clock_skew_s",    "jwks_refresh_s",
    "jwks_min_refetch_s",  "jwks_max_bytes",  "jwks_timeout_ms",
};
#define AUTH_TOP_INT_KEYS 2 /* the first ones are at the top of "auth" */

static long long
auth_int_value(const struct cfg *c, const char *key)
{
    const struct cfg_issuer *is;

    if (strcmp(key, "token_cache_entries") == 0)
        return c->auth.cache_entries;
    if (strcmp(key, "max_token_bytes") == 0)
        return c->auth.max_token_bytes;
    /* the issuer keys are asked for only of configs that have an issuer */
    ck_assert_uint_gt(c->auth.nissuers, 0);
    is = &c->auth.issuers[0];
    if (strcmp(key, "clock_skew_s") == 0)
        return is->skew_s;
    if (strcmp(key, "jwks_refresh_s") == 0)
        return is->jwks_refresh_s;
    if (strcmp(key, "jwks_min_refetch_s") == 0)
        return is->jwks_min_refetch_s;
    if (strcmp(key, "jwks_max_bytes") == 0)
        return is->jwks_max_bytes;
    ck_assert_str_eq(key, "jwks_timeout_ms");
    return is->jwks_timeout_ms;
}

/*
 * The same for "auth": the man page's range and default of every integer
 * key (token_cache_entries and max_token_bytes at the top of "auth", the
 * rest in an issuer) are the parser's.  Returns how many keys were checked.
 */
static size_t
docs_agree_auth(const char *man)
{
    /* anonymous: a loopback file needs no way to authenticate; a header
     * list large enough for the largest max_token_bytes */
    static const char top[] = "{" L_PLAIN ", " B_ONE ", \"limits\": {\"max_header_list_size\": "
                              "65536}, \"auth\": {\"anonymous\": true, ";
    static const char iss[] = "{" L_PLAIN ", " B_ONE ", \"auth\": {\"issuers\": [{\"issuer\": "
                              "\"i\", \"audiences\": \"a\", \"jwks_url\": \"https://i/k\", ";
    unsigned long min, max, def;
    char json[512], want[512], err[ERRLEN];
    long long probe[4];
    const char *head, *key;
    bool in_issuer;
    struct cfg *c;
    size_t i, j;

    for (i = 0; i < sizeof(auth_int_keys) / sizeof(auth_int_keys[0]); i++) {
        key = auth_int_keys[i];
        in_issuer = i >= AUTH_TOP_INT_KEYS;
        head = in_issuer ? iss : top;
        ck_assert_msg(man_entry(man, key, &min, &max, &def), "%s: no man page entry", key);
        /* absent: the default */
        if (in_issuer)
            snprintf(json, sizeof(json), "%s\"jwks_required_at_start\": true}]}}", head);
        else
            snprintf(json, sizeof(json), "%s\"header_names\": [\"authorization\"]}}", head);
        c = load(json, err);
        ck_assert_msg(c != NULL, "%s: %s", key, err);
        ck_assert_msg(auth_int_value(c, key) == (long long)def, "%s: man %lu, parser %lld", key,
                      def, auth_int_value(c, key));
        cfg_unref(c);

        probe[0] = (long long)min - 1;
        probe[1] = (long long)min;
        probe[2] = (long long)max;
        probe[3] = (long long)max + 1;
        for (j = 0; j < 4; j++) {
            snprintf(json, sizeof(json), "%s\"%s\": %lld}%s}", head, key, probe[j],
                     in_issuer ? "]}" : "");
            c = load(json, err);
            if (j == 1 || j == 2) {
                ck_assert_msg(c != NULL, "%s: %s", key, err);
                ck_assert_int_eq(auth_int_value(c, key), probe[j]);
                cfg_unref(c);
                continue;
            }
            snprintf(want, sizeof(want), NAME ":1:%zu: auth.%s%s: %lld is out of range %lu..%lu",
                     strlen(head) + 1, in_issuer ? "issuers[0]." : "", key, probe[j], min, max);
            ck_assert_ptr_null(c);
            ck_assert_str_eq(err, want);
        }
    }
    return i;
}

/*
 * The same for the integer key of a profile (max_sql_bytes): the man page's
 * range and default are the parser's, and conf/sparkgate.json's sql-only
 * profile shows the default.  Returns how many keys were checked.
 */
static size_t
docs_agree_profile(const char *man, json_t *root)
{
    static const char head[] = "{" L_PLAIN ", " B_ONE ", \"profiles\": {\"p\": {";
    unsigned long min, max, def, probe[4];
    char json[512], want[512], err[ERRLEN];
    json_t *v;
    struct cfg *c;
    size_t j;

    ck_assert_msg(man_entry(man, "max_sql_bytes", &min, &max, &def), "max_sql_bytes: no entry");
    v = json_object_get(json_object_get(json_object_get(root, "profiles"), "sql-only"),
                        "max_sql_bytes");
    ck_assert_msg(json_is_integer(v), "conf/sparkgate.json: sql-only has no max_sql_bytes");
    ck_assert_int_eq(json_integer_value(v), (json_int_t)def);
    snprintf(json, sizeof(json), "%s}}}", head);
    c = load(json, err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(cfg_profile(c, "p")->max_sql_bytes, def);
    cfg_unref(c);
    probe[0] = min - 1;
    probe[1] = min;
    probe[2] = max;
    probe[3] = max + 1;
    for (j = 0; j < 4; j++) {
        snprintf(json, sizeof(json), "%s\"max_sql_bytes\": %lu}}}", head, probe[j]);
        c = load(json, err);
        if (j == 1 || j == 2) {
            ck_assert_msg(c != NULL, "%s", err);
            ck_assert_uint_eq(cfg_profile(c, "p")->max_sql_bytes, probe[j]);
            cfg_unref(c);
            continue;
        }
        snprintf(want, sizeof(want),
                 NAME ":1:%zu: profiles.p.max_sql_bytes: %lu is out of "
                      "range %lu..%lu",
                 strlen(head) + 1, probe[j], min, max);
        ck_assert_ptr_null(c);
        ck_assert_str_eq(err, want);
    }
    return 1;
}

/*
 * Parser, docs and example cannot drift: for every key of "limits" and
 * "timeouts" in conf/sparkgate.json (which must hold them all), the man
 * page's default equals the example's value (tc_conf_files: equals the
 * parser's default), and the man page's range is the parser's range.
 */
START_TEST(tc_docs_agree)
{
    static const struct {
        const char *section;
        size_t nkeys;
    } sections[] = {
        {"limits", sizeof(struct cfg_limits) / sizeof(uint32_t)},
        {"timeouts", sizeof(struct cfg_timeouts) / sizeof(uint32_t)},
    };
    char path[4096], json[512], want[512], err[ERRLEN];
    unsigned long min, max, def, probe[4];
    size_t len, i, j, k;
    char *conf, *man, *text;
    json_t *root, *obj, *v;
    const char *key;
    struct cfg *c;
    int col;

    conf = slurp("conf/sparkgate.json", &len, path, sizeof(path));
    text = malloc(len + 1);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(jpos_strip_comments(conf, len, text, &len, NULL), 0);
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    ck_assert_ptr_nonnull(root);
    man = slurp("docs/sparkgate.json.5", &len, path, sizeof(path));

    for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        obj = json_object_get(root, sections[i].section);
        ck_assert_ptr_nonnull(obj);
        ck_assert_uint_eq(json_object_size(obj), sections[i].nkeys);
        json_object_foreach (obj, key, v) {
            ck_assert_msg(man_entry(man, key, &min, &max, &def), "%s: no man page entry", key);
            ck_assert_msg((json_int_t)def == json_integer_value(v), "%s: man %lu, conf %lld", key,
                          def, (long long)json_integer_value(v));
            probe[0] = min - 1;
            probe[1] = min;
            probe[2] = max;
            probe[3] = max + 1;
            for (j = 0; j < 4; j++) {
                col = snprintf(json, sizeof(json), "{" L_PLAIN ", " B_ONE ", \"%s\": {",
                               sections[i].section);
                snprintf(json + col, sizeof(json) - (size_t)col, "\"%s\": %lu}}", key, probe[j]);
                c = load(json, err);
                if (j == 1 || j == 2) {
                    ck_assert_msg(c != NULL, "%s", err);
                    cfg_unref(c);
                    continue;
                }
                snprintf(want, sizeof(want), NAME ":1:%d: %s.%s: %lu is out of range %lu..%lu",
                         col + 1, sections[i].section, key, probe[j], min, max);
                ck_assert_ptr_null(c);
                ck_assert_str_eq(err, want);
            }
        }
    }
    /* and the man page documents no table key the example lacks */
    for (k = 0, key = man; (key = strstr(key, " Pq integer, ")) != NULL; key++)
        k++;
    /* + workers, max_streams_per_connection, the keys of "auth" and of a profile */
    ck_assert_uint_eq(k, sections[0].nkeys + sections[1].nkeys + 2 + docs_agree_auth(man) +
                             docs_agree_profile(man, root));
    /* the example's token_cache_entries is the documented default */
    ck_assert_msg(man_entry(man, "token_cache_entries", &min, &max, &def), "no entry");
    ck_assert_int_eq(json_integer_value(
                         json_object_get(json_object_get(root, "auth"), "token_cache_entries")),
                     (json_int_t)def);
    json_decref(root);
    free(conf);
    free(text);
    free(man);
}
END_TEST

/* the configurations in the man page's EXAMPLES load */
START_TEST(tc_man_examples)
{
    char path[4096], err[ERRLEN];
    const char *p, *end;
    size_t len, n = 0;
    char *man = slurp("docs/sparkgate.json.5", &len, path, sizeof(path));
    struct cfg *c;

    for (p = man; (p = strstr(p, ".Bd -literal -offset indent\n{\n")) != NULL; p = end) {
        p = strchr(p, '\n') + 1;
        end = strstr(p, "\n.Ed\n");
        ck_assert_ptr_nonnull(end);
        c = cfg_load_buf("example", p, (size_t)(end - p), false, err, sizeof(err));
        ck_assert_msg(c != NULL, "example %zu: %s", n, err);
        cfg_unref(c);
        n++;
    }
    ck_assert_uint_ge(n, 2);
    free(man);
}
END_TEST

/* ---- cfgp_get_array: the array-section walk every section uses ----------- */

struct arr_elem {
    int v;
    bool seen;
};

/* refuses a negative number, and a number equal to an earlier one */
static int
arr_each(struct cfg_ctx *x, json_t *e, void *items, size_t i, void *arg)
{
    struct arr_elem *el = items;
    int *calls = arg;
    size_t j;

    (*calls)++;
    if (!json_is_integer(e) || json_integer_value(e) < 0)
        return cfgp_fail(x, "expected a natural number");
    if (el == NULL)
        return 0;
    el[i].v = (int)json_integer_value(e);
    el[i].seen = true;
    for (j = 0; j < i; j++) {
        if (el[j].v == el[i].v)
            return cfgp_fail(x, "duplicate of [%zu]", j);
    }
    return 0;
}

/* Runs cfgp_get_array on |text| with |a|; returns its result, *err the message. */
static int
run_array(const char *text, const struct cfgp_array *a, int *calls, void **items, size_t *n,
          char *err)
{
    struct cfg_ctx x;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    int rc;

    ck_assert_ptr_nonnull(root);
    memset(&x, 0, sizeof(x));
    x.name = NAME;
    x.text = text;
    x.len = strlen(text);
    x.err = err;
    x.errlen = ERRLEN;
    err[0] = '\0';
    *calls = 0;
    rc = cfgp_get_array(&x, root, a, calls, items, n);
    ck_assert_uint_eq(x.plen, 0); /* the key path is back where it was */
    json_decref(root);
    return rc;
}

START_TEST(tc_array_helper)
{
    struct cfgp_array a = {
        .key = "k",
        .want = "an array of numbers",
        .size = sizeof(struct arr_elem),
        .each = arr_each,
    };
    char err[ERRLEN];
    struct arr_elem *el;
    void *items;
    size_t n;
    int calls;

    /* absent and optional: nothing called, nothing allocated */
    items = NULL;
    n = 7;
    ck_assert_int_eq(run_array("{}", &a, &calls, &items, &n, err), 0);
    ck_assert_ptr_null(items);
    ck_assert_uint_eq(n, 7);
    ck_assert_int_eq(calls, 0);
    /* absent and required */
    a.required = true;
    ck_assert_int_eq(run_array("{\"x\": 1}", &a, &calls, &items, &n, err), SG_ERR_BADCFG);
    ck_assert_str_eq(err, NAME ":1:1: k: required key missing");
    /* not an array: named with |want| */
    ck_assert_int_eq(run_array("{\"k\": {}}", &a, &calls, &items, &n, err), SG_ERR_BADCFG);
    ck_assert_str_eq(err, NAME ":1:2: k: expected an array of numbers, got object");
    ck_assert_ptr_null(items);
    /* an empty array still allocates (the spare element) */
    ck_assert_int_eq(run_array("{\"k\": []}", &a, &calls, &items, &n, err), 0);
    ck_assert_ptr_nonnull(items);
    ck_assert_uint_eq(n, 0);
    free(items);
    /* every element in order, each seeing the ones before it */
    items = NULL;
    ck_assert_int_eq(run_array("{\"k\": [3, 1, 2]}", &a, &calls, &items, &n, err), 0);
    el = items;
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(calls, 3);
    ck_assert_int_eq(el[0].v, 3);
    ck_assert_int_eq(el[2].v, 2);
    ck_assert(!el[3].seen); /* the spare element is zeroed */
    free(items);
    /* the first error stops the walk, names the element, and leaves the
     * allocation and the full count with the caller to release */
    items = NULL;
    ck_assert_int_eq(run_array("{\"k\": [3, 1, 3, 4]}", &a, &calls, &items, &n, err),
                     SG_ERR_BADCFG);
    ck_assert_str_eq(err, NAME ":1:14: k[2]: duplicate of [0]");
    ck_assert_int_eq(calls, 3);
    ck_assert_uint_eq(n, 4);
    el = items;
    ck_assert(el[2].seen && !el[3].seen);
    free(items);
    /* bounds, checked before any element */
    a.min = 1;
    a.max = 2;
    items = NULL;
    ck_assert_int_eq(run_array("{\"k\": [1, 2, 3]}", &a, &calls, &items, &n, err), SG_ERR_BADCFG);
    ck_assert_str_eq(err, NAME ":1:2: k: expected 1..2 entries, got 3");
    ck_assert_int_eq(calls, 0);
    ck_assert_ptr_null(items);
    /* size 0: elements are only checked, |items| and |n| may be NULL */
    a.size = 0;
    ck_assert_int_eq(run_array("{\"k\": [1, -1]}", &a, &calls, NULL, NULL, err), SG_ERR_BADCFG);
    ck_assert_str_eq(err, NAME ":1:11: k[1]: expected a natural number");
    ck_assert_int_eq(calls, 2);
}
END_TEST

Suite *
cfg_suite(void)
{
    Suite *s = suite_create("cfg");
    TCase *tc = tcase_create("cfg");

    tcase_add_loop_test(tc, tc_errors, 0, (int)(sizeof(err_cases) / sizeof(err_cases[0])));
    tcase_add_test(tc, tc_error_buffer);
    tcase_add_test(tc, tc_defaults);
    tcase_add_test(tc, tc_all_keys);
    tcase_add_loop_test(tc, tc_bounds, 0, (int)(sizeof(bound_cases) / sizeof(bound_cases[0])));
    tcase_add_test(tc, tc_backend_names);
    tcase_add_test(tc, tc_comments);
    tcase_add_test(tc, tc_refcount);
    tcase_add_test(tc, tc_current_swap);
    tcase_add_test(tc, tc_current_threads);
    tcase_add_test(tc, tc_load_missing_file);
    tcase_add_test(tc, tc_load_missing_cert);
    tcase_add_test(tc, tc_load_missing_key_and_ca);
    tcase_add_test(tc, tc_load_tls_contexts);
    tcase_add_test(tc, tc_conf_files);
    tcase_add_test(tc, tc_docs_agree);
    tcase_add_test(tc, tc_man_examples);
    tcase_add_test(tc, tc_array_helper);
    suite_add_tcase(s, tc);
    return s;
}
