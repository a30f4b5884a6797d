"""JWT access tokens: keys served by the test IdP over TLS (JWKS
URL, dev CA), tokens minted by python3-jwt, by hand (exact header bytes) and
by `sparkgate mint-token` (libjwt); every algorithm; typ; profile selection;
key rotation and the refetch rate limit; a catalogue of forged and malformed
tokens, each refused with the right message and without touching a backend."""

import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import time
import uuid

import grpc
import pytest

import sgharness as H

SESSION = "0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a"
TIMEOUT = 10
UNAUTH = grpc.StatusCode.UNAUTHENTICATED
DENIED = grpc.StatusCode.PERMISSION_DENIED
OK = grpc.StatusCode.OK

ISS_A = "https://idp.example/a"          # default_profile basic
ISS_B = "https://idp.example/strict"     # no default_profile
ISS_H = "https://idp.example/hs"         # HS256 with a configured secret
ISS_M = "https://idp.example/mixed"      # RS256 + HS256: algorithm confusion bait
AUD = "sparkgate"
PROFILE_MAP = [{"value": "admins", "profile": "admin"},
               {"value": "analysts", "profile": "analyst"}]
HS_SECRET = base64.b16encode(os.urandom(24)).decode().lower()  # 48 characters

# every token and secret this module used: none may appear in sparkgate's log
SECRETS = [HS_SECRET]
SPARKGATES = []


def idp_mod():
    import idp
    return idp


# --------------------------------------------------------------------------
# token building

def b64u(raw):
    if isinstance(raw, str):
        raw = raw.encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def compact(obj):
    if isinstance(obj, (bytes, str)):
        return obj
    return json.dumps(obj, separators=(",", ":"))


def sign_input(key, alg, data):
    """Signature over |data| (bytes) with python3-jwt's algorithm objects,
    or plain HMAC for HS* (any bytes as the secret: the forgery tests need
    a public key PEM there, which python3-jwt rightly refuses)."""
    if alg.startswith("HS"):
        secret = key if isinstance(key, bytes) else key.encode()
        return hmac.new(secret, data, getattr(hashlib, "sha" + alg[2:])).digest()
    from jwt.algorithms import get_default_algorithms
    a = get_default_algorithms()[alg]
    return a.sign(data, key)


def make_jwt(key, alg, header=None, payload=None, kid=None, sig=None):
    """A compact JWS with exactly the given header and payload (dicts are
    serialized compactly; bytes/str are used verbatim)."""
    if header is None:
        header = {"alg": alg, "typ": "JWT"}
        if kid is not None:
            header["kid"] = kid
    si = b64u(compact(header)) + "." + b64u(compact(payload))
    if sig is None:
        sig = sign_input(key, alg, si.encode())
    tok = si + "." + (b64u(sig) if isinstance(sig, bytes) else sig)
    SECRETS.append(tok)
    return tok


def claims(iss=ISS_A, sub="jwt-alice", aud=AUD, exp_in=600, **kw):
    now = int(time.time())
    c = {"iss": iss, "sub": sub, "aud": aud, "iat": now,
         "exp": None if exp_in is None else now + exp_in,
         "jti": uuid.uuid4().hex}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


def py_mint(key, alg, kid, cl, headers=None):
    tok = idp_mod().mint(key, alg, kid, cl, headers)
    if isinstance(tok, bytes):
        tok = tok.decode()
    SECRETS.append(tok)
    return tok


# --------------------------------------------------------------------------
# the stack

class JwtStack:
    def __init__(self, group):
        i = idp_mod()
        self.keys = {
            "rsa-1": i.make_rsa_key(2048),
            "ec-256": i.make_ec_key("P-256"),
            "ec-384": i.make_ec_key("P-384"),
            "ec-521": i.make_ec_key("P-521"),
            "ed-1": i.make_ed25519_key(),
        }
        self.jwks = [i.jwk_of(k, kid) for kid, k in self.keys.items()]
        self.idp = H.IdP("idp-a", self.jwks)
        self.hs_file = H.write_secret("hs", HS_SECRET + "\n")
        common = {"jwks_min_refetch_s": 30}
        auth = {"issuers": [
            H.sg_issuer(ISS_A, self.idp, audiences=[AUD, "spark-connect"],
                        profile_claim="groups", profile_map=PROFILE_MAP,
                        default_profile="basic", **common),
            H.sg_issuer(ISS_B, self.idp, profile_claim="groups", profile_map=PROFILE_MAP,
                        **common),
            H.sg_issuer(ISS_H, None, algorithms=["HS256"], default_profile="basic",
                        hmac_secrets=[{"kid": "hs-1", "file": self.hs_file}]),
            H.sg_issuer(ISS_M, self.idp, algorithms=["RS256", "HS256"], default_profile="basic",
                        hmac_secrets=[{"kid": "hs-m", "file": self.hs_file}], **common),
        ]}
        self.b1 = group.backend("b1")
        self.port = H.free_port()
        self.config = H.sg_config(self.port, [("b1", self.b1.address)], auth=auth,
                                  limits={"max_header_list_size": 65536,
                                          "max_concurrent_streams": 256})
        self.sg = group.sparkgate(self.config)
        SPARKGATES.append(self.sg)
        self.channel = H.grpc_channel(self.port)
        self.good = py_mint(self.keys["ec-256"], "ES256", "ec-256",
                            claims(sub="barrier", groups=["analysts"], exp_in=3600))

    def call(self, token, method="Config", req=None, md=(), header="authorization"):
        req = req if req is not None else H.make_request(method, SESSION)
        return H.auth_call(self.channel, method, req, md=md, token=token, header=header,
                           timeout=TIMEOUT)

    def assert_untouched(self, tids):
        tid, code, details, _ = self.call(self.good)
        assert code == OK, details
        self.b1.wait_stream(tid, timeout=5)
        time.sleep(0.05)
        for t in tids:
            assert self.b1.find_stream(t) is None, "refused call reached the backend: %r" % (
                self.b1.find_stream(t),)

    def close(self):
        self.channel.close()
        self.idp.close()


@pytest.fixture(scope="module")
def js(mprocs):
    s = JwtStack(mprocs)
    yield s
    s.close()
    s.sg.check_health()


def assert_jwt_bound(stream, principal, profile):
    hdrs = stream["open"].get("headers") or {}
    assert H.header_value(hdrs, "x-sparkgate-principal") == principal, hdrs
    assert H.header_value(hdrs, "x-sparkgate-auth") == "jwt", hdrs
    assert H.header_value(hdrs, "x-sparkgate-profile") == profile, hdrs
    assert H.header_value(hdrs, "authorization") is None, hdrs
    for m in stream["messages"]:
        assert m.get("user_id") == principal and m.get("user_name") == principal, m
        assert m.get("user_context_count") == 1, m


def expect_ok(js, token, principal, profile, header="authorization"):
    tid, code, details, _ = js.call(token, header=header)
    assert code == OK, (code, details)
    assert_jwt_bound(js.b1.wait_stream(tid), principal, profile)


def expect_refused(js, token, want, pattern, method="Config"):
    tid, code, details, _ = js.call(token, method=method)
    assert code == want, (code, details)
    assert details.startswith("sparkgate: "), details
    assert re.search(pattern, details), (pattern, details)
    return tid


# --------------------------------------------------------------------------
# python3-jwt, every algorithm, keys from the JWKS URL

ALG_KEYS = [("RS256", "rsa-1"), ("RS384", "rsa-1"), ("RS512", "rsa-1"), ("PS256", "rsa-1"),
            ("PS384", "rsa-1"), ("PS512", "rsa-1"), ("ES256", "ec-256"), ("ES384", "ec-384"),
            ("ES512", "ec-521"), ("EdDSA", "ed-1")]


@pytest.mark.parametrize("alg,kid", ALG_KEYS, ids=[a for a, _ in ALG_KEYS])
def test_python_jwt_algorithms(js, alg, kid):
    sub = "py-" + alg.lower()
    tok = py_mint(js.keys[kid], alg, kid, claims(sub=sub, groups=["analysts"]))
    expect_ok(js, tok, sub, "analyst")
    # the JVM client's header works the same, and ExecutePlan too
    expect_ok(js, tok, sub, "analyst", header="authentication")
    tid, code, details, _ = js.call(tok, method="ExecutePlan")
    assert code == OK, details


def test_hs256_configured_secret(js):
    tok = make_jwt(HS_SECRET, "HS256", kid="hs-1",
                   payload=claims(iss=ISS_H, sub="hs-user"))
    expect_ok(js, tok, "hs-user", "basic")
    # the same algorithm is refused where it is not allowed
    tid = expect_refused(js, make_jwt(HS_SECRET, "HS256", kid="hs-1", payload=claims()),
                         UNAUTH, r'algorithm "HS256" not allowed')
    js.assert_untouched([tid])


TYPS = [None, "JWT", "at+jwt", "application/at+jwt", "jwt"]


@pytest.mark.parametrize("typ", TYPS, ids=[str(t) for t in TYPS])
def test_typ_accepted(js, typ):
    hdr = {"alg": "ES256", "kid": "ec-256"}
    if typ is not None:
        hdr["typ"] = typ
    sub = "typ-%s" % typ
    tok = make_jwt(js.keys["ec-256"], "ES256", header=hdr, payload=claims(sub=sub))
    expect_ok(js, tok, sub, "basic")


# --------------------------------------------------------------------------
# profiles

PROFILE_CASES = [
    (ISS_A, ["analysts"], "analyst"),
    (ISS_A, ["admins"], "admin"),
    (ISS_A, ["analysts", "admins"], "admin"),   # first profile_map rule that matches wins
    (ISS_A, ["admins", "analysts"], "admin"),
    (ISS_A, "staff analysts", "analyst"),       # scope-style string
    (ISS_A, ["staff"], "basic"),                # default_profile
    (ISS_A, None, "basic"),
    (ISS_B, ["analysts"], "analyst"),
]


@pytest.mark.parametrize("iss,groups,profile", PROFILE_CASES)
def test_profile_from_groups(js, iss, groups, profile):
    sub = "p-" + uuid.uuid4().hex[:8]
    tok = py_mint(js.keys["rsa-1"], "RS256", "rsa-1", claims(iss=iss, sub=sub, groups=groups))
    expect_ok(js, tok, sub, profile)


@pytest.mark.parametrize("groups", [["staff"], None, []])
def test_no_profile_refused(js, groups):
    tok = py_mint(js.keys["rsa-1"], "RS256", "rsa-1",
                  claims(iss=ISS_B, sub="nobody", groups=groups))
    tid = expect_refused(js, tok, DENIED, r'principal "nobody" has no profile')
    js.assert_untouched([tid])


# --------------------------------------------------------------------------
# forged and malformed tokens

def _none(alg_name, sig=""):
    def f(js):
        hdr = b64u(compact({"alg": alg_name, "typ": "JWT"}))
        pl = b64u(compact(claims(sub="admin")))
        tok = hdr + "." + pl + "." + sig
        SECRETS.append(tok)
        return tok
    return f


def _pem_public(js):
    from cryptography.hazmat.primitives import serialization
    return js.keys["rsa-1"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _padded(target):
    def f(js):
        pad = 0
        for _ in range(8):
            tok = make_jwt(js.keys["ec-256"], "ES256", kid="ec-256",
                           payload=claims(pad="x" * pad))
            if len(tok) > target:
                return tok
            pad += (target - len(tok)) * 3 // 4 + 1
        raise AssertionError("could not build a %d-byte token" % target)
    return f


def _swap_segment(i, text):
    def f(js):
        parts = make_jwt(js.keys["ec-256"], "ES256", kid="ec-256",
                         payload=claims()).split(".")
        parts[i] = text(parts[i])
        tok = ".".join(parts)
        SECRETS.append(tok)
        return tok
    return f


def _flip_sig(js):
    parts = make_jwt(js.keys["rsa-1"], "RS256", kid="rsa-1", payload=claims()).split(".")
    s = parts[2]
    i = len(s) // 2
    parts[2] = s[:i] + ("A" if s[i] != "A" else "B") + s[i + 1:]
    return ".".join(parts)


def _embedded(member):
    def f(js):
        i = idp_mod()
        evil = i.make_ec_key("P-256")
        hdr = {"alg": "ES256", "typ": "JWT", "kid": "ec-256"}
        if member == "jwk":
            hdr["jwk"] = i.jwk_of(evil, "ec-256")
        elif member == "jku":
            hdr["jku"] = "https://evil.example/jwks.json"
        elif member == "x5u":
            hdr["x5u"] = "https://evil.example/cert.pem"
        elif member == "x5c":
            hdr["x5c"] = ["MIIB"]
        elif member == "crit":
            hdr["crit"] = ["exp"]
        return make_jwt(evil, "ES256", header=hdr, payload=claims(sub="admin"))
    return f


def _dup_payload(js):
    now = int(time.time())
    raw = ('{"iss":"%s","sub":"alice","aud":"%s","exp":%d,"sub":"admin"}'
           % (ISS_A, AUD, now + 600))
    return make_jwt(js.keys["ec-256"], "ES256", payload=raw, kid="ec-256")


def _dup_header(js):
    raw = '{"alg":"ES256","kid":"ec-256","alg":"none"}'
    return make_jwt(js.keys["ec-256"], "ES256", header=raw, payload=claims())


def _hs_with_rsa_pem(iss, kid):
    def f(js):
        hdr = {"alg": "HS256", "typ": "JWT"}
        if kid:
            hdr["kid"] = kid
        return make_jwt(_pem_public(js), "HS256", header=hdr,
                        payload=claims(iss=iss, sub="admin"))
    return f


def _other_key_same_kid(js):
    evil = idp_mod().make_rsa_key(2048)
    return make_jwt(evil, "RS256", kid="rsa-1", payload=claims(sub="admin"))


def _claims(**kw):
    def f(js):
        return make_jwt(js.keys["ec-256"], "ES256", kid="ec-256", payload=claims(**kw))
    return f


FORGED = [
    ("alg-none-empty-sig", _none("none"),
     r'malformed token: empty signature|algorithm "none" not allowed'),
    ("alg-None-empty-sig", _none("None"),
     r'malformed token: empty signature|algorithm "None" not allowed'),
    ("alg-NONE-empty-sig", _none("NONE"),
     r'malformed token: empty signature|algorithm "NONE" not allowed'),
    ("alg-none-junk-sig", _none("none", "AAAA"), r'algorithm "none" not allowed'),
    ("alg-nOnE-junk-sig", _none("nOnE", "AAAA"), r'algorithm "nOnE" not allowed'),
    ("hs256-rsa-pem-not-allowed", _hs_with_rsa_pem(ISS_A, "rsa-1"),
     r'algorithm "HS256" not allowed'),
    ("hs256-rsa-pem-kid-of-rsa", _hs_with_rsa_pem(ISS_M, "rsa-1"),
     r'algorithm "HS256" does not fit signing key "rsa-1"'),
    ("hs256-rsa-pem-no-kid", _hs_with_rsa_pem(ISS_M, None), r"signature invalid"),
    ("bad-b64-header-padding", _swap_segment(0, lambda s: s + "=="),
     r"malformed token: bad base64url in header"),
    ("bad-b64-payload-char", _swap_segment(1, lambda s: s[:5] + "+" + s[6:]),
     r"malformed token: bad base64url in payload"),
    ("bad-b64-sig-space", _swap_segment(2, lambda s: s[:5] + " " + s[5:]),
     r"malformed token: bad base64url in signature"),
    ("two-segments", lambda js: make_jwt(js.keys["ec-256"], "ES256", kid="ec-256",
                                         payload=claims()).rsplit(".", 1)[0],
     r"invalid token|malformed token"),
    ("four-segments", lambda js: make_jwt(js.keys["ec-256"], "ES256", kid="ec-256",
                                          payload=claims()) + ".AAAA",
     r"malformed token: more than 3 segments"),
    ("duplicate-claim", _dup_payload, r"malformed token: payload is not valid JSON.*duplicate"),
    ("duplicate-header-member", _dup_header,
     r"malformed token: header is not valid JSON.*duplicate"),
    ("expired", _claims(exp_in=-120), r"token expired at \d{4}-\d\d-\d\dT"),
    ("expired-long-ago", _claims(exp_in=-86400 * 365), r"token expired at"),
    ("nbf-future", lambda js: make_jwt(js.keys["ec-256"], "ES256", kid="ec-256",
                                       payload=claims(nbf=int(time.time()) + 600)),
     r"token not valid before"),
    ("iat-future", lambda js: make_jwt(js.keys["ec-256"], "ES256", kid="ec-256",
                                       payload=claims(iat=int(time.time()) + 600)),
     r"token issued in the future"),
    ("no-exp", _claims(exp_in=None), r'no "exp" claim'),
    ("wrong-iss-trailing-slash", _claims(iss=ISS_A + "/"),
     r'token issuer "https://idp.example/a/" is not trusted'),
    ("unknown-issuer", _claims(iss="https://evil.example"),
     r'token issuer "https://evil.example" is not trusted'),
    ("no-iss", _claims(iss=None), r"issuer"),
    ("wrong-aud", _claims(aud="other-service"), r"audience does not include"),
    ("wrong-aud-array", _claims(aud=["a", "b"]), r"audience does not include"),
    ("no-sub", _claims(sub=None), r'token has no "sub" claim'),
    ("empty-sub", _claims(sub=""), r'claim "sub" is not a non-empty string'),
    ("oversized-16k", _padded(16385), r"token larger than auth\.max_token_bytes \(8192 bytes\)"),
    ("oversized-20k", _padded(20000), r"token larger than auth\.max_token_bytes \(8192 bytes\)"),
    ("crit-header", _embedded("crit"), r'header member "crit" is not accepted'),
    ("embedded-jwk", _embedded("jwk"), r'header member "jwk" is not accepted'),
    ("jku-header", _embedded("jku"), r'header member "jku" is not accepted'),
    ("x5u-header", _embedded("x5u"), r'header member "x5u" is not accepted'),
    ("x5c-header", _embedded("x5c"), r'header member "x5c" is not accepted'),
    ("typ-jose", lambda js: make_jwt(js.keys["ec-256"], "ES256",
                                     header={"alg": "ES256", "kid": "ec-256", "typ": "JOSE"},
                                     payload=claims()),
     r"unsupported token type"),
    ("signature-flipped", _flip_sig, r"signature invalid"),
    ("other-key-same-kid", _other_key_same_kid, r"signature invalid"),
    ("es256-with-rsa-kid", lambda js: make_jwt(js.keys["ec-256"], "ES256", kid="rsa-1",
                                               payload=claims()),
     r'algorithm "ES256" does not fit signing key "rsa-1"'),
    ("payload-not-object", lambda js: make_jwt(js.keys["ec-256"], "ES256", kid="ec-256",
                                               payload='["admin"]'),
     r"malformed token: payload is not a JSON object"),
]


@pytest.mark.parametrize("case", FORGED, ids=[c[0] for c in FORGED])
def test_forged_or_malformed_refused(js, case):
    _, build, pattern = case
    tok = build(js)
    tids = [expect_refused(js, tok, UNAUTH, pattern),
            expect_refused(js, tok, UNAUTH, pattern, method="ExecutePlan")]
    js.assert_untouched(tids)


def test_expired_within_skew_accepted(js):
    tok = make_jwt(js.keys["ec-384"], "ES384", kid="ec-384",
                   payload=claims(sub="skewed", exp_in=-30, nbf=int(time.time()) + 30))
    expect_ok(js, tok, "skewed", "basic")


# --------------------------------------------------------------------------
# JWKS: rate limit of unknown-kid refetches

def test_junk_kid_flood_rate_limited(js):
    """200 tokens naming random kids, all at once, within jwks_min_refetch_s
    (30 s) of the last fetch: at most one extra fetch reaches the IdP, and
    every call is refused (after its bounded wait) as an unknown key."""
    before = len(js.idp.fetches())
    key = js.keys["ec-256"]
    toks = [make_jwt(key, "ES256", kid="junk-" + uuid.uuid4().hex, payload=claims(sub="flood"))
            for _ in range(200)]
    fn = H.rpc(js.channel, "Config")
    req = H.make_request("Config", SESSION)
    t0 = time.monotonic()
    futs = [fn.future(req, metadata=H.md(H.new_test_id()) + H.bearer(t), timeout=20)
            for t in toks]
    codes = {}
    for f in futs:
        try:
            f.result()
            codes.setdefault("OK", []).append("")
        except grpc.RpcError as e:
            codes.setdefault(e.code().name, []).append(e.details())
    elapsed = time.monotonic() - t0
    assert list(codes) == ["UNAUTHENTICATED"], {k: v[:2] for k, v in codes.items()}
    assert all(re.search(r'unknown signing key "junk-[0-9a-f]{32}"', d)
               for d in codes["UNAUTHENTICATED"]), codes["UNAUTHENTICATED"][:3]
    time.sleep(0.3)
    extra = len(js.idp.fetches()) - before
    assert extra <= 1, "%d JWKS fetches for a junk-kid flood (%.1fs)" % (extra, elapsed)
    assert elapsed < 15, elapsed


# --------------------------------------------------------------------------
# JWKS: key rotation

def test_key_rotation(procs):
    i = idp_mod()
    k1, k2, k3 = i.make_ec_key("P-256"), i.make_rsa_key(2048), i.make_ed25519_key()
    idp = H.IdP("idp-rot", [i.jwk_of(k1, "k1")])
    try:
        b = procs.backend("b1")
        port = H.free_port()
        iss = "https://idp.example/rot"
        auth = {"issuers": [H.sg_issuer(iss, idp, default_profile="basic",
                                        jwks_min_refetch_s=1, jwks_refresh_s=3600)]}
        sg = procs.sparkgate(H.sg_config(port, [("b1", b.address)], auth=auth))
        SPARKGATES.append(sg)
        ch = H.grpc_channel(port)

        def go(key, alg, kid, sub):
            tok = make_jwt(key, alg, kid=kid, payload=claims(iss=iss, sub=sub))
            return H.auth_call(ch, "Config", H.make_request("Config", SESSION), token=tok)

        try:
            assert len(idp.fetches()) == 1, idp.fetches()
            tid, code, details, _ = go(k1, "ES256", "k1", "one")
            assert code == OK, details
            assert_jwt_bound(b.wait_stream(tid), "one", "basic")

            # the IdP publishes k2 next to k1; a k2 token names a kid sparkgate
            # has not fetched: the call waits for the refetch, no retry needed
            idp.set_keys([i.jwk_of(k1, "k1"), i.jwk_of(k2, "k2")])
            last = idp.fetches()[-1]["time"]
            time.sleep(max(0.0, last + 1.2 - time.time()))
            n0 = len(idp.fetches())
            t0 = time.monotonic()
            tid, code, details, _ = go(k2, "RS256", "k2", "two")
            assert code == OK, (code, details)
            assert time.monotonic() - t0 < 2.5
            assert_jwt_bound(b.wait_stream(tid), "two", "basic")
            time.sleep(0.3)
            assert len(idp.fetches()) == n0 + 1, idp.fetches()[n0 - 1:]
            # k1 is still published and known
            tid, code, details, _ = go(k1, "ES256", "k1", "one-again")
            assert code == OK, details

            # k1 removed, k3 added: a k3 token refetches; the new set has no k1
            idp.set_keys([i.jwk_of(k2, "k2"), i.jwk_of(k3, "k3")])
            last = idp.fetches()[-1]["time"]
            time.sleep(max(0.0, last + 1.2 - time.time()))
            tid, code, details, _ = go(k3, "EdDSA", "k3", "three")
            assert code == OK, (code, details)
            tid, code, details, _ = go(k1, "ES256", "k1", "one-revoked")
            assert code == UNAUTH, (code, details)
            assert 'unknown signing key "k1"' in details, details
            tid2, code, details, _ = go(k2, "RS256", "k2", "two-again")
            assert code == OK, details
            b.wait_stream(tid2)
            time.sleep(0.05)
            assert b.find_stream(tid) is None
        finally:
            ch.close()
    finally:
        idp.close()


# --------------------------------------------------------------------------
# sparkgate mint-token (libjwt)

def _mint_cmd(args):
    r = subprocess.run([H.SPARKGATE_BIN, "mint-token"] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20)
    assert r.returncode == 0, (args, r.returncode, r.stderr.decode(errors="replace"))
    tok = r.stdout.decode().strip()
    assert tok.count(".") == 2, tok
    SECRETS.append(tok)
    return tok


def _pem_private(key):
    from cryptography.hazmat.primitives import serialization
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


MINT = [("RS256", "rsa-1", ISS_A, "analyst"), ("ES256", "ec-256", ISS_A, "analyst"),
        ("HS256", "hs-1", ISS_H, "basic")]


@pytest.mark.parametrize("alg,kid,iss,profile", MINT, ids=[m[0] for m in MINT])
def test_mint_token(js, alg, kid, iss, profile):
    if alg == "HS256":
        keyfile = js.hs_file
    else:
        keyfile = H.write_secret("mint-" + kid, _pem_private(js.keys[kid]))
    sub = "minted-" + alg.lower()
    tok = _mint_cmd(mint_args(alg, keyfile, kid, iss, sub, ["analysts"] if iss == ISS_A
                              else None))
    expect_ok(js, tok, sub, profile)


def mint_args(alg, keyfile, kid, iss, sub, groups):
    """Command line of `sparkgate mint-token` (src/auth_mint.c)."""
    a = ["--secret-file" if alg.startswith("HS") else "--key", keyfile, "--alg", alg,
         "--kid", kid, "--iss", iss, "--aud", AUD, "--sub", sub, "--ttl", "600"]
    if groups:
        a += ["--claim", "groups:=" + json.dumps(groups)]
    return a


# --------------------------------------------------------------------------
# last: nothing secret was logged

def test_zz_no_secret_in_stderr(js):
    assert SPARKGATES
    secrets = [s for s in SECRETS if s]
    assert secrets
    for sg in SPARKGATES:
        err = sg.stderr()
        assert err
        for s in secrets:
            assert s not in err, "token %s... found in sparkgate pid %d stderr" % (s[:24], sg.pid)
            sig = s.rsplit(".", 1)[-1]
            if len(sig) >= 16:
                assert sig not in err, "token signature %s... in sparkgate stderr" % sig[:12]
