"""kazoo against a real 3-member zabkeeper ensemble (deploy/localcluster), with a connect string of
all members: ephemeral nodes and client.Lock survive member and leader deaths.

Run by ctest (integ_kazoo_ensemble) or by hand: /usr/bin/python3 -m pytest test_kazoo_ensemble.py
"""
import os
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ensemble import Ensemble, wait_for  # noqa: E402

kazoo_client = pytest.importorskip("kazoo.client")
from kazoo.protocol.states import KazooState  # noqa: E402

SESSION_TIMEOUT = 8.0  # seconds; tick 500 ms allows 1..10 s


@pytest.fixture
def ens():
    e = Ensemble(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                              "cluster", "integ-kazoo"), 24700)
    e.up(3)
    yield e
    e.down()


class Client:
    """A KazooClient that records every state change."""

    def __init__(self, hosts, randomize=True):
        self.states = []
        self.zk = kazoo_client.KazooClient(hosts=hosts, timeout=SESSION_TIMEOUT,
                                           randomize_hosts=randomize,
                                           connection_retry={"max_tries": -1, "delay": 0.05,
                                                             "max_delay": 0.5})
        self.zk.add_listener(self.states.append)
        self.zk.start(timeout=15)

    def connected_port(self):
        conn = self.zk._connection
        sock = getattr(conn, "_socket", None)
        try:
            return sock.getpeername()[1] if sock else None
        except OSError:
            return None

    def member(self, ens):
        p = self.connected_port()
        return p - ens.base if p else None

    def close(self):
        try:
            self.zk.stop()
            self.zk.close()
        except Exception:
            pass


def owner(zk, path):
    st = zk.exists(path)
    return st.ephemeralOwner if st else None


def wait_connected(c, timeout, what):
    wait_for(lambda: c.zk.state == KazooState.CONNECTED and c.connected_port(), timeout, what)


def test_ephemeral_survives_member_and_leader_death(ens):
    ens.converged()  # every member serves: the client must land on the follower it names first
    leader = ens.leader()
    follower = next(i for i in (1, 2, 3) if i != leader)
    # connect to a follower first, so that its death is a different event from the leader's
    order = [follower] + [i for i in (1, 2, 3) if i != follower]
    a = Client(ens.hosts(order), randomize=False)
    other = Client(ens.hosts())
    try:
        assert a.member(ens) == follower
        sid = a.zk.client_id[0]
        a.zk.ensure_path("/eph")
        a.zk.create("/eph/node", b"mine", ephemeral=True)
        assert owner(a.zk, "/eph/node") == sid

        # 1. the member the session is connected to dies
        t = ens.kill(follower)
        wait_for(lambda: a.member(ens) not in (None, follower) and
                 a.zk.state == KazooState.CONNECTED, 20, "the session to move off member %d"
                 % follower)
        print("RESULT ephemeral: session resumed on member %d %.0f ms after member %d was killed"
              % (a.member(ens), (time.monotonic() - t) * 1e3, follower))
        assert a.zk.client_id[0] == sid, "a new session instead of the old one"
        assert KazooState.LOST not in a.states, a.states
        assert owner(a.zk, "/eph/node") == sid
        other.zk.sync("/eph")
        assert owner(other.zk, "/eph/node") == sid
        ens.start(follower)
        ens.converged()

        # 2. the leader dies (the session may or may not be on it)
        leader = ens.leader()
        on = a.member(ens)
        t = ens.kill(leader)
        new_leader = ens.leader(10)
        print("RESULT ephemeral: new leader %d %.0f ms after leader %d was killed (session was "
              "on member %d)" % (new_leader, (time.monotonic() - t) * 1e3, leader, on))
        wait_connected(a, 20, "the session to be connected again")
        assert a.member(ens) != leader
        assert a.zk.client_id[0] == sid
        assert KazooState.LOST not in a.states, a.states
        a.zk.sync("/eph")
        assert owner(a.zk, "/eph/node") == sid
        assert a.zk.get("/eph/node")[0] == b"mine"
        wait_connected(other, 20, "the observer client to be connected again")
        other.zk.sync("/eph")
        assert owner(other.zk, "/eph/node") == sid
        ens.start(leader)
        ens.converged()
        # the node is in every member's own state
        for i in (1, 2, 3):
            solo = Client(ens.hosts([i]))
            try:
                assert owner(solo.zk, "/eph/node") == sid, "member %d" % i
            finally:
                solo.close()
    finally:
        a.close()
        other.close()


def test_lock_survives_leader_kill_then_fifo_handoff(ens):
    clients = {n: Client(ens.hosts()) for n in "ABC"}
    try:
        locks = {n: c.zk.Lock("/locks/l1", identifier=n) for n, c in clients.items()}
        order = []
        got = {n: threading.Event() for n in "ABC"}
        errors = []

        def take(n):
            try:
                locks[n].acquire(timeout=60)
                order.append(n)
                got[n].set()
            except Exception as e:  # reported below
                errors.append((n, repr(e)))

        assert locks["A"].acquire(timeout=10)
        order.append("A")
        a_node = "/locks/l1/" + locks["A"].node
        a_sid = clients["A"].zk.client_id[0]
        assert owner(clients["A"].zk, a_node) == a_sid
        threads = {}
        for i, n in enumerate("BC"):  # B queues before C
            threads[n] = threading.Thread(target=take, args=(n,), daemon=True)
            threads[n].start()
            wait_for(lambda: len(clients["A"].zk.get_children("/locks/l1")) == i + 2, 10,
                     "%s to queue" % n)
        contenders = locks["A"].contenders()
        assert contenders == ["A", "B", "C"], contenders

        leader = ens.leader()
        where = {n: c.member(ens) for n, c in clients.items()}
        t = ens.kill(leader)
        new_leader = ens.leader(10)
        print("RESULT lock: new leader %d %.0f ms after leader %d was killed (clients on %s)"
              % (new_leader, (time.monotonic() - t) * 1e3, leader, where))
        for n, c in clients.items():
            wait_connected(c, 20, "client %s to be connected again" % n)
            assert KazooState.LOST not in c.states, (n, c.states)
        # A still holds the lock: its node is there, owned by its session, and first in line
        a = clients["A"].zk
        a.sync("/locks/l1")
        assert owner(a, a_node) == a_sid
        assert locks["A"].is_acquired
        assert locks["A"].contenders() == ["A", "B", "C"]
        # B and C do not get it while A holds it: observe for two session-recovery periods
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            assert not got["B"].is_set() and not got["C"].is_set(), order
            time.sleep(0.05)
        assert not errors, errors
        ens.start(leader)

        # hand-off in queue order
        locks["A"].release()
        assert got["B"].wait(15), ("B did not get the lock after A released it", order, errors)
        assert not got["C"].is_set(), order
        assert owner(clients["B"].zk, "/locks/l1/" + locks["B"].node) == \
            clients["B"].zk.client_id[0]
        locks["B"].release()
        assert got["C"].wait(15), ("C did not get the lock after B released it", order, errors)
        locks["C"].release()
        assert order == ["A", "B", "C"], order
        assert not errors, errors
        ens.converged()
    finally:
        for c in clients.values():
            c.close()


def test_write_pipelined_behind_a_sync_is_answered(ens):
    """A sync, then a write, sent without waiting, by one session on the leader and on a
    follower, while other sessions keep proposals in flight: the sync waits for a zxid that
    commits in the same turn as the write, and the write's answer must not be lost behind it
    (it was: the member matched each commit only against the request at the head of the queue,
    the sync not yet drained; zklock's heartbeat syncs made lock contenders hang)."""
    ens.converged()  # every member serves: each tester lands on the member it names
    leader = ens.leader()
    follower = next(i for i in (1, 2, 3) if i != leader)
    stop = threading.Event()
    loaders = [Client(ens.hosts([i]), randomize=False) for i in (1, 2, 3)]
    testers = {i: Client(ens.hosts([i]), randomize=False) for i in (leader, follower)}
    loaders[0].zk.ensure_path("/load")
    loaders[0].zk.ensure_path("/piped")

    def load(c):
        while not stop.is_set():
            pending = [c.zk.set_async("/load", b"x") for _ in range(16)]
            for p in pending:
                p.get(timeout=30)

    threads = [threading.Thread(target=load, args=(c,), daemon=True) for c in loaders]
    for t in threads:
        t.start()
    try:
        for i, c in testers.items():
            for n in range(300):
                s = c.zk.sync_async("/piped")
                w = c.zk.create_async("/piped/n-", b"", ephemeral=True, sequence=True)
                s.get(timeout=10)
                assert w.get(timeout=10), "member %d: pair %d" % (i, n)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        for c in loaders + list(testers.values()):
            c.close()
