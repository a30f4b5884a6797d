"""What Spark itself requires of a request, enforced before anything is
forwarded: session ids are UUIDs, an ExecutePlan has a plan, a message is
never empty, the content type is protobuf gRPC, a compressed flag comes with
an encoding.  Profiles whose rules the engine cannot honour fail to load.
Config responses hide what Spark's own redaction hides, and a client's
connection-string token never reaches a backend.

Every refusal is checked at the backend too (nothing recorded for the test
id) and, for session ids, in sparkgate's log (the raw value never appears).
"""

import hashlib
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
INVALID = grpc.StatusCode.INVALID_ARGUMENT
OK = grpc.StatusCode.OK
SESSION = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"
TOKEN = "sg-reqval-token-" + uuid.uuid4().hex[:12]
AUTH = ("authorization", "Bearer " + TOKEN)
PROFILES = {
    "reader": {"description": "queries and Config only",
               "relations": {"deny": ["local_relation"]},
               "conf": {"deny": ["spark.sql.warehouse.*"]}},
}

# values of a session_id that Spark refuses; each carries a marker that must
# never show up in sparkgate's log
MARK = "zq" + uuid.uuid4().hex[:10]
BAD_SIDS = {
    "traversal": "../../../etc/passwd/" + MARK,
    "kib": MARK + "A" * 1024,
    "not_uuid": "session-" + MARK,
    "no_dashes": uuid.uuid4().hex,
    "braces": "{" + str(uuid.uuid4()) + "}",
    "one_short": str(uuid.uuid4())[:-1],
    "one_long": str(uuid.uuid4()) + "0",
    "nonhex": "g" + str(uuid.uuid4())[1:],
    "dash_moved": "0123456-78901-2345-6789-0123456789ab",
    "empty": "",
    "control": str(uuid.uuid4())[:-1] + "\n",
}

# keys a Spark backend holds secrets under; Config get must hide all of them
SECRET_CONF = {
    "spark.ssl.keyStorePassword": "ks-" + uuid.uuid4().hex[:10],
    "spark.hadoop.fs.s3a.session.token": "st-" + uuid.uuid4().hex[:10],
    "fs.s3a.access.key": "ak-" + uuid.uuid4().hex[:10],
    "spark.hadoop.fs.s3a.accessKey": "ak2-" + uuid.uuid4().hex[:10],
    "spark.datasource.x.oauthToken": "ot-" + uuid.uuid4().hex[:10],
    "fs.azure.account.key.acct.dfs.core.windows.net": "az-" + uuid.uuid4().hex[:10],
    "spark.hadoop.fs.azure.sas.c.acct.blob.core.windows.net": "sas-" + uuid.uuid4().hex[:10],
    "My.App.SECRET": "sec-" + uuid.uuid4().hex[:10],
}


class Stack:
    """One backend behind one sparkgate: anonymous (no profiles) or with a
    static token mapped to a profile."""

    def __init__(self, group, profiles):
        extra = []
        for k, v in SECRET_CONF.items():
            extra += ["--conf", "%s=%s" % (k, v)]
        extra += ["--conf", "spark.app.name=sg-reqval"]
        self.b1 = group.backend("b1", extra=extra)
        self.port = H.free_port()
        kw = {}
        if profiles:
            kw["auth"] = {"static_tokens": [{"sha256": H.hash_token(TOKEN), "principal": "rita",
                                             "profile": "reader"}]}
            kw["profiles"] = PROFILES
        self.profiles = profiles
        self.config = H.sg_config(self.port, [("b1", self.b1.address)], **kw)
        self.sg = group.sparkgate(self.config)
        self.channel = H.grpc_channel(self.port)
        self.md = [AUTH] if profiles else []

    def call(self, method, req, tid=None):
        return H.auth_call(self.channel, method, req, md=self.md,
                           token=None, tid=tid, timeout=TIMEOUT)

    def h2(self):
        return H.H2Client(self.port)

    def close(self):
        self.channel.close()


@pytest.fixture(scope="module", params=["anonymous", "profiles"])
def rst(mprocs, request):
    s = Stack(mprocs, request.param == "profiles")
    yield s
    s.close()
    s.sg.check_health()


def barrier(st):
    """A call that must reach the backend: once it is recorded, everything
    sent before it on other streams is recorded too."""
    tid, code, details, _ = st.call("Config", H.make_request("Config", session_id=SESSION))
    assert code == OK, details
    st.b1.wait_stream(tid, timeout=5)
    time.sleep(0.05)


def assert_not_forwarded(st, tid):
    barrier(st)
    assert st.b1.find_stream(tid) is None, "refused call reached the backend: %s" % tid


def log_text(st):
    with open(st.sg.stderr_path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def h2_call(st, method, body, headers=(), compressed=False, ctype=None):
    """One call over raw h2; returns (test id, H2Stream)."""
    tid = H.new_test_id()
    c = st.h2()
    try:
        meta = list(st.md) + H.md(tid) + list(headers)
        path = H.SERVICE + method
        if ctype is None:
            s = c.grpc_call(method, body, metadata=meta, compressed=compressed)
        else:
            hdrs = [("content-type", ctype), ("te", "trailers")] + meta
            s = c.request(path, headers=hdrs, body=H.grpc_frame(body, compressed), grpc=False)
        c.wait_done(s, TIMEOUT)
    finally:
        c.close()
    return tid, s


# --------------------------------------------------------------------------
# session_id

METHODS = ["ExecutePlan", "AnalyzePlan", "Config", "AddArtifacts", "ArtifactStatus",
           "Interrupt", "ReattachExecute", "ReleaseExecute", "ReleaseSession",
           "FetchErrorDetails", "CloneSession", "GetStatus"]


def _req(method, sid):
    req = H.make_request(method, session_id=sid)
    if method == "AddArtifacts":
        req.batch.artifacts.add(name="files/a.txt").data.data = b"x"
        return [req]
    return req


@pytest.mark.parametrize("bad", sorted(BAD_SIDS))
def test_bad_session_id_config(rst, bad):
    sid = BAD_SIDS[bad]
    tid, code, details, _ = rst.call("Config", H.make_request("Config", session_id=sid))
    assert code == INVALID, (code, details)
    assert details.startswith("sparkgate: ") and "session_id" in details, details
    assert MARK not in details
    assert_not_forwarded(rst, tid)
    assert MARK not in log_text(rst), "a raw session_id reached the log"


@pytest.mark.parametrize("method", METHODS)
def test_bad_session_id_every_method(rst, method):
    sid = BAD_SIDS["traversal"]
    tid, code, details, _ = rst.call(method, _req(method, sid))
    assert code == INVALID, (method, code, details)
    assert "session_id" in details, details
    assert_not_forwarded(rst, tid)
    assert MARK not in log_text(rst)


@pytest.mark.parametrize("method", METHODS)
def test_missing_session_id(rst, method):
    req = _req(method, SESSION)
    (req[0] if isinstance(req, list) else req).ClearField("session_id")
    tid, code, details, _ = rst.call(method, req)
    assert code == INVALID, (method, code, details)
    assert "no session_id" in details, details
    assert_not_forwarded(rst, tid)


def test_session_id_later_message_checked(rst):
    """AddArtifacts: every message of the client stream is checked, not
    only the one that routes the call."""
    good = _req("AddArtifacts", SESSION)[0]
    bad = _req("AddArtifacts", BAD_SIDS["kib"])[0]
    tid, code, details, _ = rst.call("AddArtifacts", [good, bad])
    assert code == INVALID, (code, details)
    assert MARK not in log_text(rst)


def test_uppercase_uuid_accepted(rst):
    sid = str(uuid.uuid4()).upper()
    tid, code, details, _ = rst.call("Config", H.make_request("Config", session_id=sid))
    assert code == OK, details
    s = rst.b1.wait_stream(tid, timeout=5)
    assert s["messages"][0]["session_id"] == sid


@pytest.mark.parametrize("bad", ["traversal", "not_uuid", "kib"])
def test_clone_new_session_id(rst, bad):
    req = H.make_request("CloneSession", session_id=SESSION)
    req.new_session_id = BAD_SIDS[bad]
    tid, code, details, _ = rst.call("CloneSession", req)
    assert code == INVALID, (code, details)
    assert "new_session_id" in details, details
    assert_not_forwarded(rst, tid)


# --------------------------------------------------------------------------
# ExecutePlan without a plan; empty messages

def test_execute_plan_without_plan(rst):
    req = H.make_request("ExecutePlan", session_id=SESSION)
    req.ClearField("plan")
    tid, code, details, _ = rst.call("ExecutePlan", req)
    assert code == INVALID, (code, details)
    assert details.startswith("sparkgate: ") and "no plan" in details, details
    assert_not_forwarded(rst, tid)


@pytest.mark.parametrize("method", METHODS)
def test_empty_message(rst, method):
    tid, s = h2_call(rst, method, b"")
    assert s.grpc_status() == H.INVALID_ARGUMENT, (method, s.headers, s.trailers)
    assert "empty" in H.grpc_message_decoded(s), s.trailers
    assert_not_forwarded(rst, tid)


# --------------------------------------------------------------------------
# content type and the compressed flag

@pytest.mark.parametrize("ctype", ["application/grpc+json", "application/grpc-web",
                                   "application/grpc-web+proto", "application/grpc+proto2",
                                   "application/grpc+json; charset=utf-8",
                                   "application/grpc+protobuf"])
def test_content_type_refused(rst, ctype):
    body = H.make_request("Config", session_id=SESSION).SerializeToString()
    tid, s = h2_call(rst, "Config", body, ctype=ctype)
    assert s.status() == 415, (ctype, s.headers, s.trailers)
    assert_not_forwarded(rst, tid)


@pytest.mark.parametrize("ctype", ["application/grpc", "application/grpc+proto",
                                   "application/grpc;charset=utf-8",
                                   "application/grpc+proto; charset=utf-8"])
def test_content_type_accepted(rst, ctype):
    body = H.make_request("Config", session_id=SESSION).SerializeToString()
    tid, s = h2_call(rst, "Config", body, ctype=ctype)
    assert s.status() == 200 and s.grpc_status() == H.OK, (ctype, s.headers, s.trailers)
    rst.b1.wait_stream(tid, timeout=5)


def test_repeated_content_type_refused(rst):
    """Two content-types, the second one not gRPC: sparkgate would judge
    one while the backend may read the other; refused 415, not forwarded."""
    body = H.make_request("Config", session_id=SESSION).SerializeToString()
    for second in ("application/grpc", "application/grpc+json"):
        tid, s = h2_call(rst, "Config", body, ctype="application/grpc",
                         headers=[("content-type", second)])
        assert s.status() == 415, (second, s.headers, s.trailers)
        assert_not_forwarded(rst, tid)


@pytest.mark.parametrize("name,values", [
    ("grpc-encoding", ("gzip", "identity")),
    ("grpc-encoding", ("identity", "identity")),
    ("grpc-timeout", ("1S", "100000S")),
])
def test_repeated_grpc_header_refused(rst, name, values):
    """grpc-encoding or grpc-timeout twice: INVALID_ARGUMENT naming the
    header, nothing forwarded (grpc-java reads the first, sparkgate judged
    the last)."""
    body = H.make_request("Config", session_id=SESSION).SerializeToString()
    tid, s = h2_call(rst, "Config", body, headers=[(name, v) for v in values])
    assert s.grpc_status() == H.INVALID_ARGUMENT, (s.headers, s.trailers)
    msg = H.grpc_message_decoded(s)
    assert msg.startswith("sparkgate: ") and name in msg and "repeated" in msg, msg
    assert_not_forwarded(rst, tid)


@pytest.mark.parametrize("enc", [None, "identity"])
def test_compressed_flag_without_encoding(rst, enc):
    body = H.make_request("Config", session_id=SESSION).SerializeToString()
    headers = [] if enc is None else [("grpc-encoding", enc)]
    tid, s = h2_call(rst, "Config", body, headers=headers, compressed=True)
    assert s.grpc_status() == 13, (s.headers, s.trailers)
    msg = H.grpc_message_decoded(s)
    assert msg.startswith("sparkgate: ") and "grpc-encoding" in msg, msg
    assert_not_forwarded(rst, tid)


def test_compressed_flag_real_encoding_still_unimplemented(rst):
    body = H.make_request("Config", session_id=SESSION).SerializeToString()
    tid, s = h2_call(rst, "Config", body, headers=[("grpc-encoding", "gzip")], compressed=True)
    assert s.grpc_status() == H.UNIMPLEMENTED, (s.headers, s.trailers)
    assert_not_forwarded(rst, tid)


# --------------------------------------------------------------------------
# Config: what Spark redacts, and credentials in spark.remote

def test_config_secrets_redacted(rst):
    keys = sorted(SECRET_CONF) + ["spark.app.name"]
    sid = str(uuid.uuid4())
    tid, code, details, resp = rst.call("Config", (
        P.config("get", keys, session=sid)))
    assert code == OK, details
    got = {kv.key: kv.value for kv in resp.pairs}
    for k, v in SECRET_CONF.items():
        assert got.get(k) == "*********(redacted)", (k, got.get(k))
        assert v not in str(resp)
    assert got["spark.app.name"] == "sg-reqval"
    # get_all too, with and without a prefix
    for prefix in (None, "spark.hadoop."):
        tid, code, details, resp = rst.call("Config", (
            P.config("get_all", prefix=prefix, session=sid)))
        assert code == OK, details
        for v in SECRET_CONF.values():
            assert v not in str(resp), (prefix, resp)


REMOTE_TOKEN = "tok-" + uuid.uuid4().hex


@pytest.mark.parametrize("op", ["set", "get_with_default"])
def test_spark_remote_token_never_reaches_backend(rst, op):
    """PySpark 3.5 sends its connection string as Config spark.remote on
    every session start: the backend stores it without the token."""
    sid = str(uuid.uuid4())
    remote = ("sc://spark.example.com:15002/;use_ssl=true;token=%s;user_id=alice;"
              "x-api-key=%s" % (REMOTE_TOKEN, REMOTE_TOKEN))
    tid, code, details, resp = rst.call("Config", (
        P.config(op, [("spark.remote", remote)], session=sid)))
    assert code == OK, details
    rst.b1.wait_stream(tid, timeout=5)
    if op == "get_with_default":
        # the backend answers with the default it received
        got = {kv.key: kv.value for kv in resp.pairs}
    else:
        tid, code, details, resp = rst.call("Config", (
            P.config("get", ["spark.remote"], session=sid)))
        assert code == OK, details
        got = {kv.key: kv.value for kv in resp.pairs}
    assert REMOTE_TOKEN not in got["spark.remote"], got
    assert got["spark.remote"] == "sc://spark.example.com:15002/;use_ssl=true;user_id=alice", got
    assert REMOTE_TOKEN not in log_text(rst)


def test_connection_string_userinfo_scrubbed(rst):
    sid = str(uuid.uuid4())
    remote = "sc://bob:%s@spark.example.com:15002/;user_id=bob" % REMOTE_TOKEN
    tid, code, details, _ = rst.call("Config", (
        P.config("set", [("spark.remote", remote)], session=sid)))
    assert code == OK, details
    tid, code, details, resp = rst.call("Config", (
        P.config("get", ["spark.remote"], session=sid)))
    assert code == OK, details
    assert resp.pairs[0].value == "sc://spark.example.com:15002/;user_id=bob", resp


# --------------------------------------------------------------------------
# profile rules the engine cannot honour are config errors

def _run_check(text):
    d = os.path.join(H.tmp_root(), "cfg83")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "c-%s.json" % uuid.uuid4().hex[:8])
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    r = subprocess.run([H.SPARKGATE_BIN, "-t", "-c", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20, stdin=subprocess.DEVNULL)
    return path, r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


def _cfg_text(profiles=None, **top):
    cfg = {"listen": [{"address": "127.0.0.1:1", "plaintext": True}],
           "backends": [{"name": "b", "address": "127.0.0.1:2"}],
           "auth": {"static_tokens": [{"sha256": "0" * 64, "principal": "p", "profile": "p"}]},
           "profiles": profiles or {"p": {}}}
    cfg.update(top)
    return json.dumps(cfg, indent=2)


BAD_RULES = {
    # name: (profiles or None, top-level extras, needle the error points at, key path, reason)
    "deny_extension_relation": ({"p": {"relations": {"deny": ["sql", "extension"]}}}, {},
                                '"extension"', "profiles.p.relations.deny[1]", r"extensions"),
    "allow_extension_expression": ({"p": {"expressions": {"allow": ["literal", "extension"]}}},
                                   {}, '"extension"', "profiles.p.expressions.allow[1]",
                                   r"extensions"),
    "deny_extension_command": ({"p": {"commands": {"deny": ["extension"]}}}, {},
                               '"extension"', "profiles.p.commands.deny[0]", r"extensions"),
    "conf_deny_bracket": ({"p": {"conf": {"deny": ["spark.sql.[a-z]*"]}}}, {},
                          '"spark.sql.[a-z]*"', "profiles.p.conf.deny[0]", r"'\['"),
    "conf_allow_backslash": ({"p": {"conf": {"allow": ["spark\\.sql\\.*"]}}}, {},
                             '"spark\\\\.sql', "profiles.p.conf.allow[0]", r"'\\'"),
    "extensions_brace": ({"p": {"extensions": ["type.googleapis.com/{a,b}.X"]}}, {},
                         '"type.googleapis.com/{a,b}.X"', "profiles.p.extensions[0]", r"'\{'"),
    "redact_bracket": (None, {"redact_conf_keys": ["*password*", "spark.[ab]"]},
                       '"spark.[ab]"', "redact_conf_keys[1]", r"'\['"),
}


@pytest.mark.parametrize("name", sorted(BAD_RULES))
def test_unenforceable_rule_is_config_error(name):
    profiles, top, needle, keypath, reason = BAD_RULES[name]
    text = _cfg_text(profiles, **top)
    i = text.index(needle)
    line = text.count("\n", 0, i) + 1
    col = i - (text.rfind("\n", 0, i) + 1) + 1
    path, rc, out = _run_check(text)
    assert rc == 1, out
    lines = [l for l in out.splitlines() if l.strip()]
    assert len(lines) == 1, out
    m = re.match(r"^sparkgate: (.+?):(\d+):(\d+): (.*)$", lines[0])
    assert m and m.group(1) == path, out
    assert (int(m.group(2)), int(m.group(3))) == (line, col), (line, col, out)
    assert m.group(4).startswith(keypath + ": "), out
    assert re.search(reason, m.group(4)), out


def test_enforceable_rules_still_load():
    text = _cfg_text({"p": {"relations": {"deny": ["sql"]},
                            "conf": {"allow": ["spark.sql.*", "spark.app.nam?"]},
                            "extensions": ["type.googleapis.com/spark.connect.delta.*"]}},
                     redact_conf_keys=["*password*", "MY.APP.*"])
    path, rc, out = _run_check(text)
    assert rc == 0, out
