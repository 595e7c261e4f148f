"""Issue 10 regression tests that FAIL on the current server: open bugs, kept here (not registered
in ctest) until src/ is fixed; then move each case into test_robustness_peer.py. (The compat
divergences have all been fixed and live in tests/compat/test_divergences.py.) Each case is its
own reproducer, against a real 3-member ensemble (deploy/localcluster, ports 25401..25423: do not
run it alongside ctest's integ_robustness_peer).

  /usr/bin/python3 -m pytest tests/integration/test_robustness_pending.py

1. One forged FOLLOWERINFO (any epoch the range check accepts, even the current one) in the name
   of a follower, sent once to the leader, resets that follower's session on the leader: the real
   follower hears nothing for syncLimit, loses the quorum and disconnects its clients. Sent as
   every follower, the whole ensemble drops every client for ~3 s; repeated, for as long as the
   forger goes on.
"""
import os
import struct
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "compat"))
from ensemble import (Ensemble, frame, hello, peer_send_and_wait_closed,  # noqa
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


def test_one_forged_followerinfo_costs_no_quorum(ens):
    leader, fols = roles(ens)
    zk = ens.client(fols)
    states = []
    zk.add_listener(states.append)
    try:
        epoch = zxid_epoch(ens.converged()[0])
        offs = {i: ens.log_size(i) for i in range(1, ens.n + 1)}
        for f in fols:
            payload = hello(f, ens) + \
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
