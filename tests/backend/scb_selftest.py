#!/usr/bin/python3
"""Exercise sc-test-backend with a real gRPC client (grpcio, hand-encoded
protobuf).  Usage:  /usr/bin/python3 scb_selftest.py PATH/TO/sc-test-backend

Starts its own backends on port 0 (h2c, TLS, mutual TLS) with throwaway
certificates made by the openssl CLI, checks every method and test control,
and compares client-side digests with the --record file.  Exit status 0 when
everything passed.
"""
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import zlib

import grpc

SVC = "/spark.connect.SparkConnectService/"


# ---- protobuf by hand ------------------------------------------------------
def varint(v):
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def fb(num, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def fv(num, v):
    return varint(num << 3) + varint(v)


def decode(buf):
    """{field: [values]}; LEN values stay bytes, varints are ints."""
    out, i = {}, 0
    while i < len(buf):
        key, shift = 0, 0
        while True:
            c = buf[i]
            i += 1
            key |= (c & 0x7F) << shift
            shift += 7
            if not c & 0x80:
                break
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, shift = 0, 0
            while True:
                c = buf[i]
                i += 1
                v |= (c & 0x7F) << shift
                shift += 7
                if not c & 0x80:
                    break
        elif wt == 2:
            n, shift = 0, 0
            while True:
                c = buf[i]
                i += 1
                n |= (c & 0x7F) << shift
                shift += 7
                if not c & 0x80:
                    break
            v = buf[i:i + n]
            i += n
        elif wt == 1:
            v = buf[i:i + 8]
            i += 8
        elif wt == 5:
            v = buf[i:i + 4]
            i += 4
        else:
            raise ValueError("wire type %d" % wt)
        out.setdefault(num, []).append(v)
    return out


def ident(sid, user="alice", name="Alice"):
    return fb(1, sid) + fb(2, fb(1, user) + fb(2, name))


# ---- harness ---------------------------------------------------------------
FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILS.append(what)


class Backend:
    def __init__(self, binary, args, record):
        self.record = record
        self.p = subprocess.Popen([binary] + args + ["--record", record],
                                  stdout=subprocess.PIPE, text=True)
        self.listen = {}
        for line in self.p.stdout:
            line = line.strip()
            if line == "READY":
                break
            kind, addr = line.split()[1:3]
            self.listen.setdefault(kind, addr)

    def events(self, ev=None):
        with open(self.record) as f:
            evs = [json.loads(x) for x in f]
        return [e for e in evs if ev is None or e["ev"] == ev]

    def stop(self):
        self.p.terminate()
        rc = self.p.wait(10)
        return rc


def ident_ser(b):
    return b


def unary(ch, method, req, md=()):
    f = ch.unary_unary(SVC + method, request_serializer=ident_ser,
                       response_deserializer=ident_ser)
    return f.with_call(req, metadata=list(md), timeout=30)


def stream(ch, method, req, md=()):
    f = ch.unary_stream(SVC + method, request_serializer=ident_ser,
                        response_deserializer=ident_ser)
    return f(req, metadata=list(md), timeout=120)


def last_close(be, stream_method):
    time.sleep(0.2)
    cl = [e for e in be.events("stream_close") if e["method"] == stream_method]
    return cl[-1] if cl else {}


def test_config(be, ch):
    sid = str(uuid.uuid4())
    pair = lambda k, v: fb(1, fb(1, k) + fb(2, v))  # noqa: E731
    r, call = unary(ch, "Config", ident(sid) + fb(3, fb(1, pair("a.b", "1") + pair("a.c", "2"))))
    d = decode(r)
    check(d[1] == [sid.encode()] and len(d[4][0]) == 36, "Config set echoes session_id and sssid")
    sssid = d[4][0]
    check(dict(call.initial_metadata()).get("x-sc-backend") == "b1", "x-sc-backend header")
    r, _ = unary(ch, "Config", ident(sid) + fb(3, fb(2, fb(1, "a.b"))))
    p = decode(decode(r)[2][0])
    check(p[1] == [b"a.b"] and p[2] == [b"1"], "Config get returns the stored value")
    check(decode(r)[4][0] == sssid, "server_side_session_id is stable")
    r, _ = unary(ch, "Config", ident(sid) + fb(3, fb(4, fb(1, "zz"))))
    p = decode(decode(r)[2][0])
    check(p[1] == [b"zz"] and 2 not in p, "Config get_option of missing key: value absent")
    r, _ = unary(ch, "Config", ident(sid) + fb(3, fb(3, fb(1, fb(1, "zz") + fb(2, "dflt")))))
    check(decode(decode(r)[2][0])[2] == [b"dflt"], "Config get_with_default")
    r, _ = unary(ch, "Config", ident(sid) + fb(3, fb(5, fb(1, "a."))))
    keys = sorted(decode(x)[1][0] for x in decode(r)[2])
    check(keys == [b"b", b"c"], "Config get_all strips the prefix")
    r, _ = unary(ch, "Config", ident(sid) + fb(3, fb(7, fb(1, "a.b"))))
    check(decode(decode(r)[2][0])[2] == [b"true"], "Config is_modifiable")
    unary(ch, "Config", ident(sid) + fb(3, fb(6, fb(1, "a.b"))))
    try:
        unary(ch, "Config", ident(sid) + fb(3, fb(2, fb(1, "a.b"))))
        check(False, "Config get of unset key fails")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.INTERNAL and "SQL_CONF_NOT_FOUND" in e.details(),
              "Config get of unset key -> INTERNAL SQL_CONF_NOT_FOUND")
    # other user, same session id: a different session
    r, _ = unary(ch, "Config", ident(sid, "bob") + fb(3, fb(4, fb(1, "a.c"))))
    check(2 not in decode(decode(r)[2][0]) and decode(r)[4][0] != sssid,
          "sessions are keyed by (user_id, session_id)")
    # duplicate user_context: merge, last wins
    unary(ch, "Config", fb(1, sid) + fb(2, fb(1, "mallory") + fb(2, "M")) + fb(2, fb(1, "alice"))
          + fb(3, fb(4, fb(1, "x"))))
    m = be.events("message")[-1]
    check(m["user_id"] == "alice" and m["user_name"] == "M" and m["user_context_count"] == 2,
          "record: duplicate user_context merged, counted")
    try:
        unary(ch, "Config", ident(sid) + fb(8, str(uuid.uuid4())) + fb(3, fb(4, fb(1, "x"))))
        check(False, "SESSION_CHANGED")
    except grpc.RpcError as e:
        check("SESSION_CHANGED" in e.details(), "observed server_side_session_id mismatch -> SESSION_CHANGED")


def test_static_conf(binary, d):
    """--conf KEY=VALUE seeds every new session's Config store."""
    be = Backend(binary, ["--listen", "127.0.0.1:0", "--conf", "spark.connect.authenticate.token=s3cr=t",
                          "--conf", "my.app.password=hunter2", "--conf", "empty.val="],
                 d + "/rec-conf.jsonl")
    try:
        with grpc.insecure_channel(be.listen["h2c"]) as ch:
            sid = str(uuid.uuid4())
            r, _ = unary(ch, "Config", ident(sid) + fb(3, fb(2, fb(1, "spark.connect.authenticate.token"))))
            p = decode(decode(r)[2][0])
            check(p[2] == [b"s3cr=t"], "--conf: get returns the static conf (value after the first '=')")
            r, _ = unary(ch, "Config", ident(sid) + fb(3, fb(5, b"")))
            pairs = [(decode(x)[1][0], decode(x).get(2, [b""])[0]) for x in decode(r)[2]]
            check(pairs == [(b"spark.connect.authenticate.token", b"s3cr=t"),
                            (b"my.app.password", b"hunter2"), (b"empty.val", b"")],
                  "--conf: get_all lists the static confs in order")
            r, _ = unary(ch, "Config", ident(sid) + fb(3, fb(5, fb(1, "my.app."))))
            pairs = [(decode(x)[1][0], decode(x)[2][0]) for x in decode(r)[2]]
            check(pairs == [(b"password", b"hunter2")], "--conf: get_all with a prefix")
            r, _ = unary(ch, "Config", ident(sid, "bob") + fb(3, fb(4, fb(1, "my.app.password"))))
            check(decode(decode(r)[2][0])[2] == [b"hunter2"], "--conf: every session has them (get_option)")
            r, _ = unary(ch, "Config", ident(sid) + fb(3, fb(3, fb(1, fb(1, "my.app.password") + fb(2, "d")))))
            check(decode(decode(r)[2][0])[2] == [b"hunter2"], "--conf: get_with_default")
            unary(ch, "Config", ident(sid) + fb(3, fb(6, fb(1, "my.app.password"))))
            r, _ = unary(ch, "Config", ident(sid) + fb(3, fb(4, fb(1, "my.app.password"))))
            check(2 not in decode(decode(r)[2][0]), "--conf: unset removes it from that session")
            r, _ = unary(ch, "Config", ident(sid, "bob") + fb(3, fb(4, fb(1, "my.app.password"))))
            check(decode(decode(r)[2][0])[2] == [b"hunter2"], "--conf: ... and only from that session")
    finally:
        check(be.stop() == 0, "--conf backend exits 0")
    for bad in ("novalue", "=v"):
        r = subprocess.run([binary, "--listen", "127.0.0.1:0", "--conf", bad],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
        check(r.returncode == 2, "--conf %s: usage error (exit 2)" % bad)


def test_execute_digest(be, ch):
    sid = str(uuid.uuid4())
    md = [("sc-test-count", "1000"), ("sc-test-size", str(1 << 20)), ("sc-test-digest", "1")]
    h = hashlib.sha256()
    n, total, t0, last, first = 0, 0, time.time(), None, None
    for msg in stream(ch, "ExecutePlan", ident(sid), md):
        h.update(msg)
        n += 1
        total += len(msg)
        if first is None:
            first = msg
        last = msg
    dt = time.time() - t0
    print("     ExecutePlan 1000 x 1 MiB through grpcio: %.0f MB/s" % (total / dt / 1e6))
    d0 = decode(first)
    ab = decode(d0[2][0])
    check(n == 1001 and ab[1] == [1] and len(ab[2][0]) == 1 << 20 and ab[2][0].count(0) < 10000,
          "ExecutePlan: 1000 pseudo-random 1 MiB batches + final")
    dl = decode(last)
    check(14 in dl and dl[12] == d0[12] and dl[15] == d0[15] and dl[1] == [sid.encode()],
          "ExecutePlan: result_complete with operation_id/sssid/session_id")
    cl = last_close(be, "ExecutePlan")
    check(cl.get("sha256") == h.hexdigest() and cl.get("sent_messages") == 1001
          and cl.get("sent_bytes") == total and cl.get("cancelled") is False,
          "record sha256/sent_messages/sent_bytes match the client's")


def test_reattach(be, ch):
    sid, op = str(uuid.uuid4()), str(uuid.uuid4())
    md = [("sc-test-count", "10"), ("sc-test-size", "1000")]
    it = stream(ch, "ExecutePlan", ident(sid) + fb(6, op), md)
    got = [next(it) for _ in range(3)]
    it.cancel()
    rids = [decode(m)[13][0] for m in got]
    check(all(decode(m)[12] == [op.encode()] for m in got), "ExecutePlan uses the given operation_id")
    rest = list(stream(ch, "ReattachExecute", ident(sid) + fb(3, op) + fb(5, rids[-1])))
    check(len(rest) == 8 and 14 in decode(rest[-1]), "ReattachExecute continues after last_response_id")
    allids = rids + [decode(m)[13][0] for m in rest]
    check(len(set(allids)) == 11, "response ids unique")
    again = list(stream(ch, "ReattachExecute", ident(sid) + fb(3, op)))
    check(len(again) == 11, "ReattachExecute without last_response_id restarts")
    try:
        list(stream(ch, "ReattachExecute", ident(sid) + fb(3, str(uuid.uuid4()))))
        check(False, "reattach unknown op")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.INTERNAL and e.details() == "INVALID_HANDLE.OPERATION_NOT_FOUND",
              "ReattachExecute of unknown op -> OPERATION_NOT_FOUND")
    try:
        list(stream(ch, "ExecutePlan", ident(sid) + fb(6, op)))
        check(False, "duplicate op")
    except grpc.RpcError as e:
        check("OPERATION_ALREADY_EXISTS" in e.details(), "ExecutePlan with existing op id -> ALREADY_EXISTS")
    r, _ = unary(ch, "GetStatus", ident(sid) + fb(5, fb(1, op) + fb(1, "nope")))
    st = [decode(x) for x in decode(r)[3]]
    check(st[0][2] == [4] and st[1][2] == [1], "GetStatus: SUCCEEDED / UNKNOWN")
    r, _ = unary(ch, "ReleaseExecute", ident(sid) + fb(3, op) + fb(5, b""))
    check(decode(r)[2] == [op.encode()], "ReleaseExecute echoes operation_id")
    try:
        list(stream(ch, "ReattachExecute", ident(sid) + fb(3, op)))
        check(False, "reattach released op")
    except grpc.RpcError as e:
        check("OPERATION_NOT_FOUND" in e.details(), "released op is gone")


def test_cancel(be, ch):
    sid = str(uuid.uuid4())
    md = [("sc-test-count", "100000"), ("sc-test-size", "65536")]
    it = stream(ch, "ExecutePlan", ident(sid), md)
    for _ in range(5):
        next(it)
    it.cancel()
    time.sleep(0.5)
    cl = last_close(be, "ExecutePlan")
    check(cl.get("cancelled") is True and cl.get("sent_messages", 0) < 100000,
          "client cancel mid-stream recorded as cancelled (sent %s)" % cl.get("sent_messages"))


def test_delay_interrupt(be, ch):
    sid, op = str(uuid.uuid4()), str(uuid.uuid4())
    md = [("sc-test-count", "5"), ("sc-test-size", "10"), ("sc-test-delay-ms", "100")]
    t0 = time.time()
    n = len(list(stream(ch, "ExecutePlan", ident(sid), md)))
    dt = time.time() - t0
    check(n == 6 and dt >= 0.55, "sc-test-delay-ms paces messages (%.2fs)" % dt)
    it = stream(ch, "ExecutePlan", ident(sid) + fb(6, op) + fb(7, "tagA"),
                [("sc-test-count", "50"), ("sc-test-delay-ms", "50")])
    next(it)
    r, _ = unary(ch, "Interrupt", ident(sid) + fv(4, 2) + fb(5, "tagA"))
    check(decode(r).get(2) == [op.encode()], "Interrupt by tag returns the op id")
    try:
        list(it)
        check(False, "interrupted stream ends with error")
    except grpc.RpcError as e:
        check("OPERATION_CANCELED" in e.details(), "interrupted stream ends with OPERATION_CANCELED")


def test_artifacts(be, ch):
    sid = str(uuid.uuid4())

    def chunk(data, good=True):
        return fb(1, data) + fv(2, zlib.crc32(data) ^ (0 if good else 1))

    msgs = [
        ident(sid) + fb(3, fb(1, fb(1, "jars/a.jar") + fb(2, chunk(b"A" * 100)))
                     + fb(1, fb(1, "files/bad.txt") + fb(2, chunk(b"B" * 10, False)))),
        ident(sid) + fb(4, fb(1, "pyfiles/big.zip") + fv(2, 300) + fv(3, 2) + fb(4, chunk(os.urandom(200)))),
        ident(sid) + fb(5, chunk(os.urandom(100))),
    ]
    f = ch.stream_unary(SVC + "AddArtifacts", request_serializer=ident_ser, response_deserializer=ident_ser)
    r = f(iter(msgs), timeout=30)
    d = decode(r)
    arts = [(decode(a)[1][0], decode(a).get(2, [0])[0]) for a in d[1]]
    check(arts == [(b"jars/a.jar", 1), (b"files/bad.txt", 0), (b"pyfiles/big.zip", 1)]
          and d[2] == [sid.encode()] and len(d[3][0]) == 36,
          "AddArtifacts: 3 messages, CRC verdicts, session ids")
    r, _ = unary(ch, "ArtifactStatus", ident(sid) + fb(4, "jars/a.jar") + fb(4, "files/bad.txt"))
    st = {decode(e)[1][0]: decode(decode(e)[2][0]).get(1, [0])[0] for e in decode(r)[1]}
    check(st == {b"jars/a.jar": 1, b"files/bad.txt": 0}, "ArtifactStatus map")
    ms = [e for e in be.events("message") if e["method"] == "AddArtifacts"]
    check([e["index"] for e in ms[-3:]] == [0, 1, 2], "record: 3 AddArtifacts messages")


def test_misc(be, ch):
    sid = str(uuid.uuid4())
    r, _ = unary(ch, "AnalyzePlan", ident(sid) + fb(10, b""))
    d = decode(r)
    check(decode(d[8][0])[1] == [b"9.9.9-test"] and len(d[15][0]) == 36, "AnalyzePlan spark_version")
    r, _ = unary(ch, "AnalyzePlan", ident(sid) + fb(4, fb(1, b"")))
    check(21 in decode(decode(decode(r)[2][0])[1][0]), "AnalyzePlan schema is a struct DataType")
    for case, resp in ((5, 3), (6, 4), (7, 5), (8, 6), (11, 9), (12, 10), (13, 11), (16, 14), (18, 16)):
        r, _ = unary(ch, "AnalyzePlan", ident(sid) + fb(case, b""))
        check(resp in decode(r), "AnalyzePlan case %d -> response field %d" % (case, resp))
    r, _ = unary(ch, "FetchErrorDetails", ident(sid) + fb(3, "e-42"))
    d = decode(r)
    err = decode(d[2][0])
    check(d[1] == [0] and err[1] == [b"org.apache.spark.SparkException"] and err[2] == [b"test error e-42"]
          and d[4] == [sid.encode()], "FetchErrorDetails")
    new = str(uuid.uuid4())
    r, _ = unary(ch, "CloneSession", ident(sid) + fb(4, new))
    d = decode(r)
    check(d[3] == [new.encode()] and len(d[4][0]) == 36 and d[4] != d[2], "CloneSession")
    r, _ = unary(ch, "CloneSession", ident(sid))
    check(len(decode(r)[3][0]) == 36, "CloneSession generates new_session_id")
    r, _ = unary(ch, "GetStatus", ident(sid))
    check(decode(r)[1] == [sid.encode()] and len(decode(r)[2][0]) == 36, "GetStatus")
    r, _ = unary(ch, "ReleaseSession", ident(sid))
    check(decode(r)[1] == [sid.encode()] and len(decode(r)[2][0]) == 36, "ReleaseSession")
    r, _ = unary(ch, "Interrupt", ident(sid) + fv(4, 1))
    check(2 not in decode(r), "Interrupt ALL on an empty session")


def test_controls(be, ch):
    sid = str(uuid.uuid4())
    md = [("sc-test-status", "7"), ("sc-test-message", "nope: 100% sure")]
    try:
        unary(ch, "Config", ident(sid) + fb(3, fb(4, fb(1, "x"))), md)
        check(False, "sc-test-status")
    except grpc.RpcError as e:
        det = dict(e.trailing_metadata()).get("grpc-status-details-bin")
        dd = decode(det) if det else {}
        check(e.code() == grpc.StatusCode.PERMISSION_DENIED and e.details() == "nope: 100% sure"
              and dd.get(1) == [7] and dd.get(2) == ["nope: 100% sure".encode()],
              "sc-test-status on unary: status, percent-encoded message, details-bin")
    try:
        unary(ch, "Config", ident(sid), md + [("sc-test-trailers-only", "1")])
        check(False, "trailers-only")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.PERMISSION_DENIED and e.initial_metadata() in ((), None, [])
              or e.code() == grpc.StatusCode.PERMISSION_DENIED,
              "sc-test-trailers-only")
    got = []
    try:
        for m in stream(ch, "ExecutePlan", ident(sid), [("sc-test-count", "3"), ("sc-test-status", "14")]):
            got.append(m)
        check(False, "stream status")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.UNAVAILABLE and len(got) == 3,
              "sc-test-status on ExecutePlan: 3 batches then UNAVAILABLE")
    try:
        unary(ch, "Nope", b"")
        check(False, "unknown method")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.UNIMPLEMENTED and e.details() == "unknown method",
              "unknown method -> UNIMPLEMENTED")
    try:
        unary(ch, "Config", b"\x0a\x05ab")
        check(False, "bad protobuf")
    except grpc.RpcError as e:
        m = be.events("message")[-1]
        check(e.code() == grpc.StatusCode.INVALID_ARGUMENT and "parse_error" in m,
              "invalid protobuf -> INVALID_ARGUMENT + parse_error")
    try:
        list(stream(ch, "ExecutePlan", ident(sid), [("sc-test-size", "99999999999")]))
        check(False, "bad header")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.INVALID_ARGUMENT, "bad sc-test-size -> INVALID_ARGUMENT")


def raw(addr, data, read=True):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5)
    try:
        s.sendall(data)
        if read:
            try:
                s.recv(65536)
            except OSError:
                pass
    finally:
        s.close()


def test_garbage(be):
    addr = be.listen["h2c"]
    raw(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    raw(addr, os.urandom(5000))
    raw(addr, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + os.urandom(3000))
    raw(addr, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", read=False)
    check(be.p.poll() is None, "garbage and abrupt disconnects do not crash the backend")


def make_certs(d):
    def run(*a):
        subprocess.run(a, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", d + "/ca.key", "-out", d + "/ca.pem", "-days", "2", "-subj", "/CN=test-ca")
    for name, ext in (("server", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
                      ("client", "extendedKeyUsage=clientAuth")):
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "%s/%s.key" % (d, name), "-out", "%s/%s.csr" % (d, name), "-subj", "/CN=" + name + "-cn")
        with open("%s/%s.ext" % (d, name), "w") as f:
            f.write(ext + "\n")
        run("openssl", "x509", "-req", "-in", "%s/%s.csr" % (d, name), "-CA", d + "/ca.pem",
            "-CAkey", d + "/ca.key", "-CAcreateserial", "-out", "%s/%s.pem" % (d, name), "-days", "2",
            "-extfile", "%s/%s.ext" % (d, name))


def read(p):
    with open(p, "rb") as f:
        return f.read()


def test_tls(binary, d):
    make_certs(d)
    be = Backend(binary, ["--tls-listen", "127.0.0.1:0", "--tls-cert", d + "/server.pem",
                          "--tls-key", d + "/server.key", "--name", "tls1"], d + "/tls.jsonl")
    try:
        creds = grpc.ssl_channel_credentials(root_certificates=read(d + "/ca.pem"))
        port = be.listen["tls"].rsplit(":", 1)[1]
        with grpc.secure_channel("localhost:" + port, creds) as ch:
            r, call = unary(ch, "Config", ident("s") + fb(3, fb(4, fb(1, "k"))))
            check(dict(call.initial_metadata()).get("x-sc-backend") == "tls1", "TLS listener answers Config")
            n = len(list(stream(ch, "ExecutePlan", ident("s"), [("sc-test-count", "20"),
                                                                  ("sc-test-size", "100000")])))
            check(n == 21, "TLS ExecutePlan")
        op = be.events("conn_open")
        check(op and op[0]["tls"] is True, "record conn_open tls:true")
    finally:
        check(be.stop() == 0, "TLS backend exits 0 on SIGTERM")
    be = Backend(binary, ["--tls-listen", "127.0.0.1:0", "--tls-cert", d + "/server.pem",
                          "--tls-key", d + "/server.key", "--tls-client-ca", d + "/ca.pem"], d + "/mtls.jsonl")
    try:
        port = be.listen["tls"].rsplit(":", 1)[1]
        creds = grpc.ssl_channel_credentials(root_certificates=read(d + "/ca.pem"),
                                             private_key=read(d + "/client.key"),
                                             certificate_chain=read(d + "/client.pem"))
        with grpc.secure_channel("localhost:" + port, creds) as ch:
            unary(ch, "Config", ident("s") + fb(3, fb(4, fb(1, "k"))))
        op = be.events("conn_open")
        check(op and op[-1].get("client_cert_cn") == "client-cn", "mTLS: client_cert_cn recorded")
        creds = grpc.ssl_channel_credentials(root_certificates=read(d + "/ca.pem"))
        with grpc.secure_channel("localhost:" + port, creds) as ch:
            try:
                unary(ch, "Config", ident("s"))
                check(False, "mTLS without client cert")
            except grpc.RpcError as e:
                check(e.code() == grpc.StatusCode.UNAVAILABLE, "mTLS: no client certificate -> refused")
    finally:
        check(be.stop() == 0, "mTLS backend exits 0")


def main():
    binary = os.path.abspath(sys.argv[1])
    d = tempfile.mkdtemp(prefix="scb-selftest-")
    be = Backend(binary, ["--listen", "127.0.0.1:0", "--listen", "127.0.0.1:0", "--name", "b1",
                          "--version-string", "9.9.9-test"], d + "/rec.jsonl")
    try:
        opts = [("grpc.max_receive_message_length", 64 << 20)]
        with grpc.insecure_channel(be.listen["h2c"], options=opts) as ch:
            test_config(be, ch)
            test_execute_digest(be, ch)
            test_reattach(be, ch)
            test_cancel(be, ch)
            test_delay_interrupt(be, ch)
            test_artifacts(be, ch)
            test_misc(be, ch)
            test_controls(be, ch)
        test_garbage(be)
    finally:
        check(be.stop() == 0, "backend exits 0 on SIGTERM")
    test_tls(binary, d)
    test_static_conf(binary, d)
    print("%d failure(s)" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
