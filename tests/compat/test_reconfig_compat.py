"""Dynamic reconfiguration as clients see it (issue 13), against a 3-member ensemble of Apache
ZooKeeper 3.8 (QuorumPeerMain) or of zabkeeper, started the same way: one zoo.cfg per member
with reconfigEnabled=true and `server.N=127.0.0.1:peer:election;client` lines, and the super
digest of super:test as a JVM property on the command line
(-Dzookeeper.DigestAuthenticationProvider.superDigest=..., which zabkeeper takes too).

Environment (ctest sets them): ZK_SERVER_KIND zookeeper|zabkeeper, ZK_TEST_PORT (base: member i
has client port base+i, peer base+10+i, election base+20+i; ids 1..6 are used), ZK_TEST_DIR,
ZK_TICK_TIME, ZABKEEPER_BIN.

The tests share one ensemble and run in file order. What ZooKeeper 3.8 answers is the
specification: both servers must pass every case (no differences are left).

kazoo 2.8 does not know error -123 (ReconfigDisabled): its connection thread would die on it
and the call never return, so the code is registered here and every call has a timeout.
"""
import os
import re
import shutil
import socket

import pytest

from conftest import wait_for
from serverprocs import Members, quorum_peer_main
from zkwire import close_clients, four_letter_or_empty

kazoo_client = pytest.importorskip("kazoo.client")
from kazoo import exceptions as kex  # noqa: E402
from kazoo.protocol.states import EventType  # noqa: E402

KIND = os.environ.get("ZK_SERVER_KIND", "zookeeper")
BASE = int(os.environ.get("ZK_TEST_PORT", "28150"))
SUPER_DIGEST = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="  # super:test
SUPER_AUTH = [("digest", "super:test")]
CALL_TIMEOUT = 30.0
SERVING = ("leader", "follower")
ZAB = KIND == "zabkeeper"

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

if -123 not in kex.EXCEPTIONS:  # `in` does not create the entry of the defaultdict
    @kex._zookeeper_exception(-123)
    class ReconfigDisabledError(kex.ZookeeperError):
        """ZooKeeper's ReconfigDisabled (-123), unknown to kazoo 2.8."""


def line(j, role=None):
    return "server.%d=127.0.0.1:%d:%d%s;%d" % (j, BASE + 10 + j, BASE + 20 + j,
                                                ":" + role if role else "", BASE + j)


def canonical(j):
    """How both servers write server j in /zookeeper/config."""
    return "server.%d=127.0.0.1:%d:%d:participant;0.0.0.0:%d" % (j, BASE + 10 + j, BASE + 20 + j,
                                                                  BASE + j)


def version_of(text):
    m = re.search(r"^version=([0-9a-f]+)$", text, re.M)
    assert m, "no version= line in %r" % text
    return int(m.group(1), 16)


def ids_of(text):
    return sorted(int(m) for m in re.findall(r"^server\.(\d+)=", text, re.M))


def fourlw(i, word):
    return four_letter_or_empty(BASE + i, word, 2)


def mode(i):
    m = re.search(r"^Mode: (\S+)", fourlw(i, "srvr"), re.M)
    return m.group(1) if m else None


class Cluster(Members):
    """Members of one kind, each with its own zoo.cfg, data and log under top/m<i>."""

    def configure(self, i, servers, wipe=False):
        """(Re)writes member i's zoo.cfg with these server ids; wipe: its data and dynamic
        files go first (a fresh joiner)."""
        d = self.dir(i)
        if wipe:
            shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            if ".dynamic." in f or f.endswith(".bak"):
                os.unlink(os.path.join(d, f))
        self.write_config(i, [
            "tickTime=" + os.environ.get("ZK_TICK_TIME", "500"), "initLimit=10", "syncLimit=5",
            "dataDir=" + self.data(i), "maxClientCnxns=0", "4lw.commands.whitelist=*",
            "admin.enableServer=false", "reconfigEnabled=true"] + [line(j) for j in servers])

    def start(self, i):
        prop = "-Dzookeeper.DigestAuthenticationProvider.superDigest=" + SUPER_DIGEST
        if ZAB:
            self.launch(i, [os.environ["ZABKEEPER_BIN"], prop, self.cfg(i)])
        else:
            self.launch(i, quorum_peer_main(self.cfg(i), [prop]))

    def died(self):
        return [i for i, p in self.procs.items() if p.poll() is not None]

    def rejoin(self, i, servers):
        """The joiner procedure of both servers' manuals: member i, stopped, starts afresh with
        the current servers plus itself and follows as a learner; returns once it serves."""
        self.stop(i)
        self.configure(i, sorted(set(servers) | {i}), wipe=True)
        self.start(i)
        wait_for(lambda: mode(i) in SERVING, 120, "member %d to follow as a joiner" % i)


def client(ids, auth=False):
    kw = dict(timeout=10.0, connection_retry=dict(max_tries=-1, delay=0.05, max_delay=0.5))
    if auth:
        kw["auth_data"] = SUPER_AUTH
    c = kazoo_client.KazooClient(hosts=",".join("127.0.0.1:%d" % (BASE + i) for i in ids), **kw)
    c.start(timeout=30)
    return c


def reconfig(zk, joining=None, leaving=None, new_members=None, from_config=-1):
    data, stat = zk.reconfig_async(joining, leaving, new_members, from_config).get(
        timeout=CALL_TIMEOUT)
    return data.decode(), stat


def read_config(zk):
    """/zookeeper/config through zk; None while zk is disconnected."""
    try:
        return zk.get_async("/zookeeper/config").get(timeout=10)[0].decode()
    except (kex.ConnectionLoss, kex.SessionExpiredError, kex.ConnectionClosedError):
        return None
    except Exception as e:  # the async result timed out
        if "Timeout" in type(e).__name__:
            return None
        raise


def leader_of(ids, timeout=60):
    def find():
        modes = {i: mode(i) for i in ids}
        leaders = [i for i, m in modes.items() if m == "leader"]
        return leaders[0] if len(leaders) == 1 and all(
            m in SERVING for m in modes.values()) else None
    return wait_for(find, timeout, "one leader among %s, the others following" % list(ids))


def config_everywhere(ids, text, timeout=30):
    """Waits until each of ids serves `text` as /zookeeper/config."""
    for i in ids:
        c = client([i])
        try:
            wait_for(lambda: c.get("/zookeeper/config")[0].decode() == text, timeout,
                     "member %d to show %r" % (i, text))
        finally:
            close_clients(c)


@pytest.fixture(scope="module")
def ens():
    if not ZAB and not (shutil.which("java") and os.path.exists("/usr/share/java/zookeeper.jar")):
        pytest.skip("Apache ZooKeeper (java + /usr/share/java/zookeeper.jar) is not installed")
    for port in [BASE + k + j for k in (0, 10, 20) for j in range(1, 7)]:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            pytest.fail("port %d is already in use by another process" % port)
        except OSError:
            pass
    top = os.environ.get("ZK_TEST_DIR") or os.path.join("/tmp", "reconfig-compat-" + KIND)
    shutil.rmtree(top, ignore_errors=True)
    c = Cluster(top)
    try:
        for i in (1, 2, 3):
            c.configure(i, (1, 2, 3))
            c.start(i)
        leader_of((1, 2, 3), timeout=120)
        yield c
        assert not c.died(), "members %s died; see %s/m*/server.log" % (c.died(), top)
    finally:
        for i in list(c.procs):
            c.stop(i)


@pytest.fixture
def admin(ens):
    zk = client((1, 2, 3), auth=True)
    yield zk
    close_clients(zk)


# ------------------------------------------------------------------------------ getConfig

def test_getconfig_format(ens):
    """/zookeeper/config: the server lines in id order with role and client address, then
    version=<hex>; world-readable only; conf prints it under membership:."""
    zk = client((1,))
    data, stat = zk.get("/zookeeper/config")
    acl, _ = zk.get_acls("/zookeeper/config")
    close_clients(zk)
    text = data.decode()
    lines = text.split("\n")
    assert lines[:3] == [canonical(j) for j in (1, 2, 3)], text
    assert len(lines) == 4 and re.fullmatch(r"version=[0-9a-f]+", lines[3]), text
    assert stat.mzxid == version_of(text) and stat.version == -1
    assert [(a.perms, a.id.scheme, a.id.id) for a in acl] == [(1, "world", "anyone")]
    assert "membership: \n" + text in fourlw(1, "conf")


def test_config_version_set_when_ensemble_forms(ens):
    zk = client((1,))
    text, stat = zk.get("/zookeeper/config")
    close_clients(zk)
    version = version_of(text.decode())
    assert version != 0 and version >> 32 >= 1 and stat.mzxid == version
    for i in (1, 2, 3):
        with open(os.path.join(ens.dir(i), "zoo.cfg")) as f:
            assert "dynamicConfigFile=" in f.read()


# ---------------------------------------------------------------------------------- errors

def test_noauth(ens):
    zk = client((1, 2, 3))
    before = zk.get("/zookeeper/config")[0]
    with pytest.raises(kex.NoAuthError):
        reconfig(zk, leaving="3")
    with pytest.raises(kex.NoAuthError):
        reconfig(zk, joining=line(4))
    assert zk.get("/zookeeper/config")[0] == before
    close_clients(zk)


def test_acl_checked_after_arguments(ens):
    zk = client((1, 2, 3))
    try:
        with pytest.raises(kex.BadArgumentsError):
            reconfig(zk, joining="server.4=not-a-server")
        with pytest.raises(kex.BadVersionError):
            reconfig(zk, leaving="3", from_config=0x7777)
    finally:
        close_clients(zk)


def test_bad_arguments(ens, admin):
    before = admin.get("/zookeeper/config")[0]
    for bad in (dict(joining="server.4=not-a-server"),
                dict(joining="server.4=127.0.0.1:%d:%d" % (BASE + 14, BASE + 24)),  # no client
                dict(leaving="2,3"),
                dict(leaving="1,2,3")):
        with pytest.raises(kex.BadArgumentsError):
            reconfig(admin, **bad)
    assert admin.get("/zookeeper/config")[0] == before


def drop_server_4(zk):
    """Takes out a server.4 a test's reconfig let in."""
    if 4 in ids_of(zk.get("/zookeeper/config")[0].decode()):
        reconfig(zk, leaving="4")


def test_same_peer_and_election_port(ens, admin):
    try:
        with pytest.raises(kex.BadArgumentsError):
            reconfig(admin, joining="server.4=127.0.0.1:%d:%d;%d" % (BASE + 14, BASE + 14,
                                                                     BASE + 4))
    finally:
        drop_server_4(admin)


def test_duplicate_loopback_address_accepted(ens, admin):
    try:
        text, _ = reconfig(admin, joining="server.4=127.0.0.1:%d:%d;%d" % (BASE + 11, BASE + 24,
                                                                          BASE + 4))
        assert ids_of(text) == [1, 2, 3, 4]
    finally:
        drop_server_4(admin)


def test_leaving_not_a_number(ens, admin):
    with pytest.raises(kex.MarshallingError):
        reconfig(admin, leaving="abc")


def test_new_config_no_quorum(ens, admin):
    """The new voters must hold a quorum of members connected and synced with the leader: 3 of 6
    are not, nor 1 of 3 after replacing two; 3 of 5 are (growing 3 -> 5 with both joiners down
    is accepted), and shrinking back works."""
    text0 = admin.get("/zookeeper/config")[0].decode()
    with pytest.raises(kex.NewConfigNoQuorumError):
        reconfig(admin, joining=",".join(line(j) for j in (4, 5, 6)))
    with pytest.raises(kex.NewConfigNoQuorumError):
        reconfig(admin, joining=",".join(line(j) for j in (4, 5)), leaving="2,3")
    assert admin.get("/zookeeper/config")[0].decode() == text0
    text, _ = reconfig(admin, joining=",".join(line(j) for j in (4, 5)))
    assert ids_of(text) == [1, 2, 3, 4, 5]
    text, _ = reconfig(admin, leaving="4,5")
    assert text.split("\n")[:-1] == [canonical(j) for j in (1, 2, 3)]
    leader_of((1, 2, 3))


def test_watch_and_bad_version(ens, admin):
    """A getConfig watch (through another member) fires on a reconfig; curConfigId must be the
    current version: a stale one is BadVersion."""
    watcher = client((2,))
    events = []
    text0 = watcher.get("/zookeeper/config", watch=events.append)[0].decode()
    v0 = version_of(text0)
    text1, stat1 = reconfig(admin, leaving="9", from_config=v0)  # not a member: a new version
    v1 = version_of(text1)
    assert v1 > v0 and stat1.mzxid == v1 and ids_of(text1) == ids_of(text0)
    wait_for(lambda: events, 15, "the watch on /zookeeper/config to fire")
    assert events[0].type == EventType.CHANGED and events[0].path == "/zookeeper/config"
    with pytest.raises(kex.BadVersionError):
        reconfig(admin, leaving="9", from_config=v0)
    config_everywhere((1, 2, 3), text1)
    close_clients(watcher)


# ------------------------------------------------------------------------ removing members

def test_remove_and_readd_member(ens):
    """A follower leaves (the others serve and write on), rejoins as a fresh joiner (stopped,
    started afresh with the current servers plus itself) and is added back: it votes again
    and holds every write."""
    leader = leader_of((1, 2, 3))
    f = [i for i in (1, 2, 3) if i != leader][0]
    rest = [i for i in (1, 2, 3) if i != f]
    zk = client(rest, auth=True)
    try:
        text, _ = reconfig(zk, leaving=str(f))
        assert text.split("\n")[:-1] == [canonical(j) for j in rest]
        config_everywhere(rest, text)
        zk.create("/removed-%d" % f, b"x")
        ens.rejoin(f, rest)
        text, _ = reconfig(zk, joining=line(f))
        assert text.split("\n")[:-1] == [canonical(j) for j in (1, 2, 3)]
        zk.create("/readded-%d" % f, b"y")
        wait_for(lambda: mode(f) == "follower", 30, "member %d to vote again" % f)
        config_everywhere((1, 2, 3), text)
        c = client([f])
        c.sync("/")
        assert c.exists("/removed-%d" % f) and c.exists("/readded-%d" % f)
        close_clients(c)
    finally:
        close_clients(zk)


def test_remove_leader(ens):
    """The leader leaves: the change commits, the others elect a new leader and serve; the old
    leader rejoins as a fresh joiner and is added back."""
    leader = leader_of((1, 2, 3))
    rest = [i for i in (1, 2, 3) if i != leader]
    zk = client(rest, auth=True)
    try:
        try:
            reconfig(zk, leaving=str(leader))
        except kex.ConnectionLoss:
            pass  # ZooKeeper's followers elect at once, dropping their clients: the answer may
            # be lost (the outcome of a call cut by ConnectionLoss is unknown; read it back)
        leader_of(rest)
        text = wait_for(lambda: read_config(zk), 30, "the configuration to be readable")
        assert text.split("\n")[:-1] == [canonical(j) for j in rest]
        zk.create("/after-leader-%d" % leader, b"x")
        ens.rejoin(leader, rest)
        text, _ = reconfig(zk, joining=line(leader))
        assert ids_of(text) == [1, 2, 3]
        leader_of((1, 2, 3))
    finally:
        close_clients(zk)


# ------------------------------------- what a removed member does (last: may leave it broken)

def test_removed_member_follows_and_readd_without_restart(ens):
    leader = leader_of((1, 2, 3))
    f = [i for i in (1, 2, 3) if i != leader][0]
    rest = [i for i in (1, 2, 3) if i != f]
    zk = client(rest, auth=True)
    on_f = client([f])
    try:
        reconfig(zk, leaving=str(f))
        zk.create("/while-removed", b"x")
        wait_for(lambda: on_f.connected and on_f.exists("/while-removed"), 10,
                 "the removed member to keep serving its client")
        reconfig(zk, joining=line(f))
        wait_for(lambda: mode(f) == "follower", 10, "member %d to vote again" % f)
    finally:
        close_clients(zk, on_f)
