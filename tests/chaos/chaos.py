"""Orchestrator of tests/chaos: ensemble, network namespaces, faults, workload, final dump."""
import argparse
import json
import os
import random
import shutil
import signal
import socketserver
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "compat"))
import checker  # noqa: E402
from zkwire import four_letter_or_empty  # noqa: E402

mono = time.monotonic


def log(msg):
    print(f"[chaos {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sh(*argv, check=True):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {r.stderr.strip()}")
    return r


# ---------------------------------------------------------------------------------------------
# Network: one namespace per member and per client, veth pairs to a bridge in the root namespace.
# A link is cut by sending the source's packets for the destination into an htb class whose
# qdisc is `pfifo limit 0` (silent drop, like a real partition), selected by a u32 filter. So a
# cut is one-way by construction; a two-way cut is two of them. The orchestrator (root namespace,
# .254 on the bridge) is never cut: it observes the members throughout.
class Net:
    def __init__(self, netid):
        self.id = netid
        self.bridge = f"zcb{netid}"
        self.names, self.ips = [], {}
        self.cuts = set()
        self.netem = None
        self.slowed = set()

    @staticmethod
    def available():
        if os.geteuid() != 0:
            return "not root"
        if not shutil.which("ip") or not shutil.which("tc"):
            return "ip/tc (iproute2) missing"
        name = f"zcprobe{os.getpid()}"
        r = sh("ip", "netns", "add", name, check=False)
        if r.returncode != 0:
            return "cannot create network namespaces: " + r.stderr.strip()
        try:
            ok = sh("ip", "netns", "exec", name, "tc", "qdisc", "add", "dev", "lo", "root",
                    "handle", "1:", "htb", check=False).returncode == 0
            ok = ok and sh("ip", "netns", "exec", name, "tc", "filter", "add", "dev", "lo",
                           "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip",
                           "dst", "10.0.0.1/32", "flowid", "1:99", check=False).returncode == 0
            netem = sh("ip", "netns", "exec", name, "tc", "qdisc", "add", "dev", "lo", "parent",
                       "1:99", "netem", "delay", "10ms", check=False).returncode == 0
        finally:
            sh("ip", "netns", "del", name, check=False)
        if not ok:
            return "tc htb/u32 unavailable in this kernel"
        Net.has_netem = netem
        return None

    @staticmethod
    def pick_id():
        used = set(sh("ip", "-o", "link", "show").stdout.split())
        nss = sh("ip", "netns", "list").stdout
        start = os.getpid() % 200 + 20
        for k in range(230):
            i = (start + k) % 230 + 20
            if f"zcb{i}:" not in used and f"zc{i}-" not in nss:
                return i
        raise RuntimeError("no free chaos network id")

    def ns(self, name):
        return f"zc{self.id}-{name}"

    def ip(self, name):
        return self.ips[name]

    def setup(self, names_ips):
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "link", "set", self.bridge, "up")
        sh("ip", "addr", "add", f"10.77.{self.id}.254/24", "dev", self.bridge)
        for name, host in names_ips:
            ns, veth = self.ns(name), f"zc{self.id}{name}"
            self.names.append(name)
            self.ips[name] = f"10.77.{self.id}.{host}"
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "link", "set", veth, "master", self.bridge, "up")
            sh("ip", "-n", ns, "addr", "add", f"{self.ips[name]}/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            tc = ["ip", "netns", "exec", ns, "tc"]
            sh(*tc, "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "htb", "default", "10")
            sh(*tc, "class", "add", "dev", "eth0", "parent", "1:", "classid", "1:10", "htb",
               "rate", "10gbit")
            sh(*tc, "class", "add", "dev", "eth0", "parent", "1:", "classid", "1:99", "htb",
               "rate", "10gbit")
            sh(*tc, "qdisc", "add", "dev", "eth0", "parent", "1:99", "handle", "99:", "pfifo",
               "limit", "0")

    def wrap(self, name, argv):
        return ["ip", "netns", "exec", self.ns(name)] + argv

    def cut(self, src, dst):
        """Drop every packet from src to dst (one way)."""
        if (src, dst) in self.cuts:
            return
        self.cuts.add((src, dst))
        sh("ip", "netns", "exec", self.ns(src), "tc", "filter", "add", "dev", "eth0", "parent",
           "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip", "dst",
           f"{self.ip(dst)}/32", "flowid", "1:99")

    def cut_both(self, a, b):
        self.cut(a, b)
        self.cut(b, a)

    def slow(self, name, how):
        """Degrade name's outgoing link: netem delay+loss when the kernel has it, else an htb
        class at a low rate (queueing delay, tail drops)."""
        tc = ["ip", "netns", "exec", self.ns(name), "tc"]
        if getattr(Net, "has_netem", False):
            sh(*tc, "qdisc", "add", "dev", "eth0", "parent", "1:10", "handle", "10:", "netem",
               "delay", f"{how['delay_ms']}ms", f"{how['jitter_ms']}ms", "loss",
               f"{how['loss_pct']}%")
        else:
            sh(*tc, "class", "change", "dev", "eth0", "parent", "1:", "classid", "1:10", "htb",
               "rate", f"{how['rate_kbit']}kbit", "ceil", f"{how['rate_kbit']}kbit")
        self.slowed.add(name)

    def heal(self):
        for name in {s for s, _ in self.cuts}:
            sh("ip", "netns", "exec", self.ns(name), "tc", "filter", "del", "dev", "eth0",
               "parent", "1:", "prio", "1", check=False)
        self.cuts.clear()
        for name in self.slowed:
            tc = ["ip", "netns", "exec", self.ns(name), "tc"]
            if getattr(Net, "has_netem", False):
                sh(*tc, "qdisc", "del", "dev", "eth0", "parent", "1:10", "handle", "10:",
                   check=False)
            else:
                sh(*tc, "class", "change", "dev", "eth0", "parent", "1:", "classid", "1:10",
                   "htb", "rate", "10gbit", check=False)
        self.slowed.clear()

    def teardown(self):
        for name in self.names:
            sh("ip", "netns", "del", self.ns(name), check=False)
        sh("ip", "link", "del", self.bridge, check=False)
        self.names = []


class NoNet:
    """Process faults only: everything on loopback."""

    def wrap(self, name, argv):
        return argv

    def teardown(self):
        pass


# ---------------------------------------------------------------------------------------------
class Ensemble:
    def __init__(self, n, d, binary, base, tick, net):
        self.n, self.dir, self.bin, self.base, self.tick, self.net = n, d, binary, base, tick, net
        self.procs = {}

    def host(self, i):
        return self.net.ip(f"m{i}") if isinstance(self.net, Net) else "127.0.0.1"

    def cport(self, i):
        return self.base + i

    def connect_string(self):
        return ",".join(f"{self.host(i)}:{self.cport(i)}" for i in range(1, self.n + 1))

    def write_configs(self):
        for i in range(1, self.n + 1):
            md = os.path.join(self.dir, f"m{i}")
            os.makedirs(os.path.join(md, "data"), exist_ok=True)
            with open(os.path.join(md, "data", "myid"), "w") as f:
                f.write(f"{i}\n")
            lines = [f"tickTime={self.tick}", "initLimit=10", "syncLimit=5",
                     f"dataDir={md}/data", f"clientPort={self.cport(i)}", "maxClientCnxns=0",
                     "4lw.commands.whitelist=*", "admin.enableServer=false",
                     # the writers' containers and TTL nodes are reaped within the run
                     "znode.container.checkIntervalMs=1000"]
            for j in range(1, self.n + 1):
                lines.append(f"server.{j}={self.host(j)}:{self.base + 10 + j}:{self.base + 20 + j}"
                             f";{self.cport(j)}")
            with open(os.path.join(md, "zoo.cfg"), "w") as f:
                f.write("\n".join(lines) + "\n")

    def start(self, i):
        if self.alive(i):
            return
        md = os.path.join(self.dir, f"m{i}")
        out = open(os.path.join(md, "server.log"), "ab")
        self.procs[i] = subprocess.Popen(self.net.wrap(f"m{i}", [self.bin, f"{md}/zoo.cfg"]),
                                         stdout=out, stderr=out, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        out.close()

    def alive(self, i):
        p = self.procs.get(i)
        return p is not None and p.poll() is None

    def signal(self, i, sig):
        p = self.procs.get(i)
        if p is not None and p.poll() is None:
            os.kill(p.pid, sig)
            if sig == signal.SIGKILL:
                p.wait()

    def kill(self, i):
        self.signal(i, signal.SIGKILL)

    def stop_all(self):
        for i in list(self.procs):
            self.signal(i, signal.SIGCONT)
            self.signal(i, signal.SIGTERM)
        deadline = mono() + 5
        for i, p in self.procs.items():
            try:
                p.wait(max(0.1, deadline - mono()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def fourlw(self, i, word, timeout=1.0):
        return four_letter_or_empty(self.cport(i), word, timeout, host=self.host(i))

    def mntr(self, i):
        out = {}
        for line in self.fourlw(i, "mntr").splitlines():
            if "\t" in line:
                k, v = line.split("\t", 1)
                out[k] = v
        return out

    def mode(self, i):
        if not self.alive(i):
            return "down"
        return self.mntr(i).get("zk_server_state", "looking")

    def leader(self):
        for i in range(1, self.n + 1):
            if self.mode(i) == "leader":
                return i
        return None

    def wait_leader(self, timeout):
        deadline = mono() + timeout
        while mono() < deadline:
            lid = self.leader()
            if lid:
                return lid
            time.sleep(0.1)
        return None


# ---------------------------------------------------------------------------------------------
class Resource(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """The protected resource: accepts a write only if its token is >= the highest seen for the
    lock, logs every write offered. Also tracks the holds in progress (BEGIN/END)."""
    daemon_threads = True

    def __init__(self, path, logpath):
        self.mu = threading.Lock()
        self.highest, self.active, self.last_begin = {}, {}, {}
        self.logf = open(logpath, "a")
        super().__init__(path, ResourceHandler)

    def handle_line(self, word, lock, token, client, hold):
        token = int(token)
        now = mono()
        with self.mu:
            if word == "BEGIN":
                self.active[hold] = (lock, now)
                self.last_begin[lock] = now
                return "OK"
            if word == "END":
                self.active.pop(hold, None)
                return "OK"
            hi = self.highest.get(lock)
            ok = hi is None or token >= hi
            if ok:
                self.highest[lock] = token
            self.logf.write(json.dumps({"ev": "write", "t": now, "lock": lock, "token": token,
                                       "client": client, "hold": hold, "ok": ok,
                                       "highest": hi}) + "\n")
            self.logf.flush()
            return "OK" if ok else "STALE"


class ResourceHandler(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            parts = line.decode().split()
            if len(parts) != 5:
                return
            reply = self.server.handle_line(*parts)
            self.wfile.write((reply + "\n").encode())
            self.wfile.flush()


# ---------------------------------------------------------------------------------------------
class Workload:
    def __init__(self, a, ens, net, d, resource):
        self.a, self.ens, self.net, self.dir, self.res = a, ens, net, d, resource
        self.stop = threading.Event()
        self.stopfile = os.path.join(d, "stopping")
        self.threads, self.writers = [], []
        self.current = {}
        self.mu = threading.Lock()
        self.attempts = open(os.path.join(d, "attempts.jsonl"), "a")

    def start(self):
        hosts = self.ens.connect_string()
        for k in range(1, self.a.clients + 1):
            t = threading.Thread(target=self.lock_client, args=(k, hosts), daemon=True)
            t.start()
            self.threads.append(t)
        for w in range(1, self.a.writers + 1):
            out = open(os.path.join(self.dir, f"w{w}.log"), "ab")
            argv = [PY, os.path.join(HERE, "writer.py"), hosts,
                    os.path.join(self.dir, f"writes-w{w}.jsonl"), f"w{w}",
                    str(self.a.session_timeout), str(self.a.seed * 100 + w)]
            self.writers.append(subprocess.Popen(self.net.wrap(f"w{w}", argv), stdout=out,
                                                 stderr=out, stdin=subprocess.DEVNULL))
            out.close()

    def lock_client(self, k, hosts):
        rng = random.Random(self.a.seed * 1000 + k)
        name = f"c{k}"
        hist = os.path.join(self.dir, f"hist-{name}.jsonl")
        errlog = open(os.path.join(self.dir, f"{name}.log"), "ab")
        while not self.stop.is_set():
            lock = rng.choice(self.a.locks)
            # mostly short holds; some longer than the session timeout, so that a partition or a
            # pause can catch a holder mid-hold and zabctl has to tell it the lock was lost
            hold_ms = rng.randint(50, 400) if rng.random() < 0.85 else \
                rng.randint(self.a.session_timeout // 2, self.a.session_timeout * 3 // 2)
            argv = [self.a.zabctl, "-s", hosts, "--session-timeout", str(self.a.session_timeout),
                    "--connect-timeout", "5000", "lock", "--timeout", "20", "--kill-after", "1",
                    f"/chaos/locks/{lock}", "--", PY, os.path.join(HERE, "holder.py"), hist,
                    self.res.server_address, name, lock, str(hold_ms), "3", self.stopfile]
            t0 = mono()
            p = subprocess.Popen(self.net.wrap(name, argv), stdout=errlog, stderr=errlog,
                                 stdin=subprocess.DEVNULL)
            with self.mu:
                self.current[name] = p
            rc = p.wait()
            with self.mu:
                self.current.pop(name, None)
            self.attempts.write(json.dumps({"client": name, "lock": lock, "rc": rc, "t0": t0,
                                            "t": mono()}) + "\n")
            self.attempts.flush()
            if rc not in (0, 124, 125):
                self.stop.wait(0.3)
            self.stop.wait(rng.uniform(0, 0.1))
        errlog.close()

    def holding(self):
        with self.res.mu:
            return dict(self.res.active)

    def finish(self):
        open(self.stopfile, "w").close()
        self.stop.set()
        deadline = mono() + 3
        while mono() < deadline:  # let holders finish their holds
            with self.mu:
                busy = [n for n in self.current]
            held = {h.split(":")[0] for h in self.holding()}
            waiting = [n for n in busy if n not in held]
            with self.mu:
                for n in waiting:
                    p = self.current.get(n)
                    if p is not None and p.poll() is None:
                        p.send_signal(signal.SIGTERM)  # cancel the wait
            if not busy:
                break
            time.sleep(0.2)
        with self.mu:
            for p in self.current.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
        for t in self.threads:
            t.join(30)
        for w in self.writers:
            w.send_signal(signal.SIGTERM)
        for w in self.writers:
            try:
                w.wait(15)
            except subprocess.TimeoutExpired:
                w.kill()
                w.wait()


# ---------------------------------------------------------------------------------------------
PROCESS_FAULTS = ["leader_kill_holding", "follower_kill", "pause_leader", "pause_follower",
                  "power_loss"]
NET_FAULTS = ["partition_leader_with_clients", "partition_split", "isolate_member",
              "oneway_leader_out", "oneway_follower_in", "slow_links"]


class Faults:
    def __init__(self, a, ens, net, wl, d):
        self.a, self.ens, self.net, self.wl = a, ens, net, wl
        self.rng = random.Random(a.seed)
        self.kinds = PROCESS_FAULTS + (NET_FAULTS if isinstance(net, Net) else [])
        self.queue = []
        self.logf = open(os.path.join(d, "faults.jsonl"), "a")
        self.n = 0
        self.st = a.session_timeout / 1000.0

    def next_kind(self):
        if not self.queue:
            self.queue = list(self.kinds)
            self.rng.shuffle(self.queue)
        return self.queue.pop(0)

    def others(self, lid):
        return [i for i in range(1, self.ens.n + 1) if i != lid]

    def clients(self):
        return [f"c{k}" for k in range(1, self.a.clients + 1)] + \
               [f"w{w}" for w in range(1, self.a.writers + 1)]

    def run_one(self):
        kind = self.next_kind()
        r = self.rng
        dur = r.uniform(2.0, 5.0)
        pick = r.random()
        subset = r.random()
        lid = self.ens.wait_leader(30)
        if lid is None:
            raise RuntimeError("no leader before a fault")
        fol = self.others(lid)
        target = fol[int(pick * len(fol))]
        rec = {"id": self.n + 1, "kind": kind, "leader": lid}
        self.n += 1
        if kind == "leader_kill_holding":
            deadline = mono() + 5
            while not self.wl.holding() and mono() < deadline:
                time.sleep(0.02)
            rec["holding"] = sorted(self.wl.holding())
            rec["t_inject"] = mono()
            self.ens.kill(lid)
            rec["targets"] = [lid]
            time.sleep(dur)
            self.ens.start(lid)
        elif kind == "follower_kill":
            rec["t_inject"] = mono()
            self.ens.kill(target)
            rec["targets"] = [target]
            time.sleep(dur)
            self.ens.start(target)
        elif kind in ("pause_leader", "pause_follower"):
            who = lid if kind == "pause_leader" else target
            dur = self.st + r.uniform(1.0, 3.0)  # longer than the session timeout
            rec["t_inject"] = mono()
            self.ens.signal(who, signal.SIGSTOP)
            rec["targets"] = [who]
            time.sleep(dur)
            self.ens.signal(who, signal.SIGCONT)
        elif kind == "power_loss":
            rec["t_inject"] = mono()
            for i in range(1, self.ens.n + 1):
                self.ens.kill(i)
            rec["targets"] = list(range(1, self.ens.n + 1))
            time.sleep(r.uniform(1.0, 3.0))
            for i in range(1, self.ens.n + 1):
                self.ens.start(i)
        else:
            dur = self.st + r.uniform(1.0, 4.0)
            members = [f"m{i}" for i in range(1, self.ens.n + 1)]
            cl = self.clients()
            r2 = random.Random(int(subset * 1e9))
            if kind == "partition_leader_with_clients":
                # with the leader go the clients holding a lock now (if any, within 5 s)
                deadline = mono() + 5
                while not self.wl.holding() and mono() < deadline:
                    time.sleep(0.02)
                holders = sorted({h.split(":")[0] for h in self.wl.holding()})
                rec["holding"] = holders
                side_clients = holders + [c for c in r2.sample(cl, max(1, len(cl) // 2))
                                          if c not in holders]
                minority = [f"m{lid}"] + side_clients
            elif kind == "partition_split":
                ms = r2.sample(members, (self.ens.n - 1) // 2)
                minority = ms + r2.sample(cl, len(cl) // 2)
            elif kind == "isolate_member":
                minority = [f"m{target if pick < 0.7 else lid}"]
            else:
                minority = []
            rec["t_inject"] = mono()
            if minority:
                majority = [x for x in members + cl if x not in minority]
                for a in minority:
                    for b in majority:
                        self.net.cut_both(a, b)
                rec["minority"] = minority
            elif kind == "oneway_leader_out":
                for i in fol:
                    self.net.cut(f"m{lid}", f"m{i}")
                rec["cut"] = f"m{lid} -> followers"
            elif kind == "oneway_follower_in":
                self.net.cut(f"m{lid}", f"m{target}")
                rec["cut"] = f"m{lid} -> m{target}"
            elif kind == "slow_links":
                how = {"delay_ms": r.randint(20, 150), "jitter_ms": 10,
                       "loss_pct": r.randint(1, 10), "rate_kbit": r.choice([64, 128, 256])}
                for m in members:
                    self.net.slow(m, how)
                rec["how"] = how if getattr(Net, "has_netem", False) else \
                    {"rate_kbit": how["rate_kbit"], "note": "no netem: htb rate limit"}
                dur = r.uniform(3.0, 6.0)
            time.sleep(dur)
            self.net.heal()
        rec["t_heal"] = mono()
        rec["duration_s"] = round(rec["t_heal"] - rec["t_inject"], 3)
        self.logf.write(json.dumps(rec) + "\n")
        self.logf.flush()
        log(f"fault {rec['id']} {kind} targets={rec.get('targets', rec.get('minority', rec.get('cut', '')))} "
            f"leader was m{lid}, {rec['duration_s']}s")
        return rec

    def wait_recovery(self, since, bound):
        """Until every lock was taken again after `since` (max `bound` s). Returns the time."""
        deadline = since + bound
        while mono() < deadline:
            with self.wl.res.mu:
                lb = dict(self.wl.res.last_begin)
            if all(lb.get(l, 0) > since for l in self.a.locks):
                return mono() - since
            time.sleep(0.05)
        return None


# ---------------------------------------------------------------------------------------------
def dump_member(ens, i, d, mntr):
    """The member's /chaos tree (read from that member alone) and its mntr taken beforehand."""
    from kazoo.client import KazooClient
    import logging
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    out = {"member": i, "mntr": mntr, "nodes": {}, "reachable": False}
    zk = KazooClient(hosts=f"{ens.host(i)}:{ens.cport(i)}", timeout=10.0,
                     connection_retry={"max_tries": 3})
    try:
        zk.start(timeout=15)
        unvisited = ["/chaos"]
        while unvisited:
            batch, unvisited = unvisited[:500], unvisited[500:]
            gets = [(p, zk.get_async(p), zk.get_children_async(p)) for p in batch]
            for p, g, c in gets:
                try:
                    data, stat = g.get(timeout=20)
                    kids = c.get(timeout=20)
                except Exception as e:  # NoNode: deleted meanwhile (cannot happen: no writers)
                    out.setdefault("errors", []).append(f"{p}: {type(e).__name__}")
                    continue
                out["nodes"][p] = {"data": data.decode(errors="replace"),
                                   "eph": stat.ephemeralOwner, "cv": stat.cversion}
                unvisited.extend(f"{p}/{k}" for k in kids)
        out["reachable"] = True
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"
    finally:
        try:
            zk.stop()
            zk.close()
        except Exception:
            pass
    with open(os.path.join(d, "final", f"m{i}.json"), "w") as f:
        json.dump(out, f)
    return out


def wait_serving(ens, timeout):
    """Every member answers as leader or follower, one leader (writes may still be flowing)."""
    deadline = mono() + timeout
    while mono() < deadline:
        modes = [ens.mode(i) for i in range(1, ens.n + 1)]
        if all(m in ("leader", "follower") for m in modes) and modes.count("leader") == 1:
            return True
        time.sleep(0.2)
    return False


def wait_converged(ens, timeout):
    deadline = mono() + timeout
    stable = None
    while mono() < deadline:
        m = {i: ens.mntr(i) for i in range(1, ens.n + 1)}
        zx = {i: v.get("zk_last_zxid") for i, v in m.items()}
        modes = [v.get("zk_server_state") for v in m.values()]
        if None not in zx.values() and len(set(zx.values())) == 1 and modes.count("leader") == 1:
            if stable and mono() - stable > 1.0:
                return True
            stable = stable or mono()
        else:
            stable = None
        time.sleep(0.2)
    return False


def setup_tree(ens, a):
    from kazoo.client import KazooClient
    zk = KazooClient(hosts=ens.connect_string(), timeout=10.0)
    zk.start(timeout=30)
    for p in ["/chaos/data", "/chaos/ctr", "/chaos/ttl", "/chaos/eph"] + \
            [f"/chaos/locks/{l}" for l in a.locks]:
        zk.ensure_path(p)
    for w in range(1, a.writers + 1):
        zk.ensure_path(f"/chaos/reg/w{w}")
        zk.set(f"/chaos/reg/w{w}", b"0")
    zk.stop()
    zk.close()


def parse(argv):
    p = argparse.ArgumentParser(prog="tests/chaos/run")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--members", type=int, choices=(3, 5), default=3)
    p.add_argument("--dir", default=None, help="run directory (default: build-chaos/chaos-runs/...)")
    p.add_argument("--clients", type=int, default=4, help="lock clients")
    p.add_argument("--writers", type=int, default=2)
    p.add_argument("--locks", default="a,b")
    p.add_argument("--session-timeout", type=int, default=4000, help="ms, lock clients+writers")
    p.add_argument("--tick", type=int, default=500)
    p.add_argument("--base-port", type=int, default=None)
    p.add_argument("--liveness-bound", type=float, default=30.0)
    p.add_argument("--no-netns", action="store_true", help="process faults only, on loopback")
    p.add_argument("--require-netns", action="store_true", help="fail instead of falling back")
    p.add_argument("--zabkeeper", default=os.environ.get("ZABKEEPER_BIN"))
    p.add_argument("--zabctl", default=os.environ.get("ZABCTL_BIN"))
    a = p.parse_args(argv)
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1, 1 << 30)
    a.locks = a.locks.split(",")
    for attr, rel in (("zabkeeper", "src/server/zabkeeper"), ("zabctl", "src/cli/zabctl")):
        if not getattr(a, attr):
            for b in ("build-chaos", "build"):
                cand = os.path.join(ROOT, b, rel)
                if os.access(cand, os.X_OK):
                    setattr(a, attr, cand)
                    break
        if not getattr(a, attr) or not os.access(getattr(a, attr), os.X_OK):
            p.error(f"{attr} binary not found; pass --{attr} or build build-chaos")
    if a.base_port is None:
        a.base_port = 25500 + (os.getpid() % 50) * 30
    if a.dir is None:
        a.dir = os.path.join(ROOT, "build-chaos", "chaos-runs",
                             f"seed{a.seed}-m{a.members}-{time.strftime('%Y%m%d-%H%M%S')}")
    return a


def main(argv):
    a = parse(argv)
    d = os.path.abspath(a.dir)
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(os.path.join(d, "final"))
    why = "--no-netns given" if a.no_netns else Net.available()
    if why:
        if a.require_netns:
            log(f"network namespaces unavailable ({why}) and --require-netns given")
            return 2
        net, mode = NoNet(), "process-faults-only"
        log(f"NOTE: network faults DISABLED ({why}): falling back to process faults only "
            f"(kill, pause, restart, power loss) on loopback")
    else:
        net, mode = Net(Net.pick_id()), "netns"
    log(f"seed {a.seed} (replay: tests/chaos/run --seed {a.seed} --minutes {a.minutes} "
        f"--members {a.members}); {a.members} members, {a.clients} lock clients on locks "
        f"{a.locks}, {a.writers} writers; mode {mode}"
        + (f" (netem {'available' if getattr(Net, 'has_netem', False) else 'missing: slow links by htb rate'})"
           if mode == "netns" else "") + f"; run dir {d}")
    params = {"seed": a.seed, "minutes": a.minutes, "members": a.members, "mode": mode,
              "locks": a.locks, "clients": a.clients, "writers": a.writers,
              "session_timeout_ms": a.session_timeout, "tick_ms": a.tick,
              "liveness_bound_s": a.liveness_bound, "zabkeeper": a.zabkeeper, "zabctl": a.zabctl}
    ens = wl = res = None
    cleanup_done = []

    def cleanup():
        if cleanup_done:
            return
        cleanup_done.append(1)
        if wl is not None:
            wl.stop.set()
            with wl.mu:
                for p in wl.current.values():
                    if p.poll() is None:
                        p.kill()
            for w in wl.writers:
                if w.poll() is None:
                    w.kill()
        if ens is not None:
            ens.stop_all()
        if res is not None:
            res.shutdown()
            res.server_close()
        net.teardown()

    def on_signal(signum, frame):
        cleanup()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if mode == "netns":
            names = [(f"m{i}", i) for i in range(1, a.members + 1)]
            names += [(f"c{k}", 100 + k) for k in range(1, a.clients + 1)]
            names += [(f"w{w}", 150 + w) for w in range(1, a.writers + 1)]
            net.setup(names)
        ens = Ensemble(a.members, d, a.zabkeeper, a.base_port, a.tick, net)
        ens.write_configs()
        for i in range(1, a.members + 1):
            ens.start(i)
        if not ens.wait_leader(60):
            raise RuntimeError("no leader within 60 s")
        setup_tree(ens, a)
        sock = os.path.join(d, "resource.sock")
        res = Resource(sock, os.path.join(d, "resource.jsonl"))
        threading.Thread(target=res.serve_forever, daemon=True).start()
        wl = Workload(a, ens, net, d, res)
        faults = Faults(a, ens, net, wl, d)
        t_begin = mono()
        wl.start()
        if faults.wait_recovery(t_begin, 60) is None:
            raise RuntimeError("locks were never acquired in the first 60 s")
        log(f"workload running; faults for {a.minutes} min")
        end_at = t_begin + a.minutes * 60
        while mono() < end_at:
            rec = faults.run_one()
            rt = faults.wait_recovery(rec["t_heal"], a.liveness_bound)
            log(f"  locks re-acquired {rt:.2f}s after the heal" if rt is not None else
                f"  locks NOT re-acquired within {a.liveness_bound}s of the heal")
            # the members must be back before the next fault
            if not wait_serving(ens, 30):
                log("  WARNING: not every member serves 30 s after the heal")
            time.sleep(random.Random(a.seed + faults.n).uniform(0.5, 2.0))
        log("stopping the workload")
        wl.finish()
        t_end = mono()
        params["t_end"] = t_end
        params["holders_stopped_s"] = round(t_end - t_begin, 3)
        # every member back and healed, every session dead and expired
        wait_s = a.session_timeout / 1000.0 + 2 * a.tick / 1000.0 + 1.0
        params["dump_after_s"] = round(wait_s, 3)
        conv = wait_converged(ens, 60)
        rest = t_end + wait_s - mono()
        if rest > 0:
            time.sleep(rest)
        conv = wait_converged(ens, 60)
        params["converged"] = conv
        # mntr of all members first: the dumps' own sessions are transactions too
        mntrs = {i: ens.mntr(i) for i in range(1, a.members + 1)}
        for i in range(1, a.members + 1):
            dump_member(ens, i, d, mntrs[i])
        with open(os.path.join(d, "run.json"), "w") as f:
            json.dump(params, f, indent=1)
    except Exception as e:
        log(f"run aborted: {type(e).__name__}: {e}")
        params["aborted"] = str(e)
        with open(os.path.join(d, "run.json"), "w") as f:
            json.dump(params, f, indent=1)
        cleanup()
        return 3
    finally:
        cleanup()
    verdict = checker.check(checker.load_run(d))
    with open(os.path.join(d, "verdict.json"), "w") as f:
        json.dump(verdict, f, indent=1)
    print(checker.render(verdict, params), flush=True)
    print(f"histories and member logs: {d}", flush=True)
    return 0 if verdict["ok"] else 1
