"""Bad input on a member's peer port (base+10+id) of a real 3-member ensemble: it must be refused
with a log line and have no effect. After each case the member still runs, the ensemble still
takes writes, zk_last_zxid/zk_tree_digest did not move because of the input, and the member's
server.log says why it refused.

Peer framing (src/server/peer.c): 4-byte big-endian length, then the frame. The first frame is the
hello: magic 0x5a41424b, version 2, sender id, the sender's peer port and host (a member outside
the receiver's configuration gets a link back there: a joiner). Later frames are msgpack Zab messages
(src/consensus/msg.c): a 12-element array [type, flags, state, tag, leader, epoch, epoch2, zxid,
zxid2, nonce, bin data, layout version 1].
"""
import os
import random
import re
import struct
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ensemble import (Ensemble, wait_for, frame, hello, zab_msg, PEER_MAGIC,  # noqa: E402
                      peer_send_and_wait_closed as send_and_wait_closed, PEER_FRAME_MAX_PROBE,
                      MSG_PROPOSAL, MSG_COMMIT, MSG_ACK)

kazoo_client = pytest.importorskip("kazoo.client")


@pytest.fixture(scope="module")
def ens():
    e = Ensemble(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                              "cluster", "integ-peer"), 24800)
    e.up(3)
    yield e
    e.down()


@pytest.fixture(scope="module")
def zk(ens):
    c = kazoo_client.KazooClient(hosts=ens.hosts(), timeout=8.0)
    c.start(timeout=15)
    c.ensure_path("/bad")
    yield c
    c.stop()
    c.close()


# ---- checks shared by every case

def snapshot(ens):
    zxid, digest = ens.converged()
    return {"zxid": zxid, "digest": digest, "pids": {i: ens.pid(i) for i in (1, 2, 3)}}


def check_no_effect(ens, zk, before, case):
    for i in (1, 2, 3):
        assert ens.alive(i) and ens.pid(i) == before["pids"][i], \
            "%s: member %d died or restarted" % (case, i)
    zxid, digest = ens.converged()
    assert (zxid, digest) == (before["zxid"], before["digest"]), \
        "%s changed the replicated state: %s/%s -> %s/%s" % (
            case, before["zxid"], before["digest"], zxid, digest)
    # the ensemble still takes writes, and they reach every member
    path = zk.create("/bad/after-%s-" % case, b"ok", sequence=True)
    zxid2, digest2 = ens.converged()
    assert zxid2 != zxid and digest2 != digest
    for i in (1, 2, 3):
        assert path.rsplit("/", 1)[1] in ens_children(ens, i), "member %d lacks %s" % (i, path)


def ens_children(ens, i):
    c = kazoo_client.KazooClient(hosts=ens.hosts([i]), timeout=8.0)
    c.start(timeout=15)
    try:
        return c.get_children("/bad")
    finally:
        c.stop()
        c.close()


def wait_log(ens, member, offset, pattern, what, timeout=5.0):
    rx = re.compile(pattern)

    def found():
        return [l for l in ens.log_since(member, offset).splitlines() if rx.search(l)]
    try:
        lines = wait_for(found, timeout, what)
    except pytest.fail.Exception:
        pytest.fail("member %d's server.log has no line matching %r (%s); it logged:\n%s" % (
            member, pattern, what, ens.log_since(member, offset)[-3000:]))
    print("LOG member %d: %s" % (member, lines[0]))
    return lines


# ---- cases

def test_random_garbage(ens, zk):
    before = snapshot(ens)
    off = ens.log_size(1)
    rnd = random.Random(4)
    junk = bytes(rnd.randrange(256) for _ in range(4096))
    junk = b"\xde\xad" + junk[2:]  # a length no frame has: refused before any parsing
    assert send_and_wait_closed(ens, 1, junk), "member 1 kept a garbage connection open"
    wait_log(ens, 1, off, r"peer connection from member 0 closed: frame length out of range",
             "garbage refused")
    check_no_effect(ens, zk, before, "garbage")


def test_hello_sized_garbage(ens, zk):
    before = snapshot(ens)
    off = ens.log_size(2)
    assert send_and_wait_closed(ens, 2, frame(bytes(range(16)))), "connection not closed"
    wait_log(ens, 2, off, r"peer port: a connection that does not speak zabkeeper's peer protocol",
             "bad magic refused")
    check_no_effect(ens, zk, before, "badmagic")


def test_unknown_member_id(ens, zk):
    """A member id outside the configuration is taken for a joiner: the member links back to
    the address of its hello (here a port nobody listens on) and its forged COMMIT changes
    nothing."""
    before = snapshot(ens)
    off = ens.log_size(1)
    payload = hello(9, ens, port=1) + frame(zab_msg(MSG_COMMIT, epoch=0xFFFF, zxid=1 << 62)) + \
        struct.pack(">I", PEER_FRAME_MAX_PROBE)
    assert send_and_wait_closed(ens, 1, payload), "member 1 kept the connection open"
    wait_log(ens, 1, off, r"member 9 \(127.0.0.1:1\) is not in our configuration: linking back",
             "a learner link to the unknown id")
    check_no_effect(ens, zk, before, "unknownid")


@pytest.mark.parametrize("claimed", [0, 256, 1 << 31])
def test_impossible_member_id(ens, zk, claimed):
    before = snapshot(ens)
    off = ens.log_size(2)
    assert send_and_wait_closed(ens, 2, hello(claimed, ens, port=1)), "connection not closed"
    wait_log(ens, 2, off, r"peer port: a hello claiming member id %d; refused" % claimed,
             "impossible id refused")
    check_no_effect(ens, zk, before, "impossibleid")


def test_own_member_id(ens, zk):
    before = snapshot(ens)
    off = ens.log_size(3)
    assert send_and_wait_closed(ens, 3, hello(3, ens)), "connection not closed"
    wait_log(ens, 3, off, r"peer port: a hello claiming member id 3; refused", "own id refused")
    check_no_effect(ens, zk, before, "ownid")


def test_old_hello_version(ens, zk):
    before = snapshot(ens)
    off = ens.log_size(3)
    old = frame(struct.pack(">IIII", PEER_MAGIC, 1, 2, 0x12345678))
    assert send_and_wait_closed(ens, 3, old), "connection not closed"
    wait_log(ens, 3, off, r"peer port: a connection that does not speak zabkeeper's peer protocol",
             "version 1 hello refused")
    check_no_effect(ens, zk, before, "oldversion")


def test_self_check_hello_is_right(ens):
    """The hello this file builds is the one the members use: it is accepted - else the cases around it would prove nothing. Proof: a following oversized frame
    is refused as coming from that member (the hello set the connection's member id)."""
    leader = ens.leader()
    follower = next(i for i in (1, 2, 3) if i != leader)
    other = next(i for i in (1, 2, 3) if i not in (leader, follower))
    off = ens.log_size(follower)
    payload = hello(other, ens) + struct.pack(">I", PEER_FRAME_MAX_PROBE)
    assert send_and_wait_closed(ens, follower, payload)
    wait_log(ens, follower, off,
             r"peer connection from member %d closed: frame length out of range" % other,
             "the hello accepted")
    log = ens.log_since(follower, off)
    assert "refused" not in log and "does not speak" not in log, log
    ens.converged()


def old_epoch_case(ens, zk, target, impersonate, msgs, case):
    before = snapshot(ens)
    off = ens.log_size(target)
    epoch = int(before["zxid"], 16) >> 32
    assert epoch >= 1, before
    # valid hello, then the old-epoch messages, then an oversized frame header: the member
    # handles frames in order, so when it closes the connection for the last one it has
    # processed the messages
    payload = hello(impersonate, ens) + b"".join(frame(m) for m in msgs) + \
        struct.pack(">I", PEER_FRAME_MAX_PROBE)
    assert send_and_wait_closed(ens, target, payload), "member %d kept the connection" % target
    wait_log(ens, target, off,
             r"peer connection from member %d closed: frame length out of range" % impersonate,
             "the messages were processed")
    check_no_effect(ens, zk, before, case)
    # the refusal of the old-epoch messages themselves must be logged
    wait_log(ens, target, off, r"(?i)(epoch|stale|old).*(refus|ignor|drop|reject)|"
             r"(refus|ignor|drop|reject).*(epoch|stale)",
             "a log line about the old-epoch message", timeout=1.0)


def test_old_epoch_proposal_and_commit_to_follower(ens, zk):
    """A message from 'the leader' (its id, a valid hello) from epoch 0: a PROPOSAL of a txn and a
    COMMIT of everything. A follower must not log, apply or ack it."""
    leader = ens.leader()
    follower = next(i for i in (1, 2, 3) if i != leader)
    zxid = int(snapshot(ens)["zxid"], 16)
    junk_txn = b"\x00\x00\x00\x01" + b"/bad/evil" + bytes(32)
    msgs = [zab_msg(MSG_PROPOSAL, epoch=0, zxid=(zxid & 0xFFFFFFFF) + 1, zxid2=zxid & 0xFFFFFFFF,
                    data=junk_txn),
            zab_msg(MSG_COMMIT, epoch=0, zxid=(zxid & 0xFFFFFFFF) + 1),
            zab_msg(MSG_PROPOSAL, epoch=0, zxid=zxid + 1, zxid2=zxid, data=junk_txn),
            zab_msg(MSG_COMMIT, epoch=0, zxid=zxid + 1)]
    old_epoch_case(ens, zk, follower, leader, msgs, "oldepoch-to-follower")


def test_old_epoch_ack_to_leader(ens, zk):
    """ACKs from 'a follower' in epoch 0 for zxids the leader has not even proposed."""
    leader = ens.leader()
    follower = next(i for i in (1, 2, 3) if i != leader)
    zxid = int(snapshot(ens)["zxid"], 16)
    msgs = [zab_msg(MSG_ACK, epoch=0, zxid=zxid + 5), zab_msg(MSG_ACK, epoch=0, zxid=1 << 40)]
    old_epoch_case(ens, zk, leader, follower, msgs, "oldepoch-to-leader")
