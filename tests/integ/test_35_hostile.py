"""Hostile clients: HTTP/2 floods and malformed gRPC/protobuf requests
(the H, G, P and I rows of the attack catalogue in docs/security.md).

Frames are written raw (hyperframe + hpack over ssl, ALPN h2) so the tests
can send what a well-behaved HTTP/2 stack never would.  After every attack
sparkgate must still be up and serving (a normal call on a new connection
succeeds), its memory must stay bounded, and nothing of a refused request
may reach the backend.  Every loop is bounded in count and time.
"""

import hashlib
import socket
import ssl
import struct
import time

import pytest

import sgharness as H

SESSION = "3f9e8a40-2b71-4c55-9d0e-6a1b2c3d4e5f"
TOKEN = "sg-hostile-test-token-5b2f0c9e"
AUTH = ("authorization", "Bearer " + TOKEN)
AUTH_CFG = {"static_tokens": [{"sha256": hashlib.sha256(TOKEN.encode()).hexdigest(),
                               "principal": "alice", "profile": "default"}]}
MAX_MSG = 4096            # limits.max_request_message_size of these stacks
MAX_STREAMS = 100         # limits.max_concurrent_streams (the default, stated)
RSS_SLACK = 48 << 20      # generous: ASan, allocator caches, TLS buffers

# HTTP/2 frame types and error codes
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, \
    WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
CANCEL, ENHANCE_YOUR_CALM = 0x8, 0xb
RESOURCE_EXHAUSTED, INTERNAL, UNAUTHENTICATED = 8, 13, 16
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, sid, payload=b"", length=None):
    """One frame; |length| lies about the payload length when given."""
    n = len(payload) if length is None else length
    return struct.pack(">I", n)[1:] + struct.pack(">BBI", ftype, flags, sid & 0x7fffffff) + payload


def settings_frame(entries=(), flags=0):
    return frame(SETTINGS, flags, 0, b"".join(struct.pack(">HI", k, v) for k, v in entries))


class RawH2:
    """A raw HTTP/2-over-TLS client: the caller builds the frames."""

    def __init__(self, port, rcvbuf=None, timeout=10.0, preface=True):
        import hpack
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        raw.settimeout(timeout)
        raw.connect(("127.0.0.1", port))
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ctx = ssl.create_default_context(cafile=H.certs().ca_pem)
        ctx.set_alpn_protocols(["h2"])
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        assert self.sock.selected_alpn_protocol() == "h2"
        self.port = port
        self.timeout = timeout
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()
        self.dec.max_header_list_size = 1 << 20
        self.inbuf = bytearray()
        self.block = None            # (sid, flags, bytearray) of a header block in progress
        self.streams = {}
        self.goaway = None           # (last_stream_id, error_code, debug)
        self.closed = False
        self.close_time = None
        self.send_error = None
        self.frames_in = 0
        self.next_sid = 1
        # True while send() is writing a buffer in chunks: a chunk may end
        # inside a frame, so a SETTINGS ACK written then would land in the
        # middle of it; ACKs wait for the end of the buffer instead
        self.sending = False
        self.acks_owed = 0
        if preface:
            # big windows: responses never wait for our WINDOW_UPDATEs
            self.send(PREFACE + settings_frame([(0x2, 0), (0x4, 1 << 24)]) +
                      frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", (1 << 24) - 65535)))

    # -- building ---------------------------------------------------------

    def new_sid(self):
        sid = self.next_sid
        self.next_sid += 2
        return sid

    def request_headers(self, path, extra=(), method="POST", ctype="application/grpc",
                        auth=True):
        h = [(":method", method), (":scheme", "https"), (":path", path),
             (":authority", "localhost:%d" % self.port)]
        if ctype is not None:
            h.append(("content-type", ctype))
        h.append(("te", "trailers"))
        if auth:
            h.append(AUTH)
        return h + list(extra)

    def headers_frame(self, sid, headers, end_stream=False, end_headers=True):
        block = self.enc.encode(headers)
        return frame(HEADERS, (END_STREAM if end_stream else 0) |
                     (END_HEADERS if end_headers else 0), sid, block)

    def stream(self, sid):
        st = self.streams.get(sid)
        if st is None:
            st = self.streams[sid] = {"headers": None, "trailers": None, "data": bytearray(),
                                      "ended": False, "rst": None}
        return st

    # -- I/O --------------------------------------------------------------

    def send(self, data, interleave=True, chunk=16384, timeout=None):
        """Writes |data| in chunks, reading what arrives in between (unless
        |interleave| is false).  Returns False when the connection failed;
        the error is kept in send_error."""
        view = memoryview(data)
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        self.sending = True
        try:
            for off in range(0, len(view), chunk):
                try:
                    self.sock.sendall(view[off:off + chunk])
                except (socket.timeout, OSError) as e:
                    self.send_error = e
                    return False
                if interleave:
                    self.poll()
                    self.sock.settimeout(self.timeout if timeout is None else timeout)
        finally:
            self.sending = False
        self._send_owed_acks()
        return True

    def _send_owed_acks(self):
        while self.acks_owed and not self.closed:
            self.acks_owed -= 1
            try:
                self.sock.sendall(frame(SETTINGS, ACK, 0))
            except OSError:
                return

    def _recv(self, timeout):
        if self.closed:
            return False
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 18)
        except (socket.timeout, ssl.SSLWantReadError, BlockingIOError):
            return True
        except OSError:
            self._mark_closed()
            return False
        if not data:
            self._mark_closed()
            return False
        self.inbuf += data
        self._parse()
        return True

    def _mark_closed(self):
        if not self.closed:
            self.closed = True
            self.close_time = time.monotonic()

    def poll(self, rounds=64):
        """Reads whatever is already there, without waiting."""
        for _ in range(rounds):
            if self.closed:
                return
            before = len(self.inbuf) + self.frames_in
            self._recv(0.0005)
            if len(self.inbuf) + self.frames_in == before and not self.sock.pending():
                return

    def wait(self, pred, timeout):
        """Reads until pred() or the deadline; returns pred()."""
        deadline = time.monotonic() + timeout
        while not pred():
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                break
            self._recv(min(left, 0.1))
        return pred()

    def wait_closed(self, timeout):
        return self.wait(lambda: self.closed, timeout)

    def wait_done(self, sid, timeout=10.0):
        st = self.stream(sid)
        self.wait(lambda: st["ended"] or st["rst"] is not None, timeout)
        return st

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _parse(self):
        while len(self.inbuf) >= 9:
            n = int.from_bytes(self.inbuf[0:3], "big")
            if len(self.inbuf) < 9 + n:
                return
            ftype, flags = self.inbuf[3], self.inbuf[4]
            sid = int.from_bytes(self.inbuf[5:9], "big") & 0x7fffffff
            body = bytes(self.inbuf[9:9 + n])
            del self.inbuf[:9 + n]
            self.frames_in += 1
            self._on_frame(ftype, flags, sid, body)

    def _on_frame(self, ftype, flags, sid, body):
        if ftype == SETTINGS and not flags & ACK:
            self.acks_owed += 1
            if not self.sending:
                self._send_owed_acks()
        elif ftype == GOAWAY and len(body) >= 8:
            last, code = struct.unpack(">II", body[:8])
            self.goaway = (last & 0x7fffffff, code, body[8:])
        elif ftype == RST_STREAM and len(body) == 4:
            self.stream(sid)["rst"] = struct.unpack(">I", body)[0]
        elif ftype == DATA:
            st = self.stream(sid)
            if flags & 0x8:  # PADDED
                body = body[1:len(body) - body[0]]
            st["data"] += body
            if flags & END_STREAM:
                st["ended"] = True
        elif ftype == HEADERS:
            if flags & 0x8:
                body = body[1:len(body) - body[0]]
            if flags & 0x20:  # PRIORITY
                body = body[5:]
            self.block = (sid, flags, bytearray(body))
            if flags & END_HEADERS:
                self._end_block()
        elif ftype == CONTINUATION and self.block is not None:
            self.block[2].extend(body)
            if flags & END_HEADERS:
                self._end_block()

    def _end_block(self):
        sid, flags, block = self.block
        self.block = None
        def s(x):
            return x.decode() if isinstance(x, bytes) else x
        hdrs = [(s(k), s(v)) for k, v in self.dec.decode(bytes(block))]
        st = self.stream(sid)
        if st["headers"] is None:
            st["headers"] = hdrs
        else:
            st["trailers"] = hdrs
        if flags & END_STREAM:
            st["ended"] = True


def hval(st, name):
    for src in (st["trailers"] or [], st["headers"] or []):
        for k, v in src:
            if k == name:
                return v
    return None


def grpc_status(st):
    v = hval(st, "grpc-status")
    return int(v) if v is not None else None


def http_status(st):
    for k, v in st["headers"] or []:
        if k == ":status":
            return int(v)
    return None


def describe(c, sid):
    st = c.stream(sid)
    return ("stream %d: headers=%r trailers=%r rst=%r data=%d bytes ended=%s; "
            "goaway=%r closed=%s") % (
        sid, st["headers"], st["trailers"], st["rst"], len(st["data"]), st["ended"], c.goaway,
        c.closed)


def body_of(method, **kw):
    return H.make_request(method, session_id=SESSION, **kw).SerializeToString()


def tagged(tid, *extra):
    return [("x-sg-test-id", tid)] + list(extra)


# --------------------------------------------------------------------------
# stacks and checks

def make_stack(group, **extra):
    from conftest import Stack
    limits = {"max_request_message_size": MAX_MSG, "max_concurrent_streams": MAX_STREAMS}
    limits.update(extra.pop("limits", {}))
    return Stack(group, auth=AUTH_CFG, limits=limits, **extra)


@pytest.fixture(scope="module")
def gstack(mprocs):
    """Module-wide stack for the per-request (gRPC/protobuf) attacks."""
    s = make_stack(mprocs)
    yield s
    s.sg.check_health()


@pytest.fixture
def hstack(procs):
    """A fresh stack for each connection-level flood."""
    s = make_stack(procs)
    yield s
    s.sg.check_health()


def still_serving(stack, timeout=10.0):
    """sparkgate is alive, healthy and answers a normal call on a new
    connection; returns once the backend recorded that call (a barrier for
    'nothing else was forwarded' checks)."""
    stack.sg.check_health()
    assert stack.sg.alive(), "sparkgate exited:\n" + H.read_tail(stack.sg.stderr_path)
    tid = H.new_test_id()
    c = H.H2Client(stack.port, timeout=timeout)
    try:
        st = c.grpc_call("Config", body_of("Config"), metadata=[AUTH] + H.md(tid))
        c.wait_done(st, timeout)
        assert st.grpc_status() == H.OK, (st.headers, st.trailers, st.reset_code)
    finally:
        c.close()
    stack.b1.wait_stream(tid, timeout=5.0)
    stack.sg.check_health()


def assert_not_forwarded(stack, tid):
    still_serving(stack)
    time.sleep(0.1)
    s = stack.b1.find_stream(tid)
    assert s is None, "forwarded to the backend: %r" % (s,)


def assert_rss_bounded(stack, before):
    after = stack.sg.rss()
    assert after - before < RSS_SLACK, "RSS grew from %d to %d KiB" % (before >> 10, after >> 10)


# --------------------------------------------------------------------------
# HTTP/2 floods (docs/security.md, H rows)

def test_h01_rapid_reset(hstack):
    """2 000 x (HEADERS + DATA + RST_STREAM) in one write: GOAWAY and close
    before all are processed; the backend saw at most MAX_CONCURRENT_STREAMS
    concurrent streams and every one it saw was cancelled."""
    n = 2000
    rss0 = hstack.sg.rss()
    nrec0 = len(hstack.b1.records())
    tid = H.new_test_id()
    c = RawH2(hstack.port)
    try:
        # one real call first: this worker's backend connection is up, so
        # the resets race streams that really reach the backend
        sid = c.new_sid()
        c.send(c.headers_frame(sid, c.request_headers(H.SERVICE + "Config")) +
               frame(DATA, END_STREAM, sid, H.grpc_frame(body_of("Config"))))
        assert grpc_status(c.wait_done(sid, 10.0)) == H.OK, describe(c, sid)
        msg = H.grpc_frame(body_of("ExecutePlan"))
        extra = tagged(tid, ("sc-test-delay-ms", "2000"))
        burst = bytearray()
        for _ in range(n):
            sid = c.new_sid()
            burst += c.headers_frame(sid, c.request_headers(H.SERVICE + "ExecutePlan", extra))
            burst += frame(DATA, END_STREAM, sid, msg)
            burst += frame(RST_STREAM, 0, sid, struct.pack(">I", CANCEL))
        t0 = time.monotonic()
        c.send(bytes(burst), interleave=False, chunk=len(burst))
        c.wait_closed(10.0)
        assert c.goaway is not None, "no GOAWAY after %d rapid resets (closed=%s, %s)" % (
            n, c.closed, c.send_error)
        assert c.goaway[0] < 2 * n - 1, "GOAWAY names the last stream: all %d processed" % n
        assert c.closed, "connection still open %.1fs after GOAWAY" % (time.monotonic() - t0)
    finally:
        c.close()

    # every backend stream of this test ends, cancelled
    def all_closed():
        ss = [s for s in hstack.b1.streams() if H.header_value(
            s["open"].get("headers") or {}, "x-sg-test-id") == tid]
        return [ss] if all(s["close"] is not None for s in ss) else None
    seen = H.wait_until(all_closed, 10.0, what="backend streams of the rapid reset to close")[0]
    assert len(seen) < n, "the backend saw all %d streams" % n
    for s in seen:
        assert s["close"].get("cancelled") is True or s["close"].get("error_code") == CANCEL, \
            "backend stream not cancelled: %r" % (s["close"],)
        assert not s["messages"] or s["close"].get("grpc_status") is None, s["close"]
    live = peak = 0
    for r in hstack.b1.records()[nrec0:]:
        if r.get("ev") == "stream_open":
            live += 1
            peak = max(peak, live)
        elif r.get("ev") == "stream_close":
            live -= 1
    assert peak <= MAX_STREAMS, "backend saw %d concurrent streams" % peak
    still_serving(hstack)
    assert_rss_bounded(hstack, rss0)


def test_h03_continuation_flood(hstack):
    """HEADERS without END_HEADERS + 100 empty CONTINUATION: closed quickly."""
    tid = H.new_test_id()
    c = RawH2(hstack.port)
    try:
        sid = c.new_sid()
        data = c.headers_frame(sid, c.request_headers(H.SERVICE + "Config", tagged(tid)),
                               end_headers=False)
        data += b"".join(frame(CONTINUATION, 0, sid) for _ in range(100))
        t0 = time.monotonic()
        c.send(data, interleave=False, chunk=len(data))
        assert c.wait_closed(5.0), "still open after a CONTINUATION flood: " + describe(c, sid)
        assert c.close_time - t0 < 3.0
    finally:
        c.close()
    assert_not_forwarded(hstack, tid)


def test_h05_hpack_bomb_and_header_count(hstack):
    """One ~4 KB header in the HPACK table referenced ~60 000 times (240 MB
    decoded), and 200 distinct headers: RESOURCE_EXHAUSTED or a reset, RSS
    flat, nothing forwarded."""
    import hpack
    rss0 = hstack.sg.rss()
    tid1, tid2 = H.new_test_id(), H.new_test_id()
    c = RawH2(hstack.port)
    try:
        # the bomb: pseudo-headers and the usual ones via the encoder, then
        # a literal with incremental indexing and one-byte references to it
        sid1 = c.new_sid()
        block = bytearray(c.enc.encode(c.request_headers(H.SERVICE + "Config", tagged(tid1))))
        name, value = b"x-bomb", b"v" * 4000  # 4 038 bytes in a 4 096-byte table
        block += b"\x40" + bytes(hpack.hpack.encode_integer(len(name), 7)) + name
        block += bytes(hpack.hpack.encode_integer(len(value), 7)) + value
        ref = b"\xbe"  # indexed field 62: the newest dynamic entry, one byte
        fsize = 16384
        nframes = 4  # HEADERS + 3 CONTINUATION, well under nghttp2's 8
        nref = (nframes * fsize - len(block)) // len(ref)
        block += ref * nref
        pieces = [bytes(block[i:i + fsize]) for i in range(0, len(block), fsize)]
        assert len(pieces) == nframes
        data = frame(HEADERS, 0, sid1, pieces[0])
        for i, p in enumerate(pieces[1:]):
            data += frame(CONTINUATION, END_HEADERS if i == len(pieces) - 2 else 0, sid1, p)
        data += frame(DATA, END_STREAM, sid1, H.grpc_frame(body_of("Config")))
        # (the encoder no longer matches the peer's table: no more HEADERS here)
        c.send(data)
        st1 = c.wait_done(sid1, 10.0)
        assert st1["rst"] is not None or grpc_status(st1) == RESOURCE_EXHAUSTED, \
            "HPACK bomb: " + describe(c, sid1)
        if st1["rst"] is None:
            assert st1["trailers"] is None, "expected trailers-only: " + describe(c, sid1)
    finally:
        c.close()

    c = RawH2(hstack.port)
    try:
        sid2 = c.new_sid()
        many = [("x-h-%03d" % i, "v%d" % i) for i in range(200)]
        data = c.headers_frame(sid2, c.request_headers(H.SERVICE + "Config", tagged(tid2) + many))
        data += frame(DATA, END_STREAM, sid2, H.grpc_frame(body_of("Config")))
        c.send(data)
        st2 = c.wait_done(sid2, 10.0)
        assert st2["rst"] is not None or grpc_status(st2) == RESOURCE_EXHAUSTED, \
            "200 headers: " + describe(c, sid2)
        if st2["rst"] is None:
            assert st2["trailers"] is None, "expected trailers-only: " + describe(c, sid2)
    finally:
        c.close()
    assert_not_forwarded(hstack, tid1)
    assert hstack.b1.find_stream(tid2) is None, "200-header request forwarded"
    assert_rss_bounded(hstack, rss0)


def test_h06_settings_flood_not_reading(hstack):
    """100 000 empty SETTINGS with a client that does not read (tiny receive
    buffer): sparkgate closes the connection, memory bounded.  Also a
    SETTINGS frame with 40 entries."""
    rss0 = hstack.sg.rss()
    c = RawH2(hstack.port, rcvbuf=4096)
    try:
        flood = frame(SETTINGS, 0, 0) * 100000
        t0 = time.monotonic()
        ok = c.send(flood, interleave=False, timeout=10.0)
        if not ok:
            assert not isinstance(c.send_error, socket.timeout), \
                "sparkgate stopped reading but kept the connection (%.1fs)" % (
                    time.monotonic() - t0)
        assert c.wait_closed(10.0), "still open after a SETTINGS flood (goaway=%r)" % (c.goaway,)
    finally:
        c.close()
    c = RawH2(hstack.port)
    try:
        c.send(settings_frame([(0x3, 100 + i) for i in range(40)]))
        assert c.wait_closed(5.0), "still open after a 40-entry SETTINGS"
        assert c.goaway is not None and c.goaway[1] == ENHANCE_YOUR_CALM, c.goaway
    finally:
        c.close()
    still_serving(hstack)
    assert_rss_bounded(hstack, rss0)


def test_h07_ping_flood_while_reading(hstack):
    """20 000 PINGs while reading the ACKs: GOAWAY(ENHANCE_YOUR_CALM)."""
    rss0 = hstack.sg.rss()
    c = RawH2(hstack.port)
    try:
        flood = b"".join(frame(PING, 0, 0, struct.pack(">Q", i)) for i in range(20000))
        c.send(flood)
        c.wait_closed(10.0)
        assert c.goaway is not None and c.goaway[1] == ENHANCE_YOUR_CALM, \
            "PING flood: goaway=%r closed=%s send_error=%r" % (c.goaway, c.closed, c.send_error)
        assert c.closed
    finally:
        c.close()
    still_serving(hstack)
    assert_rss_bounded(hstack, rss0)


def test_h08_empty_data_frames(hstack):
    """2 000 empty DATA frames on an open stream: GOAWAY(ENHANCE_YOUR_CALM)."""
    tid = H.new_test_id()
    c = RawH2(hstack.port)
    try:
        sid = c.new_sid()
        data = c.headers_frame(sid, c.request_headers(H.SERVICE + "ExecutePlan", tagged(tid)))
        data += frame(DATA, 0, sid) * 2000
        c.send(data)
        c.wait_closed(10.0)
        assert c.goaway is not None and c.goaway[1] == ENHANCE_YOUR_CALM, \
            "empty DATA flood: " + describe(c, sid)
        assert c.closed
    finally:
        c.close()
    assert_not_forwarded(hstack, tid)


def test_h13_priority_flood(hstack):
    """5 000 PRIORITY frames (idle streams) after one real request: GOAWAY
    and close, well before any connection timer would."""
    c = RawH2(hstack.port)
    try:
        sid = c.new_sid()
        c.send(c.headers_frame(sid, c.request_headers(H.SERVICE + "Config")) +
               frame(DATA, END_STREAM, sid, H.grpc_frame(body_of("Config"))))
        assert grpc_status(c.wait_done(sid, 10.0)) == H.OK, describe(c, sid)
        data = b"".join(frame(PRIORITY, 0, 2 * i + 101, struct.pack(">IB", 0, 15))
                        for i in range(5000))
        t0 = time.monotonic()
        c.send(data)
        c.wait_closed(5.0)
        assert c.goaway is not None and c.closed, \
            "PRIORITY flood: goaway=%r closed=%s after %.1fs" % (
                c.goaway, c.closed, time.monotonic() - t0)
    finally:
        c.close()
    still_serving(hstack)


@pytest.mark.parametrize("junk", [
    b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + settings_frame(),
    b"\x00" * 64,
], ids=["http11", "bad_magic", "zeros"])
def test_h18_invalid_preface(hstack, junk):
    c = RawH2(hstack.port, preface=False)
    try:
        c.send(junk, interleave=False)
        assert c.wait_closed(5.0), "connection open after an invalid preface %r" % junk[:20]
    finally:
        c.close()
    still_serving(hstack)


@pytest.mark.parametrize("trigger", ["settings_bad_length", "ping_flood"])
def test_h04_garbage_after_termination(hstack, trigger):
    """A connection error (a library one, or sparkgate's own GOAWAY) followed
    in the same write by malformed frames: the process stays up
    (CVE-2026-27135)."""
    c = RawH2(hstack.port)
    try:
        if trigger == "settings_bad_length":
            data = frame(SETTINGS, 0, 0, b"\0" * 5)           # FRAME_SIZE_ERROR
        else:
            data = b"".join(frame(PING, 0, 0, b"\0" * 8) for _ in range(1200))
        data += frame(PING, 0, 0, b"\0" * 7)                   # PING with length 7
        data += frame(WINDOW_UPDATE, 0, 0, b"\0" * 3)          # WINDOW_UPDATE length 3
        data += frame(SETTINGS, 0, 1, b"\0" * 6)               # SETTINGS on a stream
        data += frame(HEADERS, END_HEADERS, 0, b"\x82")        # HEADERS on stream 0
        data += frame(DATA, 0, 1, b"", length=0xffffff)        # over max frame size
        c.send(data, interleave=False, chunk=len(data))
        assert c.wait_closed(5.0), "connection still open (goaway=%r)" % (c.goaway,)
    finally:
        c.close()
    time.sleep(0.2)
    still_serving(hstack)


# --------------------------------------------------------------------------
# gRPC framing, protobuf and request-shape attacks (docs/security.md, G, P and I rows)

def one_request(stack, path=H.SERVICE + "Config", body=None, extra=(), end_stream=True,
                method="POST", ctype="application/grpc", auth=True, trailers=None,
                frames=None, timeout=10.0):
    """Sends one request on a new raw connection; returns (conn, stream)."""
    c = RawH2(stack.port)
    sid = c.new_sid()
    data = c.headers_frame(sid, c.request_headers(path, extra, method=method, ctype=ctype,
                                                  auth=auth),
                           end_stream=(body is None and frames is None and trailers is None
                                       and end_stream))
    if frames is not None:
        data += b"".join(frames(sid))
    elif body is not None:
        data += frame(DATA, END_STREAM if end_stream and trailers is None else 0, sid, body)
    if trailers is not None:
        data += c.headers_frame(sid, trailers, end_stream=True)
    c.send(data)
    st = c.wait_done(sid, timeout)
    c.sid = sid
    return c, st


def test_g01_length_prefix_4gib(gstack):
    tid = H.new_test_id()
    t0 = time.monotonic()
    c, st = one_request(gstack, H.SERVICE + "ExecutePlan", body=b"\0\xff\xff\xff\xff" + b"abc",
                        extra=tagged(tid), end_stream=False, timeout=5.0)
    try:
        assert grpc_status(st) == RESOURCE_EXHAUSTED, describe(c, c.sid)
        assert time.monotonic() - t0 < 3.0
    finally:
        c.close()
    assert_not_forwarded(gstack, tid)


def test_g02_limit_plus_one(gstack):
    tid = H.new_test_id()
    body = b"\0" + struct.pack(">I", MAX_MSG + 1) + b"\x0a" + b"x" * MAX_MSG
    c, st = one_request(gstack, body=body, extra=tagged(tid))
    try:
        assert grpc_status(st) == RESOURCE_EXHAUSTED, describe(c, c.sid)
        assert "max_request_message_size" in (hval(st, "grpc-message") or "")
    finally:
        c.close()
    # exactly the limit still works (the backend answers, whatever it thinks)
    tid_ok = H.new_test_id()
    msg = H.make_request("Config", session_id=SESSION)
    base = len(msg.SerializeToString())
    for k in range(MAX_MSG - base - 8, MAX_MSG - base):
        msg.client_type = "p" * k
        raw = msg.SerializeToString()
        if len(raw) == MAX_MSG:
            break
    assert len(raw) == MAX_MSG
    c, st = one_request(gstack, body=H.grpc_frame(raw), extra=tagged(tid_ok))
    try:
        assert grpc_status(st) == H.OK, describe(c, c.sid)
    finally:
        c.close()
    assert_not_forwarded(gstack, tid)


def test_g06_flag_byte_2(gstack):
    tid = H.new_test_id()
    raw = body_of("Config")
    c, st = one_request(gstack, body=b"\x02" + struct.pack(">I", len(raw)) + raw,
                        extra=tagged(tid))
    try:
        assert grpc_status(st) == INTERNAL, describe(c, c.sid)
    finally:
        c.close()
    assert_not_forwarded(gstack, tid)


@pytest.mark.parametrize("body", [
    b"\0\0\0\0\x64" + b"a" * 40,
    b"\0", b"\0\0", b"\0\0\0", b"\0\0\0\0",
], ids=["short_body", "prefix1", "prefix2", "prefix3", "prefix4"])
def test_g07_truncated_at_end_stream(gstack, body):
    tid = H.new_test_id()
    c, st = one_request(gstack, H.SERVICE + "ExecutePlan", body=body, extra=tagged(tid))
    try:
        assert grpc_status(st) == INTERNAL, describe(c, c.sid)
    finally:
        c.close()
    assert_not_forwarded(gstack, tid)


def attack_beside_neighbour(stack, path, body, tid, extra=()):
    """Sends the attack on a connection that already has a call in flight
    (same worker, hence the same backend connection): whatever sparkgate
    does to the attacking call must not hurt the neighbour.  Returns
    (conn, attack stream, neighbour stream)."""
    c = RawH2(stack.port)
    nsid = c.new_sid()
    c.send(c.headers_frame(nsid, c.request_headers(
        H.SERVICE + "ExecutePlan", tagged(H.new_test_id(), ("sc-test-count", "3"),
                                          ("sc-test-delay-ms", "300")))) +
        frame(DATA, END_STREAM, nsid, H.grpc_frame(body_of("ExecutePlan"))))
    nst = c.stream(nsid)
    assert c.wait(lambda: nst["headers"] is not None, 10.0), describe(c, nsid)
    sid = c.new_sid()
    c.send(c.headers_frame(sid, c.request_headers(path, tagged(tid, *extra))) +
           frame(DATA, END_STREAM, sid, body))
    st = c.wait_done(sid, 10.0)
    c.sid = sid
    c.wait_done(nsid, 10.0)
    return c, st, nst


def test_g07_truncated_after_a_complete_message(gstack):
    """AddArtifacts (client streaming): a full message then a partial one at
    END_STREAM: INTERNAL, the backend never completes the call, and a call
    in flight beside it is unharmed."""
    tid = H.new_test_id()
    m = H.make_request("AddArtifacts", session_id=SESSION).SerializeToString()
    c, st, nst = attack_beside_neighbour(gstack, H.SERVICE + "AddArtifacts",
                                         H.grpc_frame(m) + b"\0\0\0\0\x30" + m[:10], tid)
    try:
        assert grpc_status(st) == INTERNAL, describe(c, c.sid)
        assert grpc_status(nst) == H.OK, "the neighbour call suffered: " + describe(c, 1)
    finally:
        c.close()
    still_serving(gstack)
    s = gstack.b1.find_stream(tid)
    if s is not None:
        s = gstack.b1.wait_stream(tid, timeout=5.0)
        assert len(s["messages"]) <= 1 and s["close"].get("grpc_status") != H.OK, s


def test_g08_two_messages_on_execute_plan(gstack):
    """Two ExecutePlanRequests on one stream (the second as another user
    with another plan): INVALID_ARGUMENT, the backend never runs the
    second, and a call in flight beside it is unharmed."""
    tid = H.new_test_id()
    m1 = H.make_request("ExecutePlan", session_id=SESSION, query="SELECT 1")
    m2 = H.make_request("ExecutePlan", session_id=SESSION, query="DROP TABLE victim",
                        user_id="bob", user_name="bob")
    body = H.grpc_frame(m1.SerializeToString()) + H.grpc_frame(m2.SerializeToString())
    c, st, nst = attack_beside_neighbour(gstack, H.SERVICE + "ExecutePlan", body, tid,
                                         extra=[("sc-test-delay-ms", "300")])
    try:
        assert grpc_status(st) == H.INVALID_ARGUMENT, describe(c, c.sid)
        assert grpc_status(nst) == H.OK, "the neighbour call suffered: " + describe(c, 1)
    finally:
        c.close()
    still_serving(gstack)
    s = gstack.b1.find_stream(tid)
    if s is not None:
        s = gstack.b1.wait_stream(tid, timeout=5.0)
        assert len(s["messages"]) <= 1, "backend got the second message: %r" % s["messages"]
        assert all(r.get("user_id") == "alice" for r in s["messages"]), s["messages"]
        assert s["close"].get("cancelled") or s["close"].get("grpc_status") != H.OK, s["close"]


def test_g10_one_byte_data_frames(gstack):
    tid = H.new_test_id()
    raw = body_of("Config")
    framed = H.grpc_frame(raw)

    def frames(sid):
        for i, b in enumerate(framed):
            yield frame(DATA, END_STREAM if i == len(framed) - 1 else 0, sid, bytes([b]))
    c, st = one_request(gstack, frames=frames, extra=tagged(tid))
    try:
        assert grpc_status(st) == H.OK, describe(c, c.sid)
    finally:
        c.close()
    s = gstack.b1.wait_stream(tid, timeout=5.0)
    assert len(s["messages"]) == 1, s
    assert s["messages"][0].get("session_id") == SESSION


def test_g11_empty_message_execute_plan(hstack):
    """A zero-length ExecutePlanRequest has no session_id and no plan:
    INVALID_ARGUMENT, never forwarded.  A stack of its own: a crash here
    must not take the other request tests with it."""
    tid = H.new_test_id()
    c, st = one_request(hstack, H.SERVICE + "ExecutePlan", body=H.grpc_frame(b""),
                        extra=tagged(tid))
    try:
        assert st["rst"] is None and st["ended"], describe(c, c.sid)
        code = grpc_status(st)
        assert code is not None, describe(c, c.sid)
        assert http_status(st) == 200
    finally:
        c.close()
    assert code == H.INVALID_ARGUMENT, describe(c, c.sid)
    assert_not_forwarded(hstack, tid)


SID_FIELD = b"\x0a" + bytes([len(SESSION)]) + SESSION.encode()
BAD_PROTOBUF = {
    # P02 varint overflow
    "p02_varint_11_bytes": SID_FIELD + b"\x18" + b"\xff" * 10 + b"\x01",
    "p02_varint_10th_byte_2": SID_FIELD + b"\x18" + b"\xff" * 9 + b"\x02",
    "p02_varint_truncated": SID_FIELD + b"\x18\xff\xff",
    "p02_tag_varint_overflow": SID_FIELD + b"\xff" * 11,
    # P03 length beyond the buffer
    "p03_len_7fffffff": SID_FIELD + b"\x12\xff\xff\xff\xff\x07" + b"a" * 10,
    "p03_len_near_2_64": SID_FIELD + b"\x12" + b"\xff" * 9 + b"\x01" + b"a" * 10,
    "p03_len_in_user_context": SID_FIELD + b"\x12\x05\x0a\x7f" + b"abc",
    # P04 invalid wire types, field numbers
    "p04_wire_type_6": SID_FIELD + b"\x1e" + b"\0" * 8,
    "p04_wire_type_7": SID_FIELD + b"\x1f" + b"\0" * 8,
    "p04_field_0": SID_FIELD + b"\x02\x01a",
    "p04_field_2_29": SID_FIELD + b"\x82\x80\x80\x80\x10\x01a",
    # P05 groups
    "p05_start_group": SID_FIELD + b"\x1b\x1c",
    "p05_end_group": SID_FIELD + b"\x1c",
    "p05_nested_groups": SID_FIELD + b"\x1b" * 10000 + b"\x1c" * 10000,
    "p05_group_in_user_context": SID_FIELD + b"\x12\x02\x0b\x0c",
}


@pytest.mark.parametrize("name", sorted(BAD_PROTOBUF))
def test_p_malformed_protobuf(gstack, name):
    body = BAD_PROTOBUF[name]
    method = "ExecutePlan" if "nested" in name else "Config"
    if len(body) > MAX_MSG:
        body = body[:len(SID_FIELD) + 2000] + b"\x1c" * 2000  # still groups, under the limit
    tid = H.new_test_id()
    c, st = one_request(gstack, H.SERVICE + method, body=H.grpc_frame(body), extra=tagged(tid))
    try:
        assert grpc_status(st) == H.INVALID_ARGUMENT, describe(c, c.sid)
        assert "not valid protobuf" in (hval(st, "grpc-message") or ""), describe(c, c.sid)
    finally:
        c.close()
    assert_not_forwarded(gstack, tid)


CONFUSED_PATHS = [
    "//spark.connect.SparkConnectService/Config",
    H.SERVICE + "Config/",
    "/spark.connect.SparkConnectService%2FConfig",
    H.SERVICE + "Config?x=1",
    H.SERVICE + "Config#frag",
    "/Spark.Connect.SparkConnectService/Config",
    H.SERVICE + "config",
    H.SERVICE + "CONFIG",
    "/./spark.connect.SparkConnectService/Config",
    "/spark.connect.SparkConnectService/../spark.connect.SparkConnectService/Config",
    H.SERVICE + "Config%00",
    H.SERVICE + "Config ",
    "/spark.connect.SparkConnectService",
    H.SERVICE,
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.health.v1.Health/Check",
]


@pytest.mark.parametrize("path", CONFUSED_PATHS)
def test_i05_path_confusion(gstack, path):
    tid = H.new_test_id()
    c, st = one_request(gstack, path, body=H.grpc_frame(body_of("Config")), extra=tagged(tid))
    try:
        if " " in path and st["rst"] is not None:
            return  # not a valid :path at all: nghttp2 resets the stream (RFC 9113 8.3.1)
        assert grpc_status(st) == H.UNIMPLEMENTED, describe(c, c.sid)
        assert st["trailers"] is None and not st["data"], "not trailers-only: " + describe(c, c.sid)
    finally:
        c.close()
        assert_not_forwarded(gstack, tid)


def test_i05_path_without_slash_odd_scheme(gstack):
    """':path' without a leading '/' with ':scheme: foo' (nghttp2 checks the
    slash only for http/https): refused, never forwarded."""
    tid = H.new_test_id()
    c = RawH2(gstack.port)
    try:
        sid = c.new_sid()
        h = [(":method", "POST"), (":scheme", "foo"),
             (":path", "spark.connect.SparkConnectService/Config"),
             (":authority", "localhost"), ("content-type", "application/grpc"),
             ("te", "trailers"), AUTH] + tagged(tid)
        data = c.headers_frame(sid, h) + frame(DATA, END_STREAM, sid,
                                               H.grpc_frame(body_of("Config")))
        c.send(data)
        st = c.wait_done(sid, 10.0)
        assert st["rst"] is not None or grpc_status(st) not in (None, H.OK) or \
            (http_status(st) or 0) >= 400, describe(c, sid)
    finally:
        c.close()
    assert_not_forwarded(gstack, tid)


@pytest.mark.parametrize("method,ctype,want", [
    ("GET", "application/grpc", 405),
    ("PUT", "application/grpc", 405),
    ("POST", "text/plain", 415),
    ("POST", "application/grpcx", 415),
    ("POST", "application/json", 415),
], ids=["get", "put", "text_plain", "grpcx", "json"])
def test_i05_method_and_content_type(gstack, method, ctype, want):
    tid = H.new_test_id()
    c, st = one_request(gstack, body=H.grpc_frame(body_of("Config")), extra=tagged(tid),
                        method=method, ctype=ctype)
    try:
        assert http_status(st) == want, describe(c, c.sid)
    finally:
        c.close()
    assert_not_forwarded(gstack, tid)


def test_i06_trailers_with_credentials_ignored(gstack):
    """Request trailers never authenticate and are never forwarded."""
    # 1. no credentials in the headers, a valid token in the trailers: refused
    tid = H.new_test_id()
    c, st = one_request(gstack, body=H.grpc_frame(body_of("Config")), extra=tagged(tid),
                        auth=False, trailers=[AUTH, ("grpc-status", "0")])
    try:
        assert grpc_status(st) == UNAUTHENTICATED, describe(c, c.sid)
    finally:
        c.close()
    assert_not_forwarded(gstack, tid)
    # 2. valid headers, trailers claiming another identity and a status
    tid = H.new_test_id()
    c, st = one_request(gstack, body=H.grpc_frame(body_of("Config")), extra=tagged(tid),
                        trailers=[("authorization", "Bearer forged"), ("grpc-status", "7"),
                                  ("x-forwarded-user", "admin")])
    try:
        assert grpc_status(st) == H.OK, describe(c, c.sid)
    finally:
        c.close()
    s = gstack.b1.wait_stream(tid, timeout=5.0)
    hdrs = s["open"].get("headers") or {}
    for k in ("authorization", "grpc-status", "x-forwarded-user"):
        assert H.header_value(hdrs, k) is None, (k, hdrs)
    assert s["messages"] and s["messages"][0].get("user_id") == "alice", s["messages"]


@pytest.mark.parametrize("value", ["99999999H", "-1S", "abc", "100000000S",
                                   "18446744073709551616n", "", "1", "1n", "0m", "1m"])
def test_i07_grpc_timeout(gstack, value):
    """Garbage, huge and tiny grpc-timeout values: never a crash, always a
    clean gRPC status.  Tiny deadlines race the backend's answer, so those
    are tried 25 times on one connection."""
    tiny = value in ("1n", "0m", "1m")
    c = RawH2(gstack.port)
    try:
        for _ in range(25 if tiny else 1):
            sid = c.new_sid()
            c.send(c.headers_frame(sid, c.request_headers(
                H.SERVICE + "Config", tagged(H.new_test_id(), ("grpc-timeout", value)))) +
                frame(DATA, END_STREAM, sid, H.grpc_frame(body_of("Config"))))
            st = c.wait_done(sid, 10.0)
            code = grpc_status(st)
            assert st["rst"] is None and st["ended"] and code is not None, \
                "grpc-timeout %r: no gRPC status: %s" % (value, describe(c, sid))
            if tiny:
                assert code in (H.OK, H.DEADLINE_EXCEEDED), describe(c, sid)
            elif value == "99999999H":
                assert code == H.OK, describe(c, sid)
            else:
                assert code in (H.OK, H.INVALID_ARGUMENT), describe(c, sid)
    finally:
        c.close()
    still_serving(gstack)
