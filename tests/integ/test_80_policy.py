"""Plan inspection and per-profile policy, through the real
process: one sparkgate in front of one test backend for the whole module,
static tokens for principals mapped to the four shipped profiles (sql-only,
analyst, data-scientist, admin) and to three test-only profiles.

Every allowed request must reach the backend with user_id rewritten to the
principal; every refused one must get its gRPC code, a message naming the
profile, the node kind and the path, and must leave NOTHING in the
backend's record (checked by test id and by comparing the record before
and after, with a barrier call in between).  Requests are built by
tests/integ/plans.py from the project's own .proto subset.

The shipped profiles are read from conf/sparkgate.json; docs/policy.md
("Shipped profiles") is the specification the expectations follow."""

import json
import os
import re
import subprocess
import time
import uuid

import grpc
import pytest

import plans as P
import sgharness as H

TIMEOUT = 10
OK = grpc.StatusCode.OK
DENIED = grpc.StatusCode.PERMISSION_DENIED
EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
INVALID = grpc.StatusCode.INVALID_ARGUMENT

SHIPPED = ["sql-only", "analyst", "data-scientist", "admin"]
WHO = {"sql-only": "sam", "analyst": "ann", "data-scientist": "dora", "admin": "adam",
       "test-capped": "cap", "test-udf100": "pete", "test-delta": "dex"}
PROFILE_OF = {v: k for k, v in WHO.items()}
TOK = {p: H.new_token() for p in WHO.values()}
PSK = H.new_token("psk_")
APP_SECRET = "hunter2-" + uuid.uuid4().hex[:12]
CAP = 4096  # test-capped: files/ max_bytes

UDF_KINDS = ("common_inline_user_defined_function", "python_udf", "scalar_scala_udf",
             "java_udf")


# --------------------------------------------------------------------------
# profiles

def _strip_json_comments(text):
    """conf/sparkgate.json allows // and /* */ comments outside strings."""
    out, i, n, in_str = [], 0, len(text), False
    while i < n:
        c = text[i]
        if in_str:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                in_str = False
            i += 1
        elif c == '"':
            in_str = True
            out.append(c)
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def shipped_profiles():
    path = os.path.join(H.TOP_SRCDIR, "conf", "sparkgate.json")
    with open(path, encoding="utf-8") as f:
        cfg = json.loads(_strip_json_comments(f.read()))
    return cfg.get("profiles") or {}


# Test-only profiles beside the shipped ones.
TEST_PROFILES = {
    "test-capped": {
        "description": "uploads of files/ up to CAP bytes and pyfiles/ of any size",
        "methods": ["AddArtifacts", "ArtifactStatus", "Config"],
        "artifacts": {"files": {"max_bytes": CAP}, "pyfiles": {}},
    },
    "test-udf100": {
        "description": "plain @udf only",
        "user_code": {"languages": ["python"], "python_eval_types": [100]},
    },
    "test-delta": {
        "description": "Delta extensions only",
        "extensions": ["type.googleapis.com/spark.connect.delta.*"],
        "unknown": "deny",
    },
}


# --------------------------------------------------------------------------
# the stack

class PolicyStack:
    def __init__(self, group):
        self.b1 = group.backend("b1", extra=[
            "--conf", "spark.connect.authenticate.token=" + PSK,
            "--conf", "my.app.password=" + APP_SECRET,
            "--conf", "spark.app.name=sg-policy-test"])
        self.port = H.free_port()
        self.shipped = shipped_profiles()
        profiles = dict(self.shipped)
        profiles.update(TEST_PROFILES)
        tokens = [{"sha256": H.hash_token(TOK[who]), "principal": who, "profile": prof}
                  for prof, who in WHO.items()]
        backend = {"name": "b1", "address": self.b1.address,
                   "preshared_token_file": H.write_secret("psk", PSK + "\n")}
        self.config = H.sg_config(self.port, [backend], auth={"static_tokens": tokens},
                                  profiles=profiles)
        self.sg = group.sparkgate(self.config)
        self.channel = H.grpc_channel(self.port)

    def close(self):
        self.channel.close()


@pytest.fixture(scope="module")
def pst(mprocs):
    s = PolicyStack(mprocs)
    yield s
    s.close()
    s.sg.check_health()


def call(st, who, method, req, md=(), tid=None, timeout=TIMEOUT):
    """(tid, code, details, response(s)) of one call as principal |who|."""
    return H.auth_call(st.channel, method, req, md=md, token=TOK[who], tid=tid,
                       timeout=timeout)


def _key(r):
    return (r.get("conn"), r.get("stream"))


def barrier(st):
    """A call that must reach the backend; once it is recorded, anything an
    earlier call sent is recorded too.  Returns its stream record."""
    tid, code, details, _ = call(st, "adam", "Config",
                                 P.config("get_option", ["spark.app.name"], user="adam"))
    assert code == OK, details
    s = st.b1.wait_stream(tid, timeout=5)
    time.sleep(0.05)
    return s


def assert_nothing_recorded(st, before, tids):
    """Nothing but the barrier's stream was recorded after |before| records,
    and no stream of |tids| exists at all."""
    bs = barrier(st)
    bkey = _key(bs["open"])
    extra = [r for r in st.b1.records()[before:]
             if r.get("ev") in ("stream_open", "message", "stream_close") and _key(r) != bkey]
    assert not extra, "refused call(s) reached the backend: %r" % extra
    for tid in tids:
        assert st.b1.find_stream(tid) is None, tid


def refused(st, who, method, req, code=DENIED, frags=(), any_of=()):
    """Makes the call, checks the refusal (code: one or a tuple of codes)
    and that the backend saw nothing.  Returns the message."""
    before = len(st.b1.records())
    tid, got, details, _ = call(st, who, method, req)
    codes = code if isinstance(code, tuple) else (code,)
    assert got in codes, (who, method, got, details)
    if got == DENIED:
        assert 'profile "%s"' % PROFILE_OF[who] in details, details
    for f in frags:
        assert f in details, (f, details)
    if any_of:
        assert any(k in details for k in any_of), (any_of, details)
    assert_nothing_recorded(st, before, [tid])
    return details


def allowed(st, who, method, req, n_messages=1):
    """Makes the call, checks that it succeeded and reached the backend bound
    to |who| with |who|'s profile.  Returns (response(s), stream record)."""
    tid, code, details, resp = call(st, who, method, req)
    assert code == OK, (who, method, code, details)
    s = st.b1.wait_stream(tid)
    hdrs = s["open"].get("headers") or {}
    assert H.header_value(hdrs, "x-sparkgate-principal") == who, hdrs
    assert H.header_value(hdrs, "x-sparkgate-profile") == PROFILE_OF[who], hdrs
    assert len(s["messages"]) == n_messages, s["messages"]
    for m in s["messages"]:
        assert "parse_error" not in m, m
        assert m.get("user_id") == who, m
    return resp, s


def judge(st, profile, expect, method, req, frags=(), any_of=()):
    """expect: "A" allowed, "D" refused (PERMISSION_DENIED), "?" not asserted."""
    who = WHO[profile]
    if expect == "A":
        allowed(st, who, method, req)
    elif expect == "D":
        refused(st, who, method, req, frags=frags, any_of=any_of)


# --------------------------------------------------------------------------
# the shipped profiles exist and are the documented four

def test_shipped_profiles_present(pst):
    missing = [p for p in SHIPPED if p not in pst.shipped]
    assert not missing, "conf/sparkgate.json lacks profiles %s" % missing
    # admin may do everything: nothing in it restricts
    adm = pst.shipped["admin"]
    for k in ("relations", "commands", "expressions", "catalog", "sql", "conf", "artifacts"):
        assert k not in adm or adm[k] in ({"allow": ["*"]}, {"deny": []}), (k, adm[k])


# --------------------------------------------------------------------------
# plans: each case x each shipped profile
#
# (id, method, builder, expectations for sql-only/analyst/data-scientist/
#  admin, path fragment of the refusal, node kinds one of which it names)

def _ex(root=None, command=None, plan=None):
    return lambda who: P.execute(root=root() if root else None,
                                 command=command() if command else None,
                                 plan=plan() if plan else None, user=who)


def _an(root, what="schema"):
    return lambda who: P.analyze(root(), what, user=who)


PLAN_CASES = [
    ("query", "ExecutePlan", _ex(P.query), "AAAA", "", ()),
    ("sql-relation-select", "ExecutePlan",
     _ex(lambda: P.sql("SELECT name FROM samples.people WHERE age > 21")), "AAAA", "", ()),
    ("python-udf", "ExecutePlan", _ex(P.udf_project), "DDAA",
     "root.project.expressions[1].common_inline_user_defined_function", UDF_KINDS),
    ("pandas-udf-200", "ExecutePlan",
     _ex(lambda: P.udf_project("python", P.EVAL_SCALAR_PANDAS_UDF)), "DDAA",
     "root.project.expressions[1].common_inline_user_defined_function", UDF_KINDS),
    ("map-in-pandas", "ExecutePlan", _ex(P.map_in_pandas), "DDAA", "root.map_partitions",
     ("map_partitions", "python_udf")),
    ("scala-udf", "ExecutePlan", _ex(lambda: P.udf_project("scala")), "DDDA",
     "root.project.expressions[1].common_inline_user_defined_function", UDF_KINDS),
    ("java-udf", "ExecutePlan", _ex(lambda: P.udf_project("java")), "DDDA",
     "root.project.expressions[1].common_inline_user_defined_function", UDF_KINDS),
    ("hidden-join-right", "ExecutePlan", _ex(P.hidden_join_right), "DDAA",
     "root.join.right.project.expressions[1].common_inline_user_defined_function", UDF_KINDS),
    ("hidden-with-relations", "ExecutePlan", _ex(P.hidden_with_relations), "DDAA",
     "root.with_relations.references[0].project.expressions[0]", UDF_KINDS),
    ("hidden-lambda", "ExecutePlan", _ex(P.hidden_lambda), "DDAA",
     "lambda_function.function.common_inline_user_defined_function", UDF_KINDS),
    ("hidden-sort-order", "ExecutePlan", _ex(P.hidden_sort), "DDAA",
     "root.sort.order[0].child.common_inline_user_defined_function", UDF_KINDS),
    ("hidden-window-spec", "ExecutePlan", _ex(P.hidden_window), "DDAA",
     "window.partition_spec[0].common_inline_user_defined_function", UDF_KINDS),
    ("smuggle-duplicate-project", "ExecutePlan", _ex(P.dup_project_smuggle), "DDAA",
     "root.project.expressions[", UDF_KINDS),
    ("smuggle-oneof-twice", "ExecutePlan", _ex(P.oneof_twice_smuggle), "DDAA",
     "root.map_partitions", ("map_partitions", "python_udf")),
    ("smuggle-oneof-twice-reversed", "ExecutePlan",
     _ex(lambda: P.oneof_twice_smuggle(reverse=True)), "DDAA", "root.map_partitions",
     ("map_partitions", "python_udf")),
    ("extension-relation", "ExecutePlan", _ex(P.extension_relation), "DDDA", "root.extension",
     ("extension",)),
    ("unknown-relation-777", "ExecutePlan", _ex(P.unknown_relation), "DDDA", "777", ("unknown",)),
    ("sql-command-select", "ExecutePlan", _ex(command=lambda: P.sql_command("SELECT 1")),
     "AAAA", "", ()),
    ("create-temp-view", "ExecutePlan", _ex(command=P.create_view), "AAAA", "", ()),
    ("register-python-udf", "ExecutePlan", _ex(command=P.register_function), "DDAA",
     "command.register_function", ("register_function", "python_udf")),
    ("register-scala-udf", "ExecutePlan", _ex(command=lambda: P.register_function("scala")),
     "DDDA", "command.register_function", ("register_function", "scalar_scala_udf")),
    ("write-table", "ExecutePlan", _ex(command=P.write_table), "DAAA", "command.write_operation",
     ("write_operation",)),
    ("hidden-write-input", "ExecutePlan", _ex(command=lambda: P.write_table(P.udf_project())),
     "DDAA", "command.write_operation", ("write_operation",) + UDF_KINDS),
    ("hidden-sql-command-input", "ExecutePlan",
     _ex(command=lambda: P.sql_command("SELECT * FROM v", P.udf_project())), "DDAA",
     "command.sql_command.input.project.expressions[1]", UDF_KINDS),
    ("write-stream-foreach-batch", "ExecutePlan", _ex(command=P.write_stream_foreach_batch),
     "DDAA", "command.write_stream_operation_start",
     ("write_stream_operation_start", "foreach_batch", "python_function")),
    ("extension-command", "ExecutePlan", _ex(command=P.extension_command), "DDDA",
     "command.extension", ("extension",)),
    ("analyze-query", "AnalyzePlan", _an(P.query), "AAAA", "", ()),
    ("analyze-python-udf", "AnalyzePlan", _an(P.udf_project), "DDAA",
     "root.project.expressions[1].common_inline_user_defined_function", UDF_KINDS),
    ("analyze-explain-java-udf", "AnalyzePlan", _an(lambda: P.udf_project("java"), "explain"),
     "DDDA", "explain.plan.root.project.expressions[1]", UDF_KINDS),
    ("analyze-same-semantics-other-plan", "AnalyzePlan",
     _an(P.udf_project, "same_semantics"), "DDAA",
     "same_semantics.other_plan.root.project.expressions[1]", UDF_KINDS),
    ("analyze-persist-relation", "AnalyzePlan", _an(P.udf_project, "persist"), "DDAA",
     "persist.relation.project.expressions[1]", UDF_KINDS),
    ("analyze-storage-level-relation", "AnalyzePlan", _an(P.map_in_pandas, "get_storage_level"),
     "DDAA", "get_storage_level.relation.map_partitions", ("map_partitions", "python_udf")),
    ("compressed-query", "ExecutePlan", _ex(plan=lambda: P.compressed_plan(P.query())),
     "AAAA", "", ()),
    ("compressed-python-udf", "ExecutePlan",
     _ex(plan=lambda: P.compressed_plan(P.udf_project())), "DDAA",
     "root.project.expressions[1].common_inline_user_defined_function", UDF_KINDS),
    ("compressed-write-command", "ExecutePlan",
     _ex(plan=lambda: P.compressed_plan(P.write_table(), op_type=P.OP_COMMAND)), "DAAA",
     "command.write_operation", ("write_operation",)),
]


@pytest.mark.parametrize("profile", SHIPPED)
@pytest.mark.parametrize("case", PLAN_CASES, ids=[c[0] for c in PLAN_CASES])
def test_plan(pst, case, profile):
    _, method, build, expect, frag, kinds = case
    e = expect[SHIPPED.index(profile)]
    if e == "?":
        pytest.skip("not specified for %s" % profile)
    judge(pst, profile, e, method, build(WHO[profile]), frags=(frag,) if frag else (),
          any_of=kinds)


def test_refusal_message_format(pst):
    """The documented shape: 'sparkgate: profile "P" does not allow KIND ...
    at PATH (rule RULE)'."""
    d = refused(pst, "sam", "ExecutePlan", P.execute(root=P.udf_project(), user="sam"))
    assert d.startswith('sparkgate: profile "sql-only" does not allow '), d
    assert re.search(r" at \S*root\.project\.expressions\[1\]\.common_inline_user_defined_function"
                     r"\S* \(rule [a-z_.]+\)$", d), d
    # data-scientist may run Python but not Scala: user_code.languages
    d = refused(pst, "dora", "ExecutePlan", P.execute(root=P.udf_project("scala"), user="dora"))
    assert "scalar_scala_udf" in d and "scala" in d and "(rule user_code.languages)" in d, d


def test_python_eval_types(pst):
    """test-udf100 allows plain @udf (100) only: pandas UDFs and mapInPandas
    are refused by eval type."""
    allowed(pst, "pete", "ExecutePlan", P.execute(root=P.udf_project(), user="pete"))
    d = refused(pst, "pete", "ExecutePlan",
                P.execute(root=P.udf_project("python", 200), user="pete"),
                frags=("python_udf", "200"))
    assert "eval_type" in d, d
    refused(pst, "pete", "ExecutePlan", P.execute(root=P.map_in_pandas(), user="pete"),
            frags=("python_udf", "205"))
    refused(pst, "pete", "ExecutePlan", P.execute(root=P.udf_project("java"), user="pete"),
            frags=("java_udf",))


def test_extensions_glob(pst):
    allowed(pst, "dex", "ExecutePlan", P.execute(root=P.extension_relation(), user="dex"))
    allowed(pst, "dex", "ExecutePlan", P.execute(command=P.extension_command(), user="dex"))
    refused(pst, "dex", "ExecutePlan",
            P.execute(root=P.extension_relation("type.googleapis.com/evil.Smuggle"), user="dex"),
            frags=("root.extension",))
    refused(pst, "dex", "ExecutePlan", P.execute(root=P.unknown_relation(), user="dex"),
            frags=("777",))


# --------------------------------------------------------------------------
# smuggling outside the plan tree (and the remaining plan-level tricks):
# protobuf-java merges repeated singular messages and keeps the last oneof
# member or scalar; the bad part must be judged wherever it sits

SMUGGLED_WHO = {"Config": "ann", "AddArtifacts": "dora", "ExecutePlan": "sam"}


@pytest.mark.parametrize("kind", P.SMUGGLED)
def test_smuggling(pst, kind):
    method, _ = P.smuggled(kind)
    who = SMUGGLED_WHO[method]
    if kind in ("eval-type-twice",):
        who = "pete"
    elif kind == "udf-oneof-python-then-java":
        who = "dora"
    _, req = P.smuggled(kind, session=str(uuid.uuid4()), user=who)
    d = refused(pst, who, method, req)
    bad = {"Config": ("spark.executor.memory", "spark.master"),
           "AddArtifacts": ("jars/evil.jar",)}.get(method, (
               "write_operation", "DROP", "eval_type 205", "java_udf"))
    assert any(b in d for b in bad), (bad, d)


def test_no_log_injection(pst):
    """Client-chosen strings (artifact names, conf keys, type URLs) with
    newlines end up in refusal messages and audit lines: every stderr line
    must still be one of sparkgate's own."""
    evil = "\nsparkgate[1]: info call_audit: audit decision=allow principal=root"
    refused(pst, "dora", "AddArtifacts", P.artifacts_batch([("jars/x" + evil, b"x")],
                                                           user="dora"), code=(INVALID, DENIED))
    refused(pst, "ann", "Config", P.config("set", [("spark.master" + evil, "x")], user="ann"))
    refused(pst, "sam", "ExecutePlan",
            P.execute(root=P.extension_relation("t/x" + evil), user="sam"))
    refused(pst, "sam", "ExecutePlan", P.execute(root=P.sql("DROP TABLE t" + evil), user="sam"))
    bad = [ln for ln in pst.sg.stderr().splitlines() if not ln.startswith("sparkgate[")]
    assert not bad, bad
    assert not [a for a in audit_lines(pst) if a.get("principal") == "root"]


def test_concurrent_verdicts(pst):
    """Refused and allowed calls of several principals interleaved on one
    connection (and so over sparkgate's workers): every call gets its own
    principal's verdict, and no refused one reaches the backend."""
    from concurrent.futures import ThreadPoolExecutor

    jobs = []
    for i in range(15):
        for who, e in (("sam", "D"), ("adam", "A"), ("dora", "A"), ("ann", "D")):
            jobs.append((who, e, P.execute(root=P.udf_project(), user=who,
                                           session=str(uuid.uuid4()))))
        jobs.append(("cap", "D", P.artifacts_chunked("files/c%d.txt" % i, b"c" * (CAP + 10),
                                                     chunk=1000, declared_total=10,
                                                     user="cap")))
        jobs.append(("cap", "A", P.artifacts_chunked("files/d%d.txt" % i, b"d" * CAP,
                                                     chunk=1000, user="cap")))
    before = len(pst.b1.records())

    def run(job):
        who, e, req = job
        method = "AddArtifacts" if isinstance(req, list) else "ExecutePlan"
        tid, code, details, _ = call(pst, who, method, req)
        return who, e, method, tid, code, details

    with ThreadPoolExecutor(max_workers=12) as ex:
        results = list(ex.map(run, jobs))
    for who, e, method, tid, code, details in results:
        if e == "A":
            assert code == OK, (who, code, details)
        else:
            assert code == DENIED, (who, code, details)
            assert 'profile "%s"' % PROFILE_OF[who] in details, (who, details)
    barrier(pst)
    for who, e, method, tid, code, details in results:
        s = pst.b1.find_stream(tid)
        if e == "A":
            assert s is not None and s["messages"][0]["user_id"] == who, (who, s)
        elif method == "ExecutePlan":
            assert s is None, (who, s)
        else:  # refused mid-stream: never more than the part within the cap
            if s is not None:
                s = pst.b1.wait_stream(tid)  # closed (cancelled) before the next test
            assert s is None or len(s["messages"]) <= CAP // 1000, s
    assert len(pst.b1.records()) > before


# --------------------------------------------------------------------------
# SQL classes, in Relation.sql and in Command.sql_command

SQL_CASES = [
    # (id, text, expectations sql-only/analyst/data-scientist/admin, word in the refusal)
    ("select", "SELECT name FROM samples.people", "AAAA", None),
    ("with", "WITH a AS (SELECT 1 AS x) SELECT x FROM a", "AAAA", None),
    ("show", "SHOW TABLES", "AAAA", None),
    ("insert", "INSERT INTO sales.out VALUES (1, 'a')", "DAAA", "INSERT"),
    ("create-table", "CREATE TABLE sales.t2 (a INT) USING parquet", "DAAA", "CREATE"),
    ("drop-table", "DROP TABLE sales.out", "DAAA", "DROP"),
    ("add-jar", "ADD JAR /tmp/evil.jar", "DDDA", "ADD"),
    ("set", "SET spark.sql.shuffle.partitions=1", "DDDA", "SET"),
    ("script-with-drop", "BEGIN\n  SELECT 1;\n  DROP TABLE sales.out;\nEND", "DAAA", None),
    ("script-with-add-jar", "BEGIN SELECT 1; ADD JAR /tmp/evil.jar; END", "DDDA", None),
    ("comment-and-case-drop", "/* x */ dRoP table sales.out", "DAAA", "DROP"),
    ("line-comment-add-jar", "-- c\nADD JAR /tmp/evil.jar", "DDDA", "ADD"),
    ("second-statement-drop", "SELECT 1; DROP TABLE sales.out", "DAAA", "DROP"),
    ("nested-comment-hides-drop", "/* outer /* inner */ DROP TABLE sales.out */ SELECT 1",
     "AAAA", None),
    ("variable-substitution", "SELECT * FROM ${table}", "DDDA", None),
    ("execute-immediate", "EXECUTE IMMEDIATE 'DROP TABLE sales.out'", "DDDA", None),
    ("create-function-using-jar",
     "CREATE FUNCTION f AS 'com.example.F' USING JAR '/tmp/f.jar'", "DDDA", None),
]


@pytest.mark.parametrize("carrier", ["relation", "command"])
@pytest.mark.parametrize("profile", SHIPPED)
@pytest.mark.parametrize("case", SQL_CASES, ids=[c[0] for c in SQL_CASES])
def test_sql(pst, case, profile, carrier):
    _, text, expect, word = case
    e = expect[SHIPPED.index(profile)]
    if e == "?":
        pytest.skip("not specified for %s" % profile)
    who = WHO[profile]
    if carrier == "relation":
        req, frag = P.execute(root=P.sql(text), user=who), "root.sql"
    else:
        req, frag = P.execute(command=P.sql_command(text), user=who), "command.sql_command"
    if e == "A":
        allowed(pst, who, "ExecutePlan", req)
        return
    d = refused(pst, who, "ExecutePlan", req, frags=(frag,))
    assert "(rule sql" in d, d
    if word:
        assert word in d.upper(), (word, d)


# --------------------------------------------------------------------------
# methods

def test_method_refused_before_body(pst):
    """sql-only may not call AddArtifacts: refused on the headers alone,
    while the client has not sent (and never sends) a body."""
    tid = H.new_test_id()
    before = len(pst.b1.records())
    c = H.H2Client(pst.port)
    try:
        s = c.request(H.SERVICE + "AddArtifacts", headers=H.md(tid) + H.bearer(TOK["sam"]),
                      end_stream=False)
        c.wait(lambda: s.grpc_status() is not None or s.done, TIMEOUT,
               what="refusal before the body")
        assert s.grpc_status() == 7, (s.headers, s.trailers)
        m = H.grpc_message_decoded(s)
        assert 'profile "sql-only"' in m and "AddArtifacts" in m, m
    finally:
        c.close()
    assert_nothing_recorded(pst, before, [tid])


@pytest.mark.parametrize("who,method,expect", [
    ("ann", "AddArtifacts", "D"), ("sam", "CloneSession", "A"), ("adam", "CloneSession", "A"),
    ("dora", "CloneSession", "A"), ("sam", "GetStatus", "A"), ("sam", "Interrupt", "A"),
    ("sam", "ReleaseSession", "A"), ("sam", "ArtifactStatus", "A"),
    ("sam", "FetchErrorDetails", "A"), ("cap", "ExecutePlan", "D"),
])
def test_methods(pst, who, method, expect):
    sid = str(uuid.uuid4())
    req = H.make_request(method, sid, user_id=who)
    if method == "AddArtifacts":
        req = P.artifacts_batch([("pyfiles/x.py", b"print(1)\n")], session=sid, user=who)
    if expect == "A":
        allowed(pst, who, method, req)
    else:
        refused(pst, who, method, req, frags=(method,))


# --------------------------------------------------------------------------
# Config

READS = [("get", ["spark.app.name"]), ("get_all", []), ("get_option", ["spark.sql.x"]),
         ("get_with_default", [("spark.sql.x", "d")]), ("is_modifiable", ["spark.sql.x"])]


@pytest.mark.parametrize("profile", SHIPPED)
@pytest.mark.parametrize("op,items", READS, ids=[r[0] for r in READS])
def test_config_reads_always_allowed(pst, profile, op, items):
    who = WHO[profile]
    allowed(pst, who, "Config", P.config(op, items, user=who))


CONF_CASES = [
    # (op, items, expectations sql-only/analyst/data-scientist/admin, key named in the refusal)
    ("set", [("spark.sql.shuffle.partitions", "4")], "DAAA", "spark.sql.shuffle.partitions"),
    ("set", [("spark.executor.memory", "64g")], "DDDA", "spark.executor.memory"),
    ("set", [("spark.connect.authenticate.token", "x")], "DDDA",
     "spark.connect.authenticate.token"),
    ("set", [("spark.sql.ansi.enabled", "true"), ("spark.jars", "/tmp/evil.jar")], "DDDA",
     "spark.jars"),
    ("unset", ["spark.sql.shuffle.partitions"], "DAAA", "spark.sql.shuffle.partitions"),
    ("unset", ["spark.sql.ansi.enabled", "spark.master"], "DDDA", "spark.master"),
]


@pytest.mark.parametrize("profile", SHIPPED)
@pytest.mark.parametrize("case", CONF_CASES, ids=["%s-%s" % (c[0], c[1][-1][0] if c[0] == "set"
                                                              else c[1][-1]) for c in CONF_CASES])
def test_config_changes(pst, case, profile):
    op, items, expect, key = case
    e = expect[SHIPPED.index(profile)]
    who = WHO[profile]
    req = P.config(op, items, session=str(uuid.uuid4()), user=who)
    if profile == "sql-only":  # may change nothing: the first key is refused
        key = items[0][0] if op == "set" else items[0]
    if e == "A":
        allowed(pst, who, "Config", req)
    else:
        refused(pst, who, "Config", req, frags=('"%s"' % key,))


# --------------------------------------------------------------------------
# Config redaction

def _pairs(resp):
    return [(p.key, p.value if p.HasField("value") else None) for p in resp.pairs]


def _no_secret(resp):
    text = repr(resp) + resp.SerializeToString().decode("latin-1")
    for s in (PSK, APP_SECRET, PSK[4:24]):
        assert s not in text, "secret in Config response: %r" % resp


@pytest.mark.parametrize("who", ["adam", "sam"])
def test_config_redaction_of_backend_confs(pst, who):
    sid = str(uuid.uuid4())
    tok, pw, app = "spark.connect.authenticate.token", "my.app.password", "spark.app.name"
    r, _ = allowed(pst, who, "Config", P.config("get", [tok, pw, app], session=sid, user=who))
    assert _pairs(r) == [(tok, P.REDACTED), (pw, P.REDACTED), (app, "sg-policy-test")], r
    _no_secret(r)
    r, _ = allowed(pst, who, "Config", P.config("get_option", [tok, pw, app], session=sid,
                                                user=who))
    assert _pairs(r) == [(tok, P.REDACTED), (pw, P.REDACTED), (app, "sg-policy-test")], r
    _no_secret(r)
    r, _ = allowed(pst, who, "Config", P.config("get_with_default",
                                                [(tok, "d"), (pw, "d"), (app, "d")],
                                                session=sid, user=who))
    assert _pairs(r) == [(tok, P.REDACTED), (pw, P.REDACTED), (app, "sg-policy-test")], r
    _no_secret(r)
    r, _ = allowed(pst, who, "Config", P.config("get_all", session=sid, user=who))
    d = dict(_pairs(r))
    assert d[tok] == P.REDACTED and d[pw] == P.REDACTED and d[app] == "sg-policy-test", r
    _no_secret(r)


@pytest.mark.parametrize("prefix,key", [
    ("", "my.app.password"), ("spark.connect.", "authenticate.token"),
    ("my.app.", "password"), ("my.app.pass", "word"), ("my.", "app.password"),
])
def test_config_redaction_get_all_prefix(pst, prefix, key):
    """get_all strips the prefix from the keys it returns (as Spark does):
    redaction must judge prefix + key, not the stripped key alone."""
    r, _ = allowed(pst, "adam", "Config", P.config("get_all", prefix=prefix,
                                                   session=str(uuid.uuid4()), user="adam"))
    d = dict(_pairs(r))
    assert d.get(key) == P.REDACTED, (prefix, r)
    _no_secret(r)


def test_config_redaction_of_values_set_by_a_client(pst):
    """A client cannot read the backend pre-shared token back through a key
    of its own: any value containing it is redacted."""
    sid = str(uuid.uuid4())
    allowed(pst, "adam", "Config", P.config("set", [("x.sg.echo", PSK),
                                                    ("x.sg.embedded", "a:" + PSK + ":b"),
                                                    ("x.sg.plain", "visible")],
                                            session=sid, user="adam"))
    r, _ = allowed(pst, "adam", "Config", P.config("get", ["x.sg.echo", "x.sg.embedded",
                                                           "x.sg.plain"],
                                                   session=sid, user="adam"))
    assert _pairs(r) == [("x.sg.echo", P.REDACTED), ("x.sg.embedded", P.REDACTED),
                         ("x.sg.plain", "visible")], r
    _no_secret(r)
    r, _ = allowed(pst, "adam", "Config", P.config("get_all", prefix="x.sg.", session=sid,
                                                   user="adam"))
    assert sorted(_pairs(r)) == [("echo", P.REDACTED), ("embedded", P.REDACTED),
                                 ("plain", "visible")], r
    _no_secret(r)
    r, _ = allowed(pst, "adam", "Config", P.config("get_with_default", [("x.sg.echo", "d")],
                                                   session=sid, user="adam"))
    assert _pairs(r) == [("x.sg.echo", P.REDACTED)], r
    # a default that is the token itself comes back redacted as well
    r, _ = allowed(pst, "adam", "Config", P.config("get_with_default", [("x.sg.none", PSK)],
                                                   session=sid, user="adam"))
    assert _pairs(r) == [("x.sg.none", P.REDACTED)], r
    _no_secret(r)


# --------------------------------------------------------------------------
# AddArtifacts

def _status(st, who, sid, names):
    r, _ = allowed(st, who, "ArtifactStatus", P.artifact_status(names, session=sid, user=who))
    return {n: r.statuses[n].exists for n in names}


def test_artifacts_data_scientist(pst):
    sid = str(uuid.uuid4())
    r, s = allowed(pst, "dora", "AddArtifacts",
                   P.artifacts_batch([("pyfiles/x.py", b"def f():\n    return 1\n"),
                                      ("archives/env.tar.gz", b"\x1f\x8b" + b"x" * 100)],
                                     session=sid, user="dora"))
    assert sorted((a.name, a.is_crc_successful) for a in r.artifacts) == [
        ("archives/env.tar.gz", True), ("pyfiles/x.py", True)], r
    for name in ("jars/x.jar", "classes/com/example/A.class", "forward_to_fs/tmp/x"):
        refused(pst, "dora", "AddArtifacts", P.artifacts_batch([(name, b"PK\x03\x04")],
                                                               session=sid, user="dora"),
                frags=(name,))
    # one bad artifact in a batch refuses the batch
    refused(pst, "dora", "AddArtifacts",
            P.artifacts_batch([("pyfiles/ok.py", b"x = 1\n"), ("jars/evil.jar", b"PK")],
                              session=sid, user="dora"), frags=("jars/evil.jar",))
    # a chunked jar is refused at its begin_chunk
    refused(pst, "dora", "AddArtifacts",
            P.artifacts_chunked("jars/big.jar", b"PK" * 3000, session=sid, user="dora"),
            frags=("jars/big.jar",))
    assert _status(pst, "dora", sid, ["pyfiles/x.py", "jars/x.jar", "pyfiles/ok.py",
                                       "jars/big.jar"]) == {
        "pyfiles/x.py": True, "jars/x.jar": False, "pyfiles/ok.py": False,
        "jars/big.jar": False}


@pytest.mark.parametrize("name", ["pyfiles/../jars/x.jar", "/pyfiles/x.py",
                                  "pyfiles/a/../../x.py", "../x.py", "pyfiles/.."])
@pytest.mark.parametrize("how", ["batch", "chunked"])
def test_artifact_names_refused(pst, name, how):
    if how == "batch":
        req = P.artifacts_batch([(name, b"x = 1\n")], user="dora")
    else:
        req = P.artifacts_chunked(name, b"x = 1\n" * 500, chunk=1000, user="dora")
    refused(pst, "dora", "AddArtifacts", req, code=(INVALID, DENIED), frags=(name,))


def test_artifacts_admin_and_others(pst):
    allowed(pst, "adam", "AddArtifacts", P.artifacts_batch([("jars/x.jar", b"PK\x03\x04")],
                                                           session=str(uuid.uuid4()),
                                                           user="adam"))
    refused(pst, "sam", "AddArtifacts", P.artifacts_batch([("pyfiles/x.py", b"x")], user="sam"),
            frags=("AddArtifacts",))


def test_artifact_max_bytes(pst):
    sid = str(uuid.uuid4())
    allowed(pst, "cap", "AddArtifacts", P.artifacts_batch([("files/small.txt", b"s" * CAP)],
                                                          session=sid, user="cap"))
    msgs = P.artifacts_chunked("files/chunked-ok.txt", b"c" * CAP, chunk=1000, session=sid,
                               user="cap")
    allowed(pst, "cap", "AddArtifacts", msgs, n_messages=len(msgs))
    refused(pst, "cap", "AddArtifacts", P.artifacts_batch([("files/big.txt", b"b" * (CAP + 1))],
                                                          session=sid, user="cap"),
            frags=("files/big.txt",))
    # declared too large in begin_chunk
    refused(pst, "cap", "AddArtifacts",
            P.artifacts_chunked("files/declared.txt", b"d" * (CAP + 1000), chunk=1000,
                                session=sid, user="cap"), frags=("files/declared.txt",))
    # other kinds have no cap
    allowed(pst, "cap", "AddArtifacts",
            P.artifacts_batch([("pyfiles/big.py", b"#" * (4 * CAP))], session=sid, user="cap"))
    assert _status(pst, "cap", sid, ["files/small.txt", "files/chunked-ok.txt", "files/big.txt",
                                      "files/declared.txt", "pyfiles/big.py"]) == {
        "files/small.txt": True, "files/chunked-ok.txt": True, "files/big.txt": False,
        "files/declared.txt": False, "pyfiles/big.py": True}


def test_artifact_max_bytes_mid_stream(pst):
    """begin_chunk claims 1000 bytes, then chunks keep coming: refused once
    the artifact passes max_bytes, whatever was claimed; the part past the
    cap never reaches the backend and the artifact is not stored."""
    sid = str(uuid.uuid4())
    msgs = P.artifacts_chunked("files/liar.txt", b"L" * (8 * 1000), chunk=1000,
                               declared_total=1000, session=sid, user="cap")
    assert len(msgs) == 8
    tid, code, details, _ = call(pst, "cap", "AddArtifacts", msgs)
    assert code == DENIED, (code, details)
    assert 'profile "test-capped"' in details and "files/liar.txt" in details, details
    barrier(pst)
    s = pst.b1.find_stream(tid)
    if s is not None:
        s = pst.b1.wait_stream(tid)  # its cancellation, before the next test's snapshot
        # at most the messages that stayed within the cap were forwarded,
        # and the backend never completed the call
        assert len(s["messages"]) <= CAP // 1000, s
        assert not (s["close"] and s["close"].get("grpc_status") == 0), s
    assert _status(pst, "cap", sid, ["files/liar.txt"]) == {"files/liar.txt": False}


# --------------------------------------------------------------------------
# limits: compression, depth, malformed messages

@pytest.mark.parametrize("who", ["adam", "sam"])
def test_zstd_bomb(pst, who):
    bomb = P.zstd_bomb(300 << 20)
    hwm0 = pst.sg.hwm()
    req = P.execute(plan=P.compressed_plan(None, compressed=bomb), user=who)
    assert len(req) < 64 * 1024
    d = refused(pst, who, "ExecutePlan", req, code=EXHAUSTED)
    assert d, "no message"
    assert pst.sg.alive()
    grew = pst.sg.hwm() - hwm0
    assert grew < 200 << 20, "sparkgate's peak RSS grew by %d MiB for a zstd bomb" % (grew >> 20)


def test_zstd_ratio_limit(pst):
    """1 MiB of zeros compresses ~20000:1, beyond max_decompression_ratio
    (256), while far below max_decompressed_plan_size."""
    req = P.execute(plan=P.compressed_plan(P.local_relation(bytes(1 << 20))), user="adam")
    refused(pst, "adam", "ExecutePlan", req, code=EXHAUSTED)


@pytest.mark.parametrize("op_type,codec", [(0, 1), (9, 1), (1, 0), (1, 7)])
def test_compressed_unknown_op_type_or_codec(pst, op_type, codec):
    """What sparkgate cannot decompress or place it cannot judge: refused
    for every profile, admin included."""
    req = P.execute(plan=P.compressed_plan(P.udf_project(), op_type=op_type, codec=codec),
                    user="adam")
    refused(pst, "adam", "ExecutePlan", req, code=(INVALID, DENIED))


def test_zstd_garbage(pst):
    """compressed_operation whose data is not zstd: malformed."""
    req = P.execute(plan=P.compressed_plan(None, compressed=b"\x28\xb5\x2f\xfdgarbage"),
                    user="adam")
    refused(pst, "adam", "ExecutePlan", req, code=(INVALID, DENIED))


@pytest.mark.parametrize("who", ["adam", "sam"])
def test_depth_1024_accepted(pst, who):
    allowed(pst, who, "ExecutePlan", P.deep_execute(1024, user=who))


@pytest.mark.parametrize("who", ["adam", "sam"])
@pytest.mark.parametrize("depth", [1025, 1100, 5000])
def test_depth_beyond_limit_refused(pst, who, depth):
    d = refused(pst, who, "ExecutePlan", P.deep_execute(depth, user=who), code=EXHAUSTED)
    assert d
    assert pst.sg.alive()


MALFORMED_IDS = ["truncated-plan", "truncated-relation", "wiretype-7", "stray-end-group",
                 "bad-length", "field-zero", "truncated-top"]


@pytest.mark.parametrize("who", ["adam", "sam"])
@pytest.mark.parametrize("mid", MALFORMED_IDS)
def test_malformed_protobuf(pst, who, mid):
    req = dict(P.malformed_requests())[mid]
    refused(pst, who, "ExecutePlan", req, code=INVALID)
    assert pst.sg.alive()


# --------------------------------------------------------------------------
# audit log

AUDIT_RE = re.compile(r": (audit .*)$")


def audit_lines(st):
    """The key=value fields of every audit line (up to the quoted reason)."""
    out = []
    for line in st.sg.stderr().splitlines():
        m = AUDIT_RE.search(line)
        if m:
            kv = {}
            for tok in m.group(1).split(' reason="', 1)[0].split()[1:]:
                k, sep, v = tok.partition("=")
                if sep:
                    kv[k] = v
            out.append(kv)
    return out


def wait_audit(st, pred, what):
    return H.wait_until(lambda: [a for a in audit_lines(st) if pred(a)], 5.0, what=what)


def test_audit_log(pst):
    op = str(uuid.uuid4())
    deny_req = {who: P.execute(root=P.udf_project(), user=who, session=str(uuid.uuid4()),
                               operation_id=op) for who in ("sam", "ann")}
    digest = P.plan_sha256(deny_req["sam"])
    assert digest == P.plan_sha256(deny_req["ann"])
    for who in ("sam", "ann"):
        refused(pst, who, "ExecutePlan", deny_req[who])
    allow_req = P.execute(root=P.query(), user="adam")
    allowed(pst, "adam", "ExecutePlan", allow_req)
    for who in ("sam", "ann"):
        lines = wait_audit(pst, lambda a, who=who: a.get("principal") == who and
                           a.get("plan_sha256") == digest, "deny audit line of %s" % who)
        a = lines[-1]
        assert a.get("decision") == "deny", a
        assert a.get("profile") == PROFILE_OF[who], a
        assert a.get("method") == "ExecutePlan", a
        assert a.get("rule"), a
        assert "python_udf" in a.get("kinds", "") or \
            "common_inline_user_defined_function" in a.get("kinds", ""), a
    lines = wait_audit(pst, lambda a: a.get("principal") == "adam" and
                       a.get("plan_sha256") == P.plan_sha256(allow_req), "allow audit line")
    a = lines[-1]
    assert a.get("decision") == "allow", a
    assert a.get("profile") == "admin" and a.get("method") == "ExecutePlan", a
    assert a.get("kinds", "").startswith("project"), a
    # the line starts with "audit " (after the log prefix)
    raw = [ln for ln in pst.sg.stderr().splitlines() if "plan_sha256=" + digest in ln]
    assert raw and all(re.search(r": audit decision=", ln) for ln in raw), raw


# --------------------------------------------------------------------------
# sparkgate explain

def _run_explain(argv, stdin=None):
    """(status, stdout, stderr) of `sparkgate explain ...`; a sanitizer
    report (whose exit status 1 could pass for "malformed") fails the test."""
    r = subprocess.run([H.SPARKGATE_BIN, "explain"] + list(argv), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    out, err = r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")
    for mark in H.SAN_MARKERS:
        assert mark not in err, err
    return r.returncode, out, err


def explain(st, *args, stdin=None):
    return _run_explain(["-c", st.sg.config_path] + list(args), stdin=stdin)


def _file(name, data):
    d = os.path.join(H.tmp_root(), "explain")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def _strip_prefix(msg):
    return msg[len("sparkgate: "):] if msg.startswith("sparkgate: ") else msg


def test_explain(pst):
    req = P.execute(root=P.udf_project(), user="sam")
    proxy_msg = refused(pst, "sam", "ExecutePlan", req)
    raw, framed = _file("udf.bin", req), _file("udf.grpc", P.grpc_frame(req))
    rc, out, err = explain(pst, "--profile", "sql-only", raw)
    assert rc == 0, (rc, out, err)
    for k in ("project", "read", "common_inline_user_defined_function", "python_udf",
              "root.project.expressions[1].common_inline_user_defined_function"):
        assert k in out, (k, out)
    assert 'profile "sql-only": deny' in out, out
    assert _strip_prefix(proxy_msg) in out, (proxy_msg, out)
    assert 'profile "admin"' not in out, out
    # the gRPC-framed form and stdin give the same answer (the first line
    # describes the input)
    body = out.split("\n", 1)[1]
    for args, stdin in (([framed], None), (["-"], req), (["-"], P.grpc_frame(req)), ([], req)):
        rc2, out2, err2 = explain(pst, "--profile", "sql-only", *args, stdin=stdin)
        assert rc2 == 0 and out2.split("\n", 1)[1] == body, (args, rc2, out2, err2)
    # -q: the decision only
    rc, outq, err = explain(pst, "-q", "--profile", "sql-only", raw)
    assert rc == 0 and 'profile "sql-only": deny' in outq, (rc, outq, err)
    assert "unresolved_attribute" not in outq, outq
    rc, out, err = explain(pst, "--profile", "admin", raw)
    assert rc == 0 and 'profile "admin": allow' in out, (rc, out, err)
    # every profile when none is named
    rc, out, err = explain(pst, raw)
    assert rc == 0, (rc, out, err)
    for p, verdict in (("sql-only", "deny"), ("analyst", "deny"), ("data-scientist", "allow"),
                       ("admin", "allow"), ("test-udf100", "allow")):
        assert 'profile "%s": %s' % (p, verdict) in out, (p, out)


def test_explain_other_methods_and_compressed(pst):
    req = P.analyze(P.map_in_pandas(), user="sam")
    rc, out, err = explain(pst, "--method", "AnalyzePlan", "--profile", "sql-only",
                           _file("an.bin", req))
    assert rc == 0, (rc, out, err)
    assert "map_partitions" in out and 'profile "sql-only": deny' in out, out
    proxy_msg = refused(pst, "sam", "AnalyzePlan", req)
    assert _strip_prefix(proxy_msg) in out, (proxy_msg, out)
    # a compressed plan: the decompressed nodes are shown and judged
    req = P.execute(plan=P.compressed_plan(P.udf_project()), user="sam")
    rc, out, err = explain(pst, "--profile", "sql-only", _file("cz.bin", req))
    assert rc == 0, (rc, out, err)
    assert "compressed_operation" in out and "python_udf" in out, out
    assert 'profile "sql-only": deny' in out, out
    # Config set
    req = P.config("set", [("spark.executor.memory", "64g")], user="ann")
    rc, out, err = explain(pst, "--method", "Config", "--profile", "analyst",
                           _file("cfg.bin", req))
    assert rc == 0 and 'profile "analyst": deny' in out and "spark.executor.memory" in out, \
        (rc, out, err)


def test_explain_errors(pst):
    good = _file("good.bin", P.execute(root=P.query()))
    rc, out, err = explain(pst, "--profile", "sql-only", good)
    assert rc == 0 and 'profile "sql-only": allow' in out, (rc, out, err)
    for mid, req in P.malformed_requests():
        rc, out, err = explain(pst, "--profile", "sql-only", _file(mid + ".bin", req))
        assert rc == 1, (mid, rc, out, err)
    rc, out, err = explain(pst, "--profile", "no-such-profile", good)
    assert rc == 2, (rc, out, err)
    rc, out, err = explain(pst, "--method", "NoSuchMethod", good)
    assert rc == 2, (rc, out, err)
    rc, out, err = _run_explain(["-c", _file("bad.json", b"{nope"), good])
    assert rc == 2, (rc, out, err)
    rc, out, err = explain(pst, os.path.join(H.tmp_root(), "explain", "missing.bin"))
    assert rc == 2, (rc, out, err)
    rc, out, err = explain(pst, "--no-such-option", good)
    assert rc == 2, (rc, out, err)


# --------------------------------------------------------------------------
# last: nothing secret in the log

def test_zz_no_secret_in_log(pst):
    err = pst.sg.stderr()
    for s in (PSK, APP_SECRET, PSK[4:24]):
        assert s not in err, "secret %s... in sparkgate's stderr" % s[:8]
    for t in TOK.values():
        assert t not in err and t[4:24] not in err
    pst.sg.check_health()
