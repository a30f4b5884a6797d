"""SQL classification that reads keywords the way Spark does, and the cost
cap on SQL text, through the real process.

Spark's lexer upper-cases every code point with Java's
Character.toUpperCase before it matches keywords, so U+0131 (dotless i)
reads as I and U+017F (long s) as S.  A classifier that folds only ASCII
case reads "FROM src ınsert ınto dst SELECT *" as a query while Spark runs
an INSERT.  Every statement below must be refused under the shipped
profiles with PERMISSION_DENIED and leave nothing in the backend's record;
the same characters inside string literals, backquoted names and comments
stay harmless.  SQL text longer than the profile's max_sql_bytes is refused
with RESOURCE_EXHAUSTED before it is classified."""

import uuid

import grpc
import pytest

import plans as P
import sgharness as H
from test_80_policy import call, refused, allowed, barrier, shipped_profiles

DENIED = grpc.StatusCode.PERMISSION_DENIED
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
INVALID = grpc.StatusCode.INVALID_ARGUMENT

DEFAULT_MAX_SQL = 1 << 20  # the default of max_sql_bytes
SMALL_MAX_SQL = 300        # test-sqlcap

# principals of test_80_policy.WHO, so its helpers find their tokens
SHIPPED_WHO = {"sql-only": "sam", "analyst": "ann", "data-scientist": "dora", "admin": "adam"}
SQLCAP_WHO = "cap"  # test_80_policy maps "cap" to "test-capped": re-mapped here


class BypassStack:
    """One backend and one sparkgate with the shipped profiles, plus
    test-sqlcap (sql-only's SQL rule with a small max_sql_bytes) for "cap"."""

    def __init__(self, group):
        import test_80_policy as T

        self.b1 = group.backend("b1", extra=["--conf", "spark.connect.authenticate.token=" + T.PSK])
        self.port = H.free_port()
        profiles = dict(shipped_profiles())
        profiles["test-capped"] = {"description": "sql-only's SQL rule, small SQL cap",
                                   "sql": ["query"], "max_sql_bytes": SMALL_MAX_SQL}
        who = dict(SHIPPED_WHO)
        who["test-capped"] = SQLCAP_WHO
        tokens = [{"sha256": H.hash_token(T.TOK[w]), "principal": w, "profile": p}
                  for p, w in who.items()]
        backend = {"name": "b1", "address": self.b1.address,
                   "preshared_token_file": H.write_secret("psk", T.PSK + "\n")}
        self.config = H.sg_config(self.port, [backend], auth={"static_tokens": tokens},
                                  profiles=profiles)
        self.sg = group.sparkgate(self.config)
        self.channel = H.grpc_channel(self.port)

    def close(self):
        self.channel.close()


@pytest.fixture(scope="module")
def bst(mprocs):
    s = BypassStack(mprocs)
    yield s
    s.close()
    s.sg.check_health()


def _req(carrier, text, who):
    if carrier == "relation":
        return P.execute(root=P.sql(text), user=who), "root.sql"
    return P.execute(command=P.sql_command(text), user=who), "command.sql_command"


# (id, text, profiles that must refuse it, word in the refusal)
BYPASSES = [
    ("dotless-i-insert", "FROM src \u0131nsert \u0131nto dst SELECT *",
     ("sql-only",), "INSERT"),
    ("long-s-insert", "FROM src IN\u017fERT INTO dst SELECT *", ("sql-only",), "INSERT"),
    ("dotless-i-overwrite-directory",
     "FROM src \u0131nsert overwr\u0131te local d\u0131rectory '/x' SELECT *",
     ("sql-only", "analyst", "data-scientist"), "DIRECTORY"),
    ("dotless-i-create-function-jar",
     "CREATE FUNCT\u0131ON f AS 'c' USING JAR 'https://example.invalid/f.jar'",
     ("sql-only", "analyst", "data-scientist"), "FUNCTION"),
    ("long-s-set", "\u017fET spark.sql.ansi.enabled=false",
     ("sql-only", "analyst", "data-scientist"), None),
    # other non-ASCII outside quotes cannot be a Spark keyword: unknown, not guessed
    ("fullwidth-insert", "FROM src \uff29NSERT INTO dst SELECT *", ("sql-only", "analyst"),
     None),
    ("non-ascii-identifier", "SELECT caf\u00e9 FROM t", ("sql-only", "analyst"), None),
]


@pytest.mark.parametrize("carrier", ["relation", "command"])
@pytest.mark.parametrize("case", BYPASSES, ids=[c[0] for c in BYPASSES])
def test_unicode_keyword_refused(bst, case, carrier):
    _, text, profiles, word = case
    for prof in profiles:
        who = SHIPPED_WHO[prof]
        req, frag = _req(carrier, text, who)
        d = refused(bst, who, "ExecutePlan", req, frags=(frag, "(rule sql"))
        if word:
            assert word in d.upper(), (word, d)


HARMLESS = [
    ("in-string", "SELECT '\u0131nsert \u0131nto d\u0131rectory \u017fet' AS s FROM t"),
    ("in-backquotes", "SELECT `\u0131nsert`, `caf\u00e9` FROM `\u017fales`"),
    ("in-comments", "SELECT 1 -- \u0131nsert \u0131nto dst\n/* FUNCT\u0131ON \u00e9 */ FROM t"),
    ("in-double-quotes", 'SELECT "\u0131nsert \uff29NSERT" FROM t'),
    ("unicode-space", "SELECT\u00a01\u3000FROM\u2003t"),
]


@pytest.mark.parametrize("case", HARMLESS, ids=[c[0] for c in HARMLESS])
def test_unicode_in_quotes_is_query(bst, case):
    _, text = case
    for carrier in ("relation", "command"):
        req, _ = _req(carrier, text, "sam")
        _, s = allowed(bst, "sam", "ExecutePlan", req)


def test_invalid_utf8_never_a_query(bst):
    """protobuf-java refuses a string field that is not UTF-8; the classifier
    must not call such text a query whoever checks first."""
    bad = b"SELECT 1 FROM t \xc4"  # a lone lead byte
    overlong = b"FROM src \xc1\xa9nsert into dst SELECT *"
    for text in (bad, overlong):
        req = P.execute(root=P.f_len(10, P.f_len(1, text)), user="sam")
        refused(bst, "sam", "ExecutePlan", req, code=(DENIED, INVALID))


def _padded(n):
    """A query of exactly |n| bytes."""
    head, tail = "SELECT 1 /* ", " */"
    return head + "x" * (n - len(head) - len(tail)) + tail


@pytest.mark.parametrize("carrier", ["relation", "command"])
def test_sql_size_cap(bst, carrier):
    # the configured cap: at the limit allowed, one byte over refused
    req, _ = _req(carrier, _padded(SMALL_MAX_SQL), SQLCAP_WHO)
    tid, code, details, _ = call(bst, SQLCAP_WHO, "ExecutePlan", req)
    assert code == grpc.StatusCode.OK, details
    req, frag = _req(carrier, _padded(SMALL_MAX_SQL + 1), SQLCAP_WHO)
    d = refused(bst, SQLCAP_WHO, "ExecutePlan", req, code=EXHAUSTED)
    assert d.startswith("sparkgate: "), d
    assert "max_sql_bytes" in d and str(SMALL_MAX_SQL) in d and frag in d, d


@pytest.mark.parametrize("prof", ["sql-only", "analyst", "data-scientist", "admin"])
def test_sql_size_cap_default(bst, prof):
    """Every profile has the default cap, well under the message limit."""
    who = SHIPPED_WHO[prof]
    req, _ = _req("relation", _padded(DEFAULT_MAX_SQL), who)
    allowed(bst, who, "ExecutePlan", req)
    req, _ = _req("relation", _padded(DEFAULT_MAX_SQL + 1), who)
    d = refused(bst, who, "ExecutePlan", req, code=EXHAUSTED)
    assert "max_sql_bytes" in d and str(DEFAULT_MAX_SQL) in d, d
