/*
 * check_sqlclass.c: unit tests for sqlclass.c (SQL statement classes).
 *
 * The table holds the text, the class a policy compares (strictest), the
 * class of the deciding statement and, where it matters for messages, the
 * label.  Cases that would let a statement through under a laxer class are
 * the point: comments, quotes and ';' are where a keyword filter is fooled.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "sqlclass.h"
#include "check_suites.h"

#define E SQLCLASS_EMPTY
#define Q SQLCLASS_QUERY
#define M SQLCLASS_DML
#define D SQLCLASS_DDL
#define A SQLCLASS_ADMIN
#define U SQLCLASS_UNKNOWN
#define S SQLCLASS_SCRIPT

struct sql_case {
    const char *sql;
    int strictest;
    int cls;           /* -1: same as strictest */
    const char *label; /* NULL: not checked */
};

static const struct sql_case sql_cases[] = {
    /* ---- empty ---- */
    {"", E, -1, "empty"},
    {"   \n\t ", E, -1, NULL},
    {"-- just a comment", E, -1, NULL},
    {"/* c */ ; ;; -- x\n", E, -1, NULL},

    /* ---- queries ---- */
    {"SELECT 1", Q, -1, "SELECT"},
    {"select 1", Q, -1, "SELECT"},
    {"SeLeCt * from t", Q, -1, NULL},
    {"  \n SELECT 1  \n ", Q, -1, NULL},
    {"SELECT 1;", Q, -1, NULL},
    {"(SELECT 1)", Q, -1, NULL},
    {"((SELECT 1)) UNION (SELECT 2)", Q, -1, NULL},
    {"WITH a AS (SELECT 1) SELECT * FROM a", Q, -1, "SELECT"},
    {"WITH a (x) AS (SELECT 1), b AS (SELECT 2) SELECT * FROM a, b", Q, -1, NULL},
    {"WITH RECURSIVE r AS (SELECT 1 UNION ALL SELECT 2 FROM r) SELECT * FROM r", Q, -1, NULL},
    {"WITH `x y` AS (SELECT 1) SELECT 1", Q, -1, NULL},
    {"(WITH a AS (SELECT 1) SELECT * FROM a)", Q, -1, NULL},
    {"VALUES (1), (2)", Q, -1, "VALUES"},
    {"TABLE t", Q, -1, "TABLE"},
    {"FROM t SELECT a", Q, -1, NULL},
    {"SHOW TABLES", Q, -1, "SHOW"},
    {"show create table t", Q, -1, NULL},
    {"DESCRIBE TABLE t", Q, -1, "DESCRIBE"},
    {"DESC t", Q, -1, "DESCRIBE"},
    {"desc extended t", Q, -1, NULL},
    {"USE db", Q, -1, "USE"},
    {"USE CATALOG c", Q, -1, NULL},
    {"EXPLAIN SELECT 1", Q, -1, "EXPLAIN"},
    {"EXPLAIN EXTENDED SELECT 1", Q, -1, NULL},
    {"EXPLAIN FORMATTED INSERT INTO t VALUES (1)", Q, -1, "EXPLAIN"},
    {"EXPLAIN CODEGEN DROP TABLE t", Q, -1, NULL},
    {"EXPLAIN ADD JAR x.jar", Q, -1, NULL},
    {"EXPLAIN EXECUTE IMMEDIATE 'DROP TABLE t'", U, -1, NULL},
    {"EXPLAIN", U, -1, NULL},
    {"EXPLAIN EXPLAIN SELECT 1", Q, -1, NULL},
    {"SELECT /*+ BROADCAST(t) */ * FROM t", Q, -1, NULL},
    {"SELECT 'ADD JAR x; DROP TABLE t' AS s", Q, -1, NULL},
    {"SELECT \"a;b\" FROM t", Q, -1, NULL},
    {"SELECT `weird;name` FROM t", Q, -1, NULL},
    {"SELECT `a``;b` FROM t", Q, -1, NULL},
    {"SELECT 'it\\'s; ok'", Q, -1, NULL},
    {"SELECT \"q\\\"; ADD JAR x\"", Q, -1, NULL},
    {"SELECT 'a''; b'", Q, -1, NULL},
    {"SELECT R'\\' AS r", Q, -1, NULL},
    {"SELECT r\"\\\" AS r", Q, -1, NULL},
    {"SELECT CASE WHEN a THEN 1 ELSE 2 END FROM t", Q, -1, NULL},
    {"/**/SELECT 1", Q, -1, NULL},
    {"/* lead */ SELECT /* mid */ 1 /* tail */", Q, -1, NULL},
    {"-- c\nSELECT 1 -- c", Q, -1, NULL},
    {"/* /* nested */ still comment */ SELECT 1", Q, -1, NULL},
    {"SELECT 1 /* ; ADD JAR x */", Q, -1, NULL},
    {"SELECT 1 -- ; ADD JAR x", Q, -1, NULL},
    {"SELECT\xc2\xa0"
     "1",
     Q, -1, NULL},
    {"SELECT\xe3\x80\x80"
     "1",
     Q, -1, NULL},
    {"SELECT insert FROM t", Q, -1, NULL},

    /* ---- comments Spark ends differently from a naive lexer ---- */
    /* backslash-newline continues a -- comment: the ADD JAR is commented out */
    {"SELECT 1 -- x \\\nADD JAR y", Q, -1, NULL},
    /* ... and a quote on the continued line does not open a string */
    {"SELECT 1 --\\\n'\n; ADD JAR x --'", A, -1, "ADD JAR"},
    {"SELECT 1 -- x\r\n; ADD JAR y", A, -1, "ADD JAR"},
    /* a nested opener needs its own closer */
    {"/* /* */ ADD JAR x", U, -1, "unterminated comment"},
    {"/* /* */ */ ADD JAR x", A, -1, "ADD JAR"},
    /* "/" "*" "+" inside a comment does not nest */
    {"/* /*+ */ ADD JAR x", A, -1, NULL},
    /* a hint's contents are tokens: its quotes are quotes */
    {"SELECT /*+ ' */ 1; ADD JAR x; ' */ 1", Q, -1, NULL},
    /* a URI identifier swallows "/" "*" */
    {"SELECT * FROM a:///*; ADD JAR x; --*/", A, -1, "ADD JAR"},
    {"SEL/**/ECT 1", U, -1, NULL},
    {"SEL--x\nECT 1", U, -1, NULL},

    /* ---- DML ---- */
    {"INSERT INTO t VALUES (1)", M, -1, "INSERT"},
    {"insert overwrite table t select 1", M, -1, "INSERT"},
    {"UPDATE t SET a = 1", M, -1, "UPDATE"},
    {"DELETE FROM t WHERE a = 1", M, -1, "DELETE"},
    {"MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE", M, -1, "MERGE"},
    {"WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a", M, -1, "INSERT"},
    {"WITH a AS (SELECT ';') INSERT INTO t SELECT * FROM a", M, -1, NULL},
    {"FROM s INSERT INTO t SELECT a", M, -1, "INSERT"},
    {"FROM s INSERT INTO t SELECT a INSERT INTO u SELECT b", M, -1, NULL},
    {"(INSERT INTO t VALUES (1))", M, -1, NULL},
    {"/* x */ insert /* y */ into t values (1)", M, -1, NULL},

    /* ---- file access ---- */
    {"INSERT OVERWRITE DIRECTORY '/tmp/x' SELECT 1", A, -1, "INSERT OVERWRITE DIRECTORY"},
    {"INSERT OVERWRITE LOCAL DIRECTORY '/tmp/x' SELECT 1", A, -1, NULL},
    {"FROM s INSERT INTO t SELECT a INSERT OVERWRITE DIRECTORY '/x' SELECT b", A, -1, NULL},
    {"WITH a AS (SELECT 1) INSERT OVERWRITE DIRECTORY '/x' SELECT * FROM a", A, -1, NULL},
    {"LOAD DATA LOCAL INPATH '/etc/passwd' INTO TABLE t", A, -1, "LOAD DATA"},

    /* ---- DDL ---- */
    {"CREATE TABLE t (a INT)", D, -1, "CREATE"},
    {"CREATE OR REPLACE TEMPORARY VIEW v AS SELECT 1", D, -1, NULL},
    {"CREATE TABLE t AS SELECT 1", D, -1, NULL},
    {"create database d", D, -1, NULL},
    {"CREATE SCHEMA s", D, -1, NULL},
    {"CREATE NAMESPACE n", D, -1, NULL},
    {"ALTER TABLE t ADD COLUMN b INT", D, -1, "ALTER"},
    {"DROP TABLE t", D, -1, "DROP"},
    {"DROP VIEW IF EXISTS v", D, -1, NULL},
    {"DROP TEMPORARY FUNCTION f", D, -1, NULL},
    {"TRUNCATE TABLE t", D, -1, "TRUNCATE"},
    {"REPLACE TABLE t USING parquet AS SELECT 1", D, -1, "REPLACE TABLE"},
    {"CREATE TABLE t USING csv LOCATION '/etc'", D, -1, "CREATE"},
    {"REPAIR TABLE t", D, -1, "REPAIR TABLE"},
    {"MSCK REPAIR TABLE t", D, -1, "MSCK REPAIR TABLE"},
    {"ANALYZE TABLE t COMPUTE STATISTICS", D, -1, "ANALYZE"},
    {"COMMENT ON TABLE t IS 'x'", D, -1, "COMMENT ON"},
    {"DECLARE VARIABLE v INT DEFAULT 1", D, -1, NULL},
    {"CREATE FUNCTION f(x INT) RETURNS INT RETURN x + 1", D, -1, "CREATE FUNCTION"},
    {"CREATE TEMPORARY FUNCTION f() RETURNS TABLE (a INT) RETURN SELECT 1", D, -1, NULL},
    {"CREATE FUNCTION f(x INT) RETURNS INT LANGUAGE SQL RETURN x", D, -1, NULL},

    /* ---- admin ---- */
    {"ADD JAR /tmp/evil.jar", A, -1, "ADD JAR"},
    {"add jars a.jar b.jar", A, -1, "ADD JAR"},
    {"ADD FILE /tmp/x", A, -1, "ADD FILE"},
    {"ADD ARCHIVE /tmp/x.zip", A, -1, "ADD ARCHIVE"},
    {"LIST JAR", A, -1, "LIST JAR"},
    {"LIST FILES", A, -1, "LIST FILE"},
    {"CREATE FUNCTION f AS 'com.x.F' USING JAR '/tmp/f.jar'", A, -1, NULL},
    {"CREATE TEMPORARY FUNCTION f AS 'com.x.F' USING JAR 'hdfs:///f.jar'", A, -1, NULL},
    {"CREATE FUNCTION f USING FILE '/x'", A, -1, "CREATE FUNCTION ... USING FILE"},
    {"CREATE FUNCTION f USING ARCHIVE '/x'", A, -1, "CREATE FUNCTION ... USING ARCHIVE"},
    {"CREATE FUNCTION f USING JAR '/x'", A, -1, "CREATE FUNCTION ... USING JAR"},
    {"CREATE OR REPLACE FUNCTION f AS 'com.x.F'", A, -1, "CREATE FUNCTION ... AS class"},
    {"CREATE FUNCTION f(x INT) RETURNS INT LANGUAGE PYTHON AS $$ return x $$", A, -1, NULL},
    {"SET spark.sql.ansi.enabled=true", A, -1, "SET"},
    {"SET spark.sql.ansi.enabled", A, -1, NULL},
    {"SET -v", A, -1, NULL},
    {"SET", A, -1, NULL},
    {"set `a;b` = 1", A, -1, NULL},
    {"SET CATALOG c", A, -1, NULL},
    {"SET VAR v = 1", A, -1, NULL},
    {"RESET", A, -1, "RESET"},
    {"RESET spark.sql.ansi.enabled", A, -1, NULL},
    {"CACHE TABLE t", A, -1, "CACHE"},
    {"CACHE LAZY TABLE t AS SELECT 1", A, -1, NULL},
    {"UNCACHE TABLE t", A, -1, "UNCACHE"},
    {"CLEAR CACHE", A, -1, "CLEAR CACHE"},
    {"REFRESH TABLE t", A, -1, "REFRESH"},
    {"REFRESH '/path'", A, -1, NULL},

    /* ---- several statements: the strictest decides ---- */
    {"SELECT 1; ADD JAR x", A, -1, "ADD JAR"},
    {"SELECT 1;ADD JAR x;", A, -1, NULL},
    {"SELECT 1; INSERT INTO t VALUES (1); SELECT 2", M, -1, "INSERT"},
    {"SELECT 1; DROP TABLE t; INSERT INTO t VALUES (1)", D, -1, "DROP"},
    {"SELECT ';'; SELECT 2", Q, -1, NULL},
    {"SELECT 1 /* ; */; /* ; */ SET a=b", A, -1, NULL},
    {"SELECT 1; foo", U, -1, NULL},
    {"SELECT 1; BEGIN SELECT 1; END", Q, -1, "SELECT"},
    {"BEGIN SELECT 1; END; SELECT 1", Q, S, "BEGIN ... END"},

    /* ---- dynamic or unknown ---- */
    {"EXECUTE IMMEDIATE 'SELECT 1'", U, -1, "EXECUTE IMMEDIATE"},
    {"execute immediate sqlStr USING 1 AS x", U, -1, NULL},
    {"CALL cat.system.rewrite_data_files('t')", U, -1, "CALL"},
    {"DFS -ls /", U, -1, NULL},
    {"GRANT SELECT ON t TO u", U, -1, NULL},
    /* vendor extensions (Delta, Iceberg) are not Spark SQL: refused until listed */
    {"OPTIMIZE t", U, -1, NULL},
    {"VACUUM t", U, -1, NULL},
    {"'SELECT 1'", U, -1, NULL},
    {"()", U, -1, NULL},
    {"WITH a AS SELECT 1", U, -1, NULL},
    {"WITH a AS (SELECT 1", U, -1, NULL},
    {"SELECT '${x}'", U, -1, "${...} substitution"},
    {"FROM t ${x}", U, -1, NULL},
    {"SELECT 'abc", U, -1, "unterminated string"},
    {"SELECT \"abc", U, -1, NULL},
    {"SELECT `abc", U, -1, "unterminated quoted identifier"},
    {"SELECT 'abc\\'", U, -1, NULL},
    {"SELECT 1 /* abc", U, -1, "unterminated comment"},
    {"SELECT 1 /* /* */", U, -1, NULL},
    {"SELECT R'abc", U, -1, NULL},

    /* ---- scripts ---- */
    {"BEGIN SELECT 1; END", Q, S, "BEGIN ... END"},
    {"BEGIN END", Q, S, NULL},
    {"BEGIN SELECT 1; INSERT INTO t VALUES (1); END", M, S, "INSERT"},
    {"BEGIN SELECT 1; ADD JAR x; END;", A, S, "ADD JAR"},
    {"lbl: BEGIN SELECT 1; END lbl", Q, S, NULL},
    {"BEGIN DECLARE x INT DEFAULT 0; SELECT x; END", Q, S, NULL},
    {"BEGIN DECLARE x INT DEFAULT 0; SET x = 1; END", A, S, "SET"},
    {"BEGIN IF (SELECT count(*) FROM t) > 0 THEN DROP TABLE t; END IF; END", D, S, "DROP"},
    {"BEGIN IF a THEN SELECT 1; ELSEIF b THEN INSERT INTO t VALUES (1); ELSE SELECT 2; END IF;"
     " END",
     M, S, NULL},
    {"BEGIN IF CASE WHEN a THEN 1 END = 1 THEN SELECT 1; END IF; END", Q, S, NULL},
    {"BEGIN WHILE x < 10 DO SET x = x + 1; END WHILE; END", A, S, NULL},
    {"BEGIN l: WHILE true DO LEAVE l; END WHILE l; END", Q, S, NULL},
    {"BEGIN REPEAT SELECT 1; UNTIL x > 1 END REPEAT; END", Q, S, NULL},
    {"BEGIN LOOP ITERATE l; END LOOP; END", Q, S, NULL},
    {"BEGIN FOR r AS SELECT * FROM t DO SELECT r.a; END FOR; END", Q, S, NULL},
    {"BEGIN FOR SELECT * FROM t DO DELETE FROM u; END FOR; END", M, S, NULL},
    {"BEGIN CASE x WHEN 1 THEN SELECT 1; ELSE TRUNCATE TABLE t; END CASE; END", D, S, NULL},
    {"BEGIN CASE WHEN a THEN SELECT 1; END CASE; END", Q, S, NULL},
    {"BEGIN BEGIN ADD JAR x; END; END", A, S, "ADD JAR"},
    {"BEGIN DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN DROP TABLE t; END; SELECT 1; END", D, S,
     NULL},
    {"BEGIN DECLARE CONTINUE HANDLER FOR SQLSTATE VALUE '42000', NOT FOUND INSERT INTO t"
     " VALUES (1); END",
     M, S, NULL},
    {"BEGIN EXECUTE IMMEDIATE 'SELECT 1'; END", U, S, NULL},
    {"BEGIN SELECT 'END;' ; END", Q, S, NULL},
    {"BEGIN SELECT 1 END", U, -1, "malformed BEGIN ... END block"},
    {"BEGIN SELECT 1;", U, -1, NULL},
    {"BEGIN SELECT 1; END ADD JAR x", U, -1, NULL},
    {"BEGIN SELECT 1; END; ADD JAR x", A, -1, "ADD JAR"},
    {"BEGIN IF a THEN SELECT 1; END", U, -1, NULL},
    {"EXPLAIN BEGIN SELECT 1; END", U, -1, NULL},

    /* ---- Unicode: Spark upper-cases every code point (U+0131 is I, U+017F S) ---- */
    {"FROM src \xc4\xb1nsert \xc4\xb1nto dst SELECT *", M, -1, "INSERT"},
    {"FROM src \xc4\xb1nsert overwr\xc4\xb1te local d\xc4\xb1rectory '/x' SELECT *", A, -1,
     "INSERT OVERWRITE DIRECTORY"},
    {"CREATE FUNCT\xc4\xb1ON f AS 'c' USING JAR 'https://x/f.jar'", A, -1, NULL},
    {"FROM src IN\xc5\xbf"
     "ERT INTO dst SELECT *",
     M, -1, "INSERT"},
    {"\xc5\xbf"
     "ET spark.sql.ansi.enabled=false",
     A, -1, "SET"},
    {"SELECT 1; DROP TABLE t; \xc5\xbf"
     "ELECT 2",
     D, -1, "DROP"},
    {"ADD J\xc4\xb0R x", U, -1, NULL},      /* U+0130 upper-cases to itself */
    {"\xe2\x84\xaaILL QUERY", U, -1, NULL}, /* KELVIN SIGN is not K */
    {"r\xc4\xb1ght", U, -1, NULL},
    /* other non-ASCII outside quotes and comments: not guessed */
    {"SELECT caf\xc3\xa9 FROM t", U, -1, "non-ASCII character outside quotes and comments"},
    {"FROM src \xef\xbc\xa9NSERT INTO dst SELECT *", U, -1, NULL}, /* fullwidth I */
    {"SELECT 1 /*+ \xc3\xa9 */", U, -1, NULL}, /* a hint is lexed, not skipped */
    {"SELECT file://h/\xc3\xa9", U, -1, NULL},
    {"SELECT \xc2\xad"
     "1",
     U, -1, NULL}, /* soft hyphen: not a Spark space */
    /* inside quotes, backquotes and comments anything goes */
    {"SELECT '\xc4\xb1nsert \xc3\xa9', \"\xe4\xb8\xad\" FROM `caf\xc3\xa9`", Q, -1, "SELECT"},
    {"SELECT 1 -- \xc4\xb1nsert \xf0\x9f\x98\x80\n/* \xc3\xa9 /* \xc4\xb1 */ */ FROM t", Q, -1,
     NULL},
    {"SELECT R'\xc3\xa9' FROM t", Q, -1, NULL},
    {"SELECT\xc2\xa0"
     "1\xe3\x80\x80"
     "FROM\xe2\x80\x83t",
     Q, -1, "SELECT"},
    {"SELECT file://h/\xc5\xbf/x", Q, -1, NULL},
    {"SELECT \xc4\xb1"
     "d FROM t",
     Q, -1, NULL},
    /* not UTF-8: protobuf-java refuses it, so never a query */
    {"SELECT 1 \xc4", U, -1, "invalid UTF-8"},
    {"SELECT '\x80'", U, -1, "invalid UTF-8"},
    {"SELECT 1 -- \xc0\xaf", U, -1, "invalid UTF-8"},        /* overlong '/' */
    {"SELECT 1 /* \xe0\x80\xaf */", U, -1, "invalid UTF-8"}, /* overlong */
    {"SELECT `\xed\xa0\x80`", U, -1, "invalid UTF-8"},       /* surrogate */
    {"SELECT '\xf4\x90\x80\x80'", U, -1, "invalid UTF-8"},   /* above U+10FFFF */
    {"SELECT '\xf8\x88\x80\x80\x80'", U, -1, "invalid UTF-8"},
    {"FROM src \xc1\xa9nsert into dst SELECT *", U, -1, "invalid UTF-8"},
};

START_TEST(tc_table)
{
    const struct sql_case *c = &sql_cases[_i];
    struct sqlclass_result r;
    int want_cls = c->cls < 0 ? c->strictest : c->cls;
    int got = sqlclass_classify(c->sql, strlen(c->sql), &r);

    ck_assert_msg(got == c->strictest && r.strictest == c->strictest && r.cls == want_cls,
                  "case %d \"%s\": got %s/%s (%s), want %s/%s", _i, c->sql,
                  sqlclass_name(r.strictest), sqlclass_name(r.cls), r.label,
                  sqlclass_name(c->strictest), sqlclass_name(want_cls));
    ck_assert_ptr_nonnull(r.label);
    if (c->label != NULL)
        ck_assert_msg(strcmp(r.label, c->label) == 0, "case %d \"%s\": label \"%s\", want \"%s\"",
                      _i, c->sql, r.label, c->label);
    ck_assert_uint_le(r.off, strlen(c->sql));
}
END_TEST

START_TEST(tc_counts_and_offsets)
{
    struct sqlclass_result r;
    const char *t = "SELECT 1; ;  ADD JAR x; SELECT 2";

    sqlclass_classify(t, strlen(t), &r);
    ck_assert_uint_eq(r.nstmt, 3);
    ck_assert_uint_eq(r.off, 13);
    t = "BEGIN SELECT 1; SELECT 2; END; SELECT 3";
    sqlclass_classify(t, strlen(t), &r);
    ck_assert_uint_eq(r.nstmt, 2);
    ck_assert_int_eq(r.cls, SQLCLASS_SCRIPT);
    sqlclass_classify("", 0, &r);
    ck_assert_uint_eq(r.nstmt, 0);
    ck_assert_int_eq(sqlclass_classify(NULL, 0, &r), SQLCLASS_EMPTY);
    ck_assert_int_eq(sqlclass_classify(NULL, 3, &r), SQLCLASS_UNKNOWN);
    ck_assert_str_eq(sqlclass_name(SQLCLASS_ADMIN), "ADMIN");
    ck_assert_str_eq(sqlclass_name(99), "?");
}
END_TEST

/* The length is honoured: bytes past it are never classified or read. */
START_TEST(tc_explicit_length)
{
    struct sqlclass_result r;
    const char *t = "SELECT 1; ADD JAR x";

    ck_assert_int_eq(sqlclass_classify(t, 8, &r), SQLCLASS_QUERY);
    ck_assert_int_eq(sqlclass_classify("SELECT 'a'", 9, &r), SQLCLASS_UNKNOWN);
    ck_assert_int_eq(sqlclass_classify("$", 1, &r), SQLCLASS_UNKNOWN);
}
END_TEST

START_TEST(tc_nul_byte)
{
    static const char t1[] = "SELECT 1\0; ADD JAR x";
    static const char t2[] = "SELECT '\0'";
    struct sqlclass_result r;

    ck_assert_int_eq(sqlclass_classify(t1, sizeof(t1) - 1, &r), SQLCLASS_UNKNOWN);
    ck_assert_str_eq(r.label, "NUL byte");
    ck_assert_int_eq(sqlclass_classify(t2, sizeof(t2) - 1, &r), SQLCLASS_UNKNOWN);
}
END_TEST

/* UTF-8 of |cp| (any value below 0x110000, surrogates too) into |b|; returns the length. */
static size_t
u8enc(uint32_t cp, char *b)
{
    if (cp < 0x80) {
        b[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    b[0] = (char)(0xf0 | (cp >> 18));
    b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    b[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

#define NCP 0x110000u

/* The Spark spaces of SqlBaseLexer's WS rule outside ASCII. */
static bool
spark_uws(uint32_t cp)
{
    return cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
           cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/*
 * Simple uppercase mappings (field 12) of UnicodeData.txt into |up| (the
 * code point itself where the field is empty).  False if the file is not
 * there (Debian's unicode-data is not a build dependency).
 */
static bool
read_unicode_data(uint32_t *up)
{
    const char *path = getenv("SG_UNICODE_DATA");
    char line[512];
    FILE *f;
    size_t lines = 0;

    for (uint32_t cp = 0; cp < NCP; cp++)
        up[cp] = cp;
    f = fopen(path != NULL ? path : "/usr/share/unicode/UnicodeData.txt", "r");
    if (f == NULL)
        return false;
    while (fgets(line, sizeof(line), f) != NULL) {
        char *field[15], *p = line;
        int i;

        for (i = 0; i < 15 && p != NULL; i++) {
            field[i] = p;
            p = strchr(p, ';');
            if (p != NULL)
                *p++ = '\0';
        }
        ck_assert_int_eq(i, 15);
        if (field[12][0] != '\0') {
            unsigned long cp = strtoul(field[0], NULL, 16), u = strtoul(field[12], NULL, 16);

            ck_assert_uint_lt(cp, NCP);
            up[cp] = (uint32_t)u;
        }
        lines++;
    }
    fclose(f);
    ck_assert_uint_gt(lines, 30000);
    return true;
}

/*
 * Every code point: sqlclass_fold_cp() against Java's simple uppercase
 * mapping (UnicodeData.txt, when installed; the two known non-ASCII
 * pre-images otherwise), and the classifier's lexer against
 * sqlclass_fold_cp(): inside a word, a code point continues it iff it is
 * read as an ASCII letter, ends it iff it is a Spark space, and makes the
 * text UNKNOWN otherwise; inside a string literal it never matters.
 */
START_TEST(tc_fold_every_code_point)
{
    uint32_t *up = malloc(NCP * sizeof(*up));
    bool have_data;
    size_t nfold = 0;

    ck_assert_ptr_nonnull(up);
    have_data = read_unicode_data(up);
    for (uint32_t cp = 0; cp < NCP; cp++) {
        int want, got = sqlclass_fold_cp(cp);
        struct sqlclass_result r;
        char buf[64];
        size_t n;

        if (have_data)
            want = up[cp] >= 'A' && up[cp] <= 'Z' ? (int)up[cp] : 0;
        else if (cp < 0x80)
            want = (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z' ? (int)(cp & ~0x20u) : 0;
        else
            want = cp == 0x131 ? 'I' : cp == 0x17f ? 'S' : 0;
        ck_assert_msg(got == want, "U+%04X: folds to %d, Spark reads %d", (unsigned)cp, got, want);
        if (got != 0)
            nfold++;
        if (cp < 0x80)
            continue;
        memcpy(buf, "SELECT a", 8);
        n = 8 + u8enc(cp, buf + 8);
        memcpy(buf + n, "b FROM t", 8);
        n += 8;
        sqlclass_classify(buf, n, &r);
        if (cp >= 0xd800 && cp <= 0xdfff) {
            ck_assert_int_eq(r.strictest, SQLCLASS_UNKNOWN);
            ck_assert_str_eq(r.label, "invalid UTF-8");
            continue;
        }
        ck_assert_msg(r.strictest ==
                          (got != 0 || spark_uws(cp) ? SQLCLASS_QUERY : SQLCLASS_UNKNOWN),
                      "U+%04X in a word: %s (%s)", (unsigned)cp, sqlclass_name(r.strictest),
                      r.label);
        memcpy(buf, "SELECT '", 8);
        n = 8 + u8enc(cp, buf + 8);
        memcpy(buf + n, "' FROM t", 8);
        n += 8;
        ck_assert_msg(sqlclass_classify(buf, n, &r) == SQLCLASS_QUERY, "U+%04X in a string: %s",
                      (unsigned)cp, sqlclass_name(r.strictest));
    }
    ck_assert_uint_eq(nfold, 52 + 2);
    free(up);
}
END_TEST

/*
 * Property: a statement whose letters outside quotes are replaced at random
 * by any of their pre-images (upper case, lower case, U+0131 for I, U+017F
 * for S: every code point sqlclass_fold_cp() maps to the letter) classifies
 * exactly as the ASCII statement does.
 */
START_TEST(tc_fold_property)
{
    static const char *const stmts[] = {
        "FROM src INSERT INTO dst SELECT *",
        "FROM src INSERT OVERWRITE LOCAL DIRECTORY '/x' SELECT *",
        "CREATE FUNCTION f AS 'c' USING JAR 'https://x/f.jar'",
        "CREATE OR REPLACE TEMPORARY FUNCTION f() RETURNS INT RETURN 1",
        "SET spark.sql.ansi.enabled = false",
        "RESET",
        "ADD JARS x y",
        "LIST FILES",
        "SELECT 1; DROP TABLE t",
        "EXPLAIN EXTENDED INSERT INTO t SELECT 1",
        "WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a",
        "MSCK REPAIR TABLE t",
        "LOAD DATA LOCAL INPATH 'x' INTO TABLE t",
        "BEGIN SELECT 1; IF x THEN DROP TABLE t; END IF; END",
        "USE db; SHOW TABLES; DESCRIBE t",
        "EXECUTE IMMEDIATE 'SELECT 1'",
        "ANALYZE TABLE t COMPUTE STATISTICS",
        "DECLARE VARIABLE v INT",
        "MERGE INTO t USING s ON a = b WHEN MATCHED THEN DELETE",
        "CACHE TABLE t; UNCACHE TABLE t; REFRESH TABLE t; CLEAR CACHE",
        "VALUES (1); TABLE t; UPDATE t SET a = 1; DELETE FROM t",
        "TRUNCATE TABLE t; ALTER TABLE t ADD COLUMNS (x INT); COMMENT ON TABLE t IS 'x'",
    };
    /* pre-images of each letter, as UTF-8, found from sqlclass_fold_cp() itself */
    static char pre[26][8][4];
    static size_t npre[26], prelen[26][8];
    uint64_t rnd = 0x9e3779b97f4a7c15u;

    memset(npre, 0, sizeof(npre));
    for (uint32_t cp = 0; cp < NCP; cp++) {
        int f = sqlclass_fold_cp(cp);

        if (f == 0 || (cp >= 0xd800 && cp <= 0xdfff))
            continue;
        ck_assert_int_ge(f, 'A');
        ck_assert_int_le(f, 'Z');
        ck_assert_uint_lt(npre[f - 'A'], 8);
        prelen[f - 'A'][npre[f - 'A']] = u8enc(cp, pre[f - 'A'][npre[f - 'A']]);
        npre[f - 'A']++;
    }
    ck_assert_uint_eq(npre['I' - 'A'], 3);
    ck_assert_uint_eq(npre['S' - 'A'], 3);
    for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
        struct sqlclass_result want, got;
        size_t len = strlen(stmts[i]);

        sqlclass_classify(stmts[i], len, &want);
        ck_assert_int_ne(want.strictest, SQLCLASS_EMPTY);
        for (int round = 0; round < 200; round++) {
            char buf[512];
            size_t n = 0;
            char quote = 0;

            for (size_t k = 0; k < len; k++) {
                char c = stmts[i][k];
                int l = (c | 0x20) - 'a';

                if (quote == 0 && (c == '\'' || c == '`'))
                    quote = c;
                else if (quote != 0 && c == quote)
                    quote = 0;
                if (quote != 0 || l < 0 || l >= 26) {
                    buf[n++] = c;
                    continue;
                }
                rnd ^= rnd << 13;
                rnd ^= rnd >> 7;
                rnd ^= rnd << 17;
                size_t j = (size_t)(rnd % npre[l]);
                memcpy(buf + n, pre[l][j], prelen[l][j]);
                n += prelen[l][j];
            }
            sqlclass_classify(buf, n, &got);
            ck_assert_msg(got.strictest == want.strictest && got.cls == want.cls &&
                              strcmp(got.label, want.label) == 0 && got.nstmt == want.nstmt,
                          "%.*s: %s (%s), ASCII: %s (%s)", (int)n, buf,
                          sqlclass_name(got.strictest), got.label, sqlclass_name(want.strictest),
                          want.label);
        }
    }
}
END_TEST

/* 1 MiB of blanks, comments or nesting: must stay linear (the test timeout catches it). */
START_TEST(tc_long_input)
{
    size_t n = 1u << 20, i;
    char *buf = malloc(n + 64);
    struct sqlclass_result r;

    ck_assert_ptr_nonnull(buf);
    memset(buf, ' ', n);
    memcpy(buf + n, "SELECT 1", 8);
    ck_assert_int_eq(sqlclass_classify(buf, n + 8, &r), SQLCLASS_QUERY);
    ck_assert_uint_eq(r.off, n);

    /* deep comment nesting */
    for (i = 0; i + 1 < n; i += 2)
        memcpy(buf + i, "/*", 2);
    ck_assert_int_eq(sqlclass_classify(buf, n, &r), SQLCLASS_UNKNOWN);

    /* a million ';' and one ADD JAR at the end */
    memset(buf, ';', n);
    memcpy(buf + n, "ADD JAR x", 9);
    ck_assert_int_eq(sqlclass_classify(buf, n + 9, &r), SQLCLASS_ADMIN);

    /* a million parentheses before SELECT */
    memset(buf, '(', n);
    memcpy(buf + n, "SELECT 1", 8);
    ck_assert_int_eq(sqlclass_classify(buf, n + 8, &r), SQLCLASS_QUERY);

    /* deeply nested script blocks */
    for (i = 0; i + 6 <= n / 2; i += 6)
        memcpy(buf + i, "BEGIN ", 6);
    ck_assert_int_eq(sqlclass_classify(buf, i, &r), SQLCLASS_UNKNOWN);

    /* one long statement of many tokens */
    for (i = 0; i + 2 <= n; i += 2)
        memcpy(buf + i, "1+", 2);
    memcpy(buf, "SELECT 1", 8);
    ck_assert_int_eq(sqlclass_classify(buf, n - 1, &r), SQLCLASS_QUERY);
    free(buf);
}
END_TEST

Suite *
sqlclass_suite(void)
{
    Suite *s = suite_create("sqlclass");
    TCase *tc = tcase_create("sqlclass");

    tcase_add_loop_test(tc, tc_table, 0, (int)(sizeof(sql_cases) / sizeof(sql_cases[0])));
    tcase_add_test(tc, tc_counts_and_offsets);
    tcase_add_test(tc, tc_explicit_length);
    tcase_add_test(tc, tc_nul_byte);
    tcase_add_test(tc, tc_long_input);
    suite_add_tcase(s, tc);
    /* 0x110000 code points, twice through the classifier: seconds under sanitizers */
    tc = tcase_create("unicode");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, tc_fold_every_code_point);
    tcase_add_test(tc, tc_fold_property);
    suite_add_tcase(s, tc);
    return s;
}
