#!/usr/bin/python3
"""bench/bench.py: the benchmark driver behind bench/run.sh (see bench/README.md).

Measures the same gRPC workloads against four fronts, one after the other:
  direct-tls  the test backend's own TLS listener         (a)
  direct-h2c  the test backend's h2c listener (extra row)  (a')
  sparkgate   sparkgate, TLS front, h2c to the backend     (b)
  nghttpx     nghttpx (nghttp2-proxy), configured like sparkgate (c)
Workloads (h2load, one client thread):
  unary       Config calls, 16 connections x 10 streams: req/s, p50/p99 latency
  stream-c1   ExecutePlan 256 x 1 MiB messages per call, 1 connection x 1 stream: MB/s
  stream-c4   the same, 4 connections: MB/s
  idle        1,000 idle TLS+h2 connections (each made one Config call): proxy RSS
  auth        the unary case through sparkgate without auth, with a static token,
              an RS256 and an ES256 JWT (token cache on, and off: the cold cost),
              plus bench/jwt_verify_bench.c (auth_jwt_verify in a loop)
Writes raw outputs and results.json into bench/out/ and regenerates
docs/benchmarks.md.  Every external process is a child of this one and is
stopped on exit; the whole run has a hard deadline.
"""
import datetime
import json
import os
import re
import resource
import shlex
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "bench", "out")
DOC = os.path.join(ROOT, "docs", "benchmarks.md")
SPARKGATE = os.environ.get("BENCH_SPARKGATE") or os.path.join(ROOT, "sparkgate")  # another build
BACKEND = os.path.join(ROOT, "tests", "backend", "sc-test-backend")

DEADLINE_S = float(os.environ.get("BENCH_DEADLINE", "300"))   # hard stop for the whole run
UNARY_SECS = float(os.environ.get("BENCH_UNARY_SECS", "4"))   # target length of one unary run
STREAM_SECS = float(os.environ.get("BENCH_STREAM_SECS", "4"))  # target length of one stream run
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))              # measured runs per case (median)
NOISE = 0.25     # a run during which other processes used > 25% of a CPU is "noisy"
RETRIES = int(os.environ.get("BENCH_RETRIES", "8"))  # extra runs allowed for noisy ones, in all
IDLE_CONNS = int(os.environ.get("BENCH_IDLE_CONNS", "1000"))
AUTH_SECS = float(os.environ.get("BENCH_AUTH_SECS", "2.5"))    # target length of one auth run
MICRO_SECS = 0.3            # CPU seconds per operation in the JWT micro-benchmark
MICRO = os.path.join(OUT, "bin", "jwt-verify-bench")   # built by bench/run.sh
AUTH_TARGET = 0.10          # authenticated (cached) throughput within 10% of no auth
# which parts run (a subset leaves the other sections of the doc empty): unary, stream, idle, auth
SECTIONS = set(os.environ.get("BENCH_SECTIONS", "unary,stream,idle,auth").split(","))

MIB = 1 << 20
STREAM_MSGS = 256          # messages per ExecutePlan call
STREAM_MSG_SIZE = MIB      # bytes per message: 256 MiB per call
SESSION = "00112233-4455-6677-8899-aabbccddeeff"
SVC = "/spark.connect.SparkConnectService/"
GRPC_H = ["-H", "content-type: application/grpc", "-H", "te: trailers"]

# ---------------------------------------------------------------------------
# The two proxies, configured alike.  Both: 2 worker threads, TLS front with
# the same certificate, cleartext HTTP/2 to the same backend listener,
# 1 MiB stream / 16 MiB connection windows on both sides, no access log.
# ---------------------------------------------------------------------------
WORKERS = 2
STREAM_WINDOW = 1048576      # sparkgate limits.stream_window_size default (src/cfg.c)
CONN_WINDOW = 16777216       # sparkgate limits.connection_window_size default
BE_STREAM_WINDOW = 1048576   # limits.backend_stream_window_size default
BE_CONN_WINDOW = 16777216    # limits.backend_connection_window_size default
MAX_STREAMS = 100            # limits.max_concurrent_streams default


def sparkgate_config(port, be_port, certs):
    return {
        "workers": WORKERS,
        "listen": [{"address": "127.0.0.1:%d" % port,
                    "tls": {"certificate": os.path.join(certs, "server.pem"),
                            "private_key": os.path.join(certs, "server.key")}}],
        "backends": [{"name": "b1", "address": "127.0.0.1:%d" % be_port}],
        # every limit at its default (the values above); drain fast on SIGTERM
        "timeouts": {"drain_ms": 1000},
        "log": {"level": "warn", "access": False},
    }


# Section 4: the same sparkgate, plus an "auth" section.  One process holds the
# static token and the JWT issuer (keys from PEM files: no IdP, no JWKS fetch), so
# the static, RS256 and ES256 cases differ only by the token sent; a second one is
# identical with the token cache off ("token_cache_entries": 0, the cold cost).
# Every principal is "bench", the user_id the request already carries: the identity
# binding (call.c bind_identity) then rewrites user_context to the same bytes, so the
# request keeps its length.  h2load sends content-length and sparkgate forwards it as
# it is, so a rewrite that changed the length would be reset by the backend
# (PROTOCOL_ERROR -> grpc-status 14), which the data check below would report.
AUTH_ISS = "https://idp.bench.invalid/"
AUTH_AUD = "sparkgate"
AUTH_PRINCIPAL = "bench"
AUTH_KEYS = (   # (case, alg, openssl genpkey options, kid)
    ("rs256", "RS256", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], "bench-rs256"),
    ("es256", "ES256", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], "bench-es256"),
)


def auth_section(adir, static_sha256, cache=True):
    a = {
        "static_tokens": [{"sha256": static_sha256, "principal": AUTH_PRINCIPAL,
                           "profile": "bench"}],
        "issuers": [{"issuer": AUTH_ISS, "audiences": [AUTH_AUD], "algorithms": ["RS256", "ES256"],
                     "default_profile": "bench",
                     "public_keys": [{"kid": kid, "file": os.path.join(adir, "%s.pub" % case)}
                                     for case, _, _, kid in AUTH_KEYS]}],
    }
    if not cache:
        a["token_cache_entries"] = 0
    return a


# (flag, why) - the explanation goes into docs/benchmarks.md as well
NGHTTPX_FLAGS = [
    ("--conf=/dev/null",
     "ignore Debian's /etc/nghttpx/nghttpx.conf (it sets a no-tls frontend, workers=1, syslog)"),
    ("-f127.0.0.1,{port}",
     "frontend; TLS is on by default (no 'no-tls' parameter); key and cert are the positional "
     "arguments: the same server.key/server.pem sparkgate uses"),
    ("-b127.0.0.1,{be_port};;proto=h2",
     "backend: the same h2c listener of the same test backend; 'proto=h2' without 'tls' is "
     "cleartext HTTP/2, like a sparkgate backend without a \"tls\" object; empty pattern = catch-all"),
    ("-n%d" % WORKERS, "worker threads = sparkgate \"workers\""),
    ("--frontend-http2-window-size=%d" % STREAM_WINDOW,
     "client stream window = limits.stream_window_size (nghttpx default: 65535)"),
    ("--frontend-http2-connection-window-size=%d" % CONN_WINDOW,
     "client connection window = limits.connection_window_size (default: 65535)"),
    ("--backend-http2-window-size=%d" % BE_STREAM_WINDOW,
     "backend stream window = limits.backend_stream_window_size (default: 65535)"),
    ("--backend-http2-connection-window-size=%d" % BE_CONN_WINDOW,
     "backend connection window = limits.backend_connection_window_size (default: 2^31-1)"),
    ("--frontend-http2-max-concurrent-streams=%d" % MAX_STREAMS,
     "streams per client connection = limits.max_concurrent_streams (same as nghttpx's default)"),
    ("--tls13-ciphers=TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384",
     "TLS 1.3 suites in sparkgate's default order (AES-128-GCM first, \"ciphersuites\" unset); "
     "both prefer the server's order, so both negotiate TLS_AES_128_GCM_SHA256 with h2load "
     "(the backend's own TLS listener keeps OpenSSL's order: AES-256, see the Negotiated line)"),
    ("--no-via", "do not add a Via header (sparkgate adds none)"),
    ("--no-server-rewrite", "pass the backend's response headers as they are; no 'server: nghttpx'"),
    ("--no-server-push", "no HTTP/2 server push (sparkgate never pushes; gRPC does not use it)"),
    ("--no-ocsp", "no OCSP stapling helper process (sparkgate staples nothing; dev CA has no OCSP)"),
    ("--log-level=WARN", "= sparkgate log.level \"warn\"; no --accesslog-file: = log.access false"),
    ("--errorlog-file={out}/nghttpx{tag}.err", "error log into bench/out"),
    ("--pid-file={out}/nghttpx{tag}.pid", "the master's pid (workers are its children)"),
]
# Left at nghttpx defaults on purpose: TLS 1.2-1.3 and the TLS 1.2 cipher list (h2load
# negotiates TLS 1.3; the suite is recorded per case), --tls-dyn-rec-warmup-threshold (1 MiB
# of small TLS records per connection, then 16 KiB records: nghttpx's normal behaviour; it
# costs nghttpx, not sparkgate), no --tls-ktls (off by default; sparkgate has no kTLS either),
# the master + worker process model (memory: we sum the worker processes and say so).


def nghttpx_argv(port, be_port, certs, tag=""):
    argv = ["nghttpx"]
    for flag, _ in NGHTTPX_FLAGS:
        argv.append(flag.format(port=port, be_port=be_port, out=OUT, tag=tag))
    argv += [os.path.join(certs, "server.key"), os.path.join(certs, "server.pem")]
    return argv


# ---------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------
PROCS = []          # (name, Popen) of everything we started
T0 = time.monotonic()


class Deadline(Exception):
    pass


def remaining():
    return DEADLINE_S - (time.monotonic() - T0)


def log(msg):
    print("[%5.1fs] %s" % (time.monotonic() - T0, msg), flush=True)


def start(name, argv, stdout=None):
    out = stdout if stdout is not None else open(os.path.join(OUT, name + ".out"), "wb")
    err = open(os.path.join(OUT, name + ".err"), "wb")
    p = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=OUT)
    PROCS.append((name, p))
    return p


def stop(p, grace=3.0):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(2)


def stop_all():
    for _, p in reversed(PROCS):
        try:
            stop(p, 2.0)
        except Exception:
            pass
    # nghttpx: SIGTERM to the master stops it and its worker process at once


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, p, name, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if p.poll() is not None:
            raise RuntimeError("%s exited with %s (see bench/out/%s.err)" % (name, p.returncode, name))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s: port %d not accepting after %.0fs" % (name, port, timeout))


def children(pid):
    kids = []
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


def cpu_seconds(pids):
    """utime+stime of the processes (all their threads), in seconds."""
    tck = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / tck


def mem_kib(pid):
    res = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "Threads"):
                res[k] = int(v.split()[0])
    return res


def cpu_busy_total():
    """Busy CPU-seconds of the whole machine since boot (all CPUs, /proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def our_pids():
    """Every server we started that still runs, nghttpx worker processes included."""
    pids = []
    for _, p in PROCS:
        if p.poll() is None:
            pids.append(p.pid)
            pids += children(p.pid)
    return pids


def machine_busy(seconds=1.0):
    """Fraction of all CPUs busy over |seconds| (before we start anything)."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]
    t1, i1 = snap()
    time.sleep(seconds)
    t2, i2 = snap()
    return 1.0 - (i2 - i1) / max(1, t2 - t1)


def top_cpu_users():
    try:
        out = subprocess.run(["ps", "-eo", "pcpu,comm", "--sort=-pcpu", "--no-headers"],
                             capture_output=True, text=True, timeout=5).stdout
    except Exception:
        return []
    rows = []
    for line in out.splitlines()[:6]:
        pc, _, comm = line.strip().partition(" ")
        try:
            if float(pc) >= 5.0:
                rows.append("%s %s%%" % (comm.strip(), pc))
        except ValueError:
            pass
    return rows


# ---------------------------------------------------------------------------
# requests (hand-encoded protobuf, gRPC framing)
# ---------------------------------------------------------------------------
def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def ld(field, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def grpc_frame(msg):
    return b"\0" + struct.pack(">I", len(msg)) + msg


USER = ld(2, ld(1, "bench") + ld(2, "bench"))          # user_context {user_id, user_name}
# ConfigRequest{session_id, user_context, operation{get_with_default{pairs{key, value}}}}:
# a read that always succeeds (a plain "get" of an unset key is an error in Spark).
CONFIG_REQ = grpc_frame(ld(1, SESSION) + USER + ld(3, ld(3, ld(1, ld(1, "spark.sql.session.timeZone")
                                                                   + ld(2, "UTC")))))
# ExecutePlanRequest{session_id, user_context, plan{root{sql{query}}}}
EXEC_REQ = grpc_frame(ld(1, SESSION) + USER + ld(3, ld(1, ld(10, ld(1, "SELECT * FROM range(10)")))))


# ---------------------------------------------------------------------------
# h2load
# ---------------------------------------------------------------------------
UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def parse_h2load(text):
    r = {}
    m = re.search(r"finished in ([\d.]+)(us|ms|s|m), ([\d.]+) req/s", text)
    if m:
        r["elapsed_s"] = float(m.group(1)) * UNITS[m.group(2)]
        r["req_s"] = float(m.group(3))
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored, (\d+) timeout", text)
    if m:
        for k, v in zip(("total", "started", "done", "succeeded", "failed", "errored", "timeout"),
                        m.groups()):
            r[k] = int(v)
    m = re.search(r"traffic: .*?\((\d+)\) total, .*?\((\d+)\) headers .*?, .*?\((\d+)\) data", text)
    if m:
        r["bytes_total"], r["bytes_headers"], r["bytes_data"] = map(int, m.groups())
    m = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", text)
    if m:
        r["lat_min"], r["lat_max"], r["lat_mean"], r["lat_sd"] = m.groups()
    for key, pat in (("tls", r"TLS Protocol: (\S+)"), ("cipher", r"Cipher: (\S+)"),
                     ("alpn", r"Application protocol: (\S+)")):
        m = re.search(pat, text)
        if m:
            r[key] = m.group(1)
    return r


COMMANDS = []   # every benchmark command, as run, for the doc
STALLS = []     # cases where h2load saw failed calls or stalled connections
FOREIGN = []    # per h2load run: CPUs' worth of time used by processes not ours


STALL_S = 5   # h2load -N: a connection with no traffic for this long is given up (a stall)


def h2load(label, args, url, timeout, cpu_pids=(), record=True, cmds=None, shown=None):
    """|cmds|: the list the command is recorded in (COMMANDS); |shown|: {argument: how the
    doc writes it} (a bearer token becomes $(cat FILE))."""
    argv = ["h2load", "-t", "1", "-N", "%ds" % STALL_S] + args + [url]
    if remaining() < 5:
        raise Deadline("deadline reached before %s" % label)
    timeout = min(timeout, remaining() - 3)
    if record:
        text = " ".join((shown or {}).get(a) or shlex.quote(a) for a in argv)
        lst = COMMANDS if cmds is None else cmds
        if text not in lst:   # a noisy run's rerun is the same command
            lst.append(text)
    c0 = cpu_seconds(cpu_pids)
    ours = our_pids()
    o0, b0 = cpu_seconds(ours), cpu_busy_total()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    try:
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=OUT)
    except subprocess.TimeoutExpired as e:
        if remaining() < 10:
            raise Deadline("%s: h2load did not finish in %.0fs" % (label, timeout)) from e
        raise RuntimeError("%s: h2load did not finish in %.0fs (a hang?)" % (label, timeout)) from e
    wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    c1 = cpu_seconds(cpu_pids)
    o1, b1 = cpu_seconds(ours), cpu_busy_total()
    with open(os.path.join(OUT, label + ".txt"), "w") as f:
        f.write("$ " + " ".join(shlex.quote(a) for a in argv) + "\n" + cp.stdout + cp.stderr)
    r = parse_h2load(cp.stdout)
    if cp.returncode != 0 or "elapsed_s" not in r:
        raise RuntimeError("%s: h2load failed (rc %d), see bench/out/%s.txt"
                           % (label, cp.returncode, label))
    if r.get("timeout") or r.get("failed"):
        STALLS.append("%s: %d of %d calls failed, %d connection(s) stalled (no traffic for %d s: "
                      "h2load -N)" % (label, r["total"] - r["succeeded"], r["total"],
                                      r.get("timeout", 0), STALL_S))
    r["server_cpu_s"] = c1 - c0
    r["client_cpu_s"] = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    r["wall_s"] = wall
    # CPU the rest of the machine used meanwhile (other users, other tests): noise
    r["foreign_cpu"] = max(0.0, (b1 - b0) - (o1 - o0) - r["client_cpu_s"]) / max(wall, 1e-3)
    FOREIGN.append(r["foreign_cpu"])
    return r


def percentiles(logfile, ps=(50, 99)):
    lat = []
    bad = 0
    with open(logfile) as f:
        for line in f:
            cols = line.split("\t")
            if len(cols) < 3:
                continue
            if cols[1] != "200":
                bad += 1
                continue
            lat.append(int(cols[2]))
    lat.sort()
    res = {"logged": len(lat), "log_non200": bad}
    for p in ps:
        if lat:
            res["p%d_us" % p] = lat[min(len(lat) - 1, int(len(lat) * p / 100.0))]
    return res


# ---------------------------------------------------------------------------
# idle connections: TLS + ALPN h2, preface, SETTINGS, one Config call, then idle
# ---------------------------------------------------------------------------
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def hpack_int(v, prefix_bits, first=0):
    maxp = (1 << prefix_bits) - 1
    if v < maxp:
        return bytes([first | v])
    out = bytearray([first | maxp])
    v -= maxp
    while v >= 128:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def hpack_literal(name, value):
    # literal header field without indexing, new name, no Huffman (RFC 7541 6.2.2)
    n, v = name.encode(), value.encode()
    return b"\x00" + hpack_int(len(n), 7) + n + hpack_int(len(v), 7) + v


def open_idle_conn(port, ctx, path):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    ts = ctx.wrap_socket(s, server_hostname="localhost")
    if ts.selected_alpn_protocol() != "h2":
        raise RuntimeError("ALPN %r" % ts.selected_alpn_protocol())
    hdrs = b"".join(hpack_literal(k, v) for k, v in (
        (":method", "POST"), (":scheme", "https"), (":path", path),
        (":authority", "127.0.0.1:%d" % port), ("content-type", "application/grpc"),
        ("te", "trailers")))
    ts.sendall(PREFACE + h2frame(4, 0, 0) + h2frame(1, 0x4, 1, hdrs) + h2frame(0, 0x1, 1, CONFIG_REQ))
    buf = b""
    while True:
        while len(buf) < 9 or len(buf) < 9 + int.from_bytes(buf[:3], "big"):
            d = ts.recv(65536)
            if not d:
                raise RuntimeError("connection closed before the response")
            buf += d
        ln = int.from_bytes(buf[:3], "big")
        ftype, flags = buf[3], buf[4]
        sid = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
        buf = buf[9 + ln:]
        if ftype == 4 and not flags & 1:
            ts.sendall(h2frame(4, 1, 0))                    # SETTINGS ACK
        elif ftype == 7:
            raise RuntimeError("GOAWAY")
        elif ftype == 3 and sid == 1:
            raise RuntimeError("RST_STREAM")
        elif ftype in (0, 1) and sid == 1 and flags & 1:
            ts.setblocking(False)
            return ts                                      # response complete: now idle


def alive(ts):
    try:
        return ts.recv(1) != b""   # anything unexpected still means "open"
    except ssl.SSLWantReadError:
        return True
    except (BlockingIOError, ssl.SSLError, OSError):
        return False


def idle_case(name, port, pids_fn, certs):
    ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
    ctx.set_alpn_protocols(["h2"])
    pids = pids_fn()
    base = {pid: mem_kib(pid) for pid in pids}
    conns = []
    failed, first_error = 0, None
    t0 = time.monotonic()
    try:
        for _ in range(IDLE_CONNS):
            if remaining() < 15:
                raise Deadline("deadline reached while opening idle connections")
            try:
                conns.append(open_idle_conn(port, ctx, SVC + "Config"))
            except (OSError, RuntimeError) as e:   # socket.timeout is an OSError
                failed += 1
                first_error = first_error or "connection %d: %r" % (len(conns) + failed, e)
                if failed >= 5:
                    break
        t_open = time.monotonic() - t0
        time.sleep(2.0)
        pids = pids_fn()
        now = {pid: mem_kib(pid) for pid in pids}
        open_ok = sum(1 for c in conns if alive(c))
    finally:
        for c in conns:
            try:
                c.close()
            except OSError:
                pass
    return {"base": base, "idle": now, "opened": len(conns), "still_open": open_ok,
            "open_s": t_open, "failed": failed, "first_error": first_error}


# ---------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------
def clamp(v, lo, hi):
    return max(lo, min(hi, v))


def main():
    os.setpgrp()   # run.sh kills this process group on interrupt
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(Deadline("hard deadline")))
    signal.alarm(int(DEADLINE_S) + 20)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 4 * IDLE_CONNS + 1024))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))   # inherited by the proxies

    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        p = os.path.join(OUT, f)
        if os.path.isfile(p):
            os.unlink(p)
    certs = os.path.join(OUT, "certs")
    res = {"started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}

    busy = machine_busy()
    res["busy_before"] = busy
    res["busy_procs"] = top_cpu_users() if busy > 0.1 else []
    log("machine CPU busy before start: %.0f%% %s" % (100 * busy, " ".join(res["busy_procs"])))
    if busy > 0.2:
        log("WARNING: the machine is not idle; results will be noisy")

    subprocess.run(["sh", os.path.join(ROOT, "certs", "gen-dev-certs.sh"), certs], check=True,
                   stdout=subprocess.DEVNULL)
    with open(os.path.join(OUT, "config.grpc"), "wb") as f:
        f.write(CONFIG_REQ)
    with open(os.path.join(OUT, "execute.grpc"), "wb") as f:
        f.write(EXEC_REQ)

    # --- backend: h2c + TLS listeners -----------------------------------------
    be_out = open(os.path.join(OUT, "backend.out"), "w+b")
    be = start("backend", [BACKEND, "--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0",
                           "--tls-cert", os.path.join(certs, "backend.pem"),
                           "--tls-key", os.path.join(certs, "backend.key"), "--name", "b1"],
               stdout=be_out)
    end = time.monotonic() + 10
    ports = {}
    while time.monotonic() < end:
        with open(os.path.join(OUT, "backend.out")) as f:
            text = f.read()
        if "READY" in text:
            for kind, port in re.findall(r"LISTEN (h2c|tls) \S+:(\d+)", text):
                ports[kind] = int(port)
            break
        if be.poll() is not None:
            raise RuntimeError("backend exited, see bench/out/backend.err")
        time.sleep(0.05)
    if "h2c" not in ports or "tls" not in ports:
        raise RuntimeError("backend did not become READY")

    # --- proxies ---------------------------------------------------------------
    def start_sparkgate(tag="", auth=None):
        port = free_port()
        cfgf = os.path.join(OUT, "sparkgate%s.json" % tag)
        cfg = sparkgate_config(port, ports["h2c"], certs)
        if auth is not None:
            cfg["auth"] = auth
        with open(cfgf, "w") as f:
            json.dump(cfg, f, indent=1)
        p = start("sparkgate" + tag, [SPARKGATE, "-c", cfgf])
        wait_port(port, p, "sparkgate" + tag)
        return port, p

    def start_nghttpx(tag=""):
        port = free_port()
        p = start("nghttpx" + tag, nghttpx_argv(port, ports["h2c"], certs, tag))
        wait_port(port, p, "nghttpx" + tag)
        return port, p

    sg_port, sg = start_sparkgate()
    nx_port, nx = start_nghttpx()
    res["sparkgate_config"] = sparkgate_config(sg_port, ports["h2c"], certs)
    res["nghttpx_argv"] = nghttpx_argv(nx_port, ports["h2c"], certs)

    fronts = [
        ("direct-tls", "https://127.0.0.1:%d" % ports["tls"], lambda: [be.pid], lambda: []),
        ("direct-h2c", "http://127.0.0.1:%d" % ports["h2c"], lambda: [be.pid], lambda: []),
        ("sparkgate", "https://127.0.0.1:%d" % sg_port, lambda: [be.pid], lambda: [sg.pid]),
        ("nghttpx", "https://127.0.0.1:%d" % nx_port, lambda: [be.pid],
         lambda: [nx.pid] + children(nx.pid)),
    ]
    res["unary"], res["stream"], res["idle"], res["errors"] = {}, {}, {}, []

    def case(label, fn):
        """Runs one case; a failure is recorded and the run goes on (a deadline stops it)."""
        try:
            fn()
        except RuntimeError as e:
            msg = str(e) if str(e).startswith(label) else "%s: %s" % (label, e)
            res["errors"].append(msg)
            log("ERROR " + msg)

    # --- 1. unary Config ----------------------------------------------------------
    uargs = ["-c", "16", "-m", "10", "-d", "config.grpc"] + GRPC_H

    # Each case: one unmeasured warm-up that also picks the request count, then ROUNDS
    # measured runs; rounds are interleaved across fronts (order rotated each round) so
    # background noise and thermal/cache drift hit every front alike; the median run is
    # reported, with the spread.
    calib = {}

    def median_run(runs, key, keep_noisy=False):
        """Median of the runs the rest of the machine left alone (all runs if none was).
        |keep_noisy|: median of all runs (cases compared with each other must be judged
        alike: a clean run of one against noisy runs of another would say nothing)."""
        clean = [r for r in runs if r["foreign_cpu"] <= NOISE]
        use = sorted(runs if keep_noisy else clean or runs, key=lambda r: r[key])
        med = dict(use[len(use) // 2])
        med["rounds"] = [r[key] for r in use]
        med["dropped"] = len(runs) - len(use)
        med["noisy"] = not clean
        med["noisy_kept"] = (len(runs) - len(clean)) if keep_noisy and clean else 0
        return med

    retries = [RETRIES]

    def measure(fn):
        """fn() -> run; one more run when other processes took CPU meanwhile (bounded)."""
        r = fn()
        if r["foreign_cpu"] > NOISE and retries[0] > 0 and remaining() > 90:
            retries[0] -= 1
            log("       others used %.0f%% of a CPU during that run: one more run"
                % (100 * r["foreign_cpu"]))
            fn()

    # kind "unary": section 1; kind "auth": section 4 (extra headers |hdr|, own run length,
    # commands recorded in res["auth"]["commands"] with the token written as $(cat FILE))
    def unary_warm(name, base, be_pids, px_pids, kind="unary", hdr=(), secs=UNARY_SECS):
        url = base + SVC + "Config"
        warm = h2load("%s-%s-warmup" % (kind, name), ["-n", "20000"] + uargs + list(hdr), url, 20,
                      record=False)
        calib[kind + "-" + name] = int(clamp(round(warm["req_s"] * secs, -4), 20000, 600000))

    def unary(rnd, name, base, be_pids, px_pids, **kw):
        measure(lambda: unary1(rnd, name, base, be_pids, px_pids, **kw))

    def unary1(rnd, name, base, be_pids, px_pids, kind="unary", hdr=(), secs=UNARY_SECS,
               cmds=None, shown=None):
        url = base + SVC + "Config"
        n = calib[kind + "-" + name]
        logf = "%s-%s-r%d.log" % (kind, name, rnd)
        r = h2load("%s-%s-r%d" % (kind, name, rnd), ["-n", str(n), "--log-file", logf] + uargs
                   + list(hdr), url, secs * 4 + 10, cpu_pids=px_pids() or be_pids(),
                   record=rnd == 0, cmds=cmds, shown=shown)
        r.update(percentiles(os.path.join(OUT, logf)))
        os.unlink(os.path.join(OUT, logf))   # large; percentiles are in results.json
        r["data_per_req"] = r["bytes_data"] / max(1, r["succeeded"])
        r["cpu_pids"] = "proxy" if px_pids() else "backend"
        runs.setdefault(kind + "-" + name, []).append(r)
        log("%-6s r%d %-13s %9.0f req/s  p50 %s us  p99 %s us  (%d requests, %d failed; "
            "proxy CPU %.1f us/call; others' CPU %.0f%%)"
            % (kind, rnd, name, r["req_s"], r.get("p50_us"), r.get("p99_us"), r["total"],
               r["total"] - r["succeeded"], 1e6 * r["server_cpu_s"] / max(1, r["succeeded"]),
               100 * r["foreign_cpu"]))
        return r

    # --- 2. streaming ExecutePlan -----------------------------------------------
    call_bytes = STREAM_MSGS * STREAM_MSG_SIZE
    sargs = ["-d", "execute.grpc"] + GRPC_H + ["-H", "sc-test-count: %d" % STREAM_MSGS,
                                               "-H", "sc-test-size: %d" % STREAM_MSG_SIZE]
    wargs = ["-d", "execute.grpc"] + GRPC_H + ["-H", "sc-test-count: 64",
                                               "-H", "sc-test-size: %d" % STREAM_MSG_SIZE]

    def stream_warm(conc, name, base, be_pids, px_pids):
        url = base + SVC + "ExecutePlan"
        label = "stream-c%d-%s" % (conc, name)
        warm = h2load(label + "-warmup", ["-n", str(conc), "-c", str(conc), "-m", "1"] + wargs,
                      url, 20, record=False)
        rate = warm["bytes_data"] / max(warm["elapsed_s"], 1e-3)
        calib[label] = int(clamp(round(rate * STREAM_SECS / call_bytes / conc), 1, 32 // conc)) * conc

    def stream(rnd, conc, name, base, be_pids, px_pids):
        measure(lambda: stream1(rnd, conc, name, base, be_pids, px_pids))

    def stream1(rnd, conc, name, base, be_pids, px_pids):
        url = base + SVC + "ExecutePlan"
        label = "stream-c%d-%s" % (conc, name)
        n = calib[label]
        r = h2load("%s-r%d" % (label, rnd), ["-n", str(n), "-c", str(conc), "-m", "1"] + sargs, url,
                   STREAM_SECS * 4 + 10, cpu_pids=px_pids() or be_pids(), record=rnd == 0)
        r["mb_s"] = r["bytes_data"] / r["elapsed_s"] / 1e6
        r["expected_data"] = n * (STREAM_MSGS * (STREAM_MSG_SIZE + 5))   # lower bound
        r["cpu_pids"] = "proxy" if px_pids() else "backend"
        if r["succeeded"] == n and r["bytes_data"] < r["expected_data"]:
            res["errors"].append("%s: %d/%d calls, %d bytes of DATA (expected >= %d)"
                                 % (label, r["succeeded"], n, r["bytes_data"], r["expected_data"]))
        runs.setdefault(label, []).append(r)
        log("stream r%d c%d %-10s %6.0f MB/s  (%d x %d MiB, %.1fs, proxy/backend CPU %.1fs; "
            "others' CPU %.0f%%)" % (rnd, conc, name, r["mb_s"], n, call_bytes >> 20, r["elapsed_s"],
                                     r["server_cpu_s"], 100 * r["foreign_cpu"]))
        return r

    # --- 3. idle connections: fresh proxies ------------------------------------
    def idle_sparkgate():
        p2, sg2 = start_sparkgate("-idle")
        time.sleep(0.5)
        try:
            res["idle"]["sparkgate"] = idle_case("sparkgate", p2, lambda: [sg2.pid], certs)
        finally:
            stop(sg2)

    def idle_nghttpx():
        p3, nx2 = start_nghttpx("-idle")
        time.sleep(0.5)
        try:
            res["idle"]["nghttpx"] = idle_case("nghttpx", p3,
                                               lambda: [nx2.pid] + children(nx2.pid), certs)
            res["idle"]["nghttpx"]["master"] = nx2.pid
        finally:
            stop(nx2)

    # --- 4. authentication cost: fresh sparkgates, the unary case with tokens ------
    A = res["auth"] = {"unary": {}, "commands": [], "setup": [], "micro": [], "controls": []}
    adir = os.path.join(OUT, "auth")
    bench_rel = lambda p: os.path.relpath(p, ROOT) if os.path.isabs(p) else p   # noqa: E731
    sg_shown = "./sparkgate" if SPARKGATE == os.path.join(ROOT, "sparkgate") else SPARKGATE

    def auth_run(argv, out=None, data=None):
        """Runs a setup command (in ROOT) and records it as the doc shows it."""
        shown = " ".join(sg_shown if a == SPARKGATE else shlex.quote(bench_rel(a)) for a in argv)
        if data is not None:
            shown += " < " + bench_rel(data[0])
        if out is not None:
            shown += " > " + bench_rel(out)
        A["setup"].append(shown)
        cp = subprocess.run(argv, input=data[1] if data else None, capture_output=True,
                            timeout=60, cwd=ROOT)
        if cp.returncode != 0:
            raise RuntimeError("%s failed: %s" % (shown, cp.stderr.decode(errors="replace")[-300:]))
        if out is not None:
            with open(out, "wb") as f:
                f.write(cp.stdout)
        return cp.stdout

    tokens = {}

    def auth_setup():
        """Keys (openssl), tokens (sparkgate mint-token), the static token's digest."""
        os.makedirs(adir, exist_ok=True)
        for f in os.listdir(adir):
            os.unlink(os.path.join(adir, f))
        for case_, alg, opts, kid in AUTH_KEYS:
            key, pub, tok = (os.path.join(adir, case_ + ext) for ext in (".key", ".pub", ".tok"))
            auth_run(["openssl", "genpkey"] + opts + ["-out", key])
            auth_run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub])
            auth_run([SPARKGATE, "mint-token", "--key", key, "--alg", alg, "--kid", kid,
                      "--iss", AUTH_ISS, "--aud", AUTH_AUD, "--sub", AUTH_PRINCIPAL,
                      "--ttl", "3600"], out=tok)
        static = os.path.join(adir, "static.tok")
        A["setup"].append("# %s: \"sgt_\" and 48 random hex digits, written by bench.py"
                          % bench_rel(static))
        with open(static, "w") as f:
            f.write("sgt_" + os.urandom(24).hex() + "\n")   # an opaque random token
        with open(static, "rb") as f:
            raw = f.read()
        A["static_sha256"] = auth_run([SPARKGATE, "hash-token"], data=(static, raw)).decode().strip()
        for case_ in ("static",) + tuple(k[0] for k in AUTH_KEYS):
            with open(os.path.join(adir, case_ + ".tok")) as f:
                tokens[case_] = f.read().strip()
        A["token_bytes"] = {k: len(v) for k, v in tokens.items()}

    def auth_control(what, port, hdr):
        """A call sparkgate must refuse: trailers-only, no DATA from the backend."""
        r = h2load("auth-control-%s" % what, ["-n", "100", "-c", "1", "-m", "10"] + uargs + hdr,
                   "https://127.0.0.1:%d%sConfig" % (port, SVC), 20, record=False)
        ok = r["bytes_data"] == 0 and r["succeeded"] == r["total"]
        A["controls"].append({"what": what, "calls": r["total"], "bytes_data": r["bytes_data"],
                              "ok": ok})
        if not ok:
            raise RuntimeError("auth control %s: %d bytes of DATA came back (the call was not "
                               "refused)" % (what, r["bytes_data"]))

    def auth_micro():
        if not os.access(MICRO, os.X_OK):
            A["micro_error"] = "bench/out/bin/jwt-verify-bench was not built (see bench/run.sh)"
            return
        argv = [bench_rel(MICRO), "%g" % MICRO_SECS]
        for case_, _, _, kid in AUTH_KEYS:
            argv += [case_, bench_rel(os.path.join(adir, case_ + ".pub")), kid, AUTH_ISS, AUTH_AUD,
                     bench_rel(os.path.join(adir, case_ + ".tok"))]
        A["micro_cmd"] = " ".join(shlex.quote(a) for a in argv)
        try:
            with open(os.path.join(OUT, "bin", "build.txt")) as f:
                A["micro_build"] = f.read().strip().splitlines()
        except OSError:
            A["micro_build"] = []
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=ROOT)
        with open(os.path.join(OUT, "jwt-verify-bench.txt"), "w") as f:
            f.write("$ " + A["micro_cmd"] + "\n" + cp.stdout + cp.stderr)
        if cp.returncode != 0:
            raise RuntimeError("jwt-verify-bench failed (rc %d): %s" % (cp.returncode,
                                                                       cp.stderr.strip()[-300:]))
        A["micro"] = [json.loads(line) for line in cp.stdout.splitlines() if line.startswith("{")]
        for m_ in A["micro"]:
            log("micro  %-6s %-7s %8.2f us CPU per call (%d calls)"
                % (m_["token"], m_["op"], m_["cpu_us"], m_["calls"]))

    def auth_openssl_speed():
        argv = ["openssl", "speed", "-seconds", "1", "-mr", "rsa2048", "ecdsap256"]
        A["openssl_cmd"] = " ".join(argv)
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=OUT)
        with open(os.path.join(OUT, "openssl-speed.txt"), "w") as f:
            f.write("$ " + A["openssl_cmd"] + "\n" + cp.stdout + cp.stderr)
        sp = {}
        m_ = re.search(r"^\+F2:\d+:2048:([\d.]+):([\d.]+)", cp.stdout, re.M)
        if m_:
            sp["rs256"] = {"sign_s": float(m_.group(1)), "verify_s": float(m_.group(2))}
        m_ = re.search(r"^\+F4:\d+:256:([\d.]+):([\d.]+)", cp.stdout, re.M)
        if m_:
            sp["es256"] = {"sign_s": float(m_.group(1)), "verify_s": float(m_.group(2))}
        A["openssl_speed"] = sp
        log("openssl speed: %s" % ", ".join("%s verify %.1f us" % (k, 1e6 / v["verify_s"])
                                           for k, v in sp.items()))

    def auth_phase():
        auth_setup()
        A["config_auth"] = auth_section(adir, A["static_sha256"])
        pn, sgn = start_sparkgate("-auth-none")
        pa, sga = start_sparkgate("-auth", auth_section(adir, A["static_sha256"]))
        po, sgo = start_sparkgate("-auth-nocache", auth_section(adir, A["static_sha256"], False))
        try:
            auth_control("no-token", pa, [])
            auth_control("unknown-static-token", pa, ["-H", "authorization: Bearer sgt_nope"])
            # (case, port, process, token)
            # none-rs256hdr: the no-auth process, the RS256 token sent anyway (it is read as a
            # credential header and dropped): the cost of carrying the token, without auth
            cases = [("none", pn, sgn, None), ("none-rs256hdr", pn, sgn, "rs256"),
                     ("static", pa, sga, "static"),
                     ("rs256", pa, sga, "rs256"), ("es256", pa, sga, "es256"),
                     ("rs256-nocache", po, sgo, "rs256"), ("es256-nocache", po, sgo, "es256")]
            A["cases"] = [c[0] for c in cases]
            A["case_token"] = {c[0]: c[3] for c in cases}

            def kw(tok):
                if tok is None:
                    return {"kind": "auth", "secs": AUTH_SECS, "cmds": A["commands"]}
                h = "authorization: Bearer " + tokens[tok]
                return {"kind": "auth", "secs": AUTH_SECS, "cmds": A["commands"], "hdr": ["-H", h],
                        "shown": {h: '"authorization: Bearer $(cat bench/out/auth/%s.tok)"' % tok}}

            def args(c):
                return (c[0], "https://127.0.0.1:%d" % c[1], lambda: [be.pid],
                        lambda p=c[2]: [p.pid])
            for c in cases:
                k = dict(kw(c[3]))
                k.pop("cmds")
                k.pop("shown", None)
                case("auth-" + c[0], lambda c=c, k=k: unary_warm(*args(c), **k))
            for rnd in range(ROUNDS):
                for c in cases[rnd % len(cases):] + cases[:rnd % len(cases)]:
                    if "auth-" + c[0] in calib:
                        case("auth-" + c[0],
                             lambda c=c, rnd=rnd: unary(rnd, *args(c), **kw(c[3])))
        finally:
            for p in (sgn, sga, sgo):
                stop(p)
        case("auth-micro", auth_micro)
        case("auth-openssl-speed", auth_openssl_speed)

    runs = {}
    try:
        for f in fronts if "unary" in SECTIONS else ():
            case("unary-" + f[0], lambda f=f: unary_warm(*f))
        for rnd in range(ROUNDS):
            for f in fronts[rnd % len(fronts):] + fronts[:rnd % len(fronts)]:
                if "unary-" + f[0] in calib:
                    case("unary-" + f[0], lambda f=f, rnd=rnd: unary(rnd, *f))
        for conc in (1, 4) if "stream" in SECTIONS else ():
            for f in fronts:
                case("stream-c%d-%s" % (conc, f[0]), lambda f=f, conc=conc: stream_warm(conc, *f))
            for rnd in range(ROUNDS):
                for f in fronts[rnd % len(fronts):] + fronts[:rnd % len(fronts)]:
                    label = "stream-c%d-%s" % (conc, f[0])
                    if label in calib:
                        case(label, lambda f=f, conc=conc, rnd=rnd: stream(rnd, conc, *f))
        time.sleep(1.0)
        res["after_stream"] = {
            "sparkgate": {sg.pid: mem_kib(sg.pid)} if sg.poll() is None else {},
            "nghttpx": {pid: mem_kib(pid) for pid in children(nx.pid)} if nx.poll() is None else {},
        }
        stop(sg)
        stop(nx)
        if "idle" in SECTIONS:
            case("idle-sparkgate", idle_sparkgate)
            case("idle-nghttpx", idle_nghttpx)
        if "auth" in SECTIONS:
            case("auth", auth_phase)
    except Deadline as e:
        res["errors"].append("stopped early: %s" % e)
        log("STOPPED: %s" % e)
    auth_runs = [v for k, v in runs.items() if k.startswith("auth-")]
    auth_clean = all(any(r["foreign_cpu"] <= NOISE for r in v) for v in auth_runs)
    A["noise"] = {"all_cases_clean": auth_clean, "runs": sum(len(v) for v in auth_runs),
                  "noisy_runs": sum(1 for v in auth_runs for r in v if r["foreign_cpu"] > NOISE)}
    for k, v in runs.items():
        if k.startswith("unary-"):
            res["unary"][k[6:]] = median_run(v, "req_s")
        elif k.startswith("auth-"):
            A["unary"][k[5:]] = median_run(v, "req_s", keep_noisy=not auth_clean)
        else:
            res["stream"][k[7:]] = median_run(v, "mb_s")
    none = A["unary"].get("none")
    for k, r in A["unary"].items():
        # a refused call is a 200 with grpc-status in trailers and no DATA: h2load counts it
        # as a success, so every authenticated case must get the same answer as "none"
        if none and r["data_per_req"] < none["data_per_req"] - 0.5:
            res["errors"].append("auth-%s: %.1f bytes of response DATA per call, %.1f without "
                                 "auth: calls were refused" % (k, r["data_per_req"],
                                                               none["data_per_req"]))
    for msg in STALLS:
        res["errors"].append(msg)
        log("ERROR " + msg)
    for name, r in res["idle"].items():
        rss = sum(v["VmRSS"] for pid, v in r["idle"].items() if pid != r.get("master"))
        log("idle %-10s %d/%d connections open (%d failed), RSS %.1f MiB"
            % (name, r["still_open"], r["opened"], r["failed"], rss / 1024))
        if r["failed"]:
            res["errors"].append("idle-%s: %d connection(s) failed, first: %s"
                                 % (name, r["failed"], r["first_error"]))
    if "idle" in SECTIONS:
        COMMANDS.append("/usr/bin/python3 bench/bench.py  # idle phase: %d x (TLS 1.3 + ALPN h2, "
                        "SETTINGS, one Config call), then 2 s idle; VmRSS/VmHWM from /proc/PID/status"
                        % IDLE_CONNS)

    res["commands"] = COMMANDS
    res["foreign"] = FOREIGN
    res["machine"] = machine_info()
    res["runtime_s"] = time.monotonic() - T0
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(res, f, indent=1, default=str)
    write_doc(res)
    log("wrote bench/out/results.json and docs/benchmarks.md (%.0f s)" % res["runtime_s"])


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return "?"


def machine_info():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    pkgs = ["libnghttp2-14", "nghttp2-client", "nghttp2-proxy", "libevent-2.1-7",
            "libevent-openssl-2.1-7", "libssl3", "libjansson4"]
    vers = sh("dpkg-query -W -f='${Package} ${Version}\\n' " + " ".join(pkgs))
    return {
        "nproc": os.cpu_count(), "cpu": cpu, "kernel": os.uname().release, "mem_mib": mem,
        "os": sh(". /etc/os-release && echo $PRETTY_NAME"), "packages": vers.splitlines(),
        "sparkgate": sh(shlex.quote(SPARKGATE) + " --version"),
        "commit": sh("git -C %s rev-parse --short HEAD" % shlex.quote(ROOT)),
        "dirty": bool(sh("git -C %s status --porcelain -- src" % shlex.quote(ROOT))),
        "cflags": sh("sed -n 's/^CFLAGS = //p' %s/Makefile" % shlex.quote(ROOT)),
        "stale": bool(os.environ.get("BENCH_STALE")),
        "openssl": sh("openssl version"),
    }


# ---------------------------------------------------------------------------
# docs/benchmarks.md
# ---------------------------------------------------------------------------
def spread(r):
    v = r.get("rounds") or []
    txt = "%.0f-%.0f" % (min(v), max(v)) if len(v) >= 2 else "-"
    if r.get("noisy"):
        txt += " (all noisy)"
    elif r.get("noisy_kept"):
        txt += " (%d noisy, kept)" % r["noisy_kept"]
    elif r.get("dropped"):
        txt += " (%d noisy run%s left out)" % (r["dropped"], "s" if r["dropped"] > 1 else "")
    return txt


def fmt_ratio(a, b):
    return "%.2f" % (a / b) if b else "-"


def met(ok):
    return "**met**" if ok else "**not met**"


def write_doc(res):
    m = res["machine"]
    u, s, idle = res["unary"], res["stream"], res["idle"]
    L = []
    add = L.append
    add("# Benchmarks")
    add("")
    add("Generated by `bench/run.sh` on %s (%.0f s run); do not edit by hand: rerun the script. "
        "Raw h2load outputs and `results.json` are in `bench/out/` (not committed)."
        % (res["started"], res["runtime_s"]))
    add("")
    add("Four fronts, the same workloads, one after the other, all on loopback:")
    add("")
    add("- **direct-tls** (a): the test backend (`tests/backend/sc-test-backend`) on its own TLS "
        "listener: the baseline, TLS like the two proxies.")
    add("- **direct-h2c** (a'): the same backend on its cleartext listener (extra row).")
    add("- **sparkgate** (b): TLS front, 2 workers, every limit at its default, cleartext HTTP/2 "
        "to the backend's h2c listener.")
    add("- **nghttpx** (c): nghttpx %s (Debian nghttp2-proxy) configured like sparkgate "
        "(below), also to the backend's h2c listener." % _pkgver(m, "nghttp2-proxy"))
    add("")

    # targets
    add("## Targets")
    add("")
    add("| target | measured | status |")
    add("|---|---|---|")
    def stream_ratio(other):
        out = {}
        for c in (1, 4):
            a, b = s.get("c%d-sparkgate" % c), s.get("c%d-%s" % (c, other))
            if a and b:
                out[c] = a["mb_s"] / b["mb_s"]
        return out
    ratios = stream_ratio("direct-tls")
    sg_fail = sum(s[k]["total"] - s[k]["succeeded"] for k in s if k.endswith("-sparkgate"))
    add("| streaming throughput >= 90%% of direct (TLS) | %s%s | %s |"
        % (", ".join("c%d: %.0f%%" % (c, 100 * r) for c, r in ratios.items()) or "not measured",
           "; %d call(s) failed/stalled" % sg_fail if sg_fail else "",
           met(len(ratios) == 2 and min(ratios.values()) >= 0.9 and not sg_fail)))
    if "sparkgate" in u and "nghttpx" in u:
        uf = u["sparkgate"]["total"] - u["sparkgate"]["succeeded"]
        add("| unary throughput >= nghttpx's | %.0f vs %.0f req/s (%.0f%%)%s | %s |"
            % (u["sparkgate"]["req_s"], u["nghttpx"]["req_s"],
               100 * u["sparkgate"]["req_s"] / u["nghttpx"]["req_s"],
               "; %d call(s) failed" % uf if uf else "",
               met(u["sparkgate"]["req_s"] >= u["nghttpx"]["req_s"] and not uf)))
    else:
        add("| unary throughput >= nghttpx's | not measured | **not met** |")
    if "sparkgate" in idle:
        r = idle["sparkgate"]
        rss = sum(v["VmRSS"] for v in r["idle"].values())
        hwm = sum(v["VmHWM"] for v in r["idle"].values())
        add("| %d idle TLS connections under 64 MiB RSS | %.1f MiB (peak %.1f MiB), %d/%d open | %s |"
            % (IDLE_CONNS, rss / 1024, hwm / 1024, r["still_open"], r["opened"],
               met(rss < 64 * 1024 and r["still_open"] == IDLE_CONNS)))
    else:
        add("| %d idle TLS connections under 64 MiB RSS | not measured | **not met** |" % IDLE_CONNS)
    ok, txt = auth_target(res.get("auth") or {})
    add("| authenticated unary throughput (token cache on) within %d%% of no auth | %s%s | %s |"
        % (100 * AUTH_TARGET, txt, auth_noise_note(res.get("auth") or {}), met(ok)))
    add("")
    if res.get("errors"):
        add("**Problems in this run** (the affected rows are missing or partial):")
        add("")
        for e in res["errors"]:
            add("- %s" % e)
        add("")
    ratios_h2c = stream_ratio("direct-h2c")
    if ratios_h2c:
        add("Against direct-h2c (the backend without TLS) sparkgate streams at %s of "
            "direct; against "
            "nghttpx at %s." % (", ".join("c%d %.0f%%" % (c, 100 * r) for c, r in ratios_h2c.items()),
                                ", ".join("c%d %.0f%%" % (c, 100 * r)
                                          for c, r in stream_ratio("nghttpx").items())))
        add("")

    # unary
    add("## 1. Unary calls (Config)")
    add("")
    add("h2load, 1 thread, 16 connections x 10 concurrent streams, `ConfigRequest` "
        "(get_with_default, %d bytes framed). Per front: a 20,000-request warm-up that also "
        "sets the request count (about %.0f s of work), then %d measured runs, interleaved "
        "with the other fronts; the row is the median run (by req/s), \"runs\" the range. "
        "Latency: per-request log (`--log-file`), microseconds from request start to end of "
        "response. CPU: utime+stime of the proxy processes (for direct rows: of the backend) "
        "during the median run. h2load near 100%% CPU means the client was the limit (the "
        "direct rows)."
        % (len(CONFIG_REQ), UNARY_SECS, ROUNDS))
    add("")
    add("| front | requests | req/s | runs (req/s) | p50 ms | p99 ms | mean ms | "
        "proxy CPU us/req | h2load CPU | sparkgate / this |")
    add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    sgu = u.get("sparkgate")
    for name in ("direct-tls", "direct-h2c", "sparkgate", "nghttpx"):
        r = u.get(name)
        if not r:
            continue
        fails = r["total"] - r["succeeded"]
        add("| %s | %d%s | %.0f | %s | %.2f | %.2f | %s | %s | %.0f%% | %s |"
            % (name, r["succeeded"], " (%d failed)" % fails if fails else "", r["req_s"],
               spread(r),
               r.get("p50_us", 0) / 1000, r.get("p99_us", 0) / 1000, r.get("lat_mean", "-"),
               ("%.0f" % (1e6 * r["server_cpu_s"] / r["succeeded"])) if r["cpu_pids"] == "proxy"
               else "(backend %.0f)" % (1e6 * r["server_cpu_s"] / r["succeeded"]),
               100 * r["client_cpu_s"] / max(r["wall_s"], 1e-3),
               "-" if name == "sparkgate" or not sgu else fmt_ratio(sgu["req_s"], r["req_s"])))
    add("")
    add("Response DATA per call: %s bytes (must be equal across fronts: same answer)."
        % ", ".join("%s %.0f" % (k, v["data_per_req"]) for k, v in u.items()))
    add("")

    # streaming
    add("## 2. Streaming results (ExecutePlan)")
    add("")
    add("Each call asks the backend for %d messages of %d MiB (`sc-test-count`, `sc-test-size`): "
        "%d MiB of response DATA per call (gRPC framing and the protobuf envelope included). "
        "`-m 1`; the number of calls per run is picked from a 64 MiB warm-up so that a run "
        "lasts about %.0f s; %d measured runs per case, interleaved with the other fronts; the "
        "row is the median run, \"runs\" the range. MB/s = DATA bytes received by h2load / "
        "h2load's elapsed time, 10^6 bytes."
        % (STREAM_MSGS, STREAM_MSG_SIZE >> 20, STREAM_MSGS * STREAM_MSG_SIZE >> 20,
           STREAM_SECS, ROUNDS))
    add("")
    add("| front | connections | calls | MB/s | runs (MB/s) | proxy CPU s/GiB | h2load CPU | "
        "sparkgate / this |")
    add("|---|---:|---:|---:|---:|---:|---:|---:|")
    for conc in (1, 4):
        sgs = s.get("c%d-sparkgate" % conc)
        for name in ("direct-tls", "direct-h2c", "sparkgate", "nghttpx"):
            r = s.get("c%d-%s" % (conc, name))
            if not r:
                continue
            gib = r["bytes_data"] / (1 << 30)
            cpu = r["server_cpu_s"] / max(gib, 1e-9)
            fails = r["total"] - r["succeeded"]
            add("| %s | %d | %d%s | %.0f | %s | %s | %.0f%% | %s |"
                % (name, conc, r["succeeded"], " (**%d failed/stalled**)" % fails if fails else "",
                   r["mb_s"], spread(r),
                   ("%.2f" % cpu) if r["cpu_pids"] == "proxy" else "(backend %.2f)" % cpu,
                   100 * r["client_cpu_s"] / max(r["wall_s"], 1e-3),
                   "-" if name == "sparkgate" or not sgs else fmt_ratio(sgs["mb_s"], r["mb_s"])))
    add("")

    # idle
    add("## 3. Memory: %d idle TLS connections" % IDLE_CONNS)
    add("")
    add("A fresh proxy per case. A Python client (`ssl`, hand-made HTTP/2 frames) opens %d "
        "connections one after the other; on each: TLS 1.3 handshake with ALPN h2, preface, "
        "SETTINGS (and ACK), one Config call, response read to the end; then the connection "
        "stays open and silent. 2 s after the last one, VmRSS and VmHWM are read from "
        "`/proc/PID/status`; then the client checks every connection is still open. nghttpx "
        "runs a master process and one worker process (holding both worker threads): the "
        "figure is the worker processes' sum, the master is listed apart." % IDLE_CONNS)
    add("")
    add("| proxy | open | RSS before | RSS with %d idle | peak (VmHWM) | per connection | master |"
        % IDLE_CONNS)
    add("|---|---:|---:|---:|---:|---:|---:|")
    for name in ("sparkgate", "nghttpx"):
        r = idle.get(name)
        if not r:
            continue
        master = r.get("master")
        master = str(master) if master is not None else None   # JSON keys are strings
        r = dict(r, base={str(k): v for k, v in r["base"].items()},
                 idle={str(k): v for k, v in r["idle"].items()})
        b = sum(v["VmRSS"] for pid, v in r["base"].items() if pid != master)
        n = sum(v["VmRSS"] for pid, v in r["idle"].items() if pid != master)
        h = sum(v["VmHWM"] for pid, v in r["idle"].items() if pid != master)
        ms = "-"
        if master is not None and master in r["idle"]:
            ms = "%.1f MiB" % (r["idle"][master]["VmRSS"] / 1024)
        add("| %s | %d/%d | %.1f MiB | %.1f MiB | %.1f MiB | %.1f KiB | %s |"
            % (name, r["still_open"], r["opened"], b / 1024, n / 1024, h / 1024,
               (n - b) / max(1, r["opened"]), ms))
    add("")

    # setup
    aft = res.get("after_stream") or {}
    if aft.get("sparkgate") or aft.get("nghttpx"):
        add("For comparison, the proxies used for cases 1 and 2, 1 s after the last streaming call "
            "(no connection open): %s."
            % "; ".join("%s RSS %.1f MiB, peak %.1f MiB"
                        % (k, sum(x["VmRSS"] for x in v.values()) / 1024,
                           sum(x["VmHWM"] for x in v.values()) / 1024)
                        for k, v in aft.items() if v))
        add("")
    write_auth(add, res)
    add("## Setup and fairness")
    add("")
    add("- Machine: %d CPUs, %s, %d MiB RAM, %s, kernel %s."
        % (m["nproc"], m["cpu"], m["mem_mib"], m["os"], m["kernel"]))
    add("- Packages: %s." % ", ".join("`%s`" % p for p in m["packages"]))
    if m.get("openssl"):
        add("- OpenSSL: %s." % m["openssl"])
    add("- sparkgate: `%s`, commit %s%s, CFLAGS `%s`."
        % (m["sparkgate"], m["commit"], " + uncommitted changes in src/" if m["dirty"] else "",
           m["cflags"]))
    if os.environ.get("BENCH_SPARKGATE"):
        add("- **sparkgate binary: `%s` (BENCH_SPARKGATE), not this tree's build.**" % SPARKGATE)
    if m.get("stale"):
        add("- **The build failed when this run started; the binaries measured are older than "
            "the source tree.**")
    fr = res.get("foreign") or [0.0]
    noisy = res["busy_before"] > 0.1 or max(fr) > NOISE
    add("- Background load (processes other than the benchmark's): the CPUs were %.0f%% busy in "
        "the second before the run%s; during the h2load runs others used %.0f%% of one CPU on "
        "average, %.0f%% at most%s."
        % (100 * res["busy_before"],
           (" (" + ", ".join(res["busy_procs"]) + ")") if res["busy_procs"] else "",
           100 * sum(fr) / len(fr), 100 * max(fr),
           ": **the numbers are noisy, rerun on an idle machine**" if noisy else ""))
    add("- Noise control: a measured run during which other processes used more than %.0f%% of "
        "a CPU (from /proc/stat minus the benchmark's own processes) counts as noisy; it earns "
        "one extra run (%d extra runs at most per benchmark) and is left out of the median when "
        "the case has a clean run. The runs column says so." % (100 * NOISE, RETRIES))
    add("- h2load runs with `-t 1`: one core for the client, the other shared by the proxy's "
        "2 workers and the (single-threaded) backend. Nothing is pinned: the same scheduler "
        "freedom for every front. The proxies are CPU-bound against the client and the "
        "backend on 2 cores, so CPU per request/GiB is the more portable figure.")
    add("- Every h2load run has `-N %ds`: a connection with no traffic for %d s is given up and "
        "its calls count as failed, so a stalled stream ends the case instead of the run; such "
        "cases are listed under \"Problems in this run\"." % (STALL_S, STALL_S))
    add("- The backend answers with the same bytes whichever front asks. It is single-threaded: "
        "in the direct-tls streaming rows its CPU s/GiB x throughput is about one core, i.e. "
        "direct-tls measures the test backend's own TLS writer (compare direct-h2c), not a "
        "ceiling for a TLS proxy.")
    neg = {}
    for r in list(u.items()) + [(k.split("-", 1)[1], v) for k, v in s.items()]:
        if r[1].get("tls"):
            neg.setdefault(r[0], set()).add("%s %s" % (r[1]["tls"], r[1].get("cipher", "-")))
    add("- Negotiated by h2load: %s." % "; ".join("%s: %s" % (k, ", ".join(sorted(v)))
                                                  for k, v in neg.items()))
    add("")
    add("sparkgate configuration (every limit at its default: stream/connection windows 1 MiB / "
        "16 MiB both sides, 100 streams per connection):")
    add("")
    add("```json")
    add(json.dumps(res["sparkgate_config"], indent=1))
    add("```")
    add("")
    add("nghttpx command line and why each flag:")
    add("")
    add("```")
    add(" ".join(shlex.quote(a) for a in res["nghttpx_argv"]))
    add("```")
    add("")
    add("| flag | why |")
    add("|---|---|")
    for flag, why in NGHTTPX_FLAGS:
        flag = flag.format(port="PORT", be_port="BACKEND_PORT", out="bench/out", tag="")
        add("| `%s` | %s |" % (flag.replace("|", "\\|"), why))
    add("| `server.key server.pem` | the same key and certificate as sparkgate |")
    add("")
    add("Left at nghttpx's defaults: TLS versions and the TLS 1.2 cipher list, "
        "the TLS dynamic record size (1 MiB of ~1.3 KB records per connection, then 16 KiB), "
        "kTLS off, master + worker processes.")
    add("")
    add("## Exact commands")
    add("")
    add("Ports are ephemeral, picked per run. Each command below runs %d times (rounds "
        "interleaved across fronts, log file names get a round suffix), after one unmeasured "
        "warm-up of the same shape (20,000 calls; one 64 MiB call per connection) that sets "
        "the count." % ROUNDS)
    add("")
    add("```")
    for c in res["commands"]:
        add(c)
    add("```")
    add("")
    add("## How to reproduce")
    add("")
    add("```sh")
    add("apt-get install nghttp2-client nghttp2-proxy openssl python3   # h2load, nghttpx")
    add("bench/run.sh            # builds sparkgate, the test backend and bench/jwt_verify_bench.c "
        "if needed, ~3 minutes")
    add("/usr/bin/python3 bench/bench.py --doc-only   # rewrite this file from bench/out/results.json")
    add("```")
    add("")
    add("Run it on an otherwise idle machine: the script reports background CPU load above. "
        "Knobs (environment): `BENCH_UNARY_SECS` (4), `BENCH_STREAM_SECS` (4), `BENCH_ROUNDS` (3), `BENCH_RETRIES` (8), "
        "`BENCH_IDLE_CONNS` (1000), `BENCH_AUTH_SECS` (%g), `BENCH_SECTIONS` "
        "(`unary,stream,idle,auth`: a subset for quick checks), `BENCH_DEADLINE` (300 s hard "
        "stop), `BENCH_SPARKGATE` (another "
        "sparkgate binary, e.g. to compare builds). Benchmarks are not "
        "part of `make check`." % AUTH_SECS)
    add("")
    with open(DOC, "w") as f:
        f.write("\n".join(L))


AUTH_LABELS = {
    "none": "no auth (no \"auth\" section: anonymous)",
    "none-rs256hdr": "no auth, the RS256 token sent anyway (ignored)",
    "static": "static bearer token",
    "rs256": "JWT RS256 (RSA 2048)",
    "es256": "JWT ES256 (P-256)",
    "rs256-nocache": "JWT RS256, cache off",
    "es256-nocache": "JWT ES256, cache off",
}


def _per_call(r):
    return 1e6 * r["server_cpu_s"] / max(1, r["succeeded"])


def auth_target(A):
    """(met, text) for the 10% target: static, RS256 and ES256 with the cache vs no auth."""
    u = A.get("unary") or {}
    none = u.get("none")
    want = ("static", "rs256", "es256")
    if not none or any(k not in u for k in want):
        return False, "not measured"
    parts, ok = [], True
    for k in want:
        r = u[k]
        ratio = r["req_s"] / none["req_s"]
        bad = (r["total"] - r["succeeded"]) or r["data_per_req"] < none["data_per_req"] - 0.5
        ok = ok and ratio >= 1 - AUTH_TARGET and not bad
        parts.append("%s %.0f%%%s" % ({"static": "static", "rs256": "RS256", "es256": "ES256"}[k],
                                      100 * ratio, " (calls failed)" if bad else ""))
    return ok, "%s of %.0f req/s" % (", ".join(parts), none["req_s"])


def auth_noise_note(A):
    n = A.get("noise") or {}
    if not n.get("noisy_runs"):
        return ""
    return ("; %d of %d runs noisy (others' CPU > %.0f%%)%s: see section 4, CPU per call"
            % (n["noisy_runs"], n["runs"], 100 * NOISE,
               "" if n.get("all_cases_clean") else ", medians over all runs"))


def _micro(A, tok, op):
    for m in A.get("micro") or []:
        if m["token"] == tok and m["op"] == op:
            return m
    return None


def write_auth(add, res):
    A = res.get("auth") or {}
    u = A.get("unary") or {}
    m = res["machine"]
    add("## 4. Authentication cost")
    add("")
    if not u:
        add("Not measured in this run%s." % (" (see \"Problems in this run\")"
                                             if res.get("errors") else ""))
        add("")
        return
    none = u.get("none")
    add("The unary case of section 1, through sparkgate only: h2load `-t 1 -c 16 -m 10`, the same "
        "%d-byte `ConfigRequest`, the same TLS front, backend and sparkgate settings, plus one "
        "request header `authorization: Bearer TOKEN`. Three fresh sparkgate processes:"
        % len(CONFIG_REQ))
    add("")
    add("- **no auth**: the configuration of section 1, no `\"auth\"` section: on a loopback "
        "listener every call is anonymous (no header sent; one extra case sends the RS256 token "
        "anyway, which sparkgate reads as a credential header and drops: the cost of carrying "
        "the token without authenticating it).")
    add("- **auth**: the same plus an `\"auth\"` section (below) with one static token and one "
        "JWT issuer whose keys are PEM files (`public_keys`: an RSA 2048-bit key for RS256, an "
        "EC P-256 key for ES256; no IdP, no JWKS fetch). The static, RS256 and ES256 cases differ "
        "only by the token sent. The token cache is on (default, 10,000 entries per worker).")
    add("- **auth, cache off**: identical but `\"token_cache_entries\": 0`: every call verifies "
        "its token (the cold, cache-miss path).")
    add("")
    add("Every principal (the static token's, the JWTs' `sub`) is `%s`, the `user_id` the "
        "request already carries: sparkgate's identity binding rewrites `user_context` to the "
        "same bytes (moved to the end of the message), so the forwarded request keeps its "
        "length. This matters at this commit: h2load sends `content-length`, sparkgate "
        "forwards it unchanged, and a rewrite that changes the length makes the backend reset "
        "the stream (grpc-status 14; every case is checked for the 116-byte answer)."
        % AUTH_PRINCIPAL)
    add("")
    add("One token per case, sent on every call, as a client that reuses its token does: with "
        "the cache, each of the 2 workers verifies it on its first call and then finds its "
        "SHA-256 in its cache until `exp` (1 h). Per case: a 20,000-call warm-up that sets the "
        "count (about %.1f s of work per run), then %d measured runs, interleaved with the other "
        "cases (order rotated each round); the row is the median run (by req/s). sparkgate CPU = "
        "utime+stime of that sparkgate process during the run, per call. Before measuring, two "
        "controls against the auth process must be refused (no response DATA): %s."
        % (AUTH_SECS, ROUNDS,
           "; ".join("%s: %d calls, %d bytes of DATA (%s)"
                     % (c["what"], c["calls"], c["bytes_data"], "refused" if c["ok"] else
                        "**not refused**") for c in A.get("controls") or []) or "not run"))
    add("")
    add("| case | token bytes | requests | req/s | runs (req/s) | p50 ms | p99 ms | "
        "sparkgate CPU us/call | h2load CPU | req/s vs no auth |")
    add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    tb = A.get("token_bytes") or {}
    for k in A.get("cases") or list(u):
        r = u.get(k)
        if not r:
            continue
        fails = r["total"] - r["succeeded"]
        add("| %s | %s | %d%s | %.0f | %s | %.2f | %.2f | %.1f | %.0f%% | %s |"
            % (AUTH_LABELS.get(k, k), tb.get((A.get("case_token") or {}).get(k) or k.split("-")[0], "-"), r["succeeded"],
               " (%d failed)" % fails if fails else "", r["req_s"], spread(r),
               r.get("p50_us", 0) / 1000, r.get("p99_us", 0) / 1000, _per_call(r),
               100 * r["client_cpu_s"] / max(r["wall_s"], 1e-3),
               "-" if k == "none" or not none else "%.0f%%" % (100 * r["req_s"] / none["req_s"])))
    add("")
    ok, txt = auth_target(A)
    add("**Target: authenticated throughput with the token cache within %d%% of no auth: %s** "
        "(%s%s)." % (100 * AUTH_TARGET, "met" if ok else "not met", txt, auth_noise_note(A)))
    if not (A.get("noise") or {}).get("all_cases_clean", True):
        add("Not every case had a run free of other processes' load, so every row is the median "
            "of all its runs (noisy ones included): rows are compared alike.")
    if none:
        add("By sparkgate CPU per call instead (steadier when other processes load the machine; "
            "the throughput sparkgate alone would allow, relative to no auth): %s."
            % ", ".join("%s %.0f%%" % (n, 100 * _per_call(none) / _per_call(u[k]))
                        for k, n in (("static", "static"), ("rs256", "RS256"),
                                     ("es256", "ES256")) if k in u))
    if none:
        extra = ["%s +%.1f" % (n, _per_call(u[k]) - _per_call(none))
                 for k, n in (("static", "static"), ("rs256", "RS256"), ("es256", "ES256"))
                 if k in u]
        add("With the cache, an authenticated call costs sparkgate %s us of CPU more than an "
            "anonymous one (%.1f us). Per call it hashes the token (SHA-256, the cache key) and "
            "looks it up, decodes the `authorization` header (h2load, as every nghttp2-based "
            "client, sends it as a never-indexed HPACK literal: the whole token on every call), rewrites the "
            "request's `user_context` to the principal and adds `x-sparkgate-principal`, "
            "`-auth` and `-profile` toward the backend; anonymous calls do none of this."
            % (", ".join(extra), _per_call(none)))
        hd, rs = u.get("none-rs256hdr"), u.get("rs256")
        if hd and rs:
            add("")
            add("Where the RS256 case's +%.1f us go: +%.1f us come with the token's bytes alone "
                "(the no-auth process, the same header sent and ignored: %.0f%% of no-auth "
                "throughput), the remaining %+.1f us are authentication with a cache hit (hash, "
                "lookup, identity binding, identity headers)."
                % (_per_call(rs) - _per_call(none), _per_call(hd) - _per_call(none),
                   100 * hd["req_s"] / none["req_s"], _per_call(rs) - _per_call(hd)))
    add("")

    # cold cost
    add("### Cold (cache-miss) verification cost per token")
    add("")
    add("End to end: the cache-off row against the cached row of the same token; the CPU "
        "difference per call is what a cache miss adds (signature check, base64url and JSON "
        "decoding, claim checks). Micro-benchmark: `bench/jwt_verify_bench.c`, linked against "
        "`src/libsgparse.a` (the verifier sparkgate runs) and built by `bench/run.sh` with the "
        "project's compile and link lines, one thread, the same keys and tokens, about %.1f s of "
        "CPU per operation: *miss* = `auth_jwt_peek` + `auth_jwt_verify` (what `check_jwt` runs "
        "on a miss), *signature* = the `EVP_DigestVerifyInit` + `EVP_DigestVerify` call alone "
        "(as `verify_pkey` makes it). `openssl speed` is OpenSSL's own verify loop (no "
        "per-call context setup), for reference." % MICRO_SECS)
    add("")
    sp = A.get("openssl_speed") or {}
    add("| token | req/s cached | req/s cache off | off / cached | sparkgate CPU us/call "
        "cached | cache off | difference (end to end) | micro: miss us | micro: signature us | "
        "openssl speed verify us | verifications/s per core (micro) |")
    add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for k, n in (("rs256", "RS256 (RSA 2048)"), ("es256", "ES256 (P-256)")):
        on, off = u.get(k), u.get(k + "-nocache")
        mi, sg_ = _micro(A, k, "miss"), _micro(A, k, "sig")
        add("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
            % (n, "%.0f" % on["req_s"] if on else "-", "%.0f" % off["req_s"] if off else "-",
               "%.2f" % (off["req_s"] / on["req_s"]) if on and off else "-",
               "%.1f" % _per_call(on) if on else "-", "%.1f" % _per_call(off) if off else "-",
               "%+.1f us" % (_per_call(off) - _per_call(on)) if on and off else "-",
               "%.1f" % mi["cpu_us"] if mi else "-", "%.1f" % sg_["cpu_us"] if sg_ else "-",
               "%.1f" % (1e6 / sp[k]["verify_s"]) if k in sp else "-",
               "%.0f" % (1e6 / mi["cpu_us"]) if mi else "-"))
    add("")
    if A.get("micro"):
        add("Micro-benchmark, CPU us per call (all rows):")
        add("")
        add("| token | miss (peek + verify) | auth_jwt_verify | signature only | "
            "SHA-256 of the token (the cache key: what a hit pays) |")
        add("|---|---:|---:|---:|---:|")
        for k in ("rs256", "es256"):
            cells = []
            for op in ("miss", "verify", "sig", "sha256"):
                x = _micro(A, k, op)
                cells.append(("%.2f" % x["cpu_us"]) if x else "-")
            add("| %s | %s |" % (k.upper(), " | ".join(cells)))
        add("")
    elif A.get("micro_error"):
        add("Micro-benchmark: %s." % A["micro_error"])
        add("")
    add("Machine: %d CPUs (%s), %s, kernel %s, %s; sparkgate commit %s. Both verifications run "
        "on whichever worker took the call; with the cache off the 2 workers, the backend and "
        "h2load share the 2 cores, so the end-to-end difference also carries some "
        "batching effects of the lower call rate: the micro-benchmark is the cleaner figure."
        % (m["nproc"], m["cpu"], m["os"], m["kernel"], m.get("openssl", "OpenSSL ?"),
           m["commit"]))
    add("")
    add("Exact commands (in the repository root; ports are ephemeral; each h2load command runs "
        "%d times, after its 20,000-call warm-up; the token files are read by the shell):"
        % ROUNDS)
    add("")
    add("```sh")
    add("# keys and tokens (bench/out/auth/, new each run)")
    for c in A.get("setup") or []:
        add(c)
    add("# h2load, in this order in round 0 (no auth without and with a token, static, RS256, "
        "ES256 on the auth process, then RS256, ES256 on the cache-off one)")
    for c in A.get("commands") or []:
        add(c)
    if A.get("micro_cmd"):
        add("# micro-benchmark: built by bench/run.sh with")
        for c in A.get("micro_build") or []:
            add(c)
        add(A["micro_cmd"])
    if A.get("openssl_cmd"):
        add(A["openssl_cmd"])
    add("```")
    add("")
    if A.get("config_auth"):
        cfg = json.loads(json.dumps(A["config_auth"]).replace(ROOT + "/", ""))
        add("The `\"auth\"` section added to the section-1 configuration (paths relative to the "
            "repository; the cache-off process adds `\"token_cache_entries\": 0`):")
        add("")
        add("```json")
        add(json.dumps(cfg, indent=1))
        add("```")
        add("")


def _pkgver(m, pkg):
    for line in m["packages"]:
        if line.startswith(pkg + " "):
            return line.split()[1]
    return "?"


if __name__ == "__main__":
    if sys.argv[1:] == ["--doc-only"]:
        # regenerate docs/benchmarks.md from bench/out/results.json (no measurement)
        with open(os.path.join(OUT, "results.json")) as f:
            write_doc(json.load(f))
        sys.exit(0)
    rc = 0
    try:
        main()
    except (Deadline, RuntimeError, subprocess.CalledProcessError) as e:
        log("FAILED: %s" % e)
        rc = 1
    except KeyboardInterrupt:
        rc = 130
    finally:
        signal.alarm(0)
        stop_all()
    sys.exit(rc)
