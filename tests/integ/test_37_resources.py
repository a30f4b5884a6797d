"""Resource exhaustion by cheap clients: connection slots held by stalled
header blocks or refused requests, request bytes buffered past any budget,
WINDOW_UPDATE floods, and calls stalled by a client that stops reading or
sending.

Every loop is bounded in count and time; each attack is followed by a
normal call on a new connection.
"""

import random
import struct
import time

import pytest

import sgharness as H
from test_35_hostile import (AUTH, AUTH_CFG, CONTINUATION, DATA, ENHANCE_YOUR_CALM,
                             END_HEADERS, END_STREAM, HEADERS, RawH2, WINDOW_UPDATE,
                             body_of, describe, frame, grpc_status, hval, settings_frame,
                             still_serving, tagged, PREFACE)

MIB = 1 << 20
HEADER_MS = 1500          # timeouts.request_header_ms of the slot tests
STALL_MS = 1000           # timeouts.stall_ms of the stall tests
CANCEL = 0x8
RESOURCE_EXHAUSTED = 8


def make_stack(group, limits=None, timeouts=None):
    from conftest import Stack
    return Stack(group, auth=AUTH_CFG, limits=limits or {}, timeouts=timeouts or {})


# --------------------------------------------------------------------------
# connection slots

def _hold_slot(c, how):
    """Makes connection |c| hold its slot the way |how| says."""
    # the server's SETTINGS first: RawH2 ACKs it when it arrives, and an ACK
    # inside an open header block would be a protocol error of ours
    assert c.wait(lambda: c.frames_in > 0, 5.0), "no SETTINGS from sparkgate"
    c.poll()
    sid = c.new_sid()
    if how == "incomplete_header_block":
        # HEADERS without END_HEADERS, and never a CONTINUATION
        c.send(c.headers_frame(sid, c.request_headers(H.SERVICE + "Config"),
                               end_headers=False))
    elif how == "refused_request_left_open":
        # complete headers, no credential: refused, but the client never ends its side
        c.send(c.headers_frame(sid, c.request_headers(H.SERVICE + "Config", auth=False)))
    elif how == "block_after_a_request":
        # one authenticated call, then a header block that never completes
        c.send(c.headers_frame(sid, c.request_headers(H.SERVICE + "Config")) +
               frame(DATA, END_STREAM, sid, H.grpc_frame(body_of("Config"))))
        assert grpc_status(c.wait_done(sid, 10.0)) == H.OK, describe(c, sid)
        sid = c.new_sid()
        block = c.enc.encode(c.request_headers(H.SERVICE + "Config"))
        c.send(frame(HEADERS, 0, sid, block[:10]) + frame(CONTINUATION, 0, sid, block[10:20]))
    elif how == "cut_last_frame_after_a_request":
        # one authenticated call, then a single HEADERS frame with
        # END_HEADERS whose payload stops halfway (a dribbling client
        # looks the same to the timer)
        c.send(c.headers_frame(sid, c.request_headers(H.SERVICE + "Config")) +
               frame(DATA, END_STREAM, sid, H.grpc_frame(body_of("Config"))))
        assert grpc_status(c.wait_done(sid, 10.0)) == H.OK, describe(c, sid)
        sid = c.new_sid()
        # a fresh header value: the block is not just indexes
        block = c.enc.encode(c.request_headers(H.SERVICE + "Config",
                                               extra=[("x-pad", "%0200x" % sid)]))
        assert len(block) > 100
        c.send(frame(HEADERS, END_HEADERS, sid, block[:50], length=len(block)))
    return sid


@pytest.mark.parametrize("how", ["incomplete_header_block", "refused_request_left_open",
                                 "block_after_a_request", "cut_last_frame_after_a_request"])
def test_slots_held_without_progress_are_released(procs, how):
    """max_connections connections that hold their slot without progress
    are closed within timeouts.request_header_ms, and a legitimate client
    gets through."""
    n = 6
    stack = make_stack(procs, limits={"max_connections": n},
                       timeouts={"request_header_ms": HEADER_MS})
    conns = []
    try:
        t0 = time.monotonic()
        for _ in range(n):
            c = RawH2(stack.port)
            conns.append(c)
            _hold_slot(c, how)
        # the slots are full while they hold (accept closes the 7th at once)
        deadline = t0 + HEADER_MS / 1000.0 + 3.0
        for c in conns:
            c.wait_closed(max(0.0, deadline - time.monotonic()))
        open_ = [c for c in conns if not c.closed]
        assert not open_, "%d of %d connections still open %.1fs after the attack (%s)" % (
            len(open_), n, time.monotonic() - t0, ", ".join(repr(c.goaway) for c in open_))
        for c in conns:
            assert c.goaway is not None, "closed without GOAWAY"
            # not before the timer (the last slot was taken after t0)
            assert c.close_time - t0 >= HEADER_MS / 1000.0 * 0.8, c.close_time - t0
    finally:
        for c in conns:
            c.close()
    still_serving(stack)


# --------------------------------------------------------------------------
# request buffer budgets

def test_request_buffer_budget(procs):
    """One authenticated connection, 100 streams each declaring a 128 MiB
    message and sending 3 MiB: sparkgate stops granting credit at
    limits.connection_request_buffer, RSS stays bounded, and a stream that
    cannot complete is refused RESOURCE_EXHAUSTED naming the budget.
    Afterwards the budget is whole again: a 24 MiB message goes through."""
    conn_budget, proc_budget = 32 * MIB, 48 * MIB
    stack = make_stack(procs, limits={"max_request_message_size": 128 * MIB,
                                      "connection_request_buffer": conn_budget,
                                      "process_request_buffer": proc_budget})
    nstreams, per_stream = 100, 3 * MIB
    rss0 = stack.sg.rss()
    peak = rss0
    c = H.H2Client(stack.port, timeout=30.0)
    sent = {}
    streams = []
    try:
        chunk = b"\0" * 16384
        for _ in range(nstreams):
            st = c.request(H.SERVICE + "Config", headers=[AUTH], end_stream=False)
            c.conn.send_data(st.id, b"\0" + struct.pack(">I", 128 * MIB))
            streams.append(st)
            sent[st.id] = 0
        c.sock.settimeout(30.0)
        c.flush()
        deadline = time.monotonic() + 12.0
        while time.monotonic() < deadline:
            progress = False
            for st in streams:
                if st.done or sent[st.id] >= per_stream:
                    continue
                n = min(len(chunk), per_stream - sent[st.id],
                        c.conn.local_flow_control_window(st.id))
                if n > 0:
                    c.conn.send_data(st.id, chunk[:n])
                    sent[st.id] += n
                    progress = True
            # (pump leaves its short timeout on the socket: a slow sparkgate,
            # ASan say, must not turn a full send buffer into a timeout)
            c.sock.settimeout(30.0)
            c.flush()
            c.pump(0.001 if progress else 0.05)
            peak = max(peak, stack.sg.rss())
            if all(st.done or sent[st.id] >= per_stream for st in streams):
                break
        total = sum(sent.values())
        refused = [st for st in streams if st.done]
        for st in refused:
            assert st.grpc_status() == RESOURCE_EXHAUSTED, (st.headers, st.trailers)
            assert "request_buffer" in (st.grpc_message() or ""), st.grpc_message()
        print("budget test: sent %d MiB of %d MiB, %d streams refused, RSS %d -> peak %d KiB"
              % (total >> 20, (nstreams * per_stream) >> 20, len(refused), rss0 >> 10,
                 peak >> 10))
        assert total < nstreams * per_stream, "all %d MiB accepted" % (total >> 20)
        assert refused, "no stream refused although the budget stayed full"
        # budget + the connection window granted before it filled + slack
        # (ASan's quarantine and allocator caches, as test_35's RSS_SLACK)
        assert peak - rss0 < conn_budget + 16 * MIB + 48 * MIB, \
            "RSS grew from %d to %d KiB" % (rss0 >> 10, peak >> 10)
    finally:
        c.close()
    # every byte left the budgets with the connection
    msg = H.make_request("Config", session_id="3f9e8a40-2b71-4c55-9d0e-6a1b2c3d4e5f")
    msg.client_type = "p" * (24 * MIB)
    c = H.H2Client(stack.port, timeout=30.0)
    try:
        st = c.grpc_call("Config", msg, metadata=[AUTH])
        c.wait_done(st, 30)
        assert st.grpc_status() == H.OK, (st.headers, st.trailers)
    finally:
        c.close()
    still_serving(stack)


# --------------------------------------------------------------------------
# WINDOW_UPDATE

def test_window_update_flood(procs):
    """20 000 WINDOW_UPDATEs nobody asked for: GOAWAY(ENHANCE_YOUR_CALM)."""
    stack = make_stack(procs)
    c = RawH2(stack.port)
    try:
        flood = frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1)) * 20000
        c.send(flood)
        c.wait_closed(10.0)
        assert c.goaway is not None and c.goaway[1] == ENHANCE_YOUR_CALM, \
            "WINDOW_UPDATE flood: goaway=%r closed=%s send_error=%r" % (
                c.goaway, c.closed, c.send_error)
        assert c.closed
    finally:
        c.close()
    still_serving(stack)


class AckingH2(RawH2):
    """Grants credit back after every DATA frame, stream and connection:
    the most WINDOW_UPDATEs a reading client sends."""

    def _on_frame(self, ftype, flags, sid, body):
        super()._on_frame(ftype, flags, sid, body)
        if ftype == DATA and body:
            inc = struct.pack(">I", len(body))
            try:
                self.sock.sendall(frame(WINDOW_UPDATE, 0, sid, inc) +
                                  frame(WINDOW_UPDATE, 0, 0, inc))
            except OSError:
                pass


def test_window_updates_of_a_download_are_not_a_flood(procs):
    """A 64 MiB download read with 64 KiB windows and two WINDOW_UPDATEs
    per DATA frame (8 000+ in a few seconds) completes."""
    stack = make_stack(procs)
    tid = H.new_test_id()
    c = AckingH2(stack.port, preface=False, timeout=30.0)
    try:
        c.send(PREFACE + settings_frame([(0x2, 0)]))
        sid = c.new_sid()
        c.send(c.headers_frame(sid, c.request_headers(
            H.SERVICE + "ExecutePlan", tagged(tid, ("sc-test-count", "64"),
                                              ("sc-test-size", str(MIB))))) +
            frame(DATA, END_STREAM, sid, H.grpc_frame(body_of("ExecutePlan"))))
        st = c.wait_done(sid, 60.0)
        assert grpc_status(st) == H.OK, describe(c, sid)
        assert len(st["data"]) > 64 * MIB
        assert c.goaway is None, c.goaway
    finally:
        c.close()


# --------------------------------------------------------------------------
# stalls

def test_zero_window_stall_resets_both_sides(procs):
    """A client that stops reading a large result (its window stays 0) has
    its stream reset (CANCEL) after timeouts.stall_ms, and the backend
    stream is cancelled."""
    stack = make_stack(procs, timeouts={"stall_ms": STALL_MS})
    tid = H.new_test_id()
    c = H.H2Client(stack.port, stream_window=65535, conn_window=1 * MIB)
    try:
        st = c.grpc_call("ExecutePlan", H.make_request("ExecutePlan"),
                         metadata=[AUTH] + H.md(tid, sc_test_count=64, sc_test_size=MIB),
                         keep=False, auto_ack=False)
        c.wait(lambda: st.raw_len > 0, 15, "first data")
        t0 = time.monotonic()
        c.wait(lambda: st.reset_code is not None or st.done, STALL_MS / 1000.0 + 5.0,
               "the stalled stream to be reset")
        waited = time.monotonic() - t0
        assert st.reset_code == CANCEL, (st.reset_code, st.headers, st.trailers)
        assert waited >= STALL_MS / 1000.0 * 0.5, waited
        s = stack.b1.wait_stream(tid, timeout=5)
        assert s["close"].get("cancelled") is True, s["close"]
        assert s["close"].get("sent_messages", 0) < 64
    finally:
        c.close()
    still_serving(stack)


def test_upload_stall_resets_the_call(procs):
    """A client that starts a request message and then sends nothing more
    (with credit to spare) is reset after timeouts.stall_ms; nothing
    reaches the backend."""
    stack = make_stack(procs, timeouts={"stall_ms": STALL_MS})
    tid = H.new_test_id()
    c = H.H2Client(stack.port)
    try:
        st = c.request(H.SERVICE + "ExecutePlan", headers=[AUTH] + H.md(tid),
                       end_stream=False)
        c.send_data(st.id, b"\0" + struct.pack(">I", 1000) + b"\x0a" * 100)
        t0 = time.monotonic()
        c.wait(lambda: st.reset_code is not None or st.done, STALL_MS / 1000.0 + 5.0,
               "the stalled upload to be reset")
        assert st.reset_code == CANCEL, (st.reset_code, st.headers, st.trailers)
        assert time.monotonic() - t0 >= STALL_MS / 1000.0 * 0.5
    finally:
        c.close()
    still_serving(stack)
    assert stack.b1.find_stream(tid) is None


def test_answered_call_left_open_is_reset(procs):
    """An authenticated client whose call is answered (here refused) but
    which never ends its side: the stream is reset (NO_ERROR) after
    timeouts.stall_ms, so the connection goes idle and closes after
    timeouts.idle_ms instead of holding its slot forever."""
    idle_ms = 1500
    stack = make_stack(procs, timeouts={"stall_ms": STALL_MS, "idle_ms": idle_ms})
    c = RawH2(stack.port)
    try:
        sid = c.new_sid()
        c.send(c.headers_frame(sid, c.request_headers(H.SERVICE + "Config")) +
               frame(DATA, END_STREAM, sid, H.grpc_frame(body_of("Config"))))
        assert grpc_status(c.wait_done(sid, 10.0)) == H.OK, describe(c, sid)
        sid = c.new_sid()
        c.send(c.headers_frame(sid, c.request_headers(H.SERVICE + "NoSuchMethod")))
        st = c.wait_done(sid, 10.0)
        assert grpc_status(st) == 12, describe(c, sid)  # UNIMPLEMENTED, trailers-only
        t0 = time.monotonic()
        assert c.wait(lambda: st["rst"] is not None, STALL_MS / 1000.0 + 5.0), describe(c, sid)
        assert st["rst"] == 0, describe(c, sid)
        assert c.wait_closed(idle_ms / 1000.0 + 5.0), "connection still open: " + describe(c, sid)
        assert c.close_time - t0 >= (STALL_MS + idle_ms) / 1000.0 * 0.8
    finally:
        c.close()
    still_serving(stack)


# --------------------------------------------------------------------------
# clients that stop reading

def _flood_unread(c, n):
    """Sends |n| complete requests without credentials for unknown methods
    (each answered trailers-only, naming its own 250-byte path, so nothing
    compresses) and never reads: sparkgate's answers fill the socket (the
    kernel grows its send buffer to some MiB), then its output buffer."""
    assert c.wait(lambda: c.frames_in > 0, 5.0), "no SETTINGS from sparkgate"
    c.poll()
    for _ in range(0, n, 100):
        buf = bytearray()
        for _ in range(100):
            sid = c.new_sid()
            path = "/%0250x" % random.getrandbits(1000)
            buf += c.headers_frame(sid, c.request_headers(path, auth=False), end_stream=True)
        # in batches below max_concurrent_streams: streams end as they are answered
        if not c.send(bytes(buf), interleave=False, timeout=1.0):
            return
        time.sleep(0.002)


def test_client_that_stops_reading_is_closed(procs):
    """A connection whose client never reads (tiny receive buffer) while
    sparkgate has output for it is closed once no byte could be written for
    timeouts.stall_ms, whatever timer wanted it gone: here the first-request
    timer queues a GOAWAY that can never leave.  The slot comes back
    (max_connections 1)."""
    stack = make_stack(procs, limits={"max_connections": 1, "max_concurrent_streams": 1000},
                       timeouts={"request_header_ms": 2 * HEADER_MS, "stall_ms": STALL_MS})
    c = RawH2(stack.port, rcvbuf=4096)
    try:
        t0 = time.monotonic()
        _flood_unread(c, 30000)
        # first-request timer, then at most two stall periods, then margin
        time.sleep(max(0.0, t0 + (2 * HEADER_MS + 2 * STALL_MS) / 1000.0 + 1.0 - time.monotonic()))
        still_serving(stack, timeout=5.0)
    finally:
        c.close()


# --------------------------------------------------------------------------
# what a refused call gives back

def _config_of(nbytes):
    """A Config request of about |nbytes| (get_option with 1000-byte keys)."""
    m = H.make_request("Config", session_id="6c1f0e2d-3b4a-4c5d-8e6f-7a8b9c0d1e2f")
    keys = m.operation.get_option.keys
    for i in range(nbytes // 1003):
        keys.append("spark.k%06d." % i + "x" * 986)
    return m.SerializeToString()


@pytest.mark.parametrize("withheld", [False, True])
def test_refused_call_gives_back_budget_and_credit(procs, withheld):
    """A call refused (its grpc-timeout) while its 10 MiB message waits for
    a backend that reads nothing (stopped): the queued bytes leave the
    connection's request budget at once, and (withheld) the credit held
    back for a further partial message goes back to the client, although
    the client never ends the refused stream (stall_ms is long).  The next
    upload on the same connection goes through: without the budget it would
    be refused RESOURCE_EXHAUSTED, without the credit it could not be sent."""
    import signal
    limits = {"max_request_message_size": 16 * MIB, "connection_request_buffer": 16 * MIB}
    if withheld:
        limits.update({"stream_window_size": 4 * MIB, "connection_window_size": 4 * MIB})
    stack = make_stack(procs, limits=limits, timeouts={"stall_ms": 60000})
    c = H.H2Client(stack.port, timeout=15.0)
    stopped = False
    try:
        stack.b1.signal(signal.SIGSTOP)
        stopped = True
        a = c.grpc_call("Config", _config_of(10 * MIB), metadata=[AUTH, ("grpc-timeout", "3S")],
                        end_stream=False)
        if withheld:
            # the next message's first 3 MiB: no credit for them while the queue is full
            c.send_data(a.id, b"\0" + struct.pack(">I", 8 * MIB) + b"\0" * (3 * MIB - 5),
                        timeout=10.0)
        c.wait_done(a, 15.0)
        assert a.grpc_status() == 4, (a.headers, a.trailers, a.reset_code)  # DEADLINE_EXCEEDED
        stack.b1.signal(signal.SIGCONT)
        stopped = False
        b = c.grpc_call("Config", _config_of((4 if withheld else 12) * MIB), metadata=[AUTH])
        c.wait_done(b, 20.0)
        assert b.grpc_status() == H.OK, (b.headers, b.trailers, b.reset_code)
    finally:
        if stopped:
            stack.b1.signal(signal.SIGCONT)
        c.close()


def test_no_upload_stall_while_the_connection_window_is_withheld(procs):
    """A stream that could send nothing because the connection window is
    spent on another stream's withheld credit (its backend reads nothing)
    is not reset for sending no request data; it completes once the
    window opens again."""
    import signal
    stack = make_stack(procs, limits={"max_request_message_size": 16 * MIB,
                                      "stream_window_size": MIB,
                                      "connection_window_size": MIB},
                       timeouts={"stall_ms": STALL_MS})
    c = H.H2Client(stack.port, timeout=15.0)
    stopped = False
    try:
        stack.b1.signal(signal.SIGSTOP)
        stopped = True
        x = c.grpc_call("Config", _config_of(8 * MIB), metadata=[AUTH], end_stream=False)
        # the next message's first bytes, as many as the connection window takes:
        # sparkgate withholds their credit while x's queue is full
        c.pump(0.5)
        n = c.conn.local_flow_control_window(x.id)
        assert n > 5, n
        c.send_data(x.id, b"\0" + struct.pack(">I", 8 * MIB) + b"\0" * (n - 5), timeout=10.0)
        y = c.request(H.SERVICE + "Config", headers=[AUTH], end_stream=False)
        t_end = time.monotonic() + 3 * STALL_MS / 1000.0
        while time.monotonic() < t_end:
            c.pump(0.1)
        assert y.reset_code is None and not y.trailers, (y.headers, y.trailers, y.reset_code)
        stack.b1.signal(signal.SIGCONT)
        stopped = False
        c.send_data(y.id, H.grpc_frame(H.make_request("Config").SerializeToString()), end_stream=True, timeout=10.0)
        c.wait_done(y, 10.0)
        assert y.grpc_status() == H.OK, (y.headers, y.trailers, y.reset_code)
    finally:
        if stopped:
            stack.b1.signal(signal.SIGCONT)
        c.close()


def test_process_budget_full_spares_small_holders(procs):
    """When the process budget is the full one, the connection holding most
    of it gives way, not an innocent connection that holds little: here one
    connection holds 7 MiB of 8 in a partial message, another uploads a
    2 MiB message and gets blocked first (its first MiB fills the budget); after the wait it is the big
    partial message that is refused, and the small upload completes."""
    import threading
    stack = make_stack(procs, limits={"max_request_message_size": 16 * MIB,
                                      "process_request_buffer": 8 * MIB})
    a = H.H2Client(stack.port, timeout=15.0)
    b = H.H2Client(stack.port, timeout=15.0)
    result = {}
    try:
        a1 = a.request(H.SERVICE + "Config", headers=[AUTH], end_stream=False)
        a.send_data(a1.id, b"\0" + struct.pack(">I", 16 * MIB) + b"\0" * (7 * MIB))

        def upload():
            try:
                st = b.grpc_call("Config", _config_of(2 * MIB), metadata=[AUTH])
                b.wait_done(st, 15.0)
                result["status"] = (st.grpc_status(), st.trailers)
            except Exception as e:  # reported below
                result["error"] = repr(e)

        t = threading.Thread(target=upload)
        t.start()
        time.sleep(0.5)  # b is blocked first
        a.send_data(a1.id, b"\0" * MIB, timeout=5.0)
        deadline = time.monotonic() + 15.0
        while t.is_alive() and time.monotonic() < deadline:
            a.pump(0.1)
        t.join(1.0)
        assert result.get("status", (None,))[0] == H.OK, result
        a.wait_done(a1, 5.0)
        assert a1.grpc_status() == RESOURCE_EXHAUSTED, (a1.headers, a1.trailers, a1.reset_code)
    finally:
        a.close()
        b.close()
