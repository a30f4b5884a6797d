/*
 * log.c: leveled logging to stderr.  Each line is formatted into a stack
 * buffer and written with one write(2), so concurrent workers never
 * interleave partial lines, and no lock is needed.  Lines longer than the
 * buffer are truncated with "...".
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>

#include "log.h"

#define LOG_LINE_MAX 2048

static int log_level = LOG_LVL_INFO;

void
log_set_level(enum log_level lvl)
{
    __atomic_store_n(&log_level, (int)lvl, __ATOMIC_RELAXED);
}

enum log_level
log_get_level(void)
{
    return (enum log_level)__atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

int
log_level_parse(const char *s, enum log_level *out)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

void
log_vmsg(enum log_level lvl, const char *func, const char *fmt, va_list ap)
{
    static const char *const tags[] = {"error", "warn", "info", "debug"};
    char line[LOG_LINE_MAX];
    const size_t cap = sizeof(line) - 1; /* room for the newline */
    int n, m, saved = errno;
    size_t len;

    if ((int)lvl > __atomic_load_n(&log_level, __ATOMIC_RELAXED))
        return;
    n = snprintf(line, cap, "sparkgate[%ld]: %s %s: ", (long)getpid(), tags[lvl], func);
    if (n < 0)
        goto out;
    if ((size_t)n >= cap)
        n = (int)cap - 1;
    m = vsnprintf(line + n, cap - (size_t)n, fmt, ap);
    if (m < 0)
        goto out;
    len = (size_t)n + (size_t)m;
    if (len >= cap) {
        len = cap - 1;
        memcpy(line + len - 3, "...", 3);
    }
    line[len++] = '\n';
    /* a log line lost to a full pipe is not worth blocking a worker for */
    if (write(STDERR_FILENO, line, len) < 0) {
        /* nothing sensible to do */
    }
out:
    errno = saved;
}

void
log_msg(enum log_level lvl, const char *func, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(lvl, func, fmt, ap);
    va_end(ap);
}

void
log_ssl_errors(enum log_level lvl, const char *func, const char *what)
{
    unsigned long e;
    char buf[256];
    int any = 0;

    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
        log_msg(lvl, func, "%s: %s", what, buf);
        any = 1;
    }
    if (!any)
        log_msg(lvl, func, "%s", what);
}
