"""Issue 11 regression (a fixed bug, kept as a test): a streamed catch-up whose log part is made
of large records was dropped half-way in most runs (5 of 6): `catch-up of member N: the log
has no record after 0x<a zxid it just sent> up to 0x...`, `catch-up of member N stopped: send or
read failed`; the member gets the whole stream again at its next sync (and is usually caught up
by then, but a leader under steady load may keep dropping it).

History: first, catch-up paced the snapshot file below peerQueueMaxKB but sent up to 1024 log
records at once; with records of ~8 KB (multis of 100 creates, as Curator or a bulk loader
sends) that was ~8 MB in one go, far above peerQueueMaxKB=2048, the link was reset at every
resync and the follower never rejoined (593 resets in 60 s). b35c451 paces the records too, but
send_record (src/member/catchup.c) stopped as soon as the link held a window's worth *before*
counting the record it had just sent, so when the first record of a pump filled the window,
pump_log saw none sent with records still to go, took it for a hole in the log and dropped the
stream. Fixed: the record is counted before the window check.

Same scenario as test_catchup.py's first case, with the tree written as multis of 100 creates
and snapCount=1000 (so the log after the leader's snapshot holds up to ~1000 such records, ~8 MB).
Expected: the follower installs the leader's snapshot without the stream being cut, and holds
every write (ctest: integ_catchup_records).
"""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from ensemble import Ensemble, Ledger  # noqa: E402
from test_catchup import (INSTALLED, QUEUE_KB, STREAM_START, check_rejoined,  # noqa: E402
                          put_behind)

pytest.importorskip("kazoo.client")

NODES = 300000


@pytest.fixture(scope="module")
def ens():
    e = Ensemble(os.path.join(HERE, "..", "..", "cluster", "integ-catchup-records"), 25660)
    e.up(3, ["peerQueueMaxKB=%d" % QUEUE_KB, "snapCount=1000"])
    yield e
    e.down()


def test_catchup_with_large_log_records(ens):
    zk = ens.client()
    try:
        ledger = Ledger(ens, zk, "/ledger")
        leader, f = put_behind(ens, ledger, "/bulk", NODES, batch=100)
        off_l, off_f = ens.log_size(leader), ens.log_size(f)
        ens.start(f)
        ens.wait_log(leader, off_l, STREAM_START % f, 30)
        try:
            ens.wait_log(f, off_f, INSTALLED, 60)
        except pytest.fail.Exception:
            log = ens.log_since(leader, off_l)
            pytest.fail("member %d never installed the leader's snapshot: the leader reset the "
                        "link %d times (send queue full) and restarted the stream %d times" % (
                            f, log.count("send queue full"),
                            log.count("catch-up of member %d: snapshot" % f)))
        check_rejoined(ens, ledger, f, [("/bulk", NODES)])
        log = ens.log_since(leader, off_l)
        assert "send queue full" not in log and "catch-up of member %d stopped" % f not in log, \
            "the stream was cut: %s" % log[-2000:]
    finally:
        zk.stop()
        zk.close()
