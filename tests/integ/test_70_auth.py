"""Authentication and identity binding: static tokens, refusals,
identity rewriting on every RPC, stripped identity headers, the backend's
pre-shared token, require_match, sessions per principal, per-stream
credentials on one connection, mTLS as identity, and no secret in the log.

Every refusal is checked for its gRPC code, the key part of its message, and
for having reached no backend (nothing recorded for its test id)."""

import subprocess
import time
import uuid
import zlib

import grpc
import pytest

import sgharness as H

SESSION = "7b1f0c2e-8a4d-4e6f-9b3c-2d1e0f9a8b7c"
TIMEOUT = 10
UNAUTH = grpc.StatusCode.UNAUTHENTICATED
DENIED = grpc.StatusCode.PERMISSION_DENIED

TOK = {p: H.new_token() for p in ("alice", "bob", "carol", "dave")}
PSK = H.new_token("psk_")
# every sparkgate of this module: their stderr must hold no secret (last test)
SPARKGATES = []


def static_tokens():
    return [
        {"sha256": H.hash_token(TOK["alice"]), "principal": "alice", "profile": "analyst"},
        {"sha256": H.hash_token(TOK["bob"]), "principal": "bob", "profile": "analyst"},
        {"sha256": H.hash_token(TOK["carol"]), "principal": "carol", "profile": "analyst",
         "disabled": True},
        {"sha256": H.hash_token(TOK["dave"]), "principal": "dave"},  # no profile, no default
    ]


class AuthStack:
    """Backend b1 (with a pre-shared token) behind a TLS sparkgate that
    accepts the static tokens of TOK."""

    def __init__(self, group, auth=None, psk=True, backends=None):
        self.b1 = group.backend("b1") if backends is None else None
        self.port = H.free_port()
        if backends is None:
            b = {"name": "b1", "address": self.b1.address}
            if psk:
                b["preshared_token_file"] = H.write_secret("psk", PSK + "\n")
            backends = [b]
        self.config = H.sg_config(self.port, backends,
                                  auth=auth or {"static_tokens": static_tokens()})
        self.sg = group.sparkgate(self.config)
        SPARKGATES.append(self.sg)
        self.channel = H.grpc_channel(self.port)

    def close(self):
        self.channel.close()


@pytest.fixture(scope="module")
def st(mprocs):
    s = AuthStack(mprocs)
    yield s
    s.close()
    s.sg.check_health()


def call(channel, method, req, md=(), token=None, header="authorization", tid=None,
         timeout=TIMEOUT):
    """One call; returns (tid, code, details, response(s))."""
    return H.auth_call(channel, method, req, md=md, token=token, header=header, tid=tid,
                       timeout=timeout)


def barrier(stack, backend=None):
    """A call that must reach the backend: once it is recorded, anything a
    refused call would have opened before it is recorded too."""
    b = backend or stack.b1
    tid, code, details, _ = call(stack.channel, "Config",
                                 H.make_request("Config", SESSION, user_id="alice"),
                                 token=TOK["alice"])
    assert code == grpc.StatusCode.OK, details
    b.wait_stream(tid, timeout=5)
    time.sleep(0.05)


def assert_untouched(stack, tids, backend=None):
    b = backend or stack.b1
    barrier(stack, b)
    for tid in tids:
        assert b.find_stream(tid) is None, "refused call %s reached the backend: %r" % (
            tid, b.find_stream(tid))


def assert_bound(stream, principal, via="static", profile="analyst", n_messages=1):
    hdrs = stream["open"].get("headers") or {}
    assert H.header_value(hdrs, "x-sparkgate-principal") == principal, hdrs
    assert H.header_value(hdrs, "x-sparkgate-auth") == via, hdrs
    if profile is not None:
        assert H.header_value(hdrs, "x-sparkgate-profile") == profile, hdrs
    msgs = stream["messages"]
    assert len(msgs) == n_messages, msgs
    for m in msgs:
        assert "parse_error" not in m, m
        assert m.get("user_id") == principal, m
        assert m.get("user_name") == principal, m
        assert m.get("user_context_count") == 1, m


# --------------------------------------------------------------------------
# static tokens

@pytest.mark.parametrize("header", ["authorization", "authentication"])
def test_static_token_accepted(st, header):
    """PySpark/Go send authorization; the JVM client sends authentication."""
    req = H.make_request("Config", SESSION, user_id="alice", user_name="alice")
    tid, code, details, resp = call(st.channel, "Config", req, token=TOK["alice"], header=header)
    assert code == grpc.StatusCode.OK, details
    assert resp.session_id == SESSION
    s = st.b1.wait_stream(tid)
    assert_bound(s, "alice")
    hdrs = s["open"]["headers"]
    # the client's credential header never reaches the backend
    assert H.header_value(hdrs, "authentication") is None, hdrs
    assert H.header_value(hdrs, "authorization") == "Bearer " + PSK, hdrs


def _near_miss(tok):
    i = len(tok) // 2
    return tok[:i] + ("A" if tok[i] != "A" else "B") + tok[i + 1:]


REFUSALS = [
    # (id, metadata builder, code, message fragments)
    ("near-miss", lambda: H.bearer(_near_miss(TOK["alice"])), UNAUTH,
     ["sparkgate: invalid token"]),
    ("near-miss-jvm", lambda: H.bearer(_near_miss(TOK["bob"]), "authentication"), UNAUTH,
     ["sparkgate: invalid token"]),
    ("prefix", lambda: H.bearer(TOK["alice"][:-1]), UNAUTH, ["sparkgate: invalid token"]),
    ("missing", lambda: [], UNAUTH, ["sparkgate: missing credentials", "authorization"]),
    ("basic", lambda: [("authorization", "Basic YWxpY2U6cGFzc3dvcmQ=")], UNAUTH,
     ["sparkgate: malformed credentials", "Bearer"]),
    ("no-scheme", lambda: [("authorization", TOK["alice"])], UNAUTH,
     ["sparkgate: malformed credentials"]),
    ("two-headers", lambda: H.bearer(TOK["alice"]) + H.bearer(TOK["alice"], "authentication"),
     UNAUTH, ["sparkgate: more than one credential header"]),
    ("two-authorization", lambda: H.bearer(TOK["alice"]) + H.bearer(TOK["bob"]), UNAUTH,
     ["sparkgate: more than one credential header"]),
    ("disabled", lambda: H.bearer(TOK["carol"]), DENIED,
     ['sparkgate: principal "carol" is disabled']),
    ("no-profile", lambda: H.bearer(TOK["dave"]), DENIED,
     ['sparkgate: principal "dave" has no profile']),
]


@pytest.mark.parametrize("case", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_static_token_refused(st, case):
    _, mdf, want, frags = case
    tids = []
    for method in ("Config", "ExecutePlan"):
        tid, code, details, _ = call(st.channel, method, H.make_request(method, SESSION),
                                     md=mdf())
        assert code == want, (method, code, details)
        for f in frags:
            assert f in details, (method, details)
        tids.append(tid)
    assert_untouched(st, tids)


def test_two_credential_headers_raw_h2(st):
    """Two authorization fields sent as two HTTP/2 header fields (no client
    library joining them) are refused; so is an empty bearer token."""
    c = H.H2Client(st.port)
    try:
        body = H.make_request("Config", SESSION)
        t1, t2, t3 = H.new_test_id(), H.new_test_id(), H.new_test_id()
        s1 = c.grpc_call("Config", body, metadata=H.md(t1) + H.bearer(TOK["alice"]) +
                         H.bearer(TOK["alice"]))
        s2 = c.grpc_call("Config", body, metadata=H.md(t2) + [("authorization", "Bearer ")])
        s3 = c.grpc_call("Config", body, metadata=H.md(t3) + [("authorization", "Bearer  ")])
        for s in (s1, s2, s3):
            c.wait_done(s, TIMEOUT)
            assert s.grpc_status() == 16, (s.headers, s.trailers)
        assert "more than one credential header" in H.grpc_message_decoded(s1)
        for s in (s2, s3):
            m = H.grpc_message_decoded(s)
            assert "malformed credentials" in m or "missing credentials" in m, m
    finally:
        c.close()
    assert_untouched(st, [t1, t2, t3])


# --------------------------------------------------------------------------
# identity binding

ONE_SHOT = ["Config", "AnalyzePlan", "ExecutePlan", "ReattachExecute", "ReleaseExecute",
            "Interrupt", "FetchErrorDetails", "ArtifactStatus", "CloneSession", "GetStatus",
            "ReleaseSession"]


@pytest.mark.parametrize("method", ONE_SHOT)
def test_identity_bound_on_every_rpc(st, method):
    """The client sends user_context twice (user_id mallory, then victim,
    each with a user_name and an extension): the backend sees exactly one
    user_context, with user_id = user_name = the principal."""
    sid = str(uuid.uuid4())
    op = str(uuid.uuid4())
    if method in ("ReattachExecute", "ReleaseExecute"):
        # the op must exist for the same (user, session): started under a lie too
        pre = H.make_request("ExecutePlan", sid, operation_id=op)
        tid0, code, details, _ = call(st.channel, "ExecutePlan", H.hostile_user_contexts(pre),
                                      token=TOK["bob"])
        assert code == grpc.StatusCode.OK, details
        assert_bound(st.b1.wait_stream(tid0), "bob")
    kw = {"operation_id": op} if method in ("ExecutePlan", "ReattachExecute",
                                            "ReleaseExecute") else {}
    req = H.make_request(method, sid, **kw)
    raw = H.hostile_user_contexts(req)
    tid, code, details, _ = call(st.channel, method, raw, token=TOK["bob"])
    s = st.b1.wait_stream(tid)
    assert_bound(s, "bob")
    assert s["messages"][0].get("session_id") == sid
    # the backend found bob's op / session: the whole call was bound to bob
    assert code == grpc.StatusCode.OK, (code, details)


def test_identity_bound_on_every_add_artifacts_message(st):
    m = H.pb()
    sid = str(uuid.uuid4())
    a = b"A" * 1000
    b1, b2 = b"B" * 700, b"C" * 300
    r1 = H.make_request("AddArtifacts", sid)
    art = r1.batch.artifacts.add(name="jars/a.jar")
    art.data.data = a
    art.data.crc = zlib.crc32(a)
    r2 = H.make_request("AddArtifacts", sid)
    r2.begin_chunk.name = "jars/b.jar"
    r2.begin_chunk.total_bytes = len(b1) + len(b2)
    r2.begin_chunk.num_chunks = 2
    r2.begin_chunk.initial_chunk.data = b1
    r2.begin_chunk.initial_chunk.crc = zlib.crc32(b1)
    r3 = H.make_request("AddArtifacts", sid)
    r3.chunk.data = b2
    r3.chunk.crc = zlib.crc32(b2)
    reqs = [H.hostile_user_contexts(r, first=("victim", "V"), last=("mallory%d" % i, "M"))
            for i, r in enumerate((r1, r2, r3))]
    tid, code, details, resp = call(st.channel, "AddArtifacts", reqs, token=TOK["alice"])
    assert code == grpc.StatusCode.OK, details
    assert isinstance(resp, m.AddArtifactsResponse)
    assert sorted((x.name, x.is_crc_successful) for x in resp.artifacts) == [
        ("jars/a.jar", True), ("jars/b.jar", True)], resp
    s = st.b1.wait_stream(tid)
    assert_bound(s, "alice", n_messages=3)
    # the upload landed in alice's session
    tid, code, details, resp = call(st.channel, "ArtifactStatus",
                                    H.make_request("ArtifactStatus", sid), token=TOK["alice"])
    assert code == grpc.StatusCode.OK, details
    assert resp.statuses["jars/a.jar"].exists, resp


def test_client_identity_headers_never_forwarded(st):
    spoof = [("x-forwarded-user", "mallory"), ("x-sparkgate-principal", "mallory"),
             ("x-sparkgate-auth", "mtls"), ("x-sparkgate-profile", "admin"),
             ("x-sparkgate-whatever", "x"), ("x-remote-user", "mallory"),
             ("x-forwarded-email", "mallory@example.com"), ("x-forwarded-groups", "admins"),
             ("x-spark-user", "mallory"), ("remote-user", "mallory"),
             ("x-auth-request-user", "mallory"), ("x-keep-me", "kept")]
    for header in ("authorization", "authentication"):
        req = H.make_request("Config", SESSION)
        tid, code, details, _ = call(st.channel, "Config", req, md=spoof, token=TOK["alice"],
                                     header=header)
        assert code == grpc.StatusCode.OK, details
        s = st.b1.wait_stream(tid)
        hdrs = s["open"]["headers"]
        for name in ("x-forwarded-user", "x-remote-user", "x-forwarded-email",
                     "x-forwarded-groups", "x-spark-user", "remote-user", "x-auth-request-user",
                     "x-sparkgate-whatever", "authentication"):
            assert H.header_value(hdrs, name) is None, (name, hdrs)
        # sparkgate's own word, exactly once, and not the client's
        assert_bound(s, "alice")
        assert H.header_value(hdrs, "x-keep-me") == "kept", hdrs
        # the backend sees sparkgate's pre-shared token, not the client's token
        assert H.header_value(hdrs, "authorization") == "Bearer " + PSK, hdrs
        assert TOK["alice"] not in repr(s), s


# --------------------------------------------------------------------------
# sessions and routing

def test_same_session_id_two_principals_two_sessions(st):
    sid = str(uuid.uuid4())
    m = H.pb()
    ss = {}
    for who in ("alice", "bob"):
        req = H.make_request("Config", sid, user_id="shared", user_name="shared")
        req.operation.ClearField("get_option")
        req.operation.set.pairs.add(key="spark.sg.owner", value=who)
        tid, code, details, resp = call(st.channel, "Config", req, token=TOK[who])
        assert code == grpc.StatusCode.OK, details
        ss[who] = resp.server_side_session_id
        s = st.b1.wait_stream(tid)
        assert_bound(s, who)
        assert s["messages"][0]["session_id"] == sid
    assert ss["alice"] and ss["bob"] and ss["alice"] != ss["bob"], ss
    # each principal reads back its own value: two Spark sessions
    for who in ("alice", "bob"):
        req = m.ConfigRequest(session_id=sid)
        req.operation.get.keys.append("spark.sg.owner")
        _, code, details, resp = call(st.channel, "Config", req, token=TOK[who])
        assert code == grpc.StatusCode.OK, details
        assert [(p.key, p.value) for p in resp.pairs] == [("spark.sg.owner", who)], resp
        assert resp.server_side_session_id == ss[who]


def test_routing_key_is_principal_and_session(procs):
    """Four backends: the same session_id used by alice and by bob is routed
    by (principal, session_id), so it does not always land on one backend;
    each principal's session sticks to its backend."""
    bs = [procs.backend("r%d" % i) for i in range(4)]
    stack = AuthStack(procs, psk=False, backends=[(b.backend_name, b.address) for b in bs])
    try:
        differ = 0
        for i in range(8):
            sid = str(uuid.uuid4())
            where = {}
            for who in ("alice", "bob", "alice", "bob"):
                req = H.make_request("Config", sid)
                resp, c = H.rpc(stack.channel, "Config").with_call(
                    req, metadata=H.md(H.new_test_id()) + H.bearer(TOK[who]), timeout=TIMEOUT)
                name = H.md_get(c.initial_metadata(), "x-sc-backend")
                assert where.setdefault(who, name) == name, (who, sid, where, name)
            differ += where["alice"] != where["bob"]
        assert differ > 0, "alice and bob always routed together: session_id alone is the key"
    finally:
        stack.close()


# --------------------------------------------------------------------------
# one connection, three principals

def test_streams_on_one_connection_judged_independently(st):
    c = H.H2Client(st.port)
    path = H.SERVICE + "Config"
    t1, t3, t5 = H.new_test_id(), H.new_test_id(), H.new_test_id()
    body = H.grpc_frame(H.make_request("Config", SESSION).SerializeToString())
    try:
        s1 = c.request(path, headers=H.md(t1) + H.bearer(TOK["alice"]), end_stream=False)
        s3 = c.request(path, headers=H.md(t3) + H.bearer(TOK["bob"]), end_stream=False)
        s5 = c.request(path, headers=H.md(t5), body=body)
        assert (s1.id, s3.id, s5.id) == (1, 3, 5)
        c.wait_done(s5, TIMEOUT)
        assert s5.grpc_status() == 16, (s5.headers, s5.trailers)
        assert "missing credentials" in H.grpc_message_decoded(s5)
        assert not s1.done and not s3.done
        c.send_data(s3.id, body, end_stream=True)
        c.send_data(s1.id, body, end_stream=True)
        for s in (s1, s3):
            c.wait_done(s, TIMEOUT)
            assert s.grpc_status() == 0, (s.id, s.headers, s.trailers)
    finally:
        c.close()
    assert_bound(st.b1.wait_stream(t1), "alice")
    assert_bound(st.b1.wait_stream(t3), "bob")
    assert_untouched(st, [t5])


def test_content_length_with_rewritten_identity(st):
    """A client that sends content-length (h2load, nghttp, curl do) must still
    work when sparkgate rewrites user_context and so changes the body length:
    the stale length is never forwarded (regression: the backend reset every
    such stream)."""
    c = H.H2Client(st.port)
    tid = H.new_test_id()
    req = H.make_request("Config", SESSION)
    req.user_context.user_id = "a-much-longer-claimed-user-id-than-alice"
    body = H.grpc_frame(req.SerializeToString())
    try:
        s = c.request(H.SERVICE + "Config",
                      headers=H.md(tid) + H.bearer(TOK["alice"]) +
                      [("content-length", str(len(body)))], body=body)
        c.wait_done(s, TIMEOUT)
        assert s.grpc_status() == 0, (s.headers, s.trailers)
    finally:
        c.close()
    rec = st.b1.wait_stream(tid)
    assert_bound(rec, "alice")
    assert "content-length" not in rec["open"]["headers"]


# --------------------------------------------------------------------------
# require_match, mTLS

def test_require_match(procs):
    auth = {"static_tokens": static_tokens(), "identity": {"mode": "require_match"}}
    stack = AuthStack(procs, auth=auth, psk=False)
    try:
        req = H.make_request("Config", SESSION, user_id="bob", user_name="alice")
        tid1, code, details, _ = call(stack.channel, "Config", req, token=TOK["alice"])
        assert code == DENIED, (code, details)
        assert '"bob"' in details and '"alice"' in details, details
        # duplicated user_context: the last user_id is what Spark would use
        raw = H.hostile_user_contexts(H.make_request("Config", SESSION),
                                      first=("alice", "a"), last=("victim", "v"))
        tid2, code, details, _ = call(stack.channel, "Config", raw, token=TOK["alice"])
        assert code == DENIED, (code, details)
        assert '"victim"' in details and '"alice"' in details, details
        tid3, code, details, _ = call(stack.channel, "ExecutePlan",
                                      H.make_request("ExecutePlan", SESSION, user_id="root"),
                                      token=TOK["alice"])
        assert code == DENIED and '"root"' in details, (code, details)
        # matching passes and is still rewritten to exactly one user_context
        req = H.make_request("Config", SESSION, user_id="alice", user_name="Alice A.")
        tid, code, details, _ = call(stack.channel, "Config", req, token=TOK["alice"])
        assert code == grpc.StatusCode.OK, details
        s = stack.b1.wait_stream(tid)
        assert_bound(s, "alice")
        # no pre-shared token configured: no authorization at all
        assert H.header_value(s["open"]["headers"], "authorization") is None
        assert_untouched(stack, [tid1, tid2, tid3])
    finally:
        stack.close()


def test_mtls_identity(procs):
    c = H.certs()
    auth = {"mtls": {"ca": c.ca_pem, "principal_from": "cn", "profile": "analyst"}}
    stack = AuthStack(procs, auth=auth, psk=False)
    with open(c.alice_pem, "rb") as f:
        cert = f.read()
    with open(c.alice_key, "rb") as f:
        key = f.read()
    creds = grpc.ssl_channel_credentials(root_certificates=c.ca_bytes(), private_key=key,
                                         certificate_chain=cert)
    mch = grpc.secure_channel("localhost:%d" % stack.port, creds,
                              options=[("grpc.enable_http_proxy", 0)])
    try:
        req = H.make_request("Config", SESSION, user_id="mallory")
        tid, code, details, _ = call(mch, "Config", req)
        assert code == grpc.StatusCode.OK, details
        assert_bound(stack.b1.wait_stream(tid), "alice", via="mtls")
        tid2, code, details, _ = call(stack.channel, "Config", req)
        assert code == UNAUTH, (code, details)
        assert "missing credentials" in details, details
        b = stack.b1
        # barrier through the mTLS channel
        tid3, code, details, _ = call(mch, "Config", H.make_request("Config", SESSION))
        assert code == grpc.StatusCode.OK, details
        b.wait_stream(tid3)
        time.sleep(0.05)
        assert b.find_stream(tid2) is None
    finally:
        mch.close()
        stack.close()


# --------------------------------------------------------------------------
# sparkgate hash-token

def test_hash_token_cli(st):
    """`sparkgate hash-token` prints the digest static_tokens[].sha256 wants
    (the token read from standard input, never echoed)."""
    tok = TOK["bob"]
    r = subprocess.run([H.SPARKGATE_BIN, "hash-token"], input=(tok + "\n").encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
    out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    assert r.returncode == 0, (r.returncode, err)
    assert out.strip() == H.hash_token(tok), out
    assert tok not in out and tok not in err


# --------------------------------------------------------------------------
# last: nothing secret was logged

def test_zz_no_secret_in_stderr(st):
    assert SPARKGATES, "no sparkgate ran"
    secrets = list(TOK.values()) + [PSK, _near_miss(TOK["alice"]), _near_miss(TOK["bob"])]
    for sg in SPARKGATES:
        err = sg.stderr()
        assert err, "sparkgate wrote nothing at log level debug?"
        for s in secrets:
            assert s not in err, "secret %s... found in sparkgate pid %d stderr" % (s[:8], sg.pid)
        # a reasonable prefix of a secret is a leak too
        for s in secrets:
            assert s[4:24] not in err, "part of secret %s... in sparkgate stderr" % s[:8]
