"""Errors sparkgate produces itself: trailers-only gRPC errors for gRPC
requests, plain HTTP errors for everything else; never a hang or a crash."""

import gzip
import time

import grpc
import pytest

import sgharness as H

SESSION = "8c2a0b1e-5d3f-4e30-9f4c-7b9d0e1f2031"


def test_backend_down_unavailable(procs):
    """A backend nobody listens on: UNAVAILABLE naming the backend, quickly."""
    dead = H.free_port()
    port = H.free_port()
    sg = procs.sparkgate(H.sg_config(port, [("b1", "127.0.0.1:%d" % dead)],
                                     timeouts={"backend_connect_ms": 2000}))
    ch = H.grpc_channel(port)
    try:
        for method in ("Config", "ExecutePlan"):
            t0 = time.monotonic()
            with pytest.raises(grpc.RpcError) as ei:
                m = H.rpc(ch, method)
                req = H.make_request(method, session_id=SESSION)
                if method == "ExecutePlan":
                    list(m(req, timeout=20))
                else:
                    m(req, timeout=20)
            elapsed = time.monotonic() - t0
            e = ei.value
            assert e.code() == grpc.StatusCode.UNAVAILABLE, (method, e)
            assert 'backend "b1"' in e.details(), e.details()
            assert "unavailable" in e.details().lower(), e.details()
            assert elapsed < 5.0, elapsed
    finally:
        ch.close()
    # on the wire: a trailers-only response (HEADERS with END_STREAM)
    c = H.H2Client(port)
    try:
        st = c.grpc_call("Config", H.make_request("Config", session_id=SESSION),
                         metadata=H.md(H.new_test_id()))
        c.wait_done(st, 10)
        assert st.status() == 200 and st.trailers is None and st.raw_len == 0, (st.headers, st.trailers)
        assert st.header("content-type").startswith("application/grpc")
        assert st.grpc_status() == H.UNAVAILABLE
        assert 'backend "b1"' in st.grpc_message()
    finally:
        c.close()
    assert sg.alive()


def test_backend_dies_mid_stream(procs):
    """The backend process is killed while streaming: the client gets an
    error status (not a hang), sparkgate keeps serving."""
    b1 = procs.backend("b1")
    port = H.free_port()
    procs.sparkgate(H.sg_config(port, [("b1", b1.address)]))
    ch = H.grpc_channel(port)
    try:
        call = H.rpc(ch, "ExecutePlan")(
            H.make_request("ExecutePlan", session_id=SESSION),
            metadata=H.md(H.new_test_id(), sc_test_count=100, sc_test_delay_ms=100), timeout=30)
        it = iter(call)
        next(it)
        b1.kill()
        t0 = time.monotonic()
        with pytest.raises(grpc.RpcError) as ei:
            for _ in it:
                pass
        assert ei.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL,
                                   grpc.StatusCode.UNKNOWN, grpc.StatusCode.CANCELLED), ei.value
        assert time.monotonic() - t0 < 5
        # new calls: UNAVAILABLE naming the backend
        with pytest.raises(grpc.RpcError) as ei:
            H.rpc(ch, "Config")(H.make_request("Config", session_id=SESSION), timeout=20)
        assert ei.value.code() == grpc.StatusCode.UNAVAILABLE
        assert 'backend "b1"' in ei.value.details()
    finally:
        ch.close()


def test_compressed_request_unimplemented(stack):
    tid = H.new_test_id()
    c = H.H2Client(stack.port)
    try:
        body = H.make_request("Config", session_id=SESSION).SerializeToString()
        st = c.grpc_call("Config", gzip.compress(body), compressed=True,
                         metadata=H.md(tid) + [("grpc-encoding", "gzip"),
                                               ("grpc-accept-encoding", "identity,gzip")])
        c.wait_done(st, 10)
        assert st.status() == 200, st.headers
        assert st.grpc_status() == H.UNIMPLEMENTED, (st.headers, st.trailers)
        # trailers-only: no DATA, no separate trailers
        assert st.raw_len == 0 and st.trailers is None
        # the connection is still usable
        st2 = c.grpc_call("Config", body, metadata=H.md(H.new_test_id()))
        c.wait_done(st2, 10)
        assert st2.grpc_status() == H.OK
    finally:
        c.close()


def test_unknown_method_trailers_only(stack):
    c = H.H2Client(stack.port)
    try:
        st = c.grpc_call(H.SERVICE + "Nope", b"", metadata=H.md(H.new_test_id()))
        c.wait_done(st, 10)
        assert st.status() == 200
        assert st.trailers is None, "expected a trailers-only response"
        assert st.header("content-type").startswith("application/grpc")
        assert st.grpc_status() == H.UNIMPLEMENTED
        assert st.raw_len == 0
    finally:
        c.close()


@pytest.mark.parametrize("method,path,headers,body", [
    ("GET", "/", [], None),
    ("GET", H.SERVICE + "Config", [], None),
    ("POST", H.SERVICE + "Config", [("content-type", "text/plain")], b"hello"),
    ("POST", H.SERVICE + "Config", [], b"no content type"),
    ("PUT", H.SERVICE + "Config", [("content-type", "application/grpc")], b"\0\0\0\0\0"),
], ids=["get_root", "get_method", "post_text_plain", "post_no_ctype", "put_grpc"])
def test_non_grpc_request_http_error(stack, method, path, headers, body):
    c = H.H2Client(stack.port)
    try:
        st = c.request(path, headers=headers, body=body, method=method, grpc=False)
        c.wait_done(st, 10)
        status = st.status()
        assert status is not None and 400 <= status < 500, (st.headers, st.reset_code)
        # still serves gRPC on the same connection
        st2 = c.grpc_call("Config", H.make_request("Config", session_id=SESSION),
                          metadata=H.md(H.new_test_id()))
        c.wait_done(st2, 10)
        assert st2.grpc_status() == H.OK
    finally:
        c.close()
    stack.sg.check_health()


@pytest.mark.parametrize("hdr", [("connection", "keep-alive"), ("keep-alive", "timeout=5"),
                                 ("proxy-connection", "close"), ("transfer-encoding", "chunked"),
                                 ("upgrade", "h2c"), ("te", "gzip")],
                         ids=lambda h: h[0] if isinstance(h, tuple) else h)
def test_hop_by_hop_request_header_rejected(stack, hdr):
    """Connection-specific headers are malformed in HTTP/2 (RFC 9113 8.2.2):
    the stream is refused and nothing reaches the backend."""
    tid = H.new_test_id()
    c = H.H2Client(stack.port, validate_headers=False)
    try:
        st = c.grpc_call("Config", H.make_request("Config", session_id=SESSION),
                         metadata=H.md(tid) + [hdr])
        c.wait_done(st, 10)
        status = st.status()
        assert st.reset_code is not None or (status is not None and 400 <= status < 500) \
            or st.grpc_status() not in (None, H.OK), (st.headers, st.trailers)
    finally:
        c.close()
    time_limit = time.monotonic() + 0.5
    while time.monotonic() < time_limit:
        assert stack.b1.find_stream(tid) is None, "forwarded to the backend"
        time.sleep(0.05)
    stack.sg.check_health()


def test_truncated_grpc_frame(stack):
    """A request whose body ends inside a gRPC frame: an error status, not a
    hang; sparkgate survives."""
    c = H.H2Client(stack.port)
    try:
        st = c.request(H.SERVICE + "Config", body=b"\0\0\0\0\x10abc",
                       headers=H.md(H.new_test_id()))
        c.wait_done(st, 10)
        assert st.reset_code is not None or (st.grpc_status() not in (None, H.OK)), \
            (st.headers, st.trailers)
    finally:
        c.close()
    stack.sg.check_health()


def test_oversized_message_header(stack):
    """A gRPC frame declaring a 4 GiB - 1 message: rejected, not buffered."""
    c = H.H2Client(stack.port)
    try:
        st = c.request(H.SERVICE + "ExecutePlan", body=b"\0\xff\xff\xff\xff" + b"a" * 1000,
                       headers=H.md(H.new_test_id()), end_stream=False)
        c.wait_done(st, 10)
        assert st.reset_code is not None or st.grpc_status() in (
            H.INVALID_ARGUMENT, 8, H.UNIMPLEMENTED, H.UNKNOWN), (st.headers, st.trailers)
    finally:
        c.close()
    stack.sg.check_health()
