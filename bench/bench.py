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
  policy      bench/plan_bench.c (plan_walk / policy_check_request per node, C stack),
              one 64 MiB LocalRelation ExecutePlan through every front (time, peak RSS),
              unary Config / ExecutePlan through sparkgate without and with profiles
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

DEADLINE_S = float(os.environ.get("BENCH_DEADLINE", "420"))   # hard stop for the whole run
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
# which parts run (a subset leaves the other sections of the doc empty): unary, stream, idle,
# auth, policy
SECTIONS = set(os.environ.get("BENCH_SECTIONS", "unary,stream,idle,auth,policy").split(","))

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


# Section 5: plan inspection and per-profile policy.
POLICY_SECS = float(os.environ.get("BENCH_POLICY_SECS", "2"))  # target length of one run
PLAN_MICRO = os.path.join(OUT, "bin", "plan-bench")            # built by bench/run.sh
PLAN_MICRO_SECS = 0.1        # CPU seconds per shape, size and operation in plan-bench
POLICY_TARGET = 0.10         # typical-policy throughput within 10% of no policy
BIG_RSS_TARGET = 2.0         # peak RSS for the 64 MiB request under 2x the message
LINEAR_TARGET = 1.5          # ns/node at 100,000 nodes at most 1.5x that at 1,000
BIG_CALLS = 7                # 64 MiB calls after the first one, per front
POLICY_PROFILES = ("sql-only", "analyst")
# docs/policy.md's "sql-only", used only if conf/sparkgate.json ships no profiles
DOC_SQL_ONLY = {
    "description": "queries and DataFrames; no user code, no artifacts, no conf changes",
    "methods": ["ExecutePlan", "AnalyzePlan", "Config", "ReattachExecute", "ReleaseExecute",
                "ReleaseSession", "Interrupt", "FetchErrorDetails", "ArtifactStatus", "GetStatus"],
    "relations": {"deny": ["map_partitions", "group_map", "co_group_map",
                           "apply_in_pandas_with_state",
                           "common_inline_user_defined_table_function",
                           "common_inline_user_defined_data_source"]},
    "commands": {"allow": ["sql_command", "create_dataframe_view"]},
    "expressions": {"deny": ["common_inline_user_defined_function"]},
    "user_code": {"languages": []},
    "sql": ["query"],
    "conf": {"allow": []},
    "artifacts": {},
    "unknown": "deny",
}


def strip_json_comments(text):
    """conf/sparkgate.json is JSON with // and /* */ comments (outside strings)."""
    out, i, n, in_str = [], 0, len(text), False
    while i < n:
        c = text[i]
        if in_str:
            out.append(c)
            if c == "\\":
                out.append(text[i + 1:i + 2])
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
            out.append(c)
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
            continue
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def shipped_profiles():
    """The "sql-only" and "analyst" profiles of conf/sparkgate.json, as shipped (fallback:
    docs/policy.md's "sql-only").  Returns (profiles, where they came from)."""
    try:
        with open(os.path.join(ROOT, "conf", "sparkgate.json")) as f:
            conf = json.loads(strip_json_comments(f.read()))
        prof = {k: v for k, v in (conf.get("profiles") or {}).items() if k in POLICY_PROFILES}
        if "sql-only" in prof:
            return prof, "conf/sparkgate.json"
    except (OSError, ValueError):
        pass
    return {"sql-only": DOC_SQL_ONLY}, "docs/policy.md (conf/sparkgate.json has no \"sql-only\")"


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


# Section 5 (plan policy).  Expressions and relations as a DataFrame client sends them
# (field numbers of spark/connect/expressions.proto and relations.proto).
def vfield(field, v):
    return varint(field << 3) + varint(v)


def ex_attr(name):          # Expression{unresolved_attribute{unparsed_identifier}}
    return ld(2, ld(1, name))


def ex_int(v):              # Expression{literal{integer}}
    return ld(1, vfield(6, v))


def ex_fn(name, *args):     # Expression{unresolved_function{function_name, arguments...}}
    return ld(3, ld(1, name) + b"".join(ld(2, a) for a in args))


def ex_alias(e, name):      # Expression{alias{expr, name}}
    return ld(6, ld(1, e) + ld(2, name))


def exec_plan(rel, session=SESSION):
    """ExecutePlanRequest{session_id, user_context, plan{root = rel}} (unframed)."""
    return ld(1, session) + USER + ld(3, ld(1, rel))


# df.filter(c0 > 0).select(c_i + i AS x_i for 24 columns) on a table: 102 plan nodes
# (project, filter, read, 3 for the condition, 4 per aliased expression)
DF_REL = ld(3, ld(1, ld(4, ld(1, ld(2, ld(1, ld(1, "bench.events"))))
                        + ld(2, ex_fn(">", ex_attr("c0"), ex_int(0)))))
            + b"".join(ld(3, ex_alias(ex_fn("+", ex_attr("c%d" % i), ex_int(i)), "x%d" % i))
                       for i in range(24)))
EXEC_DF_REQ = grpc_frame(exec_plan(DF_REL))
DF_NODES = 102
# must be refused by the "sql-only" profile: DML SQL, and a Config set
EXEC_DML_REQ = grpc_frame(exec_plan(ld(10, ld(1, "INSERT INTO bench.t VALUES (1)"))))
CONFIG_SET_REQ = grpc_frame(ld(1, SESSION) + USER + ld(3, ld(1, ld(1, ld(1, "spark.sql.shuffle.partitions")
                                                                       + ld(2, "8")))))
BIG_MSG = 64 * MIB   # the LocalRelation request message, gRPC header excluded


def big_local_relation(size=BIG_MSG):
    """ExecutePlanRequest{..., plan{root{local_relation{data, schema}}}} of exactly |size|
    bytes (the data blob is random: an Arrow IPC stream is not compressible either)."""
    schema = "id BIGINT, payload BINARY"

    def ldlen(field, n):
        return len(varint(field << 3 | 2)) + len(varint(n)) + n

    def total(dlen):
        rel = ldlen(11, ldlen(1, dlen) + ldlen(2, len(schema)))
        return ldlen(1, len(SESSION)) + len(USER) + ldlen(3, ldlen(1, rel))
    dlen = size - 100
    for _ in range(10):
        if total(dlen) == size:
            break
        dlen += size - total(dlen)
    else:
        raise RuntimeError("cannot size the LocalRelation request")
    msg = exec_plan(ld(11, ld(1, os.urandom(dlen)) + ld(2, schema)))
    assert len(msg) == size
    return grpc_frame(msg)


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
    def start_sparkgate(tag="", auth=None, extra=None):
        port = free_port()
        cfgf = os.path.join(OUT, "sparkgate%s.json" % tag)
        cfg = sparkgate_config(port, ports["h2c"], certs)
        if auth is not None:
            cfg["auth"] = auth
        cfg.update(extra or {})
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
    # |method|, |req|: another unary RPC and request file (section 5), same h2load shape
    def unary_warm(name, base, be_pids, px_pids, kind="unary", hdr=(), secs=UNARY_SECS,
                   method="Config", req="config.grpc"):
        url = base + SVC + method
        ua = ["-c", "16", "-m", "10", "-d", req] + GRPC_H
        warm = h2load("%s-%s-warmup" % (kind, name), ["-n", "20000"] + ua + list(hdr), url, 20,
                      record=False)
        calib[kind + "-" + name] = int(clamp(round(warm["req_s"] * secs, -4), 20000, 600000))

    def unary(rnd, name, base, be_pids, px_pids, **kw):
        measure(lambda: unary1(rnd, name, base, be_pids, px_pids, **kw))

    def unary1(rnd, name, base, be_pids, px_pids, kind="unary", hdr=(), secs=UNARY_SECS,
               cmds=None, shown=None, method="Config", req="config.grpc"):
        url = base + SVC + method
        ua = ["-c", "16", "-m", "10", "-d", req] + GRPC_H
        n = calib[kind + "-" + name]
        logf = "%s-%s-r%d.log" % (kind, name, rnd)
        r = h2load("%s-%s-r%d" % (kind, name, rnd), ["-n", str(n), "--log-file", logf] + ua
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

    # --- 5. plan inspection and policy -----------------------------------------------
    # (a) bench/plan_bench.c: plan_walk / policy_check_request per node, C stack use;
    # (b) one 64 MiB LocalRelation ExecutePlan request, every front, proxies fresh: time and
    #     peak RSS; (c) unary calls through sparkgate without "profiles" and with the
    #     shipped "sql-only" / "analyst" profiles.  Both sparkgates of (c) authenticate the
    #     same way (one static token per profile, principal "bench" = the requests' user_id),
    #     so they differ only by the "profiles" section.
    P = res["policy"] = {"micro": [], "big": {}, "unary": {}, "commands": [], "big_commands": [],
                         "controls": [], "setup": []}
    pdir = os.path.join(OUT, "policy")
    ptok = {}

    def policy_micro():
        if not os.access(PLAN_MICRO, os.X_OK):
            P["micro_error"] = "bench/out/bin/plan-bench was not built (see bench/run.sh)"
            return
        argv = [bench_rel(PLAN_MICRO), "%g" % PLAN_MICRO_SECS]
        P["micro_cmd"] = " ".join(shlex.quote(a) for a in argv)
        try:
            with open(os.path.join(OUT, "bin", "build-plan.txt")) as f:
                P["micro_build"] = f.read().strip().splitlines()
        except OSError:
            P["micro_build"] = []
        # Two runs; per row the faster median is kept (a time slice lost to the host or
        # another process only ever makes a row slower).  A run during which other processes
        # took more than NOISE/2 of a CPU earns a third.
        runs_, foreign_ = [], []
        for attempt in range(3):
            o0, b0, t0 = cpu_seconds(our_pids()), cpu_busy_total(), time.monotonic()
            ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cp = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT)
            ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            wall = time.monotonic() - t0
            mine = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
            foreign = max(0.0, cpu_busy_total() - b0 - (cpu_seconds(our_pids()) - o0)
                          - mine) / max(wall, 1e-3)
            with open(os.path.join(OUT, "plan-bench-%d.txt" % attempt), "w") as f:
                f.write("$ " + P["micro_cmd"] + "\n" + cp.stdout + cp.stderr)
            if cp.returncode != 0:
                raise RuntimeError("plan-bench failed (rc %d): %s" % (cp.returncode,
                                                                     cp.stderr.strip()[-300:]))
            log("plan-bench: %.1f s, others' CPU %.0f%%" % (wall, 100 * foreign))
            runs_.append([json.loads(line) for line in cp.stdout.splitlines()
                          if line.startswith("{")])
            foreign_.append(foreign)
            if attempt >= 1 and (min(foreign_) <= NOISE / 2 or remaining() < 120):
                break
        P["micro_foreign"] = foreign_
        P["micro_runs"] = len(runs_)
        clean = [r for r, f in zip(runs_, foreign_) if f <= NOISE / 2] or runs_
        merged = {}
        for rows in clean:
            for m_ in rows:
                k = (m_["bench"], m_["shape"], m_["target"], m_.get("op"))
                if k not in merged or m_.get("us_per_call", 0) < merged[k].get("us_per_call", 0):
                    merged[k] = m_
        P["micro"] = [merged[(m_["bench"], m_["shape"], m_["target"], m_.get("op"))]
                      for m_ in clean[0]]
        for m_ in P["micro"]:
            if m_["bench"] == "plan" and m_["op"] == "policy":
                log("plan   %-5s %7d nodes depth %4d: %10.1f us per check, %6.1f ns/node%s"
                    % (m_["shape"], m_["nodes"], m_["depth"], m_["us_per_call"],
                       m_["ns_per_node"], " (%s)" % m_["rule"] if m_["status"] else ""))
            elif m_["bench"] == "stack":
                log("stack  %-5s depth %4d: walk %d B, policy %d B, sp spread %d B"
                    % (m_["shape"], m_["depth"], m_["walk_stack_bytes"],
                       m_["policy_stack_bytes"], m_["sp_spread"]))

    def policy_setup():
        os.makedirs(pdir, exist_ok=True)
        for f in os.listdir(pdir):
            os.unlink(os.path.join(pdir, f))
        for name, data in (("exec_df.grpc", EXEC_DF_REQ), ("exec_dml.grpc", EXEC_DML_REQ),
                           ("config_set.grpc", CONFIG_SET_REQ),
                           ("big_localrelation.grpc", big_local_relation())):
            with open(os.path.join(OUT, name), "wb") as f:
                f.write(data)
        profiles, src = shipped_profiles()
        P["profiles_source"] = src
        P["profiles"] = profiles
        digests = {}
        for prof in [p_ for p_ in POLICY_PROFILES if p_ in profiles]:
            tf = os.path.join(pdir, "%s.tok" % prof)
            with open(tf, "w") as f:
                f.write("sgt_" + os.urandom(24).hex() + "\n")
            with open(tf, "rb") as f:
                raw = f.read()
            ptok[prof] = raw.decode().strip()
            cp = subprocess.run([SPARKGATE, "hash-token"], input=raw, capture_output=True,
                                timeout=30, cwd=ROOT)
            if cp.returncode != 0:
                raise RuntimeError("sparkgate hash-token failed: %s" % cp.stderr.decode()[-200:])
            digests[prof] = cp.stdout.decode().strip()
            P["setup"].append("# %s: \"sgt_\" and 48 random hex digits; its digest: %s "
                              "hash-token < %s" % (bench_rel(tf), sg_shown, bench_rel(tf)))
        auth = {"static_tokens": [{"sha256": d_, "principal": AUTH_PRINCIPAL, "profile": p_}
                                  for p_, d_ in digests.items()]}
        P["config_noprofiles"] = {"auth": auth}
        P["config_policy"] = {"auth": auth, "profiles": profiles}
        return auth, profiles

    def tok_hdr(prof):
        if prof is None:
            return [], None
        h = "authorization: Bearer " + ptok[prof]
        return ["-H", h], {h: '"authorization: Bearer $(cat bench/out/policy/%s.tok)"' % prof}

    def policy_control(what, port, prof, method, req, refused):
        hdr, _ = tok_hdr(prof)
        r = h2load("policy-control-%s" % what, ["-n", "100", "-c", "1", "-m", "10", "-d", req]
                   + GRPC_H + hdr, "https://127.0.0.1:%d%s%s" % (port, SVC, method), 20,
                   record=False)
        ok = r["succeeded"] == r["total"] and ((r["bytes_data"] == 0) == refused)
        P["controls"].append({"what": what, "calls": r["total"], "bytes_data": r["bytes_data"],
                              "refused": r["bytes_data"] == 0, "ok": ok})
        if not ok:
            raise RuntimeError("policy control %s: %d bytes of DATA (expected %s)"
                               % (what, r["bytes_data"], "none" if refused else "some"))

    def big_case(name, url, pids_fn, prof=None):
        """One front: 1 + BIG_CALLS calls, one after the other, each on a new connection (the
        kernel spreads sparkgate's connections over its workers: SO_REUSEPORT)."""
        hdr, shown = tok_hdr(prof)
        pids = pids_fn()
        base = {pid: mem_kib(pid) for pid in pids}
        out = {"base": base, "runs": []}
        times = []
        for i in range(1 + BIG_CALLS):
            logf = "big-%s-%d.log" % (name, i)
            r = h2load("big-%s-%d" % (name, i), ["-n", "1", "-c", "1", "-m", "1", "--log-file",
                                                 logf, "-d", "big_localrelation.grpc"]
                       + GRPC_H + hdr, url + SVC + "ExecutePlan", 60, cpu_pids=pids,
                       record=i == 0, cmds=P["big_commands"], shown=shown)
            with open(os.path.join(OUT, logf)) as f:
                ts = [int(c[2]) for c in (line.split("\t") for line in f) if len(c) >= 3 and c[1] == "200"]
            times += ts
            r["mem"] = {pid: mem_kib(pid) for pid in pids_fn()}
            r["data_per_call"] = r["bytes_data"] / max(1, r["succeeded"])
            out["runs"].append(r)
            if r["succeeded"] != 1 or r["bytes_data"] == 0:
                raise RuntimeError("big-%s: call %d failed: %d bytes of response DATA"
                                   % (name, i, r["bytes_data"]))
        out["first_ms"] = times[0] / 1000.0 if times else 0.0
        times.sort()
        out["times_us"] = times
        out["median_ms"] = times[len(times) // 2] / 1000.0
        out["cpu_s"] = sum(r["server_cpu_s"] for r in out["runs"])
        out["calls"] = sum(r["succeeded"] for r in out["runs"])
        P["big"][name] = out
        hwm = sum(v["VmHWM"] for v in out["runs"][-1]["mem"].values())
        b0 = sum(v["VmRSS"] for v in base.values())
        log("big    %-22s %7.1f ms per 64 MiB call (median of %d), %s"
            % (name, out["median_ms"], len(times),
               "peak RSS +%.1f MiB (%.2fx the message)" % ((hwm - b0) / 1024.0,
                                                           (hwm - b0) * 1024.0 / BIG_MSG)
               if pids and base else "RSS: not a proxy"))

    def policy_phase():
        case("policy-micro", policy_micro)
        auth, profiles = policy_setup()
        # (b) 64 MiB LocalRelation: fresh proxies (their VmHWM is this request's)
        pz, sgz = start_sparkgate("-policy-anon")
        pn, sgn = start_sparkgate("-policy-none", auth)
        pp, sgp = start_sparkgate("-policy", auth, {"profiles": profiles})
        # the same without audit lines (log.audit false): the plan digest is not computed
        log_noaudit = dict(sparkgate_config(0, 0, certs)["log"], audit=False)
        pq, sgq = start_sparkgate("-policy-noaudit", auth, {"profiles": profiles,
                                                            "log": log_noaudit})
        px, nxp = start_nghttpx("-policy")
        try:
            policy_control("sql-only-dml", pp, "sql-only", "ExecutePlan", "exec_dml.grpc", True)
            policy_control("sql-only-config-set", pp, "sql-only", "Config", "config_set.grpc", True)
            policy_control("noprofiles-dml", pn, "sql-only", "ExecutePlan", "exec_dml.grpc", False)
            time.sleep(0.3)
            big = [("direct-tls", "https://127.0.0.1:%d" % ports["tls"], lambda: [], None),
                   ("direct-h2c", "http://127.0.0.1:%d" % ports["h2c"], lambda: [], None),
                   ("nghttpx", "https://127.0.0.1:%d" % px, lambda: children(nxp.pid), None),
                   ("sparkgate-anon", "https://127.0.0.1:%d" % pz, lambda: [sgz.pid], None),
                   ("sparkgate-noprofiles", "https://127.0.0.1:%d" % pn, lambda: [sgn.pid],
                    "sql-only"),
                   ("sparkgate-policy", "https://127.0.0.1:%d" % pp, lambda: [sgp.pid],
                    "sql-only"),
                   ("sparkgate-policy-noaudit", "https://127.0.0.1:%d" % pq,
                    lambda: [sgq.pid], "sql-only")]
            for b_ in big:
                case("big-" + b_[0], lambda b_=b_: big_case(*b_))
            stop(sgz)
            stop(sgq)
            os.unlink(os.path.join(OUT, "big_localrelation.grpc"))   # 64 MiB: not worth keeping
            # (c) unary: (case, port, process, token profile, method, request file)
            cases = [("none-config", pn, sgn, "sql-only", "Config", "config.grpc"),
                     ("sql-only-config", pp, sgp, "sql-only", "Config", "config.grpc"),
                     ("none-sql", pn, sgn, "sql-only", "ExecutePlan", "execute.grpc"),
                     ("sql-only-sql", pp, sgp, "sql-only", "ExecutePlan", "execute.grpc"),
                     ("analyst-sql", pp, sgp, "analyst", "ExecutePlan", "execute.grpc"),
                     ("none-df", pn, sgn, "sql-only", "ExecutePlan", "exec_df.grpc"),
                     ("sql-only-df", pp, sgp, "sql-only", "ExecutePlan", "exec_df.grpc"),
                     ("nghttpx-df", px, nxp, None, "ExecutePlan", "exec_df.grpc")]
            if "analyst" not in ptok:
                cases = [c for c in cases if not c[0].startswith("analyst")]
            P["cases"] = [c[0] for c in cases]

            def kw(c):
                hdr, shown = tok_hdr(c[3])
                return {"kind": "policy", "secs": POLICY_SECS, "cmds": P["commands"], "hdr": hdr,
                        "shown": shown, "method": c[4], "req": c[5]}

            def args(c):
                if c[0].startswith("nghttpx"):
                    px_fn = lambda p=c[2]: [p.pid] + children(p.pid)   # noqa: E731
                else:
                    px_fn = lambda p=c[2]: [p.pid]                     # noqa: E731
                return (c[0], "https://127.0.0.1:%d" % c[1], lambda: [be.pid], px_fn)
            for c in cases:
                k = kw(c)
                k.pop("cmds")
                k.pop("shown")
                case("policy-" + c[0], lambda c=c, k=k: unary_warm(*args(c), **k))
            for rnd in range(ROUNDS):
                for c in cases[rnd % len(cases):] + cases[:rnd % len(cases)]:
                    if "policy-" + c[0] in calib:
                        case("policy-" + c[0], lambda c=c, rnd=rnd: unary(rnd, *args(c), **kw(c)))
            P["mem_after"] = {"sparkgate-policy": mem_kib(sgp.pid) if sgp.poll() is None else {},
                              "sparkgate-noprofiles": mem_kib(sgn.pid) if sgn.poll() is None else {}}
        finally:
            for p_ in (sgz, sgq, sgn, sgp, nxp):
                stop(p_)

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
        if "policy" in SECTIONS:
            case("policy", policy_phase)
    except Deadline as e:
        res["errors"].append("stopped early: %s" % e)
        log("STOPPED: %s" % e)
    policy_runs = [v for k, v in runs.items() if k.startswith("policy-")]
    policy_clean = all(any(r["foreign_cpu"] <= NOISE for r in v) for v in policy_runs)
    P["noise"] = {"all_cases_clean": policy_clean, "runs": sum(len(v) for v in policy_runs),
                  "noisy_runs": sum(1 for v in policy_runs for r in v if r["foreign_cpu"] > NOISE)}
    auth_runs = [v for k, v in runs.items() if k.startswith("auth-")]
    auth_clean = all(any(r["foreign_cpu"] <= NOISE for r in v) for v in auth_runs)
    A["noise"] = {"all_cases_clean": auth_clean, "runs": sum(len(v) for v in auth_runs),
                  "noisy_runs": sum(1 for v in auth_runs for r in v if r["foreign_cpu"] > NOISE)}
    for k, v in runs.items():
        if k.startswith("unary-"):
            res["unary"][k[6:]] = median_run(v, "req_s")
        elif k.startswith("auth-"):
            A["unary"][k[5:]] = median_run(v, "req_s", keep_noisy=not auth_clean)
        elif k.startswith("policy-"):
            P["unary"][k[7:]] = median_run(v, "req_s", keep_noisy=not policy_clean)
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
    P = res.get("policy") or {}
    ok, txt = policy_linear(P)
    add("| plan inspection cost linear in plan size (ns/node at 100,000 nodes <= %.1fx at 1,000) "
        "| %s | %s |" % (LINEAR_TARGET, txt, met(ok)))
    ok, txt = policy_stack(P)
    add("| no C recursion proportional to plan depth | %s | %s |" % (txt, met(ok)))
    ok, txt = policy_big_target(P)
    add("| 64 MiB LocalRelation request: sparkgate RSS under %gx the message | %s | %s |"
        % (BIG_RSS_TARGET, txt, met(ok)))
    ok, txt = policy_unary_target(P)
    add("| unary throughput with a typical policy within %d%% of no policy | %s%s | %s |"
        % (100 * POLICY_TARGET, txt, policy_noise_note(P), met(ok)))
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
    write_policy(add, res)
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
        "16 MiB both sides, 100 streams per connection; paths relative to the repository):")
    add("")
    add("```json")
    add(json.dumps(res["sparkgate_config"], indent=1).replace(ROOT + "/", ""))
    add("```")
    add("")
    add("nghttpx command line and why each flag:")
    add("")
    add("```")
    add(" ".join(shlex.quote(a) for a in res["nghttpx_argv"]).replace(ROOT + "/", ""))
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
    add("bench/run.sh            # builds sparkgate, the test backend, bench/jwt_verify_bench.c "
        "and bench/plan_bench.c if needed, ~5 minutes")
    add("/usr/bin/python3 bench/bench.py --doc-only   # rewrite this file from bench/out/results.json")
    add("```")
    add("")
    add("Run it on an otherwise idle machine: the script reports background CPU load above. "
        "Knobs (environment): `BENCH_UNARY_SECS` (4), `BENCH_STREAM_SECS` (4), `BENCH_ROUNDS` (3), `BENCH_RETRIES` (8), "
        "`BENCH_IDLE_CONNS` (1000), `BENCH_AUTH_SECS` (%g), `BENCH_POLICY_SECS` (%g), "
        "`BENCH_SECTIONS` (`unary,stream,idle,auth,policy`: a subset for quick checks), "
        "`BENCH_DEADLINE` (%g s hard stop), `BENCH_SPARKGATE` (another "
        "sparkgate binary, e.g. to compare builds). Benchmarks are not "
        "part of `make check`." % (AUTH_SECS, POLICY_SECS, DEADLINE_S))
    add("")
    # bench/instr.py's A/B results are measured separately (callgrind, minutes per
    # build); they are kept by hand in bench/instr-results.md and carried along here
    ab = os.path.join(ROOT, "bench", "instr-results.md")
    if os.path.exists(ab):
        with open(ab) as f:
            L.extend(f.read().rstrip("\n").split("\n"))
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


POLICY_LABELS = {
    "none": "no `profiles`",
    "sql-only": "`sql-only` profile",
    "analyst": "`analyst` profile",
    "nghttpx": "nghttpx (no policy: reference)",
}
POLICY_WORKLOADS = {
    "config": "Config get_with_default (%d B)" % len(CONFIG_REQ),
    "sql": "ExecutePlan, SQL `SELECT * FROM range(10)` (%d B)" % len(EXEC_REQ),
    "df": "ExecutePlan, DataFrame plan of %d nodes (%d B)" % (DF_NODES, len(EXEC_DF_REQ)),
}


def _pm(P, shape, target, op):
    for m in P.get("micro") or []:
        if m["bench"] == "plan" and m["shape"] == shape and m["target"] == target and m["op"] == op:
            return m
    return None


def policy_linear(P):
    """(met, text): ns/node of policy_check_request at 100,000 nodes vs at 1,000."""
    parts, ok, seen = [], True, False
    for shape in ("wide", "tree"):
        a, b = _pm(P, shape, 1000, "policy"), _pm(P, shape, 100000, "policy")
        if not a or not b:
            continue
        seen = True
        r = b["ns_per_node"] / a["ns_per_node"]
        ok = ok and r <= LINEAR_TARGET and a["status"] == 0 and b["status"] == 0
        parts.append("%s %.0f -> %.0f ns/node (x%.2f)" % (shape, a["ns_per_node"],
                                                           b["ns_per_node"], r))
    a, b = _pm(P, "chain", 25, "policy"), _pm(P, "chain", 510, "policy")
    if a and b:
        r = b["ns_per_node"] / a["ns_per_node"]
        ok = ok and r <= LINEAR_TARGET
        parts.append("chain depth %d -> %d: %.0f -> %.0f ns/node (x%.2f)"
                     % (a["depth"], b["depth"], a["ns_per_node"], b["ns_per_node"], r))
    a, b = _pm(P, "zstd", 1000, "policy"), _pm(P, "zstd", 100000, "policy")
    if a and b:
        r = b["ns_per_node"] / a["ns_per_node"]
        ok = ok and r <= LINEAR_TARGET
        parts.append("zstd %.0f -> %.0f ns/node (x%.2f)" % (a["ns_per_node"], b["ns_per_node"], r))
    a, b = _pm(P, "sql", 10000, "policy"), _pm(P, "sql", 1000000, "policy")
    if a and b:
        r = b["ns_per_byte"] / a["ns_per_byte"]
        ok = ok and r <= LINEAR_TARGET
        parts.append("SQL text 10 kB -> 1 MB: %.1f -> %.1f ns/byte (x%.2f)"
                     % (a["ns_per_byte"], b["ns_per_byte"], r))
    if not seen:
        return False, "not measured"
    return ok, "; ".join(parts)


def policy_stack(P):
    st = [m for m in P.get("micro") or [] if m["bench"] == "stack"]
    if not st:
        return False, "not measured"
    w = [m["walk_stack_bytes"] for m in st]
    p = [m["policy_stack_bytes"] for m in st]
    spread = max(m["sp_spread"] for m in st)
    dmin, dmax = min(m["depth"] for m in st), max(m["depth"] for m in st)
    ok = max(w) - min(w) <= 256 and max(p) - min(p) <= 256 and spread == 0
    return ok, ("stack high-water mark %s B (plan_walk), %s B (policy_check_request) for depths "
                "%d to %d; stack pointer in the visitor identical at every depth (spread %d B)"
                % ("%d" % w[0] if min(w) == max(w) else "%d-%d" % (min(w), max(w)),
                   "%d" % p[0] if min(p) == max(p) else "%d-%d" % (min(p), max(p)),
                   dmin, dmax, spread))


def big_rss(b):
    """(peak growth KiB, retained growth KiB) of a front's processes, or None."""
    base = b.get("base") or {}
    if not base:
        return None
    last = b["runs"][-1]["mem"]
    first = b["runs"][0]["mem"]
    b0 = sum(v["VmRSS"] for v in base.values())
    return {"hwm1": sum(v["VmHWM"] for v in first.values()) - b0,
            "hwm": sum(v["VmHWM"] for v in last.values()) - b0,
            "after": sum(v["VmRSS"] for v in last.values()) - b0, "base": b0}


def policy_big_target(P):
    b = (P.get("big") or {}).get("sparkgate-policy")
    if not b:
        return False, "not measured"
    r = big_rss(b)
    x = r["hwm"] * 1024.0 / BIG_MSG
    return x < BIG_RSS_TARGET, ("sparkgate with the `sql-only` policy: peak RSS +%.1f MiB over "
                                "%d calls = %.2fx the 64 MiB message"
                                % (r["hwm"] / 1024.0, b["calls"], x))


def policy_unary_target(P):
    u = P.get("unary") or {}
    parts, ok, seen = [], True, False
    for prof in ("sql-only", "analyst"):
        for wl in ("config", "sql", "df"):
            a, n = u.get("%s-%s" % (prof, wl)), u.get("none-%s" % wl)
            if not a or not n:
                continue
            seen = True
            ratio = a["req_s"] / n["req_s"]
            bad = (a["total"] - a["succeeded"]) or abs(a["data_per_req"] - n["data_per_req"]) > 0.5
            ok = ok and ratio >= 1 - POLICY_TARGET and not bad
            parts.append("%s %s %.0f%%%s" % (prof, wl, 100 * ratio, " (calls failed)" if bad else ""))
    if not seen:
        return False, "not measured"
    return ok, ", ".join(parts) + " of no-profile req/s"


def policy_noise_note(P):
    n = P.get("noise") or {}
    if not n.get("noisy_runs"):
        return ""
    return ("; %d of %d runs noisy (others' CPU > %.0f%%)%s"
            % (n["noisy_runs"], n["runs"], 100 * NOISE,
               "" if n.get("all_cases_clean") else ", medians over all runs"))


def write_policy(add, res):
    P = res.get("policy") or {}
    m = res["machine"]
    add("## 5. Plan inspection and policy")
    add("")
    if not P or not (P.get("micro") or P.get("big") or P.get("unary")):
        add("Not measured in this run%s." % (" (see \"Problems in this run\")"
                                             if res.get("errors") else ""))
        add("")
        return
    # (a) micro
    add("### 5.1 Inspection cost per node")
    add("")
    add("`bench/plan_bench.c`, linked against `src/libsgparse.a` (the walker and policy code "
        "sparkgate runs) and built by `bench/run.sh` with the project's compile and link lines, "
        "one thread, no network. It builds `ExecutePlanRequest` messages in memory "
        "(hand-encoded protobuf, as a client sends them) and times, for about %.1f s of CPU "
        "each: *walk* = `plan_walk()` with a visitor that counts nodes; *no profile* = "
        "`policy_check_request()` with a NULL profile (facts and limits only); *policy* = "
        "`policy_check_request()` with docs/policy.md's `sql-only` profile filled in by hand "
        "(relations/expressions deny lists, commands allow list, no user code, SQL class "
        "`query`, no conf changes, no artifacts, unknown kinds denied; the shipped "
        "`sql-only` of 5.3 has no deny lists but closes the same doors with `user_code` and "
        "`commands`/`catalog` allow lists: the same per-node checks). Every plan below is "
        "allowed by that profile except where a refusal is shown. us = median of batches of "
        "calls (about 1 ms of work per batch), thread CPU time; the program runs %d times "
        "and each row is the faster of its medians (other processes used %s of a CPU during "
        "the runs; a run above %.0f%% is not used)."
        % (PLAN_MICRO_SECS, P.get("micro_runs", 1),
           "/".join("%.0f%%" % (100 * f) for f in P.get("micro_foreign") or [0]), 50 * NOISE))
    add("")
    add("Shapes: **wide** = a Project over a table read with K expressions "
        "`alias(unresolved_function(\"+\", [attribute, literal]))` (2 + 4K nodes, depth 8); "
        "**tree** = a balanced binary tree of `UNION ALL` whose L leaves are "
        "`limit(filter(read, f(attribute, literal)))` (7L - 1 nodes); **chain** = L nested "
        "filters, each with a condition `f(attribute, literal)` (4L + 1 nodes, depth 2L + 4: "
        "L = 510 is Spark's 1024 limit exactly, L = 511 is over it).")
    add("")
    add("| shape | nodes | depth | bytes | walk us | no profile us | policy us | policy ns/node "
        "| nodes/s (policy) |")
    add("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for shape in ("wide", "tree", "chain"):
        for t in sorted({x["target"] for x in P.get("micro") or []
                         if x["bench"] == "plan" and x["shape"] == shape}):
            w, n, p = (_pm(P, shape, t, op) for op in ("walk", "none", "policy"))
            if not p:
                continue
            verdict = ""
            if p["status"]:
                verdict = " (refused: %s, grpc-status %d)" % (p["rule"], p["status"])
            add("| %s%s | %d | %d | %d | %.1f | %.1f | %.1f | %.1f | %s |"
                % (shape, " L=%d" % t if shape == "chain" else "", p["nodes"], p["depth"],
                   p["bytes"], w["us_per_call"] if w else 0, n["us_per_call"] if n else 0,
                   p["us_per_call"], p["ns_per_node"],
                   ("%.1f M" % (1e3 / p["ns_per_node"])) + verdict))
    add("")
    ok, txt = policy_linear(P)
    add("Linearity (target: no growth of the per-node cost with plan size, here at most "
        "x%.1f from 1,000 to 100,000 nodes): %s: **%s**." % (LINEAR_TARGET, txt,
                                                             "met" if ok else "not met"))
    add("")
    rows = [(s, t) for s in ("sql", "local", "zstd")
            for t in sorted({x["target"] for x in P.get("micro") or []
                             if x["bench"] == "plan" and x["shape"] == s})]
    if rows:
        add("Payload-heavy plans: **sql** = `Relation.sql` with a SELECT of the given size "
            "(the SQL classifier reads every byte); **local** = `Relation.local_relation` with "
            "a data blob of the given size (a leaf: skipped, not read); **zstd** = the wide plan "
            "of 1,000 / 100,000 nodes as a Spark 4.1 `Plan.compressed_operation` (zstd level 3; "
            "policy decompresses and walks it; *walk* sees only the compressed node).")
        add("")
        add("| shape | size | request bytes | nodes | walk us | no profile us | policy us | "
            "policy ns/byte | policy ns/node |")
        add("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for s_, t in rows:
            w = _pm(P, s_, t, "walk") or _pm(P, s_, t, "walk-outer")
            n, p = _pm(P, s_, t, "none"), _pm(P, s_, t, "policy")
            if not p:
                continue
            add("| %s | %s | %d | %d | %.2f | %.2f | %.2f | %.3f | %.1f |%s"
                % (s_, ("%d B" % t) if s_ == "sql" else ("%d nodes" % t) if s_ == "zstd"
                   else ("%d KiB" % (t >> 10)), p["bytes"], p["nodes"],
                   w["us_per_call"] if w else 0, n["us_per_call"] if n else 0, p["us_per_call"],
                   p["ns_per_byte"], p["ns_per_node"],
                   " refused: %s |" % p["rule"] if p["status"] else ""))
        add("")
    st = [x for x in P.get("micro") or [] if x["bench"] == "stack"]
    if st:
        add("C stack: each plan is walked once with a visitor that records its stack pointer "
            "(`__builtin_frame_address(0)`) at every node, and `plan_walk()` and "
            "`policy_check_request()` each run once on a fresh thread whose 8 MiB stack was "
            "filled with a pattern: the high-water mark is the bytes overwritten, minus a "
            "thread that does nothing (%d B). The walker keeps its own bounded array of "
            "frames (plan.h: about 60 KiB, in `plan_walk()`'s frame), so the stack does not "
            "grow with the depth of the plan." % st[0]["thread_base_bytes"])
        add("")
        add("| plan | nodes | depth | result | plan_walk stack B | policy_check_request stack B | "
            "SP at shallowest - at deepest node | SP spread over all nodes |")
        add("|---|---:|---:|---|---:|---:|---:|---:|")
        for x in st:
            add("| %s%s | %d | %d | %s | %d | %d | %d B | %d B |"
                % (x["shape"], " L=%d" % x["target"] if x["shape"] == "chain" else "",
                   x["nodes"], x["depth"], "walked" if x["rc"] == 0 else
                   "too deep (SG_ERR_LIMIT)" if x["rc"] == -4 else "rc %d" % x["rc"],
                   x["walk_stack_bytes"], x["policy_stack_bytes"], x["sp_shallow_minus_deep"],
                   x["sp_spread"]))
        add("")
        ok, txt = policy_stack(P)
        add("No recursion on the C stack proportional to depth: %s: **%s**."
            % (txt, "met" if ok else "not met"))
        add("")
    if P.get("micro_error"):
        add("Micro-benchmark: %s." % P["micro_error"])
        add("")

    # (b) 64 MiB
    big = P.get("big") or {}
    add("### 5.2 One 64 MiB LocalRelation request")
    add("")
    add("`ExecutePlanRequest{session_id, user_context, plan{root{local_relation{data, schema}}}}` "
        "of exactly %d bytes (64 MiB; %d bytes with the gRPC header; `data` is random bytes), "
        "as `h2load -n 1 -c 1 -m 1`, %d times one after the other, each call on a new "
        "connection (sparkgate's workers accept with SO_REUSEPORT: the kernel spreads the "
        "connections over its 2 workers); the backend reads the whole message and answers "
        "with one small batch. Fresh proxy "
        "processes; every proxy at its defaults (`limits.max_request_message_size` 128 MiB, "
        "1 MiB stream / 16 MiB connection windows). Time = h2load's per-request time (request "
        "start to end of response), median of the %d calls; MB/s = 64 MiB / that. Memory: "
        "VmRSS before the first call, VmHWM (peak) after the first and after the last call, "
        "from `/proc/PID/status` (nghttpx: its worker processes); *peak growth* = VmHWM - "
        "VmRSS before, and as a multiple of the message size."
        % (BIG_MSG, BIG_MSG + 5, BIG_CALLS + 1, BIG_CALLS + 1))
    add("")
    add("- **sparkgate-anon**: section 1's configuration (no `auth`: anonymous, no profiles).")
    add("- **sparkgate-noprofiles**: plus a static token (`auth.static_tokens`), no `profiles`: "
        "the message is buffered whole and `user_context` rewritten (identity binding), not "
        "inspected.")
    add("- **sparkgate-policy**: the same plus the `profiles` of section 5.3 (token profile "
        "`sql-only`): the message is also inspected before it is forwarded (`log.audit` "
        "defaults to true, but at this `log.level` \"warn\" sparkgate skips the audit line "
        "and its `plan_sha256`, about 40 ms of SHA-256 for 64 MiB at info).")
    add("- **sparkgate-policy-noaudit**: the same with `\"log\": {\"audit\": false}`: "
        "a control; at level \"warn\" it should match sparkgate-policy within noise.")
    add("")
    add("| front | calls | median ms | first call ms | MB/s | peak growth after 1 call | "
        "peak growth after %d | x message | RSS growth kept | proxy CPU ms/call |"
        % (BIG_CALLS + 1))
    add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in ("direct-tls", "direct-h2c", "nghttpx", "sparkgate-anon", "sparkgate-noprofiles",
                 "sparkgate-policy", "sparkgate-policy-noaudit"):
        b = big.get(name)
        if not b:
            continue
        r = big_rss(b)
        add("| %s | %d | %.1f | %.1f | %.0f | %s | %s | %s | %s | %s |"
            % (name, b["calls"], b["median_ms"], b["first_ms"],
               BIG_MSG / (b["median_ms"] / 1000.0) / 1e6,
               "%.1f MiB" % (r["hwm1"] / 1024.0) if r else "-",
               "%.1f MiB" % (r["hwm"] / 1024.0) if r else "-",
               "%.2f" % (r["hwm"] * 1024.0 / BIG_MSG) if r else "-",
               "%.1f MiB" % (r["after"] / 1024.0) if r else "-",
               "%.0f" % (1000.0 * b["cpu_s"] / max(1, b["calls"])) if r else "-"))
    add("")
    ok, txt = policy_big_target(P)
    add("Target: RSS for the 64 MiB request under %gx the message size: %s: **%s**."
        % (BIG_RSS_TARGET, txt, "met" if ok else "not met"))
    add("")

    # (c) unary
    u = P.get("unary") or {}
    add("### 5.3 Unary throughput with a typical policy")
    add("")
    add("Two sparkgate processes that differ only by the `profiles` section: both have the "
        "section-1 settings plus one static token per profile (principal `%s`, the requests' "
        "`user_id`, so identity binding keeps the request's length); *no profiles* has no "
        "`profiles`, *policy* has the `sql-only` and `analyst` profiles from %s (below). "
        "h2load `-t 1 -c 16 -m 10`, as section 1; per case a 20,000-call warm-up that sets the "
        "count (about %.1f s of work per run), then %d measured runs interleaved with the "
        "other cases; the row is the median run. Before measuring, controls: %s. The nghttpx "
        "row (no policy: nghttpx cannot inspect plans) is for reference."
        % (AUTH_PRINCIPAL, P.get("profiles_source", "?"), POLICY_SECS, ROUNDS,
           "; ".join("%s: %d calls, %d bytes of DATA (%s)"
                     % (c["what"], c["calls"], c["bytes_data"],
                        ("refused" if c["refused"] else "answered") +
                        ("" if c["ok"] else ", **unexpected**"))
                     for c in P.get("controls") or []) or "not run"))
    add("")
    add("| workload | front | requests | req/s | runs (req/s) | p50 ms | p99 ms | "
        "proxy CPU us/call | req/s vs no profiles | CPU/call: no profiles / this |")
    add("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for wl in ("config", "sql", "df"):
        n = u.get("none-" + wl)
        for front in ("none", "sql-only", "analyst", "nghttpx"):
            r = u.get("%s-%s" % (front, wl))
            if not r:
                continue
            fails = r["total"] - r["succeeded"]
            add("| %s | %s | %d%s | %.0f | %s | %.2f | %.2f | %.1f | %s | %s |"
                % (POLICY_WORKLOADS[wl], POLICY_LABELS[front], r["succeeded"],
                   " (%d failed)" % fails if fails else "", r["req_s"], spread(r),
                   r.get("p50_us", 0) / 1000, r.get("p99_us", 0) / 1000, _per_call(r),
                   "-" if front == "none" or not n else "%.0f%%" % (100 * r["req_s"] / n["req_s"]),
                   "-" if front == "none" or not n else
                   "%.0f%%" % (100 * _per_call(n) / max(_per_call(r), 1e-9))))
    add("")
    ok, txt = policy_unary_target(P)
    add("**Target: typical-policy throughput within %d%% of no policy: %s** (%s%s)."
        % (100 * POLICY_TARGET, "met" if ok else "not met", txt, policy_noise_note(P)))
    add("")
    add("Response DATA per call must be equal with and without the policy (same answer): %s."
        % ", ".join("%s %.0f" % (k, v["data_per_req"]) for k, v in u.items()))
    add("")
    add("Machine: %d CPUs (%s), %s; sparkgate commit %s%s. On 2 cores h2load, the 2 sparkgate "
        "workers and the backend share the CPUs: the CPU per call column is the steadier "
        "comparison." % (m["nproc"], m["cpu"], m["kernel"], m["commit"],
                         " + uncommitted changes in src/" if m["dirty"] else ""))
    add("")
    add("Exact commands (in the repository root; ports are ephemeral; the request files are "
        "written by bench.py into bench/out/: `exec_df.grpc` the DataFrame plan, "
        "`big_localrelation.grpc` the 64 MiB request (`bench.py` `big_local_relation()`; "
        "deleted after use), `execute.grpc` and `config.grpc` those of sections 1 and 2):")
    add("")
    add("```sh")
    for c in P.get("setup") or []:
        add(c)
    if P.get("micro_cmd"):
        add("# 5.1: built by bench/run.sh with")
        for c in P.get("micro_build") or []:
            add(c)
        add(P["micro_cmd"])
    add("# 5.2: per front (fresh proxies), %d times" % (BIG_CALLS + 1))
    for c in P.get("big_commands") or []:
        add(c)
    add("# 5.3: each %d times after its warm-up" % ROUNDS)
    for c in P.get("commands") or []:
        add(c)
    add("```")
    add("")
    if P.get("config_policy"):
        cfg = json.loads(json.dumps(P["config_policy"]).replace(ROOT + "/", ""))
        for t in cfg["auth"]["static_tokens"]:
            t["sha256"] = "(sparkgate hash-token of bench/out/policy/%s.tok)" % t["profile"]
        add("Added to the section-1 configuration (the *no profiles* process has the same "
            "`auth` and no `profiles`):")
        add("")
        add("```json")
        add(compact_json(cfg))
        add("```")
        add("")


def compact_json(obj):
    """json.dumps(indent=1) with arrays of strings and numbers on one line."""
    text = json.dumps(obj, indent=1)
    return re.sub(r"\[\s*\n\s*((?:(?:\"[^\"\n]*\"|[-\d.]+),\s*\n\s*)*(?:\"[^\"\n]*\"|[-\d.]+))\s*\n\s*\]",
                  lambda m_: "[" + re.sub(r",\s*\n\s*", ", ", m_.group(1)) + "]", text)


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
