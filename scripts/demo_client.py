#!/usr/bin/python3
"""demo_client.py: real Spark Connect calls through sparkgate, with a readable
transcript.  Started by scripts/demo.sh; usable on its own:

  scripts/demo_client.py --port 15002 --ca certs/ca.pem \
      [--record .demo/backend-record.jsonl] [--workdir .demo]

Uses Debian's grpcio/protobuf and classes generated at run time (protoc) from
tests/proto/spark_connect_subset.proto.  Exits non-zero if any step failed.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
import zlib

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SERVICE = "/spark.connect.SparkConnectService/"
MIB = 1 << 20


def load_proto(workdir):
    out = os.path.join(workdir, "gen")
    os.makedirs(out, exist_ok=True)
    subprocess.run(["protoc", "-I" + os.path.join(ROOT, "tests", "proto"), "--python_out=" + out,
                    "spark_connect_subset.proto"], check=True)
    sys.path.insert(0, out)
    import spark_connect_subset_pb2
    return spark_connect_subset_pb2


class Demo:
    def __init__(self, args):
        import grpc
        self.grpc = grpc
        self.args = args
        self.pb = load_proto(args.workdir)
        with open(args.ca, "rb") as f:
            self.tls = grpc.ssl_channel_credentials(root_certificates=f.read())
        # what PySpark does with sc://...;token=T: TLS + "authorization: Bearer T"
        creds = self.tls
        if args.token:
            creds = grpc.composite_channel_credentials(
                self.tls, grpc.access_token_call_credentials(args.token))
        self.channel = grpc.secure_channel(
            "localhost:%d" % args.port, creds,
            options=[("grpc.enable_http_proxy", 0),
                     ("grpc.max_receive_message_length", 64 * MIB)])
        self.session = str(uuid.uuid4())
        # the client claims to be someone else: sparkgate binds the real principal
        self.user = self.pb.UserContext(user_id="mallory", user_name="mallory")
        self.failures = []

    # -- helpers ------------------------------------------------------------
    def stub(self, method, resp_cls, kind="unary", raw=False):
        ser = lambda m: m.SerializeToString()  # noqa: E731
        de = (lambda b: b) if raw else resp_cls.FromString
        f = {"unary": self.channel.unary_unary, "server": self.channel.unary_stream,
             "client": self.channel.stream_unary}[kind]
        return f(SERVICE + method, request_serializer=ser, response_deserializer=de)

    def step(self, title, fn):
        print("\n--- %s" % title)
        t0 = time.monotonic()
        try:
            fn()
            print("    ok (%.0f ms)" % ((time.monotonic() - t0) * 1000))
        except Exception as e:  # noqa: BLE001 - a demo reports every failure
            print("    FAILED: %s: %s" % (type(e).__name__, e))
            self.failures.append(title)

    @staticmethod
    def backend_of(call):
        for k, v in call.initial_metadata() or ():
            if k == "x-sc-backend":
                return v
        return "?"

    def show(self, label, msg, limit=300):
        if isinstance(msg, str):
            text = msg
        else:
            from google.protobuf import text_format
            text = text_format.MessageToString(msg, as_one_line=True)
        if len(text) > limit:
            text = text[:limit] + " ..."
        print("    %s %s" % (label, text))

    # -- the calls ------------------------------------------------------------
    def config(self):
        pb = self.pb
        m = self.stub("Config", pb.ConfigResponse)
        req = pb.ConfigRequest(session_id=self.session, user_context=self.user)
        kv = req.operation.set.pairs.add()
        kv.key, kv.value = "spark.sql.shuffle.partitions", "8"
        self.show("sent     Config.set:", req.operation)
        resp, call = m.with_call(req, timeout=10)
        self.show("received (backend %s):" % self.backend_of(call), resp)
        req = pb.ConfigRequest(session_id=self.session, user_context=self.user)
        req.operation.get.keys.append("spark.sql.shuffle.partitions")
        self.show("sent     Config.get:", req.operation)
        resp, call = m.with_call(req, timeout=10)
        self.show("received (backend %s):" % self.backend_of(call), resp)
        assert resp.session_id == self.session, "session id not echoed"

    def analyze(self):
        pb = self.pb
        req = pb.AnalyzePlanRequest(session_id=self.session, user_context=self.user)
        req.spark_version.SetInParent()
        self.show("sent     AnalyzePlan:", "spark_version {}")
        resp, call = self.stub("AnalyzePlan", pb.AnalyzePlanResponse).with_call(req, timeout=10)
        self.show("received (backend %s):" % self.backend_of(call), resp)
        assert resp.spark_version.version, "no spark_version in the response"

    def execute(self):
        pb = self.pb
        n = self.args.mib
        self.op_id = str(uuid.uuid4())
        req = pb.ExecutePlanRequest(session_id=self.session, user_context=self.user,
                                    operation_id=self.op_id)
        req.plan.root.sql.query = "SELECT * FROM range(%d)" % n
        ro = req.request_options.add()
        ro.reattach_options.reattachable = True
        tag = str(uuid.uuid4())
        md = [("sc-test-count", str(n)), ("sc-test-size", str(MIB)), ("sc-test-digest", "1"),
              ("x-demo-tag", tag)]
        self.show("sent     ExecutePlan:", "%s (asking the test backend for %d x 1 MiB arrow "
                  "batches)" % (req.plan.root.sql.query, n))
        call = self.stub("ExecutePlan", None, kind="server", raw=True)(req, metadata=md, timeout=120)
        sha = hashlib.sha256()
        count = size = batches = 0
        last = None
        bodies_tail = []
        t0 = time.monotonic()
        for body in call:
            sha.update(body)
            count += 1
            size += len(body)
            last = body
            bodies_tail = (bodies_tail + [body])[-4:]
        dt = time.monotonic() - t0
        final = pb.ExecutePlanResponse.FromString(last)
        # ReattachExecute (step 5) resumes after the 4th-last response
        self.resume_after = pb.ExecutePlanResponse.FromString(bodies_tail[0]).response_id
        batches = count - 1
        print("    received (backend %s): %d messages, %.1f MiB in %.2f s (%.0f MiB/s); last: %s"
              % (self.backend_of(call), count, size / MIB, dt, size / MIB / max(dt, 1e-6),
                 final.WhichOneof("response_type")))
        digest = sha.hexdigest()
        print("    client SHA-256 of the message bodies: %s" % digest)
        assert batches >= n, "expected %d batches" % n
        if self.args.record:
            rec = self.backend_close_record(tag)
            print("    backend SHA-256 (its record):       %s" % rec.get("sha256"))
            assert rec.get("sha256") == digest, "checksum mismatch"
            print("    checksums match: every byte arrived intact")

    def backend_close_record(self, tag, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            key = None
            try:
                with open(self.args.record) as f:
                    recs = [json.loads(line) for line in f if line.strip().endswith("}")]
            except OSError:
                recs = []
            for r in recs:
                if r.get("ev") == "stream_open" and tag in json.dumps(r.get("headers")):
                    key = (r.get("conn"), r.get("stream"))
                elif key and r.get("ev") == "stream_close" and (r.get("conn"), r.get("stream")) == key:
                    return r
            time.sleep(0.1)
        raise AssertionError("no backend record for the stream")

    def artifacts(self):
        pb = self.pb
        data = os.urandom(3 * 256 * 1024)
        chunks = [data[i:i + 256 * 1024] for i in range(0, len(data), 256 * 1024)]
        reqs = []
        first = pb.AddArtifactsRequest(session_id=self.session, user_context=self.user)
        first.begin_chunk.name = "jars/demo.jar"
        first.begin_chunk.total_bytes = len(data)
        first.begin_chunk.num_chunks = len(chunks)
        first.begin_chunk.initial_chunk.data = chunks[0]
        reqs.append(first)
        first.begin_chunk.initial_chunk.crc = zlib.crc32(chunks[0])
        for c in chunks[1:]:
            r = pb.AddArtifactsRequest(session_id=self.session, user_context=self.user)
            r.chunk.data = c
            r.chunk.crc = zlib.crc32(c)
            reqs.append(r)
        self.show("sent     AddArtifacts:", "jars/demo.jar, %d bytes in %d streamed messages"
                  % (len(data), len(reqs)))
        # the demo user's profile ("analyst" in conf/demo.json) may not upload code
        try:
            self.stub("AddArtifacts", pb.AddArtifactsResponse, kind="client").with_call(
                iter(reqs), timeout=30)
        except self.grpc.RpcError as e:
            print("    received: %s: %s" % (e.code().name, e.details()))
            assert e.code() == self.grpc.StatusCode.PERMISSION_DENIED
            return
        raise AssertionError("the upload was accepted")

    def policy(self):
        grpc, pb = self.grpc, self.pb
        tag = str(uuid.uuid4())
        # df.select(my_pandas_udf("a")): a Python UDF inside a projection
        req = pb.ExecutePlanRequest(session_id=self.session, user_context=self.user,
                                    operation_id=str(uuid.uuid4()))
        rel = req.plan.root.project
        rel.input.sql.query = "SELECT id AS a FROM range(10)"
        rel.expressions.add().unresolved_attribute.unparsed_identifier = "a"
        udf = rel.expressions.add().common_inline_user_defined_function
        udf.function_name = "my_pandas_udf"
        udf.python_udf.eval_type = 200
        udf.python_udf.command = b"cloudpickle bytes would run on the executors"
        udf.arguments.add().unresolved_attribute.unparsed_identifier = "a"
        with open(os.path.join(self.args.workdir, "udf-request.bin"), "wb") as f:
            f.write(req.SerializeToString())  # for "sparkgate explain" (demo.sh)
        self.show("sent     ExecutePlan:", "SELECT ... then select(my_pandas_udf(a)) "
                  "(PythonUDF, eval_type 200)")
        call = self.stub("ExecutePlan", None, kind="server", raw=True)
        try:
            list(call(req, metadata=[("x-demo-tag", tag)], timeout=10))
            raise AssertionError("the UDF plan was accepted")
        except grpc.RpcError as e:
            print("    received: %s: %s" % (e.code().name, e.details()))
            assert e.code() == grpc.StatusCode.PERMISSION_DENIED
        if self.args.record:
            with open(self.args.record) as f:
                assert tag not in f.read(), "the refused plan reached the backend"
            print("    the backend's record has no trace of the refused call")
        # the same query without the UDF runs
        del rel.expressions[1]
        self.show("sent     ExecutePlan:", "the same plan without the UDF")
        resps = list(call(req, timeout=10))
        print("    received: %d responses, last: %s" % (len(resps), pb.ExecutePlanResponse.FromString(
            resps[-1]).WhichOneof("response_type")))

    def reattach(self):
        pb = self.pb
        req = pb.ReattachExecuteRequest(session_id=self.session, user_context=self.user,
                                        operation_id=getattr(self, "op_id", str(uuid.uuid4())))
        if getattr(self, "resume_after", None):
            req.last_response_id = self.resume_after
        self.show("sent     ReattachExecute:", "operation_id %s, last_response_id %s"
                  % (req.operation_id, req.last_response_id or "-"))
        call = self.stub("ReattachExecute", pb.ExecutePlanResponse, kind="server")(req, timeout=30)
        resps = list(call)
        kinds = {}
        for r in resps:
            k = r.WhichOneof("response_type") or "-"
            kinds[k] = kinds.get(k, 0) + 1
        print("    received (backend %s): %d responses (%s): the stream resumed where the "
              "client left off" % (self.backend_of(call), len(resps),
                                   ", ".join("%d %s" % (v, k) for k, v in kinds.items())))
        assert resps and resps[-1].HasField("result_complete")
        if req.last_response_id:
            assert len(resps) == 3, "expected the last 3 responses"

    def release(self):
        pb = self.pb
        req = pb.ReleaseSessionRequest(session_id=self.session, user_context=self.user)
        self.show("sent     ReleaseSession:", "session_id %s" % self.session)
        resp, call = self.stub("ReleaseSession", pb.ReleaseSessionResponse).with_call(req, timeout=10)
        self.show("received (backend %s):" % self.backend_of(call), resp)

    def refused(self):
        grpc, pb = self.grpc, self.pb
        req = pb.ConfigRequest(session_id=self.session, user_context=self.user)
        req.operation.get.keys.append("spark.sql.shuffle.partitions")
        for label, token in (("no token", None), ("a wrong token", "not-the-token")):
            creds = self.tls
            if token:
                creds = grpc.composite_channel_credentials(
                    self.tls, grpc.access_token_call_credentials(token))
            ch = grpc.secure_channel("localhost:%d" % self.args.port, creds,
                                     options=[("grpc.enable_http_proxy", 0)])
            m = ch.unary_unary(SERVICE + "Config", request_serializer=lambda x: x.SerializeToString(),
                               response_deserializer=pb.ConfigResponse.FromString)
            try:
                m(req, timeout=10)
                raise AssertionError("a call with %s succeeded" % label)
            except grpc.RpcError as e:
                print("    with %s -> %s: %s" % (label, e.code().name, e.details()))
                assert e.code() == grpc.StatusCode.UNAUTHENTICATED
            finally:
                ch.close()

    def identity(self):
        if not self.args.record:
            print("    (no backend record to check)")
            return
        seen = set()
        with open(self.args.record) as f:
            for line in f:
                ev = json.loads(line)
                if ev.get("ev") == "message" and ev.get("user_id"):
                    seen.add(ev["user_id"])
        print("    the client put user_id \"mallory\" in every request; the backend saw: %s"
              % ", ".join(sorted(seen)))
        assert "mallory" not in seen, "a client-chosen user_id reached the backend"

    def unknown(self):
        grpc = self.grpc
        m = self.channel.unary_unary(SERVICE + "DropAllTables", request_serializer=lambda b: b,
                                     response_deserializer=lambda b: b)
        self.show("sent     DropAllTables:", "(a method Spark Connect does not have)")
        try:
            m(b"", timeout=10)
        except grpc.RpcError as e:
            print("    received: %s: %s" % (e.code().name, e.details()))
            assert e.code() == grpc.StatusCode.UNIMPLEMENTED
            return
        raise AssertionError("the call succeeded")

    def run(self):
        print("connection string for Spark clients: sc://localhost:%d/;use_ssl=true" % self.args.port)
        print("session %s; the client claims user_id \"mallory\"" % self.session)
        self.step("0. without a valid token, sparkgate refuses the call", self.refused)
        self.step("1. Config: set and get a session option", self.config)
        self.step("2. AnalyzePlan: spark_version", self.analyze)
        self.step("3. ExecutePlan: stream %d MiB of Arrow batches, verify the checksum"
                  % self.args.mib, self.execute)
        self.step("4. AddArtifacts: the analyst profile may not upload jars", self.artifacts)
        self.step("4b. plan policy: a Python UDF is refused, the plain query runs", self.policy)
        self.step("5. ReattachExecute: resume the operation's stream", self.reattach)
        self.step("6. ReleaseSession", self.release)
        self.step("7. an unknown method is answered by sparkgate itself", self.unknown)
        self.step("8. identity binding: what user_id did the backend see?", self.identity)
        self.channel.close()
        if self.failures:
            print("\n%d step(s) FAILED: %s" % (len(self.failures), "; ".join(self.failures)))
            return 1
        print("\nall steps passed")
        return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=15002)
    ap.add_argument("--ca", default=os.path.join(ROOT, "certs", "ca.pem"))
    ap.add_argument("--record", help="the test backend's --record file (checksum comparison)")
    ap.add_argument("--workdir", help="where to put generated code (default: a temp dir)")
    ap.add_argument("--mib", type=int, default=50, help="size of the ExecutePlan stream")
    ap.add_argument("--token", help="bearer token (as in sc://host:port/;token=...)")
    args = ap.parse_args()
    if not args.workdir:
        args.workdir = tempfile.mkdtemp(prefix="sg-demo-")
    return Demo(args).run()


if __name__ == "__main__":
    sys.exit(main())
