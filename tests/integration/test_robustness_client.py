"""Issue 10, "no request takes the ensemble down", client side: hostile or odd client requests to
a real 3-member ensemble (deploy/localcluster). For each case every member keeps running (same
pids), a leader serves, and every acknowledged write (made before and after the input) is on
every member with equal digests, also after a restart of all members (ensemble.check_survival).

Cases: container/TTL reaping (internal txns of session 0) also through Curator's
InterProcessMutex; createSession (-10) as a request; ConnectRequests resuming impossible session
ids; a multiRead whose reply would be 300 MB; 87,000-entry ACLs; a persistent recursive watch
that must not leak events of unreadable nodes; connections that never finish their handshake.
The ensemble checks containers every second (znode.container.checkIntervalMs=1000).

Run by ctest (integ_robustness_client) or by hand:
/usr/bin/python3 -m pytest tests/integration/test_robustness_client.py
"""
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "compat"))
from ensemble import (Ensemble, Ledger, check_survival, close_times, wait_for,  # noqa: E402
                      zxid_epoch)
import zkwire  # noqa: E402
from zkwire import Conn, ustring  # noqa: E402

pytest.importorskip("kazoo.client")
from kazoo.exceptions import NoNodeError  # noqa: E402
from kazoo.security import make_digest_acl  # noqa: E402

TICK_S = 0.5  # ZABKEEPER_TICK_TIME set by ctest


@pytest.fixture(scope="module")
def ens():
    e = Ensemble(os.path.join(HERE, "..", "..", "cluster", "integ-robust-client"), 25430)
    e.up(3, config=["znode.container.checkIntervalMs=1000"])  # reaping within seconds
    yield e
    e.down()


@pytest.fixture(scope="module")
def zk(ens):
    c = ens.client()
    c.ensure_path("/rob")
    yield c
    c.stop()
    c.close()


@pytest.fixture(scope="module")
def ledger(ens, zk):
    return Ledger(ens, zk, "/ledger")


def followers(ens):
    leader = ens.leader()
    return leader, [i for i in range(1, ens.n + 1) if i != leader]


def absent_everywhere(ens, paths):
    """True when no member has any of paths (each member read alone)."""
    for i in range(1, ens.n + 1):
        with ens.member_client(i) as c:
            if any(c.exists(p) for p in paths):
                return False
    return True


def wait_absent_everywhere(ens, paths, timeout, what):
    t0 = time.monotonic()
    deadline = t0 + timeout
    while True:
        if absent_everywhere(ens, paths):
            return time.monotonic() - t0
        if time.monotonic() > deadline:
            left = {i: [p for p in paths if ens_exists(ens, i, p)] for i in range(1, ens.n + 1)}
            pytest.fail("%s: still present after %.0fs: %s" % (what, timeout, left))
        time.sleep(0.2)


def ens_exists(ens, i, path):
    with ens.member_client(i) as c:
        return c.exists(path) is not None


def session(port, timeout_ms=10000):
    c = Conn(port)
    c.handshake(timeout_ms)
    return c


# ---- 1. containers and TTL nodes, reaped by the leader with internal txns of session 0

def test_container_and_ttl_nodes_are_reaped(ens, zk, ledger):
    pids = ens.pids()
    ledger.write("reap-before")
    zkwire.kazoo_create_container_async(zk, "/locks").get(10)
    zk.create("/locks/a")
    zk.delete("/locks/a")  # emptied after having a child: a reaping candidate
    zkwire.kazoo_create_ttl_async(zk, "/rob/ttl", b"t", 1000).get(10)
    # controls: a container that still has a child and a TTL node with a child stay
    zkwire.kazoo_create_container_async(zk, "/keep").get(10)
    zk.create("/keep/child")
    zkwire.kazoo_create_ttl_async(zk, "/rob/ttl-parent", b"t", 1000).get(10)
    zk.create("/rob/ttl-parent/child")
    took = wait_absent_everywhere(ens, ["/locks", "/rob/ttl"], 15, "container/TTL reaping")
    print("REAPED on every member within %.1fs" % took)
    check_survival(ens, ledger, "reap", pids)
    assert absent_everywhere(ens, ["/locks", "/rob/ttl"]), "a reaped node came back"
    for i in range(1, ens.n + 1):
        assert ens_exists(ens, i, "/keep/child") and ens_exists(ens, i, "/rob/ttl-parent/child")
    zk.delete("/keep/child")
    zk.delete("/rob/ttl-parent/child")
    wait_absent_everywhere(ens, ["/keep", "/rob/ttl-parent"], 15, "reaping after the restart")


CURATOR_JARS = ["curator-recipes", "curator-framework", "curator-client", "zookeeper",
                "zookeeper-jute", "guava", "slf4j-api", "slf4j-nop"]


def curator_classpath():
    """The Debian jars (libcurator-recipes-java, libzookeeper-java, ...), or None."""
    jars = ["/usr/share/java/%s.jar" % j for j in CURATOR_JARS]
    if not shutil.which("javac") or not shutil.which("java"):
        return None
    if not all(os.path.exists(j) for j in jars):
        return None
    return ":".join(jars)


def test_curator_mutex_containers_are_reaped(ens, zk, ledger):
    cp = curator_classpath()
    if cp is None:
        pytest.skip("SKIPPED: javac or the Curator/ZooKeeper jars are missing "
                    "(Debian libcurator-recipes-java, libzookeeper-java, libslf4j-java)")
    pids = ens.pids()
    ledger.write("curator-before")
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["javac", "-cp", cp, "-d", d, os.path.join(HERE, "CuratorMutex.java")],
                       check=True, timeout=120)
        p = subprocess.run(["java", "-cp", cp + ":" + d, "CuratorMutex", ens.hosts(),
                            "/curator/locks/m", "3"], capture_output=True, text=True,
                           timeout=120)
    assert p.returncode == 0 and "acquired 3" in p.stdout, p.stdout + p.stderr
    # InterProcessMutex made /curator/locks/m and its parents as containers; once the lock
    # nodes are gone they are reaped, innermost first, one check interval apart
    took = wait_absent_everywhere(ens, ["/curator"], 20, "Curator's lock containers reaped")
    print("CURATOR containers reaped on every member within %.1fs" % took)
    check_survival(ens, ledger, "curator", pids)


# ---- 2. createSession (opcode -10) as a request after the handshake

@pytest.mark.parametrize("bogus_timeout", [0, 2**31 - 1])
def test_create_session_request_is_refused(ens, zk, ledger, bogus_timeout):
    pids = ens.pids()
    ledger.write("createsession-before")
    _, fols = followers(ens)
    c = session(ens.client_port(fols[0]), 2000)
    assert c.timeout == 2000
    eph = "/rob/cs-%d" % bogus_timeout
    _, _, err, _ = c.call(1, zkwire.OP_CREATE, zkwire.create_body(eph, b"", 1))  # ephemeral
    assert err == 0
    zk.sync(eph)  # zk may be on another member: let it see the ephemeral first
    assert zk.exists(eph)
    body = struct.pack(">i", bogus_timeout) + zkwire.buffer(b"\0" * 16)
    _, _, err, _ = c.call(2, zkwire.OP_CREATE_SESSION, body)
    assert err == zkwire.ZBADARGUMENTS, err
    _, _, err, _ = c.call(3, zkwire.OP_EXISTS, zkwire.path_watch_body(eph))
    assert err == 0, "the connection stopped working after the refusal"
    t_last = time.monotonic()  # from now on the client neither pings nor sends anything
    # the session keeps its negotiated 2 s: it expires, its ephemeral goes, its connection closes
    wait_for(lambda: zk.exists(eph) is None, 10, "the session to expire")
    took = time.monotonic() - t_last
    print("SESSION expired %.2fs after its last request (negotiated 2.0s)" % took)
    assert 2.0 - TICK_S <= took <= 2.0 + 3 * TICK_S + 1.0, took
    assert c.wait_closed(5), "the expired session's connection stayed open"
    c.close()
    check_survival(ens, ledger, "createsession-%d" % bogus_timeout, pids)


# ---- 3. ConnectRequests resuming impossible sessions

def test_connect_resuming_impossible_sessions(ens, zk, ledger):
    pids = ens.pids()
    ledger.write("resume-before")
    for i in range(1, ens.n + 1):
        for sid in (-2**63, -1):  # 0x8000000000000000, 0xffffffffffffffff
            c = Conn(ens.client_port(i))
            to, got, pw = c.handshake(5000, sid, b"\x07" * 16)
            assert (to, got, pw) == (0, 0, b"\0" * 16), \
                "member %d, session 0x%x: %r" % (i, sid & (2**64 - 1), (to, got, pw))
            assert c.wait_closed(5), "member %d kept an expired-session connection" % i
            c.close()
        # session 0 is no resumption: the protocol's "new session"; never the internal session 0
        c = Conn(ens.client_port(i))
        to, got, _ = c.handshake(5000, 0, b"\x07" * 16)
        assert to == 5000 and got != 0
        assert c.ping_ok()
        c.call(9, zkwire.OP_CLOSE)
        c.close()
    check_survival(ens, ledger, "resume", pids)


# ---- 8. a multiRead whose reply would be 300 MB

BIG = 1000000  # under jute.maxbuffer (1 048 575) with the request around it


def test_multiread_of_a_huge_reply(ens, zk, ledger):
    pids = ens.pids()
    ledger.write("multiread-before")
    if not zk.exists("/rob/big"):
        zk.create("/rob/big", b"B" * BIG)
    leader = ens.leader()
    port = ens.client_port(leader)
    req = zkwire.multiread_body([(zkwire.OP_GETDATA, zkwire.path_watch_body("/rob/big"))] * 300)
    assert 5000 <= len(req) <= 8000
    hwm0 = ens.rss_kb(leader, "VmHWM")
    c = session(port)
    c.send(zkwire.request(1, zkwire.OP_MULTIREAD, req))
    try:
        rxid, _, err, body = c.reply()
        assert rxid == 1 and err == zkwire.ZMARSHALLINGERROR and body == b"", (rxid, err, len(body))
        outcome = "MarshallingError"
    except zkwire.Closed:
        outcome = "closed"
    c.close()
    # ten at once, never read: the member must answer (or drop) each without building it
    before = int(ens.mntr(leader)["zk_packets_received"])
    c = session(port)
    c.send(b"".join(zkwire.request(10 + k, zkwire.OP_MULTIREAD, req) for k in range(10)))
    wait_for(lambda: int(ens.mntr(leader).get("zk_packets_received", 0)) >= before + 11, 10,
             "the member to read the ten multiReads")
    # other clients of that member are served meanwhile
    with ens.member_client(leader) as other:
        t0 = time.monotonic()
        assert other.get("/rob/big")[1].dataLength == BIG
        served = time.monotonic() - t0
    hwm1 = ens.rss_kb(leader, "VmHWM")
    c.close()
    print("MULTIREAD: %s; leader VmHWM %d kB -> %d kB (+%d kB); another client served in "
          "%.0f ms" % (outcome, hwm0, hwm1, hwm1 - hwm0, served * 1000))
    assert hwm1 - hwm0 < 64 * 1024, "the member's peak RSS grew by %d kB" % (hwm1 - hwm0)
    assert served < 1.0
    check_survival(ens, ledger, "multiread", pids)


# ---- 8b. huge children lists asked for by many connections that never read

def reply_header(c):
    """The length, xid, zxid and err of the next reply, without reading its body."""
    c.sock.settimeout(30)
    head = b""
    while len(head) < 20:
        d = c.sock.recv(20 - len(head))
        if not d:
            raise zkwire.Closed("eof")
        head += d
    return struct.unpack(">iiqi", head)


KIDS, KID_NAME = 10000, 2000  # a getChildren reply of 20 MB (go-zookeeper's TestChildren):
CONNS = 50                    # over jute.maxbuffer; 50 of them would queue 1 GB


def test_huge_children_lists_for_connections_that_never_read(ens, zk, ledger):
    """One getChildren over jute.maxbuffer is answered (as by ZooKeeper, which bounds only what
    it reads), but replies that large join the member's client output only while it stays
    within 256 MiB: past that the read gets MarshallingError, so 50 connections (under
    maxClientCnxns) asking for 20 MB each and reading nothing do not make it grow by 1 GB
    (the kernel's socket buffers take a few MB of each)."""
    pids = ens.pids()
    ledger.write("kids-before")
    zk.ensure_path("/rob/kids")
    for start in range(0, KIDS, 500):
        for r in [zk.create_async("/rob/kids/%05d-%s" % (i, "k" * (KID_NAME - 6)))
                  for i in range(start, min(KIDS, start + 500))]:
            r.get(timeout=30)
    leader = ens.leader()
    port = ens.client_port(leader)
    c = session(port)
    c.send(zkwire.request(1, zkwire.OP_GETCHILDREN, zkwire.path_watch_body("/rob/kids")))
    length, rxid, _, err = reply_header(c)
    assert (rxid, err) == (1, 0) and length > KIDS * KID_NAME, (rxid, err, length)
    c.close()
    hwm0 = ens.rss_kb(leader, "VmHWM")
    conns = [session(port) for _ in range(CONNS)]
    for k, s in enumerate(conns):
        s.send(zkwire.request(10 + k, zkwire.OP_GETCHILDREN, zkwire.path_watch_body("/rob/kids")))
    with ens.member_client(leader) as other:  # the member answers others meanwhile
        t0 = time.monotonic()
        assert other.exists("/rob/kids").numChildren == KIDS
        served = time.monotonic() - t0
    hwm1 = ens.rss_kb(leader, "VmHWM")
    outcomes = {}
    for s in conns:
        err = reply_header(s)[3]
        outcomes[err] = outcomes.get(err, 0) + 1
        s.close()
    print("KIDS: %s; leader VmHWM %d kB -> %d kB (+%d kB); another client served in %.0f ms" %
          (outcomes, hwm0, hwm1, hwm1 - hwm0, served * 1000))
    assert set(outcomes) <= {0, zkwire.ZMARSHALLINGERROR} and outcomes.get(0, 0) >= 8, outcomes
    assert outcomes.get(zkwire.ZMARSHALLINGERROR, 0) >= 1, outcomes
    assert hwm1 - hwm0 < 320 * 1024, "the member's peak RSS grew by %d kB" % (hwm1 - hwm0)
    assert served < 2.0
    zk.delete("/rob/kids", recursive=True)
    check_survival(ens, ledger, "kids", pids)


# ---- 9. ACLs of 87,000 entries

class LatencyProbe:
    """A writer that keeps setting one node while the hostile requests run; records latencies."""

    def __init__(self, ens, path):
        self.c = ens.client()
        self.c.ensure_path(path)
        self.path, self.lat, self.stop = path, [], threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        n = 0
        while not self.stop.is_set():
            t0 = time.monotonic()
            self.c.set(self.path, str(n).encode())
            self.lat.append(time.monotonic() - t0)
            n += 1
            time.sleep(0.01)

    def finish(self):
        self.stop.set()
        self.t.join(20)
        self.c.stop()
        self.c.close()
        return max(self.lat), len(self.lat)


def test_huge_acls_are_refused_quickly(ens, zk, ledger):
    pids = ens.pids()
    ledger.write("acl-before")
    zk.ensure_path("/rob/acl-target")
    leader, fols = followers(ens)
    epoch0 = zxid_epoch(ens.converged()[0])
    # 12 bytes an entry (empty scheme and id) so 87,000 fit in one jute.maxbuffer frame; and
    # 35,000 well-formed ip entries, each valid on its own
    empty = zkwire.acl_vector([(31, "", "")] * 87000)
    ips = zkwire.acl_vector([(31, "ip", "10.%d.%d.%d" % (k >> 16, (k >> 8) & 255, k & 255))
                             for k in range(35000)])
    probe = LatencyProbe(ens, "/rob/latency")
    wait_for(lambda: len(probe.lat) >= 5, 10, "the latency probe to run")
    took = []
    try:
        for member in (leader, fols[0]):
            c = session(ens.client_port(member))
            for k, (op, body) in enumerate([
                    (zkwire.OP_CREATE, zkwire.create_body("/rob/acl-a", b"", 0, empty)),
                    (zkwire.OP_CREATE, zkwire.create_body("/rob/acl-b", b"", 0, ips)),
                    (zkwire.OP_SETACL, zkwire.setacl_body("/rob/acl-target", empty)),
                    (zkwire.OP_SETACL, zkwire.setacl_body("/rob/acl-target", ips))]):
                assert len(body) + 12 <= 0xFFFFF
                t0 = time.monotonic()
                _, _, err, _ = c.call(k + 1, op, body)
                took.append(time.monotonic() - t0)
                assert err == zkwire.ZINVALIDACL, (member, k, err)
            c.close()
        time.sleep(0.2)  # a few more probe writes after the last refusal
    finally:
        worst, n = probe.finish()
    print("ACL: 8 refusals (InvalidACL), slowest %.0f ms; concurrent writer: %d writes, worst "
          "latency %.0f ms" % (max(took) * 1000, n, worst * 1000))
    assert max(took) < 1.0 and worst < 1.0
    assert ens.leader() == leader and zxid_epoch(ens.converged()[0]) == epoch0, "an election"
    for i in range(1, ens.n + 1):
        with ens.member_client(i) as c:
            assert c.get_acls("/rob/acl-target")[0][0].id.scheme == "world"
            assert not c.exists("/rob/acl-a") and not c.exists("/rob/acl-b")
    check_survival(ens, ledger, "acl", pids)


# ---- 10. a persistent recursive watch does not leak events of nodes it may not read

def test_recursive_watch_skips_unreadable_nodes(ens, zk, ledger):
    pids = ens.pids()
    ledger.write("watch-before")
    leader, fols = followers(ens)
    alice_acl = [make_digest_acl("alice", "secret", all=True)]
    alice = ens.client([fols[1]], auth_data=[("digest", "alice:secret")])
    try:
        alice.create("/rw/secret", b"s", acl=alice_acl, makepath=True)
        alice.create("/rw/public", b"p")
        w = session(ens.client_port(fols[0]))  # no auth: may not read /rw/secret/*
        _, _, err, _ = w.call(1, zkwire.OP_ADDWATCH,
                              zkwire.addwatch_body("/", zkwire.ADDWATCH_PERSISTENT_RECURSIVE))
        assert err == 0
        alice.create("/rw/secret/x", b"1", acl=alice_acl)
        alice.set("/rw/secret/x", b"2")
        alice.set("/rw/secret", b"s2")
        alice.delete("/rw/secret/x")
        alice.create("/rw/public/y", b"1")
        alice.set("/rw/public/y", b"2")
        alice.delete("/rw/public/y")
        # the public events come after the secret ones on the same connection, in order
        last = (zkwire.EV_DELETED, 3, "/rw/public/y")
        ev = w.events_until(lambda evs: last in evs, 10)
        print("WATCH events: %s" % ev)
        assert [e for e in ev if e[2].startswith("/rw/secret")] == [], ev
        assert [(e[0], e[2]) for e in ev if e[2].startswith("/rw/public/")] == [
            (zkwire.EV_CREATED, "/rw/public/y"), (zkwire.EV_DATA_CHANGED, "/rw/public/y"),
            (zkwire.EV_DELETED, "/rw/public/y")], ev
        w.close()
    finally:
        alice.stop()
        alice.close()
    check_survival(ens, ledger, "watch", pids)


# ---- 11. connections that never complete their handshake

def test_sessionless_connections_are_closed(ens, zk, ledger):
    pids = ens.pids()
    ledger.write("sessionless-before")
    socks = []
    for i in range(1, ens.n + 1):
        idle = socket.create_connection(("127.0.0.1", ens.client_port(i)), 5)
        partial = socket.create_connection(("127.0.0.1", ens.client_port(i)), 5)
        partial.sendall(zkwire.connect_request(5000)[:14])  # length, version, half a zxid
        socks += [idle, partial]
    times = close_times(socks, 20)
    print("SESSIONLESS: closed after %s s" % ["%.1f" % t if t else None for t in times])
    for s in socks:
        s.close()
    assert all(t is not None and 9.0 <= t <= 12.0 for t in times), times
    check_survival(ens, ledger, "sessionless", pids)


def test_reads_of_the_empty_path_leave_members_up(ens, zk, ledger):
    """getData/exists/getChildren of "" (ZooKeeper answers as for /; tests/compat checks the
    answer) on every member, and nothing else is disturbed."""
    pids = ens.pids()
    for i in range(1, ens.n + 1):
        c = session(ens.client_port(i))
        for k, op in enumerate((zkwire.OP_GETDATA, zkwire.OP_EXISTS, zkwire.OP_GETCHILDREN)):
            _, _, err, _ = c.call(k + 1, op, ustring("") + b"\0")
            assert err == 0, (i, op, err)
        c.close()
    with pytest.raises(NoNodeError):
        zk.get("/rob/none")
    check_survival(ens, ledger, "emptypath", pids, restart=False)
