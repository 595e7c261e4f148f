"""Issue 11: catch-up of a follower through a streamed snapshot, on a real 3-member ensemble.

Members run with peerQueueMaxKB=2048 (so the snapshot is many times the bound of a peer link's
queue and must be paced through it) and snapCount=50000 (so snapshot files exist and the log is
purged behind them). A follower is killed, a tree of a few hundred thousand znodes is written
(zkbench fill: async creates, 256 in flight: far more txns than the leader's 1000-entry DIFF
window, so the follower needs a SNAP), and the follower is started again. It must rejoin through
the leader's newest snapshot file streamed in chunks plus the log after it: the leader logs
`catch-up of member N: snapshot ...` and `stream to ... sent`, the follower `installed the
leader's snapshot`; it then serves as a follower with the others' zxid and tree digest, and holds
every acknowledged write (the whole filled tree and a Ledger of single writes, read from it
alone). A second case cuts the stream in the middle by SIGKILL: the follower keeps the bytes it
has (snapshot.<zxid>.partial), asks the leader to resume at that byte when restarted (`asking
member N to resume at byte X`, X > 0, and the leader skips to it) and completes. A third pauses
the follower mid-stream (SIGSTOP) past syncLimit while writes go on: the leader keeps the link
(a syncing member is never timed out) and the stream, with the held proposals after it,
completes once the follower continues.

Run by ctest (integ_catchup) or by hand (needs a built zkbench, see ensemble.zkbench_bin):
/usr/bin/python3 -m pytest tests/integration/test_catchup.py
"""
import glob
import os
import re
import signal
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from ensemble import Ensemble, Ledger, fill, missing_leaves, wait_for  # noqa: E402

pytest.importorskip("kazoo.client")

QUEUE_KB = 2048
# Plain creates (one ~130-byte log record each): the log streamed after the snapshot stays in
# small records. Large records (multis) hit a bug: test_catchup_pending.py.
CONFIG = ["peerQueueMaxKB=%d" % QUEUE_KB, "snapCount=50000"]
NODES = 300000       # first catch-up: ~27 MB of snapshot, 13x the queue bound
MORE_NODES = 60000   # each cut case: more txns than the 1,000-entry DIFF window and snapCount
                     # (the leader then has a snapshot file the follower never had)
BATCH = 1
PAUSE_S = 3.0        # longer than syncLimit x tickTime
PAUSED_WRITES = 300  # proposals the leader holds behind the paused stream (~60 KB)


@pytest.fixture(scope="module")
def ens():
    e = Ensemble(os.path.join(HERE, "..", "..", "cluster", "integ-catchup"), 25600)
    e.up(3, CONFIG)
    yield e
    e.down()


@pytest.fixture(scope="module")
def ledger(ens):
    zk = ens.client()
    yield Ledger(ens, zk, "/ledger")
    zk.stop()
    zk.close()


def snapshot_children_done(ens, i):
    """Every snapshot member i started has finished (its newest file no longer changes)."""
    log = ens.log_since(i, 0)
    started = len(re.findall(r"snapshot at zxid 0x[0-9a-f]+ started", log))
    ended = len(re.findall(r"snapshot at zxid 0x[0-9a-f]+ (written in|failed)", log))
    return started == ended


def put_behind(ens, ledger, root, nodes, batch=BATCH):
    """Kills a follower and writes `nodes` znodes under root plus a ledger entry without it;
    waits until the leader's snapshot writer is idle, so its newest snapshot file (the one it
    will stream) stays the same until the follower is back. Returns (leader, follower)."""
    leader = ens.leader()
    f = next(i for i in range(1, ens.n + 1) if i != leader)
    ens.kill(f)
    live = [i for i in range(1, ens.n + 1) if i != f]
    res = fill(ens, root, nodes, batch=batch, ids=live)
    assert int(res["errors"]) == 0
    ledger.write(root.strip("/") + "-behind")
    wait_for(lambda: snapshot_children_done(ens, leader), 60, "the leader's snapshots to finish")
    assert ens.leader() == leader
    newest = lambda i: max(glob.glob(os.path.join(ens.snap_dir(i), "snapshot.????????????????")))
    assert os.path.basename(newest(leader)) > os.path.basename(newest(f)), \
        "the leader has no snapshot newer than the follower's: nothing would be transferred"
    return leader, f


def check_rejoined(ens, ledger, f, trees):
    """f serves as a follower, every member has the same zxid and digest, and f alone holds
    every acknowledged write."""
    wait_for(lambda: ens.mode(f) == "follower", 30, "member %d to serve as a follower" % f)
    zxid, digest = ens.converged(60)
    ledger.write("after-%d" % len(ledger.acked))
    ledger.check_all("after the catch-up")
    with ens.member_client(f) as c:
        for root, nodes in trees:
            missing = missing_leaves(c, root, nodes)
            assert not missing, "member %d lacks %d acknowledged znodes, e.g. %s" % (
                f, len(missing), missing[:5])
    return zxid, digest


def partial_file(ens, i):
    found = glob.glob(os.path.join(ens.snap_dir(i), "snapshot.*.partial"))
    return found[0] if found else None


# Where to cut: far beyond what a leader sends before a RESUME can reach it (its window, half
# the queue bound), so the resume visibly skips bytes; below the ~27 MB of the whole file.
CUT_AT = 8 * QUEUE_KB * 1024


def cut_mid_transfer(ens, f, timeout=30):
    """Polls f's snapshot directory until the file being received has CUT_AT bytes, then stops
    f at once (SIGSTOP): no byte is written after that. Returns (partial path, its size)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = partial_file(ens, f)
        try:
            if p and os.path.getsize(p) >= CUT_AT:
                ens.signal(f, signal.SIGSTOP)
                return p, os.path.getsize(p)
        except OSError:
            pass  # renamed between glob and stat: the transfer finished; fails below
        time.sleep(0.0005)
    pytest.fail("member %d never had a partial snapshot file within %ds" % (f, timeout))


STREAM_START = r"catch-up of member %d: snapshot 0x([0-9a-f]+) \((\d+) bytes\)"
STREAM_SENT = r"catch-up of member %d: stream to 0x([0-9a-f]+) sent"
INSTALLED = r"installed the leader's snapshot: state at zxid 0x([0-9a-f]+) \((\d+) znodes\)"
RESUME = r"catch-up: asking member %d to resume at byte (\d+)"


def test_follower_rejoins_through_streamed_snapshot(ens, ledger):
    ledger.write("before")
    leader, f = put_behind(ens, ledger, "/catchup", NODES)
    off_l, off_f = ens.log_size(leader), ens.log_size(f)
    t0 = time.monotonic()
    ens.start(f)
    m = ens.wait_log(leader, off_l, STREAM_START % f, 30)
    size = int(m.group(2))
    assert size > 8 * QUEUE_KB * 1024, "snapshot of %d bytes: not many times the queue bound" % size
    sent = ens.wait_log(leader, off_l, STREAM_SENT % f, 60)
    inst = ens.wait_log(f, off_f, INSTALLED, 60)
    assert int(inst.group(2)) > NODES
    assert int(sent.group(1), 16) == int(inst.group(1), 16)
    t_installed = time.monotonic() - t0
    zxid, digest = check_rejoined(ens, ledger, f, [("/catchup", NODES)])
    leader_log = ens.log_since(leader, off_l)
    assert "catch-up of member %d stopped" % f not in leader_log, \
        "the stream was cut although nothing interfered: %s" % leader_log[-2000:]
    assert "could not keep up" not in leader_log
    print("catch-up: snapshot 0x%s of %d bytes (queue bound %d KiB), installed %.2fs after the "
          "restart; zxid %s digest %s" % (m.group(1), size, QUEUE_KB, t_installed, zxid, digest))


def test_stream_cut_by_kill_resumes(ens, ledger):
    leader, f = put_behind(ens, ledger, "/cut-kill", MORE_NODES)
    off_l = ens.log_size(leader)
    ens.start(f)
    partial, at_stop = cut_mid_transfer(ens, f)
    m = ens.wait_log(leader, off_l, STREAM_START % f, 10)
    size = int(m.group(2))
    assert 0 < at_stop < size, "the cut came after the whole file (%d of %d bytes)" % (at_stop,
                                                                                     size)
    ens.kill(f)  # SIGKILL ends a stopped process too
    have = os.path.getsize(partial)
    assert have == at_stop
    off_l, off_f = ens.log_size(leader), ens.log_size(f)
    ens.start(f)
    r = ens.wait_log(f, off_f, RESUME % leader, 30)
    assert int(r.group(1)) == have > 0
    ens.wait_log(leader, off_l, r"catch-up of member %d resumes at byte %d of %d" % (f, have, size),
                 10)
    ens.wait_log(leader, off_l, STREAM_SENT % f, 60)
    ens.wait_log(f, off_f, INSTALLED, 60)
    assert partial_file(ens, f) is None
    check_rejoined(ens, ledger, f, [("/catchup", NODES), ("/cut-kill", MORE_NODES)])
    print("cut by SIGKILL at byte %d of %d; resumed there" % (have, size))


def test_stream_paused_continues(ens, ledger):
    """A follower stopped (SIGSTOP) in the middle of its stream for longer than syncLimit, while
    the ensemble takes writes: the leader keeps the link and holds the follower's proposals
    behind the stream (below the queue bound); once continued, the follower gets the rest of the
    file, the log, then the held proposals in order, and serves with every write."""
    leader, f = put_behind(ens, ledger, "/pause", MORE_NODES)
    off_l, off_f = ens.log_size(leader), ens.log_size(f)
    ens.start(f)
    _, at_stop = cut_mid_transfer(ens, f)
    t_stop = time.monotonic()
    try:
        m = ens.wait_log(leader, off_l, STREAM_START % f, 10)
        size = int(m.group(2))
        assert 0 < at_stop < size, "the pause came after the whole file (%d of %d bytes)" % (
            at_stop, size)
        for k in range(PAUSED_WRITES):
            ledger.write("paused-%d" % k)
        # the stimulus: a pause longer than syncLimit x tickTime (5 x 500 ms)
        time.sleep(max(0.0, PAUSE_S - (time.monotonic() - t_stop)))
    finally:
        ens.signal(f, signal.SIGCONT)
    ens.wait_log(leader, off_l, STREAM_SENT % f, 60)
    ens.wait_log(f, off_f, INSTALLED, 60)
    check_rejoined(ens, ledger, f, [("/catchup", NODES), ("/cut-kill", MORE_NODES),
                                    ("/pause", MORE_NODES)])
    assert "catch-up of member %d stopped" % f not in ens.log_since(leader, off_l)
    assert "asking member" not in ens.log_since(f, off_f), "the stream restarted"
    print("paused at byte %d of %d for %.1fs with %d writes held; the stream went on" % (
        at_stop, size, PAUSE_S, PAUSED_WRITES))
