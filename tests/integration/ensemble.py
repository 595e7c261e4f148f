"""Helpers for the Python ensemble tests: drive deploy/localcluster, read four-letter words,
poll conditions with bounded deadlines.

Environment (ctest sets all of them; defaults let the files run by hand):
  ZIT_LOCALCLUSTER       deploy/localcluster
  ZABKEEPER_BIN          the server binary (localcluster's default otherwise)
  ZABKEEPER_CLUSTER_DIR  state directory (wiped by up())
  ZABKEEPER_BASE_PORT    client = base+id, peer = base+10+id, election = base+20+id
  ZABKEEPER_TICK_TIME    500 here unless set
"""
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
LOCALCLUSTER = os.environ.get("ZIT_LOCALCLUSTER",
                              os.path.join(HERE, "..", "..", "deploy", "localcluster"))


class Ensemble:
    def __init__(self, default_dir, default_base):
        self.dir = os.environ.setdefault("ZABKEEPER_CLUSTER_DIR", default_dir)
        self.base = int(os.environ.setdefault("ZABKEEPER_BASE_PORT", str(default_base)))
        os.environ.setdefault("ZABKEEPER_TICK_TIME", "500")
        self.n = 0

    # ---- localcluster
    def lc(self, *args, check=True):
        p = subprocess.run([LOCALCLUSTER] + [str(a) for a in args], capture_output=True,
                           text=True, timeout=120)
        if check and p.returncode != 0:
            pytest.fail("localcluster %s failed (%d): %s%s" % (" ".join(map(str, args)),
                                                               p.returncode, p.stdout, p.stderr))
        return p

    def up(self, n):
        self.lc("down", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.lc("up", n)
        self.n = n

    def down(self):
        self.lc("down", check=False)

    def client_port(self, i):
        return self.base + i

    def peer_port(self, i):
        return self.base + 10 + i

    def hosts(self, ids=None):
        ids = ids or range(1, self.n + 1)
        return ",".join("127.0.0.1:%d" % self.client_port(i) for i in ids)

    def pid(self, i):
        try:
            with open(os.path.join(self.dir, "m%d" % i, "pid")) as f:
                return int(f.read())
        except (OSError, ValueError):
            return None

    def alive(self, i):
        p = self.pid(i)
        if p is None:
            return False
        try:
            with open("/proc/%d/status" % p) as f:
                return not any(l.startswith("State:") and "Z" in l.split()[1:2] for l in f)
        except OSError:
            return False

    def log_path(self, i):
        return os.path.join(self.dir, "m%d" % i, "server.log")

    def log_size(self, i):
        try:
            return os.path.getsize(self.log_path(i))
        except OSError:
            return 0

    def log_since(self, i, offset):
        with open(self.log_path(i), "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def leader(self, timeout=10.0):
        def find():
            p = self.lc("leader", check=False)
            return int(p.stdout) if p.returncode == 0 and p.stdout.strip() else None
        return wait_for(find, timeout, "a leader")

    def kill(self, i):
        """SIGKILL member i now (kill(2) on its pid) and wait until it is dead (a zombie counts:
        the reaper may take a while). Returns the time of the kill (time.monotonic())."""
        p = self.pid(i)
        assert p, "no pid for member %d" % i
        t = time.monotonic()
        os.kill(p, signal.SIGKILL)
        wait_for(lambda: not self.alive(i), 5, "member %d to die" % i)
        return t

    def start(self, i):
        self.lc("kill", i)  # waits until the killed process is reaped, so start really starts
        self.lc("start", i)

    # ---- four-letter words
    def fourlw(self, i, word, timeout=1.0):
        try:
            with socket.create_connection(("127.0.0.1", self.client_port(i)), timeout) as s:
                s.sendall(word.encode())
                chunks = []
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    chunks.append(b)
                return b"".join(chunks).decode("utf-8", "replace")
        except OSError:
            return ""

    def mntr(self, i):
        out = {}
        for line in self.fourlw(i, "mntr").splitlines():
            k, _, v = line.partition("\t")
            out[k] = v
        return out

    def views(self):
        return {i: self.mntr(i) for i in range(1, self.n + 1)}

    def converged(self, timeout=30.0):
        """Polls until every member serves and all report the same zk_last_zxid and
        zk_tree_digest; returns (zxid, digest)."""
        last = {}

        def check():
            v = self.views()
            last.clear()
            last.update(v)
            states = [m.get("zk_server_state") for m in v.values()]
            if any(s not in ("leader", "follower") for s in states) or states.count("leader") != 1:
                return None
            pairs = {(m.get("zk_last_zxid"), m.get("zk_tree_digest")) for m in v.values()}
            return pairs.pop() if len(pairs) == 1 else None
        try:
            return wait_for(check, timeout, "the members to converge")
        except pytest.fail.Exception:
            pytest.fail("members did not converge within %.0fs: %s" % (timeout, {
                i: (m.get("zk_server_state"), m.get("zk_last_zxid"), m.get("zk_tree_digest"))
                for i, m in last.items()}))


def wait_for(cond, timeout, what, interval=0.02):
    """Polls cond() until it returns something truthy; fails the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)
