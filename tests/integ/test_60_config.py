"""`sparkgate -t`: good configs exit 0; every malformed one exits 1 with
"sparkgate: FILE:LINE:COL: keypath: reason".  Positions are marked in the
test texts with MARK; the conventions are those of src/cfg.c: errors about a
member point at its name, a missing key at the enclosing object, syntax
errors at jansson's position (inside the offending token)."""

import json
import os
import re
import subprocess

import pytest

import sgharness as H

MARK = "\u2038"  # the caret marking where the error must point


def _good(port=15999, **over):
    c = H.certs()
    cfg = {
        "workers": 2,
        "listen": [{"address": "127.0.0.1:%d" % port,
                    "tls": {"certificate": c.server_pem, "private_key": c.server_key}}],
        "backends": [{"name": "b1", "address": "127.0.0.1:15003"},
                     {"name": "b2", "address": "localhost:15004",
                      "tls": {"ca": c.ca_pem, "server_name": "localhost",
                              "certificate": c.client_pem, "private_key": c.client_key}}],
        "limits": {"stream_buffer_size": 1048576, "stream_window_size": 1048576},
        "timeouts": {"drain_ms": 5000, "backend_connect_ms": 2000},
        "log": {"level": "debug", "access": True},
    }
    cfg.update(over)
    return cfg


def _write(name, text):
    d = os.path.join(H.tmp_root(), "cfg")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def _run(*args, timeout=20):
    return subprocess.run([H.SPARKGATE_BIN] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, stdin=subprocess.DEVNULL)


def _pos(text):
    """(text without MARK, line, col) with col counted in characters."""
    i = text.index(MARK)
    clean = text.replace(MARK, "")
    line = text.count("\n", 0, i) + 1
    col = i - (text.rfind("\n", 0, i) + 1) + 1
    return clean, line, col


def _c():
    return H.certs()


def _dump(cfg):
    return json.dumps(cfg, indent=2)


def _bad_from_good(mutate, marker_before, nth=1):
    """Pretty-printed good config changed by |mutate| (a function of the
    text); MARK goes before the |nth| occurrence of |marker_before|."""
    text = mutate(_dump(_good()))
    i = -1
    for _ in range(nth):
        i = text.index(marker_before, i + 1)
    return text[:i] + MARK + text[i:]


# name -> (text with MARK, key path or None, reason regex, token length for
# syntax errors (the column may point anywhere inside the token))
CASES = {
    "syntax_missing_comma": (
        '{\n  "workers": 2\n  ' + MARK + '"listen": []\n}\n', None,
        r"syntax error: .*expected", len('"listen"')),
    "syntax_trailing_comma": (
        '{\n  "workers": 2,\n' + MARK + '}\n', None, r"syntax error: .*expected", 1),
    "syntax_unterminated": (
        # jansson points at the last character read, or just past it
        '{"workers": [1, ' + MARK + '2', None, r"syntax error: .*end of file", 2),
    "syntax_newline_in_quoted_text": (
        # jansson quotes the text near the error, here a backslash and a
        # raw newline: the message must still be one line
        '{\n  "workers\\\n' + MARK + '": 2\n}\n', None, r"syntax error: invalid escape", 1),
    "duplicate_key": (
        '{\n  "workers": 2,\n  ' + MARK + '"workers": 3\n}\n', "workers",
        r'duplicate key "workers"', 0),
    "unknown_key_typo": (
        _bad_from_good(lambda t: t.replace('"backends"', '"backend"'), '"backend"'),
        "backend", r'unknown key.*did you mean "backends"', 0),
    "unknown_nested_key_typo": (
        _bad_from_good(lambda t: t.replace('"server_name"', '"server_nmae"'), '"server_nmae"'),
        "backends[1].tls.server_nmae", r'unknown key.*did you mean "server_name"', 0),
    "unknown_limit_key": (
        _bad_from_good(lambda t: t.replace('"stream_buffer_size"', '"stream_bufer_size"'),
                       '"stream_bufer_size"'),
        "limits.stream_bufer_size", r'unknown key.*did you mean "stream_buffer_size"', 0),
    "wrong_type_workers": (
        _bad_from_good(lambda t: t.replace('"workers": 2', '"workers": "2"'), '"workers"'),
        "workers", r"expected an integer, got string", 0),
    "wrong_type_certificate": (
        _bad_from_good(lambda t: re.sub(r'"certificate": "[^"]*server.pem"', '"certificate": 42', t),
                       '"certificate": 42'),
        "listen[0].tls.certificate", r"expected a string, got integer", 0),
    "wrong_type_listen": (
        '{\n  "workers": 1,\n  ' + MARK + '"listen": {"address": "127.0.0.1:1"},\n'
        '  "backends": [{"name": "b", "address": "127.0.0.1:2"}]\n}\n',
        "listen", r"expected an array, got object", 0),
    "out_of_range_workers": (
        _bad_from_good(lambda t: t.replace('"workers": 2', '"workers": 0'), '"workers"'),
        "workers", r"\b0 is out of range 1\.\.64", 0),
    "out_of_range_window": (
        _bad_from_good(lambda t: t.replace('"stream_window_size": 1048576', '"stream_window_size": 100'),
                       '"stream_window_size"'),
        "limits.stream_window_size", r"100 is out of range 65535\.\.2147483647", 0),
    "missing_required_backend_address": (
        '{\n  "listen": [{"address": "127.0.0.1:1", "plaintext": true}],\n'
        '  "backends": [\n    ' + MARK + '{ "name": "b1" }\n  ]\n}\n',
        "backends[0].address", r"required key missing", 0),
    "missing_required_listen": (
        MARK + '{\n  "workers": 1,\n  "backends": [{"name": "b", "address": "127.0.0.1:2"}]\n}\n',
        "listen", r"required key missing", 0),
    "bad_listen_address_no_port": (
        _bad_from_good(lambda t: t.replace('"127.0.0.1:15999"', '"127.0.0.1"'), '"address": "127.0.0.1"'),
        "listen[0].address", r"not a host:port", 0),
    "bad_backend_port": (
        _bad_from_good(lambda t: t.replace('"127.0.0.1:15003"', '"127.0.0.1:99999"'),
                       '"address": "127.0.0.1:99999"'),
        "backends[0].address", r"not a host:port \(port must be", 0),
    "bad_listen_host": (
        _bad_from_good(lambda t: t.replace('"127.0.0.1:15999"', '"not an ip:15999"'),
                       '"address": "not an ip'),
        "listen[0].address", r"not a host:port", 0),
    "missing_cert_file": (
        _bad_from_good(lambda t: re.sub(r'"certificate": "[^"]*server.pem"',
                                        '"certificate": "/nonexistent/sg-cert.pem"', t),
                       '"certificate": "/nonexistent'),
        "listen[0].tls.certificate",
        r'cannot read "/nonexistent/sg-cert.pem": No such file or directory', 0),
    "missing_backend_ca_file": (
        _bad_from_good(lambda t: re.sub(r'"ca": "[^"]*"', '"ca": "/nonexistent/ca.pem"', t),
                       '"ca": "/nonexistent'),
        "backends[1].tls.ca", r'cannot read "/nonexistent/ca.pem"', 0),
    "duplicate_backend_name": (
        _bad_from_good(lambda t: t.replace('"name": "b2"', '"name": "b1"'), '"name": "b1",\n      "address": "localhost'),
        "backends[1].name", r'duplicate backend name "b1"', 0),
    "bad_log_level": (
        _bad_from_good(lambda t: t.replace('"level": "debug"', '"level": "verbose"'), '"level"'),
        "log.level", r'unknown level "verbose"', 0),
    "tls_and_plaintext": (
        '{\n  "listen": [\n    {"address": "127.0.0.1:1", "plaintext": true,\n'
        '     "tls": {"certificate": "a", "private_key": "b"}}\n  ],\n'
        '  "backends": [{"name": "b", "address": "127.0.0.1:2"}]\n}\n',
        "listen[0]", r"mutually exclusive", 0),
    "client_cert_without_key": (
        _bad_from_good(lambda t: re.sub(r',\s*"private_key": "[^"]*client.key"', '', t),
                       '{\n        "ca"'),
        "backends[1].tls.private_key", r'required with "certificate"', 0),
    "top_level_array": (
        MARK + '[1, 2]\n', None, r"expected an object", 0),
    "empty_backends": (
        '{\n  "listen": [{"address": "127.0.0.1:1", "plaintext": true}],\n  ' + MARK
        + '"backends": []\n}\n', "backends", r"expected 1\.\.\d+ entries, got 0", 0),
}


def _fix_tls_and_plaintext(text):
    # MARK at the element listen[0] (the member path ends in an index: its value)
    return text.replace('    {"address": "127.0.0.1:1", "plaintext": true,\n',
                        '    ' + MARK + '{"address": "127.0.0.1:1", "plaintext": true,\n', 1)


CASES["tls_and_plaintext"] = (_fix_tls_and_plaintext(CASES["tls_and_plaintext"][0]),) + \
    CASES["tls_and_plaintext"][1:]


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_bad_config(name):
    marked, keypath, reason, toklen = CASES[name]
    text, line, col = _pos(marked)
    path = _write(name + ".json", text)
    r = _run("-t", "-c", path)
    out = (r.stdout + r.stderr).decode("utf-8", "replace")
    assert r.returncode == 1, out
    lines = [l for l in out.splitlines() if l.strip()]
    assert len(lines) == 1, "expected exactly one message line:\n" + out
    msg = lines[0]
    m = re.match(r"^sparkgate: (.+?):(\d+):(\d+): (.*)$", msg)
    assert m, msg
    assert m.group(1) == path, msg
    got_line, got_col, rest = int(m.group(2)), int(m.group(3)), m.group(4)
    assert got_line == line, "line %d, expected %d: %s" % (got_line, line, msg)
    if toklen:
        assert col <= got_col <= col + toklen - 1, "col %d not in %d..%d: %s" % (
            got_col, col, col + toklen - 1, msg)
    else:
        assert got_col == col, "col %d, expected %d: %s" % (got_col, col, msg)
    if keypath is not None:
        assert rest.startswith(keypath + ": "), "key path %r expected: %s" % (keypath, msg)
        rest = rest[len(keypath) + 2:]
    assert re.search(reason, rest), "reason /%s/ expected: %s" % (reason, msg)


def test_check_good_config():
    path = _write("good.json", _dump(_good()))
    r = _run("-t", "-c", path)
    out = (r.stdout + r.stderr).decode()
    assert r.returncode == 0, out
    assert "configuration %s ok" % path in out, out


def test_check_good_config_with_comments():
    text = "// sparkgate test config\n" + _dump(_good()).replace(
        '"workers": 2,', '"workers": 2, /* two event loops */')
    path = _write("comments.json", text)
    r = _run("-t", "-c", path)
    assert r.returncode == 0, (r.stdout + r.stderr).decode()


def test_check_minimal_plaintext_config():
    path = _write("minimal.json", json.dumps({
        "listen": [{"address": "127.0.0.1:15998", "plaintext": True}],
        "backends": [{"name": "b1", "address": "127.0.0.1:15003"}]}))
    r = _run("-t", "-c", path)
    assert r.returncode == 0, (r.stdout + r.stderr).decode()


@pytest.mark.parametrize("name", ["demo.json", "minimal.json"])
def test_shipped_config_checks(name):
    """The configurations shipped in conf/ pass `sparkgate -t` as shipped,
    only their certificate paths pointed at the development certificates
    (a profile rule the loader refuses once broke the demo, unnoticed)."""
    c = H.certs()
    with open(os.path.join(H.TOP_SRCDIR, "conf", name), encoding="utf-8") as f:
        text = f.read()
    for shipped, dev in (("/etc/sparkgate/server.pem", c.server_pem),
                         ("/etc/sparkgate/server.key", c.server_key),
                         ("certs/server.pem", c.server_pem),
                         ("certs/server.key", c.server_key)):
        text = text.replace('"%s"' % shipped, json.dumps(dev))
    path = _write("shipped-" + name, text)
    r = _run("-t", "-c", path)
    assert r.returncode == 0, (r.stdout + r.stderr).decode()


def test_check_missing_file():
    r = _run("-t", "-c", "/nonexistent/sparkgate.json")
    out = (r.stdout + r.stderr).decode()
    assert r.returncode == 1, out
    assert "/nonexistent/sparkgate.json" in out
    assert "No such file or directory" in out


def test_start_with_bad_config_fails():
    """Without -t a bad config also exits 1 with the message, no crash."""
    marked, keypath, reason, _ = CASES["unknown_key_typo"]
    text, line, col = _pos(marked)
    path = _write("start-bad.json", text)
    r = _run("-c", path, timeout=20)
    out = (r.stdout + r.stderr).decode()
    assert r.returncode == 1, out
    assert "%s:%d:%d: %s: " % (path, line, col, keypath) in out, out


def test_version():
    r = _run("--version")
    assert r.returncode == 0
    assert re.search(r"sparkgate \d+\.\d+", (r.stdout + r.stderr).decode())


def test_help():
    r = _run("--help")
    out = (r.stdout + r.stderr).decode()
    assert r.returncode == 0
    assert "usage" in out.lower() and "-c" in out and "-t" in out


def test_bad_option():
    r = _run("--no-such-option")
    assert r.returncode != 0
    assert r.returncode > 0  # an error exit, not a signal
