/*
 * util.h: small helpers with no better home: checked allocation wrappers,
 * monotonic time, host:port parsing, secret wiping, printable copies of
 * untrusted bytes.
 */
#ifndef SPARKGATE_UTIL_H
#define SPARKGATE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define FREE_AND_NULL(p) \
    do {                 \
        free(p);         \
        (p) = NULL;      \
    } while (0)

/* Aborts when an object's magic does not match: use-after-free in callback
 * code becomes an immediate, located failure instead of silent corruption. */
#define CHECK_MAGIC(p, m)                           \
    do {                                            \
        if ((p) == NULL || (p)->magic != (m))       \
            util_bad_magic(__FILE__, __LINE__, #p); \
    } while (0)
void util_bad_magic(const char *file, int line, const char *what) __attribute__((noreturn));

/* Monotonic clock in milliseconds / microseconds. */
uint64_t util_now_ms(void);
uint64_t util_now_us(void);

/*
 * Splits "host:port", "[v6]:port" into |host| (brackets removed) and |port|.
 * Returns 0, or -1 with a reason in |why| when the form is wrong.
 */
int util_split_hostport(const char *s, char *host, size_t hostlen, char *port, size_t portlen,
                        const char **why);

/*
 * Resolves a numeric "host:port" (no DNS: listeners and tests use literal
 * addresses) into |ss|.  Returns 0 or -1 with |why| set.
 */
int util_parse_sockaddr(const char *s, struct sockaddr_storage *ss, socklen_t *sslen,
                        const char **why);

/* Formats |sa| as "host:port" into |buf|. */
const char *util_sockaddr_str(const struct sockaddr *sa, char *buf, size_t len);

/* strdup that returns NULL for NULL. */
char *util_strdup(const char *s);

/* Wipes |len| bytes at |p| then frees it (OPENSSL_cleanse + free). */
void util_free_secret(void *p, size_t len);

/*
 * Copies untrusted bytes |s| (|len| of them, NULs included) into |out| for
 * a log line or a message: at most |size| - 1 bytes, NUL-terminated, every
 * byte outside printable ASCII (0x20-0x7e) or listed in |unsafe| (e.g.
 * "\"\\" where the text is quoted) replaced by '?'.  Returns the number
 * of bytes copied (min(len, size - 1)).  Pure: in libsgparse.a too.
 */
size_t util_printable(char *out, size_t size, const void *s, size_t len, const char *unsafe);

/* The value of hexadecimal digit |ch| (either case), or -1.  Pure. */
int util_hexval(int ch);

/* Lower-case hex of |len| bytes into |out| (2*len+1 bytes). */
void util_hex(const uint8_t *in, size_t len, char *out);

#endif
