/*
 * Fuzz target: the SQL statement classifier (src/sqlclass.c).  Every input
 * must give a class in range with a label and an offset inside the text.
 * Then the input is followed by "\n\n;ADD JAR x": whatever the input was
 * (an open comment, quote, script or hint), the result must be at least
 * ADMIN, so no input can make the classifier hide a statement that follows
 * it.  (Two newlines: a "--" comment ending in a backslash continues onto
 * the next line.)  Then the input is upper-cased: keywords are
 * case-insensitive and no token boundary depends on case, so the class
 * must not change.  Finally every I and S (either case) is replaced by
 * U+0131 and U+017F, which Spark's lexer upper-cases to I and S: again the
 * class must not change (the replacement keeps valid UTF-8 valid and
 * invalid UTF-8 invalid).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sqlclass.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_tail[] = "\n\n;ADD JAR x";

static void
fuzz_check(const char *sql, size_t len, struct sqlclass_result *r)
{
    int rv = sqlclass_classify(sql, len, r);

    if (rv != r->strictest || rv < SQLCLASS_EMPTY || rv > SQLCLASS_UNKNOWN)
        abort();
    if (r->cls != r->strictest && r->cls != SQLCLASS_SCRIPT)
        abort();
    if (r->label == NULL || r->label[0] == '\0' || r->off > len)
        abort();
    if ((rv == SQLCLASS_EMPTY) != (r->nstmt == 0) && rv != SQLCLASS_UNKNOWN)
        abort();
}

/* |data| with I/i as U+0131 and S/s as U+017F classifies as |r| did. */
static void
fuzz_unicode(const uint8_t *data, size_t size, const struct sqlclass_result *r)
{
    struct sqlclass_result u;
    char *buf;
    size_t i, n = 0;

    if (size > SIZE_MAX / 2 || (buf = malloc(2 * size + 1)) == NULL)
        return;
    for (i = 0; i < size; i++) {
        if ((data[i] | 0x20) == 'i') {
            buf[n++] = (char)0xc4;
            buf[n++] = (char)0xb1;
        } else if ((data[i] | 0x20) == 's') {
            buf[n++] = (char)0xc5;
            buf[n++] = (char)0xbf;
        } else {
            buf[n++] = (char)data[i];
        }
    }
    fuzz_check(buf, n, &u);
    if (u.strictest != r->strictest || u.cls != r->cls || u.nstmt != r->nstmt)
        abort();
    free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sqlclass_result r, up;
    char *buf;
    size_t i;

    fuzz_check((const char *)data, size, &r);
    buf = malloc(size + sizeof(fuzz_tail));
    if (buf == NULL)
        return 0;
    for (i = 0; i < size; i++)
        buf[i] = (char)(data[i] >= 'a' && data[i] <= 'z' ? data[i] - 'a' + 'A' : data[i]);
    fuzz_check(buf, size, &up);
    if (up.strictest != r.strictest || up.cls != r.cls || up.nstmt != r.nstmt)
        abort();
    memcpy(buf, data, size);
    memcpy(buf + size, fuzz_tail, sizeof(fuzz_tail) - 1);
    fuzz_check(buf, size + sizeof(fuzz_tail) - 1, &up);
    if (up.strictest < SQLCLASS_ADMIN)
        abort();
    free(buf);
    fuzz_unicode(data, size, &r);
    return 0;
}
