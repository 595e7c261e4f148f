"""Corner cases where zabkeeper once diverged from Apache ZooKeeper 3.8 (issue 10), run against
both servers: what ZooKeeper does is the specification.

  exists() of a node the client may not read returns its Stat (only reads of data need READ);
  addauth digest without ':' is accepted (the whole credential is the user);
  a create whose frame is one byte over jute.maxbuffer closes the connection;
  getData/exists/getChildren of "" answer as for "/";
  a persistent recursive watch on / gets no events for nodes its client may not read;
  a zoo.cfg without 4lw.commands.whitelist allows srvr only;
  DigestAuthenticationProvider.superDigest in zoo.cfg makes that digest super;
  a create whose frame is exactly jute.maxbuffer long is accepted;
  opcode 20 (deleteContainer) from a client gets BadArguments and deletes nothing.
The last two below need a server with its own zoo.cfg (serverctl always writes the whitelist `*`):
`plain` below writes one and starts it with `serverctl restart` on ZK_TEST_PORT + 1.
"""
import base64
import hashlib
import os
import shutil
import struct
import subprocess

import pytest
from kazoo.exceptions import NoAuthError
from kazoo.security import make_digest_acl

import zkwire
from conftest import SERVERCTL, wait_for
from zkwire import Conn, ustring

MAXBUF = 0xFFFFF  # jute.maxbuffer default: 1 048 575
SUPER_PASSWORD = "s3cret"


def session(server):
    c = Conn(server.port)
    c.handshake()
    return c


@pytest.fixture
def alice_node(zk_factory):
    """/dv/<n> readable by digest alice only; returns (path, alice's client)."""
    alice = zk_factory(auth_data=[("digest", "alice:pw")])
    alice.ensure_path("/dv")
    path = alice.create("/dv/secret-", b"s", acl=[make_digest_acl("alice", "pw", all=True)],
                        sequence=True)
    return path, alice


def test_exists_without_read_returns_stat(zk_factory, alice_node):
    path, _ = alice_node
    other = zk_factory()
    st = other.exists(path)
    assert st is not None and st.dataLength == 1
    with pytest.raises(NoAuthError):
        other.get(path)


def test_addauth_digest_without_colon(server, zk):
    c = session(server)
    assert c.auth("digest", b"justauser") == 0
    # the id is user:base64(sha1(credential)) with the whole credential as the user
    ident = "justauser:" + base64.b64encode(hashlib.sha1(b"justauser").digest()).decode()
    zk.ensure_path("/dv")
    acl = zkwire.acl_vector([(zkwire.PERM_ALL, "digest", ident)])
    _, _, err, _ = c.call(1, zkwire.OP_CREATE, zkwire.create_body("/dv/nocolon", b"x", 0, acl))
    assert err in (0, -110)
    _, _, err, _ = c.call(2, zkwire.OP_GETDATA, zkwire.path_watch_body("/dv/nocolon"))
    assert err == 0, "the colon-less identity cannot read its own node"
    with pytest.raises(NoAuthError):
        zk.get("/dv/nocolon")
    c.close()


def test_create_frame_over_max_buffer_closes(server, zk):
    """(A frame of exactly jute.maxbuffer: test_divergences_pending.py.)"""
    zk.ensure_path("/dv")
    c = session(server)
    body = struct.pack(">ii", 1, zkwire.OP_CREATE) + ustring("/dv/overframe")
    fixed = len(body) + 4 + len(zkwire.OPEN_ACL) + 4
    body += zkwire.buffer(b"m" * (MAXBUF + 1 - fixed)) + zkwire.OPEN_ACL + struct.pack(">i", 0)
    assert len(body) == MAXBUF + 1
    try:
        c.send(zkwire.frame(body))
    except (ConnectionResetError, BrokenPipeError):
        pass  # closed on the frame's length while the rest was still being sent: as expected
    else:
        assert c.wait_closed(10)
    c.close()
    assert zk.exists("/dv/overframe") is None


def test_reads_of_the_empty_path_answer_as_root(server):
    c = session(server)
    replies = {}
    for k, path in enumerate(("", "/")):
        for op in (zkwire.OP_GETDATA, zkwire.OP_EXISTS, zkwire.OP_GETCHILDREN):
            _, _, err, body = c.call(10 * k + op, op, zkwire.path_watch_body(path))
            replies[(path, op)] = (err, body)
    for op in (zkwire.OP_GETDATA, zkwire.OP_EXISTS, zkwire.OP_GETCHILDREN):
        assert replies[("", op)] == replies[("/", op)], op
        assert replies[("", op)][0] == 0
    c.close()


def test_recursive_watch_skips_unreadable_nodes(server, alice_node):
    path, alice = alice_node
    w = session(server)
    _, _, err, _ = w.call(1, zkwire.OP_ADDWATCH,
                          zkwire.addwatch_body("/dv", zkwire.ADDWATCH_PERSISTENT_RECURSIVE))
    assert err == 0
    acl = [make_digest_acl("alice", "pw", all=True)]
    alice.create(path + "/x", b"1", acl=acl)
    alice.set(path + "/x", b"2")
    alice.delete(path + "/x")
    alice.set(path, b"s2")
    alice.create("/dv/open-y", b"1")
    alice.delete("/dv/open-y")
    last = (zkwire.EV_DELETED, 3, "/dv/open-y")
    ev = w.events_until(lambda evs: last in evs, 10)
    print("%s: events %s" % (server.kind, ev))
    assert last in ev
    assert [e for e in ev if e[2].startswith(path)] == [], ev
    w.close()


def test_create_frame_of_exactly_max_buffer(server, zk):
    zk.ensure_path("/dvp-max")
    c = session(server)
    path = "/dvp-max/maxframe"
    fixed = 8 + len(ustring(path)) + 4 + len(zkwire.OPEN_ACL) + 4
    body = struct.pack(">ii", 1, zkwire.OP_CREATE) + ustring(path) + \
        zkwire.buffer(b"m" * (MAXBUF - fixed)) + zkwire.OPEN_ACL + struct.pack(">i", 0)
    assert len(body) == MAXBUF
    c.send(zkwire.frame(body))
    rxid, _, err, _ = c.reply()
    assert (rxid, err) == (1, 0), "a create of %d data bytes in a %d-byte frame: error %d" % (
        MAXBUF - fixed, MAXBUF, err)
    assert zk.exists(path).dataLength == MAXBUF - fixed
    c.close()


def test_delete_container_opcode_from_a_client_is_refused(server, zk):
    zk.ensure_path("/dvp/plain")
    zkwire.kazoo_create_container_async(zk, "/dvp/ctr-full").get(10)
    zk.create("/dvp/ctr-full/child")
    zkwire.kazoo_create_container_async(zk, "/dvp/ctr-empty").get(10)
    zkwire.kazoo_create_container_async(
        zk, "/dvp/ctr-denied", acl=[make_digest_acl("nobody", "x", all=True)]).get(10)
    zkwire.kazoo_create_ttl_async(zk, "/dvp/ttl", b"", 600000).get(10)
    c = session(server)
    errs = {}
    for k, name in enumerate(("plain", "ctr-full", "ctr-empty", "ctr-denied", "ttl", "none")):
        errs[name] = c.call(k + 1, zkwire.OP_DELETE_CONTAINER, ustring("/dvp/" + name))[2]
    c.close()
    left = sorted(zk.get_children("/dvp"))
    print("%s: deleteContainer answers %s; left %s" % (server.kind, errs, left))
    assert set(errs.values()) == {zkwire.ZBADARGUMENTS}, errs
    assert left == ["ctr-denied", "ctr-empty", "ctr-full", "plain", "ttl"], left


# ---- a server with its own zoo.cfg: no 4lw whitelist, a super digest

def super_digest(password):
    return "super:" + base64.b64encode(
        hashlib.sha1(("super:%s" % password).encode()).digest()).decode()


@pytest.fixture(scope="module")
def plain(server):
    if not server.managed:
        pytest.skip("needs a server started by the tests (ZK_TEST_DIR)")
    port = server.port + 1
    d = server.dir.rstrip("/") + "-plain"
    if os.path.exists(os.path.join(d, "pid")):
        subprocess.run([SERVERCTL, "kill", d], timeout=30)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "data"))
    with open(os.path.join(d, "kind"), "w") as f:
        f.write(server.kind + "\n")
    with open(os.path.join(d, "zoo.cfg"), "w") as f:
        f.write("tickTime=500\ndataDir=%s/data\nclientPort=%d\nmaxClientCnxns=0\n"
                "admin.enableServer=false\n"
                "DigestAuthenticationProvider.superDigest=%s\n" % (
                    d, port, super_digest(SUPER_PASSWORD)))
    r = subprocess.run([SERVERCTL, "restart", d], timeout=60, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        pytest.fail("serverctl restart %s failed: %s" % (d, r.stdout))
    yield port
    subprocess.run([SERVERCTL, "stop", d], timeout=60)


def test_four_letter_words_default_to_srvr_only(plain):
    assert "Mode: standalone" in zkwire.four_letter(plain, "srvr")
    for word in ("ruok", "mntr", "stat", "conf"):
        out = zkwire.four_letter(plain, word)
        assert out in ("", "%s is not executed because it is not in the whitelist.\n" % word), \
            (word, out)


def test_super_digest_from_zoo_cfg(plain, zk_factory):
    hosts = "127.0.0.1:%d" % plain
    alice = zk_factory(hosts, auth_data=[("digest", "alice:pw")])
    alice.create("/alice-only", b"a", acl=[make_digest_acl("alice", "pw", all=True)])
    nobody = zk_factory(hosts)
    with pytest.raises(NoAuthError):
        nobody.get("/alice-only")
    root = zk_factory(hosts, auth_data=[("digest", "super:%s" % SUPER_PASSWORD)])
    assert root.get("/alice-only")[0] == b"a"
    root.set_acls("/alice-only", [make_digest_acl("bob", "pw", all=True)])
    root.delete("/alice-only")
    wait_for(lambda: nobody.exists("/alice-only") is None, 10, "the delete to be visible")
    # a wrong super password is just another digest user
    other = zk_factory(hosts, auth_data=[("digest", "super:wrong")])
    other.create("/x-only", b"x", acl=[make_digest_acl("alice", "pw", all=True)])
    with pytest.raises(NoAuthError):
        other.get("/x-only")
