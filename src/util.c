/*
 * util.c: helpers with no better home (time, addresses, secrets).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>

#include "util.h"

void
util_bad_magic(const char *file, int line, const char *what)
{
    fprintf(stderr, "sparkgate: %s:%d: bad magic on %s (use after free?)\n", file, line, what);
    abort();
}

uint64_t
util_now_ms(void)
{
    return util_now_us() / 1000u;
}

uint64_t
util_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int
util_split_hostport(const char *s, char *host, size_t hostlen, char *port, size_t portlen,
                    const char **why)
{
    const char *colon, *h, *hend;
    size_t hl, pl;
    unsigned long pn;
    char *end;

    if (s == NULL || *s == '\0') {
        *why = "empty";
        return -1;
    }
    if (*s == '[') {
        hend = strchr(s, ']');
        if (hend == NULL || hend[1] != ':') {
            *why = "expected [v6-address]:port";
            return -1;
        }
        h = s + 1;
        colon = hend + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL) {
            *why = "missing :port";
            return -1;
        }
        if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
            *why = "IPv6 addresses must be written [addr]:port";
            return -1;
        }
        h = s;
        hend = colon;
    }
    hl = (size_t)(hend - h);
    pl = strlen(colon + 1);
    if (hl == 0) {
        *why = "empty host";
        return -1;
    }
    if (pl == 0 || pl > 5 || strspn(colon + 1, "0123456789") != pl) {
        *why = "port must be a number 0..65535";
        return -1;
    }
    pn = strtoul(colon + 1, &end, 10);
    if (pn > 65535) {
        *why = "port must be a number 0..65535";
        return -1;
    }
    if (hl >= hostlen || pl >= portlen) {
        *why = "too long";
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    memcpy(port, colon + 1, pl);
    port[pl] = '\0';
    return 0;
}

int
util_parse_sockaddr(const char *s, struct sockaddr_storage *ss, socklen_t *sslen, const char **why)
{
    char host[256], port[8];
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    unsigned long pn;

    if (util_split_hostport(s, host, sizeof(host), port, sizeof(port), why) != 0)
        return -1;
    pn = strtoul(port, NULL, 10);
    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)pn);
        *sslen = sizeof(*sin);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)pn);
        *sslen = sizeof(*sin6);
        return 0;
    }
    *why = "host must be a numeric IPv4 or [IPv6] address";
    return -1;
}

const char *
util_sockaddr_str(const struct sockaddr *sa, char *buf, size_t len)
{
    char a[INET6_ADDRSTRLEN];

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;

        inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
        snprintf(buf, len, "%s:%u", a, ntohs(sin->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;

        inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
        snprintf(buf, len, "[%s]:%u", a, ntohs(sin6->sin6_port));
    } else {
        snprintf(buf, len, "unix");
    }
    return buf;
}

char *
util_strdup(const char *s)
{
    return s == NULL ? NULL : strdup(s);
}

void
util_free_secret(void *p, size_t len)
{
    if (p == NULL)
        return;
    OPENSSL_cleanse(p, len);
    free(p);
}

void
util_hex(const uint8_t *in, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < len; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 0xf];
    }
    out[2 * len] = '\0';
}
