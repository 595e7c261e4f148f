"""Helpers for the Python ensemble tests: drive deploy/localcluster, read four-letter words,
poll conditions with bounded deadlines, check that acknowledged writes survive (Ledger), and
craft peer-port input (hello frames, msgpack Zab messages, txn records).

Environment (ctest sets all of them; defaults let the files run by hand):
  ZIT_LOCALCLUSTER       deploy/localcluster
  ZABKEEPER_BIN          the server binary (localcluster's default otherwise)
  ZABKEEPER_CLUSTER_DIR  state directory (wiped by up())
  ZABKEEPER_BASE_PORT    client = base+id, peer = base+10+id, election = base+20+id
  ZABKEEPER_TICK_TIME    500 here unless set
  ZIT_ZKBENCH            bench/zkbench's binary (fill(): trees of many znodes quickly)
"""
import contextlib
import glob
import os
import re
import selectors
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "compat"))
from zkwire import four_letter_or_empty  # noqa: E402  (tests/compat)

LOCALCLUSTER = os.environ.get("ZIT_LOCALCLUSTER",
                              os.path.join(HERE, "..", "..", "deploy", "localcluster"))


class Ensemble:
    def __init__(self, default_dir, default_base):
        self.dir = os.environ.setdefault("ZABKEEPER_CLUSTER_DIR", default_dir)
        self.base = int(os.environ.setdefault("ZABKEEPER_BASE_PORT", str(default_base)))
        os.environ.setdefault("ZABKEEPER_TICK_TIME", "500")
        self.n = 0

    # ---- localcluster
    def lc(self, *args, check=True, env=None):
        p = subprocess.run([LOCALCLUSTER] + [str(a) for a in args], capture_output=True,
                           text=True, timeout=120, env=dict(os.environ, **(env or {})))
        if check and p.returncode != 0:
            pytest.fail("localcluster %s failed (%d): %s%s" % (" ".join(map(str, args)),
                                                               p.returncode, p.stdout, p.stderr))
        return p

    def up(self, n, config=None):
        """Start n fresh members; config: extra zoo.cfg lines for every member (a list)."""
        self.lc("down", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.lc("up", n, env={"ZABKEEPER_EXTRA_CONFIG": "\n".join(config)} if config else None)
        self.n = n

    def down(self):
        self.lc("down", check=False)

    def client_port(self, i):
        return self.base + i

    def peer_port(self, i):
        return self.base + 10 + i

    def hosts(self, ids=None):
        ids = ids or range(1, self.n + 1)
        return ",".join("127.0.0.1:%d" % self.client_port(i) for i in ids)

    def pid(self, i):
        try:
            with open(os.path.join(self.dir, "m%d" % i, "pid")) as f:
                return int(f.read())
        except (OSError, ValueError):
            return None

    def alive(self, i):
        p = self.pid(i)
        if p is None:
            return False
        try:
            with open("/proc/%d/status" % p) as f:
                return not any(l.startswith("State:") and "Z" in l.split()[1:2] for l in f)
        except OSError:
            return False

    def log_path(self, i):
        return os.path.join(self.dir, "m%d" % i, "server.log")

    def log_size(self, i):
        try:
            return os.path.getsize(self.log_path(i))
        except OSError:
            return 0

    def log_since(self, i, offset):
        with open(self.log_path(i), "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def wait_log(self, i, offset, pattern, timeout):
        """Waits until member i's log after offset matches the regex pattern; returns the match."""
        rx = re.compile(pattern)
        return wait_for(lambda: rx.search(self.log_since(i, offset)), timeout,
                        "member %d to log /%s/" % (i, pattern))

    def snap_dir(self, i):
        return os.path.join(self.dir, "m%d" % i, "data", "zabkeeper-snap")

    def signal(self, i, sig):
        """Send sig (e.g. signal.SIGSTOP / SIGCONT) to member i."""
        os.kill(self.pid(i), sig)

    def mode(self, i):
        """srvr's Mode line of member i ("leader", "follower"), None if it does not answer."""
        m = re.search(r"^Mode: (\S+)", self.fourlw(i, "srvr"), re.M)
        return m.group(1) if m else None

    def leader(self, timeout=10.0):
        def find():
            p = self.lc("leader", check=False)
            return int(p.stdout) if p.returncode == 0 and p.stdout.strip() else None
        return wait_for(find, timeout, "a leader")

    def kill(self, i):
        """SIGKILL member i now (kill(2) on its pid) and wait until it is dead (a zombie counts:
        the reaper may take a while). Returns the time of the kill (time.monotonic())."""
        p = self.pid(i)
        assert p, "no pid for member %d" % i
        t = time.monotonic()
        os.kill(p, signal.SIGKILL)
        wait_for(lambda: not self.alive(i), 5, "member %d to die" % i)
        return t

    def start(self, i, nofile=None):
        """(Re)start member i with its data; nofile: its descriptor limit (ulimit -n)."""
        self.lc("kill", i)  # waits until the killed process is reaped, so start really starts
        self.lc("start", i, env={"ZABKEEPER_NOFILE": str(nofile)} if nofile else None)

    def pids(self):
        return {i: self.pid(i) for i in range(1, self.n + 1)}

    def restart_all(self):
        """Power loss: SIGKILL every member, start them all again with their data, wait until
        they serve and agree. Returns (zxid, digest) as converged() does."""
        for i in range(1, self.n + 1):
            if self.alive(i):
                self.kill(i)
        for i in range(1, self.n + 1):
            self.start(i)
        return self.converged()

    def rss_kb(self, i, field="VmRSS"):
        """VmRSS (or VmHWM, the peak) of member i in kB; None if it is not running."""
        try:
            with open("/proc/%d/status" % self.pid(i)) as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1])
        except (OSError, TypeError):
            return None
        return None

    # ---- four-letter words
    def fourlw(self, i, word, timeout=1.0):
        return four_letter_or_empty(self.client_port(i), word, timeout)

    def mntr(self, i):
        out = {}
        for line in self.fourlw(i, "mntr").splitlines():
            k, _, v = line.partition("\t")
            out[k] = v
        return out

    def views(self):
        return {i: self.mntr(i) for i in range(1, self.n + 1)}

    def client(self, ids=None, **kw):
        """A started KazooClient on the given members (all by default); stop it with close()."""
        from kazoo.client import KazooClient
        kw.setdefault("timeout", 8.0)
        kw.setdefault("connection_retry", dict(max_tries=-1, delay=0.05, max_delay=0.5))
        c = KazooClient(hosts=self.hosts(ids), **kw)
        c.start(timeout=15)
        return c

    @contextlib.contextmanager
    def member_client(self, i, **kw):
        c = self.client([i], **kw)
        try:
            yield c
        finally:
            c.stop()
            c.close()

    def converged(self, timeout=30.0):
        """Polls until every member serves and all report the same zk_last_zxid and
        zk_tree_digest; returns (zxid, digest)."""
        last = {}

        def check():
            v = self.views()
            last.clear()
            last.update(v)
            states = [m.get("zk_server_state") for m in v.values()]
            if any(s not in ("leader", "follower") for s in states) or states.count("leader") != 1:
                return None
            pairs = {(m.get("zk_last_zxid"), m.get("zk_tree_digest")) for m in v.values()}
            return pairs.pop() if len(pairs) == 1 else None
        try:
            return wait_for(check, timeout, "the members to converge")
        except pytest.fail.Exception:
            pytest.fail("members did not converge within %.0fs: %s" % (timeout, {
                i: (m.get("zk_server_state"), m.get("zk_last_zxid"), m.get("zk_tree_digest"))
                for i, m in last.items()}))


def zkbench_bin():
    """bench/zkbench: $ZIT_ZKBENCH, else the first build*/bench/zkbench of the project."""
    env = os.environ.get("ZIT_ZKBENCH")
    if env:
        return env
    found = sorted(glob.glob(os.path.join(HERE, "..", "..", "build*", "bench", "zkbench")))
    if not found:
        pytest.skip("zkbench is not built (set ZIT_ZKBENCH)")
    return found[0]


def zkbench(*args, timeout=300):
    """Runs `zkbench ARGS...`; returns its RESULT line as a dict (fails the test if it fails)."""
    p = subprocess.run([zkbench_bin()] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=timeout)
    res = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
    if p.returncode != 0 or not res:
        pytest.fail("zkbench %s failed (%d): %s %s" % (" ".join(map(str, args)), p.returncode,
                                                       p.stdout, p.stderr[-2000:]))
    return dict(kv.split("=", 1) for kv in res[-1].split()[1:])


def fill(ens, root, nodes, fanout=1000, batch=100, size=16, ids=None):
    """Creates ROOT/p<k>/n<j> (nodes leaves, fanout per parent) through zkbench fill with multis
    of `batch` creates, many in flight: a few hundred thousand znodes in seconds. Returns the
    RESULT dict; every leaf is acknowledged (zkbench fails otherwise)."""
    return zkbench("fill", "--connect", ens.hosts(ids), "--root", root, "--nodes", nodes,
                   "--fanout", fanout, "--batch", batch, "--size", size)


def missing_leaves(zk, root, nodes, fanout=1000):
    """Leaves of fill()'s layout that zk (a client of one member) does not list: [] if all."""
    parents = (nodes + fanout - 1) // fanout
    reqs = [(k, zk.get_children_async("%s/p%d" % (root, k))) for k in range(parents)]
    missing = []
    for k, r in reqs:
        want = {"n%d" % j for j in range(min(fanout, nodes - k * fanout))}
        try:
            have = set(r.get(timeout=30))
        except Exception as e:  # NoNodeError: the whole parent is missing
            missing.append("%s/p%d (%s)" % (root, k, type(e).__name__))
            continue
        missing.extend("%s/p%d/%s" % (root, k, n) for n in sorted(want - have))
    return missing


def wait_for(cond, timeout, what, interval=0.02):
    """Polls cond() until it returns something truthy; fails the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def close_times(socks, timeout):
    """Seconds until each socket is closed by its peer (EOF or RST), None for those still open
    after timeout; whatever the peer sends meanwhile is discarded."""
    t0 = time.monotonic()
    sel = selectors.DefaultSelector()
    for k, s in enumerate(socks):
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, k)
    out = [None] * len(socks)
    while None in out and time.monotonic() - t0 < timeout:
        for key, _ in sel.select(0.2):
            try:
                closed = key.fileobj.recv(65536) == b""
            except BlockingIOError:
                closed = False
            except OSError:
                closed = True
            if closed:
                out[key.data] = time.monotonic() - t0
                sel.unregister(key.fileobj)
    sel.close()
    return out


def zxid_epoch(zxid):
    """The epoch of a zxid as mntr prints it ("0x300000004" -> 3)."""
    return int(zxid, 16) >> 32


class Ledger:
    """Acknowledged writes under `root`, made through one client and checked on every member by
    reading each member alone, so a write that only reached some members is caught."""

    def __init__(self, ens, zk, root):
        self.ens, self.zk, self.root = ens, zk, root
        self.acked = {}
        zk.ensure_path(root)

    def write(self, tag, timeout=30.0):
        """One acknowledged write. A write cut by a disconnect is not acknowledged: it is made
        again (a new sequential node) until one is, within timeout."""
        from kazoo.exceptions import ConnectionLoss, SessionMovedError
        data = ("ack %d %s" % (len(self.acked), tag)).encode()
        deadline = time.monotonic() + timeout
        while True:
            wait_for(lambda: self.zk.connected, timeout, "the ledger's client to reconnect")
            try:
                path = self.zk.create("%s/%s-" % (self.root, tag), data, sequence=True)
                break
            except (ConnectionLoss, SessionMovedError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.acked[path] = data
        return path

    def missing_on(self, i):
        """Acknowledged writes member i does not hold with their value (read from i alone)."""
        with self.ens.member_client(i) as c:
            gets = [(p, c.get_async(p)) for p in self.acked]
            bad = []
            for p, g in gets:
                try:
                    if g.get(timeout=15)[0] != self.acked[p]:
                        bad.append(p)
                except Exception as e:  # NoNodeError: lost
                    bad.append("%s (%s)" % (p, type(e).__name__))
            return bad

    def check_all(self, what):
        for i in range(1, self.ens.n + 1):
            bad = self.missing_on(i)
            assert not bad, "%s: member %d lacks acknowledged writes %s" % (what, i, bad[:5])


def check_survival(ens, ledger, case, pids, restart=True):
    """After hostile input: every member still runs with the same pid, a leader serves, a new
    write is acknowledged, all members agree (zxid, digest) and hold every acknowledged write;
    then the same after a restart of all members (restart=True). Returns (zxid, digest)."""
    for i, p in pids.items():
        assert ens.alive(i) and ens.pid(i) == p, \
            "%s: member %d died or restarted (pid %s -> %s)" % (case, i, p, ens.pid(i))
    ens.leader()
    ledger.write(case + "-after")
    ens.converged()
    ledger.check_all(case)
    if restart:
        ens.restart_all()
        ledger.write(case + "-restarted")
        ledger.check_all(case + " after a restart of all members")
    return ens.converged()


# ---- peer wire: src/server/peer.c framing and hello, src/consensus/msg.c messages

PEER_MAGIC, PEER_VERSION = 0x5A41424B, 2
(MSG_VOTE, MSG_FOLLOWERINFO, MSG_LEADERINFO, MSG_ACKEPOCH, MSG_DIFF, MSG_TRUNC, MSG_SNAP,
 MSG_PROPOSAL, MSG_NEWLEADER, MSG_ACKNL, MSG_UPTODATE, MSG_ACK, MSG_COMMIT, MSG_PING,
 MSG_REQUEST, MSG_APP) = range(1, 17)
ROLE_LOOKING, ROLE_FOLLOWING, ROLE_LEADING = 0, 1, 2
PEER_FRAME_MAX_PROBE = 0x7FFFFFFF  # larger than any frame a member accepts: it closes at once


def frame(body):
    return struct.pack(">I", len(body)) + body


def hello(sender, ens, port=None, host=b"127.0.0.1"):
    """The peer hello (src/server/peer.c): magic, version 2, sender id, the sender's peer port
    and host (where a member that does not know the sender links back to)."""
    if port is None:
        port = ens.peer_port(sender) if 1 <= sender <= ens.n else 1
    return frame(struct.pack(">IIII", PEER_MAGIC, PEER_VERSION, sender, port) + host)


def mp_uint(v):
    if v < 0x80:
        return bytes([v])
    for tag, fmt, lim in ((0xCC, ">B", 0xFF), (0xCD, ">H", 0xFFFF), (0xCE, ">I", 0xFFFFFFFF)):
        if v <= lim:
            return bytes([tag]) + struct.pack(fmt, v)
    return b"\xcf" + struct.pack(">Q", v)


def mp_bin(data):
    if len(data) < 256:
        return b"\xc4" + bytes([len(data)]) + data
    if len(data) < 65536:
        return b"\xc5" + struct.pack(">H", len(data)) + data
    return b"\xc6" + struct.pack(">I", len(data)) + data


def zab_msg(type_, epoch=0, zxid=0, zxid2=0, nonce=0, leader=0, data=b"", flags=0, state=0,
            tag=0, epoch2=0):
    """A 12-element array [type, flags, state, tag, leader, epoch, epoch2, zxid, zxid2, nonce,
    bin data, layout version 1]."""
    fields = [type_, flags, state, tag, leader, epoch, epoch2, zxid, zxid2, nonce]
    return b"\x9c" + b"".join(mp_uint(v) for v in fields) + mp_bin(data) + mp_uint(1)


def txnrec(session_id, cxid, type_, body, auth=b"", zxid=0, time_ms=0):
    """A log record as src/store/txnrec.c encodes it: [zxid, time_ms, session_id (int64), cxid,
    type (int32), body, auth (bin32)] with fixed-width integers."""
    return (b"\x97" + b"".join(b"\xd3" + struct.pack(">q", v) for v in (zxid, time_ms, session_id))
            + b"".join(b"\xd2" + struct.pack(">i", v) for v in (cxid, type_))
            + b"".join(b"\xc6" + struct.pack(">I", len(b)) + b for b in (body, auth)))


def closed_by_peer(sock, timeout):
    """True if the other side closes (EOF, reset, a TLS alert) within timeout; what it sends
    before is read and dropped."""
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
        return True
    except socket.timeout:
        return False
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return True


def peer_send_and_wait_closed(ens, target, payload, timeout=5.0):
    """Sends payload to the target's peer port; True if the member closes the connection within
    timeout. Ending payload with a PEER_FRAME_MAX_PROBE header makes the member close it once it
    has handled every frame before (frames are handled in order)."""
    with socket.create_connection(("127.0.0.1", ens.peer_port(target)), 2) as s:
        s.sendall(payload)
        return closed_by_peer(s, timeout)
