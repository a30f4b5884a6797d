"""Every Spark Connect RPC kind forwarded over TLS: responses, headers,
trailers, what the backend received."""

import base64
import hashlib

import grpc
import pytest

import sgharness as H

SESSION = "6a0e8f9c-3b1d-4c1e-9d2a-5f7b8c9d0e1f"
TIMEOUT = 10


def _assert_arrived(stack, tid, method, req, n_messages=1):
    s = stack.b1.wait_stream(tid, timeout=5)
    o = s["open"]
    assert o.get("method") == method
    assert o.get("path") == H.SERVICE + method
    hdrs = o.get("headers") or {}
    # te: trailers must reach the backend as te: trailers
    assert H.header_value(hdrs, "te") == "trailers", hdrs
    assert H.header_value(hdrs, "content-type", ).startswith("application/grpc"), hdrs
    msgs = s["messages"]
    assert len(msgs) == n_messages, msgs
    body = req.SerializeToString()
    assert msgs[0].get("len") == len(body)
    assert msgs[0].get("sha256") == hashlib.sha256(body).hexdigest()
    assert msgs[0].get("session_id") == SESSION
    assert msgs[0].get("user_id") == "u-1"
    assert msgs[0].get("user_name") == "alice"
    c = s["close"]
    assert c.get("cancelled") is False, c
    return s


@pytest.mark.parametrize("method", H.UNARY_METHODS)
def test_unary(stack, pbm, method):
    tid = H.new_test_id()
    req = H.make_request(method, session_id=SESSION)
    resp, call = H.rpc(stack.channel, method).with_call(
        req, metadata=H.md(tid, x_sg_custom="hello world"), timeout=TIMEOUT)
    assert call.code() == grpc.StatusCode.OK
    resp_type = getattr(pbm, H.RPCS[method][1])
    assert isinstance(resp, resp_type)
    # the backend answers with the request's session id
    sid_field = resp_type.DESCRIPTOR.fields_by_name.get("session_id")
    if sid_field is not None:
        assert resp.session_id == SESSION, resp
    if method == "AnalyzePlan":
        assert resp.HasField("spark_version") and resp.spark_version.version, resp
    if method == "CloneSession":
        assert resp.new_session_id, resp
    assert H.md_get(call.initial_metadata(), "x-sc-backend") == "b1"
    s = _assert_arrived(stack, tid, method, req)
    assert H.header_value(s["open"]["headers"], "x-sg-custom") == "hello world"


def test_execute_plan_stream(stack, pbm):
    tid = H.new_test_id()
    req = H.make_request("ExecutePlan", session_id=SESSION)
    call = H.rpc(stack.channel, "ExecutePlan")(
        req, metadata=H.md(tid, sc_test_count=5, sc_test_size=1000), timeout=TIMEOUT)
    resps = list(call)
    assert call.code() == grpc.StatusCode.OK
    batches = [r for r in resps if r.HasField("arrow_batch")]
    assert len(batches) == 5
    assert all(len(r.arrow_batch.data) == 1000 for r in batches)
    assert resps[-1].HasField("result_complete")
    assert all(r.session_id == SESSION for r in resps)
    assert len({r.response_id for r in resps}) == len(resps)
    assert H.md_get(call.initial_metadata(), "x-sc-backend") == "b1"
    s = _assert_arrived(stack, tid, "ExecutePlan", req)
    assert s["close"].get("sent_messages") == len(resps)


def test_reattach_execute_stream(stack, pbm):
    """ExecutePlan, then ReattachExecute of the same operation from a
    response id: the rest of the stream comes back."""
    op_id = "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"
    req = H.make_request("ExecutePlan", session_id=SESSION, operation_id=op_id)
    first = list(H.rpc(stack.channel, "ExecutePlan")(
        req, metadata=H.md(H.new_test_id(), sc_test_count=5, sc_test_size=10), timeout=TIMEOUT))
    assert len(first) == 6
    tid = H.new_test_id()
    rreq = H.make_request("ReattachExecute", session_id=SESSION, operation_id=op_id)
    rreq.last_response_id = first[2].response_id
    call = H.rpc(stack.channel, "ReattachExecute")(rreq, metadata=H.md(tid), timeout=TIMEOUT)
    resps = list(call)
    assert call.code() == grpc.StatusCode.OK
    assert [r.response_id for r in resps] == [r.response_id for r in first[3:]]
    assert resps[-1].HasField("result_complete")
    assert all(r.operation_id == op_id for r in resps)
    _assert_arrived(stack, tid, "ReattachExecute", rreq)


def test_add_artifacts_client_stream(stack, pbm):
    tid = H.new_test_id()
    data = bytes(range(256)) * 4096  # 1 MiB
    reqs = []
    begin = H.make_request("AddArtifacts", session_id=SESSION)
    begin.begin_chunk.name = "jars/big.jar"
    begin.begin_chunk.total_bytes = 3 * len(data)
    begin.begin_chunk.num_chunks = 3
    begin.begin_chunk.initial_chunk.data = data
    reqs.append(begin)
    for _ in range(2):
        r = H.make_request("AddArtifacts", session_id=SESSION)
        r.chunk.data = data
        reqs.append(r)
    small = H.make_request("AddArtifacts", session_id=SESSION)
    a = small.batch.artifacts.add()
    a.name = "pyfiles/x.py"
    a.data.data = b"print(1)\n"
    reqs.append(small)
    resp, call = H.rpc(stack.channel, "AddArtifacts").with_call(
        iter(reqs), metadata=H.md(tid), timeout=TIMEOUT)
    assert call.code() == grpc.StatusCode.OK
    assert isinstance(resp, pbm.AddArtifactsResponse)
    s = stack.b1.wait_stream(tid, timeout=5)
    msgs = s["messages"]
    assert [m.get("index") for m in msgs] == [0, 1, 2, 3]
    for m, r in zip(msgs, reqs):
        body = r.SerializeToString()
        assert m.get("len") == len(body)
        assert m.get("sha256") == hashlib.sha256(body).hexdigest()
    assert msgs[0].get("session_id") == SESSION
    assert s["close"].get("cancelled") is False


def test_request_headers_pass_through(stack):
    tid = H.new_test_id()
    binval = bytes([0, 1, 2, 0xfe, 0xff]) * 7
    meta = H.md(tid, x_sg_custom="v1") + [
        ("x-sg-bin-bin", binval),
        ("authorization-like", "Bearer not-a-real-token"),
        ("x-sg-multi", "a"), ("x-sg-multi", "b"),
    ]
    req = H.make_request("Config", session_id=SESSION)
    _, call = H.rpc(stack.channel, "Config").with_call(req, metadata=meta, timeout=TIMEOUT)
    assert call.code() == grpc.StatusCode.OK
    s = stack.b1.wait_stream(tid)
    hdrs = s["open"]["headers"]
    assert H.header_value(hdrs, "x-sg-custom") == "v1"
    assert H.header_value(hdrs, "te") == "trailers"
    assert H.header_value(hdrs, "authorization-like") == "Bearer not-a-real-token"
    got = H.header_value(hdrs, "x-sg-bin-bin")
    assert got is not None, hdrs
    assert base64.b64decode(got + "=" * (-len(got) % 4)) == binval
    multi = H.header_value(hdrs, "x-sg-multi")
    if isinstance(multi, list):
        assert multi == ["a", "b"]
    else:  # a recorder that joins repeated fields
        assert multi in ("a, b", "a,b"), multi
    assert H.header_value(hdrs, "user-agent")
    # no connection-specific header can appear in h2; nothing hop-by-hop leaked
    for h in ("connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"):
        assert H.header_value(hdrs, h) is None, (h, hdrs)


def _status_call(port, tid, code, message, trailers_only, method="Config", tls=True):
    ch = H.grpc_channel(port, tls=tls)
    try:
        extra = {"sc_test_status": code, "sc_test_message": message}
        if trailers_only:
            extra["sc_test_trailers_only"] = 1
        req = H.make_request(method, session_id=SESSION)
        with pytest.raises(grpc.RpcError) as ei:
            if H.RPCS[method][2] == "server":
                list(H.rpc(ch, method)(req, metadata=H.md(tid, **extra), timeout=TIMEOUT))
            else:
                H.rpc(ch, method).with_call(req, metadata=H.md(tid, **extra), timeout=TIMEOUT)
        e = ei.value
        return e.code(), e.details(), e.trailing_metadata(), e.initial_metadata()
    finally:
        ch.close()


@pytest.mark.parametrize("trailers_only", [False, True], ids=["trailers", "trailers_only"])
@pytest.mark.parametrize("method", ["Config", "ExecutePlan"])
def test_error_trailers_intact(stack, pbm, method, trailers_only):
    """grpc-status, grpc-message and binary grpc-status-details-bin reach the
    client byte for byte as the backend sent them."""
    msg = "boom: 100% \"broken\" {at} [stage 3] ~ end"
    code, details, trailers, _ = _status_call(
        stack.port, H.new_test_id(), 9, msg, trailers_only, method)
    dcode, ddetails, dtrailers, _ = _status_call(
        stack.b1.h2c_port, H.new_test_id(), 9, msg, trailers_only, method, tls=False)
    assert dcode == grpc.StatusCode.FAILED_PRECONDITION  # the backend itself
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert details == ddetails == msg
    via = H.md_get(trailers, "grpc-status-details-bin")
    direct = H.md_get(dtrailers, "grpc-status-details-bin")
    assert direct is not None, "backend sent no grpc-status-details-bin: %r" % (dtrailers,)
    assert via == direct
    st = pbm.RpcStatus.FromString(via)
    assert st.code == 9
    assert st.message == msg


def test_response_headers_pass_through(stack):
    tid = H.new_test_id()
    req = H.make_request("AnalyzePlan", session_id=SESSION)
    _, call = H.rpc(stack.channel, "AnalyzePlan").with_call(req, metadata=H.md(tid), timeout=TIMEOUT)
    names = [k for k, _ in call.initial_metadata()]
    assert "x-sc-backend" in names
    for h in ("connection", "keep-alive", "transfer-encoding"):
        assert h not in names


def test_unknown_method_unimplemented(stack):
    tid = H.new_test_id()
    for path in (H.SERVICE + "NoSuchMethod", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                 "/spark.connect.SparkConnectService/executeplan"):
        m = stack.channel.unary_unary(path, request_serializer=lambda b: b,
                                      response_deserializer=lambda b: b)
        with pytest.raises(grpc.RpcError) as ei:
            m(b"\x0a\x03abc", metadata=H.md(tid), timeout=TIMEOUT)
        assert ei.value.code() == grpc.StatusCode.UNIMPLEMENTED, (path, ei.value)
    # never forwarded
    assert stack.b1.find_stream(tid) is None
    # the connection is still usable
    _, call = H.rpc(stack.channel, "Config").with_call(
        H.make_request("Config", session_id=SESSION), metadata=H.md(H.new_test_id()), timeout=TIMEOUT)
    assert call.code() == grpc.StatusCode.OK


def test_many_concurrent_calls(stack):
    """100 concurrent unary calls and 8 small streams on one connection."""
    futs = []
    uc = H.rpc(stack.channel, "Config")
    for i in range(100):
        futs.append(uc.future(H.make_request("Config", session_id=SESSION),
                              metadata=H.md(H.new_test_id()), timeout=TIMEOUT))
    streams = [H.rpc(stack.channel, "ExecutePlan")(
        H.make_request("ExecutePlan", session_id=SESSION),
        metadata=H.md(H.new_test_id(), sc_test_count=20, sc_test_size=20000), timeout=TIMEOUT)
        for _ in range(8)]
    for s in streams:
        rs = list(s)
        assert len(rs) == 21 and rs[-1].HasField("result_complete")
    for f in futs:
        assert f.result(timeout=TIMEOUT).session_id == SESSION
