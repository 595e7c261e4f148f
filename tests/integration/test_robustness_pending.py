"""Issue 10 regression tests that FAIL on the current server: open bugs, kept here (not registered
in ctest) until src/ is fixed; then move each case into test_robustness_peer.py. Each case is its
own reproducer, against a real 3-member ensemble (deploy/localcluster, ports 25401..25423: do not
run it alongside ctest's integ_robustness_peer).

  /usr/bin/python3 -m pytest tests/integration/test_robustness_pending.py

1. Peer frames are bounded only by PEER_FRAME_MAX (256 MiB, src/server/peer.h), for every sender:
   after a forged hello a frame header announcing 256 MiB is accepted and the member buffers
   whatever follows (measured: +100 MB RSS for 96 MiB sent, kept after the close).
2. One forged FOLLOWERINFO (any epoch the range check accepts, even the current one) in the name
   of a follower, sent once to the leader, resets that follower's session on the leader: the real
   follower hears nothing for syncLimit, loses the quorum and disconnects its clients. Sent as
   every follower, the whole ensemble drops every client for ~3 s; repeated, for as long as the
   forger goes on.
3. A forwarded REQUEST holding a deleteContainer of session 0 passes the leader's check of
   forwarded requests (validate_submission accepts session 0 on the leader, as if the leader had
   made it) and reaches the core; only the forger's ignorance of the sync nonce keeps it from
   being proposed. No "forwarded an invalid request" line is logged.
"""
import os
import socket
import struct
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "compat"))
from ensemble import (Ensemble, fingerprint, frame, hello, peer_send_and_wait_closed,  # noqa
                      txnrec, zab_msg, zxid_epoch, MSG_FOLLOWERINFO, MSG_REQUEST,
                      PEER_FRAME_MAX_PROBE)
import zkwire  # noqa: E402

pytest.importorskip("kazoo.client")
from kazoo.protocol.states import KazooState  # noqa: E402


@pytest.fixture(scope="module")
def ens():
    e = Ensemble(os.path.join(HERE, "..", "..", "cluster", "integ-robust-pending"), 25400)
    e.up(3)
    yield e
    e.down()


def roles(ens):
    leader = ens.leader()
    return leader, [i for i in range(1, ens.n + 1) if i != leader]


def test_peer_frames_are_bounded(ens):
    leader, fols = roles(ens)
    fp = fingerprint(ens)
    # to the leader as a follower, and to a follower as the other follower: neither ever sends
    # a frame anywhere near 256 MiB (only a leader's SNAP can be large)
    for target, sender in ((leader, fols[0]), (fols[0], fols[1])):
        rss0 = ens.rss_kb(target)
        s = socket.create_connection(("127.0.0.1", ens.peer_port(target)), 5)
        s.settimeout(5)
        s.sendall(hello(sender, fp) + struct.pack(">I", 256 << 20))
        sent, closed = 0, False
        chunk = b"\0" * (1 << 20)
        try:
            while sent < (96 << 20):
                s.sendall(chunk)
                sent += len(chunk)
        except OSError:
            closed = True
        grown = ens.rss_kb(target) - rss0
        s.close()
        print("FRAME: member %d took %d MiB of a 256 MiB frame from 'member %d'; RSS +%d kB" % (
            target, sent >> 20, sender, grown))
        assert ens.alive(target)
        assert closed and grown < 32 * 1024, \
            "member %d buffered %d MiB of a forged 256 MiB frame (RSS +%d kB)" % (
                target, sent >> 20, grown)


def test_one_forged_followerinfo_costs_no_quorum(ens):
    leader, fols = roles(ens)
    zk = ens.client(fols)
    states = []
    zk.add_listener(states.append)
    try:
        epoch = zxid_epoch(ens.converged()[0])
        offs = {i: ens.log_size(i) for i in range(1, ens.n + 1)}
        for f in fols:
            payload = hello(f, fingerprint(ens)) + \
                frame(zab_msg(MSG_FOLLOWERINFO, epoch=epoch, nonce=12345)) + \
                struct.pack(">I", PEER_FRAME_MAX_PROBE)
            assert peer_send_and_wait_closed(ens, leader, payload)
        time.sleep(2 * 5 * 0.5)  # twice syncLimit: a lost quorum would have shown by now
        lost = {i: [line for line in ens.log_since(i, offs[i]).splitlines()
                    if "lost the quorum" in line] for i in range(1, ens.n + 1)}
        print("FOLLOWERINFO: %s; client states %s" % (lost, states))
        assert not any(lost.values()), lost
        assert KazooState.SUSPENDED not in states, states
    finally:
        zk.stop()
        zk.close()


def test_forwarded_session0_record_is_refused_and_logged(ens):
    leader, fols = roles(ens)
    zk = ens.client()
    try:
        zkwire.kazoo_create_container_async(zk, "/pending-ctr").get(10)  # empty, never reaped
        zxid0 = ens.converged()
        off = ens.log_size(leader)
        rec = txnrec(0, 0, zkwire.OP_DELETE_CONTAINER, zkwire.ustring("/pending-ctr"))
        payload = hello(fols[0], fingerprint(ens)) + \
            frame(zab_msg(MSG_REQUEST, epoch=zxid_epoch(zxid0[0]), data=rec)) + \
            struct.pack(">I", PEER_FRAME_MAX_PROBE)
        assert peer_send_and_wait_closed(ens, leader, payload)
        assert ens.converged() == zxid0 and zk.exists("/pending-ctr")
        log = ens.log_since(leader, off)
        assert "forwarded an invalid request (%d bytes" % len(rec) in log, log
    finally:
        zk.stop()
        zk.close()
