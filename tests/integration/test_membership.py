"""Membership (issue 13) on real zabkeeper processes: equivalent configurations, growing and
shrinking an ensemble under load (acknowledged writes, a lock), reconfig's errors as ZooKeeper
gives them, observers, and the C client's getconfig/reconfig.

Members run through deploy/localcluster (start/kill/down on ZABKEEPER_CLUSTER_DIR), but every
zoo.cfg is written here: joiners list the current servers plus themselves, observers carry
`:observer`, and the equivalent-configuration case orders and spells its server lines per
member. Ports: client = base+id, peer = base+10+id, election = base+20+id, ids 1..6, base from
ZABKEEPER_BASE_PORT (ctest gives each case its own: 28000, 28030, 28060, 28090, 28120).

test_grow_shrink_under_load prints the duration of each reconfig call and the number of
acknowledged and lost writes (the figures issue 13's closing note quotes).

kazoo 2.8 does not know ZooKeeper's error -123 (ReconfigDisabled): an answer carrying it makes its
connection thread die with RuntimeError('Invalid error code'), the client goes LOST and the
request never completes (a plain zk.reconfig() would wait forever). This file registers the code
with kazoo (ReconfigDisabledError) and every reconfig call here has a timeout.

Run by ctest (integ_membership_*) or by hand: /usr/bin/python3 -m pytest test_membership.py
"""
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat"))
from ensemble import Ensemble, wait_for  # noqa: E402
from zkwire import close_clients as close  # noqa: E402

kazoo_client = pytest.importorskip("kazoo.client")
from kazoo import exceptions as kex  # noqa: E402
from kazoo.protocol.states import EventType, KazooState  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # kazoo 2.8: isSet()
SUPER_DIGEST = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="  # super:test
SUPER_AUTH = [("digest", "super:test")]
RECONFIG_ON = ["reconfigEnabled=true", "DigestAuthenticationProvider.superDigest=" + SUPER_DIGEST]
SESSION_TIMEOUT = 10.0  # the most tickTime 500 allows
CALL_TIMEOUT = 30.0     # every reconfig call: a lost answer fails the test instead of hanging
NOT_SERVING = "This ZooKeeper instance is not currently serving requests"
SERVING = ("leader", "follower", "observer")

if -123 not in kex.EXCEPTIONS:  # `in` does not create the entry of the defaultdict
    @kex._zookeeper_exception(-123)
    class _ReconfigDisabledError(kex.ZookeeperError):
        """ZooKeeper's ReconfigDisabled (-123), unknown to kazoo 2.8."""
ReconfigDisabledError = kex.EXCEPTIONS[-123]


def reconfig(zk, joining=None, leaving=None, new_members=None, from_config=-1,
             timeout=CALL_TIMEOUT):
    """zk.reconfig with a bounded wait; returns (text, stat)."""
    data, stat = zk.reconfig_async(joining, leaving, new_members, from_config).get(timeout=timeout)
    return data.decode(), stat


def version_of(text):
    m = re.search(r"^version=([0-9a-f]+)$", text, re.M)
    assert m, "no version= line in %r" % text
    return int(m.group(1), 16)


def servers_of(text):
    """{id: (peer port, election port, role, client port)} of a configuration text."""
    out = {}
    for m in re.finditer(r"^server\.(\d+)=([^:;]+|\[[^\]]+\]):(\d+):(\d+)(?::(\w+))?"
                         r"(?:;(?:[^;\n]*:)?(\d+))?$", text, re.M):
        out[int(m.group(1))] = (int(m.group(3)), int(m.group(4)), m.group(5) or "participant",
                                int(m.group(6)) if m.group(6) else None)
    return out


class Members(Ensemble):
    """An ensemble whose zoo.cfg files the test writes (ids 1..n; n fixed at setup)."""

    def setup(self, n):
        self.lc("down", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        for port in [self.base + k + j for k in (0, 10, 20) for j in range(1, n + 1)]:
            try:  # a server left over from another run would be taken for one of ours
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                pytest.fail("port %d is already in use by another process" % port)
            except OSError:
                pass
        os.makedirs(self.dir)
        with open(os.path.join(self.dir, "base"), "w") as f:
            f.write("%d\n" % self.base)
        with open(os.path.join(self.dir, "members"), "w") as f:
            f.write("%d\n" % n)
        self.n = n

    def line(self, j, host="127.0.0.1", role=None, client=None):
        """server.j's line; client: the client part after ';' (default: the port alone)."""
        return "server.%d=%s:%d:%d%s;%s" % (j, host, self.base + 10 + j, self.base + 20 + j,
                                             ":" + role if role else "",
                                             client or str(self.client_port(j)))

    def cfg_path(self, i):
        return os.path.join(self.dir, "m%d" % i, "zoo.cfg")

    def write(self, i, lines, extra=RECONFIG_ON):
        """zoo.cfg of member i as localcluster writes it, with these server lines."""
        data = os.path.join(self.dir, "m%d" % i, "data")
        os.makedirs(data, exist_ok=True)
        with open(os.path.join(data, "myid"), "w") as f:
            f.write("%d\n" % i)
        cfg = ["tickTime=" + os.environ.get("ZABKEEPER_TICK_TIME", "500"), "initLimit=10",
               "syncLimit=5", "dataDir=" + data, "clientPort=%d" % self.client_port(i),
               "maxClientCnxns=0", "4lw.commands.whitelist=*", "admin.enableServer=false"]
        with open(self.cfg_path(i), "w") as f:
            f.write("\n".join(cfg + list(extra) + list(lines)) + "\n")

    def launch(self, ids):
        for i in ids:
            self.lc("start", i)

    def stop(self, i):
        self.lc("kill", i)

    def serving(self, ids, voters=None, timeout=30.0):
        """Waits until every member of ids serves, one of `voters` (default: ids) leads and the
        others of `voters` follow, all with the same zxid and digest; returns the leader's id."""
        voters = list(voters or ids)
        last = {}

        def check():
            last.clear()
            last.update({i: self.mntr(i) for i in ids})
            states = {i: m.get("zk_server_state") for i, m in last.items()}
            leaders = [i for i in voters if states[i] == "leader"]
            if len(leaders) != 1 or any(states[i] not in SERVING for i in ids):
                return None
            if any(states[i] != "follower" for i in voters if i != leaders[0]):
                return None
            pairs = {(m.get("zk_last_zxid"), m.get("zk_tree_digest")) for m in last.values()}
            return leaders[0] if len(pairs) == 1 else None
        try:
            return wait_for(check, timeout, "members %s to serve and agree" % list(ids), 0.05)
        except pytest.fail.Exception:
            pytest.fail("members %s did not serve and agree within %.0fs: %s" % (
                list(ids), timeout, {i: (m.get("zk_server_state"), m.get("zk_last_zxid"),
                                         m.get("zk_tree_digest")) for i, m in last.items()}))

    def kclient(self, ids, auth=False, **kw):
        kw.setdefault("timeout", SESSION_TIMEOUT)
        kw.setdefault("connection_retry", dict(max_tries=-1, delay=0.05, max_delay=0.5))
        if auth:
            kw["auth_data"] = SUPER_AUTH
        c = kazoo_client.KazooClient(hosts=self.hosts(ids), **kw)
        c.start(timeout=20)
        return c

    def config(self, i):
        """/zookeeper/config as member i alone serves it."""
        with self.member_client(i) as c:
            return c.get("/zookeeper/config")[0].decode()

    def conf_membership(self, i):
        """The membership part of the conf four-letter word."""
        out = self.fourlw(i, "conf")
        assert "membership: \n" in out, "conf of member %d: %r" % (i, out)
        return out.split("membership: \n", 1)[1].strip()

    def dynamic_file(self, i):
        """(path, text) of the dynamic file member i's zoo.cfg names."""
        with open(self.cfg_path(i)) as f:
            static = f.read()
        m = re.search(r"^dynamicConfigFile=(.*)$", static, re.M)
        assert m, "member %d's zoo.cfg names no dynamicConfigFile:\n%s" % (i, static)
        assert not re.search(r"^server\.", static, re.M), \
            "member %d's zoo.cfg still has server lines:\n%s" % (i, static)
        with open(m.group(1)) as f:
            return m.group(1), f.read().strip()


@pytest.fixture
def ens():
    e = Members(os.path.join(HERE, "..", "..", "cluster", "integ-membership"), 28000)
    yield e
    e.down()


def three(ens, extra=RECONFIG_ON, n=3):
    """Members 1..3 with the same three server lines (n: ids reserved in the directory)."""
    ens.setup(n)
    for i in (1, 2, 3):
        ens.write(i, [ens.line(j) for j in (1, 2, 3)], extra)
    ens.launch((1, 2, 3))
    return ens.serving((1, 2, 3))


# ------------------------------------------------------------------ a. equivalent configurations

def test_equivalent_configurations(ens):
    """Each member lists the servers in another order and spells hosts and client parts its own
    way; they form one ensemble: one leader, writes through each member replicate, equal
    digests, and every member holds every write."""
    ens.setup(3)
    orders = {1: (1, 2, 3), 2: (3, 1, 2), 3: (2, 3, 1)}
    for i, order in orders.items():
        lines = []
        for j in order:
            host = "localhost" if (i + j) % 2 else "127.0.0.1"
            client = {1: None, 2: "0.0.0.0:%d" % ens.client_port(j),
                      3: "127.0.0.1:%d" % ens.client_port(j)}[i]
            lines.append(ens.line(j, host, "participant" if i == 3 else None, client))
        ens.write(i, lines)
    ens.launch((1, 2, 3))
    ens.serving((1, 2, 3))
    written = {}
    for i in (1, 2, 3):
        with ens.member_client(i) as c:
            c.ensure_path("/eq")
            for k in range(20):
                p = "/eq/m%d-%02d" % (i, k)
                c.create(p, p.encode())
                written[p] = p.encode()
    ens.serving((1, 2, 3))
    for i in (1, 2, 3):
        with ens.member_client(i) as c:
            got = {p: c.get_async(p) for p in written}
            missing = [p for p, r in got.items() if r.get(timeout=15)[0] != written[p]]
            assert not missing, "member %d lacks %s" % (i, missing)
            # each member's /zookeeper/config comes from its own file (as ZooKeeper's): the
            # same servers and ports, spelled as that member spells them
            text = c.get("/zookeeper/config")[0].decode()
            assert servers_of(text) == {j: (ens.peer_port(j), ens.base + 20 + j, "participant",
                                            ens.client_port(j)) for j in (1, 2, 3)}, text


# ------------------------------------------------------------ b. grow and shrink under load

class Writer(threading.Thread):
    """Creates sequential znodes under /load as fast as one client can, recording each
    acknowledged create; a create cut by a disconnect is not acknowledged and is not retried
    (a new one follows)."""

    def __init__(self, ens, ids):
        super().__init__(daemon=True)
        self.zk = ens.kclient(ids)
        self.zk.ensure_path("/load")
        self.acked = {}
        self.failed = {}
        self.stop_ev = threading.Event()
        self.error = None

    def run(self):
        k = 0
        try:
            while not self.stop_ev.is_set():
                data = b"w%06d" % k
                k += 1
                try:
                    path = self.zk.create_async("/load/n-", data, sequence=True).get(timeout=15)
                    self.acked[path] = data
                except (kex.ConnectionLoss, kex.SessionMovedError, kex.OperationTimeoutError,
                        kex.SessionExpiredError, kex.ConnectionClosedError) as e:
                    self.failed[type(e).__name__] = self.failed.get(type(e).__name__, 0) + 1
                    time.sleep(0.02)
                except Exception as e:  # a timeout of the async result included
                    self.failed[type(e).__name__] = self.failed.get(type(e).__name__, 0) + 1
                time.sleep(0.005)
        except BaseException as e:  # noqa: B902 - reported by the test
            self.error = e


class LockContender(threading.Thread):
    """Takes the kazoo Lock /lock again and again, holding it ~20 ms; `inside` (shared by the
    contenders, in this process) counts holders: more than one at a time is a violation. A
    contender that saw its session LOST while holding does not count (the lock may then be
    gone, as ZooKeeper's recipe says)."""

    def __init__(self, ens, ids, name, shared):
        super().__init__(daemon=True)
        self.name_ = name
        self.shared = shared
        self.zk = ens.kclient(ids)
        self.lost = threading.Event()
        self.zk.add_listener(lambda s: self.lost.set() if s == KazooState.LOST else None)
        self.lock = self.zk.Lock("/lock", name)
        self.cycles = 0
        self.errors = 0
        self.stop_ev = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.stop_ev.is_set():
                try:
                    if not self.lock.acquire(timeout=5):
                        continue
                except (kex.LockTimeout, kex.KazooException):
                    self.errors += 1
                    time.sleep(0.05)
                    continue
                self.lost.clear()
                with self.shared["mu"]:
                    self.shared["inside"] += 1
                    if self.shared["inside"] > 1:
                        self.shared["violations"].append((self.name_, time.monotonic()))
                time.sleep(0.02)
                with self.shared["mu"]:
                    self.shared["inside"] -= 1
                    if self.lost.is_set():
                        self.shared["lost_while_held"] += 1
                self.cycles += 1
                for _ in range(100):
                    try:
                        self.lock.release()
                        break
                    except kex.KazooException:
                        self.errors += 1
                        time.sleep(0.05)
        except BaseException as e:  # noqa: B902 - reported by the test
            self.error = e


def missing_on(ens, i, acked):
    """Acknowledged writes member i does not hold with their value (read from i alone)."""
    with ens.member_client(i) as c:
        gets = [(p, c.get_async(p)) for p in acked]
        bad = []
        for p, g in gets:
            try:
                if g.get(timeout=15)[0] != acked[p]:
                    bad.append(p)
            except kex.NoNodeError:
                bad.append(p)
        return bad


def test_grow_shrink_under_load(ens, capsys):
    """3 -> 5 (two joiners that follow as learners first) -> 3 (two of the first members, not
    the leader) -> 2 (the leader itself) while a writer and two lock contenders run; then every
    acknowledged write is on every remaining member, digests agree, the lock was never held
    twice; a restart of all keeps the last configuration (getConfig, conf, dynamic files)."""
    ens.setup(5)
    for i in (1, 2, 3):
        ens.write(i, [ens.line(j) for j in (1, 2, 3)])
    for i in (4, 5):
        ens.write(i, [ens.line(j) for j in (1, 2, 3, 4, 5)])
    ens.launch((1, 2, 3))
    ens.serving((1, 2, 3))
    ens.launch((4, 5))
    ens.serving((1, 2, 3, 4, 5), voters=(1, 2, 3))  # the joiners follow before they vote

    everyone = (1, 2, 3, 4, 5)
    admin = ens.kclient((1, 2, 3), auth=True)
    writer = Writer(ens, everyone)
    shared = {"mu": threading.Lock(), "inside": 0, "violations": [], "lost_while_held": 0}
    contenders = [LockContender(ens, everyone, "c%d" % k, shared) for k in (1, 2)]
    figures = {}
    progress = []

    def load_for(seconds):
        """Lets the load run; fails if no write was acknowledged meanwhile."""
        before = len(writer.acked)
        time.sleep(seconds)
        wait_for(lambda: len(writer.acked) > before, 30, "a write to be acknowledged")
        progress.append(len(writer.acked))

    def timed(what, **kw):
        t = time.monotonic()
        text, _ = reconfig(admin, **kw)
        figures[what] = time.monotonic() - t
        return text

    try:
        writer.start()
        for c in contenders:
            c.start()
        load_for(1.5)

        text = timed("add 4,5", joining=",".join(ens.line(j) for j in (4, 5)))
        assert sorted(servers_of(text)) == [1, 2, 3, 4, 5], text
        ens.serving(everyone)
        load_for(1.5)

        leader = ens.serving(everyone)
        gone = [i for i in (1, 2, 3) if i != leader][:2]
        close(admin)
        stay = [i for i in everyone if i not in gone]
        admin = ens.kclient(stay, auth=True)
        text = timed("remove %d,%d" % tuple(gone), leaving=",".join(map(str, gone)))
        assert sorted(servers_of(text)) == stay, text
        # removed members follow on outside the configuration, as ZooKeeper's do
        # (docs/membership.md): they serve and hold every write, but do not vote
        ens.serving(stay + gone, voters=stay)
        for i in gone:
            ens.stop(i)
        load_for(1.5)

        leader = ens.serving(stay)
        rest = [i for i in stay if i != leader]
        close(admin)
        admin = ens.kclient(rest, auth=True)
        text = timed("remove leader %d" % leader, leaving=str(leader))
        assert sorted(servers_of(text)) == rest, text
        ens.serving(rest)
        ens.stop(leader)
        load_for(1.5)
    finally:
        writer.stop_ev.set()
        for c in contenders:
            c.stop_ev.set()
        writer.join(30)
        for c in contenders:
            c.join(30)
    final = admin.get("/zookeeper/config")[0].decode()
    close(admin, writer.zk, *(c.zk for c in contenders))
    assert writer.error is None and all(c.error is None for c in contenders), \
        (writer.error, [c.error for c in contenders])

    ens.serving(rest)
    lost = {i: missing_on(ens, i, writer.acked) for i in rest}
    n_lost = len(set().union(*lost.values()))
    with capsys.disabled():
        print("\nmembership figures: reconfig durations %s; writes acknowledged %d, lost %d, "
              "not acknowledged %s; lock cycles %s (errors %s), held twice %d, "
              "acknowledged writes after each phase %s" % (
                  ", ".join("%s %.3f s" % kv for kv in figures.items()), len(writer.acked),
                  n_lost, writer.failed or 0, [c.cycles for c in contenders],
                  [c.errors for c in contenders], len(shared["violations"]), progress))
    assert n_lost == 0, "acknowledged writes lost: %s" % {i: v[:5] for i, v in lost.items()}
    assert not shared["violations"], "the lock was held twice: %s" % shared["violations"]
    assert shared["lost_while_held"] == 0, "a lock holder's session expired"
    assert all(c.cycles > 0 for c in contenders), [c.cycles for c in contenders]

    # a restart of all: the last configuration stays
    version = version_of(final)
    for i in rest:
        ens.stop(i)
    ens.launch(rest)
    ens.serving(rest)
    for i in rest:
        assert ens.config(i) == final, "member %d after the restart" % i
        assert ens.conf_membership(i) == final
        path, text = ens.dynamic_file(i)
        assert path.endswith(".dynamic.%x" % version), path
        assert servers_of(text) == servers_of(final) and version_of(text) == version, text
    assert missing_on(ens, rest[0], writer.acked) == []


# ---------------------------------------------------------------------- c. reconfig's errors

def raw_reconfig_error(port, auth=None, leaving="9"):
    """A reconfig (opcode 16) on a raw connection; returns the reply's error code."""
    def ustr(s):
        return struct.pack(">i", -1) if s is None else struct.pack(">i", len(s)) + s.encode()

    def frame(b):
        return struct.pack(">i", len(b)) + b

    def recv_frame(s):
        buf = b""
        while len(buf) < 4:
            buf += s.recv(4 - len(buf)) or pytest.fail("connection closed")
        (n,) = struct.unpack(">i", buf)
        body = b""
        while len(body) < n:
            body += s.recv(n - len(body)) or pytest.fail("connection closed")
        return body

    with socket.create_connection(("127.0.0.1", port), 10) as s:
        s.settimeout(10)
        s.sendall(frame(struct.pack(">iqiqi", 0, 0, 10000, 0, 16) + b"\0" * 16 + b"\0"))
        recv_frame(s)
        if auth:
            s.sendall(frame(struct.pack(">iii", -4, 100, 0) + ustr("digest") + ustr(auth)))
            assert struct.unpack(">iqi", recv_frame(s)[:16])[2] == 0
        s.sendall(frame(struct.pack(">ii", 1, 16) + ustr(None) + ustr(leaving) + ustr(None) +
                        struct.pack(">q", -1)))
        while True:
            xid, _, err = struct.unpack(">iqi", recv_frame(s)[:16])
            if xid == 1:
                return err


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_reconfig_errors(ens):
    """ReconfigDisabled (raw code and kazoo), NoAuth, BadArguments, BadVersion,
    NewConfigNoQuorum, as ZooKeeper answers them; a watch on /zookeeper/config fires."""
    three(ens, extra=["DigestAuthenticationProvider.superDigest=" + SUPER_DIGEST], n=6)
    assert raw_reconfig_error(ens.client_port(1), "super:test") == -123
    zk = ens.kclient((1, 2, 3), auth=True)
    with pytest.raises(ReconfigDisabledError):
        reconfig(zk, leaving="3")
    # kazoo 2.8 without the code: the connection thread dies, the request never completes
    del kex.EXCEPTIONS[-123]
    try:
        bare = ens.kclient((1,), auth=True)
        states = []
        bare.add_listener(states.append)
        pending = bare.reconfig_async(None, "3", None, -1)
        wait_for(lambda: KazooState.LOST in states, 10, "kazoo to give up its connection")
        assert not pending.ready()
        close(bare)
    finally:
        kex.EXCEPTIONS[-123] = ReconfigDisabledError
    close(zk)

    for i in (1, 2, 3):  # reconfigEnabled=true from now on, same data
        ens.stop(i)
        with open(ens.cfg_path(i), "a") as f:
            f.write("reconfigEnabled=true\n")
    ens.launch((1, 2, 3))
    ens.serving((1, 2, 3))
    zk = ens.kclient((1, 2, 3), auth=True)
    anon = ens.kclient((1, 2, 3))
    text0 = zk.get("/zookeeper/config")[0].decode()
    v0 = version_of(text0)

    with pytest.raises(kex.NoAuthError):
        reconfig(anon, leaving="3")
    # an id ZooKeeper parses (kazoo's own test_no_super_auth): NoAuth first, as ZooKeeper's
    # permission check comes after the arguments; with the right, ids over 255 are refused
    observer_999 = "server.999=0.0.0.0:1234:2345:observer;3456"
    with pytest.raises(kex.NoAuthError):
        reconfig(anon, joining=observer_999)
    with pytest.raises(kex.BadArgumentsError):
        reconfig(zk, joining=observer_999)
    for bad in (dict(joining="server.4=not-a-server"),
                dict(joining="server.4=127.0.0.1:%d:%d" % (ens.peer_port(4), ens.base + 24)),
                dict(leaving="2,3"),
                dict(leaving="1,2,3")):
        with pytest.raises(kex.BadArgumentsError):
            reconfig(zk, **bad)
    # grow 3 -> 6 with the joiners down: 3 synced voters of 6 are no quorum (3 -> 5 would be
    # accepted: 3 of 5 are, for ZooKeeper as for zabkeeper), and a replacement of two
    with pytest.raises(kex.NewConfigNoQuorumError):
        reconfig(zk, joining=",".join(ens.line(j) for j in (4, 5, 6)))
    with pytest.raises(kex.NewConfigNoQuorumError):
        reconfig(zk, joining=",".join(ens.line(j) for j in (4, 5)), leaving="2,3")
    assert zk.get("/zookeeper/config")[0].decode() == text0

    # a watch through another member than the one the reconfig goes to
    watcher = ens.kclient((2,))
    events = []
    watcher.get("/zookeeper/config", watch=events.append)
    text1, stat1 = reconfig(zk, leaving="9")  # not a member: a new version, nothing else
    v1 = version_of(text1)
    assert v1 > v0 and stat1.mzxid == v1 and servers_of(text1) == servers_of(text0)
    wait_for(lambda: events, 15, "the watch on /zookeeper/config to fire")
    assert events[0].type == EventType.CHANGED and events[0].path == "/zookeeper/config"
    wait_for(lambda: version_of(watcher.get("/zookeeper/config")[0].decode()) == v1, 15,
             "the watching member to show the new version")

    with pytest.raises(kex.BadVersionError):
        reconfig(zk, leaving="9", from_config=v0)
    text2, _ = reconfig(zk, leaving="9", from_config=v1)
    assert version_of(text2) > v1
    close(zk, anon, watcher)


# ------------------------------------------------------------------------------ d. observers

def test_observers(ens):
    """3 voters and 2 observers from the start: srvr says observer, writes through an observer
    work, the voters go on without both observers, which catch up when they return; an
    observer becomes a participant (a non-incremental reconfig) and back (incremental)."""
    ens.setup(5)
    lines = [ens.line(j) for j in (1, 2, 3)] + [ens.line(j, role="observer") for j in (4, 5)]
    for i in range(1, 6):
        ens.write(i, lines)
    ens.launch(range(1, 6))
    ens.serving(range(1, 6), voters=(1, 2, 3))
    for i in (4, 5):
        assert ens.mode(i) == "observer"
        assert ens.mntr(i)["zk_server_state"] == "observer"
    with ens.member_client(4) as c:
        c.ensure_path("/obs")
        for k in range(20):
            c.create("/obs/via4-%02d" % k, b"x")
    ens.serving(range(1, 6), voters=(1, 2, 3))
    with ens.member_client(1) as c:
        assert len(c.get_children("/obs")) == 20

    for i in (4, 5):
        ens.stop(i)
    with ens.member_client(2) as c:
        for k in range(200):
            c.create_async("/obs/without-%03d" % k, b"y")
        c.sync("/obs")
        assert len(c.get_children("/obs")) == 220
    ens.serving((1, 2, 3))
    ens.launch((4, 5))
    ens.serving(range(1, 6), voters=(1, 2, 3))
    for i in (4, 5):
        with ens.member_client(i) as c:
            assert len(c.get_children("/obs")) == 220

    zk = ens.kclient((1, 2, 3), auth=True)
    # non-incremental: the whole new list; then back incrementally
    text, _ = reconfig(zk, new_members=",".join(
        [ens.line(j) for j in (1, 2, 3, 4)] + [ens.line(5, role="observer")]))
    assert servers_of(text)[4][2] == "participant" and servers_of(text)[5][2] == "observer"
    ens.serving(range(1, 6), voters=(1, 2, 3, 4))
    assert ens.mode(4) in ("leader", "follower")
    text, _ = reconfig(zk, joining=ens.line(4, role="observer"))
    assert servers_of(text)[4][2] == "observer"
    ens.serving(range(1, 6), voters=(1, 2, 3))
    wait_for(lambda: ens.mode(4) == "observer", 15, "member 4 to observe again")
    with ens.member_client(4) as c:
        c.create("/obs/after", b"z")
    close(zk)


# ------------------------------------------------------------------------------- e. C client

def test_c_client(ens):
    """integ_reconfig_client: zoo_getconfig, zoo_wgetconfig and zoo_reconfig (NoAuth,
    BadArguments, add a running joiner, BadVersion, remove it) against the ensemble."""
    binary = os.environ.get("ZIT_RECONFIG_CLIENT")
    if not binary:
        found = sorted(p for p in (os.path.join(d, "tests", "integration", "integ_reconfig_client")
                                   for d in sorted(os.listdir(os.path.join(HERE, "..", "..")))
                                   if d.startswith("build"))
                       if os.path.exists(os.path.join(HERE, "..", "..", p)))
        if not found:
            pytest.skip("integ_reconfig_client is not built (set ZIT_RECONFIG_CLIENT)")
        binary = os.path.join(HERE, "..", "..", found[0])
    ens.setup(4)
    for i in (1, 2, 3):
        ens.write(i, [ens.line(j) for j in (1, 2, 3)])
    ens.write(4, [ens.line(j) for j in (1, 2, 3, 4)])
    ens.launch((1, 2, 3))
    ens.serving((1, 2, 3))
    ens.launch((4,))
    ens.serving((1, 2, 3, 4), voters=(1, 2, 3))
    p = subprocess.run([binary, ens.hosts((1, 2, 3)), ens.line(4), "4"], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0 and "PASS" in p.stdout, p.stdout + p.stderr
    ens.serving((1, 2, 3))


# ----------------------------------------------------- e. removed members follow on and rejoin
# (the rejoin case, its own ports: 28210..28239)

def test_rejoin_keeps_clients_of_members_spelling_hosts_differently(ens):
    """Members that spell a host differently (localhost / 127.0.0.1) form one ensemble; a
    reconfig that changes no address must not make any of them drop its links or clients."""
    ens.setup(3)
    for i in (1, 2, 3):
        ens.write(i, [ens.line(j, "localhost" if (i + j) % 2 else "127.0.0.1")
                      for j in (1, 2, 3)])
    ens.launch((1, 2, 3))
    ens.serving((1, 2, 3))
    clients, states = {}, {}
    for i in (1, 2, 3):
        clients[i] = ens.kclient((i,))
        states[i] = []
        clients[i].add_listener(states[i].append)
    offsets = {i: ens.log_size(i) for i in (1, 2, 3)}
    admin = ens.kclient((1, 2, 3), auth=True)
    text, _ = reconfig(admin, leaving="9")  # not a member: a new version, nothing else changes
    for i in (1, 2, 3):  # every member has applied the change
        wait_for(lambda: version_of(ens.config(i)) == version_of(text), 15,
                 "member %d to apply the new version" % i)
    ens.serving((1, 2, 3))
    close(admin, *clients.values())
    dropped = {i: s for i, s in states.items() if KazooState.SUSPENDED in s}
    logs = {i: [l for l in ens.log_since(i, offsets[i]).splitlines()
                if "lost the quorum" in l or "role looking" in l] for i in (1, 2, 3)}
    assert not dropped and not any(logs.values()), \
        "a reconfig that changes no address disconnected clients %s; logs: %s" % (dropped, logs)


def removed_follower(ens):
    """Three members, a follower removed; returns (its id, the others, a super client)."""
    leader = three(ens)
    f = [i for i in (1, 2, 3) if i != leader][0]
    rest = [i for i in (1, 2, 3) if i != f]
    admin = ens.kclient(rest, auth=True)
    reconfig(admin, leaving=str(f))
    ens.serving(rest)
    return f, rest, admin


def as_joiner(ens, f, rest, wipe):
    """Member f stopped and started with the current servers plus itself (its data wiped or
    kept); True if it serves within 15 s."""
    ens.stop(f)
    d = os.path.join(ens.dir, "m%d" % f)
    for name in os.listdir(d):
        if ".dynamic." in name:
            os.unlink(os.path.join(d, name))
    if wipe:
        shutil.rmtree(os.path.join(d, "data"))
    ens.write(f, [ens.line(j) for j in sorted(rest + [f])])
    ens.launch((f,))
    try:
        wait_for(lambda: ens.mode(f) is not None, 15, "member %d to serve as a joiner" % f)
        return True
    except pytest.fail.Exception:
        return False


def test_rejoin_removed_member_serves_and_is_readded_while_running(ens):
    """As ZooKeeper's removed server: it follows on outside the configuration, serving its
    clients the writes made after its removal, and votes again once added back."""
    f, rest, admin = removed_follower(ens)
    on_f = ens.kclient((f,))
    try:
        admin.create("/while-removed", b"x")
        wait_for(lambda: on_f.exists("/while-removed"), 15,
                 "the removed member %d to serve a write made after its removal" % f)
        assert f not in servers_of(ens.config(f)), "member %d still lists itself" % f
        reconfig(admin, joining=ens.line(f))
        wait_for(lambda: ens.mode(f) == "follower", 15, "re-added member %d to follow" % f)
        ens.serving((1, 2, 3))
    finally:
        close(admin, on_f)


def test_rejoin_removed_member_restarted_with_its_data(ens):
    f, rest, admin = removed_follower(ens)
    assert as_joiner(ens, f, rest, wipe=False), \
        "member %d, removed, then restarted with its data as a joiner, does not serve" % f
    reconfig(admin, joining=ens.line(f))
    close(admin)
    ens.serving((1, 2, 3))


def test_rejoin_reused_id_after_second_removal(ens):
    """Replacing a member under the same id twice (wiped each time)."""
    f, rest, admin = removed_follower(ens)
    assert as_joiner(ens, f, rest, wipe=True)
    reconfig(admin, joining=ens.line(f))
    ens.serving((1, 2, 3))
    reconfig(admin, leaving=str(f))
    ens.serving(rest)
    close(admin)
    assert as_joiner(ens, f, rest, wipe=True), \
        "member %d, wiped and started as a joiner after its second removal, does not serve" % f
