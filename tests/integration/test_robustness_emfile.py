"""Issue 10, "no request takes the ensemble down": a member out of file descriptors (EMFILE).
One member of a real 3-member ensemble is restarted with `ulimit -n 64` (localcluster's
ZABKEEPER_NOFILE) and flooded for 10 s with more client connections than it has descriptors,
new ones replacing the oldest all along. Its log must grow by a bounded amount (accept failures
pause the listener and are logged rate-limited), it must answer ruok/srvr again once the
connections are gone, and it must still be a member: every acknowledged write on every member,
equal digests, also after a restart of all members (ensemble.check_survival).

Run by ctest (integ_robustness_emfile) or by hand:
/usr/bin/python3 -m pytest tests/integration/test_robustness_emfile.py
"""
import collections
import os
import socket
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from ensemble import Ensemble, Ledger, check_survival, wait_for  # noqa: E402

pytest.importorskip("kazoo.client")

NOFILE = 64
HELD = 200            # connections kept open at once: three times the member's descriptors
FLOOD_S = 10.0
LOG_BOUND = 1 << 20   # bytes the member's log may grow by during the flood


@pytest.fixture(scope="module")
def ens():
    e = Ensemble(os.path.join(HERE, "..", "..", "cluster", "integ-robust-emfile"), 25460)
    e.up(3)
    yield e
    e.down()


def nofile_limit(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    return None


def test_member_out_of_descriptors(ens):
    zk = ens.client()
    try:
        ledger = Ledger(ens, zk, "/ledger")
        ledger.write("emfile-before")
        leader = ens.leader()
        victim = next(i for i in range(1, ens.n + 1) if i != leader)
        ens.kill(victim)
        ens.start(victim, nofile=NOFILE)
        ens.converged()
        assert nofile_limit(ens.pid(victim)) == NOFILE
        pids = ens.pids()
        ledger.write("emfile-limited")
        off = ens.log_size(victim)
        held = collections.deque()
        opened = refused = 0
        t_end = time.monotonic() + FLOOD_S
        while time.monotonic() < t_end:
            try:
                held.append(socket.create_connection(("127.0.0.1", ens.client_port(victim)),
                                                     0.2))
                opened += 1
            except OSError:
                refused += 1  # the kernel's backlog is full too: that is the point
            while len(held) > HELD:
                held.popleft().close()
            time.sleep(0.005)
        # the other members served all along
        ledger.write("emfile-during")
        grown = ens.log_size(victim) - off
        fails = ens.log_since(victim, off).count("accept failed")
        for s in held:
            s.close()
        t0 = time.monotonic()
        wait_for(lambda: ens.fourlw(victim, "ruok") == "imok", 10, "ruok from the member")
        wait_for(lambda: "Mode: follower" in ens.fourlw(victim, "srvr"), 10, "srvr")
        back = time.monotonic() - t0
        print("EMFILE: %d connections opened in %.0fs (%d attempts refused), %d held at once; "
              "the member logged %d bytes (%d accept-failure lines); ruok/srvr answered %.2fs "
              "after the flood" % (opened, FLOOD_S, refused, HELD, grown, fails, back))
        assert opened > 2 * NOFILE, "the flood never exceeded the member's descriptors"
        assert fails > 0, "the member never ran out of descriptors: the test proves nothing"
        assert grown < LOG_BOUND, "the member's log grew by %d bytes" % grown
        check_survival(ens, ledger, "emfile", pids)
    finally:
        zk.stop()
        zk.close()
