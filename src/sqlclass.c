/*
 * sqlclass.c: classify Spark SQL text (see sqlclass.h for the rules).
 *
 * Three passes, each a forward walk with an explicit cursor: the raw bytes
 * are checked for NUL and "${"; the whole text is lexed once so that an
 * unterminated comment or quote refuses it before anything else; then the
 * statements are classified.  Each statement is lexed a bounded number of
 * times (find its end, classify it), so the whole is linear.  Nothing
 * recurses: EXPLAIN and WITH loop back to the dispatch, scripts keep a
 * nesting counter instead of a stack.
 *
 * The classifier errs towards the stricter class: a column called "insert"
 * after FROM makes the statement DML, a string after AS in CREATE FUNCTION
 * makes it ADMIN.  Being wrong that way refuses a query; being wrong the
 * other way would let a statement through.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "sqlclass.h"

enum sqlclass_tk {
    TK_EOF,
    TK_WORD,  /* identifier, keyword or number */
    TK_STR,   /* '...', "...", R'...' */
    TK_QID,   /* `...` */
    TK_PUNCT, /* anything else, one byte (three for a hint opener) */
    TK_ERR,   /* unterminated comment or quote */
};

struct sqlclass_tok {
    enum sqlclass_tk kind;
    size_t off, len;
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

/*
 * Length of a Unicode space Spark's WS rule skips (UTF-8) at s[pos], or 0.
 * Treating these as identifier bytes would hide a keyword boundary Spark
 * sees ("FROM t<NBSP>INSERT ...").
 */
static size_t
sqlclass_uws_len(const unsigned char *s, size_t pos, size_t end)
{
    size_t n = end - pos;

    if (n >= 2 && s[pos] == 0xc2 && s[pos + 1] == 0xa0)
        return 2;
    if (n < 3)
        return 0;
    if (s[pos] == 0xe1 && s[pos + 1] == 0x9a && s[pos + 2] == 0x80)
        return 3; /* U+1680 */
    if (s[pos] == 0xe2 && s[pos + 1] == 0x80 &&
        (s[pos + 2] <= 0x8a || s[pos + 2] == 0xa8 || s[pos + 2] == 0xaf) && s[pos + 2] >= 0x80)
        return 3; /* U+2000..U+200A, U+2028, U+202F */
    if (s[pos] == 0xe2 && s[pos + 1] == 0x81 && s[pos + 2] == 0x9f)
        return 3; /* U+205F */
    if (s[pos] == 0xe3 && s[pos + 1] == 0x80 && s[pos + 2] == 0x80)
        return 3; /* U+3000 */
    return 0;
}

static bool
sqlclass_is_letter(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c >= 0x80;
}

static bool
sqlclass_is_word(unsigned char c)
{
    return sqlclass_is_letter(c) || (c >= '0' && c <= '9') || c == '_';
}

/* The characters Spark's IDENTIFIER allows after "://" (a URI path). */
static bool
sqlclass_is_uri(unsigned char c)
{
    return sqlclass_is_word(c) || (c != '\0' && strchr("/-.?=&#%", c) != NULL);
}

/* Skips blanks and comments; returns false (and sets lx->err) on an unclosed comment. */
static bool
sqlclass_skip_blank(struct sqlclass_lex *lx)
{
    const unsigned char *s = lx->s;
    size_t n;

    while (lx->pos < lx->end) {
        unsigned char c = s[lx->pos];

        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            lx->pos++;
        } else if ((n = sqlclass_uws_len(s, lx->pos, lx->end)) > 0) {
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

static void
sqlclass_next(struct sqlclass_lex *lx, struct sqlclass_tok *t)
{
    const unsigned char *s = lx->s;
    unsigned char c;

    t->len = 0;
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
    } else if (sqlclass_is_word(c) && sqlclass_uws_len(s, lx->pos, lx->end) == 0) {
        bool letters = true;

        while (lx->pos < lx->end && sqlclass_is_word(s[lx->pos]) &&
               sqlclass_uws_len(s, lx->pos, lx->end) == 0) {
            if (!sqlclass_is_letter(s[lx->pos]))
                letters = false;
            lx->pos++;
        }
        t->kind = TK_WORD;
        if (lx->pos - t->off == 1 && (c | 0x20) == 'r' && lx->pos < lx->end &&
            (s[lx->pos] == '\'' || s[lx->pos] == '"')) {
            /* raw string: no escapes, so R'\' is complete */
            t->kind = sqlclass_scan_quoted(lx, s[lx->pos], false) ? TK_STR : TK_ERR;
        } else if (letters && lx->end - lx->pos > 3 && memcmp(s + lx->pos, "://", 3) == 0 &&
                   sqlclass_is_uri(s[lx->pos + 3])) {
            /* Spark's IDENTIFIER takes "file:///x" whole, so "/" "*" there opens no comment */
            lx->pos += 3;
            while (lx->pos < lx->end && sqlclass_is_uri(s[lx->pos]) &&
                   sqlclass_uws_len(s, lx->pos, lx->end) == 0)
                lx->pos++;
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

/* Is |t| the keyword |kw| (upper case), in any case? */
static bool
sqlclass_kw(const struct sqlclass_lex *lx, const struct sqlclass_tok *t, const char *kw)
{
    size_t i;

    if (t->kind != TK_WORD || t->len != strlen(kw))
        return false;
    for (i = 0; i < t->len; i++) {
        unsigned char c = lx->s[t->off + i];

        if (c >= 'a' && c <= 'z')
            c = (unsigned char)(c - 'a' + 'A');
        if (c != (unsigned char)kw[i])
            return false;
    }
    return true;
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

    for (;;) {
        sqlclass_next(lx, &t);
        if (t.kind == TK_EOF || t.kind == TK_ERR)
            break;
        sqlclass_peek(lx, &n);
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
    size_t start;
    int cls;

    sqlclass_peek(lx, &t);
    start = t.off;
    for (;;) {
        sqlclass_next(lx, &t);
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
sqlclass_kw_any(const struct sqlclass_lex *lx, const struct sqlclass_tok *t,
                const char *const *kws)
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
        sqlclass_peek(lx, &t);
        if (t.kind == TK_EOF || t.kind == TK_ERR)
            return false;
        if (sqlclass_ch(lx, &t, ';')) {
            if (depth == 0)
                return false;
            sqlclass_next(lx, &t);
            continue;
        }
        /* label: BEGIN | WHILE | LOOP | REPEAT | FOR */
        if (t.kind == TK_WORD || t.kind == TK_QID) {
            struct sqlclass_lex after = *lx;

            sqlclass_next(&after, &n);
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
    if (len > 0 && memchr(sql, '\0', len) != NULL) {
        acc.label = "NUL byte";
        goto unknown;
    }
    for (size_t i = 0; i + 1 < len; i++) {
        if (sql[i] == '$' && sql[i + 1] == '{') {
            acc.label = "${...} substitution";
            acc.off = i;
            goto unknown;
        }
    }
    /* one lexing pass first: an unclosed comment or quote refuses the whole text */
    do {
        sqlclass_next(&lx, &t);
    } while (t.kind != TK_EOF && t.kind != TK_ERR);
    if (t.kind == TK_ERR) {
        acc.label = lx.err;
        acc.off = t.off;
        goto unknown;
    }
    lx.pos = 0;
    for (;;) {
        struct sqlclass_acc one = {SQLCLASS_EMPTY, SQLCLASS_EMPTY, 0, "empty"};
        struct sqlclass_lex after;
        struct sqlclass_tok n;

        sqlclass_peek(&lx, &t);
        if (t.kind == TK_EOF)
            break;
        if (sqlclass_ch(&lx, &t, ';')) {
            sqlclass_next(&lx, &t);
            continue;
        }
        nstmt++;
        /* [label:] BEGIN opens a script */
        after = lx;
        sqlclass_next(&after, &n);
        if (n.kind == TK_WORD || n.kind == TK_QID) {
            struct sqlclass_tok colon;

            sqlclass_next(&after, &colon);
            if (sqlclass_ch(&after, &colon, ':'))
                sqlclass_next(&after, &n);
        }
        if (sqlclass_kw(&after, &n, "BEGIN")) {
            if (!sqlclass_script(&lx, &one)) {
                acc.label = "malformed BEGIN ... END block";
                acc.off = t.off;
                goto unknown;
            }
            sqlclass_merge(&acc, SQLCLASS_SCRIPT, one.strictest, t.off, one.label);
        } else {
            sqlclass_simple(&lx, &acc, false);
        }
    }
    out->cls = acc.cls;
    out->strictest = acc.strictest;
    out->nstmt = nstmt;
    out->off = acc.off;
    out->label = acc.label;
    return out->strictest;

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
