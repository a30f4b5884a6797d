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
    ("--tls13-ciphers=TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256",
     "TLS 1.3 suites in OpenSSL's default order, which sparkgate uses (\"ciphersuites\" unset); "
     "both prefer the server's order, so both negotiate TLS_AES_256_GCM_SHA384 with h2load, like "
     "the backend's own TLS listener (nghttpx's default order puts AES-128 first)"),
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


def h2load(label, args, url, timeout, cpu_pids=(), record=True):
    argv = ["h2load", "-t", "1", "-N", "%ds" % STALL_S] + args + [url]
    if remaining() < 5:
        raise Deadline("deadline reached before %s" % label)
    timeout = min(timeout, remaining() - 3)
    if record:
        COMMANDS.append(" ".join(shlex.quote(a) for a in argv))
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
    def start_sparkgate(tag=""):
        port = free_port()
        cfgf = os.path.join(OUT, "sparkgate%s.json" % tag)
        with open(cfgf, "w") as f:
            json.dump(sparkgate_config(port, ports["h2c"], certs), f, indent=1)
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

    def median_run(runs, key):
        """Median of the runs the rest of the machine left alone (all runs if none was)."""
        clean = [r for r in runs if r["foreign_cpu"] <= NOISE]
        use = sorted(clean or runs, key=lambda r: r[key])
        med = dict(use[len(use) // 2])
        med["rounds"] = [r[key] for r in use]
        med["dropped"] = len(runs) - len(use)
        med["noisy"] = not clean
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

    def unary_warm(name, base, be_pids, px_pids):
        url = base + SVC + "Config"
        warm = h2load("unary-%s-warmup" % name, ["-n", "20000"] + uargs, url, 20, record=False)
        calib["unary-" + name] = int(clamp(round(warm["req_s"] * UNARY_SECS, -4), 20000, 600000))

    def unary(rnd, name, base, be_pids, px_pids):
        measure(lambda: unary1(rnd, name, base, be_pids, px_pids))

    def unary1(rnd, name, base, be_pids, px_pids):
        url = base + SVC + "Config"
        n = calib["unary-" + name]
        logf = "unary-%s-r%d.log" % (name, rnd)
        r = h2load("unary-%s-r%d" % (name, rnd), ["-n", str(n), "--log-file", logf] + uargs, url,
                   UNARY_SECS * 4 + 10, cpu_pids=px_pids() or be_pids(), record=rnd == 0)
        r.update(percentiles(os.path.join(OUT, logf)))
        os.unlink(os.path.join(OUT, logf))   # large; percentiles are in results.json
        r["data_per_req"] = r["bytes_data"] / max(1, r["succeeded"])
        r["cpu_pids"] = "proxy" if px_pids() else "backend"
        runs.setdefault("unary-" + name, []).append(r)
        log("unary  r%d %-10s %9.0f req/s  p50 %s us  p99 %s us  (%d requests, %d failed; "
            "others' CPU %.0f%%)" % (rnd, name, r["req_s"], r.get("p50_us"), r.get("p99_us"),
                                     r["total"], r["total"] - r["succeeded"], 100 * r["foreign_cpu"]))
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

    runs = {}
    try:
        for f in fronts:
            case("unary-" + f[0], lambda f=f: unary_warm(*f))
        for rnd in range(ROUNDS):
            for f in fronts[rnd % len(fronts):] + fronts[:rnd % len(fronts)]:
                if "unary-" + f[0] in calib:
                    case("unary-" + f[0], lambda f=f, rnd=rnd: unary(rnd, *f))
        for conc in (1, 4):
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
        case("idle-sparkgate", idle_sparkgate)
        case("idle-nghttpx", idle_nghttpx)
    except Deadline as e:
        res["errors"].append("stopped early: %s" % e)
        log("STOPPED: %s" % e)
    for k, v in runs.items():
        if k.startswith("unary-"):
            res["unary"][k[6:]] = median_run(v, "req_s")
        else:
            res["stream"][k[7:]] = median_run(v, "mb_s")
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
    }


# ---------------------------------------------------------------------------
# docs/benchmarks.md
# ---------------------------------------------------------------------------
def spread(r):
    v = r.get("rounds") or []
    txt = "%.0f-%.0f" % (min(v), max(v)) if len(v) >= 2 else "-"
    if r.get("noisy"):
        txt += " (all noisy)"
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
    add("## Setup and fairness")
    add("")
    add("- Machine: %d CPUs, %s, %d MiB RAM, %s, kernel %s."
        % (m["nproc"], m["cpu"], m["mem_mib"], m["os"], m["kernel"]))
    add("- Packages: %s." % ", ".join("`%s`" % p for p in m["packages"]))
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
    add("bench/run.sh            # builds sparkgate and the test backend if needed, ~2.5 minutes")
    add("/usr/bin/python3 bench/bench.py --doc-only   # rewrite this file from bench/out/results.json")
    add("```")
    add("")
    add("Run it on an otherwise idle machine: the script reports background CPU load above. "
        "Knobs (environment): `BENCH_UNARY_SECS` (4), `BENCH_STREAM_SECS` (4), `BENCH_ROUNDS` (3), `BENCH_RETRIES` (8), "
        "`BENCH_IDLE_CONNS` (1000), `BENCH_DEADLINE` (300 s hard stop), `BENCH_SPARKGATE` (another "
        "sparkgate binary, e.g. to compare builds). Benchmarks are not "
        "part of `make check`.")
    add("")
    with open(DOC, "w") as f:
        f.write("\n".join(L))


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
