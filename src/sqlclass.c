/*
 * sqlclass.c: classify Spark SQL text (see sqlclass.h for the rules).
 *
 * Two passes, each a forward walk with an explicit cursor: the raw bytes
 * are checked for NUL, "${" and UTF-8; then the statements are split and
 * classified, and an unterminated comment or quote, or a character Spark
 * would read as something other than ASCII (see sqlclass_wordch), anywhere
 * refuses the whole text.  Each statement is lexed a bounded number of
 * times (find its end, classify it; classifying mostly stops after a few
 * tokens), so the whole is linear.  Nothing recurses: EXPLAIN and WITH
 * loop back to the dispatch, scripts keep a nesting counter instead of a
 * stack.
 *
 * The classifier errs towards the stricter class: a column called "insert"
 * after FROM makes the statement DML, a string after AS in CREATE FUNCTION
 * makes it ADMIN.  Being wrong that way refuses a query; being wrong the
 * other way would let a statement through.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "sqlclass.h"
#include "sqlclass_fold.h"

/* Longest keyword compared (the classifier's own list, not Spark's). */
#define SQLCLASS_KW_MAX 15

enum sqlclass_tk {
    TK_EOF,
    TK_WORD,  /* identifier, keyword or number */
    TK_STR,   /* '...', "...", R'...' */
    TK_QID,   /* `...` */
    TK_PUNCT, /* anything else, one byte (three for a hint opener) */
    TK_ERR,   /* unterminated comment or quote, a character Spark cannot lex */
};

struct sqlclass_tok {
    enum sqlclass_tk kind;
    size_t off, len;
    /*
     * TK_WORD: the word as Spark's lexer reads it (upper-cased per code
     * point, so "\u0131nsert" is "INSERT"), cut at SQLCLASS_KW_MAX; nup is
     * the number of characters, SQLCLASS_KW_MAX + 1 for any longer word.
     */
    unsigned char up[SQLCLASS_KW_MAX];
    size_t nup;
};

/* A cursor over s[pos..end): end is the text's length or a statement's end. */
struct sqlclass_lex {
    const unsigned char *s;
    size_t end, pos;
    const char *err; /* why the last TK_ERR */
};

/* Accumulated answer for a sequence of statements (the text or a script). */
struct sqlclass_acc {
    int strictest;
    int cls;
    size_t off;
    const char *label;
};

/* Classes of ASCII bytes for the lexer; non-ASCII bytes are 0 and decoded instead. */
#define CC_BLANK 1u  /* skipped by Spark's WS rule */
#define CC_WORD 2u   /* letter, digit or '_' */
#define CC_LETTER 4u /* A-Z, a-z */
#define CC_URI 8u    /* what Spark's IDENTIFIER takes after "://" besides word characters */
#define CC_L (CC_WORD | CC_LETTER)
static const unsigned char sqlclass_cc[128] = {
    ['\t'] = CC_BLANK, ['\n'] = CC_BLANK, ['\v'] = CC_BLANK, ['\f'] = CC_BLANK, ['\r'] = CC_BLANK,
    [' '] = CC_BLANK,  ['#'] = CC_URI,    ['%'] = CC_URI,    ['&'] = CC_URI,    ['-'] = CC_URI,
    ['.'] = CC_URI,    ['/'] = CC_URI,    ['='] = CC_URI,    ['?'] = CC_URI,    ['0'] = CC_WORD,
    ['1'] = CC_WORD,   ['2'] = CC_WORD,   ['3'] = CC_WORD,   ['4'] = CC_WORD,   ['5'] = CC_WORD,
    ['6'] = CC_WORD,   ['7'] = CC_WORD,   ['8'] = CC_WORD,   ['9'] = CC_WORD,   ['_'] = CC_WORD,
    ['A'] = CC_L,      ['B'] = CC_L,      ['C'] = CC_L,      ['D'] = CC_L,      ['E'] = CC_L,
    ['F'] = CC_L,      ['G'] = CC_L,      ['H'] = CC_L,      ['I'] = CC_L,      ['J'] = CC_L,
    ['K'] = CC_L,      ['L'] = CC_L,      ['M'] = CC_L,      ['N'] = CC_L,      ['O'] = CC_L,
    ['P'] = CC_L,      ['Q'] = CC_L,      ['R'] = CC_L,      ['S'] = CC_L,      ['T'] = CC_L,
    ['U'] = CC_L,      ['V'] = CC_L,      ['W'] = CC_L,      ['X'] = CC_L,      ['Y'] = CC_L,
    ['Z'] = CC_L,      ['a'] = CC_L,      ['b'] = CC_L,      ['c'] = CC_L,      ['d'] = CC_L,
    ['e'] = CC_L,      ['f'] = CC_L,      ['g'] = CC_L,      ['h'] = CC_L,      ['i'] = CC_L,
    ['j'] = CC_L,      ['k'] = CC_L,      ['l'] = CC_L,      ['m'] = CC_L,      ['n'] = CC_L,
    ['o'] = CC_L,      ['p'] = CC_L,      ['q'] = CC_L,      ['r'] = CC_L,      ['s'] = CC_L,
    ['t'] = CC_L,      ['u'] = CC_L,      ['v'] = CC_L,      ['w'] = CC_L,      ['x'] = CC_L,
    ['y'] = CC_L,      ['z'] = CC_L,
};

/*
 * Decodes the UTF-8 sequence at s[pos] into *cp and returns its length, or 0
 * if it is not valid UTF-8 (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF, nothing cut by |end|), the same bytes
 * protobuf-java refuses in a string field.
 */
static size_t
sqlclass_utf8(const unsigned char *s, size_t pos, size_t end, uint32_t *cp)
{
    unsigned char c = s[pos];
    uint32_t v, min;
    size_t n, i;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        v = c & 0x1fu;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        v = c & 0x0fu;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        v = c & 0x07u;
        min = 0x10000;
    } else {
        return 0;
    }
    if (end - pos < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[pos + i] & 0xc0u) != 0x80u)
            return 0;
        v = (v << 6) | (s[pos + i] & 0x3fu);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

/*
 * Is |cp| a non-ASCII space Spark's WS rule skips?  Treating these as
 * identifier characters would hide a keyword boundary Spark sees
 * ("FROM t<NBSP>INSERT ...").
 */
static bool
sqlclass_is_uws(uint32_t cp)
{
    return cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
           cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

int
sqlclass_fold_cp(uint32_t cp)
{
    size_t lo = 0, hi = sizeof(sqlclass_fold_tab) / sizeof(sqlclass_fold_tab[0]);

    if (cp < 0x80)
        return (sqlclass_cc[cp] & CC_LETTER) ? (int)(cp & ~0x20u) : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (sqlclass_fold_tab[mid].cp == cp)
            return sqlclass_fold_tab[mid].upper;
        if (sqlclass_fold_tab[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/*
 * What Spark's lexer reads at s[pos] inside a word (or, with |uri|, inside
 * the path of a "scheme://" identifier): 1 when the character continues the
 * word, with its length in *n and its upper-case ASCII form in *up; 0 when
 * it ends the word; -1 when it is a non-ASCII character that is neither a
 * Spark space nor upper-cased to an ASCII letter, or not UTF-8 at all.
 * Spark would lex such a character as part of an identifier or as an
 * unrecognised token; the classifier does not guess which (lx->err says why).
 */
static int
sqlclass_wordch(struct sqlclass_lex *lx, size_t pos, bool uri, size_t *n, unsigned char *up)
{
    unsigned char c = lx->s[pos];
    uint32_t cp;
    int f;

    if (c < 0x80) {
        if (!(sqlclass_cc[c] & (uri ? (CC_WORD | CC_URI) : CC_WORD)))
            return 0;
        *n = 1;
        *up = (sqlclass_cc[c] & CC_LETTER) ? (unsigned char)(c & ~0x20u) : c;
        return 1;
    }
    if ((*n = sqlclass_utf8(lx->s, pos, lx->end, &cp)) == 0) {
        lx->err = "invalid UTF-8";
        return -1;
    }
    if (sqlclass_is_uws(cp))
        return 0;
    if ((f = sqlclass_fold_cp(cp)) == 0) {
        lx->err = "non-ASCII character outside quotes and comments";
        return -1;
    }
    *up = (unsigned char)f;
    return 1;
}

/* sqlclass_wordch() outside a URI path, with ASCII (nearly every byte) handled inline. */
static inline int
sqlclass_wordch_fast(struct sqlclass_lex *lx, size_t pos, size_t *n, unsigned char *up)
{
    unsigned char c = lx->s[pos];

    if (c >= 0x80)
        return sqlclass_wordch(lx, pos, false, n, up);
    *n = 1;
    *up = (sqlclass_cc[c] & CC_LETTER) ? (unsigned char)(c & ~0x20u) : c;
    return (sqlclass_cc[c] & CC_WORD) != 0;
}

/* Skips blanks and comments; returns false (and sets lx->err) on an unclosed comment. */
static bool
sqlclass_skip_blank(struct sqlclass_lex *lx)
{
    const unsigned char *s = lx->s;
    uint32_t cp;
    size_t n;

    while (lx->pos < lx->end) {
        unsigned char c = s[lx->pos];

        if (c < 0x80 && (sqlclass_cc[c] & CC_BLANK)) {
            lx->pos++;
        } else if (c >= 0x80 && (n = sqlclass_utf8(s, lx->pos, lx->end, &cp)) > 0 &&
                   sqlclass_is_uws(cp)) {
            lx->pos += n;
        } else if (c == '-' && lx->pos + 1 < lx->end && s[lx->pos + 1] == '-') {
            /* Spark: '--' ('\\\n' | ~[\r\n])*, so backslash-newline continues it */
            lx->pos += 2;
            while (lx->pos < lx->end && s[lx->pos] != '\n' && s[lx->pos] != '\r') {
                if (s[lx->pos] == '\\' && lx->pos + 1 < lx->end && s[lx->pos + 1] == '\n')
                    lx->pos++;
                lx->pos++;
            }
        } else if (c == '/' && lx->pos + 1 < lx->end && s[lx->pos + 1] == '*' &&
                   !(lx->pos + 2 < lx->end && s[lx->pos + 2] == '+')) {
            /* nested, and "/" "*" "+" is a hint opener that never nests */
            size_t depth = 1;

            lx->pos += 2;
            while (lx->pos < lx->end && depth > 0) {
                if (s[lx->pos] == '/' && lx->pos + 1 < lx->end && s[lx->pos + 1] == '*' &&
                    !(lx->pos + 2 < lx->end && s[lx->pos + 2] == '+')) {
                    depth++;
                    lx->pos += 2;
                } else if (s[lx->pos] == '*' && lx->pos + 1 < lx->end && s[lx->pos + 1] == '/') {
                    depth--;
                    lx->pos += 2;
                } else {
                    lx->pos++;
                }
            }
            if (depth > 0) {
                lx->err = "unterminated comment";
                return false;
            }
        } else {
            break;
        }
    }
    return true;
}

/* Scans a quoted run opened at s[pos] by |q|; |esc|: backslash escapes the next byte. */
static bool
sqlclass_scan_quoted(struct sqlclass_lex *lx, unsigned char q, bool esc)
{
    const unsigned char *s = lx->s;

    lx->pos++;
    while (lx->pos < lx->end) {
        unsigned char c = s[lx->pos++];

        if (esc && c == '\\') {
            if (lx->pos >= lx->end)
                break;
            lx->pos++;
        } else if (c == q) {
            /* `` inside a backquoted name is an escaped quote, not the end */
            if (q == '`' && lx->pos < lx->end && s[lx->pos] == '`') {
                lx->pos++;
                continue;
            }
            return true;
        }
    }
    lx->err = q == '`' ? "unterminated quoted identifier" : "unterminated string";
    return false;
}

/* Appends the upper-case character |up| to the word |t|. */
static void
sqlclass_tok_put(struct sqlclass_tok *t, unsigned char up)
{
    if (t->nup < SQLCLASS_KW_MAX)
        t->up[t->nup] = up;
    if (t->nup <= SQLCLASS_KW_MAX)
        t->nup++;
}

static void
sqlclass_next(struct sqlclass_lex *lx, struct sqlclass_tok *t)
{
    const unsigned char *s = lx->s;
    unsigned char c, up;
    size_t n;
    int k;

    t->len = 0;
    t->nup = 0;
    if (!sqlclass_skip_blank(lx)) {
        t->kind = TK_ERR;
        t->off = lx->pos;
        return;
    }
    t->off = lx->pos;
    if (lx->pos >= lx->end) {
        t->kind = TK_EOF;
        return;
    }
    c = s[lx->pos];
    if (c == '\'' || c == '"' || c == '`') {
        t->kind = sqlclass_scan_quoted(lx, c, c != '`') ? (c == '`' ? TK_QID : TK_STR) : TK_ERR;
    } else if ((k = sqlclass_wordch_fast(lx, lx->pos, &n, &up)) != 0) {
        bool letters = true;

        /* a Spark space cannot start a word: sqlclass_skip_blank took it */
        t->kind = TK_WORD;
        while (k > 0) {
            if (up < 'A' || up > 'Z')
                letters = false;
            sqlclass_tok_put(t, up);
            lx->pos += n;
            k = lx->pos < lx->end ? sqlclass_wordch_fast(lx, lx->pos, &n, &up) : 0;
        }
        if (k < 0) {
            t->kind = TK_ERR;
            t->off = lx->pos;
            return;
        }
        if (t->nup == 1 && t->up[0] == 'R' && lx->pos < lx->end &&
            (s[lx->pos] == '\'' || s[lx->pos] == '"')) {
            /* raw string: no escapes, so R'\' is complete */
            t->kind = sqlclass_scan_quoted(lx, s[lx->pos], false) ? TK_STR : TK_ERR;
        } else if (letters && lx->end - lx->pos > 3 && memcmp(s + lx->pos, "://", 3) == 0 &&
                   sqlclass_wordch(lx, lx->pos + 3, true, &n, &up) != 0) {
            /* Spark's IDENTIFIER takes "file:///x" whole, so "/" "*" there opens no comment */
            lx->pos += 3;
            while ((k = sqlclass_wordch(lx, lx->pos, true, &n, &up)) > 0) {
                lx->pos += n;
                if (lx->pos >= lx->end)
                    break;
            }
            if (k < 0) {
                t->kind = TK_ERR;
                t->off = lx->pos;
                return;
            }
        }
    } else if (c == '/' && lx->pos + 2 < lx->end && s[lx->pos + 1] == '*' &&
               s[lx->pos + 2] == '+') {
        /* a hint opener is a token in Spark: what follows is lexed, not skipped */
        t->kind = TK_PUNCT;
        lx->pos += 3;
    } else {
        t->kind = TK_PUNCT;
        lx->pos++;
    }
    t->len = lx->pos - t->off;
}

static void
sqlclass_peek(const struct sqlclass_lex *lx, struct sqlclass_tok *t)
{
    struct sqlclass_lex copy = *lx;

    sqlclass_next(&copy, t);
}

/* Is |t| the keyword |kw| (upper case) as Spark's lexer reads it? */
static bool
sqlclass_kw(const struct sqlclass_lex *lx, const struct sqlclass_tok *t, const char *kw)
{
    size_t i;

    (void)lx;
    if (t->kind != TK_WORD || t->nup > SQLCLASS_KW_MAX)
        return false;
    /* kw's NUL differs from every word character, so this stops inside kw */
    for (i = 0; i < t->nup; i++)
        if (t->up[i] != (unsigned char)kw[i])
            return false;
    return kw[i] == '\0';
}

static bool
sqlclass_ch(const struct sqlclass_lex *lx, const struct sqlclass_tok *t, char ch)
{
    return t->kind == TK_PUNCT && t->len == 1 && lx->s[t->off] == (unsigned char)ch;
}

/* After an opening '(' was read: skips to its matching ')'.  False at the end. */
static bool
sqlclass_skip_parens(struct sqlclass_lex *lx)
{
    struct sqlclass_tok t;
    size_t depth = 1;

    for (;;) {
        sqlclass_next(lx, &t);
        if (t.kind == TK_EOF || t.kind == TK_ERR)
            return false;
        if (sqlclass_ch(lx, &t, '('))
            depth++;
        else if (sqlclass_ch(lx, &t, ')') && --depth == 0)
            return true;
    }
}

/* Is any remaining token of the statement the keyword |kw|?  Stops just after it. */
static bool
sqlclass_find_kw(struct sqlclass_lex *lx, const char *kw)
{
    struct sqlclass_tok t;

    for (;;) {
        sqlclass_next(lx, &t);
        if (t.kind == TK_EOF || t.kind == TK_ERR)
            return false;
        if (sqlclass_kw(lx, &t, kw))
            return true;
    }
}

/* After INSERT: OVERWRITE [LOCAL] DIRECTORY writes files anywhere the server can. */
static int
sqlclass_insert(struct sqlclass_lex *lx, const char **label)
{
    struct sqlclass_tok t;

    sqlclass_next(lx, &t);
    if (sqlclass_kw(lx, &t, "OVERWRITE")) {
        sqlclass_next(lx, &t);
        if (sqlclass_kw(lx, &t, "LOCAL"))
            sqlclass_next(lx, &t);
        if (sqlclass_kw(lx, &t, "DIRECTORY")) {
            *label = "INSERT OVERWRITE DIRECTORY";
            return SQLCLASS_ADMIN;
        }
    }
    *label = "INSERT";
    return SQLCLASS_DML;
}

/*
 * After CREATE [OR REPLACE] [TEMPORARY] FUNCTION: code-loading forms are
 * ADMIN.  Scans the whole statement, so a SQL body that merely mentions
 * USING x or AS 'x' is ADMIN too (stricter, never laxer).
 */
static int
sqlclass_create_function(struct sqlclass_lex *lx, const char **label)
{
    struct sqlclass_tok t, n;

    /* each token with the next one: one lexing per token, not two */
    for (sqlclass_next(lx, &t); t.kind != TK_EOF && t.kind != TK_ERR; t = n) {
        sqlclass_next(lx, &n);
        if (sqlclass_kw(lx, &t, "USING") && n.kind == TK_WORD) {
            if (sqlclass_kw(lx, &n, "JAR") || sqlclass_kw(lx, &n, "JARS"))
                *label = "CREATE FUNCTION ... USING JAR";
            else if (sqlclass_kw(lx, &n, "FILE") || sqlclass_kw(lx, &n, "FILES"))
                *label = "CREATE FUNCTION ... USING FILE";
            else if (sqlclass_kw(lx, &n, "ARCHIVE") || sqlclass_kw(lx, &n, "ARCHIVES"))
                *label = "CREATE FUNCTION ... USING ARCHIVE";
            else
                *label = "CREATE FUNCTION ... USING";
            return SQLCLASS_ADMIN;
        }
        if (sqlclass_kw(lx, &t, "AS") && n.kind == TK_STR) {
            *label = "CREATE FUNCTION ... AS class";
            return SQLCLASS_ADMIN;
        }
        if (sqlclass_kw(lx, &t, "LANGUAGE") && !sqlclass_kw(lx, &n, "SQL")) {
            *label = "CREATE FUNCTION ... LANGUAGE";
            return SQLCLASS_ADMIN;
        }
    }
    *label = "CREATE FUNCTION";
    return SQLCLASS_DDL;
}

/* First words that decide alone. */
static const struct {
    const char *kw;
    int cls;
    const char *label;
} sqlclass_first[] = {
    {"SELECT", SQLCLASS_QUERY, "SELECT"},
    {"VALUES", SQLCLASS_QUERY, "VALUES"},
    {"TABLE", SQLCLASS_QUERY, "TABLE"},
    {"SHOW", SQLCLASS_QUERY, "SHOW"},
    {"DESCRIBE", SQLCLASS_QUERY, "DESCRIBE"},
    {"DESC", SQLCLASS_QUERY, "DESCRIBE"},
    /* session-local: names an already configured catalog/namespace */
    {"USE", SQLCLASS_QUERY, "USE"},
    {"UPDATE", SQLCLASS_DML, "UPDATE"},
    {"DELETE", SQLCLASS_DML, "DELETE"},
    {"MERGE", SQLCLASS_DML, "MERGE"},
    {"ALTER", SQLCLASS_DDL, "ALTER"},
    {"DROP", SQLCLASS_DDL, "DROP"},
    {"TRUNCATE", SQLCLASS_DDL, "TRUNCATE"},
    {"REPLACE", SQLCLASS_DDL, "REPLACE TABLE"},
    /* MSCK REPAIR TABLE is Spark's alias of REPAIR TABLE: one class for both */
    {"REPAIR", SQLCLASS_DDL, "REPAIR TABLE"},
    {"MSCK", SQLCLASS_DDL, "MSCK REPAIR TABLE"},
    {"ANALYZE", SQLCLASS_DDL, "ANALYZE"},
    {"COMMENT", SQLCLASS_DDL, "COMMENT ON"},
    {"DECLARE", SQLCLASS_DDL, "DECLARE VARIABLE"},
    /* reads whatever path it names into a table */
    {"LOAD", SQLCLASS_ADMIN, "LOAD DATA"},
    {"SET", SQLCLASS_ADMIN, "SET"},
    {"RESET", SQLCLASS_ADMIN, "RESET"},
    {"CACHE", SQLCLASS_ADMIN, "CACHE"},
    {"UNCACHE", SQLCLASS_ADMIN, "UNCACHE"},
    {"CLEAR", SQLCLASS_ADMIN, "CLEAR CACHE"},
    {"REFRESH", SQLCLASS_ADMIN, "REFRESH"},
    /* the SQL that runs is a run-time value */
    {"EXECUTE", SQLCLASS_UNKNOWN, "EXECUTE IMMEDIATE"},
    /* a procedure may do anything its catalog implements */
    {"CALL", SQLCLASS_UNKNOWN, "CALL"},
};

/* ADD x / LIST x: label by resource kind. */
static int
sqlclass_resource(struct sqlclass_lex *lx, bool add, const char **label)
{
    struct sqlclass_tok t;

    sqlclass_next(lx, &t);
    if (sqlclass_kw(lx, &t, "JAR") || sqlclass_kw(lx, &t, "JARS"))
        *label = add ? "ADD JAR" : "LIST JAR";
    else if (sqlclass_kw(lx, &t, "FILE") || sqlclass_kw(lx, &t, "FILES"))
        *label = add ? "ADD FILE" : "LIST FILE";
    else if (sqlclass_kw(lx, &t, "ARCHIVE") || sqlclass_kw(lx, &t, "ARCHIVES"))
        *label = add ? "ADD ARCHIVE" : "LIST ARCHIVE";
    else
        *label = add ? "ADD" : "LIST";
    return SQLCLASS_ADMIN;
}

/*
 * Classifies one statement (no ';' inside, not a script).  lx->end is the
 * statement's end.
 */
static int
sqlclass_stmt(struct sqlclass_lex *lx, const char **label)
{
    struct sqlclass_tok t;
    bool explain = false;
    int cls = SQLCLASS_UNKNOWN;
    size_t i;

    *label = "unrecognised statement";
    sqlclass_next(lx, &t);
    if (t.kind == TK_EOF) {
        *label = "empty";
        return SQLCLASS_EMPTY;
    }
dispatch:
    /* "(SELECT 1)", "((WITH ...))" */
    while (sqlclass_ch(lx, &t, '('))
        sqlclass_next(lx, &t);
    if (t.kind != TK_WORD)
        goto out;
    if (sqlclass_kw(lx, &t, "EXPLAIN")) {
        /* EXPLAIN [EXTENDED|CODEGEN|COST|FORMATTED|LOGICAL] <stmt> plans, never runs it */
        explain = true;
        sqlclass_next(lx, &t);
        if (sqlclass_kw(lx, &t, "EXTENDED") || sqlclass_kw(lx, &t, "CODEGEN") ||
            sqlclass_kw(lx, &t, "COST") || sqlclass_kw(lx, &t, "FORMATTED") ||
            sqlclass_kw(lx, &t, "LOGICAL"))
            sqlclass_next(lx, &t);
        goto dispatch;
    }
    if (sqlclass_kw(lx, &t, "WITH")) {
        /* skip the CTEs: name [(cols)] [AS] (query) [, ...]; the main statement decides */
        sqlclass_next(lx, &t);
        if (sqlclass_kw(lx, &t, "RECURSIVE"))
            sqlclass_next(lx, &t);
        for (;;) {
            if (t.kind != TK_WORD && t.kind != TK_QID)
                goto out;
            sqlclass_next(lx, &t);
            if (sqlclass_ch(lx, &t, '(')) {
                if (!sqlclass_skip_parens(lx))
                    goto out;
                sqlclass_next(lx, &t);
            }
            if (sqlclass_kw(lx, &t, "AS"))
                sqlclass_next(lx, &t);
            if (!sqlclass_ch(lx, &t, '(') || !sqlclass_skip_parens(lx))
                goto out;
            sqlclass_next(lx, &t);
            if (!sqlclass_ch(lx, &t, ','))
                break;
            sqlclass_next(lx, &t);
        }
        goto dispatch;
    }
    if (sqlclass_kw(lx, &t, "FROM")) {
        /* FROM t INSERT INTO ... [INSERT ...] is a (multi-)insert */
        if (sqlclass_find_kw(lx, "INSERT")) {
            cls = sqlclass_insert(lx, label);
            /* a later INSERT OVERWRITE DIRECTORY outranks an INSERT INTO */
            while (cls == SQLCLASS_DML && sqlclass_find_kw(lx, "INSERT"))
                cls = sqlclass_insert(lx, label);
        } else {
            cls = SQLCLASS_QUERY;
            *label = "SELECT";
        }
        goto out;
    }
    if (sqlclass_kw(lx, &t, "INSERT")) {
        cls = sqlclass_insert(lx, label);
        goto out;
    }
    if (sqlclass_kw(lx, &t, "CREATE")) {
        do {
            sqlclass_next(lx, &t);
        } while (sqlclass_kw(lx, &t, "OR") || sqlclass_kw(lx, &t, "REPLACE") ||
                 sqlclass_kw(lx, &t, "TEMPORARY") || sqlclass_kw(lx, &t, "TEMP"));
        if (sqlclass_kw(lx, &t, "FUNCTION")) {
            cls = sqlclass_create_function(lx, label);
        } else {
            cls = SQLCLASS_DDL;
            *label = "CREATE";
        }
        goto out;
    }
    if (sqlclass_kw(lx, &t, "ADD") || sqlclass_kw(lx, &t, "LIST")) {
        cls = sqlclass_resource(lx, sqlclass_kw(lx, &t, "ADD"), label);
        goto out;
    }
    for (i = 0; i < sizeof(sqlclass_first) / sizeof(sqlclass_first[0]); i++) {
        if (sqlclass_kw(lx, &t, sqlclass_first[i].kw)) {
            cls = sqlclass_first[i].cls;
            *label = sqlclass_first[i].label;
            break;
        }
    }
out:
    if (explain) {
        if (cls == SQLCLASS_UNKNOWN)
            return cls;
        *label = "EXPLAIN";
        return SQLCLASS_QUERY;
    }
    return cls;
}

static void
sqlclass_merge(struct sqlclass_acc *acc, int cls, int rank, size_t off, const char *label)
{
    if (rank > acc->strictest) {
        acc->strictest = rank;
        acc->cls = cls;
        acc->off = off;
        acc->label = label;
    }
}

/*
 * Reads tokens up to the next ';' (consumed) and classifies them as one
 * statement into |acc|.  False if the text ends first and |need_semi|.
 */
static bool
sqlclass_simple(struct sqlclass_lex *lx, struct sqlclass_acc *acc, bool need_semi)
{
    struct sqlclass_lex sub = *lx;
    struct sqlclass_tok t;
    const char *label;
    size_t start = SIZE_MAX;
    int cls;

    for (;;) {
        sqlclass_next(lx, &t);
        if (start == SIZE_MAX)
            start = t.off;
        if (t.kind == TK_ERR)
            return false;
        if (t.kind == TK_EOF) {
            if (need_semi)
                return false;
            break;
        }
        if (sqlclass_ch(lx, &t, ';'))
            break;
    }
    sub.pos = start;
    sub.end = t.off;
    cls = sqlclass_stmt(&sub, &label);
    sqlclass_merge(acc, cls, cls, start, label);
    return true;
}

/*
 * Skips a condition up to the keyword |term| at bracket level 0, counting
 * CASE ... END expressions so their THEN/END do not end it early.  Leaves
 * |term| unread if |keep|.  Conditions are expressions: at most QUERY.
 */
static bool
sqlclass_skip_cond(struct sqlclass_lex *lx, const char *term, bool keep)
{
    struct sqlclass_tok t;
    size_t cases = 0;

    for (;;) {
        struct sqlclass_lex before = *lx;

        sqlclass_next(lx, &t);
        if (t.kind == TK_EOF || t.kind == TK_ERR || sqlclass_ch(lx, &t, ';'))
            return false;
        if (sqlclass_ch(lx, &t, '(')) {
            if (!sqlclass_skip_parens(lx))
                return false;
        } else if (sqlclass_kw(lx, &t, "CASE")) {
            cases++;
        } else if (cases > 0 && sqlclass_kw(lx, &t, "END")) {
            cases--;
        } else if (cases == 0 && sqlclass_kw(lx, &t, term)) {
            if (keep)
                *lx = before;
            return true;
        }
    }
}

static bool
sqlclass_kw_any(const struct sqlclass_lex *lx, const struct sqlclass_tok *t, const char *const *kws)
{
    for (; *kws != NULL; kws++)
        if (sqlclass_kw(lx, t, *kws))
            return true;
    return false;
}

/* Skips through the next ';'.  False if the text ends first. */
static bool
sqlclass_skip_semi(struct sqlclass_lex *lx)
{
    struct sqlclass_tok t;

    for (;;) {
        sqlclass_next(lx, &t);
        if (t.kind == TK_EOF || t.kind == TK_ERR)
            return false;
        if (sqlclass_ch(lx, &t, ';'))
            return true;
    }
}

/*
 * DECLARE {EXIT|CONTINUE} HANDLER FOR cond [, cond]: skips the condition
 * list; the handler's body statement follows.
 */
static bool
sqlclass_handler(struct sqlclass_lex *lx)
{
    struct sqlclass_tok t;

    sqlclass_next(lx, &t);
    if (!sqlclass_kw(lx, &t, "HANDLER"))
        return false;
    sqlclass_next(lx, &t);
    if (!sqlclass_kw(lx, &t, "FOR"))
        return false;
    for (;;) {
        sqlclass_next(lx, &t);
        if (sqlclass_kw(lx, &t, "SQLSTATE")) {
            sqlclass_next(lx, &t);
            if (sqlclass_kw(lx, &t, "VALUE"))
                sqlclass_next(lx, &t);
            if (t.kind != TK_STR)
                return false;
        } else if (sqlclass_kw(lx, &t, "NOT")) {
            sqlclass_next(lx, &t);
            if (!sqlclass_kw(lx, &t, "FOUND"))
                return false;
        } else if (t.kind != TK_WORD && t.kind != TK_QID) {
            return false;
        }
        sqlclass_peek(lx, &t);
        if (!sqlclass_ch(lx, &t, ','))
            return true;
        sqlclass_next(lx, &t);
    }
}

static const char *const sqlclass_end_kinds[] = {
    "IF", "WHILE", "FOR", "CASE", "REPEAT", "LOOP", NULL,
};

/*
 * Walks a BEGIN ... END compound statement (Spark 4 SQL scripting) whose
 * first token is next, into |acc|, through END [label] and a following ';'.
 * Every statement inside ends with ';'.  False if it is malformed.
 */
static bool
sqlclass_script(struct sqlclass_lex *lx, struct sqlclass_acc *acc)
{
    struct sqlclass_tok t, n;
    size_t depth = 0;

    sqlclass_merge(acc, SQLCLASS_QUERY, SQLCLASS_QUERY, lx->pos, "BEGIN ... END");
    for (;;) {
        struct sqlclass_lex after = *lx;

        sqlclass_next(&after, &t); /* a peek whose end the label check goes on from */
        if (t.kind == TK_EOF || t.kind == TK_ERR)
            return false;
        if (sqlclass_ch(lx, &t, ';')) {
            if (depth == 0)
                return false;
            *lx = after;
            continue;
        }
        /* label: BEGIN | WHILE | LOOP | REPEAT | FOR */
        if (t.kind == TK_WORD || t.kind == TK_QID) {
            sqlclass_next(&after, &n);
            if (sqlclass_ch(&after, &n, ':')) {
                *lx = after;
                sqlclass_peek(lx, &t);
            }
        }
        if (depth == 0 && !sqlclass_kw(lx, &t, "BEGIN"))
            return false;
        if (sqlclass_kw(lx, &t, "BEGIN") || sqlclass_kw(lx, &t, "REPEAT") ||
            sqlclass_kw(lx, &t, "LOOP")) {
            sqlclass_next(lx, &t);
            depth++;
        } else if (sqlclass_kw(lx, &t, "ELSE")) {
            sqlclass_next(lx, &t);
        } else if (sqlclass_kw(lx, &t, "IF") || sqlclass_kw(lx, &t, "ELSEIF") ||
                   sqlclass_kw(lx, &t, "WHEN")) {
            if (sqlclass_kw(lx, &t, "IF"))
                depth++;
            sqlclass_next(lx, &t);
            if (!sqlclass_skip_cond(lx, "THEN", false))
                return false;
        } else if (sqlclass_kw(lx, &t, "WHILE")) {
            depth++;
            sqlclass_next(lx, &t);
            if (!sqlclass_skip_cond(lx, "DO", false))
                return false;
        } else if (sqlclass_kw(lx, &t, "CASE")) {
            /* CASE [operand] WHEN cond THEN ...: the operand ends at WHEN */
            depth++;
            sqlclass_next(lx, &t);
            if (!sqlclass_skip_cond(lx, "WHEN", true))
                return false;
        } else if (sqlclass_kw(lx, &t, "UNTIL")) {
            sqlclass_next(lx, &t);
            if (!sqlclass_skip_cond(lx, "END", true))
                return false;
        } else if (sqlclass_kw(lx, &t, "FOR")) {
            /* FOR [var AS] query DO: the query is classified like any statement */
            struct sqlclass_lex sub;
            const char *label;
            int cls;

            depth++;
            sqlclass_next(lx, &t);
            sub = *lx;
            sqlclass_next(&sub, &t);
            sqlclass_next(&sub, &n);
            if ((t.kind == TK_WORD || t.kind == TK_QID) && sqlclass_kw(&sub, &n, "AS"))
                *lx = sub;
            sub = *lx;
            if (!sqlclass_skip_cond(lx, "DO", true))
                return false;
            sqlclass_peek(lx, &t);
            sub.end = t.off;
            sqlclass_next(lx, &t);
            cls = sqlclass_stmt(&sub, &label);
            sqlclass_merge(acc, cls, cls, sub.pos, label);
        } else if (sqlclass_kw(lx, &t, "END")) {
            sqlclass_next(lx, &t);
            depth--;
            sqlclass_peek(lx, &t);
            if (sqlclass_kw_any(lx, &t, sqlclass_end_kinds)) {
                sqlclass_next(lx, &t);
                sqlclass_peek(lx, &t);
            }
            if (t.kind == TK_WORD || t.kind == TK_QID) {
                sqlclass_next(lx, &t); /* end label */
                sqlclass_peek(lx, &t);
            }
            if (t.kind == TK_EOF && depth == 0)
                return true;
            if (!sqlclass_ch(lx, &t, ';'))
                return false;
            sqlclass_next(lx, &t);
            if (depth == 0)
                return true;
        } else if (sqlclass_kw(lx, &t, "DECLARE")) {
            /* block-local variable, condition or handler: gone when the block ends */
            sqlclass_next(lx, &t);
            sqlclass_peek(lx, &t);
            if (sqlclass_kw(lx, &t, "EXIT") || sqlclass_kw(lx, &t, "CONTINUE")) {
                sqlclass_next(lx, &t);
                if (!sqlclass_handler(lx))
                    return false;
            } else if (!sqlclass_skip_semi(lx)) {
                return false;
            }
        } else if (sqlclass_kw(lx, &t, "LEAVE") || sqlclass_kw(lx, &t, "ITERATE")) {
            /* LEAVE label; ITERATE label; */
            sqlclass_next(lx, &t);
            sqlclass_next(lx, &t);
            if (t.kind != TK_WORD && t.kind != TK_QID)
                return false;
            sqlclass_next(lx, &t);
            if (!sqlclass_ch(lx, &t, ';'))
                return false;
        } else if (!sqlclass_simple(lx, acc, true)) {
            return false;
        }
    }
}

int
sqlclass_classify(const char *sql, size_t len, struct sqlclass_result *out)
{
    struct sqlclass_acc acc = {SQLCLASS_EMPTY, SQLCLASS_EMPTY, 0, "empty"};
    struct sqlclass_lex lx;
    struct sqlclass_tok t;
    size_t nstmt = 0;

    if (sql == NULL && len > 0) {
        acc.label = "no text";
        goto unknown;
    }
    lx.s = (const unsigned char *)sql;
    lx.end = len;
    lx.pos = 0;
    lx.err = NULL;
    /* one pass over the raw bytes: NUL, "${" and UTF-8 */
    for (size_t i = 0; i < len;) {
        unsigned char c = lx.s[i];
        uint32_t cp;
        size_t n;

        if (c >= 0x80) {
            if ((n = sqlclass_utf8(lx.s, i, len, &cp)) == 0) {
                /* protobuf-java refuses the message; never call it a query */
                acc.label = "invalid UTF-8";
                acc.off = i;
                goto unknown;
            }
            i += n;
            continue;
        }
        if (c == '\0') {
            acc.label = "NUL byte";
            acc.off = i;
            goto unknown;
        }
        if (c == '$' && i + 1 < len && lx.s[i + 1] == '{') {
            acc.label = "${...} substitution";
            acc.off = i;
            goto unknown;
        }
        i++;
    }
    /*
     * The statement walk below reads every token of the text and fails on the
     * first unclosed comment or quote or unlexable character, so the text is
     * lexed once here, not once to check it and once more to classify it.
     */
    for (;;) {
        struct sqlclass_acc one = {SQLCLASS_EMPTY, SQLCLASS_EMPTY, 0, "empty"};
        struct sqlclass_lex after = lx;
        struct sqlclass_tok n;

        sqlclass_next(&after, &t);
        if (t.kind == TK_EOF)
            break;
        if (t.kind == TK_ERR)
            goto bad;
        if (sqlclass_ch(&after, &t, ';')) {
            lx = after;
            continue;
        }
        nstmt++;
        /* [label:] BEGIN opens a script */
        n = t;
        if (t.kind == TK_WORD || t.kind == TK_QID) {
            struct sqlclass_tok colon;

            sqlclass_next(&after, &colon);
            if (sqlclass_ch(&after, &colon, ':'))
                sqlclass_next(&after, &n);
        }
        if (sqlclass_kw(&after, &n, "BEGIN")) {
            if (!sqlclass_script(&lx, &one))
                goto bad;
            sqlclass_merge(&acc, SQLCLASS_SCRIPT, one.strictest, t.off, one.label);
        } else if (!sqlclass_simple(&lx, &acc, false)) {
            goto bad;
        }
    }
    out->cls = acc.cls;
    out->strictest = acc.strictest;
    out->nstmt = nstmt;
    out->off = acc.off;
    out->label = acc.label;
    return out->strictest;

bad:
    /*
     * Rare, so the text is lexed again to say why: the first unclosed
     * comment or quote or unlexable character refuses the whole text, else
     * the script that started at t.off is malformed.
     */
    acc.label = "malformed BEGIN ... END block";
    acc.off = t.off;
    lx.pos = 0;
    do {
        sqlclass_next(&lx, &t);
    } while (t.kind != TK_EOF && t.kind != TK_ERR);
    if (t.kind == TK_ERR) {
        acc.label = lx.err;
        acc.off = t.off;
        nstmt = 0;
    }
unknown:
    out->cls = SQLCLASS_UNKNOWN;
    out->strictest = SQLCLASS_UNKNOWN;
    out->nstmt = nstmt;
    out->off = acc.off;
    out->label = acc.label;
    return SQLCLASS_UNKNOWN;
}

const char *
sqlclass_name(int cls)
{
    static const char *const names[] = {
        "EMPTY", "QUERY", "DML", "DDL", "ADMIN", "UNKNOWN", "SCRIPT",
    };

    if (cls < 0 || cls >= (int)(sizeof(names) / sizeof(names[0])))
        return "?";
    return names[cls];
}
