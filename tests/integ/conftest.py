"""pytest fixtures for sparkgate's integration tests (see sgharness.py)."""

import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sgharness as H  # noqa: E402

_ALL_PROCS = []
_test_start = [0.0]


class ProcGroup:
    """Children of one test (or module).  close() stops sparkgates first
    (SIGTERM; must exit 0, no signal, no sanitizer report), then backends."""

    def __init__(self):
        self.sparkgates = []
        self.backends = []

    def backend(self, name="b1", **kw):
        b = H.Backend(name, **kw)
        b.closed_at = None
        self.backends.append(b)
        _ALL_PROCS.append(b)
        return b

    def sparkgate(self, config, **kw):
        s = H.Sparkgate(config, **kw)  # kills its child itself if it never gets ready
        s.closed_at = None
        s.expect_rc = 0
        self.sparkgates.append(s)
        _ALL_PROCS.append(s)
        return s

    def close(self):
        errors = []
        for s in self.sparkgates:
            was_alive = s.alive()
            rc = s.close(term_timeout=15.0)
            s.closed_at = time.monotonic()
            try:
                if was_alive and s.killed_by_us:
                    raise AssertionError("sparkgate pid %d did not exit within 15s of SIGTERM" % s.pid)
                s.check_health()
                if s.expect_rc is not None and rc != s.expect_rc and not s.killed_by_us:
                    raise AssertionError("sparkgate pid %d exited with status %s (expected %s)" % (
                        s.pid, rc, s.expect_rc))
            except AssertionError as e:
                errors.append("%s\n--- sparkgate stderr (tail) ---\n%s" % (
                    e, H.read_tail(s.stderr_path)))
        for b in self.backends:
            b.close(term_timeout=3.0)
            b.closed_at = time.monotonic()
        if errors:
            raise AssertionError("\n".join(errors))


@pytest.fixture(scope="session", autouse=True)
def _session():
    missing = [p for p in (H.SPARKGATE_BIN, H.SC_BACKEND_BIN) if not os.access(p, os.X_OK)]
    if missing:
        pytest.exit("integration tests need built binaries; missing: %s (run make first; "
                    "or set SPARKGATE_BIN / SC_BACKEND_BIN)" % ", ".join(missing), returncode=1)
    H.certs()
    H.pb()
    yield
    H.cleanup_tmp_root()


@pytest.fixture
def procs():
    g = ProcGroup()
    yield g
    g.close()


@pytest.fixture(scope="module")
def mprocs():
    g = ProcGroup()
    yield g
    g.close()


class Stack:
    """One h2c backend "b1" behind one TLS sparkgate."""

    def __init__(self, group, **cfg_extra):
        self.b1 = group.backend("b1")
        self.port = H.free_port()
        self.config = H.sg_config(self.port, [("b1", self.b1.address)], **cfg_extra)
        self.sg = group.sparkgate(self.config)
        self._channel = None

    @property
    def channel(self):
        if self._channel is None:
            self._channel = H.grpc_channel(self.port)
        return self._channel

    def close(self):
        if self._channel is not None:
            self._channel.close()
            self._channel = None


@pytest.fixture(scope="module")
def stack(mprocs):
    """Module-wide TLS sparkgate + backend b1 (for tests that do not stop it)."""
    s = Stack(mprocs)
    yield s
    s.close()
    s.sg.check_health()


@pytest.fixture
def fstack(procs):
    """A fresh stack for one test."""
    s = Stack(procs)
    yield s
    s.close()


@pytest.fixture
def pbm():
    return H.pb()


def pytest_runtest_setup(item):
    _test_start[0] = time.monotonic()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    for p in _ALL_PROCS:
        if p.closed_at is None or p.closed_at >= _test_start[0]:
            rep.sections.append(("%s pid %d stderr (tail)" % (p.name, p.pid),
                                 H.read_tail(p.stderr_path, 4000)))
