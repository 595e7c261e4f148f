"""zabkeeper --import-zookeeper against real Apache ZooKeeper 3.8 (issue 15, migration).

1. A 3-member ZooKeeper ensemble (snapCount 2000, so several snapshots and logs, fuzzy ones
   among them) is loaded by kazoo with 10,000+ nodes: data of many sizes (empty to ~100 KB),
   digest and ip ACLs (some changed by setACL), sequentials (some deleted), containers and TTL
   nodes, create2, multis (one that fails), deletes and repeated setData so versions differ,
   and the ephemerals of a session that stays open. What ZooKeeper serves (data, full Stat and
   ACL of every node) is recorded. ZooKeeper's leader is then SIGKILLed (the other two elect a
   new one: a new epoch) and the other two are stopped with SIGTERM; the kazoo sessions stay open.
2. Each zabkeeper member is imported from its own ZooKeeper member's data directory (no member
   syncs from another to get the state) and the ensemble is started on the same client ports:
   every node equals what ZooKeeper served, the open session resumes with its ephemerals,
   sequential names continue, new zxids are above ZooKeeper's.
3. Damaged copies of the killed member's directory: a torn and a zero-filled log tail (the state
   ends at the last whole txn, as ZooKeeper ends it), a corrupted newest snapshot (the next one
   plus the logs give the same state), the whole history replayed from snapshot.0 (same state)
   and with a log missing (refused), an unreadable directory and a target holding zabkeeper data
   (refused, nothing written).

Ports: IMPORT_BASE_PORT (default 23400) + 1..3 client, +11..13 peer, +21..23 election (used by
ZooKeeper, then by zabkeeper), +31 a standalone zabkeeper for the damaged copies.
Run by ctest (import_zookeeper) or by hand:
  ZABKEEPER_BIN=build-import/src/server/zabkeeper /usr/bin/python3 -m pytest tests/import
"""
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(PROJECT, "tests", "integration"))
sys.path.insert(0, os.path.join(PROJECT, "tests", "compat"))
import zkfiles  # noqa: E402
import zkwire  # noqa: E402
from ensemble import Ensemble, wait_for  # noqa: E402
from serverprocs import Members, quorum_peer_main  # noqa: E402

kazoo_client = pytest.importorskip("kazoo.client")
from kazoo.protocol.states import KazooState  # noqa: E402
from kazoo.security import make_acl, make_digest_acl, make_digest_acl_credential  # noqa: E402

ZK_JAR = "/usr/share/java/zookeeper.jar"
if not shutil.which("java") or not os.path.exists(ZK_JAR):
    pytest.skip("java or %s missing: Apache ZooKeeper cannot run" % ZK_JAR,
                allow_module_level=True)

BIN = os.environ.get("ZABKEEPER_BIN", os.path.join(PROJECT, "build", "src", "server", "zabkeeper"))
LOCALCLUSTER = os.environ.get("ZIT_LOCALCLUSTER", os.path.join(PROJECT, "deploy", "localcluster"))
TOP = os.path.abspath(os.environ.get("IMPORT_DIR", "/tmp/zabkeeper-import-test"))
BASE = int(os.environ.get("IMPORT_BASE_PORT", "23400"))
N = 3
SOLO_PORT = BASE + 31
SESSION_TIMEOUT = 30.0
SUPER = ("super", "import-test")
TTL_MS = 3600 * 1000  # nobody reaps the TTL nodes during the test
BULK_DIRS, BULK_PER_DIR = 100, 100
RETRY = {"max_tries": -1, "delay": 0.05, "backoff": 1.5, "max_delay": 0.5}


# ---------------------------------------------------------------------------- processes, 4lw

def srvr_field(port, field):
    for line in zkwire.four_letter_or_empty(port, "srvr", 1.0).splitlines():
        if line.startswith(field + ": "):
            return line.split(": ", 1)[1]
    return None


def super_digest():
    return make_digest_acl_credential(*SUPER)


def client(hosts, auth=None, **kw):
    zk = kazoo_client.KazooClient(hosts=hosts, timeout=SESSION_TIMEOUT, connection_retry=RETRY,
                                  **kw)
    zk.states = []
    zk.add_listener(zk.states.append)
    zk.start(timeout=30)
    if auth:
        zk.add_auth("digest", "%s:%s" % auth)
    return zk


def hosts():
    return ",".join("127.0.0.1:%d" % (BASE + i) for i in range(1, N + 1))


class ZooKeeperEnsemble(Members):
    """N QuorumPeerMain processes of Debian's ZooKeeper 3.8 on loopback."""

    def configure(self, i):
        lines = ["tickTime=2000", "initLimit=10", "syncLimit=5", "dataDir=" + self.data(i),
                 "clientPort=%d" % (BASE + i), "maxClientCnxns=0", "4lw.commands.whitelist=*",
                 "admin.enableServer=false", "snapCount=2000", "forceSync=no"]
        lines += ["server.%d=127.0.0.1:%d:%d" % (j, BASE + 10 + j, BASE + 20 + j)
                  for j in range(1, N + 1)]
        self.write_config(i, lines)

    def start(self, i):
        flags = ["-Dzookeeper.extendedTypesEnabled=true", "-Dzookeeper.snapCount=2000",
                 "-Dznode.container.checkIntervalMs=3600000",
                 "-Dzookeeper.DigestAuthenticationProvider.superDigest=" + super_digest(),
                 "-Dzookeeper.root.logger=INFO,CONSOLE"]
        self.launch(i, quorum_peer_main(self.cfg(i), flags, heap="512m",
                                        classpath="/etc/zookeeper/conf:" + ZK_JAR))

    def up(self):
        for i in range(1, N + 1):
            self.configure(i)
            self.start(i)
        wait_for(lambda: self.leader(range(1, N + 1)) and all(
            srvr_field(BASE + i, "Mode") in ("leader", "follower") for i in range(1, N + 1)),
            90, "the ZooKeeper ensemble to serve", interval=0.2)

    def leader(self, ids):
        for i in ids:
            if srvr_field(BASE + i, "Mode") == "leader":
                return i
        return None



# ---------------------------------------------------------------------------- ZooKeeper's tree

ALICE = make_digest_acl("alice", "secret", all=True)
BOB_READ = make_digest_acl("bob", "pw", read=True)
WORLD_READ = make_acl("world", "anyone", read=True)


def wait_all(results):
    for r in results:
        r.get(30)


def load_bulk(zk):
    zk.create("/imp/bulk", b"")
    wait_all([zk.create_async("/imp/bulk/d%02d" % d, b"") for d in range(BULK_DIRS)])
    paths = ["/imp/bulk/d%02d/n%03d" % (d, n) for d in range(BULK_DIRS)
             for n in range(BULK_PER_DIR)]
    for k in range(0, len(paths), 2000):
        wait_all([zk.create_async(p, b"v" + p[-3:].encode()) for p in paths[k:k + 2000]])
    for n in range(10):  # deletes: the parent's cversion and pzxid move
        zk.delete("/imp/bulk/d01/n%03d" % n)
    zk.delete("/imp/bulk/d99", recursive=True)


def load_varied(zk):
    sizes = {"empty": b"", "small": b"s", "1k": b"k" * 1024, "10k": os.urandom(10 * 1024),
             "100k-a": os.urandom(100 * 1024), "100k-b": b"b" * (100 * 1024 - 7)}
    for name, value in sizes.items():
        zk.create("/imp/sizes/" + name, value, makepath=True)
    zk.create("/imp/create2/a", b"a", makepath=True, include_data=True)
    for k in range(10):  # versions 0..9
        zk.create("/imp/versions/v%d" % k, b"0", makepath=True)
        for j in range(k):
            zk.set("/imp/versions/v%d" % k, b"%d" % (j + 1))
    zk.delete("/imp/versions/v9")
    zk.create("/imp/versions/v9", b"again")
    zk.create("/imp/queue", b"")
    for k in range(50):
        zk.create("/imp/queue/item-", b"q%d" % k, sequence=True)
    for k in range(0, 50, 5):
        zk.delete("/imp/queue/item-%010d" % k)


def load_acls_and_types(zk):
    zk.create("/imp/acl/alice", b"a", acl=[ALICE], makepath=True)
    zk.create("/imp/acl/mixed", b"m", acl=[ALICE, BOB_READ, WORLD_READ])
    zk.create("/imp/acl/ip", b"i", acl=[make_acl("ip", "127.0.0.1", all=True), ALICE])
    zk.create("/imp/acl/changed", b"c", acl=[ALICE])
    zk.set_acls("/imp/acl/changed", [ALICE, WORLD_READ])
    zk.set_acls("/imp/acl/changed", [ALICE, BOB_READ])
    zk.create("/imp/cont", b"")
    zkwire.kazoo_create_container_async(zk, "/imp/cont/c1", b"c1").get(10)
    zk.create("/imp/cont/c1/x", b"x")
    zkwire.kazoo_create_container_async(zk, "/imp/cont/empty").get(10)
    zk.create("/imp/ttl", b"")
    zkwire.kazoo_create_ttl_async(zk, "/imp/ttl/t1", b"t1", TTL_MS).get(10)
    zkwire.kazoo_create_ttl_async(zk, "/imp/ttl/t2", b"t2", TTL_MS).get(10)
    zk.create("/imp/ttl/t2/child", b"")


def load_multis(zk):
    t = zk.transaction()
    t.create("/imp/multi", b"m")
    t.create("/imp/multi/a", b"1")
    t.set_data("/imp/sizes/small", b"s2")
    t.delete("/imp/bulk/d02/n000")
    t.check("/imp/sizes/1k", 0)
    assert not any(isinstance(r, Exception) for r in t.commit())
    t = zk.transaction()  # fails as a whole: logged as a multi of error txns
    t.create("/imp/multi/never", b"")
    t.check("/imp/sizes/1k", 99)
    assert any(isinstance(r, Exception) for r in t.commit())
    assert zk.exists("/imp/multi/never") is None


def load_holder(holder):
    holder.add_auth("digest", "carol:pw")
    holder.create("/imp/eph/holder-a", b"ha", ephemeral=True, makepath=True)
    holder.create("/imp/eph/holder-b", b"", ephemeral=True)
    holder.create("/imp/eph/holder-acl", b"acl", ephemeral=True,
                  acl=[make_digest_acl("carol", "pw", all=True)])
    return [holder.create("/imp/eph/seq-", b"", ephemeral=True, sequence=True) for _ in range(3)]


def dump(zk):
    """{path: (data, Stat tuple, [(perms, scheme, id)])} of every node, as the server serves it."""
    out, level = {}, ["/"]
    while level:
        nxt = []
        for k in range(0, len(level), 3000):
            chunk = level[k:k + 3000]
            kids = [zk.get_children_async(p) for p in chunk]
            datas = [zk.get_async(p) for p in chunk]
            acls = [zk.get_acls_async(p) for p in chunk]
            for p, kd, d, a in zip(chunk, kids, datas, acls):
                data, stat = d.get(30)
                acl, _ = a.get(30)
                out[p] = (data, tuple(stat), [(x.perms, x.id.scheme, x.id.id) for x in acl])
                nxt += [(p.rstrip("/") + "/" + c) for c in kd.get(30)]
        level = nxt
    return out


# ---------------------------------------------------------------------------- the importer

def parse_summary(text):
    out = {}
    for line in text.splitlines():
        if line.startswith("  ") and ": " in line:
            k, v = line.strip().split(": ", 1)
            out[k] = v
    return out


def run_import(zk_data, cfg, as_nobody=False):
    cmd = [BIN, "--import-zookeeper", zk_data, cfg]
    if as_nobody:
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr, parse_summary(p.stdout)


def solo_config(name):
    d = os.path.join(TOP, "cases", name)
    os.makedirs(d, exist_ok=True)
    cfg = os.path.join(d, "zoo.cfg")
    with open(cfg, "w") as f:
        f.write("tickTime=2000\ndataDir=%s\nclientPort=%d\n4lw.commands.whitelist=*\n"
                "admin.enableServer=false\n"
                "extendedTypesEnabled=true\nznode.container.checkIntervalMs=3600000\n"
                "DigestAuthenticationProvider.superDigest=%s\n"
                % (os.path.join(d, "data"), SOLO_PORT, super_digest()))
    return cfg, os.path.join(d, "data")


def serve_solo(cfg, fn):
    """Run a standalone zabkeeper on cfg while fn(client) runs."""
    log = open(cfg + ".log", "ab")
    p = subprocess.Popen([BIN, cfg], stdout=log, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)
    log.close()
    try:
        wait_for(lambda: srvr_field(SOLO_PORT, "Mode") == "standalone", 30,
                 "the standalone zabkeeper", interval=0.05)
        zk = client("127.0.0.1:%d" % SOLO_PORT, auth=SUPER)
        try:
            return fn(zk)
        finally:
            zkwire.close_clients(zk)
    finally:
        p.terminate()
        p.wait(30)


def copy_dir(src, dst):
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    subprocess.run(["cp", "-a", "--sparse=always", src, dst], check=True)


def nothing_written(data_dir):
    """Neither zabkeeper-log nor zabkeeper-snap, nor a directory written aside for them."""
    return not os.path.exists(data_dir) or not any(
        n.startswith("zabkeeper-") for n in os.listdir(data_dir))


def written_layout(data_dir):
    """What the import left in a dataDir that is also the dataLogDir."""
    snap_dir = os.path.join(data_dir, "zabkeeper-snap")
    return sorted(os.listdir(data_dir)), sorted(os.listdir(snap_dir))


# ---------------------------------------------------------------------------- zabkeeper ensemble

def zab_configure(top, data_dirs):
    """deploy/localcluster's layout (so it can start/stop the members), every member's storage
    imported from ZooKeeper before it ever starts."""
    os.makedirs(top)
    with open(os.path.join(top, "base"), "w") as f:
        f.write("%d\n" % BASE)
    with open(os.path.join(top, "members"), "w") as f:
        f.write("%d\n" % N)
    summaries = {}
    for i in range(1, N + 1):
        data = os.path.join(top, "m%d" % i, "data")
        os.makedirs(data)
        with open(os.path.join(data, "myid"), "w") as f:
            f.write("%d\n" % i)
        cfg = os.path.join(top, "m%d" % i, "zoo.cfg")
        lines = ["tickTime=2000", "initLimit=10", "syncLimit=5", "dataDir=" + data,
                 "clientPort=%d" % (BASE + i), "maxClientCnxns=0", "4lw.commands.whitelist=*",
                 "extendedTypesEnabled=true", "znode.container.checkIntervalMs=3600000",
                 "admin.enableServer=false",
                 "DigestAuthenticationProvider.superDigest=" + super_digest()]
        lines += ["server.%d=127.0.0.1:%d:%d;%d" % (j, BASE + 10 + j, BASE + 20 + j, BASE + j)
                  for j in range(1, N + 1)]
        with open(cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        t = time.monotonic()
        rc, out, err, summary = run_import(data_dirs[i], cfg)
        assert rc == 0, "import of member %d failed: %s%s" % (i, out, err)
        summary["wall"] = time.monotonic() - t
        summary["layout"] = written_layout(data)
        summaries[i] = summary
        print("member %d import:\n%s%s" % (i, out, err))
    return summaries


# ---------------------------------------------------------------------------- the scenario

class World:
    pass


def zookeeper_phase(w):
    zk = ZooKeeperEnsemble(os.path.join(TOP, "zk"))
    w.zk = zk
    t = time.monotonic()
    zk.up()
    w.loader = client(hosts(), auth=SUPER)
    w.loader.add_auth("digest", "alice:secret")
    w.holder = client(hosts())
    w.loader.create("/imp-marker", b"v1")
    w.loader.create("/imp", b"")
    load_bulk(w.loader)
    load_varied(w.loader)
    load_acls_and_types(w.loader)
    load_multis(w.loader)
    w.holder_seq = load_holder(w.holder)
    w.holder_session = w.holder.client_id[0]
    w.marker_stat = w.loader.set("/imp-marker", b"v2")  # the last txn ZooKeeper logs
    w.zk_tree = dump(w.loader)
    w.timing = {"zookeeper up + load + record": time.monotonic() - t}
    stop_zookeeper(w)


def stop_zookeeper(w):
    zk = w.zk
    w.killed = zk.leader(range(1, N + 1))
    zk.stop(w.killed, signal.SIGKILL)  # the kill -9 variant: the leader, mid-session
    rest = [i for i in range(1, N + 1) if i != w.killed]
    wait_for(lambda: zk.leader(rest), 60, "ZooKeeper to elect a new leader", interval=0.1)
    wait_for(lambda: w.holder.state == KazooState.CONNECTED and
             w.loader.state == KazooState.CONNECTED, 60, "the sessions to move", interval=0.05)
    w.zk_zxid = max(int(srvr_field(BASE + i, "Zxid") or "0", 16) for i in rest)
    w.zk_zxid = max(w.zk_zxid, w.marker_stat.mzxid, w.holder.last_zxid)
    new_leader = zk.leader(rest)
    for i in [i for i in rest if i != new_leader] + [new_leader]:  # the clean-stop variant
        zk.stop(i, signal.SIGTERM)
    w.base_copy = os.path.join(TOP, "base-copy")  # the killed member's files, for damage
    copy_dir(zk.data(w.killed), w.base_copy)


def zabkeeper_phase(w):
    t = time.monotonic()
    w.zab_dir = os.path.join(TOP, "zab")
    w.summaries = zab_configure(w.zab_dir, {i: w.zk.data(i) for i in range(1, N + 1)})
    os.environ.update(ZABKEEPER_CLUSTER_DIR=w.zab_dir, ZABKEEPER_BASE_PORT=str(BASE),
                      ZABKEEPER_BIN=BIN)
    w.ens = Ensemble(w.zab_dir, BASE)
    w.ens.n = N
    for i in range(1, N + 1):
        w.ens.lc("start", i)
    w.converged = w.ens.converged(60)
    w.timing["import x3 + zabkeeper up"] = time.monotonic() - t


@pytest.fixture(scope="module")
def world():
    assert os.access(BIN, os.X_OK), "no zabkeeper binary at %s" % BIN
    shutil.rmtree(TOP, ignore_errors=True)
    os.makedirs(TOP)
    w = World()
    w.ens = w.zk = w.loader = w.holder = None
    try:
        zookeeper_phase(w)
        zabkeeper_phase(w)
        yield w
    finally:
        for c in (w.loader, w.holder):
            if c:
                zkwire.close_clients(c)
        if w.ens:
            w.ens.down()
        if w.zk:
            w.zk.stop_all()
        print("timing: %s" % w.timing if hasattr(w, "timing") else "")


# ---------------------------------------------------------------------------- checks: migration

def test_every_member_imported_the_same_state(world):
    sums = world.summaries
    for i, s in sums.items():
        assert s["zookeeper digest"] == "match", (i, s)
        assert int(s["nodes"]) == len(world.zk_tree), (i, s)
        assert int(s["nodes"]) >= 10000
        assert s["seconds"]
    assert len({s["verified"] for s in sums.values()}) == 1, sums  # same digest everywhere
    assert len({s["sessions"] for s in sums.values()}) == 1
    # every member's state is at ZooKeeper's last zxid, the members that saw the new ZooKeeper
    # leader at its epoch's zxid; epochs at least ZooKeeper's
    state = {i: int(s["state zxid"], 16) for i, s in sums.items()}
    assert max(state.values()) >= world.zk_zxid
    for i, s in sums.items():  # what a member reads at start: one snapshot file, the LMDB log
        assert s["layout"] == (["myid", "zabkeeper-log", "zabkeeper-snap"],
                               ["snapshot.%016x" % state[i]]), (i, s["layout"])
    assert int(sums[world.killed]["last zxid"], 16) == world.marker_stat.mzxid
    print("import: %s nodes, %.2f s (importer), digests equal, ZooKeeper digest match"
          % (sums[1]["nodes"], max(float(s["seconds"]) for s in sums.values())))


def test_tree_equals_what_zookeeper_served(world):
    zk = client(hosts(), auth=SUPER)
    try:
        got = dump(zk)
    finally:
        zkwire.close_clients(zk)
    missing = sorted(set(world.zk_tree) - set(got))
    extra = sorted(set(got) - set(world.zk_tree))
    assert not missing and not extra, (missing[:5], extra[:5])
    # /zookeeper/config is member-local in ZooKeeper (each member rewrites it from its own
    # zoo.cfg at start, with its own mtime): zabkeeper's members serve their own configuration,
    # in ZooKeeper's format, world-readable.
    data, _, acl = got.pop("/zookeeper/config")
    assert data.startswith(b"server.") and b"\nversion=" in data, data
    assert acl == [(1, "world", "anyone")]
    diff = [p for p in got if world.zk_tree[p] != got[p]]
    assert not diff, [(p, world.zk_tree[p][1:], got[p][1:]) for p in diff[:3]]
    print("equal-tree check: %d nodes, data, Stat and ACL equal" % len(got))


def test_open_session_resumes_with_its_ephemerals(world):
    h = world.holder
    wait_for(lambda: h.state == KazooState.CONNECTED and h.connected, 60,
             "the open session to reconnect to zabkeeper", interval=0.05)
    assert KazooState.LOST not in h.states, h.states
    assert h.client_id[0] == world.holder_session
    for p in ["/imp/eph/holder-a", "/imp/eph/holder-b"] + world.holder_seq:
        _, stat = h.get(p)
        assert stat.ephemeralOwner == world.holder_session, p
    _, stat = h.get("/imp/eph/holder-acl")  # its digest identity came back with the session
    assert stat.ephemeralOwner == world.holder_session


def test_sequentials_continue_and_zxids_are_newer(world):
    zk = client(hosts(), auth=SUPER)
    try:
        _, qstat, _ = world.zk_tree["/imp/queue"]
        creates = (qstat[5] + qstat[9]) // 2  # stored cversion = (cversion + numChildren) / 2
        path = zk.create("/imp/queue/item-", b"new", sequence=True)
        assert path == "/imp/queue/item-%010d" % creates
        _, estat, _ = world.zk_tree["/imp/eph"]
        eph_path = world.holder.create("/imp/eph/seq-", b"", ephemeral=True, sequence=True)
        assert eph_path == "/imp/eph/seq-%010d" % ((estat[5] + estat[9]) // 2)
        _, stat = zk.get(path)
        assert stat.czxid > world.zk_zxid
        assert stat.czxid >> 32 > world.zk_zxid >> 32  # a new epoch above ZooKeeper's
    finally:
        zkwire.close_clients(zk)


# ---------------------------------------------------------------------------- checks: damage

def case_copy(world, name):
    d = os.path.join(TOP, "cases", name + "-zk")
    copy_dir(world.base_copy, d)
    v2 = os.path.join(d, "version-2")
    # the damage must hit the replayed log: no snapshot may already hold the marker
    for zxid, path in zkfiles.files(v2, "snapshot"):
        if zxid >= world.marker_stat.mzxid:
            os.unlink(path)
    return d, v2


def check_cut_tail(world, name, damage):
    zkdir, v2 = case_copy(world, name)
    path, off, length, zxid = zkfiles.last_entry(v2)
    assert zxid == world.marker_stat.mzxid  # the marker's setData is the last txn
    damage(path, off, length)
    cfg, data = solo_config(name)
    rc, out, err, s = run_import(zkdir, cfg)
    assert rc == 0, out + err
    assert int(s["last zxid"], 16) == zxid - 1, s  # ends at the last whole txn
    assert s["zookeeper digest"] == "match", s
    value = serve_solo(cfg, lambda zk: zk.get("/imp-marker")[0])
    assert value == b"v1"


def test_torn_log_tail(world):
    def tear(path, off, length):
        os.truncate(path, off + length // 2)
    check_cut_tail(world, "torn", tear)


def test_zero_filled_log_tail(world):
    def zero(path, off, length):
        with open(path, "r+b") as f:
            f.seek(off)
            f.write(b"\0" * length)
    check_cut_tail(world, "zeroed", zero)


def test_corrupt_newest_snapshot_falls_back(world):
    zkdir, v2 = case_copy(world, "badsnap")
    snaps = zkfiles.files(v2, "snapshot")
    zxid, newest = snaps[-1]
    size = os.path.getsize(newest)
    with open(newest, "r+b") as f:  # one flipped byte in the tree: the Adler32 seal fails
        f.seek(size // 2)
        b = f.read(1)
        f.seek(size // 2)
        f.write(bytes([b[0] ^ 0x5a]))
    cfg, _ = solo_config("badsnap")
    rc, out, err, s = run_import(zkdir, cfg)
    assert rc == 0, out + err
    assert "snapshot.%x" % zxid in err and "older" in err, err
    assert s["snapshot"].startswith(os.path.join(v2, "snapshot.%x " % snaps[-2][0]))
    clean = world.summaries[world.killed]
    assert s["verified"] == clean["verified"] and s["last zxid"] == clean["last zxid"]


def test_every_snapshot_replays_to_the_same_state(world):
    """Each snapshot ZooKeeper wrote (fuzzy ones among them: taken while the bulk load went on)
    plus the logs after it gives exactly the state of the newest one."""
    zkdir, v2 = case_copy(world, "each-snapshot")
    clean = world.summaries[world.killed]
    snaps = zkfiles.files(v2, "snapshot")
    assert len(snaps) >= 4, snaps
    reflected = 0
    for k, (zxid, path) in enumerate(reversed(snaps)):
        cfg, _ = solo_config("each-snapshot-%d" % k)
        rc, out, err, s = run_import(zkdir, cfg)
        assert rc == 0, out + err
        assert s["snapshot"].startswith(path + " "), s
        assert s["verified"] == clean["verified"] and s["last zxid"] == clean["last zxid"], s
        assert s["zookeeper digest"] == "match", s
        reflected += int(s["txns replayed"].split("(")[1].split()[0])
        os.unlink(path)  # the next round starts from the next older one
    assert reflected > 0  # some snapshot was fuzzy: replayed ops it already reflected


def test_full_replay_then_missing_log_refused(world):
    zkdir, v2 = case_copy(world, "replay")
    for zxid, path in zkfiles.files(v2, "snapshot")[1:]:
        os.unlink(path)  # snapshot.0 only: every txn ZooKeeper ever logged is replayed
    cfg, data = solo_config("replay")
    rc, out, err, s = run_import(zkdir, cfg)
    assert rc == 0, out + err
    clean = world.summaries[world.killed]
    assert s["verified"] == clean["verified"] and s["last zxid"] == clean["last zxid"]
    assert int(s["txns replayed"].split()[0]) > BULK_DIRS * BULK_PER_DIR
    logs = zkfiles.files(v2, "log")
    assert len(logs) >= 3, logs
    gone = logs[len(logs) // 2][1]
    os.unlink(gone)
    cfg, data = solo_config("missing-log")
    rc, out, err, s = run_import(zkdir, cfg)
    assert rc == 1, out + err
    assert "does not follow" in err and "txns are missing" in err, err
    assert nothing_written(data)


def test_unreadable_directory_refused(world):
    zkdir, v2 = case_copy(world, "unreadable")
    cfg, data = solo_config("unreadable")
    os.chmod(os.path.dirname(data), 0o777)  # the target itself is writable for anyone
    os.chmod(v2, 0)
    try:
        rc, out, err, _ = run_import(zkdir, cfg, as_nobody=os.geteuid() == 0)
    finally:
        os.chmod(v2, 0o755)
    assert rc == 1, out + err
    assert "Permission denied" in err and v2 in err, err
    assert nothing_written(data)


def test_target_with_zabkeeper_data_refused(world):
    cfg = os.path.join(world.zab_dir, "m1", "zoo.cfg")
    before = sorted(os.listdir(os.path.join(world.zab_dir, "m1", "data")))
    rc, out, err, _ = run_import(world.zk.data(1), cfg)
    assert rc == 1 and "already holds zabkeeper data" in err, out + err
    assert sorted(os.listdir(os.path.join(world.zab_dir, "m1", "data"))) == before
