"""Shared pytest fixtures for the compatibility suite.

One server per pytest session, started through tests/harness/serverctl:
  ZK_SERVER_KIND  zookeeper | zabkeeper   (default zookeeper)
  ZK_TEST_PORT    client port             (default 21899)
  ZK_TEST_DIR     server dir (wiped first; default: a fresh mktemp dir)
  ZK_TICK_TIME    tickTime for the server (default 500 here, so minSessionTimeout = 1 s and the
                  expiry tests finish quickly; maxSessionTimeout = 10 s)
  ZABKEEPER_BIN   passed through to serverctl
If ZK_CONNECT is set and ZK_TEST_DIR is not, the tests use that already-running server instead.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from serverprocs import pid_alive, read_pid
from zkwire import close_clients

HERE = os.path.dirname(os.path.abspath(__file__))
SERVERCTL = os.path.join(HERE, "..", "harness", "serverctl")


def wait_for(cond, timeout, what):
    """Poll cond() until it is truthy; fail the test with `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(0.02)


class Server:
    def __init__(self, kind, port, dir_, managed):
        self.kind, self.port, self.dir, self.managed = kind, port, dir_, managed
        self.hosts = "127.0.0.1:%d" % port

    def pid(self):
        return read_pid(self.dir)

    def alive(self):
        return not self.managed or pid_alive(self.pid())

    def fd_count(self):
        p = self.pid()
        try:
            return len(os.listdir("/proc/%d/fd" % p))
        except (OSError, TypeError):
            return None


@pytest.fixture(scope="session")
def server():
    kind = os.environ.get("ZK_SERVER_KIND", "zookeeper")
    if os.environ.get("ZK_CONNECT") and not os.environ.get("ZK_TEST_DIR"):
        host, port = os.environ["ZK_CONNECT"].rsplit(":", 1)
        yield Server(kind, int(port), None, False)
        return
    if kind == "zookeeper" and (not shutil.which("java")
                                or not os.path.exists("/usr/share/java/zookeeper.jar")):
        pytest.skip("Apache ZooKeeper (java + /usr/share/java/zookeeper.jar) is not installed")
    port = int(os.environ.get("ZK_TEST_PORT", "21899"))
    d = os.environ.get("ZK_TEST_DIR") or tempfile.mkdtemp(prefix="zkcompat-")
    if os.path.exists(os.path.join(d, "pid")):
        subprocess.run([SERVERCTL, "kill", d], timeout=30)
    shutil.rmtree(d, ignore_errors=True)
    # serverctl only polls srvr on the port: a foreign server already listening there would be
    # mistaken for ours, so refuse a busy port.
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        pytest.fail("port %d is already in use by another process" % port)
    except OSError:
        pass
    env = dict(os.environ, ZK_TICK_TIME=os.environ.get("ZK_TICK_TIME", "500"))
    r = subprocess.run([SERVERCTL, "start", kind, d, str(port)], env=env, timeout=60,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        pytest.fail("serverctl start %s failed: %s" % (kind, r.stdout))
    srv = Server(kind, port, d, True)
    yield srv
    crashed = not srv.alive()
    subprocess.run([SERVERCTL, "stop", d], timeout=60)
    if crashed:
        pytest.fail("%s server process died during the tests; see %s/server.log" % (kind, d))


@pytest.fixture
def zk_factory(server):
    """Make started KazooClients on the test server (or on given hosts); stopped at teardown."""
    from kazoo.client import KazooClient
    made = []

    def make(hosts=None, timeout=10.0, **kw):
        kw.setdefault("connection_retry", dict(max_tries=-1, delay=0.05, max_delay=0.5))
        c = KazooClient(hosts=hosts or server.hosts, timeout=timeout, **kw)
        c.start(timeout=15)
        made.append(c)
        return c

    yield make
    close_clients(*made)


@pytest.fixture
def zk(zk_factory):
    return zk_factory()


class Proxy:
    """A loopback TCP proxy in front of the server so a test can cut a client's connection
    (drop) or keep it from reconnecting (block) without the client closing its session."""

    def __init__(self, listen_port, upstream_port):
        self.upstream = upstream_port
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", listen_port))
        self.lsock.listen(16)
        self.port = listen_port
        self.hosts = "127.0.0.1:%d" % listen_port
        self.blocked = False
        self.pairs = []
        self.accepted = 0
        self.lock = threading.Lock()
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            if self.blocked:
                c.close()
                continue
            try:
                u = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.pairs.append((c, u))
                self.accepted += 1
            threading.Thread(target=self._pump, args=(c, u), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def drop(self):
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for c, u in pairs:
            for s in (c, u):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self):
        self.stopped = True
        self.blocked = True
        self.lsock.close()
        self.drop()


@pytest.fixture
def proxy_factory(server):
    made = []

    def make(offset):
        # compat owns 24600..24649 (tests/integration starts at 24650): proxies at port+20+n
        p = Proxy(server.port + 20 + offset, server.port)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()
