"""plans.py: Spark Connect request builders for the plan-policy tests
(tests/integ/test_80_policy.py).

Every builder returns the serialized request (bytes) a real client would
send, made by python3-protobuf from the project's own .proto subset
(tests/proto/spark_connect_subset.proto, via sgharness.pb()).  Members the
subset leaves out (Expression.lambda_function and .window,
Command.write_stream_operation_start, ...) and messages protobuf itself
cannot express (a field sent twice, two members of one oneof, unknown field
numbers, 1025 levels of nesting) are hand-encoded with the wire helpers
below, at Spark's real field numbers (branch-4.3, as src/plan_schema.c).

Relation, Command and Expression builders return bytes too, so that they
compose by concatenation; the request wrappers (execute, analyze, ...) take
bytes or messages.

Self-check:  /usr/bin/python3 tests/integ/plans.py  (needs protoc and zstd)
"""

import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
import uuid
import zlib

import sgharness as H

SESSION = "5d0c6a4e-2f7b-4c1d-9e8a-3b6f1a2c4d5e"

# PySpark's PythonEvalType numbers
EVAL_SQL_BATCHED_UDF = 100       # plain @udf
EVAL_SCALAR_PANDAS_UDF = 200     # @pandas_udf
EVAL_MAP_PANDAS_ITER_UDF = 205   # mapInPandas

# Plan.CompressedOperation
OP_RELATION, OP_COMMAND = 1, 2
CODEC_ZSTD = 1

REDACTED = "*********(redacted)"


def pb():
    return H.pb()


# --------------------------------------------------------------------------
# wire format

varint = H.pb_varint


def key(num, wt):
    return varint(num << 3 | wt)


def f_len(num, payload):
    """A length-delimited field."""
    if isinstance(payload, str):
        payload = payload.encode()
    return key(num, 2) + varint(len(payload)) + bytes(payload)


def f_varint(num, v):
    return key(num, 0) + varint(v)


def ser(x):
    """bytes as they are; a message serialized."""
    if isinstance(x, (bytes, bytearray)):
        return bytes(x)
    return x.SerializeToString()


def read_varint(buf, i):
    v, shift = 0, 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        c = buf[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i
        if shift > 63:
            raise ValueError("varint too long")


def fields(buf):
    """Top-level fields of a serialized message: list of (num, wt, start,
    end, payload) where payload is the LEN body or the varint value."""
    out, i = [], 0
    while i < len(buf):
        start = i
        k, i = read_varint(buf, i)
        num, wt = k >> 3, k & 7
        if wt == 0:
            v, i = read_varint(buf, i)
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            n, i = read_varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        if i > len(buf):
            raise ValueError("truncated field %d" % num)
        out.append((num, wt, start, i, v))
    return out


def strip_fields(buf, nums):
    """|buf| without its top-level fields numbered |nums|."""
    return b"".join(buf[s:e] for num, _, s, e, _ in fields(buf) if num not in nums)


def plan_sha256(req):
    """What sparkgate's audit line calls plan_sha256: the first 16 hex
    digits of the SHA-256 of the request without session_id (1) and
    user_context (2)."""
    return hashlib.sha256(strip_fields(req, {1, 2})).hexdigest()[:16]


def grpc_frame(payload):
    return struct.pack(">BI", 0, len(payload)) + payload


# --------------------------------------------------------------------------
# expressions (serialized spark.connect.Expression)

def attr(name):
    m = pb()
    return m.Expression(unresolved_attribute=m.Expression.UnresolvedAttribute(
        unparsed_identifier=name)).SerializeToString()


def lit_int(v):
    m = pb()
    return m.Expression(literal=m.Expression.Literal(integer=v)).SerializeToString()


def fn(name, *args):
    """Expression{unresolved_function{name, arguments}} (args: bytes)."""
    body = f_len(1, name) + b"".join(f_len(2, a) for a in args)
    return f_len(3, body)


def alias(expr, name):
    return f_len(6, f_len(1, expr) + f_len(2, name))


def lambda_var(name):
    """Expression{unresolved_named_lambda_variable(14){name_parts=1}}"""
    return f_len(14, f_len(1, name))


def _long_type():
    m = pb()
    return m.DataType(long=m.DataType.Long())


def python_udf_msg(eval_type=EVAL_SQL_BATCHED_UDF):
    m = pb()
    return m.PythonUDF(output_type=_long_type(), eval_type=eval_type,
                       command=b"\x80\x05cloudpickle-bytes-of-a-lambda", python_ver="3.11")


def udf_fn(kind="python", eval_type=EVAL_SQL_BATCHED_UDF, name="plus_one", args=None):
    """Serialized CommonInlineUserDefinedFunction: kind python, scala or java."""
    m = pb()
    f = m.CommonInlineUserDefinedFunction(function_name=name, deterministic=True)
    if kind == "python":
        f.python_udf.CopyFrom(python_udf_msg(eval_type))
    elif kind == "scala":
        f.scalar_scala_udf.payload = b"\xac\xed\x00\x05serialized-scala-closure"
        f.scalar_scala_udf.outputType.CopyFrom(_long_type())
        f.scalar_scala_udf.nullable = True
    elif kind == "java":
        f.java_udf.class_name = "com.example.udf.PlusOne"
        f.java_udf.output_type.CopyFrom(_long_type())
    else:
        raise ValueError(kind)
    out = f.SerializeToString()
    for a in (args if args is not None else [attr("x")]):
        out += f_len(3, a)
    return out


def udf_expr(kind="python", eval_type=EVAL_SQL_BATCHED_UDF, args=None):
    """Expression{common_inline_user_defined_function(15)}"""
    return f_len(15, udf_fn(kind, eval_type, args=args))


def sort_order(child):
    """Expression.SortOrder{child, ascending, nulls first}"""
    return f_len(1, child) + f_varint(2, 1) + f_varint(3, 1)


# --------------------------------------------------------------------------
# relations (serialized spark.connect.Relation)

def read_table(name="samples.people", plan_id=None):
    m = pb()
    r = m.Relation()
    r.read.named_table.unparsed_identifier = name
    if plan_id is not None:
        r.common.plan_id = plan_id
    return r.SerializeToString()


def project(input_rel, *exprs):
    return f_len(3, f_len(1, input_rel) + b"".join(f_len(3, e) for e in exprs))


def query():
    """spark.table("samples.people").filter(col("age") > 21).select("name", "age")"""
    flt = f_len(4, f_len(1, read_table()) + f_len(2, fn(">", attr("age"), lit_int(21))))
    return project(flt, attr("name"), attr("age"))


def sql(text):
    m = pb()
    return m.Relation(sql=m.SQL(query=text)).SerializeToString()


def udf_project(kind="python", eval_type=EVAL_SQL_BATCHED_UDF):
    """df.select("name", udf(col("x"))): the UDF at expressions[1]."""
    return project(read_table(), attr("name"), udf_expr(kind, eval_type))


def map_in_pandas(eval_type=EVAL_MAP_PANDAS_ITER_UDF):
    """df.mapInPandas(f, schema): Relation.map_partitions(28)."""
    mp = f_len(1, read_table()) + f_len(2, udf_fn("python", eval_type, name="f", args=[]))
    return f_len(28, mp)


def extension_relation(type_url="type.googleapis.com/spark.connect.delta.DeltaRelation"):
    """Relation.extension(998) = google.protobuf.Any"""
    return f_len(998, f_len(1, type_url) + f_len(2, b"\x0a\x03t_1"))


def unknown_relation(num=777):
    """A Relation member a newer Spark might have (field |num|)."""
    return f_len(num, f_len(1, b"whatever"))


def local_relation(data):
    return f_len(11, f_len(1, data))


# ---- a Python UDF hidden somewhere inside an otherwise harmless plan ------

def hidden_join_right():
    j = (f_len(1, read_table("a")) + f_len(2, udf_project()) +
         f_len(3, fn("==", attr("a.id"), attr("b.id"))) + f_varint(4, 1))
    return f_len(5, j)


def hidden_with_relations():
    """WithRelations: root refers to subquery plan 7, whose definition in
    |references| carries the UDF."""
    sub = f_len(21, f_varint(1, 7) + f_varint(2, 1))  # Expression.subquery_expression
    root = project(read_table(), attr("name"), alias(sub, "s"))
    m = pb()
    ref_common = m.Relation(common=m.RelationCommon(plan_id=7)).SerializeToString()
    ref = ref_common + project(read_table("t2"), udf_expr())
    return f_len(41, f_len(1, root) + f_len(2, ref))


def hidden_lambda():
    """transform(arr, x -> udf(x)): Expression.lambda_function(10)."""
    lam = f_len(10, f_len(1, udf_expr(args=[lambda_var("x")])) + f_len(2, f_len(1, "x")))
    return project(read_table(), fn("transform", attr("arr"), lam))


def hidden_sort():
    """df.orderBy(udf(col("x")))"""
    srt = f_len(1, read_table()) + f_len(2, sort_order(udf_expr())) + f_varint(3, 1)
    return f_len(7, srt)


def hidden_window():
    """row_number().over(Window.partitionBy(udf(col("x"))).orderBy("y"))"""
    win = (f_len(1, fn("row_number")) + f_len(2, udf_expr()) +
           f_len(3, sort_order(attr("y"))))
    return project(read_table(), attr("name"), alias(f_len(11, win), "rn"))


def dup_project_smuggle():
    """Relation.project sent twice: protobuf-java merges the two Project
    messages, so the UDF in the second occurrence runs."""
    first = f_len(1, read_table()) + f_len(3, attr("name"))
    second = f_len(3, udf_expr())
    return f_len(3, first) + f_len(3, second)


def oneof_twice_smuggle(reverse=False):
    """Relation with `read` and `map_partitions`: protobuf-java keeps the
    last oneof member, the walker must judge both."""
    a, b = read_table(), map_in_pandas()
    return b + a if reverse else a + b


# --------------------------------------------------------------------------
# commands (serialized spark.connect.Command)

def sql_command(text, input_rel=None):
    body = f_len(1, text)
    if input_rel is not None:
        body += f_len(6, input_rel)
    return f_len(5, body)


def create_view(name="v1", input_rel=None):
    return f_len(3, f_len(1, input_rel if input_rel is not None else query()) +
                 f_len(2, name) + f_varint(4, 1))


def register_function(kind="python", eval_type=EVAL_SQL_BATCHED_UDF):
    """spark.udf.register("plus_one", f): Command.register_function(1)."""
    return f_len(1, udf_fn(kind, eval_type, args=[]))


def write_table(input_rel=None, table="sales.out"):
    """df.write.saveAsTable(table): Command.write_operation(2)."""
    m = pb()
    w = m.WriteOperation(mode=m.WriteOperation.SAVE_MODE_APPEND)
    w.table.table_name = table
    w.table.save_method = m.WriteOperation.SaveTable.TABLE_SAVE_METHOD_SAVE_AS_TABLE
    return f_len(2, f_len(1, input_rel if input_rel is not None else query()) +
                 w.SerializeToString())


def write_stream_foreach_batch():
    """df.writeStream.foreachBatch(f).start():
    Command.write_stream_operation_start(6) {input=1, format=2,
    foreach_batch=14 StreamingForeachFunction{python_function=1 PythonUDF}}"""
    m = pb()
    src = m.Relation()
    src.read.data_source.format = "rate"
    src.read.is_streaming = True
    py = m.PythonUDF(command=b"\x80\x05pickled-foreach-batch-fn", python_ver="3.11")
    ws = (f_len(1, src.SerializeToString()) + f_len(2, "console") +
          f_len(14, f_len(1, py.SerializeToString())))
    return f_len(6, ws)


def extension_command(type_url="type.googleapis.com/spark.connect.delta.DeltaCommand"):
    return f_len(999, f_len(1, type_url) + f_len(2, b"\x0a\x00"))


# --------------------------------------------------------------------------
# compressed plans (Spark 4.1 Plan.compressed_operation)

ZSTD = shutil.which("zstd") or "/usr/bin/zstd"


def zstd(data):
    r = subprocess.run([ZSTD, "-q", "-c"], input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60, check=True)
    return r.stdout


def compressed_plan(inner, op_type=OP_RELATION, codec=CODEC_ZSTD, compressed=None):
    """Serialized Plan{compressed_operation{data=zstd(inner), op_type, codec}}."""
    m = pb()
    p = m.Plan()
    p.compressed_operation.data = compressed if compressed is not None else zstd(ser(inner))
    p.compressed_operation.op_type = op_type
    p.compressed_operation.compression_codec = codec
    return p.SerializeToString()


_bombs = {}


def zstd_bomb(size=300 << 20):
    """zstd of a valid serialized Relation{local_relation{data = |size|
    zero bytes}}: a few KiB that decompress to |size| bytes.  Streamed
    into zstd (never held in memory whole); cached per size."""
    if size in _bombs:
        return _bombs[size]
    inner = key(1, 2) + varint(size)                     # LocalRelation.data
    head = key(11, 2) + varint(len(inner) + size) + inner  # Relation.local_relation
    with tempfile.TemporaryFile() as out:
        p = subprocess.Popen([ZSTD, "-q", "-c"], stdin=subprocess.PIPE, stdout=out,
                             stderr=subprocess.DEVNULL)
        try:
            p.stdin.write(head)
            chunk = bytes(1 << 20)
            left = size
            while left:
                n = min(left, len(chunk))
                p.stdin.write(chunk[:n])
                left -= n
            p.stdin.close()
            if p.wait(120) != 0:
                raise RuntimeError("zstd failed")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        out.seek(0)
        data = out.read()
    _bombs[size] = data
    return data


# --------------------------------------------------------------------------
# requests

def _ctx(msg, session, user):
    msg.session_id = session
    msg.user_context.user_id = user
    msg.user_context.user_name = user
    return msg


def execute(root=None, command=None, plan=None, session=SESSION, user="u-1",
            operation_id=None):
    """Serialized ExecutePlanRequest.  Exactly one of root (Relation),
    command (Command) or plan (Plan) is given, as bytes or a message."""
    m = pb()
    req = _ctx(m.ExecutePlanRequest(), session, user)
    req.operation_id = operation_id or str(uuid.uuid4())
    req.client_type = "sg-integ/plans.py"
    if plan is None:
        if (root is None) == (command is None):
            raise ValueError("one of root, command, plan")
        plan = f_len(1, ser(root)) if root is not None else f_len(2, ser(command))
    return req.SerializeToString() + f_len(3, ser(plan))


def analyze(root, what="schema", session=SESSION, user="u-1"):
    """Serialized AnalyzePlanRequest carrying |root| (a Relation): in
    schema/explain/tree_string/is_local{plan{root}}, in persist/
    get_storage_level{relation}, or as same_semantics' other_plan (the
    target_plan being query())."""
    m = pb()
    req = _ctx(m.AnalyzePlanRequest(), session, user)
    rel = ser(root)
    if what == "same_semantics":
        body = f_len(1, f_len(1, query())) + f_len(2, f_len(1, rel))
        return req.SerializeToString() + f_len(12, body)
    if what in ("persist", "get_storage_level"):
        num = {"persist": 14, "get_storage_level": 16}[what]
        return req.SerializeToString() + f_len(num, f_len(1, rel))
    num = {"schema": 4, "explain": 5, "tree_string": 6, "is_local": 7}[what]
    body = f_len(1, f_len(1, rel))
    if what == "explain":
        body += f_varint(2, 2)
    return req.SerializeToString() + f_len(num, body)


def config(op, items=(), prefix=None, session=SESSION, user="u-1"):
    """Serialized ConfigRequest.  op: set/unset/get/get_all/get_option/
    get_with_default/is_modifiable; items: keys, or (key, value) pairs for
    set and get_with_default."""
    m = pb()
    req = _ctx(m.ConfigRequest(), session, user)
    o = req.operation
    if op in ("set", "get_with_default"):
        part = getattr(o, op)
        part.SetInParent()
        for k, v in items:
            kv = part.pairs.add(key=k)
            if v is not None:
                kv.value = v
    elif op == "get_all":
        o.get_all.SetInParent()
        if prefix is not None:
            o.get_all.prefix = prefix
    elif op in ("get", "unset", "get_option", "is_modifiable"):
        part = getattr(o, op)
        part.SetInParent()
        part.keys.extend(items)
    else:
        raise ValueError(op)
    return req.SerializeToString()


def artifacts_batch(items, session=SESSION, user="u-1"):
    """[AddArtifactsRequest{batch{artifacts}}] for items [(name, data)]."""
    m = pb()
    req = _ctx(m.AddArtifactsRequest(), session, user)
    req.batch.SetInParent()
    for name, data in items:
        a = req.batch.artifacts.add(name=name)
        a.data.data = data
        a.data.crc = zlib.crc32(data)
    return [req.SerializeToString()]


def artifacts_chunked(name, data, chunk=1024, declared_total=None, session=SESSION,
                      user="u-1"):
    """[begin_chunk (with the first |chunk| bytes), chunk, chunk, ...]: one
    chunked artifact.  declared_total: what begin_chunk claims (a lie if it
    differs from len(data))."""
    m = pb()
    parts = [data[i:i + chunk] for i in range(0, len(data), chunk)] or [b""]
    out = []
    first = _ctx(m.AddArtifactsRequest(), session, user)
    first.begin_chunk.name = name
    first.begin_chunk.total_bytes = len(data) if declared_total is None else declared_total
    first.begin_chunk.num_chunks = len(parts)
    first.begin_chunk.initial_chunk.data = parts[0]
    first.begin_chunk.initial_chunk.crc = zlib.crc32(parts[0])
    out.append(first.SerializeToString())
    for p in parts[1:]:
        r = _ctx(m.AddArtifactsRequest(), session, user)
        r.chunk.data = p
        r.chunk.crc = zlib.crc32(p)
        out.append(r.SerializeToString())
    return out


def artifact_status(names, session=SESSION, user="u-1"):
    m = pb()
    req = _ctx(m.ArtifactStatusesRequest(), session, user)
    req.names.extend(names)
    return req.SerializeToString()


# --------------------------------------------------------------------------
# duplicate fields and oneof members outside the plan tree: what
# protobuf-java would merge or keep last must not slip past the policy

def _ctx_bytes(session, user):
    return f_len(1, session) + f_len(2, f_len(1, user) + f_len(2, user))


def _chunk(data):
    return f_len(1, data) + f_varint(2, zlib.crc32(data))


def smuggled(kind, session=SESSION, user="u-1"):
    """(method, request bytes or list of them) hiding |bad| behind a
    harmless first occurrence.  The bad part is always: setting
    spark.executor.memory / spark.master (Config), uploading jars/evil.jar
    (AddArtifacts), a write_operation or DROP TABLE (ExecutePlan), eval_type
    205 or a JavaUDF (Python UDF)."""
    ctx = _ctx_bytes(session, user)
    get = f_len(2, f_len(1, "spark.sql.shuffle.partitions"))
    bad_set = f_len(1, f_len(1, f_len(1, "spark.executor.memory") + f_len(2, "64g")))
    ok_art = f_len(1, "pyfiles/ok.py") + f_len(2, _chunk(b"x = 1\n"))
    bad_art = f_len(1, "jars/evil.jar") + f_len(2, _chunk(b"PK"))
    py = python_udf_msg(EVAL_SQL_BATCHED_UDF).SerializeToString()
    if kind == "config-operation-twice":
        return "Config", ctx + f_len(3, get) + f_len(3, bad_set)
    if kind == "config-oneof-get-then-set":
        return "Config", ctx + f_len(3, get + bad_set)
    if kind == "config-key-twice":
        kv = f_len(1, "spark.sql.shuffle.partitions") + f_len(1, "spark.master") + f_len(2, "x")
        return "Config", ctx + f_len(3, f_len(1, f_len(1, kv)))
    if kind == "artifact-name-twice":
        sca = f_len(1, "pyfiles/ok.py") + bad_art
        return "AddArtifacts", [ctx + f_len(3, f_len(1, sca))]
    if kind == "begin-chunk-name-twice":
        bc = (f_len(1, "pyfiles/ok.py") + f_len(1, "jars/evil.jar") + f_varint(2, 2) +
              f_varint(3, 1) + f_len(4, _chunk(b"PK")))
        return "AddArtifacts", [ctx + f_len(4, bc)]
    if kind == "batch-twice":
        return "AddArtifacts", [ctx + f_len(3, f_len(1, ok_art)) + f_len(3, f_len(1, bad_art))]
    if kind == "batch-then-begin-chunk":
        bc = f_len(1, "jars/evil.jar") + f_varint(2, 2) + f_varint(3, 1) + f_len(4, _chunk(b"PK"))
        return "AddArtifacts", [ctx + f_len(3, f_len(1, ok_art)) + f_len(4, bc)]
    if kind == "plan-twice":
        return "ExecutePlan", execute(root=query(), session=session, user=user) + \
            f_len(3, f_len(2, write_table()))
    if kind == "sql-command-text-twice":
        return "ExecutePlan", execute(command=f_len(5, f_len(1, "SELECT 1") +
                                                    f_len(1, "DROP TABLE t")),
                                      session=session, user=user)
    if kind == "sql-query-text-twice":
        return "ExecutePlan", execute(root=f_len(10, f_len(1, "SELECT 1") +
                                                 f_len(1, "DROP TABLE t")),
                                      session=session, user=user)
    if kind == "relation-sql-twice":
        return "ExecutePlan", execute(root=sql("SELECT 1") + sql("DROP TABLE t"),
                                      session=session, user=user)
    if kind == "eval-type-twice":
        f = f_len(1, "f") + f_len(4, py + f_varint(2, EVAL_MAP_PANDAS_ITER_UDF))
        return "ExecutePlan", execute(root=project(read_table(), f_len(15, f)),
                                      session=session, user=user)
    if kind == "udf-oneof-python-then-java":
        f = f_len(1, "f") + f_len(4, py) + f_len(6, f_len(1, "com.example.Evil"))
        return "ExecutePlan", execute(root=project(read_table(), f_len(15, f)),
                                      session=session, user=user)
    raise ValueError(kind)


SMUGGLED = ["config-operation-twice", "config-oneof-get-then-set", "config-key-twice",
            "artifact-name-twice", "begin-chunk-name-twice", "batch-twice",
            "batch-then-begin-chunk", "plan-twice", "sql-command-text-twice",
            "sql-query-text-twice", "relation-sql-twice", "eval-type-twice",
            "udf-oneof-python-then-java"]


# --------------------------------------------------------------------------
# limits

def deep_relation_chain(depth, top=2):
    """Relation/Limit chain whose deepest message sits at |depth|, the first
    Relation being at depth |top|: Relation(top){limit{input=Relation{limit
    {...}}}}.  Relations sit at depths of |top|'s parity, Limits at the
    other; the deepest message is an empty Relation or a Limit{limit=1}
    (no leaf payload below it, so every parser counts the same depth)."""
    if depth < top:
        raise ValueError("depth below the root relation")
    rel_parity = top & 1
    inner = b""  # the deepest message body
    if (depth & 1) != rel_parity:
        inner = f_varint(2, 1)  # a Limit{limit=1}
    d = depth
    while d > top:
        d -= 1
        if (d & 1) == rel_parity:      # Relation at d holding the Limit at d+1
            inner = f_len(8, inner)
        else:                           # Limit at d holding the Relation at d+1
            inner = f_len(1, inner) + f_varint(2, 1)
    return inner


def deep_execute(depth, **kw):
    """ExecutePlanRequest (depth 0) -> plan (1) -> root Relation (2) -> ...
    with the deepest nested message at |depth|."""
    return execute(root=deep_relation_chain(depth, top=2), **kw)


def measure_depth(buf):
    """Deepest nesting of a hand-built chain (ExecutePlanRequest 3 -> Plan 1
    -> Relation 8 -> Limit 1 -> Relation ...), for the self-check."""
    best, todo = 0, [(buf, 0)]
    while todo:
        b, depth = todo.pop()
        best = max(best, depth)
        for num, wt, _, _, v in fields(b):
            if wt == 2 and ((depth == 0 and num == 3) or (depth == 1 and num == 1) or
                            (depth >= 2 and num in (8, 1))):
                todo.append((v, depth + 1))
    return best


def malformed_requests():
    """(id, ExecutePlanRequest bytes) that are not valid protobuf where the
    walker reads: truncated, bad wire types, a length beyond the end."""
    ok = execute(root=query())
    base = strip_fields(ok, {3})
    rel = query()
    return [
        ("truncated-plan", base + key(3, 2) + varint(40) + f_len(1, rel)[:20]),
        ("truncated-relation", base + f_len(3, f_len(1, rel[:-3]))),
        ("wiretype-7", base + f_len(3, f_len(1, key(3, 7) + b"\x00"))),
        ("stray-end-group", base + f_len(3, f_len(1, key(5, 4)))),
        ("bad-length", base + f_len(3, f_len(1, key(3, 2) + varint(1 << 40)))),
        ("field-zero", base + f_len(3, f_len(1, b"\x00\x00"))),
        ("truncated-top", ok[:-1]),
    ]


# --------------------------------------------------------------------------
# self-check (no sparkgate needed)

def _selfcheck():
    m = pb()
    # everything the subset can express parses back
    for name, b in [("query", query()), ("sql", sql("SELECT 1")), ("udf", udf_project()),
                    ("scala", udf_project("scala")), ("java", udf_project("java")),
                    ("mip", map_in_pandas()), ("join", hidden_join_right()),
                    ("with_relations", hidden_with_relations()), ("sort", hidden_sort()),
                    ("dup", dup_project_smuggle()), ("oneof", oneof_twice_smuggle()),
                    ("ext", extension_relation())]:
        r = m.Relation.FromString(b)
        assert r.SerializeToString() or b == b"", name
    r = m.Relation.FromString(udf_project())
    f = r.project.expressions[1].common_inline_user_defined_function
    assert f.python_udf.eval_type == 100 and f.arguments[0].unresolved_attribute.unparsed_identifier == "x"
    # duplicate project merges: both expressions present after parsing
    r = m.Relation.FromString(dup_project_smuggle())
    assert len(r.project.expressions) == 2
    assert r.project.expressions[1].HasField("common_inline_user_defined_function")
    # oneof twice: protobuf keeps the last member
    assert m.Relation.FromString(oneof_twice_smuggle()).WhichOneof("rel_type") == "map_partitions"
    assert m.Relation.FromString(oneof_twice_smuggle(True)).WhichOneof("rel_type") == "read"
    assert m.Relation.FromString(map_in_pandas()).map_partitions.func.python_udf.eval_type == 205
    for c in (sql_command("SELECT 1"), create_view(), register_function(), write_table(),
              write_table(udf_project()), sql_command("SELECT * FROM v", udf_project()),
              extension_command()):
        m.Command.FromString(c)
    assert m.Command.FromString(register_function()).register_function.python_udf.eval_type == 100
    w = m.Command.FromString(write_table())
    assert w.write_operation.table.table_name == "sales.out"
    # requests
    req = m.ExecutePlanRequest.FromString(execute(root=query(), user="x"))
    assert req.plan.root.project.input.filter.input.read.named_table.unparsed_identifier
    assert req.user_context.user_id == "x" and req.session_id == SESSION
    req = m.AnalyzePlanRequest.FromString(analyze(udf_project()))
    assert req.schema.plan.root.project.expressions[1].common_inline_user_defined_function
    req = m.AnalyzePlanRequest.FromString(analyze(udf_project(), "same_semantics"))
    assert req.same_semantics.other_plan.root.project.expressions[1].HasField(
        "common_inline_user_defined_function")
    assert req.same_semantics.target_plan.root.project.input.filter.condition
    for what in ("explain", "tree_string", "persist", "get_storage_level"):
        req = m.AnalyzePlanRequest.FromString(analyze(udf_project(), what))
        assert req.WhichOneof("analyze") == what
    c = m.ConfigRequest.FromString(config("set", [("a", "1"), ("b", None)]))
    assert [(p.key, p.HasField("value")) for p in c.operation.set.pairs] == [("a", True), ("b", False)]
    c = m.ConfigRequest.FromString(config("get_all"))
    assert c.operation.WhichOneof("op_type") == "get_all" and not c.operation.get_all.HasField("prefix")
    c = m.ConfigRequest.FromString(config("get_all", prefix=""))
    assert c.operation.get_all.HasField("prefix")
    a = [m.AddArtifactsRequest.FromString(x) for x in artifacts_chunked("files/x", b"a" * 2500)]
    assert len(a) == 3 and a[0].begin_chunk.num_chunks == 3 and len(a[2].chunk.data) == 452
    # plan_sha256 ignores session and user
    op = str(uuid.uuid4())
    assert plan_sha256(execute(root=query(), user="a", session="s1", operation_id=op)) == \
        plan_sha256(execute(root=query(), user="b", session="s2", operation_id=op))
    # compression round trip
    cp = m.Plan.FromString(compressed_plan(udf_project()))
    raw = subprocess.run([ZSTD, "-q", "-d", "-c"], input=cp.compressed_operation.data,
                         stdout=subprocess.PIPE, check=True).stdout
    assert raw == udf_project() and cp.compressed_operation.op_type == 1
    bomb = zstd_bomb(8 << 20)
    out = subprocess.run([ZSTD, "-q", "-d", "-c"], input=bomb, stdout=subprocess.PIPE,
                         check=True).stdout
    rel = m.Relation.FromString(out)
    assert len(rel.local_relation.data) == 8 << 20 and len(bomb) < 4096, len(bomb)
    # depth
    for d in (2, 3, 4, 5, 1023, 1024, 1025, 1026):
        got = measure_depth(deep_execute(d))
        assert got == d, (d, got)
    for mid, b in malformed_requests():
        try:
            m.ExecutePlanRequest.FromString(b)
        except Exception:
            continue
        raise AssertionError("python-protobuf parses malformed request %s" % mid)
    for k in SMUGGLED:
        method, req = smuggled(k)
        for r in (req if isinstance(req, list) else [req]):
            getattr(m, H.RPCS[method][0]).FromString(r)
    _, r = smuggled("config-oneof-get-then-set")
    assert m.ConfigRequest.FromString(r).operation.WhichOneof("op_type") == "set"
    _, r = smuggled("config-key-twice")
    assert m.ConfigRequest.FromString(r).operation.set.pairs[0].key == "spark.master"
    _, (r,) = smuggled("artifact-name-twice")
    assert m.AddArtifactsRequest.FromString(r).batch.artifacts[0].name == "jars/evil.jar"
    _, r = smuggled("plan-twice")
    assert m.ExecutePlanRequest.FromString(r).plan.WhichOneof("op_type") == "command"
    _, r = smuggled("sql-query-text-twice")
    assert m.ExecutePlanRequest.FromString(r).plan.root.sql.query == "DROP TABLE t"
    _, r = smuggled("eval-type-twice")
    f = m.ExecutePlanRequest.FromString(r).plan.root.project.expressions[0]
    assert f.common_inline_user_defined_function.python_udf.eval_type == 205
    print("plans.py self-check ok")


if __name__ == "__main__":
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    _selfcheck()
