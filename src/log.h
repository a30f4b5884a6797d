/*
 * log.h: leveled logging to stderr (the journal under systemd).
 *
 * One line per call, written with a single write(2) so lines from worker
 * threads never interleave.  Format:
 *   sparkgate[pid]: LEVEL func: message
 * Callers must never pass secrets (tokens, keys, full JWTs) to these
 * functions; log a digest or a key id instead.
 */
#ifndef SPARKGATE_LOG_H
#define SPARKGATE_LOG_H

#include <stdarg.h>

enum log_level {
    LOG_LVL_ERROR = 0,
    LOG_LVL_WARN = 1,
    LOG_LVL_INFO = 2,
    LOG_LVL_DEBUG = 3,
};

/* Sets the threshold; messages above it are dropped.  Thread-safe. */
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);

/* Parses "error", "warn", "info", "debug".  Returns 0 or -1. */
int log_level_parse(const char *s, enum log_level *out);

void log_msg(enum log_level lvl, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level lvl, const char *func, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#define log_err(...) log_msg(LOG_LVL_ERROR, __func__, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __func__, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __func__, __VA_ARGS__)
#define log_debug(...)                                     \
    do {                                                   \
        if (log_get_level() >= LOG_LVL_DEBUG)              \
            log_msg(LOG_LVL_DEBUG, __func__, __VA_ARGS__); \
    } while (0)

/* Logs the OpenSSL error queue (and clears it) prefixed with |what|. */
void log_ssl_errors(enum log_level lvl, const char *func, const char *what);

#endif
