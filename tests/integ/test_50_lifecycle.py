"""Process lifecycle: sd_notify, SIGHUP reloads (good and bad), SIGTERM
drain."""

import errno
import signal
import socket
import threading
import time

import grpc

import sgharness as H

SESSION = "ae4c2d30-7f51-4052-b16e-9d1f20314253"


class StreamThread(threading.Thread):
    """Runs one slow ExecutePlan in the background, recording what came back."""

    def __init__(self, channel, tid, count, delay_ms, size=100):
        super().__init__(daemon=True)
        self.call = H.rpc(channel, "ExecutePlan")(
            H.make_request("ExecutePlan", session_id=SESSION),
            metadata=H.md(tid, sc_test_count=count, sc_test_delay_ms=delay_ms, sc_test_size=size),
            timeout=60)
        self.responses = []
        self.error = None
        self.first = threading.Event()

    def run(self):
        try:
            for r in self.call:
                self.responses.append(r)
                self.first.set()
        except grpc.RpcError as e:
            self.error = e
        finally:
            self.first.set()

    def result(self, timeout):
        self.join(timeout)
        assert not self.is_alive(), "stream still running after %.0fs" % timeout
        return self.call.code()


def _config(port, backends, **kw):
    return H.sg_config(port, backends, **kw)


def test_sd_notify_ready(fstack):
    msgs = fstack.sg.notify.all_raw()
    assert any("READY=1" in m.split("\n") for m in msgs), msgs


def test_sighup_good_config_switches_backend(procs):
    b1 = procs.backend("b1")
    b2 = procs.backend("b2")
    port = H.free_port()
    sg = procs.sparkgate(_config(port, [("b1", b1.address)]))
    ch = H.grpc_channel(port)
    try:
        tid_old = H.new_test_id()
        old = StreamThread(ch, tid_old, count=10, delay_ms=250)
        old.start()
        assert old.first.wait(10) and not old.error
        sg.write_config(_config(port, [("b2", b2.address)]))
        sg.notify.drain()
        sg.signal(signal.SIGHUP)
        rl = sg.notify.wait_for("RELOADING", "1", timeout=10, proc=sg)
        # systemd's Type=notify-reload wants the reload's start time
        assert rl.get("MONOTONIC_USEC", "").isdigit(), rl
        ready = sg.notify.wait_for("READY", "1", timeout=10, proc=sg)
        assert ready.get("STATUS"), ready
        H.wait_until(lambda: "reloaded configuration" in sg.stderr(), 5, what="'reloaded configuration' log")
        # new calls reach b2 (new connection and the existing one)
        for c in (ch, H.grpc_channel(port)):
            tid = H.new_test_id()
            _, call = H.rpc(c, "Config").with_call(
                H.make_request("Config", session_id=SESSION), metadata=H.md(tid), timeout=10)
            assert H.md_get(call.initial_metadata(), "x-sc-backend") == "b2"
            b2.wait_stream(tid)
            assert b1.find_stream(tid) is None
        # the in-flight stream completes on b1
        assert old.result(30) == grpc.StatusCode.OK, old.error
        assert len(old.responses) == 11 and old.responses[-1].HasField("result_complete")
        assert H.md_get(old.call.initial_metadata(), "x-sc-backend") == "b1"
        s = b1.wait_stream(tid_old)
        assert s["close"]["cancelled"] is False
    finally:
        ch.close()


def test_sighup_bad_config_keeps_old(procs):
    b1 = procs.backend("b1")
    port = H.free_port()
    sg = procs.sparkgate(_config(port, [("b1", b1.address)]))
    ch = H.grpc_channel(port)
    try:
        for bad in ('{"workers": 2, "listen": [', _bad_unknown_key(port, b1)):
            sg.write_config(bad)
            sg.notify.drain()
            sg.signal(signal.SIGHUP)
            sg.notify.wait_for("RELOADING", "1", timeout=10, proc=sg)
            ready = sg.notify.wait_for("READY", "1", timeout=10, proc=sg)
            assert "reload failed" in ready.get("STATUS", ""), ready
            H.wait_until(lambda: "reload failed" in sg.stderr(), 5, what="'reload failed' log")
            assert sg.alive()
            tid = H.new_test_id()
            resp, call = H.rpc(ch, "Config").with_call(
                H.make_request("Config", session_id=SESSION), metadata=H.md(tid), timeout=10)
            assert resp.session_id == SESSION
            assert H.md_get(call.initial_metadata(), "x-sc-backend") == "b1"
            # and new connections work too
            ch2 = H.grpc_channel(port)
            H.rpc(ch2, "Config")(H.make_request("Config", session_id=SESSION), timeout=10)
            ch2.close()
        assert sg.stderr().count("reload failed") >= 2
        # the error names the file and position
        assert sg.config_path in sg.stderr()
    finally:
        ch.close()


def _bad_unknown_key(port, b1):
    import json
    c = _config(port, [("b1", b1.address)])
    c["backendz"] = []
    return json.dumps(c, indent=2)


def test_sighup_repeated_under_load(procs):
    """20 reloads while calls are running: no failed call, no crash."""
    b1 = procs.backend("b1")
    port = H.free_port()
    sg = procs.sparkgate(_config(port, [("b1", b1.address)]))
    ch = H.grpc_channel(port)
    stop = threading.Event()
    errors = []
    count = [0]

    def load():
        m = H.rpc(ch, "Config")
        while not stop.is_set() and count[0] < 5000:
            try:
                m(H.make_request("Config", session_id=SESSION), timeout=10)
                count[0] += 1
            except grpc.RpcError as e:
                errors.append(e)
                return

    t = threading.Thread(target=load, daemon=True)
    t.start()
    try:
        for i in range(20):
            sg.signal(signal.SIGHUP)
            sg.notify.wait_for("READY", "1", timeout=10, proc=sg)
            time.sleep(0.05)
        stop.set()
        t.join(15)
        assert not errors, errors[0]
        assert count[0] > 20
    finally:
        stop.set()
        ch.close()


def _connect_refused(port):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        return False
    except OSError as e:
        return e.errno in (errno.ECONNREFUSED,)
    finally:
        s.close()


def test_sigterm_drains_in_flight(procs):
    b1 = procs.backend("b1")
    port = H.free_port()
    sg = procs.sparkgate(_config(port, [("b1", b1.address)], timeouts={"drain_ms": 20000}))
    ch = H.grpc_channel(port)
    try:
        tid = H.new_test_id()
        st = StreamThread(ch, tid, count=12, delay_ms=250)
        st.start()
        assert st.first.wait(10) and not st.error
        t0 = time.monotonic()
        sg.signal(signal.SIGTERM)
        sg.notify.wait_for("STOPPING", "1", timeout=5, proc=sg)
        # no new connections while draining
        H.wait_until(lambda: _connect_refused(port), 3, what="listener closed")
        assert sg.alive(), "sparkgate exited before the in-flight stream finished"
        assert st.result(30) == grpc.StatusCode.OK, st.error
        assert len(st.responses) == 13 and st.responses[-1].HasField("result_complete")
        rc = sg.wait(15)
        assert rc == 0, "exit status %s" % rc
        assert time.monotonic() - t0 < 15
        assert b1.wait_stream(tid)["close"]["cancelled"] is False
    finally:
        ch.close()


def test_sigterm_drain_timeout(procs):
    """A stream longer than timeouts.drain_ms is cut off; sparkgate still
    exits 0 promptly."""
    b1 = procs.backend("b1")
    port = H.free_port()
    sg = procs.sparkgate(_config(port, [("b1", b1.address)], timeouts={"drain_ms": 1000}))
    ch = H.grpc_channel(port)
    try:
        tid = H.new_test_id()
        st = StreamThread(ch, tid, count=100, delay_ms=200)
        st.start()
        assert st.first.wait(10)
        t0 = time.monotonic()
        sg.signal(signal.SIGTERM)
        rc = sg.wait(10)
        assert rc == 0, "exit status %s" % rc
        assert time.monotonic() - t0 < 6
        assert st.result(10) != grpc.StatusCode.OK
        s = b1.wait_stream(tid, timeout=5)
        assert s["close"]["cancelled"] is True
    finally:
        ch.close()


def test_sigterm_idle_exits_zero(fstack):
    sg = fstack.sg
    sg.signal(signal.SIGTERM)
    sg.notify.wait_for("STOPPING", "1", timeout=5, proc=sg)
    assert sg.wait(5) == 0
