/*
 * check_cfg_auth.c: unit tests for cfg_auth.c, the "auth" section of the
 * configuration and the backends' pre-shared tokens.
 *
 * Errors are compared whole ("t.json:LINE:COL: keypath: reason"), as in
 * check_cfg.c; the columns in the table were counted from the case text,
 * not taken from jpos.c.  Key files (PEM public keys, JWKS documents, HMAC
 * secrets, pre-shared tokens) are only read by cfg_load with its TLS step,
 * so those cases write real files under a mkdtemp() directory.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <check.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth_jwt.h"
#include "cfg.h"
#include "check_suites.h"

#define NAME "t.json"
#define ERRLEN 1024

/* clang-format off */
#define L_PLAIN "\"listen\": [{\"address\": \"127.0.0.1:15002\", \"plaintext\": true}]"
#define L_PUB   "\"listen\": [{\"address\": \"0.0.0.0:15002\", \"tls\": {\"certificate\": \"/c\", " \
                "\"private_key\": \"/k\"}}]"
#define B_ONE   "\"backends\": [{\"name\": \"a\", \"address\": \"127.0.0.1:15003\"}]"
/* lines 1-3; the case's own text starts on line 4 */
#define HEAD    "{\n  " L_PLAIN ",\n  " B_ONE ",\n"
#define PHEAD   "{\n  " L_PUB ",\n  " B_ONE ",\n"
#define V6HEAD  "{\n  \"listen\": [{\"address\": \"[::]:1\", \"plaintext\": true}],\n  " B_ONE ",\n"
#define MHEAD   "{\n  \"listen\": [{\"address\": \"127.0.0.1:1\", \"plaintext\": true},\n" \
                "             {\"address\": \"10.0.0.1:1\", \"plaintext\": true}],\n  " B_ONE ",\n"
#define LHEAD   "{\n  " L_PLAIN ",\n"
/* clang-format on */

#define HS_ALL (JOSE_HS256 | JOSE_HS384 | JOSE_HS512)

static struct cfg *
load(const char *json, char *err)
{
    return cfg_load_buf(NAME, json, strlen(json), false, err, ERRLEN);
}

/* ---- errors: one table, whole messages ---------------------------------- */

struct err_case {
    const char *json;
    const char *want;
};

static const struct err_case err_cases[] = {
    {HEAD "  \"auth\": {\"anonymous\": true, \"static_token\": []}\n}",
     NAME ":4:31: auth.static_token: unknown key (did you mean \"static_tokens\"?)"},
    {HEAD "  \"auth\": {\"anonymous\": true, \"frobnicate\": 1}\n}",
     NAME ":4:31: auth.frobnicate: unknown key"},
    {HEAD "  \"auth\": {\"static_tokens\": [{\"sha256\": \"x\", \"principle\": \"p\"}]}\n}",
     NAME ":4:46: auth.static_tokens[0].principle: unknown key (did you mean \"principal\"?)"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", \"audience\": \"a\"}]}\n}",
     NAME ":4:58: auth.issuers[0].audience: unknown key (did you mean \"audiences\"?)"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", \"jwks_uri\": \"https://i/k\"}]}\n}",
     NAME ":4:58: auth.issuers[0].jwks_uri: unknown key (did you mean \"jwks_url\"?)"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", \"jwks_url\": \"https://i/k\",\n    \"profile_map\": [{\"values\": \"v\", \"profile\": \"p\"}]}]}\n}",
     NAME ":5:22: auth.issuers[0].profile_map[0].values: unknown key (did you mean \"value\"?)"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", \"public_keys\": [{\"kd\": \"k\", \"file\": \"/f\"}]}]}\n}",
     NAME ":4:75: auth.issuers[0].public_keys[0].kd: unknown key (did you mean \"kid\"?)"},
    {HEAD "  \"auth\": {\"mtls\": {\"cas\": \"/ca.pem\"}}\n}",
     NAME ":4:21: auth.mtls.cas: unknown key (did you mean \"ca\"?)"},
    {HEAD "  \"auth\": {\"anonymous\": true, \"identity\": {\"strip_header\": []}}\n}",
     NAME ":4:44: auth.identity.strip_header: unknown key (did you mean \"strip_headers\"?)"},
    {HEAD "  \"auth\": {\"anonymous\": true, \"anonymous\": false}\n}",
     NAME ":4:31: auth.anonymous: duplicate key \"anonymous\""},
    {HEAD "  \"auth\": []\n}", NAME ":4:3: auth: expected an object, got array"},
    {HEAD "  \"auth\": null\n}", NAME ":4:3: auth: expected an object, got null"},
    {HEAD "  \"auth\": {\"anonymous\": \"yes\"}\n}",
     NAME ":4:12: auth.anonymous: expected a boolean, got string"},
    {HEAD "  \"auth\": {\"anonymous\": true, \"header_names\": \"authorization\"}\n}",
     NAME ":4:31: auth.header_names: expected an array of strings, got string"},
    {HEAD "  \"auth\": {\"anonymous\": true, \"header_names\": [\"x\", \"\"]}\n}",
     NAME ":4:53: auth.header_names[1]: expected a non-empty string, got an empty string"},
    {HEAD "  \"auth\": {\"anonymous\": true, \"header_names\": [1]}\n}",
     NAME ":4:48: auth.header_names[0]: expected a non-empty string, got integer"},
    {HEAD "  \"auth\": {\"static_tokens\": {}}\n}",
     NAME ":4:12: auth.static_tokens: expected an array, got object"},
    {HEAD "  \"auth\": {\"static_tokens\": [\"x\"]}\n}",
     NAME ":4:30: auth.static_tokens[0]: expected an object, got string"},
    {HEAD "  \"auth\": {\"static_tokens\": [{\"principal\": \"p\"}]}\n}",
     NAME ":4:30: auth.static_tokens[0].sha256: required key missing"},
    {HEAD
     "  \"auth\": {\"static_tokens\": [\n    {\"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\"}]}\n}",
     NAME ":5:5: auth.static_tokens[0].principal: required key missing"},
    {HEAD "  \"auth\": {\"static_tokens\": [{\"sha256\": 5, \"principal\": \"p\"}]}\n}",
     NAME ":4:31: auth.static_tokens[0].sha256: expected a string, got integer"},
    {HEAD
     "  \"auth\": {\"static_tokens\": [{\"sha256\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"principal\": \"p\"}]}\n}",
     NAME
     ":4:31: auth.static_tokens[0].sha256: expected 64 hex digits (sparkgate hash-token prints them), got 63 characters"},
    {HEAD
     "  \"auth\": {\"static_tokens\": [{\"sha256\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"principal\": \"p\"}]}\n}",
     NAME
     ":4:31: auth.static_tokens[0].sha256: expected 64 hex digits (sparkgate hash-token prints them), got 65 characters"},
    {HEAD
     "  \"auth\": {\"static_tokens\": [{\"sha256\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaag\", \"principal\": \"p\"}]}\n}",
     NAME
     ":4:31: auth.static_tokens[0].sha256: not a hex digest (sparkgate hash-token prints one)"},
    {HEAD
     "  \"auth\": {\"static_tokens\": [{\"sha256\": \" aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"principal\": \"p\"}]}\n}",
     NAME
     ":4:31: auth.static_tokens[0].sha256: not a hex digest (sparkgate hash-token prints one)"},
    {HEAD "  \"auth\": {\"static_tokens\": [{\"sha256\": \"\", \"principal\": \"p\"}]}\n}",
     NAME ":4:31: auth.static_tokens[0].sha256: must not be empty"},
    {HEAD
     "  \"auth\": {\"static_tokens\": [\n    {\"sha256\": \"abababababababababababababababababababababababababababababababab\", \"principal\": \"p\"},\n    {\"sha256\": \"ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB\", \"principal\": \"q\"}]}\n}",
     NAME ":6:5: auth.static_tokens[1]: duplicate token digest (first at static_tokens[0])"},
    {HEAD
     "  \"auth\": {\"static_tokens\": [{\"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\", \"principal\": \"p\", \"groups\": \"g\"}]}\n}",
     NAME ":4:127: auth.static_tokens[0].groups: expected an array of strings, got string"},
    {HEAD
     "  \"auth\": {\"static_tokens\": [{\"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\", \"principal\": \"p\", \"disabled\": 1}]}\n}",
     NAME ":4:127: auth.static_tokens[0].disabled: expected a boolean, got integer"},
    {HEAD "  \"auth\": {\"anonymous\": true, \"token_cache_entries\": 10000001}\n}",
     NAME ":4:31: auth.token_cache_entries: 10000001 is out of range 0..10000000"},
    {HEAD "  \"auth\": {\"anonymous\": true, \"token_cache_entries\": -1}\n}",
     NAME ":4:31: auth.token_cache_entries: -1 is out of range 0..10000000"},
    {HEAD "  \"auth\": {\"anonymous\": true, \"default_profile\": \"\"}\n}",
     NAME ":4:31: auth.default_profile: must not be empty"},
    {HEAD "  \"auth\": {\"issuers\": {}}\n}",
     NAME ":4:12: auth.issuers: expected an array, got object"},
    {HEAD "  \"auth\": {\"issuers\": [[]]}\n}",
     NAME ":4:24: auth.issuers[0]: expected an object, got array"},
    {HEAD "  \"auth\": {\"issuers\": [{\"audiences\": \"a\", \"jwks_url\": \"https://i/k\"}]}\n}",
     NAME ":4:24: auth.issuers[0].issuer: required key missing"},
    {HEAD "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"jwks_url\": \"https://i/k\"}]}\n}", NAME
     ":4:24: auth.issuers[0].audiences: required key missing (the \"aud\" values sparkgate accepts)"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": 5, \"jwks_url\": \"https://i/k\"}]}\n}",
     NAME
     ":4:40: auth.issuers[0].audiences: expected a string or an array of strings, got integer"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": [\"a\", \"\"], \"jwks_url\": \"https://i/k\"}]}\n}",
     NAME ":4:59: auth.issuers[0].audiences[1]: expected a non-empty string, got an empty string"},
    {HEAD
     "  \"auth\": {\"issuers\": [\n    {\"issuer\": \"i\", \"audiences\": \"a\", \"jwks_url\": \"https://i/k\"},\n    {\"issuer\": \"i\", \"audiences\": \"a\", \"jwks_url\": \"https://i/k2\"}]}\n}",
     NAME ":6:5: auth.issuers[1]: duplicate issuer \"i\" (first at issuers[0])"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", \"jwks_url\": \"https://i/k\",\n    \"algorithms\": [\"RS256\", \"none\"]}]}\n}",
     NAME
     ":5:29: auth.issuers[0].algorithms[1]: unknown algorithm \"none\" (RS256/384/512, PS256/384/512, ES256/384/512, EdDSA, HS256/384/512)"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", \"jwks_url\": \"https://i/k\",\n    \"algorithms\": [\"rs256\"]}]}\n}",
     NAME
     ":5:20: auth.issuers[0].algorithms[0]: unknown algorithm \"rs256\" (RS256/384/512, PS256/384/512, ES256/384/512, EdDSA, HS256/384/512)"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", \"jwks_url\": \"https://i/k\",\n    \"algorithms\": []}]}\n}",
     NAME ":5:5: auth.issuers[0].algorithms: must name at least one algorithm"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", \"jwks_url\": \"https://i/k\",\n    \"algorithms\": \"RS256\"}]}\n}",
     NAME ":5:5: auth.issuers[0].algorithms: expected an array of strings, got string"},
    {HEAD
     "  \"auth\": {\"issuers\": [\n    {\"issuer\": \"i\", \"audiences\": \"a\", \"jwks_url\": \"https://i/k\", \"algorithms\": [\"RS256\", \"HS256\"]}]}\n}",
     NAME ":5:5: auth.issuers[0].hmac_secrets: required when \"algorithms\" names an HS algorithm"},
    {HEAD
     "  \"auth\": {\"issuers\": [\n    {\"issuer\": \"i\", \"audiences\": \"a\", \"default_profile\": \"p\"}]}\n}",
     NAME
     ":5:5: auth.issuers[0].jwks_url: no signing keys: give \"jwks_url\", \"jwks_file\", \"public_keys\" or \"hmac_secrets\""},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", \"jwks_url\": \"http://i/k\"}]}\n}",
     NAME ":4:58: auth.issuers[0].jwks_url: must be an https:// URL"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", \"jwks_url\": \"HTTPS://i/k\"}]}\n}",
     NAME ":4:58: auth.issuers[0].jwks_url: must be an https:// URL"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", \"jwks_url\": \"https://i/k\", \"clock_skew_s\": 3601}]}\n}",
     NAME ":4:85: auth.issuers[0].clock_skew_s: 3601 is out of range 0..3600"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", \"jwks_url\": \"https://i/k\", \"jwks_refresh_s\": 9}]}\n}",
     NAME ":4:85: auth.issuers[0].jwks_refresh_s: 9 is out of range 10..86400"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", \"jwks_url\": \"https://i/k\", \"profile_map\": {}}]}\n}",
     NAME ":4:85: auth.issuers[0].profile_map: expected an array, got object"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", \"jwks_url\": \"https://i/k\",\n    \"profile_map\": [{\"value\": \"v\"}]}]}\n}",
     NAME ":5:21: auth.issuers[0].profile_map[0].profile: required key missing"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", \"public_keys\": [{\"kid\": \"k\"}]}]}\n}",
     NAME ":4:74: auth.issuers[0].public_keys[0].file: required key missing"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", \"public_keys\": [\"/k.pem\"]}]}\n}",
     NAME ":4:74: auth.issuers[0].public_keys[0]: expected an object, got string"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", \"algorithms\": [\"HS256\"], \"hmac_secrets\": \"/s\"}]}\n}",
     NAME ":4:83: auth.issuers[0].hmac_secrets: expected an array, got string"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", \"jwks_url\": \"https://i/k\",\n    \"jwks_required_at_start\": \"true\"}]}\n}",
     NAME ":5:5: auth.issuers[0].jwks_required_at_start: expected a boolean, got string"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", \"jwks_file\": 5}]}\n}",
     NAME ":4:58: auth.issuers[0].jwks_file: expected a string, got integer"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", \"jwks_file\": \"\"}]}\n}",
     NAME ":4:58: auth.issuers[0].jwks_file: must not be empty"},
    {HEAD "  \"auth\": {\"mtls\": true}\n}",
     NAME ":4:12: auth.mtls: expected an object, got boolean"},
    {HEAD "  \"auth\": {\"mtls\": {\"principal_from\": \"cn\"}}\n}",
     NAME ":4:20: auth.mtls.ca: required key missing"},
    {HEAD "  \"auth\": {\"mtls\": {\"ca\": \"/ca.pem\", \"principal_from\": \"subject\"}}\n}",
     NAME ":4:38: auth.mtls.principal_from: \"subject\" is not cn, san_email, san_dns or san_uri"},
    {HEAD "  \"auth\": {\"mtls\": {\"ca\": \"/ca.pem\", \"principal_from\": \"CN\"}}\n}",
     NAME ":4:38: auth.mtls.principal_from: \"CN\" is not cn, san_email, san_dns or san_uri"},
    {HEAD "  \"auth\": {\"anonymous\": true, \"identity\": {\"mode\": \"strict\"}}\n}",
     NAME ":4:44: auth.identity.mode: \"strict\" is not \"rewrite\" or \"require_match\""},
    {HEAD "  \"auth\": {\"anonymous\": true, \"identity\": []}\n}",
     NAME ":4:31: auth.identity: expected an object, got array"},
    {HEAD "  \"auth\": {\"anonymous\": true, \"identity\": {\"strip_headers\": \"x-user\"}}\n}",
     NAME ":4:44: auth.identity.strip_headers: expected an array of strings, got string"},
    {HEAD "  \"auth\": {\"anonymous\": true, \"identity\": {\"strip_header_prefixes\": [null]}}\n}",
     NAME ":4:70: auth.identity.strip_header_prefixes[0]: expected a non-empty string, got null"},
    {PHEAD "  \"auth\": {\"anonymous\": true}\n}",
     NAME ":4:12: auth.anonymous: only allowed when every listener is on a loopback address"},
    {PHEAD "  \"log\": {\"level\": \"info\"}\n}", NAME
     ":1:1: auth: required key missing: a listener outside loopback must authenticate (\"auth\": {\"static_tokens\": ...} or \"issuers\")"},
    {HEAD "  \"auth\": {}\n}", NAME
     ":4:3: auth: no way to authenticate: give \"static_tokens\", \"issuers\" or \"mtls\" (or \"anonymous\": true on loopback)"},
    {PHEAD "  \"auth\": {\"static_tokens\": [], \"issuers\": []}\n}", NAME
     ":4:3: auth: no way to authenticate: give \"static_tokens\", \"issuers\" or \"mtls\" (or \"anonymous\": true on loopback)"},
    {PHEAD "  \"auth\": {\"anonymous\": false, \"header_names\": [\"authorization\"]}\n}", NAME
     ":4:3: auth: no way to authenticate: give \"static_tokens\", \"issuers\" or \"mtls\" (or \"anonymous\": true on loopback)"},
    {MHEAD "  \"log\": {\"level\": \"info\"}\n}", NAME
     ":1:1: auth: required key missing: a listener outside loopback must authenticate (\"auth\": {\"static_tokens\": ...} or \"issuers\")"},
    {V6HEAD "  \"auth\": {\"anonymous\": true}\n}",
     NAME ":4:12: auth.anonymous: only allowed when every listener is on a loopback address"},
    {LHEAD
     "  \"backends\": [{\"name\": \"a\", \"address\": \"h:1\", \"preshared_token_file\": 5}]\n}",
     NAME ":3:48: backends[0].preshared_token_file: expected a string, got integer"},
    {LHEAD
     "  \"backends\": [{\"name\": \"a\", \"address\": \"h:1\", \"preshared_token_file\": \"\"}]\n}",
     NAME ":3:48: backends[0].preshared_token_file: must not be empty"},
    {HEAD "  \"auth\": {\"anonymous\": true, \"deny\": {\"principal\": []}}\n}",
     NAME ":4:40: auth.deny.principal: unknown key (did you mean \"principals\"?)"},
    {HEAD "  \"auth\": {\"anonymous\": true, \"deny\": [\"p\"]}\n}",
     NAME ":4:31: auth.deny: expected an object, got array"},
    {HEAD "  \"auth\": {\"anonymous\": true, \"deny\": {\"groups\": [\"g\", \"\"]}}\n}",
     NAME ":4:56: auth.deny.groups[1]: expected a non-empty string, got an empty string"},
    {HEAD "  \"auth\": {\"anonymous\": true, \"max_token_bytes\": 255}\n}",
     NAME ":4:31: auth.max_token_bytes: 255 is out of range 256..16384"},
    {HEAD "  \"auth\": {\"anonymous\": true, \"max_token_bytes\": 16385}\n}",
     NAME ":4:31: auth.max_token_bytes: 16385 is out of range 256..16384"},
    {HEAD "  \"auth\": {\"anonymous\": true, \"max_token_bytes\": 16384}\n}", NAME
     ":4:31: auth.max_token_bytes: 16384 does not fit limits.max_header_list_size (16384): at most 16320"},
    {HEAD
     "  \"limits\": {\"max_header_list_size\": 4096},\n  \"auth\": {\"anonymous\": true, \"max_token_bytes\": 4096}\n}",
     NAME
     ":5:31: auth.max_token_bytes: 4096 does not fit limits.max_header_list_size (4096): at most 4032"},
    {HEAD "  \"auth\": {\"anonymous\": true, \"static_principal_prefix\": \"\"}\n}",
     NAME ":4:31: auth.static_principal_prefix: must not be empty"},
    {HEAD "  \"auth\": {\"anonymous\": true, \"static_principal_prefix\": \"a\\tb\"}\n}",
     NAME ":4:31: auth.static_principal_prefix: must not contain control characters"},
    {HEAD
     "  \"auth\": {\"mtls\": {\"ca\": \"/ca\", \"principal_prefix\": \"0123456789012345678901234567890123456789012345678901234567890123x\"}}\n}",
     NAME ":4:34: auth.mtls.principal_prefix: longer than 64 bytes"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", \"jwks_url\": \"https://i/k\", \"principal_prefix\": 1}]}\n}",
     NAME ":4:85: auth.issuers[0].principal_prefix: expected a string, got integer"},
    {HEAD
     "  \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", \"jwks_url\": \"https://i/k\", \"groups_claim\": []}]}\n}",
     NAME ":4:85: auth.issuers[0].groups_claim: expected a string, got array"},
    {HEAD "  \"auth\": {\"anonymous\": true},\n  \"profiles\": {\"p\": {}}\n}", NAME
     ":4:11: auth.default_profile: required key missing: \"anonymous\" is true and \"profiles\" are configured: anonymous callers are judged by this profile"},
    {HEAD
     "  \"auth\": {\"static_principal_prefix\": \"svc:\", \"static_tokens\": [{\"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\", \"principal\": \"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp\"}]}\n}",
     NAME
     ":4:144: auth.static_tokens[0].principal: longer than 255 bytes with static_principal_prefix"},
};

START_TEST(tc_errors)
{
    const struct err_case *t = &err_cases[_i];
    char err[ERRLEN];
    struct cfg *c;

    memset(err, 'X', sizeof(err));
    c = load(t->json, err);
    ck_assert_msg(c == NULL, "case %d loaded: %s", _i, t->json);
    ck_assert_msg(strcmp(err, t->want) == 0, "case %d:\n got  %s\n want %s", _i, err, t->want);
    ck_assert_ptr_null(strchr(err, '\n'));
}
END_TEST

/* ---- configurations that load ------------------------------------------- */

static const char *const ok_cases[] = {
    /* loopback listeners need no "auth" */
    "{" L_PLAIN ", " B_ONE "}",
    "{\"listen\": [{\"address\": \"127.1.2.3:1\", \"plaintext\": true}], " B_ONE "}",
    "{\"listen\": [{\"address\": \"[::1]:1\", \"plaintext\": true},"
    " {\"address\": \"127.0.0.1:2\", \"plaintext\": true}], " B_ONE "}",
    "{" L_PLAIN ", " B_ONE ", \"auth\": {\"anonymous\": true}}",
    /* one way to authenticate is enough */
    "{" L_PUB ", " B_ONE ", \"auth\": {\"mtls\": {\"ca\": \"/ca.pem\"}}}",
    "{" L_PUB ", " B_ONE ", \"auth\": {\"static_tokens\": [{\"sha256\": "
    "\"ABCDEFabcdef0123456789ABCDEFabcdef0123456789ABCDEFabcdef01234567\", \"principal\": \"p\"}]}}",
    "{" L_PUB ", " B_ONE ", \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", "
    "\"public_keys\": [{\"kid\": \"k\", \"file\": \"/k.pem\"}]}]}}",
    "{" L_PUB ", " B_ONE ", \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", "
    "\"jwks_file\": \"/jwks.json\"}]}}",
    "{" L_PUB ", " B_ONE ", \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", "
    "\"algorithms\": [\"HS256\"], \"hmac_secrets\": [{\"kid\": \"s\", \"file\": \"/s\"}]}]}}",
    /* two issuers, and a static token beside them */
    "{" L_PUB ", " B_ONE ", \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": \"a\", "
    "\"jwks_url\": \"https://i/k\"}, {\"issuer\": \"j\", \"audiences\": \"a\", "
    "\"jwks_url\": \"https://i/k\"}], \"static_tokens\": [{\"sha256\": "
    "\"0000000000000000000000000000000000000000000000000000000000000000\", \"principal\": \"p\"}]}}",
    /* "disabled" tokens still count as configured */
    "{" L_PUB ", " B_ONE ", \"auth\": {\"static_tokens\": [{\"sha256\": "
    "\"0000000000000000000000000000000000000000000000000000000000000000\", \"principal\": \"p\", "
    "\"disabled\": true}]}}",
};

START_TEST(tc_ok)
{
    char err[ERRLEN];
    struct cfg *c = load(ok_cases[_i], err);

    ck_assert_msg(c != NULL, "case %d: %s", _i, err);
    cfg_unref(c);
}
END_TEST

/* ---- defaults ----------------------------------------------------------- */

static const char *const default_strip[] = {
    "x-forwarded-user",     "x-forwarded-email",
    "x-forwarded-groups",   "x-forwarded-preferred-username",
    "x-remote-user",        "x-remote-group",
    "x-spark-user",         "x-auth-request-user",
    "x-auth-request-email", "remote-user",
};

/* What every snapshot has unless "auth" says otherwise. */
static void
assert_auth_defaults(const struct cfg_auth *a)
{
    size_t i;

    ck_assert_uint_eq(a->nheader_names, 2);
    ck_assert_str_eq(a->header_names[0], "authorization");
    ck_assert_str_eq(a->header_names[1], "authentication");
    ck_assert_uint_eq(a->nstrip_headers, sizeof(default_strip) / sizeof(default_strip[0]));
    for (i = 0; i < a->nstrip_headers; i++)
        ck_assert_str_eq(a->strip_headers[i], default_strip[i]);
    ck_assert_uint_eq(a->nstrip_prefixes, 1);
    ck_assert_str_eq(a->strip_prefixes[0], "x-sparkgate-");
    ck_assert_uint_eq(a->cache_entries, 10000);
    ck_assert(!a->require_match);
    ck_assert(!a->mtls);
    ck_assert_ptr_null(a->mtls_ca);
    ck_assert_ptr_null(a->default_profile);
    ck_assert_uint_eq(a->max_token_bytes, 8192);
    ck_assert_uint_eq(a->ndeny_principals, 0);
    ck_assert_uint_eq(a->ndeny_groups, 0);
    ck_assert_ptr_null(a->static_prefix);
    ck_assert_ptr_null(a->mtls_prefix);
}

/* no "auth" on loopback: anonymous, with every default in place */
START_TEST(tc_defaults_absent)
{
    char err[ERRLEN];
    struct cfg *c = load("{" L_PLAIN ", " B_ONE "}", err);

    ck_assert_msg(c != NULL, "%s", err);
    ck_assert(c->auth.anonymous);
    assert_auth_defaults(&c->auth);
    ck_assert_uint_eq(c->auth.ntokens, 0);
    ck_assert_uint_eq(c->auth.nissuers, 0);
    ck_assert_ptr_null(c->backends[0].preshared_token);
    cfg_unref(c);
}
END_TEST

START_TEST(tc_defaults_token)
{
    const char *json = "{" L_PUB ", " B_ONE ", \"auth\": {\"static_tokens\": [{\"sha256\": "
                       "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\", "
                       "\"principal\": \"alice\"}]}}";
    static const uint8_t digest[32] = {
        0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
        0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
        0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
    };
    char err[ERRLEN];
    struct cfg *c = load(json, err);
    const struct cfg_static_token *t;

    ck_assert_msg(c != NULL, "%s", err);
    ck_assert(!c->auth.anonymous);
    assert_auth_defaults(&c->auth);
    ck_assert_uint_eq(c->auth.ntokens, 1);
    t = &c->auth.tokens[0];
    ck_assert_mem_eq(t->sha256, digest, 32);
    ck_assert_str_eq(t->principal, "alice");
    ck_assert_ptr_null(t->profile);
    ck_assert_uint_eq(t->ngroups, 0);
    ck_assert(!t->disabled);
    cfg_unref(c);
}
END_TEST

START_TEST(tc_defaults_issuer)
{
    const char *json = "{" L_PUB ", " B_ONE ", \"auth\": {\"issuers\": [{\"issuer\": "
                       "\"https://idp\", \"audiences\": \"sparkgate\", \"jwks_url\": "
                       "\"https://idp/jwks\"}], \"mtls\": {\"ca\": \"/ca.pem\"}}}";
    const unsigned asym = JOSE_RS256 | JOSE_RS384 | JOSE_RS512 | JOSE_PS256 | JOSE_PS384 |
                          JOSE_PS512 | JOSE_ES256 | JOSE_ES384 | JOSE_ES512 | JOSE_EDDSA;
    char err[ERRLEN];
    struct cfg *c = load(json, err);
    const struct cfg_issuer *is;

    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(c->auth.nissuers, 1);
    is = &c->auth.issuers[0];
    ck_assert_str_eq(is->issuer, "https://idp");
    ck_assert_uint_eq(is->naudiences, 1); /* a single string is one audience */
    ck_assert_str_eq(is->audiences[0], "sparkgate");
    /* every asymmetric algorithm, and never an HMAC one unless named */
    ck_assert_uint_eq(is->algs, asym);
    ck_assert_uint_eq(is->algs & HS_ALL, 0);
    ck_assert_int_eq(is->skew_s, 60);
    ck_assert_str_eq(is->principal_claim, "sub");
    ck_assert_ptr_null(is->profile_claim);
    ck_assert_uint_eq(is->nrules, 0);
    ck_assert_ptr_null(is->default_profile);
    ck_assert_str_eq(is->jwks_url, "https://idp/jwks");
    ck_assert_ptr_null(is->jwks_ca);
    ck_assert_uint_eq(is->jwks_refresh_s, 300);
    ck_assert_uint_eq(is->jwks_min_refetch_s, 30);
    ck_assert_uint_eq(is->jwks_max_bytes, 1024 * 1024);
    ck_assert_uint_eq(is->jwks_timeout_ms, 5000);
    ck_assert(is->jwks_required_at_start);
    ck_assert_ptr_null(is->static_keys);
    ck_assert_ptr_null(is->fetcher);
    /* mtls: the common name, no profile of its own */
    ck_assert(c->auth.mtls);
    ck_assert_str_eq(c->auth.mtls_ca, "/ca.pem");
    ck_assert_int_eq(c->auth.mtls_from, CFG_MTLS_CN);
    ck_assert_ptr_null(c->auth.mtls_profile);
    ck_assert_uint_eq(c->auth.ntokens, 0);
    cfg_unref(c);
}
END_TEST

/* each principal_from and identity.mode spelling lands in the snapshot */
START_TEST(tc_enums)
{
    static const struct {
        const char *from;
        enum cfg_mtls_from want;
    } froms[] = {
        {"cn", CFG_MTLS_CN},
        {"san_email", CFG_MTLS_SAN_EMAIL},
        {"san_dns", CFG_MTLS_SAN_DNS},
        {"san_uri", CFG_MTLS_SAN_URI},
    };
    char json[512], err[ERRLEN];
    struct cfg *c;
    size_t i;

    for (i = 0; i < sizeof(froms) / sizeof(froms[0]); i++) {
        snprintf(json, sizeof(json),
                 "{" L_PUB ", " B_ONE ", \"auth\": {\"mtls\": {\"ca\": \"/ca\", "
                 "\"principal_from\": \"%s\"}, \"identity\": {\"mode\": \"%s\"}}}",
                 froms[i].from, i % 2 == 0 ? "rewrite" : "require_match");
        c = load(json, err);
        ck_assert_msg(c != NULL, "%s", err);
        ck_assert_int_eq(c->auth.mtls_from, froms[i].want);
        ck_assert_int_eq(c->auth.require_match, i % 2 == 1);
        /* strip lists not given keep their defaults */
        ck_assert_uint_eq(c->auth.nstrip_headers, sizeof(default_strip) / sizeof(default_strip[0]));
        ck_assert_uint_eq(c->auth.nstrip_prefixes, 1);
        cfg_unref(c);
    }
    /* every algorithm name, HMAC ones with a secret */
    c = load("{" L_PUB ", " B_ONE ", \"auth\": {\"issuers\": [{\"issuer\": \"i\", \"audiences\": "
             "[\"a\"], \"algorithms\": [\"RS256\", \"RS384\", \"RS512\", \"PS256\", \"PS384\", "
             "\"PS512\", \"ES256\", \"ES384\", \"ES512\", \"EdDSA\", \"HS256\", \"HS384\", "
             "\"HS512\"], \"hmac_secrets\": [{\"kid\": \"s\", \"file\": \"/s\"}]}]}}",
             err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(c->auth.issuers[0].algs, (1u << 13) - 1);
    cfg_unref(c);
}
END_TEST

/* ---- key files, read by cfg_load ---------------------------------------- */

#define TD_MAX 16

/* A mkdtemp() directory and the files written into it, removed by td_done. */
struct tmpdir {
    char dir[64];
    char files[TD_MAX][256];
    int n;
};

static void
td_init(struct tmpdir *td)
{
    memset(td, 0, sizeof(*td));
    snprintf(td->dir, sizeof(td->dir), "/tmp/check_cfg_auth.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(td->dir));
}

/* Writes |len| bytes of |data| to |name| in the directory; returns its path. */
static const char *
td_write(struct tmpdir *td, const char *name, const void *data, size_t len)
{
    char tmp[sizeof(td->files[0])], *path;
    FILE *f;

    ck_assert_int_lt(td->n, TD_MAX);
    /* via |tmp|: the name is built from another member of |td| */
    snprintf(tmp, sizeof(tmp), "%s/%s", td->dir, name);
    path = td->files[td->n++];
    memcpy(path, tmp, sizeof(tmp));
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}

static void
td_done(struct tmpdir *td)
{
    int i;

    for (i = 0; i < td->n; i++)
        unlink(td->files[i]);
    rmdir(td->dir);
}

/* PEM SubjectPublicKeyInfo of |pkey|, NUL-terminated; free() it. */
static char *
pubkey_pem(EVP_PKEY *pkey)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out;
    long n;

    ck_assert_ptr_nonnull(bio);
    ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, pkey), 1);
    n = BIO_get_mem_data(bio, &data);
    ck_assert_int_gt(n, 0);
    out = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(out);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    BIO_free(bio);
    return out;
}

/* A base64url number of |pkey| (RSA n or e) into |out|. */
static void
rsa_b64(EVP_PKEY *pkey, const char *param, char *out, size_t outlen)
{
    unsigned char bin[1024];
    BIGNUM *bn = NULL;
    int n;

    ck_assert_int_eq(EVP_PKEY_get_bn_param(pkey, param, &bn), 1);
    n = BN_num_bytes(bn);
    ck_assert_int_le(n, (int)sizeof(bin));
    ck_assert_uint_ge(outlen, ((size_t)n * 4 + 2) / 3 + 1);
    BN_bn2bin(bn, bin);
    jose_b64url_encode(bin, (size_t)n, out);
    BN_free(bn);
}

/* {"kty":"RSA",...} of a new RSA key of |bits| with |kid|, appended to |buf|. */
static void
rsa_jwk(int bits, const char *kid, char *buf, size_t buflen)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    char n[1400], e[16];
    size_t used = strlen(buf);

    ck_assert_ptr_nonnull(pkey);
    rsa_b64(pkey, OSSL_PKEY_PARAM_RSA_N, n, sizeof(n));
    rsa_b64(pkey, OSSL_PKEY_PARAM_RSA_E, e, sizeof(e));
    snprintf(buf + used, buflen - used,
             "%s{\"kty\": \"RSA\", \"kid\": \"%s\", \"use\": \"sig\", \"alg\": \"RS256\", "
             "\"n\": \"%s\", \"e\": \"%s\"}",
             used > 0 && buf[used - 1] != '[' ? ", " : "", kid, n, e);
    EVP_PKEY_free(pkey);
}

/* "LINE:COL" of the first |needle| in |text|, counted in bytes (ASCII text). */
static void
where(const char *text, const char *needle, char *out, size_t outlen)
{
    const char *p = strstr(text, needle), *q;
    size_t line = 1, col = 1;

    ck_assert_ptr_nonnull(p);
    for (q = text; q < p; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    snprintf(out, outlen, "%zu:%zu", line, col);
}

/*
 * Writes |json| as sparkgate.json in |td| and loads it with cfg_load (key
 * files read, TLS built).  Returns the snapshot, or NULL with |err| set;
 * |path| receives the file name.
 */
static struct cfg *
load_file(struct tmpdir *td, const char *json, char *path, size_t pathlen, char *err)
{
    snprintf(path, pathlen, "%s", td_write(td, "sparkgate.json", json, strlen(json)));
    return cfg_load(path, err, ERRLEN);
}

/* Loads |json| and expects "PATH:<where |needle|>: |rest|". */
static void
expect_file_error(struct tmpdir *td, const char *json, const char *needle, const char *rest)
{
    char path[256], pos[32], want[ERRLEN], err[ERRLEN];

    ck_assert_ptr_null(load_file(td, json, path, sizeof(path), err));
    where(json, needle, pos, sizeof(pos));
    snprintf(want, sizeof(want), "%s:%s: %s", path, pos, rest);
    ck_assert_str_eq(err, want);
}

/* a PEM public key file becomes the issuer's one static key */
START_TEST(tc_load_public_key)
{
    struct tmpdir td;
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *weak = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    char json[2048], path[256], err[ERRLEN], rest[512], needle[300];
    char *pem;
    const char *pemfile, *weakfile;
    struct cfg *c;

    ck_assert_ptr_nonnull(ec);
    ck_assert_ptr_nonnull(weak);
    td_init(&td);
    pem = pubkey_pem(ec);
    pemfile = td_write(&td, "ec.pem", pem, strlen(pem));
    free(pem);
    pem = pubkey_pem(weak);
    weakfile = td_write(&td, "weak.pem", pem, strlen(pem));
    free(pem);

    snprintf(json, sizeof(json),
             "{" L_PLAIN ",\n " B_ONE ",\n \"auth\": {\"issuers\": [{\"issuer\": \"i\", "
             "\"audiences\": \"a\",\n  \"public_keys\": [{\"kid\": \"ec1\", \"file\": \"%s\"}]}]}}",
             pemfile);
    c = load_file(&td, json, path, sizeof(path), err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_ptr_nonnull(c->auth.issuers[0].static_keys);
    ck_assert_uint_eq(c->auth.issuers[0].static_keys->nkeys, 1);
    ck_assert_str_eq(c->auth.issuers[0].static_keys->keys[0].kid, "ec1");
    ck_assert_int_eq(c->auth.issuers[0].static_keys->keys[0].type, AUTH_JWK_EC);
    cfg_unref(c);

    /* a 1024-bit RSA key is refused, at the file that holds it */
    snprintf(json, sizeof(json),
             "{" L_PLAIN ",\n " B_ONE ",\n \"auth\": {\"issuers\": [{\"issuer\": \"i\", "
             "\"audiences\": \"a\",\n  \"public_keys\": [{\"kid\": \"ec1\", \"file\": \"%s\"},\n"
             "   {\"kid\": \"weak\", \"file\": \"%s\"}]}]}}",
             pemfile, weakfile);
    snprintf(rest, sizeof(rest),
             "auth.issuers[0].public_keys[1].file: unusable public key: RSA key of 1024 bits is "
             "too weak (minimum 2048)");
    snprintf(needle, sizeof(needle), "\"file\": \"%s\"", weakfile);
    expect_file_error(&td, json, needle, rest);
    td_done(&td);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(weak);
}
END_TEST

/* a JWKS file loads; its weak RSA key is dropped, not fatal */
START_TEST(tc_load_jwks_file)
{
    struct tmpdir td;
    char doc[8192] = "{\"keys\": [", json[2048], path[256], err[ERRLEN], rest[512];
    const char *jwks, *bad;
    struct cfg *c;
    const struct auth_jwk_set *k;

    td_init(&td);
    rsa_jwk(1024, "weak", doc, sizeof(doc));
    rsa_jwk(2048, "good", doc, sizeof(doc));
    strcat(doc, "]}");
    jwks = td_write(&td, "jwks.json", doc, strlen(doc));
    snprintf(json, sizeof(json),
             "{" L_PLAIN ", " B_ONE ",\n \"auth\": {\"issuers\": [{\"issuer\": \"i\", "
             "\"audiences\": \"a\",\n  \"jwks_file\": \"%s\"}]}}",
             jwks);
    c = load_file(&td, json, path, sizeof(path), err);
    ck_assert_msg(c != NULL, "%s", err);
    k = c->auth.issuers[0].static_keys;
    ck_assert_ptr_nonnull(k);
    ck_assert_uint_eq(k->nkeys, 1);
    ck_assert_str_eq(k->keys[0].kid, "good");
    ck_assert_int_eq(k->keys[0].type, AUTH_JWK_RSA);
    ck_assert_int_eq(k->keys[0].bits, 2048);
    cfg_unref(c);

    /* not JSON: the file name and the reason, at jwks_file */
    bad = td_write(&td, "bad.json", "{\"keys\": [", 10);
    snprintf(json, sizeof(json),
             "{" L_PLAIN ", " B_ONE ",\n \"auth\": {\"issuers\": [{\"issuer\": \"i\", "
             "\"audiences\": \"a\",\n  \"jwks_file\": \"%s\"}]}}",
             bad);
    ck_assert_ptr_null(load_file(&td, json, path, sizeof(path), err));
    snprintf(rest, sizeof(rest),
             "%s:3:3: auth.issuers[0].jwks_file: %s: JWKS is not valid JSON: ", path, bad);
    ck_assert_msg(strncmp(err, rest, strlen(rest)) == 0, "%s", err);

    /* missing */
    snprintf(json, sizeof(json),
             "{" L_PLAIN ", " B_ONE ",\n \"auth\": {\"issuers\": [{\"issuer\": \"i\", "
             "\"audiences\": \"a\",\n  \"jwks_file\": \"%s/none.json\"}]}}",
             td.dir);
    snprintf(rest, sizeof(rest),
             "auth.issuers[0].jwks_file: cannot read \"%s/none.json\": No such file or directory",
             td.dir);
    expect_file_error(&td, json, "\"jwks_file\"", rest);
    td_done(&td);
}
END_TEST

/* HMAC secrets: at least 32 bytes (the newline does not count) */
START_TEST(tc_load_hmac_secret)
{
    struct tmpdir td;
    char json[2048], path[256], err[ERRLEN];
    const char *shortf, *okf;
    const struct auth_jwk *k;
    struct cfg *c;

    td_init(&td);
    shortf = td_write(&td, "short.key", "0123456789abcdef0123456789abcde\n", 32);
    okf = td_write(&td, "ok.key", "0123456789abcdef0123456789abcdef\r\n", 34);
    snprintf(json, sizeof(json),
             "{" L_PLAIN ", " B_ONE ",\n \"auth\": {\"issuers\": [{\"issuer\": \"i\", "
             "\"audiences\": \"a\", \"algorithms\": [\"HS256\"],\n  \"hmac_secrets\": "
             "[{\"kid\": \"s1\", \"file\": \"%s\"}]}]}}",
             shortf);
    expect_file_error(&td, json, "\"file\"",
                      "auth.issuers[0].hmac_secrets[0].file: HMAC secret shorter than 32 bytes "
                      "(RFC 7518 section 3.2)");

    snprintf(json, sizeof(json),
             "{" L_PLAIN ", " B_ONE ",\n \"auth\": {\"issuers\": [{\"issuer\": \"i\", "
             "\"audiences\": \"a\", \"algorithms\": [\"HS256\"],\n  \"hmac_secrets\": "
             "[{\"kid\": \"s1\", \"file\": \"%s\"}]}]}}",
             okf);
    c = load_file(&td, json, path, sizeof(path), err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(c->auth.issuers[0].static_keys->nkeys, 1);
    k = &c->auth.issuers[0].static_keys->keys[0];
    ck_assert_str_eq(k->kid, "s1");
    ck_assert_int_eq(k->type, AUTH_JWK_OCT);
    ck_assert_uint_eq(k->secret_len, 32);
    ck_assert_mem_eq(k->secret, "0123456789abcdef0123456789abcdef", 32);
    cfg_unref(c);
    td_done(&td);
}
END_TEST

/* jwks_file, public_keys and hmac_secrets of one issuer end up in one set */
START_TEST(tc_load_merged_keys)
{
    struct tmpdir td;
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    char doc[4096] = "{\"keys\": [", json[4096], path[256], err[ERRLEN];
    const char *jwks, *pemf, *sec;
    const struct auth_jwk_set *k;
    struct cfg *c;
    char *pem;

    ck_assert_ptr_nonnull(ed);
    td_init(&td);
    rsa_jwk(2048, "r1", doc, sizeof(doc));
    strcat(doc, "]}");
    jwks = td_write(&td, "jwks.json", doc, strlen(doc));
    pem = pubkey_pem(ed);
    pemf = td_write(&td, "ed.pem", pem, strlen(pem));
    free(pem);
    sec = td_write(&td, "hs.key", "0123456789abcdef0123456789abcdef0123456789abcdef", 48);
    snprintf(json, sizeof(json),
             "{" L_PLAIN ", " B_ONE ", \"auth\": {\"issuers\": [{\"issuer\": \"i\", "
             "\"audiences\": \"a\", \"algorithms\": [\"RS256\", \"EdDSA\", \"HS384\"], "
             "\"jwks_file\": \"%s\", \"public_keys\": [{\"kid\": \"e1\", \"file\": \"%s\"}], "
             "\"hmac_secrets\": [{\"kid\": \"h1\", \"file\": \"%s\"}]}]}}",
             jwks, pemf, sec);
    c = load_file(&td, json, path, sizeof(path), err);
    ck_assert_msg(c != NULL, "%s", err);
    k = c->auth.issuers[0].static_keys;
    ck_assert_ptr_nonnull(k);
    ck_assert_uint_eq(k->nkeys, 3);
    ck_assert_ptr_nonnull(auth_jwk_set_find(k, "r1"));
    ck_assert_int_eq(auth_jwk_set_find(k, "e1")->type, AUTH_JWK_OKP);
    ck_assert_int_eq(auth_jwk_set_find(k, "h1")->type, AUTH_JWK_OCT);
    ck_assert(auth_jwk_fits_alg(auth_jwk_set_find(k, "h1"), JOSE_HS384));
    cfg_unref(c);
    td_done(&td);
    EVP_PKEY_free(ed);
}
END_TEST

/* backends[].preshared_token_file: read and trimmed, or a positioned error */
START_TEST(tc_load_preshared_token)
{
    struct tmpdir td;
    char json[2048], path[256], err[ERRLEN], rest[512];
    const char *tok, *empty;
    struct cfg *c;

    td_init(&td);
    tok = td_write(&td, "spark.token", "s3cret-psk\r\n\n", 13);
    empty = td_write(&td, "empty.token", "\n", 1);
    snprintf(json, sizeof(json),
             "{" L_PLAIN ",\n \"backends\": [{\"name\": \"a\", \"address\": \"h:1\",\n"
             "   \"preshared_token_file\": \"%s\"},\n  {\"name\": \"b\", \"address\": \"h:2\"}]}",
             tok);
    c = load_file(&td, json, path, sizeof(path), err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_str_eq(c->backends[0].preshared_token, "s3cret-psk");
    ck_assert_uint_eq(c->backends[0].preshared_token_len, 10);
    ck_assert_ptr_null(c->backends[1].preshared_token);
    cfg_unref(c); /* the secret is wiped and freed: leak checkers watch */

    snprintf(json, sizeof(json),
             "{" L_PLAIN ",\n \"backends\": [{\"name\": \"a\", \"address\": \"h:1\",\n"
             "   \"preshared_token_file\": \"/nonexistent/sparkgate-test/spark.token\"}]}");
    expect_file_error(&td, json, "\"preshared_token_file\"",
                      "backends[0].preshared_token_file: cannot read "
                      "\"/nonexistent/sparkgate-test/spark.token\": No such file or directory");

    snprintf(json, sizeof(json),
             "{" L_PLAIN ",\n \"backends\": [{\"name\": \"a\", \"address\": \"h:1\"},\n"
             "  {\"name\": \"b\", \"address\": \"h:2\", \"preshared_token_file\": \"%s\"}]}",
             empty);
    snprintf(rest, sizeof(rest), "backends[1].preshared_token_file: cannot read \"%s\": empty",
             empty);
    expect_file_error(&td, json, "\"preshared_token_file\"", rest);
    td_done(&td);
}
END_TEST

/* CA files named by auth are checked like the TLS ones */
START_TEST(tc_load_missing_ca)
{
    struct tmpdir td;
    char json[1024];

    td_init(&td);
    snprintf(json, sizeof(json),
             "{" L_PLAIN ", " B_ONE ",\n \"auth\": {\"issuers\": [{\"issuer\": \"i\", "
             "\"audiences\": \"a\", \"jwks_url\": \"https://i/k\",\n"
             "  \"jwks_ca\": \"/nonexistent/sparkgate-test/ca.pem\"}]}}");
    expect_file_error(&td, json, "\"jwks_ca\"",
                      "auth.issuers[0].jwks_ca: cannot read "
                      "\"/nonexistent/sparkgate-test/ca.pem\": No such file or directory");
    snprintf(json, sizeof(json),
             "{" L_PLAIN ", " B_ONE ",\n \"auth\": {\"mtls\": {\n"
             "  \"ca\": \"/nonexistent/sparkgate-test/client-ca.pem\"}}}");
    expect_file_error(&td, json, "\"ca\"",
                      "auth.mtls.ca: cannot read "
                      "\"/nonexistent/sparkgate-test/client-ca.pem\": No such file or directory");
    td_done(&td);
}
END_TEST

/* prefixes, the deny list, max_token_bytes and its default under a small header limit */
START_TEST(tc_identity_keys)
{
    char err[ERRLEN];
    struct cfg *c;

    c = load(
        "{" L_PUB ", " B_ONE ", \"auth\": {\"static_principal_prefix\": \"svc:\", "
        "\"max_token_bytes\": 16000, \"deny\": {\"principals\": [\"svc:bob\", \"oidc:eve\"], "
        "\"groups\": [\"contractors\"]}, \"mtls\": {\"ca\": \"/ca\", "
        "\"principal_prefix\": \"cert:\"}, \"issuers\": [{\"issuer\": \"i\", "
        "\"audiences\": \"a\", \"jwks_url\": \"https://i/k\", \"principal_prefix\": \"oidc:\", "
        "\"groups_claim\": \"roles\"}]}, \"limits\": {\"max_header_list_size\": 65536}}",
        err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_str_eq(c->auth.static_prefix, "svc:");
    ck_assert_str_eq(c->auth.mtls_prefix, "cert:");
    ck_assert_str_eq(c->auth.issuers[0].principal_prefix, "oidc:");
    ck_assert_str_eq(c->auth.issuers[0].groups_claim, "roles");
    ck_assert_uint_eq(c->auth.max_token_bytes, 16000);
    ck_assert_uint_eq(c->auth.ndeny_principals, 2);
    ck_assert_str_eq(c->auth.deny_principals[1], "oidc:eve");
    ck_assert_uint_eq(c->auth.ndeny_groups, 1);
    ck_assert_str_eq(c->auth.deny_groups[0], "contractors");
    cfg_unref(c);
    /* left out, the limit shrinks to what a header list of 1024 bytes can carry */
    c = load("{" L_PLAIN ", " B_ONE ", \"limits\": {\"max_header_list_size\": 1024}, "
             "\"auth\": {\"anonymous\": true}}",
             err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_uint_eq(c->auth.max_token_bytes, 960);
    cfg_unref(c);
    /* anonymous with profiles and a default profile loads */
    c = load("{" L_PLAIN ", " B_ONE
             ", \"auth\": {\"anonymous\": true, \"default_profile\": \"p\"}, "
             "\"profiles\": {\"p\": {}}}",
             err);
    ck_assert_msg(c != NULL, "%s", err);
    cfg_unref(c);
}
END_TEST

Suite *
cfg_auth_suite(void)
{
    Suite *s = suite_create("cfg_auth");
    TCase *tc = tcase_create("cfg_auth");

    tcase_add_loop_test(tc, tc_errors, 0, (int)(sizeof(err_cases) / sizeof(err_cases[0])));
    tcase_add_loop_test(tc, tc_ok, 0, (int)(sizeof(ok_cases) / sizeof(ok_cases[0])));
    tcase_add_test(tc, tc_defaults_absent);
    tcase_add_test(tc, tc_defaults_token);
    tcase_add_test(tc, tc_defaults_issuer);
    tcase_add_test(tc, tc_enums);
    tcase_add_test(tc, tc_identity_keys);
    tcase_add_test(tc, tc_load_public_key);
    tcase_add_test(tc, tc_load_jwks_file);
    tcase_add_test(tc, tc_load_hmac_secret);
    tcase_add_test(tc, tc_load_merged_keys);
    tcase_add_test(tc, tc_load_preshared_token);
    tcase_add_test(tc, tc_load_missing_ca);
    suite_add_tcase(s, tc);
    return s;
}
