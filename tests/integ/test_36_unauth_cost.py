"""What an unauthenticated client costs while its token names a signing key
sparkgate does not have (a forged JWT with a made-up kid): before a call is
authenticated its stream may hold only limits.unauthenticated_stream_window_size
of body; a call waits only while a JWKS fetch is under way, is woken when it
ends (no polling), and is refused at once when no fetch can bring a key (rate
limit); waiting calls are capped per connection and per worker."""

import hashlib
import os
import socket
import ssl
import statistics
import struct
import time
import uuid

import grpc
import pytest

import sgharness as H

SESSION = "6c1f0e2d-3b4a-4c5d-8e6f-7a8b9c0d1e2f"
ISS = "https://idp.example/unauth-cost"
AUD = "sparkgate"
TOKEN = "sg-unauth-cost-honest-token-7d1e"
UNAUTH = grpc.StatusCode.UNAUTHENTICATED
OK = grpc.StatusCode.OK
EXECUTE = "/spark.connect.SparkConnectService/ExecutePlan"

# the defaults under test (docs/sparkgate.json.5): not set in the configs below
PER_CONN_WAITING = 8           # limits.max_auth_waiting_per_connection
KEY_WAIT_S = 2.0               # timeouts.auth_key_wait_ms
RSS_SLACK = 48 << 20           # as test_35: ASan's quarantine and shadow, allocator caches

# HTTP/2 frames
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def idp_mod():
    import idp
    return idp


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", ftype, flags, sid) + payload


def forged_token(kid=None):
    """A well-formed ES256 JWT for ISS, signed by a key nobody published."""
    i = idp_mod()
    now = int(time.time())
    return i.mint(i.make_ec_key("P-256"), "ES256", kid or "forged-" + uuid.uuid4().hex,
                  {"iss": ISS, "sub": "mallory", "aud": AUD, "iat": now, "exp": now + 600})


def signed_token(key, kid, sub):
    now = int(time.time())
    tok = idp_mod().mint(key, "ES256", kid, {"iss": ISS, "sub": sub, "aud": AUD, "iat": now,
                                             "exp": now + 600})
    return tok.decode() if isinstance(tok, bytes) else tok


def as_str(tok):
    return tok.decode() if isinstance(tok, bytes) else tok


class Attacker:
    """One raw HTTP/2 connection that opens streams with a forged token and
    pushes as much body as sparkgate's flow-control windows allow, never
    ending the stream: what it makes sparkgate hold is what the windows let
    it."""

    def __init__(self, port, timeout=10.0):
        import hpack
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ctx = ssl.create_default_context(cafile=H.certs().ca_pem)
        ctx.set_alpn_protocols(["h2"])
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        self.port = port
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()
        self.inbuf = bytearray()
        self.peer_initial = 65535    # sparkgate's SETTINGS_INITIAL_WINDOW_SIZE
        self.conn_win = 65535
        self.win = {}
        self.opened = {}             # sid -> monotonic time of HEADERS
        self.done = {}               # sid -> (monotonic time, grpc-status, grpc-message)
        self.got_settings = False
        self.next_sid = 1
        self.sent = 0
        self.sock.sendall(PREFACE + frame(SETTINGS, 0, 0, struct.pack(">HI", 2, 0)))
        deadline = time.monotonic() + timeout
        # sparkgate's SETTINGS and its connection WINDOW_UPDATE come in its first flight
        while (not self.got_settings or self.conn_win <= 65535) and time.monotonic() < deadline:
            self.read(0.2)

    def read(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 16)
        except (socket.timeout, ssl.SSLWantReadError, BlockingIOError):
            return True
        except OSError:
            return False
        if not data:
            return False
        self.inbuf += data
        while len(self.inbuf) >= 9:
            n = int.from_bytes(self.inbuf[0:3], "big")
            if len(self.inbuf) < 9 + n:
                break
            ftype, flags = self.inbuf[3], self.inbuf[4]
            sid = int.from_bytes(self.inbuf[5:9], "big") & 0x7fffffff
            body = bytes(self.inbuf[9:9 + n])
            del self.inbuf[:9 + n]
            self.on_frame(ftype, flags, sid, body)
        return True

    def on_frame(self, ftype, flags, sid, body):
        if ftype == SETTINGS and not flags & ACK:
            for off in range(0, len(body) - 5, 6):
                k, v = struct.unpack(">HI", body[off:off + 6])
                if k == 4:
                    for s in self.win:
                        self.win[s] += v - self.peer_initial
                    self.peer_initial = v
            self.sock.sendall(frame(SETTINGS, ACK, 0))
            self.got_settings = True
        elif ftype == WINDOW_UPDATE and len(body) == 4:
            inc = struct.unpack(">I", body)[0] & 0x7fffffff
            if sid == 0:
                self.conn_win += inc
            elif sid in self.win:
                self.win[sid] += inc
        elif ftype == HEADERS:
            hdrs = dict((k.decode() if isinstance(k, bytes) else k,
                         v.decode() if isinstance(v, bytes) else v)
                        for k, v in self.dec.decode(body))
            if "grpc-status" in hdrs:
                self.done[sid] = (time.monotonic(), int(hdrs["grpc-status"]),
                                  hdrs.get("grpc-message", ""))
        elif ftype == RST_STREAM and sid not in self.done:
            self.done[sid] = (time.monotonic(), None, "RST_STREAM")
        elif ftype == PING and not flags & ACK:
            self.sock.sendall(frame(PING, ACK, 0, body))

    def open(self, token, body_bytes):
        """Opens one ExecutePlan stream and pushes up to |body_bytes| of a
        message declared 64 MiB long, within the windows."""
        sid = self.next_sid
        self.next_sid += 2
        hdrs = [(":method", "POST"), (":scheme", "https"), (":path", EXECUTE),
                (":authority", "localhost:%d" % self.port), ("content-type", "application/grpc"),
                ("te", "trailers"), ("authorization", "Bearer " + as_str(token))]
        self.sock.settimeout(10.0)
        self.sock.sendall(frame(HEADERS, END_HEADERS, sid, self.enc.encode(hdrs)))
        self.opened[sid] = time.monotonic()
        self.win[sid] = self.peer_initial
        left = body_bytes
        head = struct.pack(">BI", 0, 64 << 20)
        while left > 0:
            self.read(0.0)
            n = min(16384, left, self.win[sid], self.conn_win)
            if n <= 0 or sid in self.done:
                break
            payload = (head + bytes(n - len(head))) if head else bytes(n)
            head = b""
            self.sock.sendall(frame(DATA, 0, sid, payload))
            self.win[sid] -= n
            self.conn_win -= n
            left -= n
            self.sent += n
        return sid

    def wait_all(self, timeout):
        deadline = time.monotonic() + timeout
        while len(self.done) < len(self.opened) and time.monotonic() < deadline:
            if not self.read(0.1):
                break
        return len(self.done) == len(self.opened)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def ctx_switches(pid):
    """Voluntary context switches of every thread of |pid|: a thread that
    sleeps in epoll and wakes for a timer counts one."""
    total = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, t)) as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


class CostStack:
    """A backend, a test IdP publishing "k1", and one sparkgate trusting it
    (jwks_min_refetch_s |min_refetch|) plus a static token for the honest
    client."""

    def __init__(self, group, min_refetch, workers=2, limits=None):
        i = idp_mod()
        self.k1 = i.make_ec_key("P-256")
        self.idp = H.IdP("idp-cost", [i.jwk_of(self.k1, "k1")])
        self.b1 = group.backend("b1")
        self.port = H.free_port()
        auth = {"static_tokens": [{"sha256": hashlib.sha256(TOKEN.encode()).hexdigest(),
                                   "principal": "honest", "profile": "basic"}],
                "issuers": [H.sg_issuer(ISS, self.idp, default_profile="basic",
                                        jwks_min_refetch_s=min_refetch,
                                        jwks_refresh_s=3600)]}
        self.config = H.sg_config(self.port, [("b1", self.b1.address)], auth=auth,
                                  workers=workers, log={"level": "info"}, limits=limits or {})
        self.sg = group.sparkgate(self.config)
        self.channel = H.grpc_channel(self.port)
        H.wait_until(lambda: len(self.idp.fetches()) >= 1, 5.0, what="first JWKS fetch")

    def honest_latencies(self, n):
        fn = H.rpc(self.channel, "Config")
        req = H.make_request("Config", SESSION)
        out = []
        for _ in range(n):
            t0 = time.monotonic()
            fn(req, metadata=H.md(H.new_test_id()) + H.bearer(TOKEN), timeout=10)
            out.append(time.monotonic() - t0)
        return out

    def past_refetch_floor(self, floor_s):
        last = self.idp.fetches()[-1]["time"]
        time.sleep(max(0.0, last + floor_s + 0.2 - time.time()))

    def close(self):
        self.channel.close()
        self.idp.close()


def test_unknown_kid_refused_at_once_when_no_refetch(procs):
    """Within jwks_min_refetch_s of the last fetch no new key can arrive:
    a token naming an unknown kid is refused at once as an unknown key,
    not after a 2 s wait, and no fetch reaches the IdP."""
    s = CostStack(procs, min_refetch=30)
    try:
        n0 = len(s.idp.fetches())
        fn = H.rpc(s.channel, "Config")
        req = H.make_request("Config", SESSION)
        tids = [H.new_test_id() for _ in range(16)]
        t0 = time.monotonic()
        futs = [fn.future(req, metadata=H.md(tid) + H.bearer(as_str(forged_token())),
                          timeout=10) for tid in tids]
        for f in futs:
            with pytest.raises(grpc.RpcError) as ei:
                f.result()
            assert ei.value.code() == UNAUTH, ei.value
            assert ei.value.details().startswith('sparkgate: unknown signing key "forged-'), \
                ei.value.details()
        elapsed = time.monotonic() - t0
        assert elapsed < KEY_WAIT_S / 2, "unknown kids refused after %.2fs" % elapsed
        time.sleep(0.3)
        assert len(s.idp.fetches()) == n0, s.idp.fetches()
        barrier = H.new_test_id()
        fn(req, metadata=H.md(barrier) + H.bearer(TOKEN), timeout=10)
        s.b1.wait_stream(barrier, timeout=5)
        assert all(s.b1.find_stream(tid) is None for tid in tids)
    finally:
        s.close()


def test_waiting_calls_hold_little_and_cost_nothing(procs):
    """8 connections x 16 streams, each a forged token (unknown kid) and a
    large body, while a JWKS fetch is slow: at most 8 calls per connection
    wait (the rest are refused at once), each holding at most the 64 KiB
    unauthenticated window; sparkgate's peak RSS grows by under 2 MiB per
    connection plus sanitizer slack (1 MiB stream windows x 16 streams held
    16 MiB per connection before); an honest client is served at full speed
    meanwhile."""
    nconn, nstreams, body = 8, 16, 4 << 20
    s = CostStack(procs, min_refetch=1)
    conns = []
    try:
        s.honest_latencies(5)   # warm: TLS session, channel, token cache
        s.past_refetch_floor(1)
        s.idp.set_control({"delay_ms": 4000})  # the refetch outlasts every wait
        hwm0 = s.sg.hwm()
        for _ in range(nconn):
            a = Attacker(s.port)
            conns.append(a)
            for _ in range(nstreams):
                a.open(forged_token(), body)
        sent = sum(a.sent for a in conns)
        # one more connection, read as it goes: over the per-connection cap a
        # call is refused at once instead of waiting
        probe = Attacker(s.port)
        conns.append(probe)
        for _ in range(nstreams):
            probe.open(forged_token(), 0)
        t0 = time.monotonic()
        while len(probe.done) < nstreams - PER_CONN_WAITING and \
                time.monotonic() - t0 < KEY_WAIT_S / 2:
            probe.read(0.05)
        at_once = len(probe.done)
        lat = s.honest_latencies(20)
        for a in conns:
            assert a.wait_all(KEY_WAIT_S + 5.0), (len(a.done), len(a.opened))
        grow = s.sg.hwm() - hwm0
        p50 = statistics.median(lat)
        print("unauth-cost: %d conns x %d streams, %.1f MiB pushed, peak RSS +%.1f MiB "
              "(%.2f MiB per connection), honest p50 %.1f ms, %d of %d refused at once" % (
                  nconn, nstreams, sent / 1048576.0, grow / 1048576.0,
                  grow / 1048576.0 / nconn, p50 * 1000, at_once, nstreams))
        for a in conns:
            for sid, (t, status, msg) in a.done.items():
                assert status == 16, (sid, status, msg)
                assert msg.startswith("sparkgate: unknown signing key"), msg
        assert at_once >= nstreams - PER_CONN_WAITING, at_once
        # 16 MiB per connection before: 130 MiB here, over twice this bound
        assert grow < nconn * (2 << 20) + RSS_SLACK, "peak RSS grew %.1f MiB" % (
            grow / 1048576.0)
        assert p50 < 0.020, "honest p50 %.1f ms during the attack" % (p50 * 1000)
        s.sg.check_health()
    finally:
        for a in conns:
            a.close()
        s.close()


def test_waiting_calls_woken_by_fetch_end_without_polling(procs):
    """A rotated-in key: calls naming it wait for the one refetch and are
    served as soon as it ends.  While they wait sparkgate sleeps: no
    per-call timer wakes it (a 50 ms re-check of 6 calls woke it 20+
    times a second, and 24 attacking connections cost most of a core)."""
    i = idp_mod()
    s = CostStack(procs, min_refetch=1)
    try:
        k2 = i.make_ec_key("P-256")
        s.idp.set_keys([i.jwk_of(s.k1, "k1"), i.jwk_of(k2, "k2")])
        s.honest_latencies(3)
        s.past_refetch_floor(1)
        n0 = len(s.idp.fetches())
        s.idp.set_control({"delay_ms": 1500})
        fn = H.rpc(s.channel, "Config")
        tids = [H.new_test_id() for _ in range(6)]
        t0 = time.monotonic()
        futs = [fn.future(H.make_request("Config", SESSION),
                          metadata=H.md(tid) + H.bearer(signed_token(k2, "k2", "rotated")),
                          timeout=10) for tid in tids]
        time.sleep(0.3)
        cs0, cpu0 = ctx_switches(s.sg.pid), cpu_ticks(s.sg.pid)
        time.sleep(0.9)
        cs, cpu = ctx_switches(s.sg.pid) - cs0, cpu_ticks(s.sg.pid) - cpu0
        for f in futs:
            f.result()
        elapsed = time.monotonic() - t0
        print("woken: %d context switches, %d CPU ticks in 0.9 s of waiting; served after "
              "%.2f s" % (cs, cpu, elapsed))
        for tid in tids:
            s.b1.wait_stream(tid, timeout=5)
        time.sleep(0.3)
        assert len(s.idp.fetches()) == n0 + 1, s.idp.fetches()[n0 - 1:]
        assert cs < 10, "sparkgate woke %d times while calls waited for keys" % cs
        s.idp.set_control({})
    finally:
        s.close()


def test_stream_window_opens_once_authenticated(procs):
    """sparkgate advertises the 64 KiB HTTP/2 default as the initial stream
    window; an authenticated stream is raised to limits.stream_window_size
    (1 MiB) at once, a stream whose token waits for a key is not."""
    s = CostStack(procs, min_refetch=1)
    c = None
    try:
        s.past_refetch_floor(1)
        s.idp.set_control({"delay_ms": 3000})
        c = Attacker(s.port)
        assert c.peer_initial == 65535, c.peer_initial
        good = c.open(TOKEN, 0)
        forged = c.open(forged_token(), 0)
        t0 = time.monotonic()
        while c.win[good] == 65535 and time.monotonic() - t0 < 1.0:
            c.read(0.05)
        c.read(0.2)
        assert c.win[good] == 1048576, c.win
        assert c.win[forged] == 65535, c.win
        assert forged not in c.done
        s.idp.set_control({})
    finally:
        if c is not None:
            c.close()
        s.close()


def test_waiting_capped_per_worker(procs):
    """limits.max_auth_waiting_per_worker counts every connection of a
    worker: with room for 4 (and 8 per connection), of 8 calls on two
    connections 4 wait and 4 are refused at once.  Which connection's calls
    wait depends on the order the worker reads the two sockets in, so only
    the totals are asserted."""
    s = CostStack(procs, min_refetch=1, workers=1, limits={"max_auth_waiting_per_worker": 4})
    conns = []
    try:
        s.past_refetch_floor(1)
        s.idp.set_control({"delay_ms": 3000})
        first, second = Attacker(s.port), Attacker(s.port)
        conns += [first, second]
        for _ in range(4):
            first.open(forged_token(), 0)
        first.read(0.3)
        for _ in range(4):
            second.open(forged_token(), 0)

        def done():
            return {**{("a", k): v for k, v in first.done.items()},
                    **{("b", k): v for k, v in second.done.items()}}

        t0 = time.monotonic()
        while len(done()) < 4 and time.monotonic() - t0 < KEY_WAIT_S / 2:
            second.read(0.05)
            first.read(0.0)
        second.read(0.1)
        first.read(0.0)
        early = done()
        assert len(early) == 4, early
        assert all(st == 16 and m.startswith("sparkgate: unknown signing key")
                   for _, st, m in early.values()), early
        # the other four waited for the fetch, and end at their deadline
        assert first.wait_all(KEY_WAIT_S + 2.0) and second.wait_all(KEY_WAIT_S + 2.0)
        s.idp.set_control({})
    finally:
        for a in conns:
            a.close()
        s.close()
