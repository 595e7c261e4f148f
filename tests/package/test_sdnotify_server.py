"""systemd notification of the zabkeeper binary (built tree, no root needed): READY=1 from the
server's own pid only once it serves clients -- standalone at once, an ensemble member only when a
leader is established for it -- and STOPPING=1 then exit 0 on SIGTERM.
Env: ZABKEEPER_BIN, PKGTEST_NOTIFY_PORT (base of 30 loopback ports), PKGTEST_DIR (scratch)."""
import os
import shutil
import signal
import subprocess

import pytest

from notify import NotifySocket, four_letter, port_is_free, wait_until

BIN = os.environ["ZABKEEPER_BIN"]
BASE = int(os.environ.get("PKGTEST_NOTIFY_PORT", "24960"))
TOP = os.environ.get("PKGTEST_DIR", "/tmp/zabkeeper-pkgtest-notify")
NOT_SERVING = "not currently serving"


@pytest.fixture
def top(request):
    d = os.path.join(TOP, request.node.name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


class Member:
    def __init__(self, top, mid, port, servers):
        self.dir = os.path.join(top, f"m{mid}")
        self.port = port
        os.makedirs(os.path.join(self.dir, "data"))
        lines = ["tickTime=500", "initLimit=10", "syncLimit=5",
                 f"dataDir={self.dir}/data", f"clientPort={port}", "4lw.commands.whitelist=*",
                 "admin.enableServer=false"]
        lines += servers
        if servers:
            with open(os.path.join(self.dir, "data", "myid"), "w") as f:
                f.write(f"{mid}\n")
        with open(os.path.join(self.dir, "zoo.cfg"), "w") as f:
            f.write("\n".join(lines) + "\n")
        self.notify = NotifySocket()
        self.proc = None

    def start(self):
        assert port_is_free(self.port), f"port {self.port} is in use"
        env = dict(os.environ, NOTIFY_SOCKET=self.notify.path)
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen([BIN, os.path.join(self.dir, "zoo.cfg")], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def stop_and_check(self):
        self.proc.send_signal(signal.SIGTERM)
        self.notify.wait_for("STOPPING", "1", 10, pid=self.proc.pid)
        assert self.proc.wait(timeout=15) == 0

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.notify.close()


def test_standalone_ready_once_serving_and_stopping_on_sigterm(top):
    m = Member(top, 1, BASE, [])
    try:
        m.start()
        pid, _, fields = m.notify.wait_for("READY", "1", 20, pid=m.proc.pid)
        assert fields.get("STATUS") == "serving clients"
        assert "Mode: standalone" in four_letter(m.port, "srvr")
        m.stop_and_check()
    finally:
        m.cleanup()


def test_ensemble_member_ready_only_when_a_leader_is_established(top):
    servers = [f"server.{i}=127.0.0.1:{BASE + 10 + i}:{BASE + 20 + i};{BASE + i}"
               for i in (1, 2, 3)]
    m1, m2 = (Member(top, i, BASE + i, servers) for i in (1, 2))
    try:
        m1.start()
        # Up and answering, but alone (1 of 3): no leader, so no READY yet.
        wait_until(lambda: NOT_SERVING in four_letter(m1.port, "srvr"), 20,
                   "member 1 to answer srvr (without a quorum)")
        assert not m1.notify.has("READY", "1"), m1.notify.messages
        assert m1.proc.poll() is None

        m2.start()  # a quorum: a leader is established for both
        for m in (m1, m2):
            m.notify.wait_for("READY", "1", 30, pid=m.proc.pid)
            mode = four_letter(m.port, "srvr")
            assert "Mode: leader" in mode or "Mode: follower" in mode, mode
        for m in (m1, m2):
            m.stop_and_check()
    finally:
        m1.cleanup()
        m2.cleanup()
