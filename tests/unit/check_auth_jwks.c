/*
 * check_auth_jwks.c: unit tests for auth_jwks.c, with real HTTPS fetches.
 *
 * Each test starts its own tests/integ/idp.py (found through $top_srcdir,
 * which "make check" exports; "." otherwise) with /usr/bin/python3, in the
 * forked test process, so every test has its own request record and
 * control file and a failed test cannot disturb the next.  The IdP dies
 * with its parent (PR_SET_PDEATHSIG) even when a failed assertion skips the
 * teardown.  Certificates (two unrelated dev CAs) and JWKS documents are made
 * once per run by the unchecked fixture, in the parent.
 *
 * Time is kept short with small refresh/timeout values; every wait on the
 * event loop has a deadline.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <check.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>

#include "auth_jwks.h"
#include "auth_jwt.h"
#include "util.h"
#include "check_suites.h"

#define PYTHON "/usr/bin/python3"

/* set up once per run (unchecked fixture, parent process) */
static char tmpdir[256];
static char certs[300], certs2[300];
static char jwks_a[300], jwks_b[300]; /* a: {a1}; b: {a1, b1, one unusable key} */
static char idp_py[512];

/* per test (checked fixture, test process) */
struct idp {
    pid_t pid;
    int port;
    char dir[400];
    char jwks[450], record[450], control[450];
};

static struct event_base *base;
static struct idp idp1, idp2;
static int idp_seq;

/* ---- files and processes ------------------------------------------------- */

static void
run(const char *cmd)
{
    int rc = system(cmd);

    ck_assert_msg(rc == 0, "\"%s\" failed (%d)", cmd, rc);
}

static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len != NULL)
        *len = (size_t)n;
    return buf;
}

/* Writes |text| to |path| through a rename, as the IdP expects. */
static void
write_atomic(const char *path, const char *text)
{
    char tmp[512];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(rename(tmp, path), 0);
}

static void
copy_atomic(const char *from, const char *to)
{
    char *text = slurp(from, NULL);

    ck_assert_ptr_nonnull(text);
    write_atomic(to, text);
    free(text);
}

/* Starts idp.py bound to |bind| and waits for READY (10 s at most). */
static void
idp_start(struct idp *p, const char *bind)
{
    char line[512], buf[1024];
    size_t used = 0;
    int pfd[2], n;
    uint64_t deadline = util_now_ms() + 10000;
    pid_t parent = getpid();
    char *nl;

    memset(p, 0, sizeof(*p));
    snprintf(p->dir, sizeof(p->dir), "%s/t%ld-%d", tmpdir, (long)getpid(), idp_seq++);
    snprintf(p->jwks, sizeof(p->jwks), "%s/jwks.json", p->dir);
    snprintf(p->record, sizeof(p->record), "%s/record.jsonl", p->dir);
    snprintf(p->control, sizeof(p->control), "%s/control.json", p->dir);
    snprintf(line, sizeof(line), "mkdir -p '%s'", p->dir);
    run(line);
    copy_atomic(jwks_a, p->jwks);

    ck_assert_int_eq(pipe(pfd), 0);
    p->pid = fork();
    ck_assert_int_ge(p->pid, 0);
    if (p->pid == 0) {
        char cert[350], key[350];

        /* the IdP must not outlive a test process that died on an assertion */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(pfd[1], STDOUT_FILENO);
        close(pfd[0]);
        close(pfd[1]);
        snprintf(cert, sizeof(cert), "%s/server.pem", certs);
        snprintf(key, sizeof(key), "%s/server.key", certs);
        execl(PYTHON, PYTHON, idp_py, "--cert", cert, "--key", key, "--jwks", p->jwks, "--bind",
              bind, "--record", p->record, "--control", p->control, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    for (;;) {
        struct pollfd pl = {.fd = pfd[0], .events = POLLIN};
        uint64_t now = util_now_ms();

        ck_assert_msg(now < deadline, "idp.py did not report READY");
        if (poll(&pl, 1, (int)(deadline - now)) <= 0)
            continue;
        n = (int)read(pfd[0], buf + used, sizeof(buf) - 1 - used);
        ck_assert_msg(n > 0, "idp.py exited before READY");
        used += (size_t)n;
        buf[used] = '\0';
        if (strstr(buf, "READY\n") != NULL)
            break;
    }
    close(pfd[0]);
    nl = strstr(buf, "LISTEN https ");
    ck_assert_ptr_nonnull(nl);
    nl = strrchr(strtok(nl, "\n"), ':');
    ck_assert_ptr_nonnull(nl);
    p->port = atoi(nl + 1);
    ck_assert_int_gt(p->port, 0);
}

static void
idp_stop(struct idp *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
    }
    p->pid = 0;
}

static void
idp_url(const struct idp *p, const char *host, const char *path, char *out, size_t len)
{
    snprintf(out, len, "https://%s:%d%s", host, p->port, path);
}

/*
 * Counts recorded requests "GET |path|"; with |hdrs|, returns the headers
 * of the last match (a new reference) or NULL.
 */
static int
count_gets(const struct idp *p, const char *path, json_t **hdrs)
{
    char *text = slurp(p->record, NULL), *line, *save = NULL;
    int n = 0;

    if (hdrs != NULL)
        *hdrs = NULL;
    if (text == NULL)
        return 0;
    for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL);
        const char *m, *pa;

        ck_assert_ptr_nonnull(j);
        m = json_string_value(json_object_get(j, "method"));
        pa = json_string_value(json_object_get(j, "path"));
        if (m != NULL && pa != NULL && strcmp(m, "GET") == 0 && strcmp(pa, path) == 0) {
            n++;
            if (hdrs != NULL) {
                json_decref(*hdrs);
                *hdrs = json_incref(json_object_get(j, "headers"));
            }
        }
        json_decref(j);
    }
    free(text);
    return n;
}

/* ---- the event loop ------------------------------------------------------ */

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

typedef bool pred_fn(void *arg);

/* Runs the loop until |pred| holds (NULL: never) or |ms| pass; returns pred. */
static bool
loop_until(pred_fn *pred, void *arg, uint32_t ms)
{
    uint64_t deadline = util_now_ms() + ms;
    struct timeval tv = {0, 10000};
    struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    bool ok = false;

    ck_assert_ptr_nonnull(tick);
    event_add(tick, &tv);
    while (!(ok = pred != NULL && pred(arg)) && util_now_ms() < deadline)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(tick);
    return ok;
}

struct want {
    struct auth_jwks_fetcher *f;
    uint64_t n;
};

/* at least |n| fetches have finished, well or not */
static bool
finished(void *arg)
{
    struct want *w = arg;
    struct auth_jwks_stats st;

    auth_jwks_fetcher_stats(w->f, &st);
    return st.successes + st.failures >= w->n;
}

static bool
succeeded(void *arg)
{
    struct want *w = arg;
    struct auth_jwks_stats st;

    auth_jwks_fetcher_stats(w->f, &st);
    return st.successes >= w->n;
}

static void
wait_finished(struct auth_jwks_fetcher *f, uint64_t n)
{
    struct want w = {f, n};

    ck_assert_msg(loop_until(finished, &w, 5000), "fetch %u did not finish", (unsigned)n);
}

static struct auth_jwks_source
source(const char *url, const char *ca)
{
    struct auth_jwks_source s = {
        .url = url,
        .ca_file = ca,
        .refresh_s = 300,
        .min_refetch_s = 30,
        .max_bytes = 1024 * 1024,
        .timeout_ms = 3000,
    };

    return s;
}

static struct auth_jwks_fetcher *
get(const struct auth_jwks_source *src)
{
    char err[256] = "";
    struct auth_jwks_fetcher *f = auth_jwks_registry_get(src, err, sizeof(err));

    ck_assert_msg(f != NULL, "registry_get(%s): %s", src->url, err);
    return f;
}

static char ca_pem[320], ca2_pem[320];

/* ---- fixtures ------------------------------------------------------------ */

static void
suite_setup(void)
{
    const char *top = getenv("top_srcdir");
    char cmd[4096], a[300], b[320];
    json_t *ja, *jb, *bad;

    if (top == NULL)
        top = ".";
    snprintf(tmpdir, sizeof(tmpdir), "%s/sg-jwks-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(idp_py, sizeof(idp_py), "%s/tests/integ/idp.py", top);
    snprintf(certs, sizeof(certs), "%s/certs", tmpdir);
    snprintf(certs2, sizeof(certs2), "%s/certs2", tmpdir);
    snprintf(ca_pem, sizeof(ca_pem), "%s/ca.pem", certs);
    snprintf(ca2_pem, sizeof(ca2_pem), "%s/ca.pem", certs2);
    snprintf(jwks_a, sizeof(jwks_a), "%s/jwks-a.json", tmpdir);
    snprintf(jwks_b, sizeof(jwks_b), "%s/jwks-b.json", tmpdir);
    snprintf(a, sizeof(a), "%s/b1.json", tmpdir);
    snprintf(cmd, sizeof(cmd),
             "sh '%s/certs/gen-dev-certs.sh' '%s' >/dev/null && "
             "sh '%s/certs/gen-dev-certs.sh' '%s' >/dev/null && "
             "%s '%s' --gen-jwks '%s' a1 && %s '%s' --gen-jwks '%s' b1",
             top, certs, top, certs2, PYTHON, idp_py, jwks_a, PYTHON, idp_py, a);
    run(cmd);

    /* b = a's key + b1 + a key the parser must drop (unknown kty) */
    ja = json_load_file(jwks_a, 0, NULL);
    jb = json_load_file(a, 0, NULL);
    ck_assert_ptr_nonnull(ja);
    ck_assert_ptr_nonnull(jb);
    json_array_extend(json_object_get(jb, "keys"), json_object_get(ja, "keys"));
    bad = json_pack("{s:s, s:s}", "kty", "XYZ", "kid", "bad");
    json_array_append_new(json_object_get(jb, "keys"), bad);
    snprintf(b, sizeof(b), "%s.tmp", jwks_b);
    ck_assert_int_eq(json_dump_file(jb, b, 0), 0);
    ck_assert_int_eq(rename(b, jwks_b), 0);
    json_decref(ja);
    json_decref(jb);
}

static void
suite_teardown(void)
{
    char cmd[400];

    if (tmpdir[0] != '\0' && getenv("SG_KEEP_TMP") == NULL) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", tmpdir);
    }
}

static void
setup(void)
{
    ck_assert_int_eq(evthread_use_pthreads(), 0);
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    ck_assert_int_eq(auth_jwks_registry_init(base), 0);
    idp_start(&idp1, "127.0.0.1");
}

static void
teardown(void)
{
    auth_jwks_registry_free();
    event_base_free(base);
    base = NULL;
    idp_stop(&idp1);
    idp_stop(&idp2);
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(tc_fetch_ok)
{
    char url[200], url2[200], want[64];
    struct auth_jwks_source src, src2;
    struct auth_jwks_fetcher *f, *f2;
    struct auth_jwks_stats st;
    struct auth_jwk_set *keys;
    json_t *hdrs;

    idp_url(&idp1, "127.0.0.1", "/jwks.json", url, sizeof(url));
    src = source(url, ca_pem);
    f = get(&src);
    ck_assert_str_eq(auth_jwks_fetcher_url(f), url);
    ck_assert_ptr_null(auth_jwks_fetcher_current(f));
    ck_assert(auth_jwks_registry_wait_ready(5000));
    keys = auth_jwks_fetcher_current(f);
    ck_assert_ptr_nonnull(keys);
    ck_assert_uint_eq(keys->nkeys, 1);
    ck_assert_ptr_nonnull(auth_jwk_set_find(keys, "a1"));
    auth_jwk_set_unref(keys);
    auth_jwks_fetcher_stats(f, &st);
    ck_assert_uint_eq(st.fetches, 1);
    ck_assert_uint_eq(st.successes, 1);
    ck_assert_uint_eq(st.failures, 0);
    ck_assert_uint_gt(st.last_success_unix, 1700000000u);

    /* the request: one GET, the headers we promise */
    ck_assert_int_eq(count_gets(&idp1, "/jwks.json", &hdrs), 1);
    snprintf(want, sizeof(want), "127.0.0.1:%d", idp1.port);
    ck_assert_str_eq(json_string_value(json_object_get(hdrs, "Host")), want);
    ck_assert_str_eq(json_string_value(json_object_get(hdrs, "Accept")), "application/json");
    ck_assert_str_eq(json_string_value(json_object_get(hdrs, "User-Agent")),
                     "sparkgate/" PACKAGE_VERSION);
    json_decref(hdrs);

    /* a DNS name (SNI + name check through evdns and /etc/hosts), another path, a query */
    idp_url(&idp1, "localhost", "/.well-known/jwks.json?tenant=x", url2, sizeof(url2));
    src2 = source(url2, ca_pem);
    f2 = get(&src2);
    ck_assert_ptr_ne(f2, f);
    ck_assert(auth_jwks_registry_wait_ready(5000));
    ck_assert_int_eq(count_gets(&idp1, "/.well-known/jwks.json?tenant=x", &hdrs), 1);
    snprintf(want, sizeof(want), "localhost:%d", idp1.port);
    ck_assert_str_eq(json_string_value(json_object_get(hdrs, "Host")), want);
    json_decref(hdrs);
}
END_TEST

START_TEST(tc_rotation)
{
    char url[200];
    struct auth_jwks_source src;
    struct auth_jwks_fetcher *f;
    struct auth_jwk_set *keys;
    struct want w;

    idp_url(&idp1, "127.0.0.1", "/jwks.json", url, sizeof(url));
    src = source(url, ca_pem);
    src.refresh_s = 1;
    f = get(&src);
    ck_assert(auth_jwks_registry_wait_ready(5000));
    copy_atomic(jwks_b, idp1.jwks);
    w.f = f;
    w.n = 2;
    ck_assert(loop_until(succeeded, &w, 4000));
    keys = auth_jwks_fetcher_current(f);
    ck_assert_ptr_nonnull(keys);
    /* the unusable third key was dropped, not fatal */
    ck_assert_uint_eq(keys->nkeys, 2);
    ck_assert_ptr_nonnull(auth_jwk_set_find(keys, "a1"));
    ck_assert_ptr_nonnull(auth_jwk_set_find(keys, "b1"));
    ck_assert_ptr_null(auth_jwk_set_find(keys, "bad"));
    auth_jwk_set_unref(keys);
}
END_TEST

START_TEST(tc_failures_keep_last_good)
{
    static const char *const controls[] = {
        "{\"status\": 500}",
        "{\"status\": 404}",
        "{\"body\": \"this is not JSON\"}",
        "{\"body\": \"{\\\"keys\\\": 5}\"}",
        "{\"body\": \"{\\\"keys\\\": [], \\\"keys\\\": []}\"}",
    };
    char url[200];
    struct auth_jwks_source src;
    struct auth_jwks_fetcher *f;
    struct auth_jwks_stats st;
    struct auth_jwk_set *good, *keys;
    size_t i;

    idp_url(&idp1, "127.0.0.1", "/jwks.json", url, sizeof(url));
    src = source(url, ca_pem);
    src.min_refetch_s = 0; /* every request_refresh fetches: no waiting on timers */
    f = get(&src);
    ck_assert(auth_jwks_registry_wait_ready(5000));
    good = auth_jwks_fetcher_current(f);
    ck_assert_ptr_nonnull(good);
    for (i = 0; i < sizeof(controls) / sizeof(controls[0]); i++) {
        write_atomic(idp1.control, controls[i]);
        auth_jwks_fetcher_request_refresh(f, "x");
        wait_finished(f, i + 2);
        auth_jwks_fetcher_stats(f, &st);
        ck_assert_msg(st.failures == i + 1, "%s: not a failure", controls[i]);
        keys = auth_jwks_fetcher_current(f);
        ck_assert_msg(keys == good, "%s: last good set replaced", controls[i]);
        auth_jwk_set_unref(keys);
    }
    /* the IdP recovers: a new set is published */
    ck_assert_int_eq(unlink(idp1.control), 0);
    auth_jwks_fetcher_request_refresh(f, "x");
    wait_finished(f, i + 2);
    auth_jwks_fetcher_stats(f, &st);
    ck_assert_uint_eq(st.successes, 2);
    keys = auth_jwks_fetcher_current(f);
    ck_assert_ptr_nonnull(keys);
    ck_assert_ptr_ne(keys, good);
    ck_assert_ptr_nonnull(auth_jwk_set_find(keys, "a1"));
    auth_jwk_set_unref(keys);
    auth_jwk_set_unref(good);
    ck_assert_int_eq(count_gets(&idp1, "/jwks.json", NULL), (int)i + 2);
}
END_TEST

/* the cap holds for each way a body can be delimited */
static const char *const framings[] = {"length", "chunked", "close"};

START_TEST(tc_max_bytes)
{
    const char *framing = framings[_i];
    char url[200], ctl[200];
    struct auth_jwks_source src;
    struct auth_jwks_fetcher *f;
    struct auth_jwks_stats st;
    struct auth_jwk_set *keys;

    idp_url(&idp1, "127.0.0.1", "/jwks.json", url, sizeof(url));
    src = source(url, ca_pem);
    src.max_bytes = 4096;
    src.min_refetch_s = 0;
    /* a valid document far over the cap: only the size can reject it */
    snprintf(ctl, sizeof(ctl), "{\"oversize\": 300000, \"framing\": \"%s\"}", framing);
    write_atomic(idp1.control, ctl);
    f = get(&src);
    wait_finished(f, 1);
    auth_jwks_fetcher_stats(f, &st);
    ck_assert_uint_eq(st.failures, 1);
    ck_assert_ptr_null(auth_jwks_fetcher_current(f));

    if (strcmp(framing, "close") == 0) {
        /* a close-delimited body ends with a TCP close and no TLS close_notify
         * (Python's ssl does not send one): that is a truncation attack as far
         * as we can tell, so it fails at any size */
        write_atomic(idp1.control, "{\"framing\": \"close\"}");
        auth_jwks_fetcher_request_refresh(f, "x");
        wait_finished(f, 2);
        auth_jwks_fetcher_stats(f, &st);
        ck_assert_uint_eq(st.failures, 2);
        return;
    }
    /* exactly max_bytes is allowed, one more is not */
    snprintf(ctl, sizeof(ctl), "{\"oversize\": 4096, \"framing\": \"%s\"}", framing);
    write_atomic(idp1.control, ctl);
    auth_jwks_fetcher_request_refresh(f, "x");
    wait_finished(f, 2);
    auth_jwks_fetcher_stats(f, &st);
    ck_assert_uint_eq(st.successes, 1);
    keys = auth_jwks_fetcher_current(f);
    ck_assert_ptr_nonnull(keys);
    snprintf(ctl, sizeof(ctl), "{\"oversize\": 4097, \"framing\": \"%s\"}", framing);
    write_atomic(idp1.control, ctl);
    auth_jwks_fetcher_request_refresh(f, "x");
    wait_finished(f, 3);
    auth_jwks_fetcher_stats(f, &st);
    ck_assert_uint_eq(st.failures, 2);
    auth_jwk_set_unref(keys);
}
END_TEST

START_TEST(tc_tls_verification)
{
    char url[200], url2[200], err[256];
    struct auth_jwks_source wrong_ca, system_ca, mismatch, missing_ca;
    struct auth_jwks_fetcher *f1, *f2, *f3;
    struct auth_jwks_stats st;

    idp_url(&idp1, "127.0.0.1", "/jwks.json", url, sizeof(url));
    wrong_ca = source(url, ca2_pem);
    system_ca = source(url, NULL);
    /* 127.0.0.2 is loopback too, but not in the certificate (127.0.0.1, ::1, localhost) */
    idp_start(&idp2, "127.0.0.2");
    idp_url(&idp2, "127.0.0.2", "/jwks.json", url2, sizeof(url2));
    mismatch = source(url2, ca_pem);
    f1 = get(&wrong_ca);
    f2 = get(&system_ca);
    f3 = get(&mismatch);
    wait_finished(f1, 1);
    wait_finished(f2, 1);
    wait_finished(f3, 1);
    auth_jwks_fetcher_stats(f1, &st);
    ck_assert_uint_eq(st.failures, 1);
    auth_jwks_fetcher_stats(f2, &st);
    ck_assert_uint_eq(st.failures, 1);
    auth_jwks_fetcher_stats(f3, &st);
    ck_assert_uint_eq(st.failures, 1);
    ck_assert_ptr_null(auth_jwks_fetcher_current(f1));
    ck_assert_ptr_null(auth_jwks_fetcher_current(f3));
    /* no request was ever sent over an unverified connection */
    ck_assert_int_eq(count_gets(&idp1, "/jwks.json", NULL), 0);
    ck_assert_int_eq(count_gets(&idp2, "/jwks.json", NULL), 0);

    /* an unreadable CA file is a configuration error, found at once */
    missing_ca = source(url, "/nonexistent/ca.pem");
    ck_assert_ptr_null(auth_jwks_registry_get(&missing_ca, err, sizeof(err)));
    ck_assert_msg(strstr(err, "\"/nonexistent/ca.pem\": No such file") != NULL, "%s", err);
}
END_TEST

START_TEST(tc_bad_urls)
{
    static const struct {
        const char *url, *why;
    } bad[] = {
        {"http://127.0.0.1:1/jwks.json", "only https://"},
        {"HTTP://127.0.0.1:1/jwks.json", "only https://"},
        {"ftp://127.0.0.1/jwks.json", "only https://"},
        {"//127.0.0.1/jwks.json", "only https://"},
        {"https://user:pw@127.0.0.1/jwks.json", "user information (user:password@)"},
        {"https://127.0.0.1/jwks.json#frag", "fragment"},
        {"https:///jwks.json", "host"},
        {"https://127.0.0.1:0/jwks.json", "port"},
        {"https://127.0.0.1:99999/jwks.json", "not a valid URL"},
        {"https://a b/jwks.json", "not a valid URL"},
        {"https://127.0.0.1/jw\r\nX-Injected: 1", "not a valid URL"},
        {"", "https"},
    };
    struct auth_jwks_source src;
    char err[256];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        src = source(bad[i].url, ca_pem);
        err[0] = '\0';
        ck_assert_msg(auth_jwks_registry_get(&src, err, sizeof(err)) == NULL, "%s accepted",
                      bad[i].url);
        ck_assert_msg(strstr(err, bad[i].why) != NULL, "%s: \"%s\" lacks \"%s\"", bad[i].url, err,
                      bad[i].why);
        ck_assert_msg(strstr(err, "pw@") == NULL, "password echoed: %s", err);
    }
}
END_TEST

START_TEST(tc_redirect_not_followed)
{
    char url[200];
    struct auth_jwks_source src;
    struct auth_jwks_fetcher *f;
    struct auth_jwks_stats st;

    /* the target serves the real keys: a client that followed would succeed */
    write_atomic(idp1.control, "{\"redirect\": \"/.well-known/jwks.json\"}");
    idp_url(&idp1, "127.0.0.1", "/jwks.json", url, sizeof(url));
    src = source(url, ca_pem);
    f = get(&src);
    wait_finished(f, 1);
    auth_jwks_fetcher_stats(f, &st);
    ck_assert_uint_eq(st.failures, 1);
    ck_assert_ptr_null(auth_jwks_fetcher_current(f));
    ck_assert_int_eq(count_gets(&idp1, "/jwks.json", NULL), 1);
    ck_assert_int_eq(count_gets(&idp1, "/.well-known/jwks.json", NULL), 0);
}
END_TEST

struct flood {
    struct auth_jwks_fetcher *f;
    int n;
    int done; /* atomic */
};

static void *
flood_thread(void *arg)
{
    struct flood *fl = arg;
    int i;

    for (i = 0; i < fl->n; i++)
        auth_jwks_fetcher_request_refresh(fl->f, "unknown-kid");
    __atomic_add_fetch(&fl->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static bool
flood_over(void *arg)
{
    struct flood *fl = arg;
    struct want w = {fl->f, 2};

    return __atomic_load_n(&fl->done, __ATOMIC_ACQUIRE) == 2 && finished(&w);
}

START_TEST(tc_refetch_rate_limit)
{
    char url[200];
    struct auth_jwks_source src;
    struct flood fl;
    struct auth_jwks_stats st;
    pthread_t t[2];
    int i;

    idp_url(&idp1, "127.0.0.1", "/jwks.json", url, sizeof(url));
    src = source(url, ca_pem);
    src.min_refetch_s = 1;
    fl.f = get(&src);
    fl.n = 500;
    fl.done = 0;
    ck_assert(auth_jwks_registry_wait_ready(5000));
    /* within min_refetch_s of the first fetch: suppressed */
    auth_jwks_fetcher_request_refresh(fl.f, "early");
    auth_jwks_fetcher_stats(fl.f, &st);
    ck_assert_uint_eq(st.refetch_suppressed, 1);
    usleep(1100 * 1000);

    /* the main loop runs while two threads flood: the first request wins */
    for (i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, flood_thread, &fl), 0);
    ck_assert(loop_until(flood_over, &fl, 5000));
    for (i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    /* nothing else is on its way */
    loop_until(NULL, NULL, 300);
    auth_jwks_fetcher_stats(fl.f, &st);
    ck_assert_uint_eq(st.refetch_requests, 1001);
    ck_assert_uint_eq(st.refetch_suppressed, 1000);
    ck_assert_uint_eq(st.fetches, 2);
    ck_assert_uint_eq(st.successes, 2);
    ck_assert_int_eq(count_gets(&idp1, "/jwks.json", NULL), 2);
}
END_TEST

static int fetch_ends; /* main thread only: the fetch-end hook ran */

static void
on_fetch_end(void *arg)
{
    (void)arg;
    fetch_ends++;
}

static bool
fetch_ended(void *arg)
{
    (void)arg;
    return fetch_ends > 0;
}

/*
 * Whether a caller may wait for a key: request_refresh says if a fetch will
 * end (one started, or one in flight), false when the rate limit leaves
 * none; the fetch-end hook runs when it ends, success or failure.
 */
START_TEST(tc_refetch_pending_and_hook)
{
    char url[200];
    struct auth_jwks_source src;
    struct auth_jwks_fetcher *f;
    struct auth_jwks_stats st;

    idp_url(&idp1, "127.0.0.1", "/jwks.json", url, sizeof(url));
    src = source(url, ca_pem);
    src.min_refetch_s = 1;
    auth_jwks_set_fetch_end_hook(on_fetch_end, NULL);
    fetch_ends = 0;
    f = get(&src);
    ck_assert(auth_jwks_registry_wait_ready(5000));
    ck_assert_int_eq(fetch_ends, 1);
    /* the first fetch just ended without the kid, and the floor forbids another */
    ck_assert(!auth_jwks_fetcher_request_refresh(f, "k2"));

    write_atomic(idp1.control, "{\"delay_ms\": 600}");
    usleep(1100 * 1000);
    fetch_ends = 0;
    ck_assert(auth_jwks_fetcher_request_refresh(f, "k2"));
    /* rate-limited, but the fetch asked for is still to end: worth waiting for */
    ck_assert(auth_jwks_fetcher_request_refresh(f, "k3"));
    loop_until(NULL, NULL, 300);
    ck_assert_int_eq(fetch_ends, 0);
    ck_assert(auth_jwks_fetcher_request_refresh(f, "k3"));
    ck_assert(loop_until(fetch_ended, NULL, 5000));
    ck_assert_int_eq(fetch_ends, 1);
    /* ended: nothing more can come within the floor */
    ck_assert(!auth_jwks_fetcher_request_refresh(f, "k3"));
    auth_jwks_fetcher_stats(f, &st);
    ck_assert_uint_eq(st.fetches, 2);
    ck_assert_uint_eq(st.refetch_suppressed, 4);

    /* a failed fetch ends too */
    write_atomic(idp1.control, "{\"status\": 500}");
    usleep(1100 * 1000);
    fetch_ends = 0;
    ck_assert(auth_jwks_fetcher_request_refresh(f, "k4"));
    ck_assert(loop_until(fetch_ended, NULL, 5000));
    ck_assert(!auth_jwks_fetcher_request_refresh(f, "k4"));
    auth_jwks_fetcher_stats(f, &st);
    ck_assert_uint_eq(st.failures, 1);
    auth_jwks_set_fetch_end_hook(NULL, NULL);
    ck_assert_int_eq(unlink(idp1.control), 0);
}
END_TEST

START_TEST(tc_same_source)
{
    char url[200];
    struct auth_jwks_source a, b, c;
    struct auth_jwks_fetcher *fa, *fb, *fc;
    char *url_copy, *ca_copy;

    idp_url(&idp1, "127.0.0.1", "/jwks.json", url, sizeof(url));
    url_copy = strdup(url);
    ca_copy = strdup(ca_pem);
    a = source(url, ca_pem);
    b = source(url_copy, ca_copy); /* equal strings, other pointers */
    fa = get(&a);
    fb = get(&b);
    ck_assert_ptr_eq(fa, fb);
    /* the fetcher keeps its own copies */
    free(url_copy);
    free(ca_copy);
    ck_assert_str_eq(auth_jwks_fetcher_url(fa), url);
    c = a;
    c.max_bytes = 1000;
    fc = get(&c);
    ck_assert_ptr_ne(fc, fa);
    c = a;
    c.ca_file = NULL;
    ck_assert_ptr_ne(get(&c), fa);
    c = a;
    c.refresh_s = 301;
    ck_assert_ptr_ne(get(&c), fa);
    ck_assert_ptr_eq(get(&a), fa);
}
END_TEST

START_TEST(tc_wait_ready_timeout)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t slen = sizeof(sin);
    char refused[100], silent[100];
    struct auth_jwks_source s1, s2;
    struct auth_jwks_fetcher *f1, *f2;
    struct auth_jwks_stats st;
    uint64_t t0, dt;
    int closed_fd, listen_fd;

    /* a port nobody listens on (connection refused) ... */
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    closed_fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(closed_fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(getsockname(closed_fd, (struct sockaddr *)&sin, &slen), 0);
    snprintf(refused, sizeof(refused), "https://127.0.0.1:%u/jwks.json",
             (unsigned)ntohs(sin.sin_port));
    close(closed_fd);
    /* ... and one that accepts TCP but never answers the TLS handshake */
    sin.sin_port = 0;
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(listen_fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(listen_fd, 8), 0);
    slen = sizeof(sin);
    ck_assert_int_eq(getsockname(listen_fd, (struct sockaddr *)&sin, &slen), 0);
    snprintf(silent, sizeof(silent), "https://127.0.0.1:%u/jwks.json",
             (unsigned)ntohs(sin.sin_port));

    s1 = source(refused, ca_pem);
    s2 = source(silent, ca_pem);
    s2.timeout_ms = 300;
    f1 = get(&s1);
    f2 = get(&s2);
    t0 = util_now_ms();
    ck_assert(!auth_jwks_registry_wait_ready(800));
    dt = util_now_ms() - t0;
    ck_assert_msg(dt >= 790 && dt < 2000, "wait_ready took %u ms", (unsigned)dt);
    auth_jwks_fetcher_stats(f1, &st);
    ck_assert_uint_eq(st.failures, 1);
    ck_assert_uint_eq(st.successes, 0);
    /* the whole-fetch deadline fired */
    auth_jwks_fetcher_stats(f2, &st);
    ck_assert_uint_eq(st.failures, 1);
    ck_assert_ptr_null(auth_jwks_fetcher_current(f1));
    close(listen_fd);
}
END_TEST

START_TEST(tc_slow_response_times_out)
{
    char url[200];
    struct auth_jwks_source src;
    struct auth_jwks_fetcher *f;
    struct auth_jwks_stats st;
    uint64_t t0;

    write_atomic(idp1.control, "{\"delay_ms\": 3000}");
    idp_url(&idp1, "127.0.0.1", "/jwks.json", url, sizeof(url));
    src = source(url, ca_pem);
    src.timeout_ms = 400;
    t0 = util_now_ms();
    f = get(&src);
    wait_finished(f, 1);
    ck_assert_uint_lt(util_now_ms() - t0, 1500);
    auth_jwks_fetcher_stats(f, &st);
    ck_assert_uint_eq(st.failures, 1);
    /* left in flight: the teardown's registry_free must cancel it cleanly */
    src.timeout_ms = 5000;
    f = get(&src);
    loop_until(NULL, NULL, 200);
    auth_jwks_fetcher_stats(f, &st);
    ck_assert_uint_eq(st.fetches, 1);
    ck_assert_uint_eq(st.successes + st.failures, 0);
}
END_TEST

START_TEST(tc_retain_stops_and_restarts)
{
    char url[200];
    struct auth_jwks_source src;
    struct auth_jwks_fetcher *f, *other;
    struct auth_jwks_stats st;
    struct want w;

    idp_url(&idp1, "127.0.0.1", "/jwks.json", url, sizeof(url));
    src = source(url, ca_pem);
    src.refresh_s = 1;
    src.min_refetch_s = 0;
    f = get(&src);
    ck_assert(auth_jwks_registry_wait_ready(5000));
    auth_jwks_registry_retain(NULL, 0);
    /* no timer fetch, no refetch; the keys stay readable */
    auth_jwks_fetcher_request_refresh(f, "x");
    loop_until(NULL, NULL, 1500);
    auth_jwks_fetcher_stats(f, &st);
    ck_assert_uint_eq(st.fetches, 1);
    w.f = f;
    w.n = 1;
    ck_assert(succeeded(&w));
    /* a stopped fetcher does not hold wait_ready back */
    ck_assert(auth_jwks_registry_wait_ready(10));
    /* a later snapshot using the same source gets it back, refreshing again */
    other = get(&src);
    ck_assert_ptr_eq(other, f);
    w.n = 2;
    ck_assert(loop_until(succeeded, &w, 3000));
    auth_jwks_registry_retain(&f, 1);
    w.n = 3;
    ck_assert(loop_until(succeeded, &w, 3000));
}
END_TEST

Suite *
auth_jwks_suite(void)
{
    Suite *s = suite_create("auth_jwks");
    TCase *tc = tcase_create("auth_jwks");

    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, tc_fetch_ok);
    tcase_add_test(tc, tc_rotation);
    tcase_add_test(tc, tc_failures_keep_last_good);
    tcase_add_loop_test(tc, tc_max_bytes, 0, (int)(sizeof(framings) / sizeof(framings[0])));
    tcase_add_test(tc, tc_tls_verification);
    tcase_add_test(tc, tc_bad_urls);
    tcase_add_test(tc, tc_redirect_not_followed);
    tcase_add_test(tc, tc_refetch_rate_limit);
    tcase_add_test(tc, tc_refetch_pending_and_hook);
    tcase_add_test(tc, tc_same_source);
    tcase_add_test(tc, tc_wait_ready_timeout);
    tcase_add_test(tc, tc_slow_response_times_out);
    tcase_add_test(tc, tc_retain_stops_and_restarts);
    suite_add_tcase(s, tc);
    return s;
}
