/*
 * util_str.c: the one copy of untrusted bytes for a log line or a message.
 * Pure (no I/O, no allocation) so the pure parsers can use it too: built
 * into libsgparse.a, declared in util.h.
 */
#include "config.h"

#include <string.h>

#include "util.h"

size_t
util_printable(char *out, size_t size, const void *s, size_t len, const char *unsafe)
{
    const unsigned char *p = s;
    size_t i, n;

    if (size == 0)
        return 0;
    n = len < size - 1 ? len : size - 1;
    for (i = 0; i < n; i++) {
        unsigned char ch = p[i];

        out[i] = ch >= 0x20 && ch < 0x7f && (ch == '\0' || strchr(unsafe, ch) == NULL) ? (char)ch
                                                                                       : '?';
    }
    out[n] = '\0';
    return n;
}

int
util_hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}
