"""Identity that cannot be confused: a deny list that holds whatever
authenticated the caller (static token, JWT, client certificate), by
principal and by group, also for tokens already in the verified-token cache
after a reload; a principal prefix per source, which is what the backend
sees as user_id; `sparkgate -t` warning about sources that can name the
same principal; the token size cap (auth.max_token_bytes) refusing before
any signature work; anonymous mode judged by auth.default_profile.

Every refusal is checked for its gRPC code, its message and for having
reached no backend."""

import base64
import hashlib
import hmac
import json
import os
import signal
import subprocess
import time
import uuid

import grpc
import pytest

import plans as P
import sgharness as H
from test_80_policy import shipped_profiles

SESSION = "5e4d3c2b-1a09-4f8e-8d7c-6b5a4f3e2d1c"
TIMEOUT = 10
OK = grpc.StatusCode.OK
UNAUTH = grpc.StatusCode.UNAUTHENTICATED
DENIED = grpc.StatusCode.PERMISSION_DENIED

ISS = "https://idp.example/ident"
AUD = "sparkgate"
HS_SECRET = base64.b16encode(os.urandom(24)).decode().lower()
TOK = {p: H.new_token() for p in ("alice", "bob", "carol", "dave")}


def b64u(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hs256(sub, groups=None, **extra):
    """An HS256 token of ISS, signed with HS_SECRET (kid hs-1)."""
    now = int(time.time())
    claims = {"iss": ISS, "sub": sub, "aud": AUD, "iat": now, "exp": now + 600,
              "jti": uuid.uuid4().hex}
    if groups is not None:
        claims["groups"] = groups
    claims.update(extra)
    si = b64u(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "hs-1"}).encode()) + "." + \
        b64u(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(HS_SECRET.encode(), si.encode(), hashlib.sha256).digest()
    return si + "." + b64u(sig)


def static_tokens():
    return [
        {"sha256": H.hash_token(TOK["alice"]), "principal": "alice"},
        {"sha256": H.hash_token(TOK["bob"]), "principal": "bob"},
        {"sha256": H.hash_token(TOK["carol"]), "principal": "carol",
         "groups": ["staff", "contractors"]},
        {"sha256": H.hash_token(TOK["dave"]), "principal": "dave", "groups": ["staff"]},
    ]


def ident_auth(hs_file, deny=None, **extra):
    c = H.certs()
    a = {
        "default_profile": "basic",
        "static_principal_prefix": "svc:",
        "static_tokens": static_tokens(),
        "issuers": [H.sg_issuer(ISS, None, algorithms=["HS256"], default_profile="basic",
                                principal_prefix="oidc:", groups_claim="groups",
                                hmac_secrets=[{"kid": "hs-1", "file": hs_file}])],
        "mtls": {"ca": c.ca_pem, "principal_from": "cn", "profile": "basic",
                 "principal_prefix": "cert:"},
    }
    if deny is not None:
        a["deny"] = deny
    a.update(extra)
    return a


DENY = {"principals": ["svc:bob", "oidc:mallory", "cert:sparkgate", "ivy"],
        "groups": ["contractors"]}


class IdStack:
    def __init__(self, group, deny=DENY, limits=None, **extra):
        self.b1 = group.backend("b1")
        self.port = H.free_port()
        self.hs_file = H.write_secret("hs", HS_SECRET + "\n")
        self.config = H.sg_config(self.port, [("b1", self.b1.address)],
                                  auth=ident_auth(self.hs_file, deny, **extra),
                                  limits=limits or {})
        self.sg = group.sparkgate(self.config)
        self.channel = H.grpc_channel(self.port)
        self.certch = {}

    def cert_channel(self, name):
        """A channel presenting client certificate |name| (alice: CN=alice,
        client: CN=sparkgate)."""
        if name not in self.certch:
            c = H.certs()
            with open(getattr(c, name + "_pem"), "rb") as f:
                cert = f.read()
            with open(getattr(c, name + "_key"), "rb") as f:
                key = f.read()
            creds = grpc.ssl_channel_credentials(root_certificates=c.ca_bytes(),
                                                 private_key=key, certificate_chain=cert)
            self.certch[name] = grpc.secure_channel("localhost:%d" % self.port, creds,
                                                    options=[("grpc.enable_http_proxy", 0)])
        return self.certch[name]

    def call(self, token=None, channel=None, method="Config", req=None):
        req = req if req is not None else H.make_request(method, SESSION, user_id="mallory")
        return H.auth_call(channel or self.channel, method, req, token=token, timeout=TIMEOUT)

    def assert_untouched(self, tids):
        tid, code, details, _ = self.call(TOK["alice"])
        assert code == OK, details
        self.b1.wait_stream(tid, timeout=5)
        time.sleep(0.05)
        for t in tids:
            assert self.b1.find_stream(t) is None, "refused call reached the backend: %r" % (
                self.b1.find_stream(t),)

    def close(self):
        for ch in self.certch.values():
            ch.close()
        self.channel.close()


@pytest.fixture(scope="module")
def ids(mprocs):
    s = IdStack(mprocs)
    yield s
    s.close()
    s.sg.check_health()


def assert_bound(stream, principal, via):
    hdrs = stream["open"].get("headers") or {}
    assert H.header_value(hdrs, "x-sparkgate-principal") == principal, hdrs
    assert H.header_value(hdrs, "x-sparkgate-auth") == via, hdrs
    for m in stream["messages"]:
        assert m.get("user_id") == principal and m.get("user_name") == principal, m


def expect_denied(ids, principal, **kw):
    tid, code, details, _ = ids.call(**kw)
    assert code == DENIED, (code, details)
    assert details == 'sparkgate: principal "%s" is denied (auth.deny)' % principal, details
    return tid


# --------------------------------------------------------------------------
# prefixes: what the backend is told

def test_prefix_per_source_is_the_user_id(ids):
    """Each source's prefix is part of the principal the backend sees, the
    static one, the issuer's and the certificate's: a token principal
    "alice" and a certificate CN "alice" are two Spark users."""
    cases = [({"token": TOK["alice"]}, "svc:alice", "static"),
             ({"token": hs256("alice", ["staff"])}, "oidc:alice", "jwt"),
             ({"channel": ids.cert_channel("alice")}, "cert:alice", "mtls")]
    for kw, principal, via in cases:
        tid, code, details, _ = ids.call(**kw)
        assert code == OK, (principal, code, details)
        assert_bound(ids.b1.wait_stream(tid), principal, via)
    H.wait_until(lambda: "user=oidc:alice " in ids.sg.stderr(), 5, what="access line")


# --------------------------------------------------------------------------
# the deny list

def test_deny_by_principal_every_source(ids):
    """Matched against the prefixed principal, whatever authenticated it."""
    tids = [expect_denied(ids, "svc:bob", token=TOK["bob"]),
            expect_denied(ids, "oidc:mallory", token=hs256("mallory", ["staff"])),
            expect_denied(ids, "cert:sparkgate", channel=ids.cert_channel("client"))]
    ids.assert_untouched(tids)
    err = ids.sg.stderr()
    for p, via, n in (("svc:bob", "static", 0), ("oidc:mallory", "jwt", 1),
                      ("cert:sparkgate", "mtls", 2)):
        assert "audit decision=deny principal=%s auth=%s rule=auth.deny.principals[%d]" % (
            p, via, n) in err, err[-3000:]


def test_deny_entry_names_the_prefixed_principal(ids):
    """Deny entries name the principal the backend sees: "svc:bob" is not
    the issuer's "bob" ("oidc:bob"), and "ivy" matches no prefixed source."""
    for sub in ("bob", "ivy"):
        tid, code, details, _ = ids.call(token=hs256(sub))
        assert code == OK, (sub, code, details)
        assert_bound(ids.b1.wait_stream(tid), "oidc:" + sub, "jwt")


def test_deny_by_group(ids):
    """Static tokens' groups and the issuer's groups claim (array or
    space-separated string)."""
    tids = [expect_denied(ids, "svc:carol", token=TOK["carol"]),
            expect_denied(ids, "oidc:erin", token=hs256("erin", ["staff", "contractors"])),
            expect_denied(ids, "oidc:fay", token=hs256("fay", "staff contractors"))]
    ids.assert_untouched(tids)
    for kw, principal, via in (({"token": TOK["dave"]}, "svc:dave", "static"),
                               ({"token": hs256("gus", ["staff"])}, "oidc:gus", "jwt")):
        tid, code, details, _ = ids.call(**kw)
        assert code == OK, (principal, code, details)
        assert_bound(ids.b1.wait_stream(tid), principal, via)
    assert "rule=auth.deny.groups[0]" in ids.sg.stderr()


def test_deny_takes_effect_on_reload_for_cached_tokens(procs):
    """A token verified (and cached) before the reload is denied right after it."""
    s = IdStack(procs, deny={"principals": ["svc:nobody"]})
    try:
        jwt = hs256("henry", ["staff"])
        for tok, principal in ((TOK["dave"], "svc:dave"), (jwt, "oidc:henry")):
            for _ in range(2):  # the second one is a cache hit
                tid, code, details, _ = s.call(token=tok)
                assert code == OK, (code, details)
                assert_bound(s.b1.wait_stream(tid), principal, "static" if tok == TOK["dave"]
                             else "jwt")
        cfg = json.loads(json.dumps(s.config))
        cfg["auth"]["deny"] = {"principals": ["svc:dave"], "groups": ["staff"]}
        s.sg.write_config(cfg)
        s.sg.notify.drain()
        s.sg.signal(signal.SIGHUP)
        s.sg.notify.wait_for("READY", "1", timeout=10, proc=s.sg)
        H.wait_until(lambda: "reloaded configuration" in s.sg.stderr(), 5, what="reload")
        tids = []
        for tok, principal in ((TOK["dave"], "svc:dave"), (jwt, "oidc:henry")):
            tid, code, details, _ = s.call(token=tok)
            assert code == DENIED, (principal, code, details)
            assert "is denied" in details, details
            tids.append(tid)
        s.assert_untouched(tids)
    finally:
        s.close()


# --------------------------------------------------------------------------
# sparkgate -t: sources that can name the same principal

def run_test_config(cfg):
    path = os.path.join(H.tmp_root(), "ident-t-%s.json" % uuid.uuid4().hex[:8])
    with open(path, "w") as f:
        json.dump(cfg, f)
    r = subprocess.run([H.SPARKGATE_BIN, "-t", "-c", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def test_config_test_warns_about_colliding_principals():
    hs_file = H.write_secret("hs", HS_SECRET + "\n")
    auth = ident_auth(hs_file)
    del auth["static_principal_prefix"]
    del auth["issuers"][0]["principal_prefix"]
    del auth["mtls"]["principal_prefix"]
    cfg = H.sg_config(H.free_port(), [("b1", "127.0.0.1:1")], auth=auth)
    rc, out, err = run_test_config(cfg)
    assert rc == 0, (rc, out, err)
    for i, p in enumerate(("alice", "bob", "carol", "dave")):
        for src in ('auth.issuers[0] "%s" (no principal_prefix)' % ISS,
                    "auth.mtls (no principal_prefix)"):
            want = 'auth.static_tokens[%d] principal "%s" could also be a principal of %s' % (
                i, p, src)
            assert want in err, (want, err)
    assert "auth.mtls and auth.issuers[0] can name the same principal" in err, err

    # prefixed: the static principal "oidc:alice" still could be the issuer's
    auth = ident_auth(hs_file)
    del auth["static_principal_prefix"]
    auth["static_tokens"][0]["principal"] = "oidc:alice"
    cfg = H.sg_config(H.free_port(), [("b1", "127.0.0.1:1")], auth=auth)
    rc, out, err = run_test_config(cfg)
    assert rc == 0, (rc, out, err)
    assert ('auth.static_tokens[0] principal "oidc:alice" could also be a principal of '
            'auth.issuers[0] "%s" (principal_prefix "oidc:")' % ISS) in err, err
    assert "static_tokens[1]" not in err and "auth.mtls" not in err, err

    # every source prefixed apart: nothing to say
    cfg = H.sg_config(H.free_port(), [("b1", "127.0.0.1:1")], auth=ident_auth(hs_file))
    rc, out, err = run_test_config(cfg)
    assert rc == 0 and "principal" not in err, (rc, err)


# --------------------------------------------------------------------------
# auth.max_token_bytes

def test_oversized_token_refused_before_verification(procs):
    """By default (no new key in this configuration) a correctly signed
    9 KiB token is refused for its size, quickly, where it used to be
    accepted; and so is a static-looking one."""
    auth = ident_auth(H.write_secret("hs", HS_SECRET + "\n"))
    for k in ("static_principal_prefix", "mtls"):
        del auth[k]
    del auth["issuers"][0]["principal_prefix"]
    del auth["issuers"][0]["groups_claim"]
    b1 = procs.backend("b1")
    port = H.free_port()
    procs.sparkgate(H.sg_config(port, [("b1", b1.address)], auth=auth))
    ch = H.grpc_channel(port)
    try:
        big = hs256("ivan", ["staff"], pad="x" * 7000)
        assert 9000 < len(big) < 10000, len(big)
        tids = []
        for tok in (big, H.new_token() * 200):
            req = H.make_request("Config", SESSION)
            t0 = time.monotonic()
            tid, code, details, _ = H.auth_call(ch, "Config", req, token=tok, timeout=TIMEOUT)
            elapsed = time.monotonic() - t0
            assert code == UNAUTH, (code, details)
            assert details == "sparkgate: token larger than auth.max_token_bytes (8192 bytes)", \
                details
            assert elapsed < 1.0, elapsed
            tids.append(tid)
        tid, code, details, _ = H.auth_call(ch, "Config", H.make_request("Config", SESSION),
                                            token=TOK["alice"], timeout=TIMEOUT)
        assert code == OK, details
        b1.wait_stream(tid, timeout=5)
        time.sleep(0.05)
        for t in tids:
            assert b1.find_stream(t) is None, t
    finally:
        ch.close()


def test_max_token_bytes_configurable(procs):
    """Up to 16384 when the header list allows; a credential header above
    sparkgate's capture size gets the same answer."""
    s = IdStack(procs, limits={"max_header_list_size": 65536}, max_token_bytes=12000)
    try:
        big = hs256("ivan", ["staff"], pad="x" * 7000)
        tid, code, details, _ = s.call(token=big)
        assert code == OK, (code, details)
        assert_bound(s.b1.wait_stream(tid), "oidc:ivan", "jwt")
        tid, code, details, _ = s.call(token=hs256("ivan", pad="x" * 9500))
        assert code == UNAUTH and "auth.max_token_bytes (12000 bytes)" in details, details
        tid2, code, details, _ = s.call(token=hs256("ivan", pad="x" * 20000))
        assert code == UNAUTH, (code, details)
        assert details == "sparkgate: token larger than auth.max_token_bytes (12000 bytes)", details
        s.assert_untouched([tid, tid2])
    finally:
        s.close()
    hs_file = H.write_secret("hs", HS_SECRET + "\n")
    for v, why in ((100, "out of range 256..16384"),
                   (16384, "does not fit limits.max_header_list_size (16384)")):
        cfg = H.sg_config(H.free_port(), [("b1", "127.0.0.1:1")],
                          auth=ident_auth(hs_file, max_token_bytes=v))
        rc, out, err = run_test_config(cfg)
        assert rc == 1 and "auth.max_token_bytes" in err and why in err, (v, rc, err)


# --------------------------------------------------------------------------
# anonymous mode

def test_anonymous_mode_applies_default_profile(procs):
    """auth.anonymous with profiles: every call is judged by
    auth.default_profile like any principal's."""
    b1 = procs.backend("b1")
    port = H.free_port()
    cfg = H.sg_config(port, [("b1", b1.address)],
                      auth={"anonymous": True, "default_profile": "sql-only"},
                      profiles=shipped_profiles())
    sg = procs.sparkgate(cfg)
    ch = H.grpc_channel(port)
    try:
        req = P.execute(root=P.udf_project(), user="anon")
        tid, code, details, _ = H.auth_call(ch, "ExecutePlan", req, timeout=TIMEOUT)
        assert code == DENIED, (code, details)
        assert details.startswith("sparkgate: ") and 'profile "sql-only"' in details, details
        tid2, code, details, _ = H.auth_call(
            ch, "Config", H.make_request("Config", SESSION, user_id="anon"), timeout=TIMEOUT)
        assert code == OK, (code, details)
        b1.wait_stream(tid2, timeout=5)
        time.sleep(0.05)
        assert b1.find_stream(tid) is None, b1.find_stream(tid)
        assert "audit decision=deny principal=anonymous profile=sql-only" in sg.stderr()
    finally:
        ch.close()
    # "anonymous" and profiles but no profile for anonymous callers: an error
    del cfg["auth"]["default_profile"]
    rc, out, err = run_test_config(cfg)
    assert rc == 1 and "auth.default_profile: required key missing" in err, (rc, err)


def test_no_auth_with_profiles_refuses_anonymous(procs):
    """Profiles and no "auth" at all (loopback development): a warning, and
    every call refused, not waved through uninspected."""
    b1 = procs.backend("b1")
    port = H.free_port()
    cfg = H.sg_config(port, [("b1", b1.address)], profiles=shipped_profiles())
    rc, out, err = run_test_config(cfg)
    assert rc == 0 and "anonymous callers have no profile" in err, (rc, err)
    procs.sparkgate(cfg)
    ch = H.grpc_channel(port)
    try:
        tid, code, details, _ = H.auth_call(ch, "Config", H.make_request("Config", SESSION),
                                            timeout=TIMEOUT)
        assert code == DENIED, (code, details)
        assert details == "sparkgate: anonymous callers have no profile (auth.default_profile)"
        time.sleep(0.2)
        assert b1.find_stream(tid) is None
    finally:
        ch.close()
