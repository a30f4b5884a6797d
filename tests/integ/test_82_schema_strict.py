"""Every message sparkgate judges is parsed completely against its schema,
through the real process: unknown fields at any level (not only node kinds
in Relation/Command/Expression), wire types a field's type never has,
invalid UTF-8 in string fields and bad artifact names are refused before a
byte reaches the backend, while bytes that are opaque by design (Arrow data
in LocalRelation, Any values) are still forwarded untouched.

The stack, principals and helpers are test_80_policy's (shipped profiles
sql-only, analyst, data-scientist, admin)."""

import uuid

import pytest

import plans as P
import test_80_policy as T
from plans import f_len, f_varint, key

INVALID = T.INVALID
DENIED = T.DENIED


@pytest.fixture(scope="module")
def sst(mprocs):
    s = T.PolicyStack(mprocs)
    yield s
    s.close()
    s.sg.check_health()


def ctx(user):
    return f_len(1, P.SESSION) + f_len(2, f_len(1, user) + f_len(2, user))


def read_with(named_table_body=b"", read_extra=b""):
    """Relation.read{named_table{...}, ...} with raw bytes added."""
    nt = f_len(1, "samples.people") + named_table_body
    return f_len(2, f_len(1, nt) + read_extra)


# --------------------------------------------------------------------------
# plans: (id, request builder (who -> bytes), profiles refusing, status,
#         fragments of the message)

def _exec_plan(plan_body):
    return lambda who: P.execute(plan=plan_body, user=who)


def _exec_root(root):
    return lambda who: P.execute(root=root, user=who)


RESTRICTED = ("sam", "ann", "dora")  # sql-only, analyst, data-scientist: unknown = deny
EVERYONE = RESTRICTED + ("adam",)

PLAN_CASES = [
    # an unknown field in Plan, beside a harmless root
    ("unknown-in-plan", _exec_plan(f_len(1, P.query()) + f_len(15, b"\x0a\x01x")),
     RESTRICTED, INVALID, ("unknown field 15 of Plan", "at plan.#15")),
    # an unknown field in Project
    ("unknown-in-project",
     _exec_root(f_len(3, f_len(1, P.read_table()) + f_len(3, P.attr("a")) + f_varint(9, 1))),
     RESTRICTED, INVALID, ("unknown field 9 of Project", "plan.root.project.#9")),
    # an unknown field inside a leaf message that was never parsed: Read.NamedTable
    ("unknown-in-named-table", _exec_root(read_with(f_len(15, "x"))),
     RESTRICTED, INVALID, ("unknown field 15 of Read.NamedTable",)),
    # wire type 7 inside Read: malformed for every profile, admin included
    ("wire-type-7-in-read", _exec_root(read_with(read_extra=key(15, 7) + b"\0" * 8)),
     EVERYONE, INVALID, ("field 15 (wire type 7) at plan.root.read", "not valid protobuf")),
    # a group inside Read.NamedTable
    ("group-in-named-table", _exec_root(read_with(key(5, 3) + key(5, 4))),
     EVERYONE, INVALID, ("field 5 (wire type 3) at plan.root.read.named_table",)),
    # a string field sent as a varint
    ("string-as-varint", _exec_root(f_len(2, f_len(1, f_varint(1, 7)))),
     EVERYONE, INVALID, ("field 1 unparsed_identifier (wire type 0)",
                         "plan.root.read.named_table")),
    # invalid UTF-8 (an overlong "/") in Read.NamedTable.unparsed_identifier
    ("invalid-utf8-identifier", _exec_root(f_len(2, f_len(1, f_len(1, b"a\xc0\xafb")))),
     EVERYONE, INVALID, ("field 1 unparsed_identifier", "plan.root.read.named_table",
                         "not valid UTF-8")),
    # a UTF-16 surrogate in SQL text
    ("surrogate-in-sql", _exec_root(f_len(10, f_len(1, b"SELECT '\xed\xa0\x80'"))),
     EVERYONE, INVALID, ("field 1 query", "plan.root.sql", "not valid UTF-8")),
]


@pytest.mark.parametrize("case", PLAN_CASES, ids=[c[0] for c in PLAN_CASES])
def test_plan_refused(sst, case):
    _, build, whos, code, frags = case
    for who in whos:
        d = T.refused(sst, who, "ExecutePlan", build(who), code=code, frags=frags)
        assert d.startswith("sparkgate: "), d


def test_unknown_field_allowed_by_admin(sst):
    """admin's "unknown" is "allow" (it restricts nothing): an unknown field
    outside the node oneofs is forwarded, as an unknown node kind is."""
    T.allowed(sst, "adam", "ExecutePlan",
              P.execute(plan=f_len(1, P.query()) + f_len(15, b"\x0a\x01x"), user="adam"))


def test_config_invalid_utf8_key(sst):
    """Not only plans: a Config get with a key that is not UTF-8."""
    req = ctx("sam") + f_len(3, f_len(2, f_len(1, b"spark.\xff")))
    T.refused(sst, "sam", "Config", req, code=INVALID,
              frags=("field 1 keys", "operation.get", "not valid UTF-8"))


def test_opaque_payloads_forwarded(sst):
    """Arrow data in LocalRelation and the value of an Any are opaque by
    design: bytes that would be a wire-type-7 field, a group or invalid
    UTF-8 if parsed are forwarded unchanged."""
    blob = b"ARROW1\0\0" + key(15, 7) + b"\xff\xfe\xc0\xaf" + key(5, 3) + bytes(range(256))
    _, s = T.allowed(sst, "sam", "ExecutePlan", P.execute(root=P.local_relation(blob),
                                                           user="sam"))
    _, s = T.allowed(sst, "adam", "ExecutePlan",
                     P.execute(root=f_len(998, f_len(1, "type.googleapis.com/x.Y") +
                                          f_len(2, blob)), user="adam"))


# --------------------------------------------------------------------------
# AddArtifacts: the whole request against the schema, names checked for all

def _chunk(data):
    return f_len(1, data) + f_varint(2, 0)


def _single(name, data=b"x = 1\n"):
    return f_len(1, name) + f_len(2, _chunk(data))


ARTIFACT_UNKNOWN = [
    # a jar in an unknown field of Batch, beside an allowed artifact
    ("jar-in-unknown-batch-field",
     f_len(3, f_len(1, _single("pyfiles/ok.py")) + f_len(2, _single("jars/evil.jar", b"PK"))),
     ("unknown field 2 of AddArtifactsRequest.Batch", "batch.#2")),
    ("unknown-top-level", f_len(3, f_len(1, _single("pyfiles/ok.py"))) + f_len(15, "jars/x.jar"),
     ("unknown field 15 of AddArtifactsRequest",)),
    ("unknown-in-single-chunk",
     f_len(3, f_len(1, _single("pyfiles/ok.py") + f_len(3, "jars/evil.jar"))),
     ("unknown field 3 of AddArtifactsRequest.SingleChunkArtifact",)),
    ("unknown-in-chunk",
     f_len(3, f_len(1, f_len(1, "pyfiles/ok.py") + f_len(2, _chunk(b"x") + f_len(7, "m:v")))),
     ("unknown field 7 of AddArtifactsRequest.ArtifactChunk",)),
    ("unknown-in-begin-chunk",
     f_len(4, f_len(1, "pyfiles/ok.py") + f_varint(2, 1) + f_varint(3, 1) +
           f_len(4, _chunk(b"x")) + f_len(9, "org.example:evil:1.0")),
     ("unknown field 9 of AddArtifactsRequest.BeginChunkedArtifact",)),
]


@pytest.mark.parametrize("case", ARTIFACT_UNKNOWN, ids=[c[0] for c in ARTIFACT_UNKNOWN])
def test_artifacts_unknown_fields(sst, case):
    _, body, frags = case
    T.refused(sst, "dora", "AddArtifacts", [ctx("dora") + body], code=INVALID, frags=frags)


def test_artifacts_malformed(sst):
    """Wire types and UTF-8 inside AddArtifacts, for admin too."""
    for who in ("dora", "adam"):
        bad_type = f_len(3, f_len(1, f_len(1, "pyfiles/ok.py") + f_varint(2, 1)))
        T.refused(sst, who, "AddArtifacts", [ctx(who) + bad_type], code=INVALID,
                  frags=("field 2 data (wire type 0)", "batch.artifacts[0]"))
        bad_name = f_len(3, f_len(1, f_len(1, b"pyfiles/\xed\xbf\xbf.py") + f_len(2, _chunk(b"x"))))
        T.refused(sst, who, "AddArtifacts", [ctx(who) + bad_name], code=INVALID,
                  frags=("not valid UTF-8",))


# names every profile that may upload must refuse (admin forwarded all of them before)
BAD_NAMES = [
    ("files/x.txt#..", "contains \"..\""),
    ("archives/a.zip#../../etc", "contains \"..\""),
    ("files/a#b#..", "contains \"..\""),
    ("files/%2e%2e/x.txt", "contains \"..\""),
    ("files/x%2f%2E%2e", "contains \"..\""),
    ("pyfiles\\..\\x.py", "contains a backslash"),
    ("pyfiles/x\\y.py", "contains a backslash"),
    ("pyfiles/x\x01.py", "contains a control character"),
    ("pyfiles/x\x7f.py", "contains a control character"),
    ("pyfiles/x%0a.py", "contains a control character"),
    ("files/x.txt#/etc/passwd", "is an absolute path"),
]
# already refused for data-scientist before; new for admin
BAD_NAMES_ADMIN = [
    ("/pyfiles/x.py", "is an absolute path"),
    ("%2fetc/passwd", "is an absolute path"),
    ("pyfiles/../jars/x.jar", "contains \"..\""),
    ("pyfiles/x\x00.py", "contains a NUL byte"),
]


@pytest.mark.parametrize("how", ["batch", "chunked"])
@pytest.mark.parametrize("case", BAD_NAMES + BAD_NAMES_ADMIN,
                         ids=[repr(c[0]) for c in BAD_NAMES + BAD_NAMES_ADMIN])
def test_artifact_names(sst, case, how):
    name, why = case
    whos = ("adam", "dora") if case in BAD_NAMES else ("adam",)
    for who in whos:
        sid = str(uuid.uuid4())
        if how == "batch":
            req = P.artifacts_batch([(name, b"x = 1\n")], session=sid, user=who)
        else:
            req = P.artifacts_chunked(name, b"x = 1\n" * 500, chunk=1000, session=sid, user=who)
        d = T.refused(sst, who, "AddArtifacts", req, code=INVALID, frags=(why,))
        assert "artifact name" in d, d


def test_artifact_good_names_still_forwarded(sst):
    """Dots that are not a ".." segment, '#' fragments and %-escapes that
    decode to nothing dangerous are ordinary names."""
    sid = str(uuid.uuid4())
    T.allowed(sst, "dora", "AddArtifacts",
              P.artifacts_batch([("pyfiles/a..b.py", b"x = 1\n"),
                                 ("archives/env.tar.gz#env", b"\x1f\x8b"),
                                 ("files/with%20space.txt", b"s"),
                                 ("files/.hidden", b"h")], session=sid, user="dora"))
    T.allowed(sst, "adam", "AddArtifacts",
              P.artifacts_batch([("jars/x.jar", b"PK\x03\x04")], session=sid, user="adam"))
