"""Issue 11 regressions (fixed bugs, kept as tests): a snapshot child that finishes while the member
installs a leader's snapshot moves the member's "newest snapshot" back to its own older one,
whose file the install has just removed; if that member then leads, it cannot catch anyone up
with a snapshot until it writes a new one: `cannot stream a snapshot to member N (snapshot
0x<the child's zxid>...)` every sync attempt. With the old leader gone and the lagging member
needed for a quorum, no write can come to trigger that new snapshot: the ensemble is stuck.

src/server/storage.c: storage_install sets snap_latest to the installed snapshot and prunes the
other files (snapfile_prune(dir, 1)), but the next storage_poll reaps the child forked before the
install (e.g. the one started right after recovery, whose replay counted towards snapCount)
and snapshot_done sets snap_latest = the child's older zxid. catchup_start then looks for that
file and fails. (Had the file survived, the leader would stream it followed by the log after
*it*, while its log only starts after the installed snapshot: a silent gap. The install's prune
happens to prevent that.) The fix: snapshot_done ignores a result older than snap_latest.

Made deterministic with SIGSTOP on the member and its snapshot child (found as its child
process), snapCount=10000:
1. 300,000 znodes; follower F starts a snapshot child, which is stopped; 12,000 more txns (so F's
   log holds more than snapCount records past its newest finished snapshot); F and its child are
   SIGKILLed; 12,000 more txns without F (the leader snapshots past F's state).
2. F restarts: its replay starts a snapshot child at once (stopped); F is stopped while it loads
   the leader's file (it holds it open), the child is continued until it exits, and F goes on:
   its install removes the child's file, then it reaps the child.
3. The other follower G is killed, 2,000 txns, the leader is killed and G started: F leads and
   must catch G up with a snapshot.
Expected: F streams its newest file and G converges. Now: `cannot stream a snapshot`.

A second bug here: the snapshot child inherited the member's sockets (src/server/
snapshotter.c forks and writes without closing anything). When the member is SIGKILLed while a
child still writes (seconds for a big tree), the child keeps the client and peer listening
sockets: the restarted member cannot bind them (`cannot bind peer port ...: Address already in
use; retrying`) until the child exits, and clients connecting meanwhile wait in a backlog nobody
accepts instead of being refused and moving on. The fix: the child closes every inherited
descriptor (Redis's child closes its listeners for the same reason) and asks for
PR_SET_PDEATHSIG. test_snapshot_child_dies_with_its_member holds the child with SIGSTOP (a long
snapshot), SIGKILLs the member, expects the child to die with it and the restarted member to
serve within 10 s.

ctest: integ_snapshots_install.
"""
import glob
import os
import signal
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from ensemble import Ensemble, fill, wait_for, zkbench_bin  # noqa: E402
from test_catchup import INSTALLED, STREAM_START  # noqa: E402

CANNOT = r"cannot stream a snapshot to member %d \(snapshot 0x([0-9a-f]+)"

pytest.importorskip("kazoo.client")


@pytest.fixture()
def ens():  # a fresh ensemble per test: the first bug leaves its ensemble without a quorum
    e = Ensemble(os.path.join(HERE, "..", "..", "cluster", "integ-snapshots-install"), 25860)
    e.up(3, ["snapCount=10000"])
    yield e
    e.down()


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def holds_sockets(pid):
    try:
        return any(os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:")
                   for fd in os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return False


def stop_snapshot_child(ens, i, timeout=30):
    """Waits for member i's snapshot child (its only child process) to be past its first steps
    (it has closed the member's sockets and asked to die with it) and stops it (SIGSTOP). A
    child stopped in the microseconds between fork and those steps would be a race of the
    test's making, not one a member meets."""
    kids = wait_for(lambda: children(ens.pid(i)), timeout, "member %d to fork a snapshot" % i,
                    interval=0.0005)
    wait_for(lambda: not holds_sockets(kids[0]), 5, "the snapshot child to close the sockets",
             interval=0.0005)
    os.kill(kids[0], signal.SIGSTOP)
    return kids[0]


def newest_file(ens, i):
    return max(int(os.path.basename(f).split(".")[1], 16)
               for f in glob.glob(os.path.join(ens.snap_dir(i), "snapshot.????????????????")))


def state_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def loading_newer_snapshot(ens, i, than):
    """Member i holds a finished snapshot file newer than zxid `than` open (it is loading it)."""
    fds = "/proc/%d/fd" % ens.pid(i)
    try:
        for fd in os.listdir(fds):
            target = os.readlink(os.path.join(fds, fd))
            name = os.path.basename(target)
            if (os.path.dirname(target) == os.path.realpath(ens.snap_dir(i)) and
                    len(name) == 25 and name.startswith("snapshot.") and
                    int(name[9:], 16) > than):
                return True
    except (OSError, ValueError):
        pass
    return False


def test_leader_streams_its_newest_snapshot_after_an_install(ens):
    fill(ens, "/base", 300000, batch=1)
    leader = ens.leader()
    f, g = [i for i in range(1, ens.n + 1) if i != leader]
    # 1. F's log gets more than snapCount records past its newest finished snapshot
    load = subprocess.Popen([zkbench_bin(), "fill", "--connect", ens.hosts(), "--root", "/more",
                             "--nodes", "300000"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        child = stop_snapshot_child(ens, f, timeout=120)  # F forks one during this load
    finally:
        load.terminate()  # the load was only there to make F snapshot
        load.wait(timeout=60)
    fill(ens, "/past-snapcount", 12000, batch=1)
    f_zxid = ens.converged(60)[0]  # F's state when it dies
    ens.kill(f)
    try:
        os.kill(child, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it already died with F (the child asks for that: PR_SET_PDEATHSIG)
    # more than snapCount txns without F: the leader has a snapshot newer than F's state
    fill(ens, "/behind", 12000, batch=1, ids=[leader, g])
    # the leader's snapshot child runs at low priority: let it finish one past F's state
    wait_for(lambda: newest_file(ens, leader) > int(f_zxid, 0), 120,
             "member %d to finish a snapshot newer than member %d's state" % (leader, f))
    # 2. F's replay starts a snapshot child (stopped); F receives the leader's file and is
    # stopped (SIGSTOP) before or while installing it; the child then finishes; F goes on
    off_f = ens.log_size(f)
    ens.start(f)
    child = stop_snapshot_child(ens, f)
    rec = ens.wait_log(f, off_f, r"recovered: state at zxid 0x([0-9a-f]+)", 30)
    recovered = int(rec.group(1), 16)
    # F is stopped while it loads the leader's file (the install holds it open), the child is
    # let finish (its file renamed into place), then F goes on: the install removes the child's
    # older file and only then does F reap the child
    wait_for(lambda: loading_newer_snapshot(ens, f, recovered), 120,
             "member %d to load the leader's snapshot" % f, interval=0.0005)
    ens.signal(f, signal.SIGSTOP)
    try:
        os.kill(child, signal.SIGCONT)
        wait_for(lambda: state_of(child) in ("Z", "gone"), 60, "the snapshot child to finish")
    finally:
        ens.signal(f, signal.SIGCONT)
    inst = ens.wait_log(f, off_f, INSTALLED, 60)
    ens.wait_log(f, off_f, r"snapshot at zxid 0x%s (written in|finished after a newer install)"
                 % rec.group(1), 30)
    installed = int(inst.group(1), 16)
    newest = newest_file(ens, f)
    ens.converged(60)
    # 3. F leads and must catch G up with a streamed snapshot
    ens.kill(g)
    fill(ens, "/g-behind", 2000, batch=1, ids=[leader, f])
    off_f = ens.log_size(f)
    ens.kill(leader)
    ens.start(g)
    try:
        m = ens.wait_log(f, off_f, STREAM_START % g + "|" + CANNOT % g, 60)
        assert m.group(0).startswith("catch-up"), (
            "member %d cannot stream to member %d: %s (its newest file is 0x%x, installed "
            "0x%x; its child's snapshot of 0x%x finished after the install)" % (
                f, g, m.group(0), newest, installed, recovered))
        streamed = int(m.group(1), 16)
        assert streamed >= newest, (
            "member %d streamed snapshot 0x%x to member %d, older than its newest file 0x%x "
            "(its log starts after 0x%x): the records in between are missing" % (
                f, streamed, g, newest, installed))
        ens.start(leader)
        ens.converged(60)
    finally:
        if not ens.alive(leader):
            ens.start(leader)


def test_snapshot_child_dies_with_its_member(ens):
    leader = ens.leader()
    f = next(i for i in range(1, ens.n + 1) if i != leader)
    load = subprocess.Popen([zkbench_bin(), "fill", "--connect", ens.hosts(), "--root",
                             "/child-%d" % f, "--nodes", "30000"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        child = stop_snapshot_child(ens, f)  # a snapshot that takes long
    finally:
        assert load.wait(timeout=120) == 0
    try:
        ens.kill(f)
        # the child asked to die with the member (PR_SET_PDEATHSIG), stopped or not: it never
        # keeps the member's ports or writes a file for a member that is gone
        wait_for(lambda: state_of(child) in ("Z", "gone"), 10,
                 "the snapshot child (pid %d) to die with member %d" % (child, f))
        ens.start(f)
        wait_for(lambda: ens.mode(f) == "follower", 10, "member %d to serve again" % f)
    finally:
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
    ens.converged(60)
