/*
 * jpos.c: source positions for JSON text, and comment stripping (see
 * jpos.h for the position and path conventions).
 *
 * cfg.c validates a jansson tree, which has no positions, then comes back
 * here with the key path of the offending node to tell the user where it
 * is.  Everything is a forward walk over bytes with an explicit cursor: no
 * I/O, no allocation, no logging, no recursion, and no read past |len|.
 * The walker is lenient: it only needs brackets, strings and commas to be
 * in place before the target, so it works on any text jansson accepted
 * (and on most it did not).
 */
#include "config.h"

#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "jpos.h"
#include "util.h"

/* A read position in the text: the byte at s[at.off] is at at.line:at.col. */
struct jpos_cur {
    const unsigned char *s;
    size_t len;
    struct jpos_loc at;
};

/* Decoding state for one JSON string, byte by byte (see str_next). */
struct jpos_str {
    struct jpos_cur *c;
    unsigned char pend[4]; /* UTF-8 bytes of a decoded \u escape not yet returned */
    size_t npend, ipend;
};

/* A parsed component of a key path. */
struct jpos_seg {
    bool is_index;
    size_t index;
    const char *name; /* escaped form, up to the next unescaped '.' or '[' */
};

#define JPOS_END (-1) /* str_next/name_next: no more bytes */
#define JPOS_BAD (-2) /* str_next/name_next: malformed */

static void
cur_init(struct jpos_cur *c, const char *text, size_t len)
{
    c->s = (const unsigned char *)text;
    c->len = len;
    c->at.off = 0;
    c->at.line = 1;
    c->at.col = 1;
    /* jansson refuses a byte order mark; editors hide it, so it takes no column */
    if (len >= 3 && c->s[0] == 0xef && c->s[1] == 0xbb && c->s[2] == 0xbf)
        c->at.off = 3;
}

static bool
cur_eof(const struct jpos_cur *c)
{
    return c->at.off >= c->len;
}

/* The byte at the cursor, or -1 at the end. */
static int
cur_peek(const struct jpos_cur *c)
{
    return c->at.off < c->len ? c->s[c->at.off] : -1;
}

/* True when the two bytes at the cursor are |a| |b|. */
static bool
cur_at2(const struct jpos_cur *c, unsigned char a, unsigned char b)
{
    return c->at.off < c->len && c->len - c->at.off >= 2 && c->s[c->at.off] == a &&
           c->s[c->at.off + 1] == b;
}

/*
 * Steps over one byte.  A column is a character: only bytes that are not
 * UTF-8 continuation bytes (10xxxxxx) move it, as in jansson's stream_get.
 */
static void
cur_adv(struct jpos_cur *c)
{
    unsigned char ch = c->s[c->at.off++];

    if (ch == '\n') {
        c->at.line++;
        c->at.col = 1;
    } else if ((ch & 0xc0) != 0x80) {
        c->at.col++;
    }
}

/* Skips JSON whitespace and comments.  Returns -1 in an unterminated block comment. */
static int
skip_ws(struct jpos_cur *c)
{
    int ch;

    while ((ch = cur_peek(c)) >= 0) {
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
            cur_adv(c);
        } else if (cur_at2(c, '/', '/')) {
            while (!cur_eof(c) && cur_peek(c) != '\n')
                cur_adv(c);
        } else if (cur_at2(c, '/', '*')) {
            cur_adv(c);
            cur_adv(c);
            while (!cur_at2(c, '*', '/')) {
                if (cur_eof(c))
                    return -1;
                cur_adv(c);
            }
            cur_adv(c);
            cur_adv(c);
        } else {
            break;
        }
    }
    return 0;
}

/* At a '"': steps past the closing quote.  Returns -1 if the string never ends. */
static int
skip_string(struct jpos_cur *c)
{
    int ch;

    cur_adv(c);
    while ((ch = cur_peek(c)) >= 0) {
        cur_adv(c);
        if (ch == '"')
            return 0;
        if (ch == '\\') {
            if (cur_eof(c))
                return -1;
            cur_adv(c);
        }
    }
    return -1;
}

/* Bytes that end a bare scalar (number, true, false, null). */
static bool
ends_scalar(int ch)
{
    /* strchr() also matches the terminating NUL, so a NUL byte ends a scalar too */
    return ch < 0 || strchr(" \t\r\n,:[]{}\"/", ch) != NULL;
}

/*
 * At the first byte of a value: steps past it.  Containers are skipped by
 * counting brackets of either kind, which is enough for text jansson
 * accepted and never loops on text it refused.  Returns 0 or -1.
 */
static int
skip_value(struct jpos_cur *c)
{
    size_t depth = 0, start;
    int ch = cur_peek(c);

    if (ch == '"')
        return skip_string(c);
    if (ch != '{' && ch != '[') {
        start = c->at.off;
        while (!ends_scalar(cur_peek(c)))
            cur_adv(c);
        return c->at.off > start ? 0 : -1;
    }
    while ((ch = cur_peek(c)) >= 0) {
        if (ch == '"') {
            if (skip_string(c) < 0)
                return -1;
            continue;
        }
        if (ch == '/' && (cur_at2(c, '/', '/') || cur_at2(c, '/', '*'))) {
            if (skip_ws(c) < 0)
                return -1;
            continue;
        }
        cur_adv(c);
        if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            if (--depth == 0)
                return 0;
        }
    }
    return -1;
}

/* Reads the 4 hex digits of a \u escape.  Returns the code unit or -1. */
static long
read_u4(struct jpos_cur *c)
{
    long v = 0;
    int i, h;

    for (i = 0; i < 4; i++) {
        h = util_hexval(cur_peek(c));
        if (h < 0)
            return -1;
        v = v * 16 + h;
        cur_adv(c);
    }
    return v;
}

static size_t
utf8_put(unsigned long cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xc0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xe0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (unsigned char)(0xf0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* At a '"': prepares |j| to decode the string; the cursor moves as bytes are read. */
static void
str_open(struct jpos_str *j, struct jpos_cur *c)
{
    j->c = c;
    j->npend = j->ipend = 0;
    cur_adv(c);
}

/*
 * The next byte of the decoded string (escapes resolved, \u as UTF-8),
 * JPOS_END after the closing quote (which is consumed), or JPOS_BAD.
 */
static int
str_next(struct jpos_str *j)
{
    struct jpos_cur *c = j->c;
    long hi, lo;
    int ch;

    if (j->ipend < j->npend)
        return j->pend[j->ipend++];
    ch = cur_peek(c);
    if (ch < 0)
        return JPOS_BAD;
    cur_adv(c);
    if (ch == '"')
        return JPOS_END;
    if (ch != '\\')
        return ch;
    ch = cur_peek(c);
    if (ch < 0)
        return JPOS_BAD;
    cur_adv(c);
    switch (ch) {
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'u':
        break;
    default:
        return ch; /* \" \\ \/ (and anything jansson would refuse) */
    }
    hi = read_u4(c);
    if (hi < 0)
        return JPOS_BAD;
    /* RFC 8259 §7: a character outside the BMP is a surrogate pair */
    if (hi >= 0xd800 && hi <= 0xdbff) {
        if (!cur_at2(c, '\\', 'u'))
            return JPOS_BAD;
        cur_adv(c);
        cur_adv(c);
        lo = read_u4(c);
        if (lo < 0xdc00 || lo > 0xdfff)
            return JPOS_BAD;
        hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
    } else if (hi >= 0xdc00 && hi <= 0xdfff) {
        return JPOS_BAD;
    }
    j->npend = utf8_put((unsigned long)hi, j->pend);
    j->ipend = 1;
    return j->pend[0];
}

/*
 * The next byte of an escaped path name at |*pp| (see jpos.h), JPOS_END at
 * an unescaped '.', '[' or the end of the path, or JPOS_BAD.
 */
static int
name_next(const char **pp)
{
    const unsigned char *p = (const unsigned char *)*pp;
    int h1, h2;

    if (*p == '\0' || *p == '.' || *p == '[')
        return JPOS_END;
    if (*p != '\\') {
        *pp += 1;
        return *p;
    }
    if (p[1] == '\0')
        return JPOS_BAD;
    if (p[1] != 'x') {
        *pp += 2;
        return p[1];
    }
    h1 = util_hexval(p[2]);
    h2 = h1 < 0 ? -1 : util_hexval(p[3]);
    if (h2 < 0)
        return JPOS_BAD;
    *pp += 4;
    return h1 * 16 + h2;
}

/*
 * Parses the path component at |*pp|.  Returns 1 with |*sg| set, 0 at the
 * end of the path, -1 when malformed.
 */
static int
seg_next(const char **pp, struct jpos_seg *sg, bool first)
{
    const char *p = *pp;
    size_t v = 0, ndig = 0;
    int r;

    if (*p == '\0')
        return 0;
    if (*p == '[') {
        for (p++; *p >= '0' && *p <= '9'; p++, ndig++) {
            if (v > ((size_t)-1 - 9) / 10)
                return -1;
            v = v * 10 + (size_t)(*p - '0');
        }
        if (ndig == 0 || *p != ']')
            return -1;
        sg->is_index = true;
        sg->index = v;
        sg->name = NULL;
        *pp = p + 1;
        return 1;
    }
    if (*p == '.')
        p++;
    else if (!first)
        return -1;
    sg->is_index = false;
    sg->index = 0;
    sg->name = p;
    while ((r = name_next(&p)) >= 0)
        ;
    if (r == JPOS_BAD)
        return -1;
    *pp = p;
    return 1;
}

/* True when the JSON string at the cursor decodes to the path name |name|. */
static bool
name_equals(const struct jpos_cur *c, const char *name)
{
    struct jpos_cur tmp = *c;
    struct jpos_str js;
    int a, b;

    str_open(&js, &tmp);
    do {
        a = str_next(&js);
        b = name_next(&name);
        if (a == JPOS_BAD || b == JPOS_BAD || a != b)
            return false;
    } while (a != JPOS_END);
    return true;
}

/*
 * At an object: moves the cursor to the value of member |name| and sets
 * |*keyloc| to its name.  Returns 0 or -1.
 */
static int
find_member(struct jpos_cur *c, const char *name, struct jpos_loc *keyloc)
{
    bool eq;

    if (cur_peek(c) != '{')
        return -1;
    cur_adv(c);
    for (;;) {
        if (skip_ws(c) < 0 || cur_peek(c) != '"')
            return -1;
        *keyloc = c->at;
        eq = name_equals(c, name);
        if (skip_string(c) < 0 || skip_ws(c) < 0 || cur_peek(c) != ':')
            return -1;
        cur_adv(c);
        if (skip_ws(c) < 0)
            return -1;
        if (eq)
            return 0;
        if (skip_value(c) < 0 || skip_ws(c) < 0 || cur_peek(c) != ',')
            return -1;
        cur_adv(c);
    }
}

/* At an array: moves the cursor to element |index|.  Returns 0 or -1. */
static int
find_element(struct jpos_cur *c, size_t index)
{
    size_t i;

    if (cur_peek(c) != '[')
        return -1;
    cur_adv(c);
    for (i = 0;; i++) {
        if (skip_ws(c) < 0 || cur_eof(c) || cur_peek(c) == ']')
            return -1;
        if (i == index)
            return 0;
        if (skip_value(c) < 0 || skip_ws(c) < 0 || cur_peek(c) != ',')
            return -1;
        cur_adv(c);
    }
}

int
jpos_find(const char *text, size_t len, const char *path, enum jpos_what what, struct jpos_loc *loc)
{
    struct jpos_cur c;
    struct jpos_loc keyloc;
    struct jpos_seg sg = {false, 0, NULL};
    bool first = true;
    int r;

    cur_init(&c, text, len);
    if (skip_ws(&c) < 0 || cur_eof(&c))
        return -1;
    while ((r = seg_next(&path, &sg, first)) > 0) {
        first = false;
        if (sg.is_index) {
            if (find_element(&c, sg.index) < 0)
                return -1;
            continue;
        }
        if (find_member(&c, sg.name, &keyloc) < 0)
            return -1;
        if (*path == '\0' && what == JPOS_KEY) {
            *loc = keyloc;
            return 0;
        }
    }
    if (r < 0)
        return -1;
    *loc = c.at;
    return 0;
}

/*
 * Appends byte |b| of a member name to |path| in escaped form (jpos.h).
 * Returns 0 or -1 when it does not fit (NUL included).
 */
static int
path_put(char *path, size_t size, size_t *plen, int b)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[4];
    size_t n = 0;

    if (b < 0x20 || b == 0x7f) {
        tmp[n++] = '\\';
        tmp[n++] = 'x';
        tmp[n++] = hex[(b >> 4) & 0xf];
        tmp[n++] = hex[b & 0xf];
    } else {
        if (b == '.' || b == '[' || b == ']' || b == '\\')
            tmp[n++] = '\\';
        tmp[n++] = (char)b;
    }
    if (size - *plen <= n)
        return -1;
    memcpy(path + *plen, tmp, n);
    *plen += n;
    path[*plen] = '\0';
    return 0;
}

int
jpos_path_key(char *path, size_t size, size_t *plen, const char *key)
{
    size_t old = *plen;
    const unsigned char *k = (const unsigned char *)key;

    if (old >= size)
        return -1;
    if (old > 0) {
        if (size - old <= 1)
            return -1;
        path[(*plen)++] = '.';
        path[*plen] = '\0';
    }
    for (; *k != '\0'; k++) {
        if (path_put(path, size, plen, *k) < 0) {
            *plen = old;
            path[old] = '\0';
            return -1;
        }
    }
    return 0;
}

int
jpos_path_index(char *path, size_t size, size_t *plen, size_t index)
{
    char tmp[32];
    size_t n = sizeof(tmp), need;

    /* digits are produced backwards, then "[...]" copied in one piece */
    tmp[--n] = ']';
    do {
        tmp[--n] = (char)('0' + index % 10);
        index /= 10;
    } while (index > 0);
    tmp[--n] = '[';
    need = sizeof(tmp) - n;
    if (*plen >= size || size - *plen <= need)
        return -1;
    memcpy(path + *plen, tmp + n, need);
    *plen += need;
    path[*plen] = '\0';
    return 0;
}

/* Appends the JSON string at the cursor as a path member name.  Returns 0 or -1. */
static int
path_put_json_key(char *path, size_t size, size_t *plen, const struct jpos_cur *c)
{
    struct jpos_cur tmp = *c;
    struct jpos_str js;
    size_t old = *plen;
    int b;

    if (old > 0) {
        if (size - old <= 1)
            return -1;
        path[(*plen)++] = '.';
        path[*plen] = '\0';
    }
    str_open(&js, &tmp);
    while ((b = str_next(&js)) >= 0) {
        if (path_put(path, size, plen, b) < 0)
            goto fail;
    }
    if (b == JPOS_END)
        return 0;
fail:
    *plen = old;
    path[old] = '\0';
    return -1;
}

int
jpos_path_at(const char *text, size_t len, size_t off, char *path, size_t pathlen,
             struct jpos_loc *loc)
{
    struct jpos_cur c, key, val;
    size_t plen = 0, i;
    int ch;

    if (pathlen == 0)
        return -1;
    path[0] = '\0';
    cur_init(&c, text, len);
    if (skip_ws(&c) < 0)
        return -1;
    *loc = c.at;
    /* each round descends one level into the container that holds |off| */
    for (;;) {
        ch = cur_peek(&c);
        if (ch != '{' && ch != '[')
            return 0;
        cur_adv(&c);
        for (i = 0;; i++) {
            if (skip_ws(&c) < 0)
                return -1;
            if (cur_eof(&c) || cur_peek(&c) == '}' || cur_peek(&c) == ']')
                return 0;
            key = c;
            if (ch == '{') {
                if (cur_peek(&c) != '"' || skip_string(&c) < 0 || skip_ws(&c) < 0 ||
                    cur_peek(&c) != ':')
                    return -1;
                cur_adv(&c);
                if (skip_ws(&c) < 0)
                    return -1;
            }
            val = c;
            if (skip_value(&c) < 0) {
                /* the text ends (or breaks) inside this value: it holds |off| if anything does */
                c.at.off = len;
            }
            if (off >= key.at.off && off < c.at.off)
                break;
            if (skip_ws(&c) < 0 || cur_peek(&c) != ',')
                return 0;
            cur_adv(&c);
        }
        if (ch == '{') {
            if (path_put_json_key(path, pathlen, &plen, &key) < 0)
                return -1;
        } else if (jpos_path_index(path, pathlen, &plen, i) < 0) {
            return -1;
        }
        *loc = key.at;
        if (off < val.at.off)
            return 0;
        c = val;
    }
}

int
jpos_string_at(const char *text, size_t len, size_t off, char *buf, size_t buflen)
{
    struct jpos_cur c;
    struct jpos_str js;
    size_t n = 0;
    int b;

    if (buflen > 0)
        buf[0] = '\0';
    cur_init(&c, text, len);
    c.at.off = off;
    if (cur_peek(&c) != '"')
        return -1;
    str_open(&js, &c);
    while ((b = str_next(&js)) > 0) {
        if (n + 1 >= buflen)
            return -1;
        buf[n++] = (char)b;
        buf[n] = '\0';
    }
    if (b == JPOS_BAD || n > (size_t)INT_MAX)
        return -1;
    return (int)n;
}

int
jpos_strip_comments(const char *in, size_t len, char *out, size_t *outlen, struct jpos_loc *where)
{
    struct jpos_cur c;
    struct jpos_loc start;
    size_t o = 0;
    bool in_string = false;
    int ch;

    /*
     * The output index |o| never passes the input index c.at.off, and each
     * byte is read before the byte at |o| is written, so |out| may be |in|.
     */
    cur_init(&c, in, len);
    while ((ch = cur_peek(&c)) >= 0) {
        if (in_string) {
            out[o++] = (char)ch;
            cur_adv(&c);
            if (ch == '"') {
                in_string = false;
            } else if (ch == '\\' && !cur_eof(&c)) {
                out[o++] = (char)cur_peek(&c); /* the escaped byte, even a '"' */
                cur_adv(&c);
            }
        } else if (cur_at2(&c, '/', '/')) {
            while (!cur_eof(&c) && cur_peek(&c) != '\n') {
                /* one space per character: the columns after it are unchanged */
                if ((cur_peek(&c) & 0xc0) != 0x80)
                    out[o++] = ' ';
                cur_adv(&c);
            }
        } else if (cur_at2(&c, '/', '*')) {
            start = c.at;
            out[o++] = ' ';
            out[o++] = ' ';
            cur_adv(&c);
            cur_adv(&c);
            while (!cur_at2(&c, '*', '/')) {
                if (cur_eof(&c)) {
                    if (where != NULL)
                        *where = start;
                    return -1;
                }
                ch = cur_peek(&c);
                if (ch == '\n')
                    out[o++] = '\n';
                else if ((ch & 0xc0) != 0x80)
                    out[o++] = ' ';
                cur_adv(&c);
            }
            out[o++] = ' ';
            out[o++] = ' ';
            cur_adv(&c);
            cur_adv(&c);
        } else {
            if (ch == '"')
                in_string = true;
            out[o++] = (char)ch;
            cur_adv(&c);
        }
    }
    *outlen = o;
    return 0;
}
