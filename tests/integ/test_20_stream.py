"""Streaming bodies: integrity of a 1 GiB response, end-to-end flow control
with bounded memory, cancellation and deadlines."""

import hashlib
import os
import time
import zlib

import grpc
import pytest

import sgharness as H

SESSION = "7b1f9a0d-4c2e-4d2f-8e3b-6a8c9d0e1f20"
MIB = 1 << 20
# The two 1 GiB streams (grpcio digest, raw-h2 slow reader) are the long
# pole of the suite (~15 s); SG_INTEG_BIG_MIB / SG_INTEG_SLOW_MIB shrink them
# for quick local runs.
BIG_MIB = int(os.environ.get("SG_INTEG_BIG_MIB", "1024"))
SLOW_MIB = int(os.environ.get("SG_INTEG_SLOW_MIB", "1024"))


def _req():
    return H.make_request("ExecutePlan", session_id=SESSION)


def test_execute_plan_1gib_digest(fstack):
    """1024 x 1 MiB arrow batches; SHA-256 over the message bodies the client
    received equals the backend's; sparkgate's memory stays bounded."""
    tid = H.new_test_id()
    base_rss = fstack.sg.rss()
    call = H.rpc(fstack.channel, "ExecutePlan", raw_response=True)(
        _req(), metadata=H.md(tid, sc_test_count=BIG_MIB, sc_test_size=MIB, sc_test_digest=1),
        timeout=600)
    sha = hashlib.sha256()
    n = nbytes = 0
    max_rss = 0
    for body in call:
        sha.update(body)
        n += 1
        nbytes += len(body)
        if n % 64 == 0:
            max_rss = max(max_rss, fstack.sg.rss())
    assert call.code() == grpc.StatusCode.OK
    s = fstack.b1.wait_stream(tid, timeout=10)
    c = s["close"]
    assert c.get("cancelled") is False
    assert c.get("sent_messages") == n
    assert c.get("sent_bytes") == nbytes
    assert n == BIG_MIB + 1  # the batches + result_complete
    assert nbytes >= BIG_MIB * MIB
    assert c.get("sha256") == sha.hexdigest()
    assert max_rss < base_rss + 64 * MIB, "sparkgate RSS grew from %d to %d" % (base_rss, max_rss)
    # the peak too, not only the samples
    assert fstack.sg.hwm() < base_rss + 64 * MIB, "VmHWM %d, baseline RSS %d" % (
        fstack.sg.hwm(), base_rss)


def test_slow_reader_bounded(fstack):
    """A client that stops granting WINDOW_UPDATEs: the backend is slowed
    down, sparkgate's memory stays bounded; resuming completes the stream
    with the right digest."""
    tid = H.new_test_id()
    base_rss = fstack.sg.rss()
    c = H.H2Client(fstack.port, stream_window=1 * MIB, conn_window=1 * MIB)
    be_start = fstack.b1.written()
    try:
        st = c.grpc_call("ExecutePlan", _req(),
                         metadata=H.md(tid, sc_test_count=SLOW_MIB, sc_test_size=MIB, sc_test_digest=1),
                         keep=False, auto_ack=True)
        # read ~4 MiB at full speed
        c.wait(lambda: st.raw_len >= 4 * MIB or st.done, 30, "4 MiB")
        assert not st.done, "stream ended early: %r %r" % (st.headers, st.trailers)
        st.auto_ack = False
        got_at_pause = st.raw_len
        be_written0 = fstack.b1.written()
        # stop granting credit for ~5 s (keep reading what the window allows)
        deadline = time.monotonic() + 5.0
        max_rss = 0
        while time.monotonic() < deadline:
            c.pump(0.1)
            max_rss = max(max_rss, fstack.sg.rss())
        got_paused = st.raw_len - got_at_pause
        be_paused = fstack.b1.written() - be_written0
        be_ahead = fstack.b1.written() - be_start - st.raw_len
        # at most one stream window (1 MiB) + a frame arrived while paused
        assert got_paused <= 1 * MIB + 64 * 1024, got_paused
        assert not st.done
        # the backend was held back too: windows, sparkgate's stream buffer
        # and socket buffers are a few MiB, the rest of the response is not
        assert be_paused < 32 * MIB, "backend wrote %d bytes while the client was stalled" % be_paused
        assert be_ahead < 32 * MIB, "backend is %d bytes ahead of the stalled client" % be_ahead
        assert fstack.b1.find_stream(tid)["close"] is None
        assert max_rss < base_rss + 64 * MIB, \
            "sparkgate RSS %d > baseline %d + 64 MiB while the client was stalled" % (max_rss, base_rss)
        # resume
        st.auto_ack = True
        c.ack(st)
        c.wait_done(st, 120)
        assert st.reset_code is None, st.reset_code
        assert st.grpc_status() == H.OK, (st.headers, st.trailers)
        assert st.body.count == SLOW_MIB + 1  # the batches + result_complete
        assert fstack.sg.hwm() < base_rss + 64 * MIB, "VmHWM %d, baseline RSS %d" % (
            fstack.sg.hwm(), base_rss)
        rec = fstack.b1.wait_stream(tid, timeout=10)["close"]
        assert rec.get("sent_messages") == st.body.count
        assert rec.get("sha256") == st.body.sha.hexdigest()
        assert rec.get("cancelled") is False
    finally:
        c.close()


def test_slow_reader_backpressure_reaches_backend(fstack):
    """While the client is stalled the backend cannot run ahead: a 128 MiB
    response to a client that granted 256 KiB must not complete on the
    backend side (it would if sparkgate buffered without bound)."""
    tid = H.new_test_id()
    base_rss = fstack.sg.rss()
    c = H.H2Client(fstack.port, stream_window=256 * 1024, conn_window=256 * 1024)
    try:
        st = c.grpc_call("ExecutePlan", _req(),
                         metadata=H.md(tid, sc_test_count=128, sc_test_size=MIB),
                         keep=False, auto_ack=False)
        c.wait(lambda: st.raw_len > 0, 15, "first data")
        t_end = time.monotonic() + 3.0
        while time.monotonic() < t_end:
            c.pump(0.1)
        assert st.raw_len <= 256 * 1024
        s = fstack.b1.find_stream(tid)
        assert s is not None
        assert s["close"] is None, "backend finished a 128 MiB response to a stalled client"
        assert fstack.sg.rss() < base_rss + 64 * MIB
        c.reset(st.id, 8)
        s = fstack.b1.wait_stream(tid, timeout=5)
        assert s["close"].get("cancelled") is True
    finally:
        c.close()


@pytest.mark.parametrize("tls", [True, False], ids=["tls", "h2c"])
def test_large_first_request_message_not_stalled(procs, tls):
    """A 1 MiB request message (a plan with a LocalRelation, as
    createDataFrame sends) written in one burst is forwarded every time:
    25 fresh connections, each call must finish within 5 s."""
    b1 = procs.backend("b1")
    port = H.free_port()
    procs.sparkgate(H.sg_config(port, [("b1", b1.address)], plaintext=not tls))
    req = _req()
    req.plan.root.local_relation.data = os.urandom(MIB)
    for i in range(25):
        tid = H.new_test_id()
        c = H.H2Client(port, tls=tls)
        try:
            st = c.grpc_call("ExecutePlan", req, metadata=H.md(tid))
            try:
                c.wait_done(st, 5)
            except AssertionError:
                raise AssertionError(
                    "iteration %d: no response within 5 s to a complete 1 MiB request "
                    "(backend saw the stream: %s)" % (i, _backend_saw(b1, tid)))
            assert st.grpc_status() == H.OK, (st.headers, st.trailers)
            req.operation_id = H.make_request("ExecutePlan").operation_id
        finally:
            c.close()


def _backend_saw(backend, tid):
    return backend.find_stream(tid) is not None


def test_client_cancel_cancels_backend(fstack):
    tid = H.new_test_id()
    call = H.rpc(fstack.channel, "ExecutePlan")(
        _req(), metadata=H.md(tid, sc_test_count=100, sc_test_size=1000, sc_test_delay_ms=100),
        timeout=60)
    it = iter(call)
    next(it)
    next(it)
    t0 = time.monotonic()
    call.cancel()
    s = fstack.b1.wait_stream(tid, timeout=5)
    assert s["close"].get("cancelled") is True, s["close"]
    assert s["close"].get("sent_messages") < 100
    assert time.monotonic() - t0 < 5


def test_client_rst_stream_upload_cancels_backend(fstack):
    """RST_STREAM from the client in the middle of a client-streaming upload."""
    tid = H.new_test_id()
    c = H.H2Client(fstack.port)
    try:
        req = H.make_request("AddArtifacts", session_id=SESSION)
        req.begin_chunk.name = "jars/x.jar"
        req.begin_chunk.total_bytes = 10 * MIB
        req.begin_chunk.num_chunks = 10
        req.begin_chunk.initial_chunk.data = b"x" * MIB
        st = c.grpc_call("AddArtifacts", req, metadata=H.md(tid), end_stream=False)
        fstack.b1.wait_stream(tid, timeout=5, closed=False)
        c.reset(st.id, 8)  # CANCEL
        s = fstack.b1.wait_stream(tid, timeout=5)
        assert s["close"].get("cancelled") is True, s["close"]
        # the connection survives
        st2 = c.grpc_call("Config", H.make_request("Config", session_id=SESSION),
                          metadata=H.md(H.new_test_id()))
        c.wait_done(st2, 10)
        assert st2.grpc_status() == H.OK
    finally:
        c.close()


def test_grpc_timeout_deadline_exceeded(fstack):
    """grpc-timeout is enforced by sparkgate (raw h2: the client itself has no
    deadline) and the backend stream is cancelled."""
    tid = H.new_test_id()
    c = H.H2Client(fstack.port)
    try:
        t0 = time.monotonic()
        st = c.grpc_call("ExecutePlan", _req(),
                         metadata=H.md(tid, sc_test_count=50, sc_test_size=100, sc_test_delay_ms=200)
                         + [("grpc-timeout", "700m")])
        c.wait_done(st, 10)
        elapsed = time.monotonic() - t0
        assert st.grpc_status() == H.DEADLINE_EXCEEDED, (st.headers, st.trailers, st.reset_code)
        assert 0.5 < elapsed < 4.0, elapsed
        s = fstack.b1.wait_stream(tid, timeout=5)
        assert s["close"].get("cancelled") is True, s["close"]
        assert s["close"].get("sent_messages") < 50
    finally:
        c.close()


def test_grpc_timeout_unary_slow_backend(fstack):
    """grpcio client with a deadline on a slow unary call: DEADLINE_EXCEEDED,
    backend stream cancelled."""
    tid = H.new_test_id()
    with pytest.raises(grpc.RpcError) as ei:
        H.rpc(fstack.channel, "ExecutePlan")(
            _req(), metadata=H.md(tid, sc_test_count=3, sc_test_delay_ms=3000), timeout=0.5
        ).next()
    assert ei.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    s = fstack.b1.wait_stream(tid, timeout=5)
    assert s["close"].get("cancelled") is True, s["close"]


def test_large_upload_flow_control(fstack, pbm):
    """64 MiB client-streaming upload (one chunked artifact in 1 MiB
    messages) arrives intact; sparkgate does not buffer it."""
    tid = H.new_test_id()
    chunk = os.urandom(MIB)
    crc = zlib.crc32(chunk)
    reqs = []
    first = H.make_request("AddArtifacts", session_id=SESSION)
    first.begin_chunk.name = "jars/upload.jar"
    first.begin_chunk.total_bytes = 64 * MIB
    first.begin_chunk.num_chunks = 64
    first.begin_chunk.initial_chunk.data = chunk
    first.begin_chunk.initial_chunk.crc = crc
    reqs.append(first)
    for i in range(63):
        r = H.make_request("AddArtifacts", session_id=SESSION)
        r.chunk.data = chunk
        r.chunk.crc = crc
        reqs.append(r)
    base_rss = fstack.sg.rss()
    resp, call = H.rpc(fstack.channel, "AddArtifacts").with_call(
        iter(reqs), metadata=H.md(tid), timeout=120)
    assert call.code() == grpc.StatusCode.OK
    assert [(a.name, a.is_crc_successful) for a in resp.artifacts] == [("jars/upload.jar", True)]
    s = fstack.b1.wait_stream(tid, timeout=10)
    assert len(s["messages"]) == 64
    for m, r in zip(s["messages"], reqs):
        assert m["sha256"] == hashlib.sha256(r.SerializeToString()).hexdigest()
    assert fstack.sg.hwm() < base_rss + 64 * MIB


def test_concurrent_streams_share_connection(fstack):
    """Two streams on one connection: a stalled one does not block the other."""
    c = H.H2Client(fstack.port, stream_window=64 * 1024, conn_window=16 * MIB)
    try:
        stalled = c.grpc_call("ExecutePlan", _req(),
                              metadata=H.md(H.new_test_id(), sc_test_count=64, sc_test_size=MIB),
                              keep=False, auto_ack=False)
        c.wait(lambda: stalled.raw_len > 0, 10, "first data")
        fast = c.grpc_call("ExecutePlan", _req(),
                           metadata=H.md(H.new_test_id(), sc_test_count=16, sc_test_size=MIB),
                           keep=False, auto_ack=True)
        c.wait_done(fast, 60)
        assert fast.grpc_status() == H.OK
        assert fast.body.count >= 16
        assert not stalled.done
        c.reset(stalled.id)
    finally:
        c.close()
