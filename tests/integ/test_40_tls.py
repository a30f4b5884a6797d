"""TLS on both sides: ALPN enforcement, plaintext on the TLS port, the h2c
listener, backends over TLS with a client certificate."""

import socket
import ssl
import time

import grpc
import pytest

import sgharness as H

SESSION = "9d3b1c2f-6e40-4f41-a05d-8c0e1f203142"


def _tls_client(port, alpn):
    ctx = ssl.create_default_context(cafile=H.certs().ca_pem)
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    return ctx.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)


@pytest.mark.parametrize("alpn", [["http/1.1"], None, ["spdy/3", "http/1.0"]],
                         ids=["http11_only", "no_alpn", "unknown_protocols"])
def test_alpn_without_h2_rejected(stack, alpn):
    """No h2 in ALPN (or no ALPN at all): a TLS alert, quickly, not a hang."""
    s = _tls_client(stack.port, alpn)
    t0 = time.monotonic()
    try:
        with pytest.raises(ssl.SSLError) as ei:
            s.do_handshake()
            # TLS 1.3: a server-side alert may only surface on the first read
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            s.recv(100)
        assert time.monotonic() - t0 < 3.0
        # e.g. "tlsv1 alert no application protocol" or "handshake failure"
        assert "ALERT" in str(ei.value).upper(), str(ei.value)
    finally:
        s.close()
    stack.sg.check_health()


def test_h2_alpn_ok(stack):
    s = _tls_client(stack.port, ["http/1.1", "h2"])
    try:
        s.do_handshake()
        assert s.selected_alpn_protocol() == "h2"
        assert s.version() in ("TLSv1.2", "TLSv1.3")
    finally:
        s.close()


def test_plaintext_on_tls_port_closed(stack):
    raw = socket.create_connection(("127.0.0.1", stack.port), timeout=5)
    t0 = time.monotonic()
    try:
        raw.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        got = b""
        while time.monotonic() - t0 < 4:
            try:
                d = raw.recv(4096)
            except ConnectionResetError:
                break
            if not d:
                break
            got += d
            assert len(got) < 10000
        elapsed = time.monotonic() - t0
        assert elapsed < 3.0, "connection not closed within 3s"
        assert not got.startswith(b"HTTP/1.1 200")
    finally:
        raw.close()
    stack.sg.check_health()


def test_h2c_prior_knowledge_on_tls_port_closed(stack):
    raw = socket.create_connection(("127.0.0.1", stack.port), timeout=5)
    t0 = time.monotonic()
    try:
        raw.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\0\0\0\x04\0\0\0\0\0")
        while time.monotonic() - t0 < 4:
            try:
                if not raw.recv(4096):
                    break
            except ConnectionResetError:
                break
        assert time.monotonic() - t0 < 3.0
    finally:
        raw.close()


def test_idle_tls_handshake_times_out(procs):
    """A client that connects and sends nothing is dropped after
    timeouts.tls_handshake_ms."""
    b1 = procs.backend("b1")
    port = H.free_port()
    procs.sparkgate(H.sg_config(port, [("b1", b1.address)], timeouts={"tls_handshake_ms": 1000}))
    raw = socket.create_connection(("127.0.0.1", port), timeout=6)
    t0 = time.monotonic()
    try:
        try:
            d = raw.recv(10)
        except ConnectionResetError:
            d = b""
        assert d == b""
        assert 0.5 < time.monotonic() - t0 < 4.0
    finally:
        raw.close()


def test_h2c_listener(procs):
    b1 = procs.backend("b1")
    port = H.free_port()
    procs.sparkgate(H.sg_config(port, [("b1", b1.address)], plaintext=True))
    ch = H.grpc_channel(port, tls=False)
    try:
        tid = H.new_test_id()
        resp, call = H.rpc(ch, "Config").with_call(
            H.make_request("Config", session_id=SESSION), metadata=H.md(tid), timeout=10)
        assert resp.session_id == SESSION
        assert H.md_get(call.initial_metadata(), "x-sc-backend") == "b1"
        rs = list(H.rpc(ch, "ExecutePlan")(H.make_request("ExecutePlan", session_id=SESSION),
                                           metadata=H.md(H.new_test_id(), sc_test_count=3), timeout=10))
        assert rs[-1].HasField("result_complete")
        assert b1.wait_stream(tid)["close"]["cancelled"] is False
    finally:
        ch.close()


def _tls_backend_cfg(b, **tls):
    c = H.certs()
    t = {"ca": c.ca_pem, "server_name": "localhost",
         "certificate": c.client_pem, "private_key": c.client_key}
    t.update(tls)
    return {"name": b.backend_name, "address": b.tls_address, "tls": t}


def test_backend_tls_client_cert(procs):
    c = H.certs()
    b1 = procs.backend("b1", tls=True, client_ca=c.ca_pem)
    port = H.free_port()
    procs.sparkgate(H.sg_config(port, [_tls_backend_cfg(b1)]))
    ch = H.grpc_channel(port)
    try:
        tid = H.new_test_id()
        resp, call = H.rpc(ch, "Config").with_call(
            H.make_request("Config", session_id=SESSION), metadata=H.md(tid), timeout=10)
        assert resp.session_id == SESSION
        s = b1.wait_stream(tid)
        assert s["open"]["method"] == "Config"
        conns = b1.conn_records()
        assert conns, b1.records()
        assert all(r.get("tls") is True for r in conns), conns
        assert all(r.get("client_cert_cn") == "sparkgate" for r in conns), conns
        # a big stream over backend TLS too
        rs = list(H.rpc(ch, "ExecutePlan", raw_response=True)(
            H.make_request("ExecutePlan", session_id=SESSION),
            metadata=H.md(H.new_test_id(), sc_test_count=16, sc_test_size=1 << 20), timeout=60))
        assert len(rs) >= 16
    finally:
        ch.close()


def test_backend_tls_wrong_server_name_unavailable(procs):
    b1 = procs.backend("b1", tls=True)
    port = H.free_port()
    procs.sparkgate(H.sg_config(port, [_tls_backend_cfg(b1, server_name="not-the-backend.example")]))
    ch = H.grpc_channel(port)
    try:
        t0 = time.monotonic()
        with pytest.raises(grpc.RpcError) as ei:
            H.rpc(ch, "Config")(H.make_request("Config", session_id=SESSION), timeout=10)
        assert ei.value.code() == grpc.StatusCode.UNAVAILABLE, ei.value
        assert 'backend "b1"' in ei.value.details()
        assert time.monotonic() - t0 < 5
        assert not b1.streams()
    finally:
        ch.close()


def test_backend_tls_requires_client_cert(procs):
    """A backend demanding a client cert and sparkgate configured without
    one: UNAVAILABLE, not a hang."""
    c = H.certs()
    b1 = procs.backend("b1", tls=True, client_ca=c.ca_pem)
    port = H.free_port()
    procs.sparkgate(H.sg_config(port, [{"name": "b1", "address": b1.tls_address,
                                        "tls": {"ca": c.ca_pem, "server_name": "localhost"}}]))
    ch = H.grpc_channel(port)
    try:
        t0 = time.monotonic()
        with pytest.raises(grpc.RpcError) as ei:
            H.rpc(ch, "Config")(H.make_request("Config", session_id=SESSION), timeout=10)
        assert ei.value.code() == grpc.StatusCode.UNAVAILABLE, ei.value
        assert time.monotonic() - t0 < 5
    finally:
        ch.close()
