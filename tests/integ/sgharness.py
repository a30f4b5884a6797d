"""sgharness: process, certificate, proto and client helpers for sparkgate's
integration tests.

Everything here is bounded: every wait has a timeout, every loop an upper
limit, and every child process is killed at teardown (SIGKILL if needed).

Binaries: $SPARKGATE_BIN (default $top_builddir/sparkgate) and
$SC_BACKEND_BIN (default $top_builddir/tests/backend/sc-test-backend);
top_builddir/top_srcdir come from `make check` (AM_TESTS_ENVIRONMENT) and
default to the repository root.  Temporary files go under $SG_INTEG_TMPDIR
(run.sh points it into the build tree) or the system temp dir, never into
the source tree.
"""

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
TOP_SRCDIR = os.path.abspath(os.environ.get("top_srcdir") or os.path.join(HERE, "..", ".."))
TOP_BUILDDIR = os.path.abspath(os.environ.get("top_builddir") or TOP_SRCDIR)
SPARKGATE_BIN = os.environ.get("SPARKGATE_BIN") or os.path.join(TOP_BUILDDIR, "sparkgate")
SC_BACKEND_BIN = os.environ.get("SC_BACKEND_BIN") or os.path.join(
    TOP_BUILDDIR, "tests", "backend", "sc-test-backend")
GEN_CERTS = os.path.join(TOP_SRCDIR, "certs", "gen-dev-certs.sh")
PROTO_DIR = os.path.join(TOP_SRCDIR, "tests", "proto")
PROTO_FILE = "spark_connect_subset.proto"

SERVICE = "/spark.connect.SparkConnectService/"
SAN_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

# (method, request message, response message, kind)
RPCS = {
    "ExecutePlan": ("ExecutePlanRequest", "ExecutePlanResponse", "server"),
    "AnalyzePlan": ("AnalyzePlanRequest", "AnalyzePlanResponse", "unary"),
    "Config": ("ConfigRequest", "ConfigResponse", "unary"),
    "AddArtifacts": ("AddArtifactsRequest", "AddArtifactsResponse", "client"),
    "ArtifactStatus": ("ArtifactStatusesRequest", "ArtifactStatusesResponse", "unary"),
    "Interrupt": ("InterruptRequest", "InterruptResponse", "unary"),
    "ReattachExecute": ("ReattachExecuteRequest", "ExecutePlanResponse", "server"),
    "ReleaseExecute": ("ReleaseExecuteRequest", "ReleaseExecuteResponse", "unary"),
    "ReleaseSession": ("ReleaseSessionRequest", "ReleaseSessionResponse", "unary"),
    "FetchErrorDetails": ("FetchErrorDetailsRequest", "FetchErrorDetailsResponse", "unary"),
    "CloneSession": ("CloneSessionRequest", "CloneSessionResponse", "unary"),
    "GetStatus": ("GetStatusRequest", "GetStatusResponse", "unary"),
}
UNARY_METHODS = [m for m, v in RPCS.items() if v[2] == "unary"]

# grpc status codes
OK, CANCELLED, UNKNOWN, INVALID_ARGUMENT, DEADLINE_EXCEEDED = 0, 1, 2, 3, 4
NOT_FOUND, FAILED_PRECONDITION, UNIMPLEMENTED, UNAVAILABLE = 5, 9, 12, 14

_tmp_root = None
_tmp_lock = threading.Lock()


def tmp_root():
    """One temp directory per test session (removed at exit unless kept)."""
    global _tmp_root
    with _tmp_lock:
        if _tmp_root is None:
            base = os.environ.get("SG_INTEG_TMPDIR") or None
            if base:
                os.makedirs(base, exist_ok=True)
            _tmp_root = tempfile.mkdtemp(prefix="sg-integ-", dir=base)
        return _tmp_root


def cleanup_tmp_root():
    global _tmp_root
    if _tmp_root and not os.environ.get("SG_INTEG_KEEP"):
        shutil.rmtree(_tmp_root, ignore_errors=True)
    _tmp_root = None


def wait_until(pred, timeout, interval=0.02, what="condition"):
    """Polls pred() until it returns a truthy value; returns it.  Raises
    AssertionError after |timeout| seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def read_tail(path, nbytes=6000):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - nbytes))
            return f.read().decode("utf-8", "replace")
    except OSError as e:
        return "<%s>" % e


def proc_status(pid):
    """VmRSS/VmHWM etc. from /proc/PID/status, in bytes."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k.startswith("Vm"):
                    parts = v.split()
                    if parts and parts[0].isdigit():
                        out[k] = int(parts[0]) * 1024
    except OSError:
        pass
    return out


def proc_io(pid):
    """/proc/PID/io counters (wchar = bytes handed to write()/send())."""
    out = {}
    try:
        with open("/proc/%d/io" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if v.strip().isdigit():
                    out[k] = int(v)
    except OSError:
        pass
    return out


# --------------------------------------------------------------------------
# certificates and protos (once per session)

_certs = None
_pb = None


def certs():
    """Directory with ca.pem server.pem ... generated by certs/gen-dev-certs.sh."""
    global _certs
    if _certs is None:
        d = os.path.join(tmp_root(), "certs")
        r = subprocess.run(["sh", GEN_CERTS, d], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("gen-dev-certs.sh failed:\n" + r.stdout.decode(errors="replace"))
        _certs = Certs(d)
    return _certs


class Certs:
    def __init__(self, d):
        self.dir = d
        for n in ("ca", "server", "backend", "client", "alice"):
            setattr(self, n + "_pem", os.path.join(d, n + ".pem"))
            setattr(self, n + "_key", os.path.join(d, n + ".key"))

    def ca_bytes(self):
        with open(self.ca_pem, "rb") as f:
            return f.read()


def pb():
    """The protoc-generated module for tests/proto/spark_connect_subset.proto."""
    global _pb
    if _pb is None:
        out = os.path.join(tmp_root(), "gen")
        os.makedirs(out, exist_ok=True)
        protoc = shutil.which("protoc") or "/usr/bin/protoc"
        r = subprocess.run([protoc, "-I" + PROTO_DIR, "--python_out=" + out, PROTO_FILE],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("protoc failed:\n" + r.stdout.decode(errors="replace"))
        if out not in sys.path:
            sys.path.insert(0, out)
        import spark_connect_subset_pb2 as mod  # noqa: E402
        _pb = mod
    return _pb


# --------------------------------------------------------------------------
# child processes

class Proc:
    """A child process with stdout/stderr in files; killed at close()."""
    _seq = 0

    def __init__(self, name, argv, env=None):
        Proc._seq += 1
        self.name = name
        base = os.path.join(tmp_root(), "%s-%d" % (name, Proc._seq))
        self.stdout_path = base + ".stdout"
        self.stderr_path = base + ".stderr"
        self.argv = argv
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._out,
                                  stderr=self._err, env=full_env, close_fds=True)
        self.pid = self.p.pid
        self.killed_by_us = False

    def alive(self):
        return self.p.poll() is None

    def returncode(self):
        return self.p.poll()

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def signal(self, sig):
        if self.alive():
            self.p.send_signal(sig)

    def wait(self, timeout):
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.alive():
            self.killed_by_us = True
            self.p.kill()
            self.p.wait(10)

    def close(self, term_timeout=5.0):
        """SIGTERM, then SIGKILL after term_timeout.  Returns the exit status
        (negative = signal)."""
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            if self.wait(term_timeout) is None:
                self.kill()
        for f in (self._out, self._err):
            try:
                f.close()
            except OSError:
                pass
        return self.p.returncode

    def sanitizer_report(self):
        err = self.stderr()
        for m in SAN_MARKERS:
            i = err.find(m)
            if i >= 0:
                return err[max(0, i - 200):i + 3000]
        return None

    def status(self):
        return proc_status(self.pid)

    def written(self):
        """Bytes this process has written to files and sockets so far."""
        return proc_io(self.pid).get("wchar", 0)


class Backend(Proc):
    """tests/backend/sc-test-backend."""

    def __init__(self, name="b1", tls=False, client_ca=None, h2c=True, extra=()):
        if not os.path.exists(SC_BACKEND_BIN):
            raise RuntimeError("test backend not built: %s" % SC_BACKEND_BIN)
        self.backend_name = name
        self.record_path = os.path.join(tmp_root(), "record-%s-%d.jsonl" % (name, Proc._seq + 1))
        argv = [SC_BACKEND_BIN, "--name", name, "--record", self.record_path]
        if h2c:
            argv += ["--listen", "127.0.0.1:0"]
        if tls:
            c = certs()
            argv += ["--tls-listen", "127.0.0.1:0", "--tls-cert", c.backend_pem,
                     "--tls-key", c.backend_key]
            if client_ca:
                argv += ["--tls-client-ca", client_ca]
        argv += list(extra)
        super().__init__("backend-" + name, argv)
        self.h2c_port = None
        self.tls_port = None
        try:
            self._wait_ready(10.0)
        except BaseException:
            self.kill()
            raise

    def _wait_ready(self, timeout):
        def ready():
            if not self.alive():
                raise AssertionError("backend %s exited (%s) before READY:\n%s" % (
                    self.backend_name, self.returncode(), read_tail(self.stderr_path)))
            return "READY" in self.stdout().split()
        wait_until(ready, timeout, what="backend READY")
        for line in self.stdout().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "LISTEN":
                port = int(parts[2].rsplit(":", 1)[1])
                if parts[1] == "h2c":
                    self.h2c_port = port
                elif parts[1] == "tls":
                    self.tls_port = port

    @property
    def address(self):
        return "127.0.0.1:%d" % self.h2c_port

    @property
    def tls_address(self):
        return "127.0.0.1:%d" % self.tls_port

    def records(self):
        out = []
        try:
            with open(self.record_path, "rb") as f:
                data = f.read()
        except OSError:
            return out
        for line in data.split(b"\n"):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # a line being written right now
        return out

    def streams(self):
        """Groups records by stream: list of dicts with keys open, messages,
        close (close may be None while the stream is open)."""
        recs = self.records()
        streams = []
        by_key = {}
        open_by_method = {}
        for r in recs:
            ev = r.get("ev")
            key = (r.get("conn"), r.get("stream"))
            if ev == "stream_open":
                s = {"open": r, "messages": [], "close": None}
                streams.append(s)
                by_key[key] = s
                open_by_method.setdefault(r.get("method"), []).append(s)
            elif ev in ("message", "stream_close"):
                s = by_key.get(key) if key != (None, None) else None
                if s is None:
                    # no ids in the record: the oldest stream of that method
                    # still waiting for this kind of event
                    cands = [c for c in open_by_method.get(r.get("method"), [])
                             if c["close"] is None]
                    s = cands[0] if cands else None
                if s is None:
                    continue
                if ev == "message":
                    s["messages"].append(r)
                else:
                    s["close"] = r
        return streams

    def find_stream(self, test_id, header="x-sg-test-id"):
        for s in self.streams():
            if header_value(s["open"].get("headers") or {}, header) == test_id:
                return s
        return None

    def wait_stream(self, test_id, timeout=5.0, closed=True):
        def f():
            s = self.find_stream(test_id)
            if s and (not closed or s["close"] is not None):
                return s
            return None
        return wait_until(f, timeout, what="backend %s record of stream %s%s" % (
            self.backend_name, test_id, " (closed)" if closed else ""))

    def conn_records(self):
        return [r for r in self.records() if r.get("ev") == "conn_open"]


def header_value(headers, name):
    """Header value from a record's headers (dict of str or list, or list of
    pairs)."""
    if isinstance(headers, dict):
        v = headers.get(name)
        if isinstance(v, list):
            return v[0] if len(v) == 1 else v
        return v
    if isinstance(headers, list):
        vals = [h[1] for h in headers if len(h) == 2 and h[0] == name]
        if not vals:
            return None
        return vals[0] if len(vals) == 1 else vals
    return None


class NotifySocket:
    """A unix datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sgn-", dir="/tmp")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []  # list of (monotonic time, dict of key=value, raw)
        self._consumed = 0

    def _recv(self, timeout):
        self.sock.settimeout(max(0.001, timeout))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return None
        text = data.decode("utf-8", "replace")
        kv = {}
        for line in text.split("\n"):
            if "=" in line:
                k, _, v = line.partition("=")
                kv[k] = v
        self.messages.append((time.monotonic(), kv, text))
        return kv

    def drain(self):
        while self._recv(0.001) is not None:
            pass

    def wait_for(self, key, value=None, timeout=10.0, proc=None):
        """Waits for a not-yet-consumed message with key (=value).  Messages
        before it are consumed too.  Returns the message dict."""
        deadline = time.monotonic() + timeout
        while True:
            while self._consumed < len(self.messages):
                kv = self.messages[self._consumed][1]
                self._consumed += 1
                if key in kv and (value is None or kv[key] == value):
                    return kv
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s%s on NOTIFY_SOCKET within %.1fs (got %r)" % (
                    key, "=" + value if value else "", timeout,
                    [m[2] for m in self.messages]))
            if proc is not None and not proc.alive():
                self.drain()
                if self._consumed < len(self.messages):
                    continue
                raise AssertionError("%s exited (%s) while waiting for %s on NOTIFY_SOCKET" % (
                    proc.name, proc.returncode(), key))
            self._recv(min(left, 0.1))

    def all_raw(self):
        self.drain()
        return [m[2] for m in self.messages]

    def close(self):
        try:
            self.sock.close()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def sg_config(port, backends, tls=True, plaintext=False, **extra):
    """A sparkgate config dict.  backends: list of (name, address) or dicts."""
    c = certs()
    listener = {"address": "127.0.0.1:%d" % port}
    if plaintext:
        listener["plaintext"] = True
    elif tls:
        listener["tls"] = {"certificate": c.server_pem, "private_key": c.server_key}
    bl = []
    for b in backends:
        if isinstance(b, dict):
            bl.append(b)
        else:
            bl.append({"name": b[0], "address": b[1]})
    cfg = {"workers": 2, "listen": [listener], "backends": bl, "log": {"level": "debug"}}
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict):
            cfg[k].update(v)
        else:
            cfg[k] = v
    return cfg


class Sparkgate(Proc):
    _n = 0

    def __init__(self, config, ready_timeout=15.0, port=None):
        if not os.path.exists(SPARKGATE_BIN):
            raise RuntimeError("sparkgate not built: %s" % SPARKGATE_BIN)
        Sparkgate._n += 1
        self.config_path = os.path.join(tmp_root(), "sparkgate-%d.json" % Sparkgate._n)
        self.write_config(config)
        self.port = port
        if self.port is None:
            addr = config["listen"][0]["address"]
            self.port = int(addr.rsplit(":", 1)[1])
        self.notify = NotifySocket()
        # Under ASan, freed memory sits in a quarantine (256 MiB by default)
        # and counts as resident: cap it so the memory-bound assertions
        # measure sparkgate, not the sanitizer.  Harmless without ASan.
        asan = os.environ.get("ASAN_OPTIONS", "")
        asan = (asan + ":" if asan else "") + "quarantine_size_mb=16"
        super().__init__("sparkgate", [SPARKGATE_BIN, "-c", self.config_path],
                         env={"NOTIFY_SOCKET": self.notify.path, "ASAN_OPTIONS": asan})
        try:
            self.notify.wait_for("READY", "1", timeout=ready_timeout, proc=self)
        except AssertionError as e:
            self.kill()
            self.notify.close()
            raise AssertionError("%s\nsparkgate stderr:\n%s" % (e, read_tail(self.stderr_path)))

    def write_config(self, config):
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            if isinstance(config, str):
                f.write(config)
            else:
                json.dump(config, f, indent=2)
        os.replace(tmp, self.config_path)

    def rss(self):
        return self.status().get("VmRSS", 0)

    def hwm(self):
        return self.status().get("VmHWM", 0)

    def check_health(self):
        """Raises if sparkgate died from a signal or sanitizers reported."""
        rc = self.returncode()
        rep = self.sanitizer_report()
        if rep:
            raise AssertionError("sanitizer report in sparkgate stderr:\n" + rep)
        if rc is not None and rc < 0 and not self.killed_by_us:
            raise AssertionError("sparkgate died from signal %d:\n%s" % (
                -rc, read_tail(self.stderr_path)))

    def close(self, term_timeout=10.0):
        rc = super().close(term_timeout)
        self.notify.close()
        return rc


# --------------------------------------------------------------------------
# gRPC client (grpcio)

def grpc_channel(port, tls=True, ca=None, authority="localhost", options=()):
    import grpc
    opts = [("grpc.enable_http_proxy", 0),
            ("grpc.max_receive_message_length", 256 * 1024 * 1024),
            ("grpc.max_send_message_length", 256 * 1024 * 1024),
            ("grpc.enable_retries", 0)] + list(options)
    target = "%s:%d" % (authority, port)
    if tls:
        creds = grpc.ssl_channel_credentials(root_certificates=ca or certs().ca_bytes())
        return grpc.secure_channel(target, creds, options=opts)
    return grpc.insecure_channel("127.0.0.1:%d" % port, options=opts)


def _identity(b):
    return b


def rpc(channel, method, raw_response=False):
    """A callable for a Spark Connect method on |channel| (generic stubs)."""
    req_name, resp_name, kind = RPCS.get(method, ("ConfigRequest", "ConfigResponse", "unary"))
    m = pb()
    ser = (lambda x: x if isinstance(x, (bytes, bytearray)) else x.SerializeToString())
    de = _identity if raw_response else getattr(m, resp_name).FromString
    path = method if method.startswith("/") else SERVICE + method
    if kind == "unary":
        return channel.unary_unary(path, request_serializer=ser, response_deserializer=de)
    if kind == "server":
        return channel.unary_stream(path, request_serializer=ser, response_deserializer=de)
    return channel.stream_unary(path, request_serializer=ser, response_deserializer=de)


def user_context(user_id="u-1", user_name="alice"):
    return pb().UserContext(user_id=user_id, user_name=user_name)


def make_request(method, session_id="00112233-4455-6677-8899-aabbccddeeff", **kw):
    """A minimal valid request message for |method|.  ExecutePlan gets a fresh
    operation_id (the test backend, like Spark, refuses to reuse one)."""
    m = pb()
    req_name = RPCS[method][0]
    uc = user_context(kw.pop("user_id", "u-1"), kw.pop("user_name", "alice"))
    msg = getattr(m, req_name)(session_id=session_id, user_context=uc)
    if method == "ExecutePlan":
        msg.plan.root.sql.query = kw.pop("query", "SELECT 1")
        msg.operation_id = kw.pop("operation_id", None) or str(uuid.uuid4())
    elif method == "AnalyzePlan":
        msg.spark_version.SetInParent()
    elif method == "Config":
        msg.operation.get_option.keys.append("spark.sql.shuffle.partitions")
    elif method == "ArtifactStatus":
        msg.names.append("jars/a.jar")
    elif method == "Interrupt":
        msg.interrupt_type = m.InterruptRequest.INTERRUPT_TYPE_ALL
    elif method == "ReattachExecute":
        msg.operation_id = kw.pop("operation_id", None) or str(uuid.uuid4())
    elif method == "ReleaseExecute":
        msg.operation_id = kw.pop("operation_id", None) or str(uuid.uuid4())
        msg.release_all.SetInParent()
    elif method == "ReleaseSession":
        pass
    elif method == "FetchErrorDetails":
        msg.error_id = "e-1"
    elif method == "CloneSession":
        msg.new_session_id = str(uuid.uuid4())
    elif method == "GetStatus":
        msg.operation_status.SetInParent()
    for k, v in kw.items():
        setattr(msg, k, v)
    return msg


def new_test_id():
    return base64.b32encode(os.urandom(10)).decode().lower()


def md(test_id, **extra):
    """Request metadata: the test id plus sc-test-* controls (ints allowed)."""
    out = [("x-sg-test-id", test_id)]
    for k, v in extra.items():
        out.append((k.replace("_", "-"), v if isinstance(v, bytes) else str(v)))
    return out


def md_get(metadata, key):
    for k, v in metadata or ():
        if k == key:
            return v
    return None


# --------------------------------------------------------------------------
# gRPC framing

def grpc_frame(payload, compressed=False):
    return struct.pack(">BI", 1 if compressed else 0, len(payload)) + payload


class GrpcDecoder:
    """Incremental gRPC message deframer; hashes bodies and optionally keeps
    them."""

    def __init__(self, keep=True):
        self.buf = bytearray()
        self.keep = keep
        self.messages = []
        self.count = 0
        self.nbytes = 0
        self.sha = hashlib.sha256()
        self.compressed_flags = []

    def feed(self, data):
        self.buf += data
        while len(self.buf) >= 5:
            flag, n = struct.unpack_from(">BI", self.buf, 0)
            if len(self.buf) < 5 + n:
                break
            body = bytes(self.buf[5:5 + n])
            del self.buf[:5 + n]
            self.count += 1
            self.nbytes += n
            self.sha.update(body)
            self.compressed_flags.append(flag)
            if self.keep:
                self.messages.append(body)


# --------------------------------------------------------------------------
# raw HTTP/2 client (python3-h2), for flow-control and hostile tests

class H2Stream:
    def __init__(self, sid, keep=True, auto_ack=True):
        self.id = sid
        self.headers = None
        self.trailers = None
        self.body = GrpcDecoder(keep=keep)
        self.raw_len = 0
        self.unacked = 0
        self.auto_ack = auto_ack
        self.ended = False
        self.reset_code = None
        self.reset_by_peer = False
        self.first_data_time = None

    def header(self, name):
        for src in (self.headers or [], self.trailers or []):
            for k, v in src:
                k = k.decode() if isinstance(k, bytes) else k
                if k == name:
                    return v.decode() if isinstance(v, bytes) else v
        return None

    def status(self):
        v = self.header(":status")
        return int(v) if v else None

    def grpc_status(self):
        # trailers first, then (trailers-only) headers
        for src in (self.trailers or [], self.headers or []):
            for k, v in src:
                if k in (b"grpc-status", "grpc-status"):
                    return int(v)
        return None

    def grpc_message(self):
        return self.header("grpc-message")

    @property
    def done(self):
        return self.ended or self.reset_code is not None


class H2Client:
    def __init__(self, port, tls=True, alpn=("h2",), timeout=10.0,
                 stream_window=1 << 20, conn_window=1 << 20, max_frame=16384,
                 server_hostname="localhost", validate_headers=True):
        import h2.config
        import h2.connection
        import h2.settings
        self.port = port
        self.timeout = timeout
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            ctx = ssl.create_default_context(cafile=certs().ca_pem)
            if alpn:
                ctx.set_alpn_protocols(list(alpn))
            self.sock = ctx.wrap_socket(raw, server_hostname=server_hostname)
            self.alpn = self.sock.selected_alpn_protocol()
        else:
            self.sock = raw
            self.alpn = None
        # validate_headers=False lets hostile tests send what RFC 9113 forbids
        cfg = h2.config.H2Configuration(client_side=True, header_encoding=None,
                                        validate_outbound_headers=validate_headers,
                                        normalize_outbound_headers=validate_headers)
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.local_settings = h2.settings.Settings(
            client=True, initial_values={
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: stream_window,
                h2.settings.SettingCodes.MAX_FRAME_SIZE: max_frame,
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
            })
        self.conn.initiate_connection()
        if conn_window > 65535:
            self.conn.increment_flow_control_window(conn_window - 65535)
        self.streams = {}
        self.goaway = None
        self.closed = False
        self.conn_unacked = 0
        self.conn_auto_ack = True
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def request(self, path, headers=(), body=None, end_stream=True, method="POST",
                grpc=True, keep=True, auto_ack=True):
        sid = self.conn.get_next_available_stream_id()
        h = [(":method", method), (":scheme", "https" if self.alpn else "http"),
             (":path", path), (":authority", "localhost:%d" % self.port)]
        if grpc:
            h += [("content-type", "application/grpc"), ("te", "trailers"),
                  ("user-agent", "sg-integ-h2/1")]
        h += list(headers)
        st = H2Stream(sid, keep=keep, auto_ack=auto_ack)
        self.streams[sid] = st
        self.conn.send_headers(sid, h, end_stream=(body is None and end_stream))
        if body is not None:
            self.send_data(sid, body, end_stream=end_stream)
        self.flush()
        return st

    def grpc_call(self, method, message, metadata=(), end_stream=True, keep=True,
                  auto_ack=True, compressed=False):
        path = method if method.startswith("/") else SERVICE + method
        payload = message if isinstance(message, bytes) else message.SerializeToString()
        return self.request(path, headers=metadata, body=grpc_frame(payload, compressed),
                            end_stream=end_stream, keep=keep, auto_ack=auto_ack)

    def send_data(self, sid, data, end_stream=False, timeout=None):
        """Sends data respecting the peer's flow control (pumps while
        blocked)."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        view = memoryview(data)
        while True:
            n = min(len(view), self.conn.local_flow_control_window(sid),
                    self.conn.max_outbound_frame_size)
            if n > 0 or (len(view) == 0):
                self.conn.send_data(sid, view[:n].tobytes(), end_stream=(end_stream and n == len(view)))
                view = view[n:]
                self.flush()
                if len(view) == 0:
                    return
                continue
            if time.monotonic() >= deadline:
                raise AssertionError("send_data: peer gave no flow-control credit for %.1fs" % timeout)
            self.pump(0.2)

    def reset(self, sid, code=8):
        self.conn.reset_stream(sid, error_code=code)
        self.flush()

    def ack(self, st, nbytes=None):
        n = st.unacked if nbytes is None else nbytes
        if n:
            self.conn.acknowledge_received_data(n, st.id)
            st.unacked -= n
            self.flush()

    def pump(self, timeout):
        """Reads once (up to timeout) and processes the events.  Returns False
        when the connection is closed."""
        import h2.events
        import h2.exceptions
        if self.closed:
            return False
        self.sock.settimeout(max(0.001, timeout))
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            return True
        except (ConnectionResetError, ssl.SSLError, OSError):
            self.closed = True
            return False
        if not data:
            self.closed = True
            return False
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.closed = True
            raise
        for ev in events:
            sid = getattr(ev, "stream_id", None)
            st = self.streams.get(sid)
            if isinstance(ev, h2.events.ResponseReceived) and st:
                st.headers = ev.headers
            elif isinstance(ev, h2.events.TrailersReceived) and st:
                st.trailers = ev.headers
            elif isinstance(ev, h2.events.DataReceived) and st:
                if st.first_data_time is None:
                    st.first_data_time = time.monotonic()
                st.body.feed(ev.data)
                st.raw_len += len(ev.data)
                if st.auto_ack:
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                else:
                    st.unacked += ev.flow_controlled_length
            elif isinstance(ev, h2.events.StreamEnded) and st:
                st.ended = True
            elif isinstance(ev, h2.events.StreamReset) and st:
                st.reset_code = ev.error_code
                st.reset_by_peer = True
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.goaway = ev
        self.flush()
        return True

    def wait(self, pred, timeout, what="h2 condition"):
        deadline = time.monotonic() + timeout
        while True:
            if pred():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
            if not self.pump(min(left, 0.2)):
                if pred():
                    return True
                raise AssertionError("connection closed while waiting for %s" % what)

    def wait_done(self, st, timeout):
        self.wait(lambda: st.done, timeout, what="stream %d to end" % st.id)
        return st


# --------------------------------------------------------------------------
# authentication: tokens, identity, the test IdP

def hash_token(token):
    """The sha256 hex digest sparkgate's config wants for a static token
    (what `sparkgate hash-token` prints)."""
    if isinstance(token, str):
        token = token.encode()
    return hashlib.sha256(token).hexdigest()


def new_token(prefix="sgt_"):
    """A fresh random static token (URL-safe, no padding)."""
    return prefix + base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()


def bearer(token, header="authorization", scheme="Bearer"):
    """Credential metadata: [(header, "Bearer <token>")]."""
    return [(header, "%s %s" % (scheme, token))]


def write_secret(name, data):
    """Writes |data| to a new mode-0600 file under the temp root; returns its path."""
    d = os.path.join(tmp_root(), "secrets")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "%s-%s" % (name, uuid.uuid4().hex[:8]))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return path


def pb_varint(n):
    """Protobuf base-128 varint; negative numbers as their 64-bit two's complement."""
    if n < 0:
        n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_len_field(num, payload):
    """A length-delimited protobuf field (tag, length, payload)."""
    return pb_varint(num << 3 | 2) + pb_varint(len(payload)) + payload


def hostile_user_contexts(msg, first=("mallory", "Mallory M."), last=("victim", "Victim V.")):
    """|msg| serialized with TWO user_context fields (field 2), one before and
    one after the other fields, each with a user_name and an extension:
    protobuf merges them, so a naive backend would see user_id |last|."""
    m = pb()
    body = type(msg)()
    body.CopyFrom(msg)
    body.ClearField("user_context")

    def uc(uid, name):
        u = m.UserContext(user_id=uid, user_name=name)
        u.extensions.add(type_url="type.googleapis.com/evil.Impersonate", value=uid.encode())
        return pb_len_field(2, u.SerializeToString())
    return uc(*first) + body.SerializeToString() + uc(*last)


def grpc_message_decoded(st):
    """An H2Stream's grpc-message, percent-decoded (gRPC spec)."""
    from urllib.parse import unquote
    v = st.grpc_message()
    return None if v is None else unquote(v)


IDP_SCRIPT = os.path.join(HERE, "idp.py")


class IdP(Proc):
    """tests/integ/idp.py: an HTTPS JWKS server (dev server certificate,
    SAN 127.0.0.1) recording every request.  |jwks|: list of JWK dicts."""

    def __init__(self, name="idp", jwks=()):
        c = certs()
        base = os.path.join(tmp_root(), "%s-%s" % (name, uuid.uuid4().hex[:8]))
        self.jwks_path = base + ".jwks.json"
        self.record_path = base + ".record.jsonl"
        self.control_path = base + ".control.json"
        self.set_keys(jwks)
        argv = [sys.executable, IDP_SCRIPT, "--cert", c.server_pem, "--key", c.server_key,
                "--jwks", self.jwks_path, "--record", self.record_path,
                "--control", self.control_path]
        super().__init__(name, argv)
        self.port = None
        try:
            def ready():
                if not self.alive():
                    raise AssertionError("idp exited (%s) before READY:\n%s" % (
                        self.returncode(), read_tail(self.stderr_path)))
                return "READY" in self.stdout().split()
            wait_until(ready, 15.0, what="idp READY")
            for line in self.stdout().splitlines():
                parts = line.split()
                if len(parts) == 3 and parts[0] == "LISTEN":
                    self.port = int(parts[2].rsplit(":", 1)[1])
        except BaseException:
            self.kill()
            raise

    @property
    def url(self):
        return "https://127.0.0.1:%d/jwks.json" % self.port

    def set_keys(self, jwks):
        """Atomically replaces the served key set."""
        tmp = self.jwks_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"keys": list(jwks)}, f)
        os.replace(tmp, self.jwks_path)

    def set_control(self, control):
        tmp = self.control_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(control, f)
        os.replace(tmp, self.control_path)

    def records(self):
        out = []
        try:
            with open(self.record_path, "rb") as f:
                data = f.read()
        except OSError:
            return out
        for line in data.split(b"\n"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def fetches(self):
        """Records of JWKS GETs (the key-set document), oldest first."""
        return [r for r in self.records() if r.get("method") == "GET" and
                r.get("path", "").split("?", 1)[0] in ("/jwks.json", "/.well-known/jwks.json")]


def sg_issuer(issuer, idp=None, **kw):
    """An auth.issuers[] entry; with |idp|, keys come from its JWKS URL over
    TLS verified against the dev CA."""
    d = {"issuer": issuer, "audiences": kw.pop("audiences", ["sparkgate"])}
    if idp is not None:
        d["jwks_url"] = idp.url
        d["jwks_ca"] = certs().ca_pem
    d.update(kw)
    return d


def auth_call(channel, method, req, md=(), token=None, header="authorization", tid=None,
              timeout=10.0):
    """One call of |method| (req: a message, raw bytes, or for AddArtifacts
    a list of either) with an optional bearer |token| in |header|.  Never
    raises for a gRPC status: returns (test id, grpc.StatusCode, details,
    response or list of responses or None)."""
    import grpc
    tid = tid or new_test_id()
    meta = [("x-sg-test-id", tid)] + list(md)
    if token is not None:
        meta += bearer(token, header)
    fn = rpc(channel, method)
    kind = RPCS[method][2]
    try:
        if kind == "unary":
            resp, _ = fn.with_call(req, metadata=meta, timeout=timeout)
            return tid, grpc.StatusCode.OK, "", resp
        if kind == "server":
            it = fn(req, metadata=meta, timeout=timeout)
            resps = list(it)
            return tid, it.code(), it.details(), resps
        resp, _ = fn.with_call(iter(req), metadata=meta, timeout=timeout)
        return tid, grpc.StatusCode.OK, "", resp
    except grpc.RpcError as e:
        return tid, e.code(), e.details() or "", None
