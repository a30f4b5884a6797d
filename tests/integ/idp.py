#!/usr/bin/python3
"""idp.py: a test identity provider for sparkgate's JWKS fetcher and JWT tests.

Server
------
    /usr/bin/python3 tests/integ/idp.py --cert server.pem --key server.key \\
        --jwks jwks.json [--bind 127.0.0.1] [--port 0] [--record rec.jsonl] \\
        [--control control.json]

HTTPS only (TLS 1.2+).  Prints ``LISTEN https HOST:PORT`` then ``READY`` on
stdout (port 0 picks a free port), then serves until SIGTERM/SIGINT:

  GET /jwks.json, GET /.well-known/jwks.json
      the --jwks file, re-read on every request (rotate keys by rewriting it
      atomically: write_jwks() does), Content-Type application/json.
  GET /.well-known/openid-configuration
      {"issuer": "https://HOST:PORT", "jwks_uri": "https://HOST:PORT/jwks.json"}.
  anything else: 404.

Every request, whatever the answer, is appended to --record as one JSON line
{"method", "path", "time" (unix seconds, float), "client", "headers" (object)}
and flushed before the response is sent.

Test controls
-------------
A control object says how the JWKS paths (and the openid-configuration) are
answered.  It is the in-memory state set through /_control, overridden
member by member by the --control file if that file exists; the file is
re-read on every request, so a test that cannot speak HTTPS just rewrites it
(atomically: write then rename).  Members, all optional:

  "status": N          answer N with a small JSON error body (500, 404, ...)
  "redirect": "URL"    answer 302 with Location: URL (a path is made absolute;
                       default target of {"redirect": true}: /.well-known/jwks.json,
                       which serves the real keys, so a client that follows wins)
  "body": "TEXT"       serve TEXT (status 200, application/json) instead of the file
  "oversize": N        serve the JWKS file padded with spaces to N bytes (valid JSON,
                       so only a size limit can reject it)
  "framing": "length" | "chunked" | "close"
                       how a 200 body is delimited: Content-Length (default),
                       Transfer-Encoding: chunked (4 KiB chunks), or end of connection
  "delay_ms": N        sleep N ms before answering

Control paths, answered only to loopback clients and never subject to the
controls (they are recorded like any request):

  GET  /_control          the current in-memory state (JSON)
  POST /_control          replace the in-memory state with the JSON body
  POST /_control/reset    clear it

Helpers for other tests
-----------------------
``make_rsa_key(bits=2048)``, ``make_ec_key(curve="P-256")``,
``make_ed25519_key()`` return python3-cryptography private keys;
``jwk_of(pubkey, kid, alg=None)`` returns the public JWK (dict);
``write_jwks(path, [jwk, ...])`` writes {"keys": [...]} atomically;
``mint(key, alg, kid, claims, headers=None)`` signs a JWT with python3-jwt.
cryptography and jwt are imported only by these helpers, so the server starts
fast and needs neither.

``idp.py --gen-jwks OUT KID [KID...]`` writes a JWKS of fresh EC P-256 public
keys (alg ES256) with those kids, for tests written in C.
"""

import argparse
import base64
import ipaddress
import json
import os
import signal
import ssl
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

JWKS_PATHS = ("/jwks.json", "/.well-known/jwks.json")
OIDC_PATH = "/.well-known/openid-configuration"
CONTROL_KEYS = ("status", "redirect", "body", "oversize", "framing", "delay_ms")


# ---- helpers for tests ------------------------------------------------------

def _b64u(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64u_uint(n, size=None):
    if size is None:
        size = max(1, (n.bit_length() + 7) // 8)
    return _b64u(n.to_bytes(size, "big"))


_CURVES = {"P-256": "SECP256R1", "P-384": "SECP384R1", "P-521": "SECP521R1"}


def make_rsa_key(bits=2048):
    from cryptography.hazmat.primitives.asymmetric import rsa
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def make_ec_key(curve="P-256"):
    from cryptography.hazmat.primitives.asymmetric import ec
    return ec.generate_private_key(getattr(ec, _CURVES[curve])())


def make_ed25519_key():
    from cryptography.hazmat.primitives.asymmetric import ed25519
    return ed25519.Ed25519PrivateKey.generate()


def jwk_of(pubkey, kid, alg=None):
    """The public JWK of |pubkey| (a private key is accepted: its public half is used)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if hasattr(pubkey, "public_key"):
        pubkey = pubkey.public_key()
    if isinstance(pubkey, rsa.RSAPublicKey):
        nums = pubkey.public_numbers()
        jwk = {"kty": "RSA", "n": _b64u_uint(nums.n), "e": _b64u_uint(nums.e)}
    elif isinstance(pubkey, ec.EllipticCurvePublicKey):
        names = {v: k for k, v in _CURVES.items()}
        crv = names[type(pubkey.curve).__name__.upper()]
        size = (pubkey.curve.key_size + 7) // 8
        nums = pubkey.public_numbers()
        jwk = {"kty": "EC", "crv": crv, "x": _b64u_uint(nums.x, size),
               "y": _b64u_uint(nums.y, size)}
    elif isinstance(pubkey, ed25519.Ed25519PublicKey):
        raw = pubkey.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64u(raw)}
    else:
        raise TypeError("unsupported key type %r" % type(pubkey))
    jwk["kid"] = kid
    jwk["use"] = "sig"
    if alg is not None:
        jwk["alg"] = alg
    return jwk


def write_jwks(path, jwks):
    """Writes {"keys": jwks} to |path| atomically (a reader sees old or new, never half)."""
    _write_atomic(path, json.dumps({"keys": list(jwks)}, indent=1))


def mint(key, alg, kid, claims, headers=None):
    """A JWT over |claims| signed by |key| with |alg|; kid None leaves it out."""
    import jwt

    hdr = dict(headers or {})
    if kid is not None:
        hdr["kid"] = kid
    return jwt.encode(claims, key, algorithm=alg, headers=hdr)


def _write_atomic(path, text):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# ---- server -----------------------------------------------------------------

class IdP(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, args, ctx):
        super().__init__(addr, Handler)
        self.args = args
        self.ctx = ctx
        self.state = {}
        self.lock = threading.Lock()

    def get_request(self):
        # the handshake runs in the handler's thread (setup), so a client
        # that stalls it cannot block accept()
        sock, addr = self.socket.accept()
        return self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        e = sys.exc_info()[1]
        print("idp: %s: %s: %s" % (client_address[0], type(e).__name__, e), file=sys.stderr,
              flush=True)

    def control(self):
        with self.lock:
            c = dict(self.state)
        if self.args.control:
            try:
                with open(self.args.control) as f:
                    c.update(json.load(f))
            except FileNotFoundError:
                pass
            except ValueError as e:
                print("idp: bad control file: %s" % e, file=sys.stderr, flush=True)
        return c

    def record(self, entry):
        if not self.args.record:
            return
        with self.lock, open(self.args.record, "a") as f:
            f.write(json.dumps(entry) + "\n")
            f.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sparkgate-test-idp/1"
    timeout = 10

    def setup(self):
        super().setup()
        self.request.do_handshake()

    def log_message(self, fmt, *args):
        pass

    def _base(self):
        host, port = self.server.server_address[:2]
        return "https://%s:%d" % (host, port)

    def _send(self, status, body, ctype="application/json", extra=(), framing="length"):
        if isinstance(body, str):
            body = body.encode()
        self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        if framing == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        elif framing != "close":
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if framing == "chunked":
            for i in range(0, len(body), 4096):
                part = body[i:i + 4096]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(body)
        self.wfile.flush()

    def _record(self):
        self.server.record({"method": self.command, "path": self.path, "time": time.time(),
                            "client": self.client_address[0], "headers": dict(self.headers)})

    def _control_path(self):
        if not ipaddress.ip_address(self.client_address[0]).is_loopback:
            self._send(403, '{"error": "control is for loopback clients only"}')
            return
        srv = self.server
        if self.command == "GET" and self.path == "/_control":
            with srv.lock:
                self._send(200, json.dumps(srv.state))
        elif self.command == "POST" and self.path == "/_control":
            n = int(self.headers.get("Content-Length", "0"))
            try:
                new = json.loads(self.rfile.read(n) or b"{}")
                if not isinstance(new, dict):
                    raise ValueError("not an object")
            except ValueError as e:
                self._send(400, json.dumps({"error": str(e)}))
                return
            with srv.lock:
                srv.state = {k: v for k, v in new.items() if k in CONTROL_KEYS}
            self._send(200, json.dumps(srv.state))
        elif self.command == "POST" and self.path == "/_control/reset":
            with srv.lock:
                srv.state = {}
            self._send(200, "{}")
        else:
            self._send(404, '{"error": "no such control"}')

    def _serve(self):
        path = self.path.split("?", 1)[0]
        if path not in JWKS_PATHS and path != OIDC_PATH:
            self._send(404, '{"error": "not found"}')
            return
        c = self.server.control()
        if c.get("delay_ms"):
            time.sleep(float(c["delay_ms"]) / 1000.0)
        if c.get("status"):
            self._send(int(c["status"]), '{"error": "test-controlled failure"}')
            return
        if c.get("redirect"):
            loc = c["redirect"] if isinstance(c["redirect"], str) else "/.well-known/jwks.json"
            if loc.startswith("/"):
                loc = self._base() + loc
            self._send(302, "", extra=[("Location", loc)])
            return
        framing = c.get("framing", "length")
        if path == OIDC_PATH:
            body = json.dumps({"issuer": self._base(), "jwks_uri": self._base() + "/jwks.json"})
        elif "body" in c:
            body = c["body"]
        else:
            with open(self.server.args.jwks, "rb") as f:
                body = f.read()
            if c.get("oversize"):
                n = int(c["oversize"])
                body = body.rstrip() + b" " * max(0, n - len(body.rstrip()))
        self._send(200, body, framing=framing)

    def do_GET(self):
        self._record()
        if self.path.startswith("/_control"):
            self._control_path()
        else:
            self._serve()

    def do_POST(self):
        self._record()
        if self.path.startswith("/_control"):
            self._control_path()
        else:
            self._send(405, '{"error": "method not allowed"}')

    do_HEAD = do_GET


def gen_jwks(out, kids):
    write_jwks(out, [jwk_of(make_ec_key("P-256"), k, "ES256") for k in kids])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--jwks")
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--record")
    ap.add_argument("--control")
    ap.add_argument("--gen-jwks", nargs="+", metavar=("OUT", "KID"),
                    help="write a JWKS of new EC P-256 keys with these kids and exit")
    args = ap.parse_args(argv)
    if args.gen_jwks:
        if len(args.gen_jwks) < 2:
            ap.error("--gen-jwks OUT KID [KID...]")
        gen_jwks(args.gen_jwks[0], args.gen_jwks[1:])
        return 0
    if not (args.cert and args.key and args.jwks):
        ap.error("--cert, --key and --jwks are required")

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    srv = IdP((args.bind, args.port), args, ctx)
    host, port = srv.server_address[:2]

    def stop(signum, frame):
        # shutdown() waits for serve_forever; run it off the main thread
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("LISTEN https %s:%d" % (host, port), flush=True)
    print("READY", flush=True)
    srv.serve_forever(poll_interval=0.1)
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
