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
(a syncing member is never timed out) and holds the proposals behind the stream, below the
queue bound, and the follower completes once continued. The stop is made by polling the
received file; when the whole file arrived before the poller could stop the follower (a loaded
machine can cause that), the case is tried again after more writes, at most three times. The
streaming member is whoever leads at the time (a loaded machine can cause an election).

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
# small records; large ones (multis): test_catchup_pending.py.
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


def offsets(ens):
    return {i: ens.log_size(i) for i in range(1, ens.n + 1)}


def wait_any_log(ens, offs, pattern, timeout):
    """Waits until some member's log after its offset in offs matches; returns (member, match).
    The streaming member is the leader of the moment, which a loaded machine may change."""
    rx = re.compile(pattern)

    def find():
        for i, off in offs.items():
            m = rx.search(ens.log_since(i, off))
            if m:
                return i, m
        return None
    return wait_for(find, timeout, "a member to log /%s/" % pattern)


def stop(ens, i):
    """SIGSTOP member i and wait until it is stopped (delivery is asynchronous: a write in
    progress still completes)."""
    ens.signal(i, signal.SIGSTOP)

    def stopped():
        with open("/proc/%d/stat" % ens.pid(i)) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("T", "t")
    wait_for(stopped, 5, "member %d to stop" % i, interval=0.001)


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
    WRITTEN.append((root, nodes))
    ledger.write(root.strip("/") + "-behind")
    wait_for(lambda: snapshot_children_done(ens, leader), 60, "the leader's snapshots to finish")
    assert ens.leader() == leader
    newest = lambda i: max(glob.glob(os.path.join(ens.snap_dir(i), "snapshot.????????????????")))
    assert os.path.basename(newest(leader)) > os.path.basename(newest(f)), \
        "the leader has no snapshot newer than the follower's: nothing would be transferred"
    return leader, f


WRITTEN = []  # (root, nodes) of every fill of this module: all of it acknowledged


def check_rejoined(ens, ledger, f, trees=None):
    """f serves as a follower, every member has the same zxid and digest, and f alone holds
    every acknowledged write (the ledger's and every leaf of trees, by default all fills)."""
    wait_for(lambda: ens.mode(f) == "follower", 30, "member %d to serve as a follower" % f)
    zxid, digest = ens.converged(60)
    ledger.write("after-%d" % len(ledger.acked))
    ledger.check_all("after the catch-up")
    with ens.member_client(f) as c:
        for root, nodes in (trees if trees is not None else WRITTEN):
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


def cut_mid_transfer(ens, f, off_f, timeout=30):
    """Polls f's snapshot directory until the file being received has CUT_AT bytes, then stops
    f (SIGSTOP): no byte is written after that. Returns (partial path, its size), or None if
    the whole file arrived first (f is then running): the ~30 ms from CUT_AT to the end can pass
    while a loaded machine does not schedule this test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = partial_file(ens, f)
        try:
            if p and os.path.getsize(p) >= CUT_AT:
                stop(ens, f)
                if os.path.exists(p):
                    return p, os.path.getsize(p)
                ens.signal(f, signal.SIGCONT)  # renamed just before the stop: complete
                return None
        except OSError:
            return None  # renamed between glob and stat: complete
        if "installed the leader's snapshot" in ens.log_since(f, off_f):
            return None
        time.sleep(0.0005)
    pytest.fail("member %d never had a partial snapshot file within %ds" % (f, timeout))


def behind_and_cut(ens, ledger, root, tries=3):
    """put_behind, start the follower and stop it (SIGSTOP) in the middle of its stream; when
    the whole file arrived before the stop, let it finish and try again with more writes.
    Returns (streaming member, f, partial path, bytes at the stop, file size, log offsets)."""
    for attempt in range(tries):
        _, f = put_behind(ens, ledger, "%s-%d" % (root, attempt), MORE_NODES)
        offs = offsets(ens)
        ens.start(f)
        cut = cut_mid_transfer(ens, f, offs[f])
        streamer, m = wait_any_log(ens, offs, STREAM_START % f, 30)
        size = int(m.group(2))
        if cut and 0 < cut[1] < size:
            return streamer, f, cut[0], cut[1], size, offs
        if cut:
            ens.signal(f, signal.SIGCONT)
        ens.wait_log(f, offs[f], INSTALLED, 60)
        ens.converged(60)
        print("attempt %d: the whole file arrived before the stop; again" % attempt)
    pytest.fail("could not stop member %d in the middle of a stream in %d attempts" % (f, tries))


STREAM_START = r"catch-up of member %d: snapshot 0x([0-9a-f]+) \((\d+) bytes\)"
STREAM_SENT = r"catch-up of member %d: stream to 0x([0-9a-f]+) sent"
INSTALLED = r"installed the leader's snapshot: state at zxid 0x([0-9a-f]+) \((\d+) znodes\)"
RESUME = r"catch-up: asking member (\d+) to resume at byte (\d+)"


def test_follower_rejoins_through_streamed_snapshot(ens, ledger):
    ledger.write("before")
    _, f = put_behind(ens, ledger, "/catchup", NODES)
    offs = offsets(ens)
    t0 = time.monotonic()
    ens.start(f)
    streamer, m = wait_any_log(ens, offs, STREAM_START % f, 30)
    size = int(m.group(2))
    assert size > 8 * QUEUE_KB * 1024, "snapshot of %d bytes: not many times the queue bound" % size
    sent = ens.wait_log(streamer, offs[streamer], STREAM_SENT % f, 60)
    inst = ens.wait_log(f, offs[f], INSTALLED, 60)
    assert int(inst.group(2)) > NODES
    assert int(sent.group(1), 16) == int(inst.group(1), 16)
    t_installed = time.monotonic() - t0
    zxid, digest = check_rejoined(ens, ledger, f)
    leader_log = ens.log_since(streamer, offs[streamer])
    # paced below the queue bound: the link was never reset for a full queue. (That the stream
    # is never dropped at all is test_catchup_pending.py's: an open bug drops it now and then.)
    assert "send queue full" not in leader_log and "could not keep up" not in leader_log, \
        leader_log[-2000:]
    print("catch-up: snapshot 0x%s of %d bytes (queue bound %d KiB), installed %.2fs after the "
          "restart; zxid %s digest %s" % (m.group(1), size, QUEUE_KB, t_installed, zxid, digest))


def test_stream_cut_by_kill_resumes(ens, ledger):
    _, f, partial, at_stop, size, _ = behind_and_cut(ens, ledger, "/cut-kill")
    ens.kill(f)  # SIGKILL ends a stopped process too
    have = os.path.getsize(partial)
    assert have == at_stop
    offs = offsets(ens)
    ens.start(f)
    r = ens.wait_log(f, offs[f], RESUME, 30)
    streamer = int(r.group(1))
    assert int(r.group(2)) == have > 0
    ens.wait_log(streamer, offs[streamer],
                 r"catch-up of member %d resumes at byte %d of %d" % (f, have, size), 10)
    ens.wait_log(streamer, offs[streamer], STREAM_SENT % f, 60)
    ens.wait_log(f, offs[f], INSTALLED, 60)
    assert partial_file(ens, f) is None
    check_rejoined(ens, ledger, f)
    print("cut by SIGKILL at byte %d of %d; resumed there" % (have, size))


def test_stream_paused_continues(ens, ledger):
    """A follower stopped (SIGSTOP) in the middle of its stream for longer than syncLimit, while
    the ensemble takes writes: the leader keeps the link and holds the follower's proposals
    behind the stream (below the queue bound); once continued, the follower gets the rest of the
    file, the log, then the held proposals in order, and serves with every write."""
    streamer, f, _, at_stop, size, offs = behind_and_cut(ens, ledger, "/pause")
    t_stop = time.monotonic()
    try:
        for k in range(PAUSED_WRITES):
            ledger.write("paused-%d" % k)
        # the stimulus: a pause longer than syncLimit x tickTime (5 x 500 ms)
        time.sleep(max(0.0, PAUSE_S - (time.monotonic() - t_stop)))
    finally:
        ens.signal(f, signal.SIGCONT)
    wait_any_log(ens, offs, STREAM_SENT % f, 60)
    ens.wait_log(f, offs[f], INSTALLED, 60)
    check_rejoined(ens, ledger, f)
    leader_log = ens.log_since(streamer, offs[streamer])
    assert "send queue full" not in leader_log and "could not keep up" not in leader_log, \
        "the held proposals overflowed the link's queue: %s" % leader_log[-2000:]
    # Whether the stream went on or was restarted is not checked here: an open bug drops it
    # now and then (test_catchup_pending.py); either way the follower must end up whole.
    restarted = "asking member" in ens.log_since(f, offs[f])
    print("paused at byte %d of %d for %.1fs with %d writes held; the stream %s" % (
        at_stop, size, PAUSE_S, PAUSED_WRITES, "was restarted" if restarted else "went on"))
