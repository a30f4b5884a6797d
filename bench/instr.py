#!/usr/bin/python3
"""bench/instr.py: sparkgate's instructions per unary call, A/B, under callgrind.

    bench/instr.py SPARKGATE_A SPARKGATE_B [--calls N]

Wall-clock and CPU-time figures on a shared 2-core VM move by 10-40% from run
to run; instruction counts do not.  This runs each binary under
`valgrind --tool=callgrind` (one worker), sends the same unary calls through it
with h2load (TLS, static token, the shipped sql-only profile): a Config
get_with_default, a SQL ExecutePlan and the 102-node DataFrame ExecutePlan of
bench.py, and reports the instructions sparkgate executed per call as the
difference between a run of N calls and a run of N/4 calls (start-up, TLS
handshakes and shutdown cancel out).  Needs the request files and
certificates that bench/run.sh leaves in bench/out/ (run it once first),
valgrind, h2load and the test backend built in the tree given by --tree.
Loopback only; every process it starts is stopped on exit.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
SVC = "/spark.connect.SparkConnectService/"
CASES = [("config", "Config", "config.grpc"),
         ("sql", "ExecutePlan", "execute.grpc"),
         ("df", "ExecutePlan", "exec_df.grpc")]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("process exited early")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("port %d never opened" % port)


def run_case(binary, backend_port, tmp, method, req, calls, token):
    port = free_port()
    cfg = json.load(open(os.path.join(OUT, "sparkgate-policy.json")))
    cfg["workers"] = 1
    cfg["listen"][0]["address"] = "127.0.0.1:%d" % port
    cfg["backends"] = [{"name": "b1", "address": "127.0.0.1:%d" % backend_port}]
    cfgf = os.path.join(tmp, "sg.json")
    with open(cfgf, "w") as f:
        json.dump(cfg, f)
    cgout = os.path.join(tmp, "callgrind.out")
    sg = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + cgout,
                           binary, "-c", cfgf], stdout=subprocess.DEVNULL,
                          stderr=open(os.path.join(tmp, "sg.err"), "w"))
    try:
        wait_port(port, sg, 60)
        subprocess.run(["h2load", "-t", "1", "-c", "4", "-m", "4", "-n", str(calls),
                        "-d", os.path.join(OUT, req),
                        "-H", "content-type: application/grpc", "-H", "te: trailers",
                        "-H", "authorization: Bearer " + token,
                        "https://127.0.0.1:%d%s%s" % (port, SVC, method)],
                       check=True, stdout=subprocess.DEVNULL, timeout=600)
    finally:
        sg.send_signal(signal.SIGTERM)
        sg.wait(120)
    total = 0
    for name in os.listdir(tmp):
        if name.startswith("callgrind.out"):
            with open(os.path.join(tmp, name)) as f:
                for line in f:
                    m = re.match(r"(?:summary|totals): (\d+)", line)
                    if m:
                        total += int(m.group(1))
                        break
            if os.environ.get("INSTR_KEEP"):
                os.rename(os.path.join(tmp, name),
                          os.path.join(tmp, "kept-%s-%d-%s" % (method, calls,
                                                               os.path.basename(os.path.dirname(binary)))))
            else:
                os.unlink(os.path.join(tmp, name))
    return total


def main():
    global OUT
    ap = argparse.ArgumentParser()
    ap.add_argument("binaries", nargs=2)
    ap.add_argument("--calls", type=int, default=4000)
    ap.add_argument("--tree", default=ROOT, help="where tests/backend/sc-test-backend is")
    ap.add_argument("--out", default=OUT, help="a bench/out/ that both binaries' configs "
                    "accept (the older tree's)")
    a = ap.parse_args()
    OUT = a.out
    for t in ("valgrind", "h2load"):
        if shutil.which(t) is None:
            sys.exit("instr: %s not found" % t)
    token = open(os.path.join(OUT, "policy", "sql-only.tok")).read().strip()
    tmp = tempfile.mkdtemp(prefix="sg-instr.")
    print("instr: work files in", tmp, flush=True)
    bport = free_port()
    be = subprocess.Popen([os.path.join(a.tree, "tests", "backend", "sc-test-backend"),
                           "--listen", "127.0.0.1:%d" % bport, "--name", "b1"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(bport, be, 10)
        res = {}
        for name, method, req in CASES:
            if os.environ.get("INSTR_CASES") and name not in os.environ["INSTR_CASES"].split(","):
                continue
            for b in a.binaries:
                lo = run_case(b, bport, tmp, method, req, a.calls // 4, token)
                hi = run_case(b, bport, tmp, method, req, a.calls, token)
                per = (hi - lo) / (a.calls - a.calls // 4)
                res.setdefault(name, []).append(per)
                print("%-6s %-40s %8.0f instructions/call" % (name, b, per), flush=True)
        print()
        for name, (pa, pb) in res.items():
            print("%-6s B/A = %.3f" % (name, pb / pa))
    finally:
        be.terminate()
        be.wait(10)
        if not os.environ.get("INSTR_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
