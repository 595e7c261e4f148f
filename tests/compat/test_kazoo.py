"""Compatibility tests with kazoo 2.8 (python3-kazoo) against a real server process.

Run: ZK_SERVER_KIND=zookeeper|zabkeeper ZK_TEST_PORT=... ZK_TEST_DIR=... \
     /usr/bin/python3 -m pytest -p no:cacheprovider tests/compat/test_kazoo.py
Each test works under its own top-level path, so tests share one server without interfering.
Waits are bounded (queue.get(timeout=...), wait_for(...)); no test relies on a sleep for
correctness.
"""
import queue
import re
import threading
import time

import pytest
from kazoo.exceptions import (BadArgumentsError, BadVersionError, NoAuthError,
                              NoChildrenForEphemeralsError, NodeExistsError, NoNodeError,
                              NotEmptyError, RolledBackError, RuntimeInconsistency)
from kazoo.protocol.states import EventType, KazooState, WatchedEvent
from kazoo.security import ACL, Id, OPEN_ACL_UNSAFE, make_digest_acl, make_digest_acl_credential

import zkwire
from conftest import wait_for

T = 15  # seconds: upper bound for any single expected event


def events():
    q = queue.Queue()
    return q, q.put


def no_more(q):
    assert q.empty(), "unexpected extra event: %r" % (q.queue[0],)


# --------------------------------------------------------------------------- basic operations

def test_create_get_set_delete_and_stat(zk):
    before = time.time()
    p = zk.create("/basic", b"hello")
    assert p == "/basic"
    data, st = zk.get("/basic")
    assert data == b"hello"
    assert (st.version, st.cversion, st.aversion, st.numChildren) == (0, 0, 0, 0)
    assert st.dataLength == 5 and st.ephemeralOwner == 0
    assert st.czxid == st.mzxid == st.pzxid and st.czxid > 0
    assert st.ctime == st.mtime
    assert abs(st.ctime / 1000.0 - before) < 120

    st2 = zk.set("/basic", b"hello world")
    assert st2.version == 1 and st2.dataLength == 11
    assert st2.mzxid > st2.czxid and st2.czxid == st.czxid
    assert st2.pzxid == st.pzxid, "setData must not change pzxid"
    assert st2.mtime >= st2.ctime
    assert zk.get("/basic")[0] == b"hello world"
    assert zk.exists("/basic") == st2

    # children: cversion counts creates + deletes, pzxid follows the last child change
    c1 = zk.create("/basic/c1", b"", include_data=True)
    assert c1[0] == "/basic/c1"
    cst = c1[1]
    parent = zk.exists("/basic")
    assert (parent.cversion, parent.numChildren) == (1, 1)
    assert parent.pzxid == cst.czxid
    assert parent.mzxid == st2.mzxid and parent.version == 1
    zk.create("/basic/c2")
    assert sorted(zk.get_children("/basic")) == ["c1", "c2"]
    kids, pst = zk.get_children("/basic", include_data=True)
    assert sorted(kids) == ["c1", "c2"] and pst.numChildren == 2 and pst.cversion == 2
    zk.delete("/basic/c1")
    parent = zk.exists("/basic")
    assert (parent.cversion, parent.numChildren) == (3, 1)
    assert parent.pzxid > cst.czxid
    assert zk.exists("/basic/c1") is None

    # empty data vs. no data
    zk.create("/basic/empty", b"")
    d, est = zk.get("/basic/empty")
    assert d == b"" and est.dataLength == 0

    # a big value (500 KB) round-trips
    big = bytes(range(256)) * 2000
    zk.set("/basic/empty", big)
    assert zk.get("/basic/empty")[0] == big

    zk.delete("/basic", recursive=True)
    assert zk.exists("/basic") is None


def test_create_modes_and_sequence_naming(zk):
    zk.create("/seq")
    p0 = zk.create("/seq/n-", b"x", sequence=True)
    assert p0 == "/seq/n-0000000000"
    p1 = zk.create("/seq/n-", sequence=True)
    assert p1 == "/seq/n-0000000001"
    # the counter is the parent's count of child creates: a plain child also bumps it and
    # deleting a child does not decrement it
    zk.create("/seq/plain")
    zk.delete("/seq/plain")
    assert zk.create("/seq/n-", sequence=True) == "/seq/n-0000000003"
    # a path ending in "/" gives a name made of the digits only
    assert zk.create("/seq/", sequence=True) == "/seq/0000000004"
    # ephemeral sequential
    pe = zk.create("/seq/e-", ephemeral=True, sequence=True)
    assert re.fullmatch(r"/seq/e-\d{10}", pe) and pe.endswith("0000000005")
    assert zk.exists(pe).ephemeralOwner == zk.client_id[0]
    # ephemeral (plain)
    zk.create("/seq/eph", b"e", ephemeral=True)
    st = zk.exists("/seq/eph")
    assert st.ephemeralOwner == zk.client_id[0] and st.ephemeralOwner != 0
    # the sequence counter is per parent
    zk.create("/seq2")
    assert zk.create("/seq2/n-", sequence=True) == "/seq2/n-0000000000"
    # makepath creates missing parents
    assert zk.create("/seq3/a/b", b"v", makepath=True) == "/seq3/a/b"
    assert zk.get("/seq3/a")[0] == b""


def test_errors(zk):
    zk.create("/err", b"v")
    with pytest.raises(NoNodeError):
        zk.get("/err/missing")
    with pytest.raises(NoNodeError):
        zk.create("/err/no/parent")
    with pytest.raises(NoNodeError):
        zk.set("/err/missing", b"")
    with pytest.raises(NoNodeError):
        zk.delete("/err/missing")
    with pytest.raises(NoNodeError):
        zk.get_children("/err/missing")
    with pytest.raises(NodeExistsError):
        zk.create("/err")
    with pytest.raises(BadVersionError):
        zk.set("/err", b"x", version=7)
    with pytest.raises(BadVersionError):
        zk.delete("/err", version=7)
    zk.create("/err/child")
    with pytest.raises(NotEmptyError):
        zk.delete("/err")
    # version check comes before the not-empty check
    with pytest.raises(BadVersionError):
        zk.delete("/err", version=5)
    zk.create("/err/eph", ephemeral=True)
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create("/err/eph/child")
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create("/err/eph/s-", sequence=True)
    # the tree is unchanged by the failures
    assert zk.get("/err")[0] == b"v"
    assert sorted(zk.get_children("/err")) == ["child", "eph"]
    assert zk.exists("/err").version == 0


def test_children_list_larger_than_jute_maxbuffer(zk):
    """ZooKeeper bounds what it reads by jute.maxbuffer (1 MiB), not what it answers: a list of
    600 children of 2,000-byte names (1.2 MB) comes back whole, to kazoo as to the C client and
    go-zookeeper (the Java client's own jute.maxbuffer would refuse it). A multiRead stays
    within jute.maxbuffer on zabkeeper (test_robustness_client)."""
    zk.create("/bigkids")
    names = sorted("%04d-" % i + "n" * 1995 for i in range(600))
    for r in [zk.create_async("/bigkids/" + n) for n in names]:
        r.get(timeout=T)
    assert sorted(zk.get_children("/bigkids")) == names
    kids, stat = zk.get_children("/bigkids", include_data=True)
    assert sorted(kids) == names and stat.numChildren == 600


def test_quota_stats_follow_the_subtree(zk):
    """What zkCli setquota creates (zookeeper_stats, then zookeeper_limits under
    /zookeeper/quota/<path>): the server sets the stats from the subtree and keeps them as
    nodes come, change and go below, the data only (DataTree.updateQuotaStat)."""
    zk.create("/quota/q/a", b"xx", makepath=True)
    zk.ensure_path("/zookeeper/quota/quota/q")
    stats = "/zookeeper/quota/quota/q/zookeeper_stats"
    zk.create(stats, b"count=0,bytes=0")
    zk.create("/zookeeper/quota/quota/q/zookeeper_limits", b"count=5,bytes=-1")
    assert zk.get(stats)[0] == b"count=2,bytes=2"
    zk.create("/quota/q/b", b"abc")
    zk.create("/quota/q/b/c", ephemeral=True)
    zk.set("/quota/q/a", b"x")
    assert zk.get(stats)[0] == b"count=4,bytes=4"
    zk.delete("/quota/q/b", recursive=True)
    zk.create("/quota/elsewhere", b"not counted")
    data, st = zk.get(stats)
    assert data == b"count=2,bytes=1" and st.version == 0 and st.mzxid == st.czxid
    zk.delete("/zookeeper/quota/quota", recursive=True)  # zkCli delquota -> no quota
    zk.create("/quota/q/d", b"d")


# kazoo normalises paths itself ("/a/" -> "/a", "//" collapsed) and raises ValueError for "."
# and ".." components, so those never reach the server through kazoo (test_badinput.py and the
# C client test send them raw). These reach the server and must be rejected there.
@pytest.mark.parametrize("bad", ["/bad/\u0001", "/bad/a\u007fb", "/bad/\u0085", "/bad/\ufffdx",
                                 "/bad/\ufff0", "/bad/\ue000", "/bad/\U0001f600",
                                 "/bad/a\u0000b"])
def test_invalid_paths_rejected_by_server(zk, bad):
    zk.ensure_path("/bad")
    with pytest.raises(BadArgumentsError):
        zk.create(bad, b"")
    assert zk.get_children("/bad") == []


def test_kazoo_client_side_path_checks(zk):
    with pytest.raises(ValueError):
        zk.create("/bad2/./x")
    with pytest.raises(ValueError):
        zk.create("/bad2/..")


def test_reserved_and_special_paths(zk):
    for p in ["/zookeeper", "/zookeeper/quota", "/zookeeper/config"]:
        with pytest.raises(BadArgumentsError):
            zk.delete(p)
    with pytest.raises(BadArgumentsError):
        zk.delete("/")
    # dots inside names are fine
    zk.create("/dots")
    for ok in ["/dots/.a", "/dots/a.", "/dots/..a", "/dots/a..b"]:
        assert zk.create(ok) == ok
    assert "zookeeper" in zk.get_children("/")
    assert zk.exists("/zookeeper") is not None


ALICE = make_digest_acl("alice", "pw", read=True, write=True, create=True, admin=True)
WORLD_READ = ACL(1, Id("world", "anyone"))


def acl_node(zk, zk_factory, path):
    """path with ACL [alice: rwca, world: r]; returns alice's client."""
    zk.create(path, b"secret")
    acls, st = zk.get_acls(path)
    assert acls == OPEN_ACL_UNSAFE and st.aversion == 0
    st2 = zk.set_acls(path, [ALICE, WORLD_READ], version=0)
    assert st2.aversion == 1 and st2.version == 0
    return zk_factory(auth_data=[("digest", "alice:pw")])


def test_acl_get_set_roundtrip(zk, zk_factory):
    alice = acl_node(zk, zk_factory, "/acl1")
    # a caller holding ADMIN on the node sees exactly what was stored
    acls, st = alice.get_acls("/acl1")
    assert acls == [ALICE, WORLD_READ] and st.aversion == 1
    # setACL checks the expected version against aversion
    with pytest.raises(BadVersionError):
        alice.set_acls("/acl1", OPEN_ACL_UNSAFE, version=0)
    st = alice.set_acls("/acl1", OPEN_ACL_UNSAFE, version=1)
    assert st.aversion == 2 and st.version == 0
    assert zk.get_acls("/acl1")[0] == OPEN_ACL_UNSAFE
    # create with an ACL stores it
    zk.create("/acl1/r", b"", acl=[WORLD_READ])
    acls, st = zk.get_acls("/acl1/r")
    assert acls == [WORLD_READ] and st.aversion == 0
    assert make_digest_acl_credential("alice", "pw").startswith("alice:")


def test_acl_getacl_masks_digest_for_non_admin(zk, zk_factory):
    # ZooKeeper 3.8 masks digest ids as "user:x" in getACL for a caller without ADMIN
    # permission on the node.
    acl_node(zk, zk_factory, "/acl2")
    acls, st = zk.get_acls("/acl2")
    assert st.aversion == 1
    assert acls == [ACL(ALICE.perms, Id("digest", "alice:x")), WORLD_READ]


def test_acl_enforced(zk, zk_factory):
    alice = acl_node(zk, zk_factory, "/acl3")
    # world lost ADMIN: NoAuth, checked before the version (a stale version still gets NoAuth)
    with pytest.raises(NoAuthError):
        zk.set_acls("/acl3", OPEN_ACL_UNSAFE, version=1)
    with pytest.raises(NoAuthError):
        zk.set_acls("/acl3", OPEN_ACL_UNSAFE, version=0)
    # world may read but not write or create; alice (digest auth) may
    assert zk.get("/acl3")[0] == b"secret"
    with pytest.raises(NoAuthError):
        zk.set("/acl3", b"x")
    with pytest.raises(NoAuthError):
        zk.create("/acl3/c")
    alice.set("/acl3", b"by alice")
    assert zk.get("/acl3")[0] == b"by alice"
    # a node readable only by alice
    alice.create("/acl3/private", b"p", acl=[make_digest_acl("alice", "pw", all=True)])
    with pytest.raises(NoAuthError):
        zk.get("/acl3/private")
    with pytest.raises(NoAuthError):
        zk.delete("/acl3/private")   # needs DELETE on the parent: world has only READ
    assert alice.get("/acl3/private")[0] == b"p"


def test_sync_and_server_version(zk):
    zk.create("/sync")
    assert zk.sync("/sync") == "/sync"
    v = zk.server_version()
    assert v[:2] == (3, 8), "envi zookeeper.version= must start with 3.8 (got %r)" % (v,)


# --------------------------------------------------------------------------- watches

def test_data_watch_fires_once_on_change_and_delete(zk, zk_factory):
    other = zk_factory()
    zk.create("/w", b"0")
    q, cb = events()
    zk.get("/w", watch=cb)
    other.set("/w", b"1")
    ev = q.get(timeout=T)
    assert (ev.type, ev.path, ev.state) == (EventType.CHANGED, "/w", "CONNECTED")
    # one-shot: a second change does not fire it again. Prove it without sleeping: a fresh
    # watch registered afterwards fires for a third change; events arrive in order.
    other.set("/w", b"2")
    q2, cb2 = events()
    zk.get("/w", watch=cb2)
    other.set("/w", b"3")
    assert q2.get(timeout=T).type == EventType.CHANGED
    no_more(q)
    # delete fires DELETED on a data watch
    zk.get("/w", watch=cb)
    other.delete("/w")
    ev = q.get(timeout=T)
    assert (ev.type, ev.path) == (EventType.DELETED, "/w")


def test_exists_watch_on_missing_node_fires_created(zk, zk_factory):
    other = zk_factory()
    zk.create("/ew")
    q, cb = events()
    assert zk.exists("/ew/n", watch=cb) is None
    other.create("/ew/n", b"x")
    ev = q.get(timeout=T)
    assert (ev.type, ev.path) == (EventType.CREATED, "/ew/n")
    assert zk.exists("/ew/n", watch=cb) is not None
    other.delete("/ew/n")
    assert q.get(timeout=T).type == EventType.DELETED


def test_child_watch(zk, zk_factory):
    other = zk_factory()
    zk.create("/cw")
    q, cb = events()
    assert zk.get_children("/cw", watch=cb) == []
    other.create("/cw/a")
    ev = q.get(timeout=T)
    assert (ev.type, ev.path) == (EventType.CHILD, "/cw")
    # setData on a child does not fire the parent's child watch; a child delete does
    zk.get_children("/cw", watch=cb)
    other.set("/cw/a", b"changed")
    q2, cb2 = events()
    zk.get("/cw/a", watch=cb2)
    other.set("/cw/a", b"again")
    assert q2.get(timeout=T).type == EventType.CHANGED
    no_more(q)
    other.delete("/cw/a")
    assert (q.get(timeout=T).type) == EventType.CHILD
    # deleting the watched node itself fires DELETED on a child watch
    zk.get_children("/cw", watch=cb)
    other.delete("/cw")
    ev = q.get(timeout=T)
    assert (ev.type, ev.path) == (EventType.DELETED, "/cw")


def test_own_write_triggers_own_watch(zk):
    zk.create("/ow")
    q, cb = events()
    zk.get("/ow", watch=cb)
    zk.set("/ow", b"mine")
    assert q.get(timeout=T).type == EventType.CHANGED


# --------------------------------------------------------------------------- transactions

def test_transaction_commit(zk):
    zk.create("/tx", b"0")
    zk.create("/tx/gone")
    t = zk.transaction()
    t.create("/tx/a", b"a")
    t.create("/tx/s-", b"s", sequence=True)
    t.check("/tx", 0)
    t.set_data("/tx", b"1")
    t.delete("/tx/gone")
    res = t.commit()
    assert res[0] == "/tx/a"
    assert res[1] == "/tx/s-0000000002"
    assert res[2] is True
    assert res[3].version == 1
    assert res[4] is True
    a = zk.exists("/tx/a")
    parent = zk.exists("/tx")
    # all ops of one multi share one zxid
    assert a.czxid == parent.mzxid == zk.exists("/tx/s-0000000002").czxid
    assert parent.pzxid == a.czxid
    assert sorted(zk.get_children("/tx")) == ["a", "s-0000000002"]


def test_transaction_rollback(zk):
    zk.create("/rb", b"0")
    before = zk.exists("/rb")
    t = zk.transaction()
    t.create("/rb/new", b"n")
    t.set_data("/rb", b"1")
    t.check("/rb", 5)             # fails: version is 0 (and would be 1 after the set)
    t.delete("/rb/new")
    t.create("/rb/other")
    res = t.commit()
    assert len(res) == 5
    assert isinstance(res[0], RolledBackError)
    assert isinstance(res[1], RolledBackError)
    assert isinstance(res[2], BadVersionError)
    assert isinstance(res[3], RuntimeInconsistency)
    assert isinstance(res[4], RuntimeInconsistency)
    assert zk.get_children("/rb") == []
    data, after = zk.get("/rb")
    assert data == b"0" and after.version == 0 and after.mzxid == before.mzxid
    assert after.cversion == before.cversion

    # a failing create in the middle: NodeExists for the failing op
    zk.create("/rb/x")
    t = zk.transaction()
    t.set_data("/rb", b"2")
    t.create("/rb/x")
    res = t.commit()
    assert isinstance(res[0], RolledBackError) and isinstance(res[1], NodeExistsError)
    assert zk.get("/rb")[0] == b"0"

    # failing first op: NoNode, the rest RuntimeInconsistency
    t = zk.transaction()
    t.delete("/rb/missing")
    t.create("/rb/y")
    res = t.commit()
    assert isinstance(res[0], NoNodeError) and isinstance(res[1], RuntimeInconsistency)
    assert zk.exists("/rb/y") is None


# --------------------------------------------------------------------------- ephemerals/sessions

def test_ephemeral_removed_on_close_and_watch_fires(zk, zk_factory):
    owner = zk_factory()
    zk.create("/eph")
    owner.create("/eph/a", b"a", ephemeral=True)
    owner.create("/eph/s-", ephemeral=True, sequence=True)
    owner.create("/eph/keep", b"persistent")
    assert owner.exists("/eph/a").ephemeralOwner == owner.client_id[0]
    q, cb = events()
    assert zk.exists("/eph/a", watch=cb) is not None
    qc, cbc = events()
    zk.get_children("/eph", watch=cbc)
    owner.stop()
    owner.close()
    ev = q.get(timeout=T)
    assert (ev.type, ev.path) == (EventType.DELETED, "/eph/a")
    assert qc.get(timeout=T).type == EventType.CHILD
    assert zk.get_children("/eph") == ["keep"]


def test_session_expiry_removes_ephemerals(zk, zk_factory, proxy_factory):
    """The owner's TCP connection is cut and it cannot reconnect (proxy blocked) for longer than
    its 2 s session timeout: the server expires the session, deletes its ephemerals and fires
    watches; when the owner gets back it is told the session expired (kazoo state LOST) and
    kazoo starts a fresh session."""
    proxy = proxy_factory(1)
    states = []
    owner = zk_factory(hosts=proxy.hosts, timeout=2.0)
    owner.add_listener(states.append)
    old_session = owner.client_id[0]
    zk.create("/exp")
    owner.create("/exp/e", b"x", ephemeral=True)
    q, cb = events()
    assert zk.exists("/exp/e", watch=cb).ephemeralOwner == old_session
    t0 = time.monotonic()
    proxy.blocked = True
    proxy.drop()
    ev = q.get(timeout=20)
    elapsed = time.monotonic() - t0
    assert (ev.type, ev.path) == (EventType.DELETED, "/exp/e")
    assert elapsed > 1.0, "ephemeral vanished %.2fs after the cut, before the 2 s timeout" % elapsed
    assert zk.exists("/exp/e") is None
    proxy.blocked = False
    wait_for(lambda: KazooState.LOST in states and owner.connected
             and owner.client_id[0] != old_session, 30, "owner to see LOST then reconnect")
    assert KazooState.SUSPENDED in states
    # the new session works and has its own ephemerals
    owner.create("/exp/e2", ephemeral=True)
    assert zk.exists("/exp/e2").ephemeralOwner == owner.client_id[0]


def test_session_resumes_after_dropped_connection(zk, zk_factory, proxy_factory):
    proxy = proxy_factory(2)
    states = []
    c = zk_factory(hosts=proxy.hosts, timeout=6.0)
    c.add_listener(states.append)
    sid = c.client_id[0]
    zk.create("/resume")
    c.create("/resume/e", b"mine", ephemeral=True)
    n_before = proxy.accepted
    proxy.drop()
    wait_for(lambda: proxy.accepted > n_before and c.connected and KazooState.SUSPENDED in states,
             20, "client to reconnect through the proxy")
    assert c.client_id[0] == sid, "session id changed on reconnect"
    assert KazooState.LOST not in states
    # the ephemeral survived, still owned by the same session, and the session still works
    assert zk.exists("/resume/e").ephemeralOwner == sid
    assert c.get("/resume/e")[0] == b"mine"
    c.set("/resume/e", b"after")
    assert zk.get("/resume/e")[0] == b"after"


def test_raw_session_resume_semantics(server):
    """Wire-level session rules (raw sockets): resuming a session from a second connection closes
    the first connection; after closeSession (reply, then the server closes the socket) the
    session cannot be resumed: the ConnectResponse has timeOut 0 and sessionId 0, then close;
    a wrong password gets the same 'expired' answer and the session survives it."""
    c1 = zkwire.Conn(server.port)
    to, sid, pw = c1.handshake(10000)
    assert to == 10000 and sid != 0 and len(pw) == 16
    bad = zkwire.Conn(server.port)
    wrong = bytes([pw[0] ^ 0xFF]) + pw[1:]
    assert bad.handshake(10000, sid, wrong)[:2] == (0, 0)
    assert bad.wait_closed(10)
    c2 = zkwire.Conn(server.port)
    to2, sid2, pw2 = c2.handshake(10000, sid, pw)
    assert (to2, sid2) == (10000, sid) and len(pw2) == 16, "session lost after a bad resume"
    assert not c1.ping_ok(), "the older connection of a resumed session stays open"
    xid, zxid, err, _ = c2.call(1, zkwire.OP_EXISTS, zkwire.path_watch_body("/"))
    assert (xid, err) == (1, 0)
    xid, zxid, err, body = c2.call(2, zkwire.OP_CLOSE)
    assert (xid, err, body) == (2, 0, b"")
    assert c2.wait_closed(10), "server must close the socket after closeSession"
    c3 = zkwire.Conn(server.port)
    assert c3.handshake(10000, sid, pw)[:2] == (0, 0)
    assert c3.wait_closed(10)
    for c in (c1, bad, c2, c3):
        c.close()


def test_raw_bad_password_resume_drops_live_connection(server):
    # Surprise: ZooKeeper 3.8 closes the session's current connection *before* it checks the
    # password (processConnectRequest calls closeSession(sessionId) first), so even a failed
    # resume with a wrong password knocks the live connection off. The session survives.
    c1 = zkwire.Conn(server.port)
    to, sid, pw = c1.handshake(10000)
    assert c1.ping_ok()
    bad = zkwire.Conn(server.port)
    assert bad.handshake(10000, sid, bytes(16))[:2] == (0, 0)
    assert not c1.ping_ok(), "ZooKeeper drops the live connection on a failed resume"
    c2 = zkwire.Conn(server.port)
    assert c2.handshake(10000, sid, pw)[:2] == (10000, sid)
    for c in (c1, bad, c2):
        c.close()


def test_raw_auth_reply_carries_the_request_xid(server):
    # ZooKeeper answers addAuthInfo with the request's xid and zxid 0 (kazoo, the C and Java
    # clients send -4; go-zookeeper sends its next xid and waits for that one).
    c = zkwire.Conn(server.port)
    c.handshake(10000)
    for xid in (7, -4):
        c.send(zkwire.request(xid, zkwire.OP_AUTH, zkwire.auth_body("digest", "u:p")))
        assert c.reply()[:3] == (xid, 0, 0)
    assert c.call(8, zkwire.OP_EXISTS, zkwire.path_watch_body("/"))[:1] == (8,)
    c.close()


# --------------------------------------------------------------------------- locks

def run_lock_rounds(clients, acquire, release, rounds):
    """Each client takes the lock `rounds` times in its own thread. Returns the log of
    (client index, token) in acquisition order; fails on overlap."""
    state = {"holder": None, "count": 0}
    guard = threading.Lock()
    log, errors = [], []

    def worker(i, c):
        try:
            for _ in range(rounds):
                token = acquire(c)
                with guard:
                    if state["holder"] is not None:
                        errors.append("client %d entered while %d holds it" % (i, state["holder"]))
                    state["holder"] = i
                    log.append((i, token))
                n = state["count"]
                time.sleep(0.01)            # widen the window in which an overlap would show
                state["count"] = n + 1      # unguarded read-modify-write: lost update on overlap
                with guard:
                    state["holder"] = None
                release(c, token)
        except Exception as e:  # pragma: no cover - reported below
            errors.append("client %d: %r" % (i, e))

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        assert not t.is_alive(), "lock worker hung"
    assert not errors, errors
    assert state["count"] == len(clients) * rounds
    return log


def test_kazoo_lock_three_clients(zk_factory):
    clients = [zk_factory() for _ in range(3)]
    locks = {id(c): c.Lock("/klock", identifier="c%d" % i) for i, c in enumerate(clients)}

    def acquire(c):
        assert locks[id(c)].acquire(timeout=30)
        return None

    def release(c, token):
        locks[id(c)].release()

    log = run_lock_rounds(clients, acquire, release, rounds=4)
    assert sorted(i for i, _ in log) == sorted(list(range(3)) * 4)

    # fairness: waiters get the lock in the order they queued
    l0, l1, l2 = (clients[i].Lock("/klock2", identifier="c%d" % i) for i in range(3))
    assert l0.acquire(timeout=10)
    order = []
    ths = []
    for i, lk in ((1, l1), (2, l2)):
        th = threading.Thread(target=lambda lk=lk, i=i: (lk.acquire(timeout=30), order.append(i),
                                                          lk.release()))
        th.start()
        ths.append(th)
        wait_for(lambda n=i + 1: len(l0.contenders()) == n, 10, "contender %d queued" % i)
    assert l0.contenders() == ["c0", "c1", "c2"]
    l0.release()
    for th in ths:
        th.join(30)
    assert order == [1, 2]


def seed_lock_acquire(zk):
    """The hand-written lock from the seed article."""
    me = zk.create("/lock/n-", b"", ephemeral=True, sequence=True)
    name = me.rsplit("/", 1)[1]
    while True:
        children = sorted(zk.get_children("/lock"))
        idx = children.index(name)
        if idx == 0:
            return me
        prev = "/lock/" + children[idx - 1]
        q = queue.Queue()
        try:
            zk.get(prev, watch=q.put)
        except NoNodeError:
            continue
        ev = q.get(timeout=30)
        assert isinstance(ev, WatchedEvent)


def test_seed_article_lock_three_clients_take_turns(zk, zk_factory):
    zk.create("/lock")
    clients = [zk_factory() for _ in range(3)]
    log = run_lock_rounds(clients, seed_lock_acquire, lambda c, me: c.delete(me), rounds=3)
    seqs = [int(me[-10:]) for _, me in log]
    # FIFO: the lock is granted in sequence-number order
    assert seqs == sorted(seqs), log
    assert len(set(seqs)) == 9
    assert zk.get_children("/lock") == []


# --------------------------------------------------------------------------- four-letter words

def fl(server, c):
    return zkwire.four_letter(server.port, c)


def test_4lw_ruok_isro(server):
    assert fl(server, "ruok") == "imok"
    assert fl(server, "isro") == "rw"


def test_4lw_srvr(server, zk):
    srvr = fl(server, "srvr")
    assert re.search(r"^Zookeeper version: 3\.8\.", srvr, re.M), srvr
    # the build time as ZooKeeper 3.8 prints it (yyyy-MM-dd HH:mm zz): tools parse it
    assert re.search(r"^Zookeeper version: \S+, built on \d{4}-\d\d-\d\d \d\d:\d\d \w+$", srvr,
                     re.M), srvr
    assert re.search(r"^Mode: standalone$", srvr, re.M), srvr
    assert re.search(r"^Zxid: 0x[0-9a-f]+$", srvr, re.M), srvr
    assert re.search(r"^Node count: \d+$", srvr, re.M), srvr
    assert re.search(r"^Latency min/avg/max: \d+/[\d.]+/\d+$", srvr, re.M), srvr
    for key in ("Received", "Sent", "Connections", "Outstanding"):
        assert re.search(r"^%s: \d+$" % key, srvr, re.M), srvr
    # Zxid tracks writes
    zxid = int(re.search(r"^Zxid: 0x([0-9a-f]+)$", srvr, re.M).group(1), 16)
    st = zk.create("/flw", include_data=True)[1]
    zxid2 = int(re.search(r"^Zxid: 0x([0-9a-f]+)$", fl(server, "srvr"), re.M).group(1), 16)
    assert zxid2 >= st.czxid > zxid


def test_4lw_stat(server, zk):
    stat = fl(server, "stat")
    assert re.search(r"^Zookeeper version: 3\.8\.", stat, re.M), stat
    assert re.search(r"^Clients:$", stat, re.M) and re.search(r"^Mode: standalone$", stat, re.M)
    # one line per connection, e.g. " /127.0.0.1:40312[1](queued=0,recved=5,sent=5)"
    assert re.search(r"^ /127\.0\.0\.1:\d+\[\d+\]\(queued=\d+,recved=\d+,sent=\d+", stat, re.M), stat


def test_4lw_mntr(server):
    mntr = dict(l.split("\t", 1) for l in fl(server, "mntr").splitlines() if "\t" in l)
    assert mntr["zk_version"].startswith("3.8."), mntr
    assert re.search(r", built on \d{4}-\d\d-\d\d \d\d:\d\d \w+$", mntr["zk_version"]), mntr
    assert mntr["zk_server_state"] == "standalone"
    assert int(mntr["zk_znode_count"]) >= 5
    for key in ("zk_avg_latency", "zk_max_latency", "zk_min_latency", "zk_packets_received",
                "zk_packets_sent", "zk_num_alive_connections", "zk_outstanding_requests",
                "zk_watch_count", "zk_ephemerals_count", "zk_approximate_data_size"):
        assert key in mntr, key


def test_4lw_conf_envi(server):
    conf = fl(server, "conf")
    assert re.search(r"^clientPort=%d$" % server.port, conf, re.M), conf
    assert re.search(r"^tickTime=\d+$", conf, re.M) and "dataDir=" in conf
    assert re.search(r"^maxSessionTimeout=\d+$", conf, re.M), conf
    envi = fl(server, "envi")
    assert envi.startswith("Environment:") and "zookeeper.version=3.8." in envi
