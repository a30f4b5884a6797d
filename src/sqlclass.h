/*
 * sqlclass.h: classify Spark SQL text (per-profile SQL policy).
 *
 * Spark Connect carries SQL text in Relation.sql.query, SqlCommand.sql,
 * ExpressionString and pipeline definitions.  The policy layer asks this
 * module what kind of statement a text is and compares the answer with what
 * a profile allows.  Pure: no I/O, no allocation, no logging, no recursion;
 * linear in the length of the text; never reads past |len| (NUL bytes are
 * ordinary bytes, and make the text UNKNOWN).
 *
 * Lexing follows Spark's SqlBaseLexer.g4 (branch 4.x), because a classifier
 * that splits tokens differently from Spark can be fooled: "--" comments run
 * to the end of the line but a backslash-newline continues them; block
 * comments nest, except that "/" "*" "+" opens a hint (tokens, not a
 * comment) and does not nest inside a comment; '...' and "..." take
 * backslash escapes; R'...' and R"..." take none; `...` doubles its quote;
 * an identifier made of letters followed by "://" swallows a URI path.
 * Unicode spaces that Spark skips (U+00A0, U+2000..U+200A, ...) separate
 * tokens.
 *
 * Keywords are read as Spark reads them: its lexer upper-cases every code
 * point with Java's Character.toUpperCase before matching, so U+0131
 * (dotless i) is the letter I and U+017F (long s) the letter S
 * ("FROM t \u0131nsert \u0131nto u ..." is an INSERT).  sqlclass_fold_cp()
 * says which code points Spark reads as which ASCII letter (a table
 * generated from UnicodeData.txt).  Any other non-ASCII character outside
 * string literals, backquoted names and comments makes the text UNKNOWN:
 * Spark would lex it as part of a Unicode identifier or refuse it, and
 * the classifier does not guess which.  Text that is not valid UTF-8
 * (which protobuf-java refuses in a string field) is UNKNOWN too.
 *
 * Rules where Spark leaves us a choice (the "why" is in sqlclass.c):
 *  - EXPLAIN <stmt> is QUERY (Spark plans the statement, does not run it),
 *    unless <stmt> itself is UNKNOWN.
 *  - USE is QUERY (session-local, changes no data); SHOW/DESC[RIBE] QUERY.
 *  - LOAD DATA and INSERT OVERWRITE [LOCAL] DIRECTORY are ADMIN: they read
 *    or write arbitrary server paths, not catalog tables.
 *  - REPAIR TABLE and MSCK REPAIR TABLE are both DDL (the same command).
 *  - CREATE FUNCTION with USING <resource>, with a class name (AS 'cls'), or
 *    with a LANGUAGE other than SQL is ADMIN (loads code); a SQL-bodied
 *    function is DDL.
 *  - SET in any form (SET k=v, SET k, SET -v, SET CATALOG, SET VAR) and
 *    RESET are ADMIN; LIST JAR/FILE/ARCHIVE is ADMIN (reveals server paths).
 *  - DECLARE [VARIABLE] at top level is DDL (a session object, like a temp
 *    view); DECLARE inside a script is block-local and counts as QUERY.
 *  - EXECUTE IMMEDIATE, CALL, and anything unrecognised are UNKNOWN, as is
 *    text containing "${" anywhere (Spark substitutes ${var} in the raw text
 *    before lexing, so what runs is not what we read).
 *  - Empty text (blanks, comments, ';' only) is EMPTY: Spark rejects it with
 *    a parse error, so nothing runs; a policy may still refuse it.
 */
#ifndef SPARKGATE_SQLCLASS_H
#define SPARKGATE_SQLCLASS_H

#include <stddef.h>
#include <stdint.h>

/* Classes, in increasing order of strictness (SCRIPT is outside the order). */
enum sqlclass {
    SQLCLASS_EMPTY = 0,   /* no statement at all */
    SQLCLASS_QUERY = 1,   /* SELECT, WITH, VALUES, TABLE, FROM, SHOW, DESCRIBE, EXPLAIN, USE */
    SQLCLASS_DML = 2,     /* INSERT, UPDATE, DELETE, MERGE */
    SQLCLASS_DDL = 3,     /* CREATE/ALTER/DROP/TRUNCATE, REPAIR, MSCK, ANALYZE, COMMENT ON */
    SQLCLASS_ADMIN = 4,   /* ADD/LIST, code-loading CREATE FUNCTION, SET, RESET, CACHE, REFRESH */
    SQLCLASS_UNKNOWN = 5, /* unparsed, dynamic or malformed: refuse by default */
    SQLCLASS_SCRIPT = 6,  /* BEGIN ... END block: see sqlclass_result.strictest */
};

struct sqlclass_result {
    /*
     * Class of the deciding statement: the strictest one (the first of
     * equals), SQLCLASS_SCRIPT if that is a BEGIN ... END block.
     */
    int cls;
    /* What a policy compares: EMPTY..UNKNOWN, never SCRIPT; a script counts
     * as the strictest statement inside it. */
    int strictest;
    size_t nstmt;      /* top-level statements (a script counts once) */
    size_t off;        /* byte offset of the deciding statement */
    const char *label; /* static text for messages: "ADD JAR", "INSERT", ... */
};

/*
 * Classifies |len| bytes of |sql| into |out| and returns out->strictest.
 * Statements separated by ';' are classified one by one; scripts are
 * walked statement by statement.
 */
int sqlclass_classify(const char *sql, size_t len, struct sqlclass_result *out);

/*
 * The ASCII letter ('A'..'Z') Spark's SQL lexer reads for code point |cp|
 * (its Java simple uppercase mapping, when that is an ASCII letter), or 0:
 * 'a' and 'A' give 'A', U+0131 gives 'I', U+017F 'S', a digit or U+212A 0.
 */
int sqlclass_fold_cp(uint32_t cp);

/* "EMPTY", "QUERY", ... for an enum sqlclass value; "?" for others. */
const char *sqlclass_name(int cls);

#endif
